//! `terraform output -json` of infra/terraform, which fills deploy's and send's settings (streams, bucket, region …)
//! and, through `flink_deploy_defaults`, what the stack's variables make of the settings deploy owns.

use super::error::AwsError;
use std::collections::BTreeMap;
use std::path::Path;

/// The values `terraform output -json` gives deploy and send: its string outputs, and `flink_deploy_defaults`.
#[derive(Debug, Clone, Default)]
pub struct TerraformOutputs {
    strings: BTreeMap<String, String>,
    /// What the stack's variables make of the settings deploy owns after Terraform created the application.
    pub defaults: DeployDefaults,
}

/// Output `flink_deploy_defaults`: Terraform creates the application with these and then leaves them to deploy,
/// which writes them unless a flag or an environment variable says otherwise (infra/terraform/README.md).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct DeployDefaults {
    pub parallelism: Option<i32>,
    pub parallelism_per_kpu: Option<i32>,
    pub auto_scaling: Option<bool>,
    pub checkpoint_interval_ms: Option<i64>,
    #[serde(default)]
    pub property_groups: BTreeMap<String, BTreeMap<String, String>>,
}

impl DeployDefaults {
    /// Key `key` of property group `group`, when the stack sets it.
    pub fn property(&self, group: &str, key: &str) -> Option<String> {
        self.property_groups.get(group).and_then(|g| g.get(key)).cloned()
    }
}

impl TerraformOutputs {
    /// Reads `terraform output -json` (`{"name": {"value": …}}`) or a plain `{"name": "value"}` object.
    pub fn read(path: &Path) -> Result<TerraformOutputs, AwsError> {
        let err = |message: String| AwsError::TerraformOutputs { path: path.into(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| err("expected a JSON object of outputs".into()))?;
        let mut strings = BTreeMap::new();
        let mut defaults = DeployDefaults::default();
        for (name, entry) in object {
            let value = entry.get("value").unwrap_or(entry);
            if let Some(s) = value.as_str() {
                strings.insert(name.clone(), s.to_string());
            } else if name == "flink_deploy_defaults" {
                defaults = serde_json::from_value(value.clone()).map_err(|e| err(format!("output flink_deploy_defaults: {e}")))?;
            }
        }
        Ok(TerraformOutputs { strings, defaults })
    }

    /// The string value of output `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.strings.get(name).cloned()
    }
}
