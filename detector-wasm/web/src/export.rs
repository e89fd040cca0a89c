//! The chosen settings as the snippets that deploy them: the `[detector]` table of `packager.toml` and the
//! Terraform variables of `infra/terraform` (`detector`, `anomaly_threshold_multiplier`, `min_events`, and the
//! other keys in `detector_properties`, whose values are strings).

use detector_wasm::Config;
use detector_wasm::properties::property_text;
use serde::Serialize;
use serde_json::Value;

/// Both snippets.
#[derive(Debug, Serialize)]
pub struct Exported {
    pub toml: String,
    pub terraform: String,
}

/// Keys that have their own Terraform variable.
const OWN_VARIABLES: [(&str, &str); 3] =
    [("detector", "detector"), ("threshold_multiplier", "anomaly_threshold_multiplier"), ("min_events", "min_events")];

/// The snippets for `config`: the three main keys always, every other key when it differs from the default.
/// `emit` is left out: what the job emits is not a tuning choice.
pub fn export(config: &Config) -> Exported {
    let map = config.to_map();
    let defaults = Config::default().to_map();
    let chosen: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, v)| k.as_str() != "emit" && (OWN_VARIABLES.iter().any(|(own, _)| own == k) || defaults.get(*k) != Some(*v)))
        .collect();

    let mut toml = String::from("# packager.toml: the settings chosen in the playground\n[detector]\n");
    for (key, value) in &chosen {
        toml.push_str(&format!("{key} = {}\n", toml_value(value)));
    }

    let mut terraform = String::from("# terraform.tfvars for infra/terraform: the settings chosen in the playground\n");
    let width = OWN_VARIABLES.iter().map(|(_, var)| var.len()).max().unwrap_or(0);
    for (key, var) in OWN_VARIABLES {
        if let Some(value) = map.get(key) {
            terraform.push_str(&format!("{var:<width$} = {}\n", toml_value(value)));
        }
    }
    let properties: Vec<&(&String, &Value)> = chosen.iter().filter(|(k, _)| !OWN_VARIABLES.iter().any(|(own, _)| own == k)).collect();
    if properties.is_empty() {
        terraform.push_str("detector_properties = {}\n");
    } else {
        let width = properties.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        terraform.push_str("detector_properties = {\n");
        for (key, value) in properties {
            // The values the job's `detector` property group holds: text, as `packager deploy` writes them.
            terraform.push_str(&format!("  {key:<width$} = {}\n", Value::String(property_text((*value).clone()))));
        }
        terraform.push_str("}\n");
    }
    Exported { toml, terraform }
}

/// A JSON scalar written as TOML / HCL: numbers and booleans as they are, strings quoted (JSON escapes are valid in
/// both for the characters config values hold).
fn toml_value(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use detector_wasm::config::{DetectorKind, Direction};

    fn chosen() -> Config {
        Config {
            detector: DetectorKind::Ewma,
            threshold_multiplier: 2.5,
            min_events: 20,
            direction: Direction::High,
            log_transform: false,
            allow_negative: true,
            half_life_events: 80.0,
            ..Config::default()
        }
    }

    #[test]
    fn the_toml_snippet_reads_back_as_the_same_config() {
        let exported = export(&chosen());
        let parsed: toml::Table = toml::from_str(&exported.toml).unwrap();
        let table = parsed["detector"].as_table().unwrap();
        let json = serde_json::to_value(table).unwrap();
        let back = Config::from_map(json.as_object().unwrap()).unwrap();
        assert_eq!(back, chosen());
        assert!(!table.contains_key("emit") && !table.contains_key("value_field"), "defaults stay out: {}", exported.toml);
    }

    #[test]
    fn the_terraform_snippet_uses_the_module_variables() {
        let t = export(&chosen()).terraform;
        assert!(t.contains("anomaly_threshold_multiplier = 2.5\n"), "{t}");
        assert!(t.contains("detector                     = \"ewma\"\n"), "{t}");
        assert!(t.contains("min_events                   = 20\n"), "{t}");
        assert!(t.contains("  direction        = \"high\"\n"), "{t}");
        assert!(t.contains("  half_life_events = \"80.0\"\n"), "{t}");
        assert!(t.contains("  log_transform    = \"false\"\n"), "{t}");
        assert!(!t.contains("  threshold_multiplier"), "own variables are not repeated in detector_properties: {t}");
        let defaults = export(&Config::default()).terraform;
        assert!(defaults.contains("detector_properties = {}\n"), "{defaults}");
    }
}
