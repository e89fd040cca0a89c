//! Configuration layering: flags > `PACKAGER_*` environment variables > `packager.toml` > built-in defaults.
//!
//! Flags and environment variables are resolved by clap (every flag names its variable); `packager.toml` fills what
//! they leave unset; the kernel fills the rest with its defaults. Detector keys are the kernel's own keys
//! (`detector_wasm::config::KEYS`), so the same names work in flags (dashes), the `[detector]` table, the Flink
//! `detector` property group and the playground.

use clap::Args;
use detector_wasm::Config;
use miette::Diagnostic;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A configuration every command reads that cannot be used: packager.toml, or the detector keys.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    #[diagnostic(code(packager::config_file), help("packager.toml holds a [detector] table of kernel keys; see `packager run --help`"))]
    ConfigFile { path: PathBuf, message: String },

    #[error("{0}")]
    #[diagnostic(
        code(packager::detector_config),
        help(
            "set detector keys with flags (`--threshold-multiplier 3.0`), PACKAGER_* variables, or the [detector] table of packager.toml"
        )
    )]
    DetectorConfig(detector_wasm::config::ConfigError),

    #[error("invalid --set `{0}`: expected KEY=VALUE, e.g. --set min_stddev=0.1")]
    #[diagnostic(code(packager::set))]
    SetSyntax(String),
}

impl ConfigError {
    /// A table of packager.toml (`packager.toml [run]`) that does not fit its command's flags.
    pub fn table(table: &str, e: &toml::de::Error) -> ConfigError {
        ConfigError::ConfigFile { path: format!("packager.toml [{table}]").into(), message: e.to_string() }
    }
}

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// `packager.toml`, every table optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Kernel keys, as in the Flink `detector` property group.
    #[serde(default)]
    pub detector: toml::Table,
    /// Defaults for `packager run`.
    #[serde(default)]
    pub run: toml::Table,
    /// Defaults for `packager build`.
    #[serde(default)]
    pub build: toml::Table,
    /// Defaults for `packager deploy`.
    #[serde(default)]
    pub deploy: toml::Table,
    /// Defaults for `packager send`.
    #[serde(default)]
    pub send: toml::Table,
}

impl FileConfig {
    /// Reads `path`, or `./packager.toml` when no path is given and that file exists.
    pub fn load(path: Option<&Path>) -> Result<FileConfig> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("packager.toml"), false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConfig::default()),
            Err(e) => return Err(ConfigError::ConfigFile { path, message: e.to_string() }),
        };
        toml::from_str(&text).map_err(|e| ConfigError::ConfigFile { path, message: e.to_string() })
    }
}

/// Detector keys as flags. Every field mirrors a kernel config key of the same name.
#[derive(Debug, Clone, Default, Args)]
pub struct DetectorFlags {
    /// Value model: `adaptive` (money and metrics alike), `zscore` (whole history) or `ewma` (follows drift) [default: adaptive]
    #[arg(long, env = "PACKAGER_DETECTOR", help_heading = "Detector")]
    pub detector: Option<String>,
    /// Standard deviations from the baseline that make an anomaly (the brief's anomaly_threshold_multiplier) [default: 3.0]
    #[arg(long, env = "PACKAGER_THRESHOLD_MULTIPLIER", help_heading = "Detector")]
    pub threshold_multiplier: Option<f64>,
    /// Events a key needs before it is judged [default: 3]
    #[arg(long, env = "PACKAGER_MIN_EVENTS", help_heading = "Detector")]
    pub min_events: Option<u32>,
    /// Which side is anomalous: `high`, `low` or `both` [default: both]
    #[arg(long, env = "PACKAGER_DIRECTION", help_heading = "Detector")]
    pub direction: Option<String>,
    /// Score ln(1 + value), for heavy-tailed values like money [default: true]
    #[arg(long, env = "PACKAGER_LOG_TRANSFORM", value_name = "BOOL", help_heading = "Detector")]
    pub log_transform: Option<bool>,
    /// What an anomalous value teaches the baseline: `skip`, `clip` (to the band edge) or `full` [default: clip]
    #[arg(long, env = "PACKAGER_ANOMALY_UPDATE", help_heading = "Detector")]
    pub anomaly_update: Option<String>,
    /// Half-life of the ewma baseline, in events [default: 50]
    #[arg(long, env = "PACKAGER_HALF_LIFE_EVENTS", help_heading = "Detector")]
    pub half_life_events: Option<f64>,
    /// Floor on the baseline's standard deviation, in model units [default: 0.05]
    #[arg(long, env = "PACKAGER_MIN_STDDEV", help_heading = "Detector")]
    pub min_stddev: Option<f64>,
    /// Also flag bursts: too many events of one key within burst_window_secs [default: true]
    #[arg(long, env = "PACKAGER_VELOCITY", value_name = "BOOL", help_heading = "Detector")]
    pub velocity: Option<bool>,
    /// Burst window, seconds [default: 300]
    #[arg(long, env = "PACKAGER_BURST_WINDOW_SECS", help_heading = "Detector")]
    pub burst_window_secs: Option<f64>,
    /// Events within the window, this one included, before a burst can be flagged (2..=9) [default: 5]
    #[arg(long, env = "PACKAGER_BURST_MIN_EVENTS", help_heading = "Detector")]
    pub burst_min_events: Option<u32>,
    /// With log_transform: a key with fewer events is also judged against the stream's own values; 0 = off [default: 30]
    #[arg(long, env = "PACKAGER_POPULATION_EVENTS", help_heading = "Detector")]
    pub population_events: Option<u32>,
    /// Field(s) holding the key; comma-separated for a composite key [default: userId]
    #[arg(long, env = "PACKAGER_KEY_FIELD", help_heading = "Event fields")]
    pub key_field: Option<String>,
    /// Numeric field to score [default: amount]
    #[arg(long, env = "PACKAGER_VALUE_FIELD", help_heading = "Event fields")]
    pub value_field: Option<String>,
    /// Event-time field (ms since 1970, or RFC 3339); empty for none [default: timestamp]
    #[arg(long, env = "PACKAGER_TIMESTAMP_FIELD", help_heading = "Event fields")]
    pub timestamp_field: Option<String>,
    /// Unit of numeric timestamps: `ms` or `s` [default: ms]
    #[arg(long, env = "PACKAGER_TIMESTAMP_UNIT", help_heading = "Event fields")]
    pub timestamp_unit: Option<String>,
    /// Field with the event id the anomaly id derives from [default: transactionId]
    #[arg(long, env = "PACKAGER_EVENT_ID_FIELD", help_heading = "Event fields")]
    pub event_id_field: Option<String>,
    /// Field with ground-truth labels, for precision/recall [default: label]
    #[arg(long, env = "PACKAGER_LABEL_FIELD", help_heading = "Event fields")]
    pub label_field: Option<String>,
    /// Fields copied into verdicts, comma-separated [default: merchantId]
    #[arg(long, env = "PACKAGER_ATTRIBUTE_FIELDS", help_heading = "Event fields")]
    pub attribute_fields: Option<String>,
    /// Accept negative values (needs --log-transform false) [default: false]
    #[arg(long, env = "PACKAGER_ALLOW_NEGATIVE", value_name = "BOOL", help_heading = "Event fields")]
    pub allow_negative: Option<bool>,
    /// Largest record accepted, bytes [default: 1048576]
    #[arg(long, env = "PACKAGER_MAX_RECORD_BYTES", help_heading = "Event fields")]
    pub max_record_bytes: Option<u32>,
    /// Any kernel key as KEY=VALUE (repeatable); overrides the flags above
    #[arg(long = "set", value_name = "KEY=VALUE", help_heading = "Detector")]
    pub set: Vec<String>,
}

impl DetectorFlags {
    /// The keys set by flags or environment, as kernel config values.
    pub fn to_map(&self) -> Result<Map<String, Value>> {
        let mut map = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(v) = value {
                map.insert(key.to_string(), v);
            }
        };
        put("detector", self.detector.clone().map(Value::from));
        put("threshold_multiplier", self.threshold_multiplier.map(Value::from));
        put("min_events", self.min_events.map(Value::from));
        put("direction", self.direction.clone().map(Value::from));
        put("log_transform", self.log_transform.map(Value::from));
        put("anomaly_update", self.anomaly_update.clone().map(Value::from));
        put("half_life_events", self.half_life_events.map(Value::from));
        put("min_stddev", self.min_stddev.map(Value::from));
        put("velocity", self.velocity.map(Value::from));
        put("burst_window_secs", self.burst_window_secs.map(Value::from));
        put("burst_min_events", self.burst_min_events.map(Value::from));
        put("population_events", self.population_events.map(Value::from));
        put("key_field", self.key_field.clone().map(Value::from));
        put("value_field", self.value_field.clone().map(Value::from));
        put("timestamp_field", self.timestamp_field.clone().map(Value::from));
        put("timestamp_unit", self.timestamp_unit.clone().map(Value::from));
        put("event_id_field", self.event_id_field.clone().map(Value::from));
        put("label_field", self.label_field.clone().map(Value::from));
        put("attribute_fields", self.attribute_fields.clone().map(Value::from));
        put("allow_negative", self.allow_negative.map(Value::from));
        put("max_record_bytes", self.max_record_bytes.map(Value::from));
        for pair in &self.set {
            let (key, value) = pair.split_once('=').ok_or_else(|| ConfigError::SetSyntax(pair.clone()))?;
            map.insert(key.trim().to_string(), Value::String(value.trim().to_string()));
        }
        Ok(map)
    }
}

/// Resolves the kernel configuration: flags and environment over the file's `[detector]` table over defaults.
pub fn resolve_detector(flags: &DetectorFlags, file: &FileConfig) -> Result<Config> {
    let mut map = toml_to_json(&file.detector);
    map.extend(flags.to_map()?);
    Config::from_map(&map).map_err(ConfigError::DetectorConfig)
}

/// A TOML table as a JSON object (TOML values map one-to-one onto the kernel's accepted JSON values).
pub fn toml_to_json(table: &toml::Table) -> Map<String, Value> {
    match serde_json::to_value(table) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kernel_key_but_emit_has_a_flag() {
        // Fill every flag, then check the map names every kernel key: adding a kernel key without a flag fails here.
        let flags = DetectorFlags {
            detector: Some("ewma".into()),
            threshold_multiplier: Some(2.0),
            min_events: Some(5),
            direction: Some("both".into()),
            log_transform: Some(false),
            anomaly_update: Some("skip".into()),
            half_life_events: Some(10.0),
            min_stddev: Some(0.1),
            velocity: Some(false),
            burst_window_secs: Some(60.0),
            burst_min_events: Some(3),
            population_events: Some(0),
            key_field: Some("host".into()),
            value_field: Some("v".into()),
            timestamp_field: Some("ts".into()),
            timestamp_unit: Some("s".into()),
            event_id_field: Some("id".into()),
            label_field: Some("l".into()),
            attribute_fields: Some("a".into()),
            allow_negative: Some(true),
            max_record_bytes: Some(100),
            set: vec![],
        };
        let map = flags.to_map().unwrap();
        for key in detector_wasm::config::KEYS.iter().filter(|k| **k != "emit") {
            assert!(map.contains_key(*key), "no flag for kernel key {key}");
        }
        let config = Config::from_map(&map).unwrap();
        assert_eq!(config.timestamp_field, "ts");
    }

    #[test]
    fn every_flags_documented_default_is_the_kernels() {
        // `--help` shows "[default: X]" written by hand (the flags are options: unset means the kernel's default), so
        // a kernel default that changes must change here too.
        use clap::{Args as _, Command};
        let defaults = Config::default().to_map();
        let command = DetectorFlags::augment_args(Command::new("flags"));
        let mut checked = 0;
        for arg in command.get_arguments() {
            let key = arg.get_id().as_str().to_string();
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let Some(documented) = help.split("[default: ").nth(1).and_then(|rest| rest.split(']').next()) else {
                continue;
            };
            let actual = defaults.get(&key).unwrap_or_else(|| panic!("flag {key} is not a kernel key"));
            let same = match (documented.parse::<f64>(), actual) {
                (Ok(d), Value::Number(n)) => Some(d) == n.as_f64(),
                (_, Value::String(s)) => documented == s,
                (_, Value::Bool(b)) => documented.parse::<bool>() == Ok(*b),
                _ => false,
            };
            assert!(same, "--{key} documents [default: {documented}], the kernel's default is {actual}");
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} flags document a default");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file: FileConfig = toml::from_str("[detector]\nthreshold_multiplier = 2.5\nmin_events = 20\n").unwrap();
        let flags = DetectorFlags { min_events: Some(30), ..Default::default() };
        let config = resolve_detector(&flags, &file).unwrap();
        assert_eq!(config.threshold_multiplier, 2.5);
        assert_eq!(config.min_events, 30);
        assert_eq!(config.value_field, "amount");
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused_by_name() {
        let file: FileConfig = toml::from_str("[detector]\ntreshold_multiplier = 2.5\n").unwrap();
        let err = resolve_detector(&DetectorFlags::default(), &file).unwrap_err();
        assert!(err.to_string().contains("treshold_multiplier"), "{err}");
        assert!(toml::from_str::<FileConfig>("[detectr]\n").is_err());
    }

    #[test]
    fn set_overrides_any_key() {
        let flags = DetectorFlags { set: vec!["min_stddev=0.2".into()], ..Default::default() };
        assert_eq!(resolve_detector(&flags, &FileConfig::default()).unwrap().min_stddev, 0.2);
        let flags = DetectorFlags { set: vec!["nonsense".into()], ..Default::default() };
        assert!(matches!(resolve_detector(&flags, &FileConfig::default()), Err(ConfigError::SetSyntax(_))));
    }
}
