//! What the kernel says about each record: a [`Verdict`] for a scored event, a [`DeadLetter`] for a record that
//! could not be scored. Both are JSON lines on the wire (anomalies stream, dead-letter output, `packager run` stdout);
//! these types are their one definition, read back by the alerter and the packager.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict schema this kernel writes. Readers refuse versions they do not know.
pub const VERDICT_SCHEMA_VERSION: u32 = 1;
/// The dead-letter schema this kernel writes.
pub const DEAD_LETTER_SCHEMA_VERSION: u32 = 1;

/// The outcome for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Outside the expected band (or a burst): alert.
    Anomaly,
    /// Inside the expected band.
    Normal,
    /// The key has fewer than `min_events` events; learned, not judged.
    Warmup,
}

/// How loud an anomaly is, from its score relative to `threshold_multiplier` (k):
/// `low` below 1.5·k, `medium` below 2·k, `high` from 2·k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    /// The severity of a score against threshold `k`, or `None` below the threshold.
    pub fn of(score: f64, k: f64) -> Option<Severity> {
        if !(score > k) {
            None
        } else if score < 1.5 * k {
            Some(Severity::Low)
        } else if score < 2.0 * k {
            Some(Severity::Medium)
        } else {
            Some(Severity::High)
        }
    }

    /// The lowercase name, as written in JSON and SNS message attributes.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Which check raised the anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The value is outside its expected band.
    Value,
    /// Too many events in the burst window.
    Velocity,
    /// Both at once.
    Both,
}

/// What kind of departure an anomaly is (the `adaptive` detector says; `zscore` and `ewma` leave it out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// One value far from what the key's history predicts.
    Spike,
    /// The key's level (or its daily pattern, or its variability) changed and stayed changed: reported once, then
    /// the baseline follows the new level.
    LevelShift,
    /// A value outside the whole range the key has shown.
    NewRange,
    /// A regularly sampled key stuck at one value (exact repeats it almost never shows).
    Flatline,
    /// Too many events in the burst window (the velocity check).
    Burst,
}

impl Pattern {
    /// The snake_case name, as written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Spike => "spike",
            Pattern::LevelShift => "level_shift",
            Pattern::NewRange => "new_range",
            Pattern::Flatline => "flatline",
            Pattern::Burst => "burst",
        }
    }
}

/// The key's baseline before this event was learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline {
    /// Mean in model scale (`log1p` of the value when `scale` is `log1p`).
    pub mean: f64,
    /// Standard deviation in model scale, after the `min_stddev` floor.
    pub stddev: f64,
    /// Events learned into the baseline.
    pub count: u64,
    /// `log1p` or `linear`.
    pub scale: String,
    /// The mean expressed in the value's own unit (the typical value).
    pub typical: f64,
}

/// The velocity check's view of this event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Velocity {
    /// Events of this key in the window ending at this event, this one included.
    pub events_in_window: u32,
    /// Events expected in such a window at the key's usual pace.
    pub expected_in_window: f64,
    pub window_secs: f64,
    /// The key's usual gap between events, seconds.
    pub usual_gap_secs: f64,
    /// Equivalent normal deviations of the burst (upper-tail probability matched).
    pub score: f64,
}

/// The detector and parameters that produced a verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectorInfo {
    pub name: String,
    pub threshold_multiplier: f64,
    pub min_events: u32,
    pub direction: String,
    pub log_transform: bool,
    pub anomaly_update: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub half_life_events: Option<f64>,
    pub velocity: bool,
}

/// An attribute value copied from the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AttributeValue {
    Str(String),
    Num(f64),
    Bool(bool),
}

/// The verdict on one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub schema_version: u32,
    /// Deterministic from key and event id: consumers of the at-least-once anomalies stream dedupe on it.
    pub anomaly_id: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trigger: Option<Trigger>,
    /// What kind of departure (`adaptive` only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pattern: Option<Pattern>,
    /// Present when the key's stored state could not be read: why. The key started afresh with this event.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub state_reset: Option<String>,
    /// The field holding the key (`userId`) and the key's value.
    pub key_field: String,
    pub key: String,
    pub event_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<i64>,
    /// The field scored (`amount`) and its value.
    pub value_field: String,
    pub value: f64,
    /// How unusual the event is, comparable with `thresholdMultiplier` (larger = more anomalous; an anomaly from
    /// above it): for `zscore` and `ewma` in equivalent normal deviations, for `adaptive` 3 × the evidence relative to
    /// its default alarm line. `null` during warm-up.
    pub score: Option<f64>,
    /// The value's signed deviation from the mean, in baseline standard deviations; `null` during warm-up.
    pub value_score: Option<f64>,
    /// The expected band for the value, in its own unit; `null` during warm-up.
    pub expected_low: Option<f64>,
    pub expected_high: Option<f64>,
    pub baseline: Baseline,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub velocity: Option<Velocity>,
    pub detector: DetectorInfo,
    /// One sentence a person can act on.
    pub reason: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub attributes: BTreeMap<String, AttributeValue>,
    /// The ground-truth label of labeled input (`null` = unlabeled).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub label: Option<String>,
}

/// A record that could not be scored, with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub schema_version: u32,
    /// `parse` (the record itself), `detect` (the key's state) or `kernel` (the kernel failed; reported by the host).
    pub stage: String,
    /// The field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    pub reason: String,
    /// The key, when it was read.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// The record as received when it is UTF-8 (else `rawBase64`); for `detect` failures, the parsed event as JSON.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
}

impl DeadLetter {
    /// A dead letter carrying `raw` losslessly (as text when it is UTF-8, else base64).
    pub fn new(stage: &str, field: Option<String>, reason: String, key: Option<String>, raw: &[u8]) -> DeadLetter {
        let (raw, raw_base64) = match std::str::from_utf8(raw) {
            Ok(text) => (Some(text.to_string()), None),
            Err(_) => (None, Some(base64(raw))),
        };
        DeadLetter { schema_version: DEAD_LETTER_SCHEMA_VERSION, stage: stage.into(), field, reason, key, raw, raw_base64 }
    }

    /// The JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("dead letter serialises")
    }
}

/// The anomaly id of an event: `an-` and 32 hex digits of XXH3-128 over key, a zero byte, and event id.
pub fn anomaly_id(key: &str, event_id: &str) -> String {
    let mut bytes = Vec::with_capacity(key.len() + event_id.len() + 1);
    bytes.extend_from_slice(key.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(event_id.as_bytes());
    format!("an-{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomaly_ids_are_deterministic_and_distinguish_key_from_id() {
        assert_eq!(anomaly_id("user001", "txn-001"), anomaly_id("user001", "txn-001"));
        assert_ne!(anomaly_id("user001", "txn-001"), anomaly_id("user001", "txn-002"));
        assert_ne!(anomaly_id("ab", "c"), anomaly_id("a", "bc"));
        assert_eq!(anomaly_id("k", "e").len(), 35);
    }

    #[test]
    fn severity_bands() {
        assert_eq!(Severity::of(2.9, 3.0), None);
        assert_eq!(Severity::of(3.1, 3.0), Some(Severity::Low));
        assert_eq!(Severity::of(4.6, 3.0), Some(Severity::Medium));
        assert_eq!(Severity::of(6.0, 3.0), Some(Severity::High));
        assert_eq!(Severity::of(f64::NAN, 3.0), None);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn dead_letters_keep_non_utf8_records_losslessly() {
        let d = DeadLetter::new("parse", None, "bad".into(), None, &[0xff, 0xfe]);
        assert_eq!(d.raw, None);
        assert_eq!(d.raw_base64.as_deref(), Some("//4="));
    }
}
