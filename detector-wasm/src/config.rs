//! Kernel configuration: one flat set of keys shared by every front end.
//!
//! The same key names are used in `packager.toml` (`[detector]`), in `packager` flags (`--threshold-multiplier`),
//! in the Flink job's runtime property group `detector`, and in the playground. Values may arrive as JSON numbers
//! and booleans or as strings (Managed Flink property maps hold only strings), so every key accepts both.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Which value model scores an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// The default: judges each key the way its history says (surprise records for metric-like keys, significance
    /// in both scales for independent events), follows level shifts and a daily profile (`detector::adaptive`).
    Adaptive,
    /// Running mean and variance over the key's whole history (Welford).
    Zscore,
    /// Exponentially weighted mean and variance with a half-life in events, so the baseline follows drift.
    Ewma,
}

/// Which side of the baseline counts as anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Only values above the expected band (spending spikes).
    High,
    /// Only values below the expected band (a metric that drops).
    Low,
    /// Both sides.
    Both,
}

/// What an event judged anomalous does to the key's baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnomalyUpdate {
    /// The baseline ignores anomalous values entirely; a lasting change of habits is flagged until reset.
    Skip,
    /// The baseline learns the value clipped to the edge of the expected band: one burst barely moves it,
    /// a lasting shift is learned over a few half-lives.
    Clip,
    /// The baseline learns the anomalous value as is.
    Full,
}

/// How a numeric timestamp is to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimestampUnit {
    /// Milliseconds since 1970-01-01T00:00:00Z (the brief's events).
    Ms,
    /// Seconds since 1970-01-01T00:00:00Z.
    S,
}

/// Which verdicts the kernel renders as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emit {
    /// Only anomalies (what the Flink job sends downstream).
    Anomalies,
    /// Every event, normal and warm-up included (for plots and for scoring detectors on labeled data).
    All,
}

macro_rules! names {
    ($($ty:ident { $($variant:ident => $name:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// The lowercase name, as written in configuration and verdicts.
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
            /// Every variant with its name.
            pub const CHOICES: &'static [(&'static str, $ty)] = &[$(($name, $ty::$variant)),+];
        }
    )+};
}

names! {
    DetectorKind { Adaptive => "adaptive", Zscore => "zscore", Ewma => "ewma" }
    Direction { High => "high", Low => "low", Both => "both" }
    AnomalyUpdate { Skip => "skip", Clip => "clip", Full => "full" }
    TimestampUnit { Ms => "ms", S => "s" }
    Emit { Anomalies => "anomalies", All => "all" }
}

/// The whole kernel configuration. Field names are the configuration keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub detector: DetectorKind,
    pub threshold_multiplier: f64,
    pub min_events: u32,
    pub direction: Direction,
    pub log_transform: bool,
    pub anomaly_update: AnomalyUpdate,
    pub half_life_events: f64,
    pub min_stddev: f64,
    pub velocity: bool,
    pub burst_window_secs: f64,
    pub burst_min_events: u32,
    pub population_events: u32,
    pub key_field: Vec<String>,
    pub value_field: String,
    pub timestamp_field: String,
    pub timestamp_unit: TimestampUnit,
    pub event_id_field: String,
    pub label_field: String,
    pub attribute_fields: Vec<String>,
    pub allow_negative: bool,
    pub max_record_bytes: u32,
    pub emit: Emit,
}

/// The most previous events the velocity check can see inside one window (the size of the per-key ring).
pub const VELOCITY_RING: usize = 8;

/// Hard ceiling for `max_record_bytes`: Kinesis records are at most 1 MiB, 16 MiB leaves room for files.
pub const MAX_RECORD_BYTES_LIMIT: u32 = 16 * 1024 * 1024;

/// Longest field name any key accepts, bytes. With the two limits below it bounds a verdict's size (names are
/// copied into every verdict), which must fit the sinks (`verdict::MAX_OUTPUT_BYTES`).
pub const MAX_FIELD_NAME_BYTES: usize = 128;
/// Most fields in `key_field`.
pub const MAX_KEY_FIELDS: usize = 8;
/// Most fields in `attribute_fields`.
pub const MAX_ATTRIBUTE_FIELDS: usize = 32;

impl Default for Config {
    fn default() -> Self {
        Config {
            detector: DetectorKind::Adaptive,
            threshold_multiplier: 3.0,
            min_events: 3,
            direction: Direction::Both,
            log_transform: true,
            anomaly_update: AnomalyUpdate::Clip,
            half_life_events: 50.0,
            min_stddev: 0.05,
            velocity: true,
            burst_window_secs: 300.0,
            burst_min_events: 5,
            population_events: 30,
            key_field: vec!["userId".into()],
            value_field: "amount".into(),
            timestamp_field: "timestamp".into(),
            timestamp_unit: TimestampUnit::Ms,
            event_id_field: "transactionId".into(),
            label_field: "label".into(),
            attribute_fields: vec!["merchantId".into()],
            allow_negative: false,
            max_record_bytes: 1024 * 1024,
            emit: Emit::Anomalies,
        }
    }
}

/// A configuration key with a value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key at fault, as the user writes it.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config key `{}`: {}", self.key, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every key `Config` understands, in documentation order.
pub const KEYS: &[&str] = &[
    "detector",
    "threshold_multiplier",
    "min_events",
    "direction",
    "log_transform",
    "anomaly_update",
    "half_life_events",
    "min_stddev",
    "velocity",
    "burst_window_secs",
    "burst_min_events",
    "population_events",
    "key_field",
    "value_field",
    "timestamp_field",
    "timestamp_unit",
    "event_id_field",
    "label_field",
    "attribute_fields",
    "allow_negative",
    "max_record_bytes",
    "emit",
];

impl Config {
    /// Reads a configuration from JSON text: an object whose keys are a subset of [`KEYS`].
    pub fn from_json(text: &[u8]) -> Result<Config, ConfigError> {
        let value: Value =
            serde_json::from_slice(text).map_err(|e| ConfigError { key: "(config)".into(), message: format!("not a JSON object: {e}") })?;
        match value {
            Value::Object(map) => Config::from_map(&map),
            _ => Err(ConfigError { key: "(config)".into(), message: "expected a JSON object of config keys".into() }),
        }
    }

    /// Reads a configuration from a map of keys to values; missing keys keep their defaults.
    pub fn from_map(map: &Map<String, Value>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (key, value) in map {
            c.set(key, value)?;
        }
        c.validate()?;
        Ok(c)
    }

    /// Sets one key from a JSON value or a string, with the same rules as [`Config::from_map`] (no cross-key checks).
    pub fn set(&mut self, key: &str, value: &Value) -> Result<(), ConfigError> {
        let err = |message: String| ConfigError { key: key.to_string(), message };
        match key {
            "detector" => self.detector = enum_value(value, DetectorKind::CHOICES).map_err(err)?,
            "threshold_multiplier" => self.threshold_multiplier = number(value).map_err(err)?,
            "min_events" => self.min_events = integer(value).map_err(err)?,
            "direction" => self.direction = enum_value(value, Direction::CHOICES).map_err(err)?,
            "log_transform" => self.log_transform = boolean(value).map_err(err)?,
            "anomaly_update" => self.anomaly_update = enum_value(value, AnomalyUpdate::CHOICES).map_err(err)?,
            "half_life_events" => self.half_life_events = number(value).map_err(err)?,
            "min_stddev" => self.min_stddev = number(value).map_err(err)?,
            "velocity" => self.velocity = boolean(value).map_err(err)?,
            "burst_window_secs" => self.burst_window_secs = number(value).map_err(err)?,
            "burst_min_events" => self.burst_min_events = integer(value).map_err(err)?,
            "population_events" => self.population_events = integer(value).map_err(err)?,
            "key_field" => self.key_field = list(value).map_err(err)?,
            "value_field" => self.value_field = string(value).map_err(err)?,
            "timestamp_field" => self.timestamp_field = string(value).map_err(err)?,
            "timestamp_unit" => self.timestamp_unit = enum_value(value, TimestampUnit::CHOICES).map_err(err)?,
            "event_id_field" => self.event_id_field = string(value).map_err(err)?,
            "label_field" => self.label_field = string(value).map_err(err)?,
            "attribute_fields" => self.attribute_fields = list(value).map_err(err)?,
            "allow_negative" => self.allow_negative = boolean(value).map_err(err)?,
            "max_record_bytes" => self.max_record_bytes = integer(value).map_err(err)?,
            "emit" => self.emit = enum_value(value, Emit::CHOICES).map_err(err)?,
            _ => {
                return Err(err(format!("unknown key; the known keys are: {}", KEYS.join(", "))));
            }
        }
        Ok(())
    }

    /// Checks ranges and combinations of keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| Err(ConfigError { key: key.into(), message });
        if !(self.threshold_multiplier.is_finite() && self.threshold_multiplier > 0.0) {
            return bad("threshold_multiplier", format!("must be a number > 0, got {}", self.threshold_multiplier));
        }
        if self.min_events < 2 {
            return bad("min_events", format!("must be at least 2 (a deviation needs two events), got {}", self.min_events));
        }
        if !(self.half_life_events.is_finite() && self.half_life_events >= 1.0) {
            return bad("half_life_events", format!("must be a number >= 1, got {}", self.half_life_events));
        }
        if !(self.min_stddev.is_finite() && self.min_stddev >= 0.0) {
            return bad("min_stddev", format!("must be a number >= 0, got {}", self.min_stddev));
        }
        if !(self.burst_window_secs.is_finite() && self.burst_window_secs > 0.0) {
            return bad("burst_window_secs", format!("must be a number of seconds > 0, got {}", self.burst_window_secs));
        }
        let max_burst = VELOCITY_RING as u32 + 1;
        if !(2..=max_burst).contains(&self.burst_min_events) {
            return bad("burst_min_events", format!("must be between 2 and {max_burst}, got {}", self.burst_min_events));
        }
        if self.key_field.is_empty() || self.key_field.iter().any(|k| k.is_empty()) {
            return bad("key_field", "must name at least one field (comma-separated for a composite key)".into());
        }
        if self.value_field.is_empty() {
            return bad("value_field", "must name the numeric field to score".into());
        }
        if self.velocity && self.timestamp_field.is_empty() {
            return bad("velocity", "needs timestamps: set timestamp_field, or set velocity = false".into());
        }
        if self.log_transform && self.allow_negative && self.detector != DetectorKind::Adaptive {
            return bad(
                "allow_negative",
                "cannot be combined with log_transform = true for zscore and ewma (log needs values >= 0); the adaptive detector allows it and scores a key in its own scale once it sees a negative value".into(),
            );
        }
        if self.max_record_bytes == 0 || self.max_record_bytes > MAX_RECORD_BYTES_LIMIT {
            return bad("max_record_bytes", format!("must be between 1 and {MAX_RECORD_BYTES_LIMIT}, got {}", self.max_record_bytes));
        }
        if self.key_field.len() > MAX_KEY_FIELDS {
            return bad("key_field", format!("names {} fields; a composite key has at most {MAX_KEY_FIELDS}", self.key_field.len()));
        }
        if self.attribute_fields.len() > MAX_ATTRIBUTE_FIELDS {
            return bad(
                "attribute_fields",
                format!("names {} fields; at most {MAX_ATTRIBUTE_FIELDS} are copied into verdicts", self.attribute_fields.len()),
            );
        }
        let names = [
            ("key_field", &self.key_field[..]),
            ("value_field", std::slice::from_ref(&self.value_field)),
            ("timestamp_field", std::slice::from_ref(&self.timestamp_field)),
            ("event_id_field", std::slice::from_ref(&self.event_id_field)),
            ("label_field", std::slice::from_ref(&self.label_field)),
            ("attribute_fields", &self.attribute_fields[..]),
        ];
        for (key, fields) in names {
            if let Some(long) = fields.iter().find(|f| f.len() > MAX_FIELD_NAME_BYTES) {
                return bad(key, format!("field name of {} bytes; names are limited to {MAX_FIELD_NAME_BYTES} bytes", long.len()));
            }
        }
        let mut named: Vec<&str> = self.key_field.iter().map(String::as_str).collect();
        named.extend([self.value_field.as_str(), self.timestamp_field.as_str(), self.event_id_field.as_str(), self.label_field.as_str()]);
        named.retain(|n| !n.is_empty());
        for (i, a) in named.iter().enumerate() {
            if named[i + 1..].contains(a) {
                return bad(
                    "key_field",
                    format!("field `{a}` is mapped twice; each of key, value, timestamp, event id and label needs its own field"),
                );
            }
        }
        Ok(())
    }

    /// The configuration as a flat JSON object, in the form [`Config::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_map()).expect("config serialises")
    }

    /// The configuration as a flat map of keys to JSON values (lists joined by commas).
    pub fn to_map(&self) -> Map<String, Value> {
        let Value::Object(mut map) = serde_json::to_value(self).expect("config serialises") else { unreachable!() };
        for key in ["key_field", "attribute_fields"] {
            if let Some(Value::Array(items)) = map.get(key) {
                let joined = items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",");
                map.insert(key.into(), Value::String(joined));
            }
        }
        map
    }

    /// The key as written in events, for messages: `userId`, or `host+metric` for composite keys.
    pub fn key_name(&self) -> String {
        self.key_field.join("+")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn number(value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    n.filter(|n| n.is_finite()).ok_or_else(|| format!("expected a number, got {} ({value})", type_name(value)))
}

fn integer(value: &Value) -> Result<u32, String> {
    let n = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("expected a whole number from 0 to {}, got {} ({value})", u32::MAX, type_name(value)))
}

fn boolean(value: &Value) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(format!("expected true or false, got {} ({value})", type_name(value))),
    }
}

fn string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.trim().to_string()),
        _ => Err(format!("expected a string, got {} ({value})", type_name(value))),
    }
}

fn list(value: &Value) -> Result<Vec<String>, String> {
    let items: Vec<String> = match value {
        Value::String(s) => s.split(',').map(|p| p.trim().to_string()).collect(),
        Value::Array(items) => items.iter().map(string).collect::<Result<_, _>>()?,
        _ => {
            return Err(format!("expected a comma-separated string or a list of strings, got {} ({value})", type_name(value)));
        }
    };
    Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
}

fn enum_value<T: Copy>(value: &Value, choices: &[(&str, T)]) -> Result<T, String> {
    let names = || choices.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
    let Value::String(s) = value else {
        return Err(format!("expected one of {}, got {} ({value})", names(), type_name(value)));
    };
    let wanted = s.trim().to_ascii_lowercase();
    choices.iter().find(|(n, _)| *n == wanted).map(|(_, v)| *v).ok_or_else(|| format!("expected one of {}, got \"{s}\"", names()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_brief() {
        let c = Config::default();
        assert_eq!(c.threshold_multiplier, 3.0);
        assert_eq!(c.key_field, vec!["userId"]);
        assert_eq!(c.value_field, "amount");
        assert_eq!(c.timestamp_field, "timestamp");
        assert_eq!(c.event_id_field, "transactionId");
        c.validate().unwrap();
    }

    #[test]
    fn string_values_from_flink_property_maps_are_accepted() {
        let c = Config::from_json(
            br#"{"threshold_multiplier":"2.5","min_events":"20","velocity":"false","detector":"EWMA","key_field":"host, metric"}"#,
        )
        .unwrap();
        assert_eq!(c.threshold_multiplier, 2.5);
        assert_eq!(c.min_events, 20);
        assert!(!c.velocity);
        assert_eq!(c.detector, DetectorKind::Ewma);
        assert_eq!(c.key_field, vec!["host", "metric"]);
    }

    #[test]
    fn round_trips_through_json() {
        let c = Config { detector: DetectorKind::Ewma, key_field: vec!["a".into(), "b".into()], ..Config::default() };
        assert_eq!(Config::from_json(c.to_json().as_bytes()).unwrap(), c);
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let e = Config::from_json(br#"{"threshold_multiplier": -1}"#).unwrap_err();
        assert_eq!(e.key, "threshold_multiplier");
        assert!(e.to_string().contains("> 0"), "{e}");
        let e = Config::from_json(br#"{"treshold_multiplier": 2}"#).unwrap_err();
        assert!(e.to_string().contains("unknown key") && e.to_string().contains("threshold_multiplier"), "{e}");
        let e = Config::from_map(json!({"direction": "up"}).as_object().unwrap()).unwrap_err();
        assert!(e.to_string().contains("high, low, both"), "{e}");
        let e = Config::from_map(json!({"value_field": "userId"}).as_object().unwrap()).unwrap_err();
        assert!(e.message.contains("mapped twice"), "{e}");
        let e = Config::from_map(json!({"burst_min_events": 20}).as_object().unwrap()).unwrap_err();
        assert!(e.message.contains("between 2 and 9"), "{e}");
    }
}
