//! A whole stream through the kernel with the engine `packager run` uses ([`detector_wasm::replay`], here with the
//! kernel compiled in): lines numbered, blank ones skipped, one state per key, the same verdicts, counts and scores.
//! Only the result shape differs: columns for the chart instead of JSON lines.

use crate::csv;
use detector_wasm::config::{Config, Emit};
use detector_wasm::event::EventBlob;
use detector_wasm::replay::{Class, InProcess, Item, Outcome, Replay};
use detector_wasm::{DeadLetter, Detector, Verdict};
use serde::Serialize;
use std::collections::HashMap;

/// Invalid lines listed one by one; the rest are counted.
pub const MAX_INVALID_LISTED: usize = 1000;

/// The answer for the page.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    /// The effective configuration (flat kernel keys).
    pub config: serde_json::Map<String, serde_json::Value>,
    /// `jsonl` or `csv`.
    pub format: &'static str,
    pub totals: Totals,
    /// Present when the input carried labels.
    pub labels: Option<Scores>,
    /// Keys in order of first appearance; `events.key` indexes this list.
    pub keys: Vec<KeyInfo>,
    /// One entry per scored event, in input order, as columns.
    pub events: Columns,
    pub anomalies: Vec<Flagged>,
    /// Labeled anomalies the detector did not flag.
    pub misses: Vec<Missed>,
    pub invalid: Vec<Invalid>,
    /// Invalid lines beyond [`MAX_INVALID_LISTED`].
    pub invalid_left_out: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Totals {
    pub lines: u64,
    pub events: u64,
    pub keys: u64,
    pub anomalies: u64,
    pub warmup: u64,
    pub invalid: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scores {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub true_negatives: u64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

#[derive(Debug, Serialize)]
pub struct KeyInfo {
    pub key: String,
    pub events: u64,
    pub anomalies: u64,
}

/// Per event: input line, key (index into `keys`), x (event time in ms, or the line), value, expected band
/// (`null` in warm-up) and the kernel's flags (`detector_wasm::abi::FLAG_*`: 1 anomaly, 2 warm-up, 4 labeled,
/// 8 labeled anomaly).
#[derive(Debug, Default, Serialize)]
pub struct Columns {
    pub line: Vec<u64>,
    pub key: Vec<u32>,
    pub x: Vec<f64>,
    pub value: Vec<f64>,
    pub low: Vec<Option<f64>>,
    pub high: Vec<Option<f64>>,
    pub flags: Vec<u8>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Flagged {
    pub line: u64,
    pub anomaly_id: String,
    pub key: String,
    pub event_id: String,
    pub timestamp: Option<i64>,
    pub value: f64,
    pub score: Option<f64>,
    pub severity: Option<&'static str>,
    pub label: Option<String>,
    pub reason: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Missed {
    pub line: u64,
    pub key: String,
    pub event_id: String,
    pub value: f64,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct Invalid {
    pub line: u64,
    pub field: Option<String>,
    pub reason: String,
}

/// Why nothing could be replayed: a configuration key or a CSV header at fault.
#[derive(Debug, Serialize)]
pub struct Refused {
    pub error: String,
}

/// Replays `input` (`format`: `jsonl`, `csv` or `auto`) under the configuration `config_json` (flat kernel keys).
pub fn replay(config_json: &str, input: &str, format: &str) -> Result<Replayed, Refused> {
    let config = Config::from_json(config_json.as_bytes()).map_err(|e| Refused { error: e.to_string() })?;
    let csv_input = match format {
        "csv" => true,
        "jsonl" => false,
        "auto" => csv::looks_like_csv(input),
        other => return Err(Refused { error: format!("unknown input format `{other}`: use jsonl, csv or auto") }),
    };
    let mut out = Replayed { config: config.to_map(), format: if csv_input { "csv" } else { "jsonl" }, ..Replayed::default() };
    out.totals.lines = input.lines().count() as u64;
    // Only anomalies are rendered (as `packager run` does by default); the chart's value and band of every event come
    // from the event blob and the key's state before it, which the replay hands out with each verdict.
    let kernel = InProcess::new(&Config { emit: Emit::Anomalies, ..config.clone() }).map_err(|error| Refused { error })?;
    let detector = Detector::new(config.clone());
    let mut replay = Replay::new(kernel, 256);
    let mut key_index: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut sink = |item: &Item| {
        add(&mut out, &mut key_index, &detector, item);
        Ok(())
    };
    let replayed = if csv_input {
        let rows = csv::to_json_lines(input, &config).map_err(|error| Refused { error })?;
        rows.into_iter().try_for_each(|(line, row)| match row {
            Ok(record) => replay.push(line, record.into_bytes(), &mut sink),
            Err(reason) => {
                replay.push_dead_letter(line, DeadLetter::new("parse", None, reason, None, b"").to_json().into_bytes(), &mut sink)
            }
        })
    } else {
        input.lines().enumerate().try_for_each(|(i, line)| replay.push(i as u64 + 1, line.as_bytes().to_vec(), &mut sink))
    };
    replayed.and_then(|()| replay.flush(&mut sink)).map_err(|e| Refused { error: e.to_string() })?;
    let summary = replay.summary();
    out.totals.events = summary.events;
    out.totals.keys = summary.keys;
    out.totals.anomalies = summary.anomalies;
    out.totals.warmup = summary.warmup;
    out.totals.invalid = summary.invalid;
    out.labels = summary.labels.map(|c| Scores {
        true_positives: c.true_positives,
        false_positives: c.false_positives,
        false_negatives: c.false_negatives,
        true_negatives: c.true_negatives,
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
    });
    Ok(out)
}

/// Adds one replayed line to the answer: a chart column entry (and a row when flagged or missed), or an invalid line.
fn add(out: &mut Replayed, key_index: &mut HashMap<Vec<u8>, u32>, detector: &Detector, item: &Item) {
    let (flags, verdict, key, event, prior_state) = match &item.outcome {
        Outcome::DeadLetter(json) => {
            let invalid = match serde_json::from_slice::<DeadLetter>(json) {
                Ok(d) => Invalid { line: item.line, field: d.field, reason: d.reason },
                Err(e) => Invalid { line: item.line, field: None, reason: format!("unreadable dead letter: {e}") },
            };
            push_invalid(out, invalid);
            return;
        }
        Outcome::Verdict { flags, verdict, key, event, prior_state, .. } => (*flags, verdict, key, event, prior_state),
    };
    let Ok(blob) = EventBlob::read(event) else { return };
    let next = key_index.len() as u32;
    let index = *key_index.entry(key.clone()).or_insert(next);
    if index == next {
        out.keys.push(KeyInfo { key: String::from_utf8_lossy(key).into_owned(), events: 0, anomalies: 0 });
    }
    let key_info = &mut out.keys[index as usize];
    key_info.events += 1;
    if item.outcome.is_anomaly() {
        key_info.anomalies += 1;
    }
    let band = detector.expected_band(prior_state, blob.value, blob.timestamp_ms);
    let cols = &mut out.events;
    cols.line.push(item.line);
    cols.key.push(index);
    cols.x.push(blob.timestamp_ms.map_or(item.line as f64, |t| t as f64));
    cols.value.push(blob.value);
    cols.low.push(band.map(|b| b.0));
    cols.high.push(band.map(|b| b.1));
    cols.flags.push(flags);
    match item.outcome.class() {
        Some(Class::Miss) => {
            let e = blob.to_event();
            out.misses.push(Missed {
                line: item.line,
                key: e.key,
                event_id: e.event_id,
                value: e.value,
                label: e.label.map(|l| l.kind).unwrap_or_default(),
            });
        }
        Some(_) => {
            let Ok(v) = serde_json::from_slice::<Verdict>(verdict) else { return };
            out.anomalies.push(Flagged {
                line: item.line,
                anomaly_id: v.anomaly_id,
                key: v.key,
                event_id: v.event_id,
                timestamp: v.timestamp,
                value: v.value,
                score: v.score,
                severity: v.severity.map(|s| s.as_str()),
                label: v.label,
                reason: v.reason,
            });
        }
        None => {}
    }
}

fn push_invalid(out: &mut Replayed, invalid: Invalid) {
    if out.invalid.len() < MAX_INVALID_LISTED {
        out.invalid.push(invalid);
    } else {
        out.invalid_left_out += 1;
    }
}
