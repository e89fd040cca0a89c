//! Metrics: a seeded, labeled synthetic stream of system metrics (`packager generate --kind metrics`).
//!
//! Every key is one metric of one host (`host`, `metric`), sampled at a fixed interval (`interval_secs`, with a little
//! jitter and, rarely, a missed sample). Each series has its own level and noise, and most follow a daily pattern
//! (busier by day, in UTC); latencies and request counts are heavy-tailed. Into them go labeled anomalies:
//! - `spike` / `dip`: one sample far above / below what the series would show (6 to 12 of its noise);
//! - `level_shift`: the level moves for good by 5 to 10 noise units (a deploy, a new tenant); the first
//!   `shift_labeled` samples after it are labeled, later ones are the new normal;
//! - `drift`: the level starts to creep (a leak); labeled from the sample where it has moved 5 noise units until it
//!   is reset `shift_labeled` samples later;
//! - `flatline`: the metric is stuck at one value (a dead agent) for 30 to 60 samples; labeled from the 5th stuck
//!   sample (before that a stuck value cannot be told from chance) for `shift_labeled` samples.
//!
//! Every event carries `label` (`normal` or the kind); the same options and seed give the same stream.

use super::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

/// What to generate; [`Options::DEFAULT`] is what `packager generate --kind metrics` does without flags.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Events to write.
    pub events: u64,
    /// Hosts; each has three series (`cpu`, `latency_ms`, `requests`).
    pub hosts: u32,
    /// Random seed: the same seed and options give the same stream.
    pub seed: u64,
    /// Time of the first sample, ms since 1970.
    pub start_ms: i64,
    /// Seconds between samples of a series.
    pub interval_secs: u32,
    /// Share of samples that are spikes or dips.
    pub spike_rate: f64,
    /// Share of series that get a level shift, a drift or a flat-line (each).
    pub change_share: f64,
    /// Samples labeled after a level shift, a drift past 5 noise units, or a flat-line's start.
    pub shift_labeled: u32,
}

impl Options {
    /// The defaults: 10,000 samples of 20 hosts every 5 minutes from seed 1, starting 2026-01-01T00:00:00Z.
    pub const DEFAULT: Options = Options {
        events: 10_000,
        hosts: 20,
        seed: 1,
        start_ms: 1_767_225_600_000,
        interval_secs: 300,
        spike_rate: 0.002,
        change_share: 0.15,
        shift_labeled: 5,
    };

    /// Refuses options no stream can be made from, naming the flag.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.spike_rate) {
            return Err(format!("--spike-rate must be between 0 and 1, got {}", self.spike_rate));
        }
        if !(0.0..=1.0 / 3.0).contains(&self.change_share) {
            return Err(format!(
                "--change-share must be between 0 and 1/3 (each series gets at most one change), got {}",
                self.change_share
            ));
        }
        if self.hosts == 0 {
            return Err("--hosts must be at least 1".into());
        }
        if self.interval_secs < 10 {
            return Err(format!("--interval-secs must be at least 10 (samples are jittered by up to 2 s), got {}", self.interval_secs));
        }
        Ok(())
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::DEFAULT
    }
}

/// The metrics of every host: name, level range, relative noise, heavy tails, daily amplitude (share of the level).
const METRICS: [(&str, f64, f64, f64, bool, f64); 3] =
    [("cpu", 15.0, 60.0, 0.06, false, 0.35), ("latency_ms", 20.0, 250.0, 0.10, true, 0.15), ("requests", 50.0, 2000.0, 0.05, true, 0.6)];

/// One generated sample, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricEvent {
    pub host: String,
    pub metric: &'static str,
    pub value: f64,
    pub timestamp_ms: i64,
    pub sample_id: String,
    pub label: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum Change {
    None,
    Shift,
    Drift,
    Flat,
}

struct Series {
    host: String,
    metric: usize,
    level: f64,
    noise: f64,
    heavy: bool,
    daily: f64,
    phase: f64,
    change: Change,
    change_at: u64,
    sign: f64,
    size: f64,
    drifted: f64,
    labeled_left: u32,
    flat_left: u32,
    flat_value: f64,
    flat_run: u32,
    samples: u64,
}

/// Generates the samples of `o` in time order, calling `emit` for each; the first error stops the stream.
pub fn generate<E>(o: &Options, mut emit: impl FnMut(&MetricEvent) -> Result<(), E>) -> Result<(), Error<E>> {
    o.check().map_err(Error::Invalid)?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let unit: Normal<f64> = Normal::new(0.0, 1.0).expect("valid");
    let per_series = (o.events / (o.hosts as u64 * METRICS.len() as u64)).max(1);
    let mut series: Vec<Series> = Vec::new();
    for h in 0..o.hosts {
        for (m, &(_, lo, hi, noise, heavy, daily)) in METRICS.iter().enumerate() {
            let level = rng.random_range(lo..hi);
            let change = match rng.random_range(0.0..1.0) {
                x if x < o.change_share => Change::Shift,
                x if x < 2.0 * o.change_share => Change::Drift,
                x if x < 3.0 * o.change_share => Change::Flat,
                _ => Change::None,
            };
            series.push(Series {
                host: format!("host-{:02}", h + 1),
                metric: m,
                level,
                noise: level * noise * rng.random_range(0.6..1.4),
                heavy,
                daily: if rng.random_bool(0.75) { daily * rng.random_range(0.5..1.0) } else { 0.0 },
                phase: rng.random_range(-1.0..1.0),
                change,
                change_at: rng.random_range(per_series * 2 / 5..per_series * 4 / 5 + 1),
                sign: if rng.random_bool(0.5) { 1.0 } else { -1.0 },
                size: rng.random_range(5.0..10.0),
                drifted: 0.0,
                labeled_left: 0,
                flat_left: 0,
                flat_value: 0.0,
                flat_run: 0,
                samples: 0,
            });
        }
    }
    let interval = o.interval_secs as i64 * 1000;
    let mut written = 0u64;
    let mut step = 0i64;
    while written < o.events {
        for s in series.iter_mut() {
            if written >= o.events {
                break;
            }
            if rng.random_bool(0.002) {
                // a missed sample
                s.samples += 1;
                continue;
            }
            let jitter = rng.random_range(-2000..2000);
            let ts = o.start_ms + step * interval + jitter.max(-(interval / 4));
            let day = ((ts / 1000) % 86_400) as f64 / 86_400.0;
            let pattern = 1.0 + s.daily * (std::f64::consts::TAU * (day - 0.3 + 0.05 * s.phase)).sin().max(-0.8);
            let mut label = "normal";
            let mut expected = s.level * pattern;
            if s.samples == s.change_at {
                match s.change {
                    Change::Shift => {
                        s.level += s.sign * s.size * s.noise;
                        s.labeled_left = o.shift_labeled;
                        expected = s.level * pattern;
                    }
                    Change::Flat => {
                        s.flat_left = rng.random_range(30..60);
                    }
                    _ => {}
                }
            }
            if s.change == Change::Drift && s.samples >= s.change_at && s.samples < s.change_at + 400 {
                let before = s.drifted.abs();
                s.drifted += s.sign * 0.05 * s.noise;
                if before < 5.0 * s.noise && s.drifted.abs() >= 5.0 * s.noise {
                    s.labeled_left = o.shift_labeled;
                }
                if s.labeled_left == 0 && s.drifted.abs() >= 5.0 * s.noise && before >= 5.0 * s.noise {
                    // the leak is found and fixed once its labeled samples are out
                    s.level += s.drifted;
                    s.drifted = 0.0;
                    s.change = Change::None;
                }
            }
            expected += s.drifted;
            let e: f64 = unit.sample(&mut rng);
            let e = if s.heavy { e + if rng.random_bool(0.02) { unit.sample(&mut rng).abs() * 2.5 } else { 0.0 } } else { e };
            let mut value = expected + s.noise * e;
            if s.flat_left > 0 {
                if s.flat_value == 0.0 {
                    s.flat_value = (expected * 100.0).round() / 100.0;
                    s.flat_run = 0;
                }
                value = s.flat_value;
                s.flat_left -= 1;
                s.flat_run += 1;
                // A stuck value is only recognisable after a few repeats: label from the 5th stuck sample.
                if s.flat_run == 5 {
                    s.labeled_left = o.shift_labeled;
                }
            } else if label == "normal" && s.labeled_left == 0 && rng.random_bool(o.spike_rate) {
                let up = !rng.random_bool(0.35);
                let k = rng.random_range(6.0..12.0) * s.noise;
                value = if up { expected + k } else { (expected - k).max(expected * 0.1) };
                label = if up { "spike" } else { "dip" };
            }
            if s.labeled_left > 0 {
                label = match s.change {
                    Change::Shift => "level_shift",
                    Change::Drift => "drift",
                    Change::Flat => "flatline",
                    Change::None => "drift",
                };
                s.labeled_left -= 1;
            }
            let value = (value.max(0.0) * 100.0).round() / 100.0;
            written += 1;
            emit(&MetricEvent {
                host: s.host.clone(),
                metric: METRICS[s.metric].0,
                value,
                timestamp_ms: ts,
                sample_id: format!("m-{}-{written:08}", o.seed),
                label,
            })
            .map_err(Error::Sink)?;
            s.samples += 1;
        }
        step += 1;
    }
    Ok(())
}

/// The sample as a JSON line, with `label` unless `no_label`.
pub fn event_json(e: &MetricEvent, no_label: bool) -> String {
    let label = if no_label { String::new() } else { format!(",\"label\":\"{}\"", e.label) };
    format!(
        "{{\"host\":\"{}\",\"metric\":\"{}\",\"value\":{},\"timestamp\":{},\"sampleId\":\"{}\"{label}}}",
        e.host, e.metric, e.value, e.timestamp_ms, e.sample_id
    )
}

/// The whole stream as JSON lines (for the playground).
pub fn lines(o: &Options, labels: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    generate(o, |e| {
        out.push(event_json(e, !labels));
        Ok::<(), std::convert::Infallible>(())
    })
    .map_err(|e| match e {
        Error::Invalid(m) => m,
        Error::Sink(never) => match never {},
    })?;
    Ok(out)
}

/// The detector configuration that reads these samples: the composite key `host,metric`, the `value` field.
pub const CONFIG_KEYS: [(&str, &str); 5] = [
    ("key_field", "host,metric"),
    ("value_field", "value"),
    ("event_id_field", "sampleId"),
    ("attribute_fields", ""),
    ("label_field", "label"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(o: &Options) -> Vec<MetricEvent> {
        let mut v = Vec::new();
        generate(o, |e| {
            v.push(e.clone());
            Ok::<(), ()>(())
        })
        .unwrap();
        v
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let o = Options { events: 3000, ..Options::DEFAULT };
        assert_eq!(collect(&o), collect(&o));
        assert_ne!(collect(&o), collect(&Options { seed: 2, ..o.clone() }));
    }

    #[test]
    fn every_series_is_sampled_regularly_and_every_kind_appears() {
        let events = collect(&Options { events: 60_000, hosts: 20, ..Options::DEFAULT });
        assert_eq!(events.len(), 60_000);
        let mut last: std::collections::HashMap<(String, &str), i64> = Default::default();
        for e in &events {
            if let Some(t) = last.insert((e.host.clone(), e.metric), e.timestamp_ms) {
                let gap = e.timestamp_ms - t;
                assert!((295_000..=605_000).contains(&gap), "{gap} ms between samples of {} {}", e.host, e.metric);
            }
        }
        for kind in ["normal", "spike", "dip", "level_shift", "drift", "flatline"] {
            assert!(events.iter().any(|e| e.label == kind), "no {kind}");
        }
    }

    #[test]
    fn a_flat_line_is_one_exact_value_repeated() {
        let events = collect(&Options { events: 60_000, hosts: 20, ..Options::DEFAULT });
        let flat = events.iter().find(|e| e.label == "flatline").unwrap();
        let series: Vec<&MetricEvent> = events.iter().filter(|e| e.host == flat.host && e.metric == flat.metric).collect();
        let at = series.iter().position(|e| e.sample_id == flat.sample_id).unwrap();
        assert!(series[at - 4..=at].iter().all(|e| e.value == flat.value), "the 4 samples before the first labeled one are stuck too");
    }

    #[test]
    fn bad_options_name_the_flag() {
        assert!(Options { hosts: 0, ..Options::DEFAULT }.check().unwrap_err().contains("--hosts"));
        assert!(Options { spike_rate: 2.0, ..Options::DEFAULT }.check().unwrap_err().contains("--spike-rate"));
    }
}
