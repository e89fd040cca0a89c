//! The detectors: `detect(config, state, event) -> (state, verdict)` as pure functions.
//!
//! Each event is scored by two checks and the higher score wins:
//! - the **value check** compares the value (in `ln(1+x)` scale with `log_transform`) with the key's baseline:
//!   `zscore` keeps a running mean and variance over the whole history (Welford), `ewma` an exponentially weighted
//!   one with a half-life in events. The band is `mean ± k'·sd·sqrt(1 + 1/n)`, where `k'` is `threshold_multiplier`
//!   corrected for a small sample (Student-t), so a key with ten events does not raise more false alarms than one
//!   with a thousand. The score is scaled so that it crosses `threshold_multiplier` exactly at the band's edge.
//! - the **velocity check** counts the key's events inside `burst_window_secs` and asks how likely that many are
//!   at the key's usual pace (Poisson); its score is the normal deviation of the same tail probability. It fires
//!   only from `burst_min_events` events in the window.
//!
//! Both checks learn only after `min_events` events. How an anomalous value feeds the baseline is
//! `anomaly_update` (see [`crate::config::AnomalyUpdate`]).

pub mod adaptive;

use crate::config::{AnomalyUpdate, Config, DetectorKind, Direction, VELOCITY_RING};
use crate::event::{Attribute, Event};
use crate::math::{self, Bounds};
use crate::state::{State, StateError};
pub use crate::verdict::Pattern;
use crate::verdict::{self, AttributeValue, Baseline, DetectorInfo, Severity, Status, Trigger, Velocity, Verdict};

/// Longest gap learned, seconds: a key idle for months should not make every later event look like a burst.
const MAX_LEARNED_GAP_SECS: f64 = 30.0 * 86_400.0;
/// Smallest weight of a new gap in the usual-gap average (≈ a 35-gap half-life once warmed up).
const GAP_ALPHA_FLOOR: f64 = 0.02;
/// Cap on scores, so a zero-variance baseline still yields a finite, comparable number.
const MAX_SCORE: f64 = 1000.0;

/// A configuration prepared for scoring: the small-sample thresholds are solved once here, not per event.
#[derive(Debug, Clone, PartialEq)]
pub struct Detector {
    config: Config,
    /// `k'` for an effective count `n` of `min_events..T_EXACT_BELOW + 1`, indexed by `n`.
    small_sample_k: Vec<f64>,
    /// `adaptive`: the Student-t multipliers of its significance line, indexed by degrees of freedom.
    adaptive_t: Vec<f64>,
    /// `adaptive`: the weights of its averages.
    adaptive_rates: adaptive::Rates,
}

impl Detector {
    /// Prepares `config` (assumed valid; see [`Config::validate`]).
    pub fn new(config: Config) -> Detector {
        let k = config.threshold_multiplier;
        let upto = math::T_EXACT_BELOW as usize + 1;
        let small_sample_k = (0..upto)
            .map(|n| if n < 2 || n < config.min_events as usize { f64::NAN } else { math::student_t_multiplier(k, n as f64 - 1.0) })
            .collect();
        let adaptive_t = if config.detector == DetectorKind::Adaptive { adaptive::t_table() } else { Vec::new() };
        let adaptive_rates = adaptive::Rates::new(&config);
        Detector { config, small_sample_k, adaptive_t, adaptive_rates }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The band half-width in baseline standard deviations for an effective count `n_eff`:
    /// the small-sample multiplier times the prediction-interval factor `sqrt(1 + 1/n)`.
    fn band_multiplier(&self, n_eff: f64) -> f64 {
        let t = match self.small_sample_k.get(n_eff as usize) {
            Some(&t) if !t.is_nan() && n_eff.fract() == 0.0 => t,
            _ => math::student_t_multiplier(self.config.threshold_multiplier, n_eff - 1.0),
        };
        t * f64::sqrt(1.0 + 1.0 / n_eff)
    }
}

/// The numeric outcome for one event, before any text is rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub status: Status,
    pub score: Option<f64>,
    pub value_score: Option<f64>,
    pub value_anomaly: bool,
    pub band: Option<(f64, f64)>,
    pub baseline: (f64, f64, u64),
    pub velocity: Option<Velocity>,
    pub velocity_anomaly: bool,
    pub consecutive_anomalies: u32,
    /// Whether `baseline` is in the `ln(1 + value)` scale.
    pub log_scale: bool,
    /// What kind of departure a value anomaly is (`adaptive`).
    pub pattern: Option<Pattern>,
    /// Why the key's stored state was unreadable, when it was (the key started afresh).
    pub state_reset: Option<String>,
}

impl Assessment {
    /// Whether the event is an anomaly.
    pub fn is_anomaly(&self) -> bool {
        self.status == Status::Anomaly
    }
}

/// Scores `event` against `state` and learns it: the pure heart of every detector.
pub fn assess(detector: &Detector, state: &mut State, event: &Event) -> Assessment {
    assess_value(detector, state, event.value, event.timestamp_ms)
}

/// [`assess`] for an event's value and time alone: all a detector reads of an event (the kernel calls it on the
/// event blob in place and builds the whole [`Event`] only to render a verdict).
pub fn assess_value(detector: &Detector, state: &mut State, value: f64, timestamp_ms: Option<i64>) -> Assessment {
    assess_event(detector, state, value, timestamp_ms, detector.config.emit == crate::config::Emit::All)
}

/// [`assess_value`], saying whether the expected band is wanted for a normal event (anomalies always carry it;
/// `adaptive` spends two `exp_m1` on it).
fn assess_event(detector: &Detector, state: &mut State, value: f64, timestamp_ms: Option<i64>, want_band: bool) -> Assessment {
    let config = &detector.config;
    if config.detector == DetectorKind::Adaptive {
        return assess_adaptive(detector, state, value, timestamp_ms, want_band);
    }
    let y = if config.log_transform { math::ln_1p(value) } else { value };
    let k = config.threshold_multiplier;
    let warm = state.n >= config.min_events as u64;

    let velocity = match timestamp_ms {
        Some(ts) if config.velocity => velocity_check(config, state, ts),
        _ => None,
    };
    let velocity_anomaly = velocity.as_ref().is_some_and(|v| v.events_in_window >= config.burst_min_events && v.score > k);

    let baseline_sd = f64::sqrt(state.variance()).max(config.min_stddev);
    let baseline = (state.mean, baseline_sd, state.n);
    let mut value_score = None;
    let mut value_part = None;
    let mut band = None;
    let mut value_anomaly = false;
    let mut learn_y = Some(y);
    if let Some(ModelBand { k_eff, sd, lo, hi }) = detector.model_band(state) {
        let z = if sd > 0.0 {
            (y - state.mean) / sd
        } else if y == state.mean {
            0.0
        } else {
            f64::INFINITY.copysign(y - state.mean)
        };
        let directional = match config.direction {
            Direction::High => z,
            Direction::Low => -z,
            Direction::Both => z.abs(),
        };
        let scaled = (directional * k / k_eff).clamp(-MAX_SCORE, MAX_SCORE);
        value_anomaly = scaled > k;
        if value_anomaly {
            learn_y = match config.anomaly_update {
                AnomalyUpdate::Skip => None,
                AnomalyUpdate::Clip => Some(y.clamp(lo, hi)),
                AnomalyUpdate::Full => Some(y),
            };
        }
        value_score = Some(z.clamp(-MAX_SCORE, MAX_SCORE));
        value_part = Some(scaled);
        // The band is for rendering: only for a verdict that will be rendered (two `expm1` an event otherwise).
        if want_band || value_anomaly || velocity_anomaly {
            band = Some((untransform(config, lo), untransform(config, hi)));
        }
    }

    let status = if !warm {
        Status::Warmup
    } else if value_anomaly || velocity_anomaly {
        Status::Anomaly
    } else {
        Status::Normal
    };
    let velocity_part = velocity.as_ref().filter(|v| v.events_in_window >= config.burst_min_events).map(|v| v.score);
    let score = match (value_part, velocity_part) {
        _ if !warm => None,
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    // Learn.
    state.seen += 1;
    if let Some(y) = learn_y {
        learn_value(config, state, y);
    }
    if let Some(ts) = timestamp_ms {
        learn_time(config, state, ts, velocity_anomaly);
    }
    state.consecutive_anomalies = if status == Status::Anomaly { state.consecutive_anomalies.saturating_add(1) } else { 0 };

    Assessment {
        status,
        score,
        value_score,
        value_anomaly,
        band,
        baseline,
        velocity,
        velocity_anomaly,
        consecutive_anomalies: state.consecutive_anomalies,
        log_scale: config.log_transform,
        pattern: None,
        state_reset: None,
    }
}

/// The `adaptive` value check plus the velocity check, whose score is put on the same scale (3.5 normal deviations
/// at the default alarm line).
fn assess_adaptive(detector: &Detector, state: &mut State, value: f64, timestamp_ms: Option<i64>, want_band: bool) -> Assessment {
    let config = &detector.config;
    let velocity = match timestamp_ms {
        Some(ts) if config.velocity => velocity_check(config, state, ts),
        _ => None,
    };
    let velocity_evidence =
        velocity.as_ref().filter(|v| v.events_in_window >= config.burst_min_events).map_or(0.0, |v| v.score / adaptive::SIGNIFICANCE);
    let warm = state.n >= config.min_events as u64;
    let velocity_anomaly = warm && 3.0 * velocity_evidence > config.threshold_multiplier;
    let mut a = adaptive::assess(detector, state, value, timestamp_ms, velocity_evidence, velocity_anomaly, want_band);
    if let Some(ts) = timestamp_ms {
        learn_time(config, state, ts, velocity_anomaly);
    }
    state.consecutive_anomalies = if a.status == Status::Anomaly { state.consecutive_anomalies.saturating_add(1) } else { 0 };
    a.consecutive_anomalies = state.consecutive_anomalies;
    if velocity_anomaly && !a.value_anomaly {
        a.pattern = Some(Pattern::Burst);
    }
    a.velocity = velocity;
    a
}

/// The band an event of a key is judged against, in model units (`ln(1 + value)` with `log_transform`).
struct ModelBand {
    /// `threshold_multiplier` corrected for the baseline's sample size.
    k_eff: f64,
    /// The baseline's standard deviation, floored at `min_stddev`.
    sd: f64,
    lo: f64,
    hi: f64,
}

impl Detector {
    /// The band for a key in `state`; `None` while the key warms up.
    fn model_band(&self, state: &State) -> Option<ModelBand> {
        let config = &self.config;
        if state.n < config.min_events as u64 {
            return None;
        }
        let k_eff = self.band_multiplier(effective_count(config, state.n));
        let sd = f64::sqrt(state.variance()).max(config.min_stddev);
        Some(ModelBand { k_eff, sd, lo: state.mean - k_eff * sd, hi: state.mean + k_eff * sd })
    }

    /// The expected band (`expectedLow`, `expectedHigh` of a verdict, in the value's own units) an event (`value` at
    /// `timestamp_ms`) of a key whose state bytes are `state_bytes` is judged against — what its verdict would say,
    /// without rendering it; `None` while the key warms up or when the bytes are not a state this kernel reads.
    /// (`adaptive` bands depend on the event: the daily profile's bin, the side it falls on.)
    pub fn expected_band(&self, state_bytes: &[u8], value: f64, timestamp_ms: Option<i64>) -> Option<(f64, f64)> {
        let mut state = State::decode(state_bytes, &self.config).ok()?;
        assess_event(self, &mut state, value, timestamp_ms, true).band
    }
}

/// Decodes `state_bytes`, assesses `event`, and returns the new state with the assessment.
pub fn detect(detector: &Detector, state_bytes: &[u8], event: &Event) -> Result<(State, Assessment), StateError> {
    detect_value(detector, state_bytes, event.value, event.timestamp_ms)
}

/// [`detect`] for an event's value and time alone (see [`assess_value`]).
pub fn detect_value(
    detector: &Detector,
    state_bytes: &[u8],
    value: f64,
    timestamp_ms: Option<i64>,
) -> Result<(State, Assessment), StateError> {
    let mut state = State::new(detector.config.detector);
    let assessment = detect_in_place(detector, &mut state, state_bytes, value, timestamp_ms, None)?;
    Ok((state, assessment))
}

/// [`detect_value`] into a state the caller keeps (and reuses across a batch): decodes `state_bytes` into `state`,
/// assesses the event, and leaves the new state there.
pub fn detect_in_place(
    detector: &Detector,
    state: &mut State,
    state_bytes: &[u8],
    value: f64,
    timestamp_ms: Option<i64>,
    population: Option<&mut Population>,
) -> Result<Assessment, StateError> {
    // State this kernel cannot read (damaged, or from a kernel that had a bug) is never a dead end for the key: it
    // starts afresh, and the verdict says so (`stateReset`, ABI flag `FLAG_STATE_RESET`) so hosts count it. State from
    // a newer kernel is refused instead: deploying that kernel reads it.
    let reset = match state.decode_into(state_bytes, &detector.config) {
        Ok(()) => None,
        Err(StateError::Corrupt { reason }) => Some(reason),
        Err(e) => return Err(e),
    };
    let age = state.seen;
    let mut assessment = assess_value(detector, state, value, timestamp_ms);
    assessment.state_reset = reset;
    if let Some(population) = population {
        population.check(detector, age, value, &mut assessment);
    }
    Ok(assessment)
}

/// Events a [`Population`] must have learned before it judges a key.
pub const POPULATION_MIN: u64 = 1000;

/// The population check's memory: the distribution of `ln(1 + value)` over every event one kernel instance has
/// seen, all keys together (online mean and variance: no future data, 24 bytes).
///
/// A key's own history says nothing on its first `min_events` events and little on the next few, and that is
/// where a fraud on a new card hides. So while a key has fewer than `population_events` events, its value is also
/// judged against the stream: more than `threshold_multiplier` standard deviations above the population's mean
/// (once it has learned [`POPULATION_MIN`] events) is an anomaly, pattern `stream_outlier`, score the deviation.
/// High side only, and only with `log_transform` (amounts, whose scales the log makes comparable). The check
/// changes the verdict, never the key's state: the key learns the event as its own detector decided, so each key's
/// state evolves the same whatever population its events met (a job at any parallelism, a restart).
///
/// It lives next to the keyed state, not in it: one per kernel instance (per Flink subtask, per `packager run`, per
/// playground run), not checkpointed; after a restart it judges again once it has learned [`POPULATION_MIN`]
/// events. The order in which it learns is the order of the events through the instance, batched or not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Population {
    n: u64,
    mean: f64,
    var: f64,
}

impl Population {
    pub fn new() -> Population {
        Population::default()
    }

    /// The mean and standard deviation of `ln(1 + value)`, once there are enough events to judge by.
    pub fn ready(&self) -> Option<(f64, f64)> {
        (self.n >= POPULATION_MIN && self.var > 0.0).then(|| (self.mean, f64::sqrt(self.var)))
    }

    fn learn(&mut self, y: f64) {
        if !y.is_finite() {
            return;
        }
        self.n += 1;
        let d = y - self.mean;
        self.mean += d / self.n as f64;
        self.var += (d * (y - self.mean) - self.var) / self.n as f64;
    }

    /// Judges an assessed event of a key that had `age` events before it against the population, then learns it.
    fn check(&mut self, detector: &Detector, age: u64, value: f64, a: &mut Assessment) {
        let config = &detector.config;
        if !config.log_transform || config.population_events == 0 {
            return;
        }
        let y = math::ln_1p(value);
        let judged = age < config.population_events as u64 && config.direction != Direction::Low;
        if let (true, Some((mean, sd))) = (judged, self.ready()) {
            let k = config.threshold_multiplier;
            let z = ((y - mean) / sd).clamp(-MAX_SCORE, MAX_SCORE);
            if z > k {
                if !a.value_anomaly {
                    a.value_anomaly = true;
                    a.pattern = Some(Pattern::StreamOutlier);
                    a.band = Some((math::exp_m1(mean - k * sd).max(0.0), math::exp_m1(mean + k * sd)));
                    a.value_score = Some(z);
                }
                a.status = Status::Anomaly;
                a.score = Some(a.score.map_or(z, |s| s.max(z)));
            }
        }
        self.learn(y);
    }
}

/// How many independent events the baseline is worth: all of them for zscore, the weights' effective sample
/// size `(2 - α) / α` for ewma.
fn effective_count(config: &Config, n: u64) -> f64 {
    let n = n as f64;
    match config.detector {
        DetectorKind::Zscore | DetectorKind::Adaptive => n,
        DetectorKind::Ewma => {
            let alpha = ewma_alpha(config);
            n.min((2.0 - alpha) / alpha)
        }
    }
}

fn ewma_alpha(config: &Config) -> f64 {
    1.0 - math::exp2(-1.0 / config.half_life_events)
}

fn learn_value(config: &Config, state: &mut State, y: f64) {
    match config.detector {
        DetectorKind::Zscore | DetectorKind::Adaptive => {
            state.n += 1;
            let d = math::bounded_diff(y, state.mean);
            state.mean += d / state.n as f64;
            state.spread = (state.spread + d * math::bounded_diff(y, state.mean)).min(1e307);
        }
        DetectorKind::Ewma => {
            // Equal weights until the half-life takes over, so the first events are not over-trusted.
            let alpha = ewma_alpha(config).max(1.0 / (state.n + 1) as f64);
            let d = math::bounded_diff(y, state.mean);
            let incr = alpha * d;
            state.mean += incr;
            state.spread = ((1.0 - alpha) * (state.spread + d * incr)).min(1e307);
            state.n += 1;
        }
    }
}

fn velocity_check(config: &Config, state: &State, ts: i64) -> Option<Velocity> {
    let enough_history = state.gaps as u64 + 1 >= config.min_events as u64 && state.gap_mean_secs > 0.0;
    if !enough_history {
        return None;
    }
    let window_ms = (config.burst_window_secs * 1000.0) as i64;
    let previous = state.ring[..state.ring_len as usize].iter().filter(|&&t| (t - ts).abs() <= window_ms).count() as u32;
    let expected = config.burst_window_secs / state.gap_mean_secs;
    let p = math::poisson_upper_tail(previous, expected);
    let score = math::normal_upper_quantile(p).clamp(0.0, MAX_SCORE);
    Some(Velocity {
        events_in_window: previous + 1,
        expected_in_window: expected,
        window_secs: config.burst_window_secs,
        usual_gap_secs: state.gap_mean_secs,
        score,
    })
}

fn learn_time(config: &Config, state: &mut State, ts: i64, velocity_anomaly: bool) {
    let learn_gap = !velocity_anomaly || config.anomaly_update == AnomalyUpdate::Full;
    if state.last_ts_ms != i64::MIN && ts >= state.last_ts_ms && learn_gap {
        let gap = ((ts - state.last_ts_ms) as f64 / 1000.0).at_most(MAX_LEARNED_GAP_SECS);
        let alpha = (1.0 / (state.gaps as f64 + 1.0)).at_least(GAP_ALPHA_FLOOR);
        state.gap_mean_secs += alpha * (gap - state.gap_mean_secs);
        state.gaps = state.gaps.saturating_add(1);
    }
    state.last_ts_ms = state.last_ts_ms.max(ts);
    state.ring[state.ring_next as usize] = ts;
    state.ring_next = ((state.ring_next as usize + 1) % VELOCITY_RING) as u8;
    state.ring_len = (state.ring_len + 1).min(VELOCITY_RING as u8);
}

fn untransform(config: &Config, y: f64) -> f64 {
    if config.log_transform { math::exp_m1(y).max(0.0) } else { y }
}

/// Renders the full verdict for an assessed event (only done for verdicts that are emitted).
pub fn render(config: &Config, event: &Event, a: &Assessment) -> Verdict {
    let k = config.threshold_multiplier;
    let key_name = config.key_name();
    let (mean, sd, count) = a.baseline;
    let typical = if a.log_scale {
        math::exp_m1(mean).max(0.0)
    } else if config.detector == DetectorKind::Adaptive {
        mean
    } else {
        untransform(config, mean)
    };
    let trigger = match (a.value_anomaly, a.velocity_anomaly) {
        (true, true) => Some(Trigger::Both),
        (true, false) => Some(Trigger::Value),
        (false, true) => Some(Trigger::Velocity),
        (false, false) => None,
    };
    let severity = if a.is_anomaly() { a.score.and_then(|s| Severity::of(s, k)) } else { None };
    let value_text = format!("{} {}", config.value_field, fmt_num(event.value));
    let whose = format!("{key_name} {}", event.key);
    let band_text = a.band.map(|(lo, hi)| format!("{}–{}", fmt_num(lo), fmt_num(hi))).unwrap_or_default();
    let reason = match a.status {
        Status::Warmup => format!("learning {whose}'s baseline: {} of {} events seen, not judged yet", count, config.min_events),
        Status::Normal => format!("{value_text} is within the expected {band_text} for {whose}"),
        Status::Anomaly => {
            let mut parts = Vec::new();
            if a.value_anomaly {
                let z = a.value_score.unwrap_or(0.0);
                let side = if z >= 0.0 { "above" } else { "below" };
                let typical = fmt_num(typical);
                parts.push(match a.pattern {
                    Some(Pattern::LevelShift) => format!(
                        "{value_text}: {whose}'s level has shifted {side} its baseline (typical {typical}, expected {band_text}); reported once, the baseline now follows the new level"
                    ),
                    Some(Pattern::StreamOutlier) => format!(
                        "{value_text} is {:.1}σ above what this stream's events show (expected {band_text}), and {whose} is new ({count} events learned): too few to judge it by its own history",
                        z.abs()
                    ),
                    Some(Pattern::NewRange) => format!(
                        "{value_text} is outside the whole range {whose} has shown in {count} events (expected {band_text}, typical {typical})"
                    ),
                    _ => format!(
                        "{value_text} is {:.1}σ {side} {whose}'s baseline (expected {band_text} from {count} events, typical {typical})",
                        z.abs()
                    ),
                });
            }
            if let (true, Some(v)) = (a.velocity_anomaly, &a.velocity) {
                parts.push(format!(
                    "{} events from {whose} within {}, where {} are usual (usual gap {})",
                    v.events_in_window,
                    fmt_duration(v.window_secs),
                    fmt_expected(v.expected_in_window + 1.0),
                    fmt_duration(v.usual_gap_secs)
                ));
            }
            let mut text = parts.join("; ");
            if a.consecutive_anomalies > 1 {
                text.push_str(&format!(" [{} anomalies in a row]", a.consecutive_anomalies));
            }
            text
        }
    };
    Verdict {
        schema_version: verdict::VERDICT_SCHEMA_VERSION,
        anomaly_id: verdict::anomaly_id(&event.key, &event.event_id),
        status: a.status,
        severity,
        trigger,
        pattern: if a.is_anomaly() { a.pattern } else { None },
        state_reset: a.state_reset.clone(),
        key_field: key_name,
        key: event.key.clone(),
        event_id: event.event_id.clone(),
        timestamp: event.timestamp_ms,
        value_field: config.value_field.clone(),
        value: event.value,
        score: a.score,
        value_score: a.value_score,
        expected_low: a.band.map(|b| b.0),
        expected_high: a.band.map(|b| b.1),
        baseline: Baseline { mean, stddev: sd, count, scale: if a.log_scale { "log1p" } else { "linear" }.into(), typical },
        velocity: a.velocity.clone(),
        detector: detector_info(config),
        reason,
        attributes: event
            .attributes
            .iter()
            .map(|(name, v)| {
                let v = match v {
                    Attribute::Str(s) => AttributeValue::Str(s.clone()),
                    Attribute::Num(x) => AttributeValue::Num(*x),
                    Attribute::Bool(b) => AttributeValue::Bool(*b),
                };
                (name.clone(), v)
            })
            .collect(),
        label: event.label.as_ref().map(|l| l.kind.clone()),
    }
}

/// The detector and parameters as reported in verdicts.
pub fn detector_info(config: &Config) -> DetectorInfo {
    DetectorInfo {
        name: config.detector.as_str().into(),
        threshold_multiplier: config.threshold_multiplier,
        min_events: config.min_events,
        direction: config.direction.as_str().into(),
        log_transform: config.log_transform,
        anomaly_update: config.anomaly_update.as_str().into(),
        half_life_events: (config.detector != DetectorKind::Zscore).then_some(config.half_life_events),
        velocity: config.velocity,
    }
}

fn fmt_num(x: f64) -> String {
    if x.abs() >= 1e9 || (x != 0.0 && x.abs() < 0.01) { format!("{x:.3e}") } else { format!("{x:.2}") }
}

fn fmt_expected(x: f64) -> String {
    if x < 10.0 { format!("{x:.1}") } else { format!("{x:.0}") }
}

fn fmt_duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else if secs < 2.0 * 86_400.0 {
        format!("{:.1} h", secs / 3600.0)
    } else {
        format!("{:.1} days", secs / 86_400.0)
    }
}
