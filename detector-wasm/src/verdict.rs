//! What the kernel says about each record: a [`Verdict`] for a scored event, a [`DeadLetter`] for a record that
//! could not be scored. Both are JSON lines on the wire (anomalies stream, dead-letter output, `packager run` stdout);
//! these types are their one definition, read back by the alerter and the packager.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The verdict schema this kernel writes. 2: `anomalyId` frames key and event id by their lengths (see
/// [`anomaly_id`]); 1 joined them with a zero byte, which let two different (key, event id) pairs share an id.
pub const VERDICT_SCHEMA_VERSION: u32 = 2;
/// The verdict schemas a reader built from this crate understands: 1 and 2 differ only in how `anomalyId` was
/// derived, so both read the same way. Readers refuse any other version.
pub const VERDICT_SCHEMA_VERSIONS_READ: [u32; 2] = [1, 2];
/// The dead-letter schema this kernel writes. 2: `raw`/`rawBase64` may hold only the record's beginning
/// (`truncated`), and `rawBytes` and `rawSha256` describe the whole record.
pub const DEAD_LETTER_SCHEMA_VERSION: u32 = 2;

/// Largest verdict or dead letter the kernel writes, in bytes of JSON. Every sink an output goes to takes more: a
/// Kinesis record 1 MiB (data and partition key together), a Firehose record 1000 KiB, an SQS message or an
/// EventBridge event 256 KiB. A dead letter embeds the record it refuses, and escaping makes JSON larger than its
/// input (a control character takes 6 bytes, base64 takes 4 for 3), so without a cap a hostile record of 600 KB
/// became a dead letter the Kinesis sink refused: the job failed, restarted from its checkpoint and met the record
/// again, a loop that stopped all detection. Verdicts stay under it by the configuration's bounds (key and event
/// id at most 256 bytes, at most `config::MAX_ATTRIBUTE_FIELDS` attributes of at most 256 bytes, field names of at
/// most `config::MAX_FIELD_NAME_BYTES`); `tests/output_limits.rs` checks both.
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// Most bytes a dead letter spends on the record itself: its beginning, as JSON-escaped text (`raw`) or as base64
/// (`rawBase64`). Enough to see what is wrong with a record; the whole record is in the raw archive, found by its
/// `rawSha256`.
pub const RAW_EXCERPT_BYTES: usize = 64 * 1024;
/// Longest reason, field name and key a dead letter carries, in bytes before escaping (a host's reason is an
/// exception message of unknown length).
pub const DEAD_LETTER_TEXT_BYTES: usize = 1024;

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
    /// A key still too new to be judged by its own history (fewer than `population_events` events) sent a value far
    /// above what the stream's events usually show (the population check, `log_transform` streams).
    StreamOutlier,
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
            Pattern::StreamOutlier => "stream_outlier",
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
    /// Deterministic from key and event id ([`anomaly_id`]): consumers of the at-least-once anomalies stream dedupe
    /// on it.
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
    /// Only its beginning when `truncated`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
    /// Length of the whole record, in bytes.
    #[serde(default)]
    pub raw_bytes: u64,
    /// SHA-256 of the whole record, lowercase hex: finds it in the raw archive, and tells two records apart whose
    /// beginnings are the same.
    #[serde(default)]
    pub raw_sha256: String,
    /// Whether `raw` (or `rawBase64`) holds only the record's first bytes, cut to keep the dead letter within
    /// [`MAX_OUTPUT_BYTES`].
    #[serde(default)]
    pub truncated: bool,
}

impl DeadLetter {
    /// A dead letter carrying `raw` (as text when it is UTF-8, else base64), whole when it fits in
    /// [`RAW_EXCERPT_BYTES`] and otherwise its beginning, with the whole record's length and SHA-256. Reason, field
    /// and key are cut to [`DEAD_LETTER_TEXT_BYTES`], so the JSON is always within [`MAX_OUTPUT_BYTES`].
    pub fn new(stage: &str, field: Option<String>, reason: String, key: Option<String>, raw: &[u8]) -> DeadLetter {
        let (excerpt, raw_base64, kept) = match std::str::from_utf8(raw) {
            Ok(text) => {
                let prefix = json_prefix(text, RAW_EXCERPT_BYTES);
                (Some(prefix.to_string()), None, prefix.len())
            }
            Err(_) => {
                let prefix = &raw[..raw.len().min(RAW_EXCERPT_BYTES / 4 * 3)];
                (None, Some(base64(prefix)), prefix.len())
            }
        };
        DeadLetter {
            schema_version: DEAD_LETTER_SCHEMA_VERSION,
            stage: stage.into(),
            field: field.map(|f| cut(f, DEAD_LETTER_TEXT_BYTES)),
            reason: cut(reason, DEAD_LETTER_TEXT_BYTES),
            key: key.map(|k| cut(k, DEAD_LETTER_TEXT_BYTES)),
            raw: excerpt,
            raw_base64,
            raw_bytes: raw.len() as u64,
            raw_sha256: sha256_hex(raw),
            truncated: kept < raw.len(),
        }
    }

    /// The JSON line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("dead letter serialises")
    }
}

/// The anomaly id of an event: `an-` and the 32 lowercase hex digits of XXH3-128 over the key's UTF-8 length as
/// a little-endian u32, the key, the event id's length likewise, and the event id.
///
/// Length prefixes make the framing unambiguous for any key and event id, whatever bytes they hold (schema 1
/// joined them with a zero byte: key `a\0b` with event `c` and key `a` with event `b\0c` got one id, and the
/// alerter published only one of the two anomalies).
pub fn anomaly_id(key: &str, event_id: &str) -> String {
    let mut bytes = Vec::with_capacity(key.len() + event_id.len() + 8);
    for part in [key, event_id] {
        bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
        bytes.extend_from_slice(part.as_bytes());
    }
    format!("an-{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes))
}

/// The longest prefix of `text` (on a character boundary) whose JSON string escaping takes at most `max` bytes.
fn json_prefix(text: &str, max: usize) -> &str {
    if text.len().saturating_mul(6) <= max {
        return text;
    }
    let mut used = 0;
    for (i, c) in text.char_indices() {
        // What serde_json writes for the character: a two-letter escape, \u00XX, or the UTF-8 bytes.
        used += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used > max {
            return &text[..i];
        }
    }
    text
}

/// `text` cut to at most `max` bytes on a character boundary, marked with `…` when cut.
fn cut(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// SHA-256 in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut s, b| {
        s.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
        s.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        s
    })
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
        assert_ne!(anomaly_id("a\0b", "c"), anomaly_id("a", "b\0c"));
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
        assert_eq!((d.raw_bytes, d.truncated), (2, false));
    }

    #[test]
    fn sha256_matches_the_fips_vectors() {
        assert_eq!(sha256_hex(b""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn an_excerpt_is_cut_where_its_escaped_form_reaches_the_budget_never_inside_a_character() {
        assert_eq!(json_prefix("abc", 3), "abc");
        assert_eq!(json_prefix("ab\"c", 3), "ab");
        assert_eq!(json_prefix("\u{1}\u{1}", 11), "\u{1}");
        assert_eq!(json_prefix("aé", 2), "a");
        for (text, max) in [("x\u{1}\"\\\né€😀".repeat(50), 97), ("\u{1f}".repeat(100), 60)] {
            let prefix = json_prefix(&text, max);
            let escaped = serde_json::to_string(prefix).unwrap().len() - 2;
            assert!(escaped <= max, "{escaped} > {max}");
            let one_more = text[prefix.len()..].chars().next().map(|c| &text[..prefix.len() + c.len_utf8()]).unwrap();
            assert!(serde_json::to_string(one_more).unwrap().len() - 2 > max, "the prefix could have been longer");
        }
    }

    #[test]
    fn long_reasons_and_keys_are_cut_with_a_mark() {
        let d = DeadLetter::new("kernel", Some("f".repeat(5000)), "é".repeat(5000), Some("k".repeat(5000)), b"x");
        assert!(d.reason.len() <= DEAD_LETTER_TEXT_BYTES && d.reason.ends_with('…'));
        assert!(d.field.unwrap().len() <= DEAD_LETTER_TEXT_BYTES && d.key.unwrap().len() <= DEAD_LETTER_TEXT_BYTES);
    }
}
