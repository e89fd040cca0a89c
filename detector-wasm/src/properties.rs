//! The Flink job's runtime properties: Managed Flink property groups (`[{"PropertyGroupId", "PropertyMap"}]`, every
//! value a string), the groups and keys job-template/README.md documents. One builder for everything that writes them:
//! `packager run --flink` (file connectors, the detector group with `emit`), `packager deploy` (Kinesis connectors,
//! the detector group without `emit`: the job decides what it emits) and the playground's Terraform export (the
//! detector group's values, as `detector_properties`).

use crate::config::Config;
use serde_json::Value;
use std::collections::BTreeMap;

/// The group the job reads its source from.
pub const SOURCE: &str = "source";
/// The group of the anomalies sink.
pub const ANOMALIES: &str = "anomalies";
/// The group of the dead-letters sink.
pub const DEAD_LETTERS: &str = "dead_letters";
/// The kernel's configuration keys.
pub const DETECTOR: &str = "detector";
/// The job's own settings (`state_ttl_hours`, `parallelism` …).
pub const JOB: &str = "job";
/// SQL the job runs instead of its fixed pipeline (key `statement`; Flink 2.2: the `ANOMALY_DETECT` function).
pub const SQL: &str = "sql";

/// One group's keys and values, keys sorted.
pub type PropertyMap = BTreeMap<String, String>;

/// Property groups in the order they were added (the order a properties file lists them in).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyGroups(Vec<(String, PropertyMap)>);

impl PropertyGroups {
    /// No groups yet.
    pub fn new() -> PropertyGroups {
        PropertyGroups::default()
    }

    /// Sets `key` of `group` (added at the end when new).
    pub fn set(mut self, group: &str, key: &str, value: impl Into<String>) -> PropertyGroups {
        self.group(group).insert(key.to_string(), value.into());
        self
    }

    /// `group` on the `file` connector at `path` (a source file or directory, or a sink's directory).
    pub fn file(self, group: &str, path: &str) -> PropertyGroups {
        self.set(group, "connector", "file").set(group, "path", path)
    }

    /// `group` on the Kinesis connector for `stream_arn` in `region`, raw bytes, with `extra` connector options; empty
    /// values are left out.
    pub fn kinesis(mut self, group: &str, stream_arn: &str, region: &str, extra: &[(&str, &str)]) -> PropertyGroups {
        let options = [("connector", "kinesis"), ("stream.arn", stream_arn), ("aws.region", region), ("format", "raw")];
        let map = self.group(group);
        for (key, value) in options.iter().chain(extra) {
            if !value.is_empty() {
                map.insert(key.to_string(), value.to_string());
            }
        }
        self
    }

    /// The `detector` group: every kernel key of `config` as text, `emit` only when `with_emit`.
    pub fn detector(mut self, config: &Config, with_emit: bool) -> PropertyGroups {
        let map = self.group(DETECTOR);
        map.extend(detector_properties(config).into_iter().filter(|(key, _)| with_emit || key != "emit"));
        self
    }

    /// The groups by id.
    pub fn into_map(self) -> BTreeMap<String, PropertyMap> {
        self.0.into_iter().collect()
    }

    /// The properties file the job reads (`--properties FILE`, or Managed Flink's own).
    pub fn to_json(&self) -> Value {
        Value::Array(self.0.iter().map(|(id, map)| serde_json::json!({ "PropertyGroupId": id, "PropertyMap": map })).collect())
    }

    fn group(&mut self, id: &str) -> &mut PropertyMap {
        let at = match self.0.iter().position(|(g, _)| g == id) {
            Some(at) => at,
            None => {
                self.0.push((id.to_string(), PropertyMap::new()));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }
}

/// Every kernel key of `config` as the text a property map holds (the kernel reads numbers and booleans from text).
pub fn detector_properties(config: &Config) -> PropertyMap {
    config.to_map().into_iter().filter(|(_, v)| !v.is_null()).map(|(key, value)| (key, property_text(value))).collect()
}

/// A configuration value as property text: strings as they are, numbers and booleans as JSON writes them.
pub fn property_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_values_are_text_the_kernel_reads_back() {
        let config = Config { threshold_multiplier: 2.5, velocity: false, ..Config::default() };
        let groups = PropertyGroups::new().detector(&config, true).into_map();
        let as_json: serde_json::Map<String, Value> = groups[DETECTOR].iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect();
        assert_eq!(Config::from_map(&as_json).unwrap(), config);
        assert_eq!(groups[DETECTOR]["threshold_multiplier"], "2.5");
        assert_eq!(groups[DETECTOR]["velocity"], "false");
        assert!(!PropertyGroups::new().detector(&config, false).into_map()[DETECTOR].contains_key("emit"));
    }

    #[test]
    fn groups_keep_their_order_and_kinesis_leaves_empty_values_out() {
        let groups = PropertyGroups::new()
            .file(SOURCE, "/in")
            .kinesis(ANOMALIES, "arn:s", "eu-west-1", &[("source.init.position", "")])
            .set(JOB, "parallelism", "1");
        let json = groups.to_json();
        let ids: Vec<&str> = json.as_array().unwrap().iter().map(|g| g["PropertyGroupId"].as_str().unwrap()).collect();
        assert_eq!(ids, [SOURCE, ANOMALIES, JOB]);
        assert_eq!(json[0]["PropertyMap"]["connector"], "file");
        let anomalies = &groups.into_map()[ANOMALIES];
        assert_eq!(anomalies.keys().collect::<Vec<_>>(), ["aws.region", "connector", "format", "stream.arn"]);
    }
}
