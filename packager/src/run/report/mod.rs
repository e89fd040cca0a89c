//! `packager run --report FILE.html`: one self-contained HTML page about a replayed stream.
//!
//! The [`Collector`] sees every verdict of the replay (the kernel runs with `emit = all` while a report is
//! collected) and keeps only what the page needs, with bounded memory:
//! - per key a chart series that is aggregated when it grows: once a key holds more points than its share of
//!   [`POINT_BUDGET`] (at most `--report-max-points`), neighbouring points are merged pairwise (min/max/mean of the
//!   value, the widest band), so a key of any length costs the same and the page says how many events a point holds;
//! - every flagged anomaly and every labeled anomaly (hit or miss) as an exact marker, and as a table row up to
//!   `--report-max-rows` (the page says when rows were left out);
//! - the top anomalies by score, with their reasons.
//!
//! [`html::render`] turns the collected [`Report`] into the page.

mod chart;
pub mod html;

use detector_wasm::Verdict;
use detector_wasm::abi;
use detector_wasm::replay::Summary;
pub use detector_wasm::score::Class;
use std::collections::HashMap;

/// Chart points kept over all keys before series are aggregated harder (≈ 32 MB).
pub const POINT_BUDGET: usize = 1_000_000;
/// No key's series is aggregated below this many points.
const MIN_POINTS_PER_KEY: usize = 64;
/// Rows of the top-anomalies table.
pub const TOP_ANOMALIES: usize = 25;

/// What to put in a report.
#[derive(Debug, Clone)]
pub struct Options {
    /// The busiest keys charted.
    pub busiest: usize,
    /// The keys with the most anomalies charted besides the busiest ones.
    pub most_anomalous: usize,
    /// Keys charted besides the busiest ones.
    pub keys: Vec<String>,
    /// Most chart points per key.
    pub max_points: usize,
    /// Most rows in the table of anomalies and labeled events.
    pub max_rows: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { busiest: 6, most_anomalous: 3, keys: Vec::new(), max_points: 1000, max_rows: 5000 }
    }
}

/// One chart point: a single event, or a run of consecutive events of one key merged together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Event time in ms (or the input line when events carry no time); the first event's for merged points.
    pub x: f64,
    pub mean: f32,
    pub min: f32,
    pub max: f32,
    /// The expected band (NaN while the key warms up); the widest one for merged points.
    pub low: f32,
    pub high: f32,
    /// Events merged into this point.
    pub events: u32,
}

impl Point {
    fn merge(a: Point, b: Point) -> Point {
        let events = a.events + b.events;
        let mean = (a.mean as f64 * a.events as f64 + b.mean as f64 * b.events as f64) / events as f64;
        Point {
            x: a.x,
            mean: mean as f32,
            min: a.min.min(b.min),
            max: a.max.max(b.max),
            // `f32::min` ignores NaN, so a warm-up half does not erase the other half's band.
            low: a.low.min(b.low),
            high: a.high.max(b.high),
            events,
        }
    }
}

/// An exactly placed event on a key's chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marker {
    pub x: f64,
    pub value: f64,
    pub outcome: Class,
}

/// A row of the anomaly tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: u64,
    pub anomaly_id: String,
    pub event_id: String,
    pub key: String,
    pub timestamp: Option<i64>,
    pub value: f64,
    pub score: Option<f64>,
    pub severity: Option<&'static str>,
    pub outcome: Class,
    pub label: Option<String>,
    pub reason: String,
}

/// Everything kept about one key.
#[derive(Debug, Default)]
pub struct KeySeries {
    pub events: u64,
    pub anomalies: u64,
    pub points: Vec<Point>,
    pub markers: Vec<Marker>,
}

/// The fields of a verdict that every plotted event needs.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plotted<'a> {
    #[serde(borrow)]
    key: std::borrow::Cow<'a, str>,
    value: f64,
    timestamp: Option<i64>,
    expected_low: Option<f64>,
    expected_high: Option<f64>,
}

/// Gathers a report while a replay runs.
pub struct Collector {
    options: Options,
    keys: HashMap<String, KeySeries>,
    points: usize,
    rows: Vec<Row>,
    rows_left_out: u64,
    top: Vec<Row>,
    unreadable: u64,
    has_time: bool,
}

impl Collector {
    pub fn new(options: Options) -> Collector {
        Collector {
            options,
            keys: HashMap::new(),
            points: 0,
            rows: Vec::new(),
            rows_left_out: 0,
            top: Vec::new(),
            unreadable: 0,
            has_time: true,
        }
    }

    /// Adds the verdict (kernel JSON, rendered because the kernel runs with `emit = all`) of input line `line`.
    pub fn add(&mut self, line: u64, flags: u8, verdict_json: &[u8]) {
        // Most events are only plotted: read just the plotted fields, and the whole verdict only for marked events.
        let Ok(p) = serde_json::from_slice::<Plotted>(verdict_json) else {
            // A custom --kernel may write verdicts this packager does not know; the page counts them.
            self.unreadable += 1;
            return;
        };
        let flagged = flags & abi::FLAG_ANOMALY != 0;
        let outcome = Class::of(flags);
        if p.timestamp.is_none() {
            self.has_time = false;
        }
        let x = p.timestamp.map(|t| t as f64).unwrap_or(line as f64);
        let cap = (POINT_BUDGET / (self.keys.len() + 1)).clamp(MIN_POINTS_PER_KEY, self.options.max_points.max(2));
        if !self.keys.contains_key(p.key.as_ref()) {
            self.keys.insert(p.key.clone().into_owned(), KeySeries::default());
        }
        let Some(series) = self.keys.get_mut(p.key.as_ref()) else { return };
        series.events += 1;
        if flagged {
            series.anomalies += 1;
        }
        let value = p.value as f32;
        series.points.push(Point {
            x,
            mean: value,
            min: value,
            max: value,
            low: p.expected_low.map_or(f32::NAN, |l| l as f32),
            high: p.expected_high.map_or(f32::NAN, |h| h as f32),
            events: 1,
        });
        self.points += 1;
        if series.points.len() > cap {
            let before = series.points.len();
            series.points = series.points.chunks(2).map(|c| if c.len() == 2 { Point::merge(c[0], c[1]) } else { c[0] }).collect();
            self.points -= before - series.points.len();
        }
        let Some(outcome) = outcome else { return };
        series.markers.push(Marker { x, value: p.value, outcome });
        let Ok(v) = serde_json::from_slice::<Verdict>(verdict_json) else {
            self.unreadable += 1;
            return;
        };
        let row = Row {
            line,
            anomaly_id: v.anomaly_id,
            event_id: v.event_id,
            key: v.key,
            timestamp: v.timestamp,
            value: v.value,
            score: v.score,
            severity: v.severity.map(|s| s.as_str()),
            outcome,
            label: v.label,
            reason: v.reason,
        };
        if flagged {
            self.offer_top(&row);
        }
        if self.rows.len() < self.options.max_rows {
            self.rows.push(row);
        } else {
            self.rows_left_out += 1;
        }
    }

    fn offer_top(&mut self, row: &Row) {
        let score = row.score.unwrap_or(0.0);
        if self.top.len() >= TOP_ANOMALIES && self.top.last().is_some_and(|last| last.score.unwrap_or(0.0) >= score) {
            return;
        }
        let at = self.top.partition_point(|r| r.score.unwrap_or(0.0) >= score);
        self.top.insert(at, row.clone());
        self.top.truncate(TOP_ANOMALIES);
    }

    /// The finished report: the busiest keys, the keys with the most anomalies, and the chosen ones, in that order.
    pub fn finish(mut self, summary: Summary, meta: Meta) -> Report {
        let mut by_events: Vec<(&String, &KeySeries)> = self.keys.iter().collect();
        by_events.sort_by(|a, b| b.1.events.cmp(&a.1.events).then_with(|| a.0.cmp(b.0)));
        let mut chosen: Vec<String> = by_events.iter().take(self.options.busiest).map(|(k, _)| (*k).clone()).collect();
        let mut by_anomalies: Vec<&(&String, &KeySeries)> =
            by_events.iter().filter(|(k, s)| s.anomalies > 0 && !chosen.contains(k)).collect();
        by_anomalies.sort_by(|a, b| b.1.anomalies.cmp(&a.1.anomalies).then_with(|| a.0.cmp(b.0)));
        let anomalous: Vec<String> = by_anomalies.iter().take(self.options.most_anomalous).map(|(k, _)| (*k).clone()).collect();
        chosen.extend(anomalous);
        let mut missing_keys = Vec::new();
        for key in &self.options.keys {
            if chosen.contains(key) {
                continue;
            }
            if self.keys.contains_key(key) {
                chosen.push(key.clone());
            } else {
                missing_keys.push(key.clone());
            }
        }
        let charts = chosen.into_iter().filter_map(|k| self.keys.remove(&k).map(|s| (k, s))).collect();
        Report {
            meta,
            summary,
            charts,
            missing_keys,
            rows: self.rows,
            rows_left_out: self.rows_left_out,
            top: self.top,
            unreadable: self.unreadable,
            time_axis: self.has_time,
            max_points: self.options.max_points,
        }
    }
}

/// About the run, for the page's header.
#[derive(Debug, Clone)]
pub struct Meta {
    pub input: String,
    pub kernel: String,
    pub seconds: f64,
    /// The effective kernel configuration (flat keys).
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// A collected report, ready to render.
#[derive(Debug)]
pub struct Report {
    pub meta: Meta,
    pub summary: Summary,
    /// Charted keys with their series: the busiest, then those with the most anomalies, then the keys asked for with
    /// `--report-key`.
    pub charts: Vec<(String, KeySeries)>,
    /// `--report-key` keys that never appeared in the input.
    pub missing_keys: Vec<String>,
    pub rows: Vec<Row>,
    pub rows_left_out: u64,
    pub top: Vec<Row>,
    pub unreadable: u64,
    /// Whether the x axis is event time (else input line).
    pub time_axis: bool,
    pub max_points: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use detector_wasm::{Config, Event, detect, render};

    /// Verdict JSON and flags for `values` of one key, scored by the real kernel code.
    fn verdicts(key: &str, values: &[f64], label_at: Option<usize>) -> Vec<(u8, Vec<u8>)> {
        let mut config = Config { velocity: false, ..Config::default() };
        config.emit = detector_wasm::config::Emit::All;
        let detector = detector_wasm::Detector::new(config.clone());
        let mut state = Vec::new();
        let mut out = Vec::new();
        for (i, &value) in values.iter().enumerate() {
            let label = if label_at == Some(i) { "amount_spike" } else { "normal" };
            let raw = format!(
                r#"{{"userId":"{key}","amount":{value},"timestamp":{},"transactionId":"t{i}","label":"{label}"}}"#,
                1_767_225_600_000i64 + i as i64 * 60_000
            );
            let event: Event = detector_wasm::parse(&config, raw.as_bytes()).unwrap();
            let (new_state, a) = detect(&detector, &state, &event).unwrap();
            state = new_state.encode();
            let mut flags = 0;
            if a.is_anomaly() {
                flags |= abi::FLAG_ANOMALY;
            }
            flags |= abi::FLAG_LABELED;
            if label != "normal" {
                flags |= abi::FLAG_LABEL_POSITIVE;
            }
            out.push((flags, serde_json::to_vec(&render(&config, &event, &a)).unwrap()));
        }
        out
    }

    #[test]
    fn long_series_are_aggregated_but_anomalies_stay_exact() {
        let mut values: Vec<f64> = (0..5000).map(|i| 50.0 + (i % 7) as f64).collect();
        values[4000] = 5000.0;
        let mut c = Collector::new(Options { max_points: 100, ..Options::default() });
        for (i, (flags, json)) in verdicts("u1", &values, Some(4000)).into_iter().enumerate() {
            c.add(i as u64 + 1, flags, &json);
        }
        let r = c.finish(Summary::default(), Meta { input: "t".into(), kernel: "k".into(), seconds: 0.0, config: Default::default() });
        let (_, s) = &r.charts[0];
        assert_eq!(s.events, 5000);
        assert!(s.points.len() <= 100 && s.points.len() >= 50, "{} points", s.points.len());
        assert_eq!(s.points.iter().map(|p| p.events as u64).sum::<u64>(), 5000, "merging loses no event");
        assert!(s.points.iter().any(|p| p.max == 5000.0), "the spike survives aggregation as a maximum");
        let hit: Vec<&Row> = r.rows.iter().filter(|r| r.outcome == Class::Hit).collect();
        assert_eq!(hit.len(), 1);
        assert_eq!(hit[0].event_id, "t4000");
        assert_eq!(s.markers.iter().filter(|m| m.outcome == Class::Hit).count(), 1);
    }

    #[test]
    fn busiest_keys_come_first_then_chosen_keys() {
        let mut c =
            Collector::new(Options { busiest: 1, most_anomalous: 0, keys: vec!["quiet".into(), "absent".into()], ..Options::default() });
        let mut line = 0;
        for (key, n) in [("quiet", 12), ("busy", 30), ("mid", 20)] {
            for (flags, json) in verdicts(key, &vec![10.0; n], None) {
                line += 1;
                c.add(line, flags, &json);
            }
        }
        let r = c.finish(Summary::default(), Meta { input: "t".into(), kernel: "k".into(), seconds: 0.0, config: Default::default() });
        let names: Vec<&str> = r.charts.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["busy", "quiet"]);
        assert_eq!(r.missing_keys, ["absent"]);
    }

    #[test]
    fn keys_with_the_most_anomalies_are_charted_after_the_busiest() {
        let mut c = Collector::new(Options { busiest: 1, most_anomalous: 1, ..Options::default() });
        let mut line = 0;
        let calm: Vec<f64> = (0..40).map(|i| 10.0 + (i % 3) as f64).collect();
        let mut spiky = calm[..20].to_vec();
        spiky.push(900.0);
        let mut once = calm[..20].to_vec();
        once.extend([900.0, 11.0, 950.0]);
        for (key, values) in [("busy", &calm), ("spiky", &spiky), ("twice", &once)] {
            for (flags, json) in verdicts(key, values, None) {
                line += 1;
                c.add(line, flags, &json);
            }
        }
        let r = c.finish(Summary::default(), Meta { input: "t".into(), kernel: "k".into(), seconds: 0.0, config: Default::default() });
        let names: Vec<&str> = r.charts.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["busy", "twice"], "the busiest key, then the one with the most anomalies");
        assert_eq!(r.charts[1].1.anomalies, 2);
    }

    #[test]
    fn top_anomalies_are_the_highest_scores_in_order() {
        let mut c = Collector::new(Options::default());
        for i in 0..60 {
            let row = Row {
                line: i,
                anomaly_id: format!("an-{i}"),
                event_id: String::new(),
                key: String::new(),
                timestamp: None,
                value: 0.0,
                score: Some((i * 37 % 60) as f64),
                severity: None,
                outcome: Class::Flagged,
                label: None,
                reason: String::new(),
            };
            c.offer_top(&row);
        }
        let scores: Vec<f64> = c.top.iter().map(|r| r.score.unwrap()).collect();
        let want: Vec<f64> = (35..60).rev().map(f64::from).collect();
        assert_eq!(scores, want);
    }
}
