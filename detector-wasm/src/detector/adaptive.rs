//! The `adaptive` value check, the default detector: one configuration for money amounts per user and for system
//! metrics, because each key is judged the way its own history says it should be.
//!
//! **Predictions.** Three models predict each value: the key's level (an exponentially weighted mean with a
//! half-life of `half_life_events`, learned robustly: a deviation teaches at most 3 standard deviations), a
//! time-of-day profile (48 half-hour bins, used only once the key has filled nearly all of them and only while it
//! predicts better than the level), and the previous value. Each model's typical error is tracked (mean absolute
//! error). The *surprise* of a value is its error in units of the typical error of the best of the level and the
//! profile; for a key whose previous value predicts better than either (a smooth metric), an error that persistence
//! explains is not a surprise.
//!
//! **Two ways to judge, chosen per key.**
//! - *Metric-like keys* — persistence predicts well, and the key is mature (200 events): a value is anomalous when its
//!   surprise beats the key's largest surprise so far by 10 % (a record, slowly forgotten with a half-life of 20,000
//!   events), when the recent average surprise (half-life 5 events, single errors capped at 10) beats its own record
//!   by 10 % (level shifts, a broken daily pattern, a change of variance), or when the value leaves the key's observed
//!   range by more than 2 % of the range (a new extreme). Records adapt the threshold to each key's own tails: a
//!   spiky key needs a bigger spike, and an alarm raises the bar, so a level shift is reported once, not as a storm.
//! - *Everything else* — keys with independent events (transactions), and young keys: significance. The deviation
//!   from the prediction in standard deviations, corrected for the key's sample size (Student-t), must reach 3.5 at
//!   the default threshold. For non-negative values arriving at irregular times (money: `log_transform`), a high
//!   value must be unusual both in the value's own scale and in `ln(1 + value)`, a low one in `ln(1 + value)`; the
//!   log-scale spread starts from a prior of 0.6 (worth 8 events), so a young key is judged sensibly from its first
//!   events. Any other key (a metric) starts from a prior too until it is mature: a coefficient of variation of 0.2
//!   of the prediction, worth 8 events (its first hours understate the spread of a whole day). A mature key must also
//!   beat its surprise record. An amount that alarmed raises no record and (with
//!   `anomaly_update = clip`) teaches nothing, so a repeat fraud is as unusual as the first.
//!
//! **Level shifts.** Six consecutive values more than 3 standard deviations to the same side of the level, spread
//! over at least two of the key's usual gaps, re-baseline the level to the mean of the latest four (a transaction habit that changed, a metric that moved):
//! the key is judged against its new level from then on.
//!
//! **The score.** `3 ×` the strongest evidence relative to its default alarm line (3.5 standard deviations, or 1.1 ×
//! the record, or 1 for a new extreme), so the default `threshold_multiplier = 3` alarms exactly at those lines and a
//! higher multiplier moves every line up in proportion (higher = fewer alerts).

use super::{Assessment, Detector, MAX_SCORE, Pattern};
use crate::config::{AnomalyUpdate, Config, Direction};
use crate::math::{self, Bounds};
use crate::state::{Adaptive, SEASON_BINS, State};
use crate::verdict::Status;

/// Standard deviations at the default alarm line of the significance check.
pub const SIGNIFICANCE: f64 = 3.5;
/// The factor by which a surprise must beat the key's record at the default alarm line.
pub const RECORD_MARGIN: f64 = 1.1;
/// Events before a key's surprise records are trusted; they are kept from [`RECORDS_FROM`] events on, so a key that
/// matures has a history of surprises to be judged against.
pub const MATURE_EVENTS: u64 = 200;
const RECORDS_FROM: u64 = 30;
/// After a new extreme alarmed, the edge moves this share of the range beyond it (2 × half-range × 0.1).
const NEW_RANGE_STEP: f64 = 0.2;
/// A new extreme must leave the observed range by this share of the range.
const RANGE_TOLERANCE: f64 = 0.01;
/// Half-life of the surprise records, in events.
const RECORD_HALF_LIFE: f64 = 20_000.0;
/// Half-life of the recent-surprise average, in events; single surprises enter it capped at [`SURPRISE_CAP`].
const SUSTAINED_HALF_LIFE: f64 = 5.0;
const SURPRISE_CAP: f64 = 10.0;
/// Half-life of the typical errors and of the spread, in events.
const ERROR_HALF_LIFE: f64 = 200.0;
/// A deviation teaches the level at most this many standard deviations (`anomaly_update = clip`).
const LEARN_CLIP: f64 = 3.0;
/// Persistence must beat the best model's typical error by this factor for a key to count as metric-like.
const PERSISTENCE: f64 = 0.8;
/// Spread of ln(gap) above which a key's events count as irregular (exponential gaps have ~1.3).
const IRREGULAR_GAPS: f64 = 0.8;
const GAP_HALF_LIFE: f64 = 50.0;
/// The log-scale prior: a spread of 0.6 worth 8 events.
const PRIOR_EVENTS: f64 = 8.0;
const PRIOR_SPREAD: f64 = 0.6;
/// The same prior for the value's own scale, as a coefficient of variation of the level.
const PRIOR_CV: f64 = 0.8;
/// The spread of every other key until it is mature, as a coefficient of variation of the prediction (worth
/// [`PRIOR_EVENTS`]): a young metric has seen a few hours of one day, whose spread understates the next hours'.
const YOUNG_CV: f64 = 0.2;
/// Time-of-day profile: a bin is used after this many visits, the profile once this many bins are.
const BIN_VISITS: u8 = 3;
const BINS_READY: u8 = 44;
const BIN_RATE: f64 = 0.3;
const BIN_SECS: f64 = 1800.0;
/// Change point: this many consecutive values (at least the 4 of the value ring) beyond this many standard deviations, spread over at least this many
/// of the key's usual gaps (a burst of card tests within minutes is not a new habit).
const SHIFT_RUN: u8 = 6;
const SHIFT_SIGMAS: f64 = 3.0;
const SHIFT_SPAN_GAPS: f64 = 2.0;
/// Flat-line: at least this many exact repeats (and twice the longest run the key has shown).
const FLAT_MIN_RUN: u16 = 5;
/// A normal's standard deviation per unit of mean absolute error (√(π/2)).
const PROFILE_SD: f64 = 1.2533;

/// The degrees of freedom below which the Student-t multiplier of [`SIGNIFICANCE`] is taken from a table.
pub(super) const T_TABLE: usize = 64;

/// The Student-t multipliers of [`SIGNIFICANCE`] for 0..[`T_TABLE`] degrees of freedom (index 0 unused).
pub(super) fn t_table() -> Vec<f64> {
    (0..T_TABLE).map(|df| if df == 0 { f64::NAN } else { math::student_t_multiplier(SIGNIFICANCE, df as f64) }).collect()
}

/// The weight of a new observation in an average with this half-life (in observations).
fn rate(half_life: f64) -> f64 {
    1.0 - math::exp2(-1.0 / half_life)
}

/// The per-observation weights of the averages, solved once per configuration (an `exp2` each otherwise).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rates {
    gap: f64,
    sustained: f64,
    record_keep: f64,
    error: f64,
    level: f64,
}

impl Rates {
    pub(super) fn new(config: &Config) -> Rates {
        Rates {
            gap: rate(GAP_HALF_LIFE),
            sustained: rate(SUSTAINED_HALF_LIFE),
            record_keep: 1.0 - rate(RECORD_HALF_LIFE),
            error: rate(ERROR_HALF_LIFE),
            level: rate(config.half_life_events),
        }
    }
}

/// A weight `rate` once warmed up, and equal weights before (the first observations are not over-trusted).
fn alpha(rate: f64, n: u64) -> f64 {
    rate.at_least(1.0 / (n as f64 + 1.0))
}

fn diff(a: f64, b: f64) -> f64 {
    math::bounded_diff(a, b)
}

/// The Student-t multiplier of [`SIGNIFICANCE`] for `df` degrees of freedom.
fn t_mult(detector: &Detector, df: f64) -> f64 {
    let df = df.at_least(1.0);
    // `df` is whole when it survives the round trip through the index (`fract` would be a `trunc` call on
    // baseline x86-64, natively and in the compiled kernel alike).
    match detector.adaptive_t.get(df as usize) {
        Some(&t) if (df as usize) as f64 == df => t,
        _ => math::student_t_multiplier(SIGNIFICANCE, df),
    }
}

/// What the significance check needs of one view (linear or log).
struct View {
    dev: f64,
    sd: f64,
    /// Band half-width at the default alarm line, in standard deviations (t-corrected).
    width: f64,
}

impl View {
    fn evidence(&self) -> f64 {
        if self.sd > 0.0 {
            (self.dev.abs() / self.sd / self.width).at_most(MAX_SCORE)
        } else if self.dev == 0.0 {
            0.0
        } else {
            MAX_SCORE
        }
    }
}

/// Scores `y` (at `ts`) against the key's adaptive baseline and learns it. `velocity` is the velocity check's evidence
/// (already relative to its alarm line), folded into the score.
pub(super) fn assess(
    detector: &Detector,
    state: &mut State,
    y: f64,
    ts: Option<i64>,
    velocity: f64,
    velocity_anomaly: bool,
    want_band: bool,
) -> Assessment {
    let config = detector.config();
    let k = config.threshold_multiplier / 3.0;
    let a = &mut state.adaptive;
    let ly = if y > 0.0 { math::ln_1p(y) } else { 0.0 };
    if y < 0.0 {
        a.all_nonnegative = false;
    }
    // Regularity of the key's arrivals (before the velocity check moves last_ts).
    if let Some(ts) = ts.filter(|&ts| state.last_ts_ms != i64::MIN && ts > state.last_ts_ms) {
        let lg = libm::log((ts - state.last_ts_ms) as f64 / 1000.0);
        let g = alpha(detector.adaptive_rates.gap, a.gap_count as u64);
        let d = lg - a.gap_log_mean;
        a.gap_log_mean += g * d;
        a.gap_log_var = (1.0 - g) * (a.gap_log_var + g * d * d);
        a.gap_count = a.gap_count.saturating_add(1);
    }
    let n = state.n;
    if n == 0 {
        a.level = y;
        a.var = 0.0;
        state.mean = ly;
        state.spread = 0.0;
        a.last = y;
        a.low = y;
        a.high = y;
        a.level_count = 1;
        a.recent = [y; 4];
        a.recent_log = [ly; 4];
        state.n = 1;
        state.seen += 1;
        return warmup(state, velocity);
    }

    let bin = ts.map(|t| ((t.rem_euclid(86_400_000)) / (86_400_000 / SEASON_BINS as i64)) as usize);
    let bin = bin.filter(|&b| b < SEASON_BINS);
    let seasonal = bin.filter(|&b| a.bin_visits[b] >= BIN_VISITS && a.bins_ready >= BINS_READY).map(|b| a.bins[b] as f64);
    let span = 0.5 * a.high - 0.5 * a.low; // half the range, without overflow
    let floor = 2e-3 * span + 1e-12;
    let preds = [a.level, seasonal.unwrap_or(f64::NAN), a.last];
    let mut u = [f64::INFINITY; 3];
    for i in 0..3 {
        if preds[i].is_finite() {
            u[i] = (diff(y, preds[i]).abs() / a.mae[i].at_least(floor)).at_most(1e12);
        }
    }
    let best = if seasonal.is_some() && a.mae[1] < a.mae[0] { 1 } else { 0 };
    let persistent = a.mae[2] < PERSISTENCE * a.mae[best];
    let surprise = if persistent { u[best].at_most(u[2]) } else { u[best] };
    let surprise = if surprise.is_finite() { surprise } else { 0.0 };
    let b = detector.adaptive_rates.sustained;
    let sustained = [0usize, 1]
        .map(|i| if u[i].is_finite() { a.sustained[i] + b * (u[i].at_most(SURPRISE_CAP) - a.sustained[i]) } else { a.sustained[i] });
    let mature = n >= MATURE_EVENTS && a.record > 0.0;
    let warm = n >= config.min_events as u64;
    let pred = preds[best];
    let above = y > pred;

    // Evidence, each relative to its default alarm line.
    let mut value_evidence = 0.0;
    let mut pattern = None;
    let mut band = None;
    let mut log_band = None;
    let mut union_band = None;
    let mut value_score = None;
    let mut baseline = (pred, f64::sqrt(a.var).at_least(floor), n, false);
    let mut independent = false;
    let nf = n as f64;
    let nl = (a.level_count.max(1) as f64).at_most(nf);
    if warm {
        let mut record = f64::INFINITY;
        let mut record_pattern = Pattern::Spike;
        let mut record_band = None;
        if mature {
            record = surprise / (a.record * RECORD_MARGIN);
            for i in 0..2 {
                // A sustained departure rises over several events; once it has alarmed it stays quiet until it has
                // come back below its record, so one shift is one alarm.
                if u[i].is_finite() && a.sustained_record[i] > 0.0 && a.sustained_armed & (1 << i) != 0 {
                    let s = sustained[i] / (a.sustained_record[i] * RECORD_MARGIN);
                    if s > record {
                        record = s;
                        record_pattern = Pattern::LevelShift;
                    }
                }
            }
            let tol = 2.0 * span * RANGE_TOLERANCE;
            let beyond = if y > a.high + tol {
                diff(y, a.high + tol)
            } else if y < a.low - tol {
                diff(a.low - tol, y)
            } else {
                0.0
            };
            if beyond > 0.0 {
                // Outside everything the key has shown: the most telling description, whichever evidence is larger.
                record = record.at_least((1.0 + beyond / (2.0 * span).at_least(1e-300)).at_most(MAX_SCORE));
                record_pattern = Pattern::NewRange;
            }
            let w = k * RECORD_MARGIN * a.record * a.mae[best].at_least(floor);
            record_band = Some((pred - w, pred + w));
        }
        // The spread of the best model's errors: the level's variance, or the profile's typical error.
        let model_sd = if best == 1 { PROFILE_SD * a.mae[1] } else { f64::sqrt(a.var) };
        let linear =
            View { dev: diff(y, pred), sd: model_sd.at_least(floor), width: t_mult(detector, nf - 1.0) * f64::sqrt(1.0 + 1.0 / nl) };
        // Amounts (non-negative, irregular, `log_transform`): both scales start from a prior spread, the linear one
        // as a coefficient of variation of the level, so a young key is judged from its first events.
        let irregular = a.gap_count < 2 || f64::sqrt(a.gap_log_var) > IRREGULAR_GAPS;
        let dual = config.log_transform && a.all_nonnegative && irregular;
        independent = dual && !persistent;
        // A young key that is not an amount (a metric): the spread it has shown so far (a few hours of one daily cycle,
        // say) understates the next hours' (a morning ramp the level lags behind), so until it is mature it starts
        // from a prior spread too.
        let linear = if !dual && !mature {
            let prior = YOUNG_CV * pred.abs();
            let var = (PRIOR_EVENTS * prior * prior + nf * linear.sd * linear.sd) / (PRIOR_EVENTS + nf);
            View { dev: linear.dev, sd: f64::sqrt(var).at_least(floor), width: linear.width }
        } else {
            linear
        };
        let linear = if dual {
            let prior = PRIOR_CV * pred.abs();
            let var = (PRIOR_EVENTS * prior * prior + nf * a.var) / (PRIOR_EVENTS + nf);
            View {
                dev: linear.dev,
                sd: f64::sqrt(var).at_least(floor),
                width: t_mult(detector, nf - 1.0 + PRIOR_EVENTS) * f64::sqrt(1.0 + 1.0 / nl),
            }
        } else {
            linear
        };
        if mature && persistent {
            value_evidence = record;
            pattern = Some(record_pattern);
            band = record_band;
            value_score = Some((linear.dev / linear.sd).clamp(-MAX_SCORE, MAX_SCORE));
        } else {
            let lin_band = (pred - k * linear.width * linear.sd, pred + k * linear.width * linear.sd);
            let (significance, view_band) = if dual {
                let var = (PRIOR_EVENTS * PRIOR_SPREAD * PRIOR_SPREAD + nf * state.spread) / (PRIOR_EVENTS + nf);
                let log = View {
                    dev: ly - state.mean,
                    sd: f64::sqrt(var).at_least(config.min_stddev).at_least(1e-9),
                    width: t_mult(detector, nf - 1.0 + PRIOR_EVENTS) * f64::sqrt(1.0 + 1.0 / nl),
                };
                value_score = Some((log.dev / log.sd).clamp(-MAX_SCORE, MAX_SCORE));
                baseline = (state.mean, log.sd, n, true);
                // The log band in the value's units costs two exp_m1: kept in log units until a verdict needs it.
                log_band = Some((state.mean, k * log.width * log.sd, lin_band.1));
                let e = if above { linear.evidence().at_most(log.evidence()) } else { log.evidence() };
                (e, lin_band)
            } else {
                value_score = Some((linear.dev / linear.sd).clamp(-MAX_SCORE, MAX_SCORE));
                (linear.evidence(), lin_band)
            };
            value_evidence = significance.at_most(record);
            pattern = Some(if record < significance { record_pattern } else { Pattern::Spike });
            band = Some(view_band);
            union_band = record_band;
        }
        let wrong_side = match config.direction {
            Direction::High => !above,
            Direction::Low => above,
            Direction::Both => false,
        };
        if wrong_side {
            value_evidence = 0.0;
        }
        // A flat-line: a regularly sampled key that keeps repeating its last value exactly for twice as long as it
        // ever has (and at least FLAT_MIN_RUN times): a stuck agent. Reported once per run.
        let irregular = a.gap_count < 2 || f64::sqrt(a.gap_log_var) > IRREGULAR_GAPS;
        if y == a.last && mature && !irregular && !a.flat_reported {
            let run = a.repeats as f64 + 1.0;
            let e = run / (2.0 * a.repeat_record as f64).at_least(FLAT_MIN_RUN as f64);
            if e >= 1.0 && e > value_evidence {
                value_evidence = e.at_most(MAX_SCORE);
                pattern = Some(Pattern::Flatline);
            }
        }
    }

    // Change point: a run of values far to one side of the level, spread over time, re-baselines the level.
    let sd_lin = f64::sqrt(a.var).at_least(floor);
    let z_run = diff(y, a.level) / sd_lin;
    let side: i8 = if z_run > SHIFT_SIGMAS {
        1
    } else if z_run < -SHIFT_SIGMAS {
        -1
    } else {
        0
    };
    a.run = if side == 0 {
        0
    } else if side == a.run.signum() {
        a.run.saturating_add(side)
    } else {
        side
    };
    let t = ts.unwrap_or(0);
    if a.run.abs() == 1 {
        a.run_start_ms = t;
    }
    a.recent[a.recent_next as usize] = y;
    a.recent_log[a.recent_next as usize] = ly;
    a.recent_next = (a.recent_next + 1) % 4;
    let min_span = (SHIFT_SPAN_GAPS * state.gap_mean_secs * 1000.0) as i64;
    let shifted = warm && a.run.unsigned_abs() >= SHIFT_RUN && (ts.is_none() || t.saturating_sub(a.run_start_ms) >= min_span);

    let value_anomaly = warm && 3.0 * value_evidence > config.threshold_multiplier;
    let status = if !warm {
        Status::Warmup
    } else if value_anomaly || velocity_anomaly {
        Status::Anomaly
    } else {
        Status::Normal
    };
    let score = if warm { Some((3.0 * value_evidence.at_least(velocity)).at_most(MAX_SCORE)) } else { None };
    if shifted && value_anomaly {
        pattern = Some(Pattern::LevelShift);
    }

    // Learn. A sustained check that has alarmed stays quiet until the recent surprise is back below its record.
    for (i, (&s, &record)) in sustained.iter().zip(&a.sustained_record).enumerate() {
        if value_anomaly && pattern == Some(Pattern::LevelShift) {
            a.sustained_armed &= !(1 << i);
        } else if s <= record {
            a.sustained_armed |= 1 << i;
        }
    }
    if n >= RECORDS_FROM {
        let keep = detector.adaptive_rates.record_keep;
        // An alarm on an independent event (a purchase) is not part of the key's normal tails: it does not raise the
        // bar the key's next fraud must clear. (A metric's alarm does: one shift, one alarm.)
        let raise = if value_anomaly && independent { 0.0 } else { surprise };
        a.record = a.record.at_least(raise) * keep;
        for (record, &s) in a.sustained_record.iter_mut().zip(&sustained) {
            *record = record.at_least(s) * keep;
        }
    }
    a.sustained = sustained;
    let e = alpha(detector.adaptive_rates.error, n);
    // The profile's typical error is learned from its first visits on, so it is known by the time the profile is
    // used; it starts from the level's.
    let profile = bin.filter(|&b| a.bin_visits[b] > 0).map(|b| a.bins[b] as f64);
    if profile.is_some() && a.mae[1] == 0.0 {
        a.mae[1] = a.mae[0];
    }
    for (i, p) in [Some(preds[0]), profile, Some(preds[2])].into_iter().enumerate() {
        if let Some(p) = p {
            a.mae[i] += e * (diff(y, p).abs() - a.mae[i]);
        }
    }
    // With `clip` (the default), an independent event that alarmed teaches nothing (a fraud must not widen the spread
    // the next one is judged by); a lasting change of habit is learned by the re-baseline below.
    let skip =
        value_anomaly && (config.anomaly_update == AnomalyUpdate::Skip || (independent && config.anomaly_update == AnomalyUpdate::Clip));
    if shifted {
        // The run's newest values (the whole ring: the run is longer) are the new level.
        let m = a.recent.iter().sum::<f64>() / 4.0;
        a.level = m.clamp(a.low.at_most(y), a.high.at_least(y));
        state.mean = a.recent_log.iter().sum::<f64>() / 4.0;
        a.level_count = 4;
        a.run = 0;
    } else if !skip {
        let clip = if warm && config.anomaly_update != AnomalyUpdate::Full { LEARN_CLIP } else { f64::INFINITY };
        let l = alpha(detector.adaptive_rates.level, a.level_count as u64);
        let v = alpha(detector.adaptive_rates.error, n);
        let d = diff(y, a.level).clamp(-clip * sd_lin, clip * sd_lin);
        a.level = (a.level + l * d).clamp(a.low.at_most(y), a.high.at_least(y));
        a.var = (1.0 - v) * (a.var + v * d * d);
        let lsd = f64::sqrt(state.spread).at_least(1e-9);
        let ld = (ly - state.mean).clamp(-clip * lsd, clip * lsd);
        state.mean += l * ld;
        state.spread = (1.0 - v) * (state.spread + v * ld * ld);
        a.level_count = a.level_count.saturating_add(1);
    }
    if let Some(b) = bin {
        // A bin learns BIN_RATE a day however often the key is sampled, and a deviation teaches it at most 3 of the
        // profile's standard deviations (a spike does not bend the daily pattern).
        let stored = y.clamp(-3.0e38, 3.0e38);
        let per_day = if state.gap_mean_secs > 0.0 { (BIN_SECS / state.gap_mean_secs).at_least(1.0) } else { 1.0 };
        let rate = BIN_RATE / per_day;
        let reach = LEARN_CLIP * (PROFILE_SD * a.mae[1]).at_least(floor);
        let old = a.bins[b] as f64;
        a.bins[b] = if a.bin_visits[b] == 0 { stored as f32 } else { (old + rate * (stored - old).clamp(-reach, reach)) as f32 };
        if a.bin_visits[b] < u8::MAX {
            a.bin_visits[b] += 1;
            if a.bin_visits[b] == BIN_VISITS {
                a.bins_ready = a.bins_ready.saturating_add(1);
            }
        }
    }
    // A new extreme that alarmed moves the edge a step beyond itself, so a level that keeps rising alarms once,
    // then again only when it leaves the new range as clearly.
    let step = if value_anomaly && pattern == Some(Pattern::NewRange) { NEW_RANGE_STEP * span } else { 0.0 };
    a.high = if y > a.high { y + step } else { a.high };
    a.low = if y < a.low { y - step } else { a.low };
    if y == a.last {
        a.repeats = a.repeats.saturating_add(1);
        if value_anomaly && pattern == Some(Pattern::Flatline) {
            a.flat_reported = true;
        }
    } else {
        // A run that ended without being a flat-line is one the key can show.
        if !a.flat_reported {
            a.repeat_record = a.repeat_record.max(a.repeats);
        }
        a.repeats = 0;
        a.flat_reported = false;
    }
    a.last = y;
    state.n = n + 1;
    state.seen += 1;

    // The expected band, in the value's own units, for verdicts that show it.
    let band = if want_band || value_anomaly || velocity_anomaly {
        let band = match log_band {
            Some((mean, half, lin_high)) => {
                band.map(|_| (math::exp_m1(mean - half).at_least(0.0), lin_high.at_least(math::exp_m1(mean + half))))
            }
            None => band,
        };
        match (band, union_band) {
            (Some((lo, hi)), Some((rlo, rhi))) => Some((lo.at_most(rlo), hi.at_least(rhi))),
            (band, _) => band,
        }
    } else {
        None
    };
    let (mean, sd, count, log) = baseline;
    Assessment {
        status,
        score,
        value_score,
        value_anomaly,
        band,
        baseline: (mean, sd, count),
        log_scale: log,
        velocity: None,
        velocity_anomaly,
        consecutive_anomalies: 0,
        pattern: if value_anomaly { pattern } else { None },
        state_reset: None,
    }
}

fn warmup(state: &State, _velocity: f64) -> Assessment {
    Assessment {
        status: Status::Warmup,
        score: None,
        value_score: None,
        value_anomaly: false,
        band: None,
        baseline: (state.adaptive.level, 0.0, 0),
        log_scale: false,
        velocity: None,
        velocity_anomaly: false,
        consecutive_anomalies: 0,
        pattern: None,
        state_reset: None,
    }
}

/// Builds an adaptive extension from a zscore/ewma baseline (mean and variance in the model scale of `config`), so
/// switching the detector keeps what each key learned.
pub fn migrate(config: &Config, state: &mut State, variance: f64) {
    let (mean, var) = (state.mean, variance.at_least(0.0));
    let (level, lin_var) = if config.log_transform {
        let m = math::exp_m1(mean).at_least(0.0);
        // The log-normal's variance around its median, a fair start for the linear scale.
        (m, (libm::exp(var.at_most(50.0)) - 1.0) * (m + 1.0) * (m + 1.0))
    } else {
        (mean, var)
    };
    let sd = f64::sqrt(lin_var.at_most(1e300));
    state.adaptive = Adaptive {
        level,
        var: lin_var.at_most(1e300),
        last: level,
        low: level - 3.0 * sd,
        high: level + 3.0 * sd,
        mae: [0.8 * sd, 0.8 * sd, 1.13 * sd],
        level_count: state.n.min(u32::MAX as u64) as u32,
        all_nonnegative: config.log_transform,
        recent: [level; 4],
        recent_log: [mean; 4],
        ..Adaptive::default()
    };
    if !config.log_transform {
        // The header's mean and spread hold the log view for adaptive; without a log scale there is none to keep.
        state.mean = math::ln_1p(level.at_least(0.0));
        state.spread = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DetectorKind;
    use crate::detector::{assess_value, detect_value};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Normal};

    const T0: i64 = 1_767_225_600_000;

    fn metric_config() -> Config {
        Config { value_field: "value".into(), allow_negative: true, ..Config::default() }
    }

    /// A 5-minute metric: level 50, noise 1, with `f(i, value)` applied; returns each event's status and pattern.
    fn metric(config: &Config, n: usize, f: impl Fn(usize, f64) -> f64) -> Vec<(Status, Option<Pattern>)> {
        let detector = Detector::new(config.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let noise = Normal::new(0.0, 1.0).unwrap();
        let mut state = State::new(DetectorKind::Adaptive);
        (0..n)
            .map(|i| {
                let x = f(i, 50.0 + noise.sample(&mut rng));
                let a = assess_value(&detector, &mut state, x, Some(T0 + i as i64 * 300_000));
                (a.status, a.pattern)
            })
            .collect()
    }

    fn anomalies(v: &[(Status, Option<Pattern>)], from: usize) -> Vec<(usize, Option<Pattern>)> {
        v.iter().enumerate().skip(from).filter(|(_, (s, _))| *s == Status::Anomaly).map(|(i, (_, p))| (i, *p)).collect()
    }

    #[test]
    fn a_spike_in_a_steady_metric_is_flagged_once_and_nothing_else_is() {
        let v = metric(&metric_config(), 1500, |i, x| if i == 1200 { x + 30.0 } else { x });
        let found = anomalies(&v, 300);
        assert!(found.iter().any(|&(i, _)| i == 1200), "{found:?}");
        assert!(found.len() <= 3, "a quiet metric raises few alarms: {found:?}");
    }

    #[test]
    fn a_level_shift_is_reported_once_then_the_baseline_follows() {
        let v = metric(&metric_config(), 2000, |i, x| if i >= 1200 { x + 12.0 } else { x });
        let found = anomalies(&v, 1190);
        assert!(found.first().is_some_and(|&(i, _)| (1200..1210).contains(&i)), "the shift is caught at once: {found:?}");
        assert!(found.len() <= 4, "not an alert storm: {found:?}");
        assert!(found.iter().all(|&(i, _)| i < 1300), "the new level is normal soon: {found:?}");
    }

    #[test]
    fn a_value_beyond_everything_the_key_has_shown_is_a_new_range() {
        let v = metric(&metric_config(), 1500, |i, x| if i == 1400 { 60.0 } else { x });
        let found = anomalies(&v, 1390);
        assert_eq!(found.iter().find(|&&(i, _)| i == 1400).map(|f| f.1), Some(Some(Pattern::NewRange)), "{found:?}");
    }

    #[test]
    fn money_spikes_and_card_testing_amounts_are_caught_ordinary_spending_is_not() {
        let config = Config::default();
        let detector = Detector::new(config.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let spread = Normal::new(0.0, 0.6).unwrap();
        let gap = rand_distr::Exp::new(1.0).unwrap();
        let (mut flagged_normal, mut normals) = (0, 0);
        let (mut caught_spikes, mut spikes, mut caught_tiny, mut tiny) = (0, 0, 0, 0);
        for _user in 0..1000 {
            let typical = rng.random_range(40f64.ln()..300f64.ln());
            let mut state = Vec::new();
            let mut t = T0;
            for i in 0..80 {
                // Purchases arrive at random: exponential gaps, a day on average.
                t += (gap.sample(&mut rng) * 86_400_000.0) as i64 + 1_000;
                let kind = if i >= 5 && rng.random_bool(0.005) {
                    1
                } else if i >= 5 && rng.random_bool(0.005) {
                    2
                } else {
                    0
                };
                let amount = match kind {
                    1 => typical.exp() * 20.0,
                    2 => typical.exp() / 40.0,
                    _ => (typical + spread.sample(&mut rng)).exp(),
                };
                let (next, a) = detect_value(&detector, &state, amount, Some(t)).unwrap();
                state = next.encode();
                let hit = a.is_anomaly();
                match kind {
                    1 => (spikes, caught_spikes) = (spikes + 1, caught_spikes + hit as u32),
                    2 => (tiny, caught_tiny) = (tiny + 1, caught_tiny + hit as u32),
                    _ if a.status != Status::Warmup => (normals, flagged_normal) = (normals + 1, flagged_normal + hit as u32),
                    _ => {}
                }
            }
        }
        assert!(caught_spikes as f64 >= 0.9 * spikes as f64, "spikes of 20x the median: {caught_spikes}/{spikes}");
        assert!(caught_tiny as f64 >= 0.9 * tiny as f64, "amounts 40x below the median (card testing): {caught_tiny}/{tiny}");
        assert!((flagged_normal as f64) < 0.002 * normals as f64, "false alarms {flagged_normal} of {normals}");
    }

    #[test]
    fn every_fraud_of_a_repeat_victim_is_caught_an_earlier_one_does_not_raise_the_bar() {
        // A long-lived card (spread 0.6, purchases a day apart at random) hit by the same size of fraud again and
        // again: each is as unusual as the first, so each is flagged — an alarm neither raises the key's record nor
        // widens the spread the next purchase is judged by.
        let detector = Detector::new(Config::default());
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let spread = Normal::new(0.0, 0.6).unwrap();
        let gap = rand_distr::Exp::new(1.0).unwrap();
        let frauds = [40, 70, 100, 230, 260, 290, 320];
        let (mut state, mut t, mut missed, mut false_alarms) = (State::new(DetectorKind::Adaptive), T0, Vec::new(), 0);
        for i in 0..350 {
            t += (gap.sample(&mut rng) * 86_400_000.0) as i64 + 1_000;
            let amount = if frauds.contains(&i) { 60.0 * 15.0 } else { (60f64.ln() + spread.sample(&mut rng)).exp() };
            let a = assess_value(&detector, &mut state, amount, Some(t));
            match (frauds.contains(&i), a.is_anomaly()) {
                (true, false) => missed.push(i),
                (false, true) => false_alarms += 1,
                _ => {}
            }
        }
        assert!(missed.is_empty(), "frauds of 15x the typical amount missed at purchases {missed:?}");
        assert!(false_alarms <= 2, "{false_alarms} ordinary purchases flagged");
    }

    #[test]
    fn a_higher_threshold_flags_a_subset() {
        let f = |i: usize, x: f64| {
            if i.is_multiple_of(97) {
                x + (i % 7) as f64 * 3.0
            } else if i > 1500 {
                x + 6.0
            } else {
                x
            }
        };
        let base = anomalies(&metric(&metric_config(), 2500, f), 0);
        for k in [3.5, 4.0, 6.0] {
            let higher = anomalies(&metric(&Config { threshold_multiplier: k, ..metric_config() }, 2500, f), 0);
            assert!(higher.len() <= base.len(), "k {k}: {} > {}", higher.len(), base.len());
        }
    }

    #[test]
    fn switching_from_zscore_keeps_the_key_s_typical_amount() {
        let zscore = Detector::new(Config { detector: DetectorKind::Zscore, ..Config::default() });
        let mut bytes = Vec::new();
        for (i, x) in [100.0, 120.0, 90.0, 110.0, 95.0, 105.0, 100.0, 98.0, 102.0, 101.0].into_iter().enumerate() {
            bytes = detect_value(&zscore, &bytes, x, Some(T0 + i as i64 * 86_400_000)).unwrap().0.encode();
        }
        let adaptive = Detector::new(Config::default());
        let (state, a) = detect_value(&adaptive, &bytes, 5000.0, Some(T0 + 11 * 86_400_000)).unwrap();
        assert_eq!(state.model, DetectorKind::Adaptive);
        assert!((state.adaptive.level - 100.0).abs() < 30.0, "{}", state.adaptive.level);
        assert!(a.is_anomaly(), "the migrated baseline judges at once: {a:?}");
    }
}
