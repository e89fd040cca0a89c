//! `terraform output -json` of infra/terraform, which fills deploy's and send's settings (streams, bucket, region …).

use super::error::AwsError;
use std::collections::BTreeMap;
use std::path::Path;

/// The values `terraform output -json` gives deploy and send (only string outputs are used).
#[derive(Debug, Clone, Default)]
pub struct TerraformOutputs(BTreeMap<String, String>);

impl TerraformOutputs {
    /// Reads `terraform output -json` (`{"name": {"value": …}}`) or a plain `{"name": "value"}` object.
    pub fn read(path: &Path) -> Result<TerraformOutputs, AwsError> {
        let err = |message: String| AwsError::TerraformOutputs { path: path.into(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        let object = value.as_object().ok_or_else(|| err("expected a JSON object of outputs".into()))?;
        let mut outputs = BTreeMap::new();
        for (name, entry) in object {
            let value = entry.get("value").unwrap_or(entry);
            if let Some(s) = value.as_str() {
                outputs.insert(name.clone(), s.to_string());
            }
        }
        Ok(TerraformOutputs(outputs))
    }

    /// The string value of output `name`.
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}
