//! The README's configuration table is the user's reference: it must list every key, in the code's order, with the
//! default the code really uses.

use detector_wasm::Config;
use detector_wasm::config::KEYS;
use serde_json::Value;

#[test]
fn readme_config_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let table = readme.split("<!-- keys:begin").nth(1).unwrap().split("<!-- keys:end").next().unwrap();
    let rows: Vec<(String, String)> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells[1].trim_matches('`').to_string(), cells[2].trim_matches('`').to_string())
        })
        .collect();
    let keys: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, KEYS, "README table keys differ from config::KEYS");
    let defaults = Config::default().to_map();
    for (key, documented) in &rows {
        let actual = match &defaults[key.as_str()] {
            Value::String(s) => s.clone(),
            Value::Number(n) if n.is_f64() && n.as_f64().unwrap().fract() == 0.0 => format!("{:.1}", n.as_f64().unwrap()),
            other => other.to_string(),
        };
        assert_eq!(documented, &actual, "README default for `{key}`");
    }
}
