//! A whole stream through the kernel, as `packager run` replays it: every non-blank line is parsed by
//! [`detector_wasm::parse`], scored by [`detector_wasm::detect`] against its key's state, and that state kept for
//! the key's next event. Only the result shape differs: columns for the chart instead of JSON lines.

use crate::csv;
use detector_wasm::config::{Config, Emit};
use detector_wasm::score::Confusion;
use detector_wasm::verdict::Status;
use detector_wasm::{Detector, detect, parse, render};
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
/// (`null` in warm-up) and flags (1 anomaly, 2 warm-up, 4 labeled, 8 labeled anomaly).
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
    let records: Vec<csv::Row> = if csv_input {
        csv::to_json_lines(input, &config).map_err(|error| Refused { error })?
    } else {
        input.lines().enumerate().map(|(i, l)| (i as u64 + 1, Ok(l.to_string()))).collect()
    };
    let mut out = Replayed { config: config.to_map(), format: if csv_input { "csv" } else { "jsonl" }, ..Replayed::default() };
    out.totals.lines = input.lines().count() as u64;
    let detector = Detector::new(Config { emit: Emit::All, ..config.clone() });
    let mut states: HashMap<String, (u32, Vec<u8>)> = HashMap::new();
    let mut confusion: Option<Confusion> = None;
    for (line, record) in records {
        let record = match record {
            Ok(record) if record.bytes().all(|b| b.is_ascii_whitespace()) => continue,
            Ok(record) => record,
            Err(reason) => {
                out.totals.invalid += 1;
                push_invalid(&mut out, Invalid { line, field: None, reason });
                continue;
            }
        };
        let event = match parse(&config, record.as_bytes()) {
            Ok(event) => event,
            Err(e) => {
                out.totals.invalid += 1;
                push_invalid(&mut out, Invalid { line, field: e.field, reason: e.reason });
                continue;
            }
        };
        let next_index = states.len() as u32;
        let (key_index, state) = states.entry(event.key.clone()).or_insert_with(|| (next_index, Vec::new()));
        if *key_index == next_index {
            out.keys.push(KeyInfo { key: event.key.clone(), events: 0, anomalies: 0 });
        }
        let (new_state, a) = match detect(&detector, state, &event) {
            Ok(result) => result,
            Err(e) => {
                out.totals.invalid += 1;
                push_invalid(&mut out, Invalid { line, field: None, reason: e.to_string() });
                continue;
            }
        };
        *state = new_state.encode();
        let key_info = &mut out.keys[*key_index as usize];
        key_info.events += 1;
        out.totals.events += 1;
        let anomaly = a.is_anomaly();
        let mut flags = 0u8;
        if anomaly {
            flags |= 1;
            key_info.anomalies += 1;
            out.totals.anomalies += 1;
        }
        if a.status == Status::Warmup {
            flags |= 2;
            out.totals.warmup += 1;
        }
        if let Some(label) = &event.label {
            flags |= 4;
            if label.positive {
                flags |= 8;
            }
            confusion.get_or_insert_with(Confusion::default).add(anomaly, label.positive.then_some(label.kind.as_str()));
            if label.positive && !anomaly {
                out.misses.push(Missed {
                    line,
                    key: event.key.clone(),
                    event_id: event.event_id.clone(),
                    value: event.value,
                    label: label.kind.clone(),
                });
            }
        }
        let cols = &mut out.events;
        cols.line.push(line);
        cols.key.push(*key_index);
        cols.x.push(event.timestamp_ms.map_or(line as f64, |t| t as f64));
        cols.value.push(event.value);
        cols.low.push(a.band.map(|b| b.0));
        cols.high.push(a.band.map(|b| b.1));
        cols.flags.push(flags);
        if anomaly {
            let v = render(detector.config(), &event, &a);
            out.anomalies.push(Flagged {
                line,
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
    }
    out.totals.keys = out.keys.len() as u64;
    out.labels = confusion.map(|c| Scores {
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

fn push_invalid(out: &mut Replayed, invalid: Invalid) {
    if out.invalid.len() < MAX_INVALID_LISTED {
        out.invalid.push(invalid);
    } else {
        out.invalid_left_out += 1;
    }
}
