//! The playground's front for the kernel: the same `detector-wasm` crate, compiled with a wasm-bindgen binding
//! layer. A stream is replayed by the engine `packager run` uses ([`detector_wasm::replay`], with the kernel compiled
//! in and driven through its own ABI), so verdicts, counts and precision/recall are `packager run`'s; a synthetic
//! stream comes from the generator `packager generate` uses ([`detector_wasm::generate`]).
//!
//! Every entry point takes and returns JSON text, so the page needs no generated types, and none of them panics
//! on any input: bad configuration and bad rows come back as data for the page to show.

pub mod csv;
pub mod export;
pub mod replay;

#[cfg(target_arch = "wasm32")]
mod bindings;

use detector_wasm::Config;

/// `replay` for the page: the [`replay::Replayed`] JSON, or `{"error": …}`.
pub fn replay_json(config_json: &str, input: &str, format: &str) -> String {
    let answer = match replay::replay(config_json, input, format) {
        Ok(replayed) => serde_json::to_string(&replayed),
        Err(refused) => serde_json::to_string(&refused),
    };
    answer.unwrap_or_else(|e| serde_json::json!({ "error": format!("cannot encode the result: {e}") }).to_string())
}

/// `export` for the page: `{"toml", "terraform"}` for the config JSON, or `{"error": …}`.
pub fn export_json(config_json: &str) -> String {
    match Config::from_json(config_json.as_bytes()) {
        Ok(config) => serde_json::to_string(&export::export(&config)).unwrap_or_default(),
        Err(e) => serde_json::json!({ "error": e.to_string() }).to_string(),
    }
}

/// `generate` for the page: the labeled transaction stream for the options JSON (`{"seed", "users", "events", …}`,
/// as `detector_wasm::generate::transactions::Options`), as JSON lines, or `{"error": …}`.
pub fn generate_json(options_json: &str) -> String {
    use detector_wasm::generate::transactions;
    let lines = serde_json::from_str::<transactions::Options>(options_json)
        .map_err(|e| format!("generator options: {e}"))
        .and_then(|options| transactions::lines(&options, true));
    match lines {
        Ok(lines) => lines.into_iter().map(|l| l + "\n").collect(),
        Err(error) => serde_json::json!({ "error": error }).to_string(),
    }
}

/// The kernel's defaults as flat config JSON, so the page's controls start where `packager run` starts.
pub fn defaults_json() -> String {
    Config::default().to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../../packager/data/sample-transactions.jsonl");

    #[test]
    fn the_bundled_sample_replays_with_labels_scored() {
        let r = replay::replay("{}", SAMPLE, "auto").map_err(|e| e.error).unwrap();
        assert_eq!(r.format, "jsonl");
        assert_eq!(r.totals.events, 4000);
        assert_eq!(r.events.line.len(), 4000);
        assert_eq!(r.anomalies.len() as u64, r.totals.anomalies);
        let labels = r.labels.as_ref().unwrap();
        assert_eq!(labels.true_positives + labels.false_positives, r.totals.anomalies);
        assert_eq!(labels.false_negatives, r.misses.len() as u64);
        assert!(r.anomalies.iter().all(|a| a.anomaly_id.starts_with("an-") && !a.reason.is_empty()));
    }

    #[test]
    fn a_lower_threshold_flags_more() {
        let at = |k: f64| replay::replay(&format!(r#"{{"threshold_multiplier":{k}}}"#), SAMPLE, "jsonl").map_err(|e| e.error).unwrap();
        assert!(at(2.0).totals.anomalies > at(4.0).totals.anomalies);
    }

    #[test]
    fn malformed_lines_are_listed_with_line_numbers_and_the_rest_is_scored() {
        let input = "{\"userId\":\"u\",\"amount\":5,\"timestamp\":1767225600000}\n\n{broken\n{\"userId\":\"u\",\"amount\":\"x\",\"timestamp\":1767225600000}\n";
        let r = replay::replay("{}", input, "auto").map_err(|e| e.error).unwrap();
        assert_eq!(r.totals.events, 1);
        let lines: Vec<u64> = r.invalid.iter().map(|i| i.line).collect();
        assert_eq!(lines, [3, 4]);
        assert_eq!(r.invalid[1].field.as_deref(), Some("amount"));
    }

    #[test]
    fn csv_and_json_lines_of_the_same_events_give_the_same_verdicts() {
        let mut csv = String::from("userId,amount,timestamp,transactionId,merchantId,label\n");
        for line in SAMPLE.lines().take(1500) {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            csv.push_str(&format!(
                "{},{},{},{},{},{}\n",
                e["userId"].as_str().unwrap(),
                e["amount"],
                e["timestamp"],
                e["transactionId"].as_str().unwrap(),
                e["merchantId"].as_str().unwrap(),
                e["label"].as_str().unwrap()
            ));
        }
        let jsonl: String = SAMPLE.lines().take(1500).map(|l| format!("{l}\n")).collect();
        let a = replay::replay("{}", &jsonl, "auto").map_err(|e| e.error).unwrap();
        let b = replay::replay("{}", &csv, "auto").map_err(|e| e.error).unwrap();
        assert_eq!(b.format, "csv");
        assert_eq!(a.totals.events, b.totals.events);
        let ids = |r: &replay::Replayed| r.anomalies.iter().map(|x| x.anomaly_id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert!(!ids(&a).is_empty());
    }

    #[test]
    fn the_generator_is_packager_generates() {
        let page = generate_json(r#"{"seed":42,"users":60,"events":4000}"#);
        assert_eq!(page, SAMPLE, "the bundled sample is `packager generate --seed 42 --users 60 --events 4000`");
        let r: serde_json::Value = serde_json::from_str(&generate_json(r#"{"users":0}"#)).unwrap();
        assert!(r["error"].as_str().unwrap().contains("--users"), "{r}");
        let r: serde_json::Value = serde_json::from_str(&generate_json(r#"{"usres":3}"#)).unwrap();
        assert!(r["error"].as_str().unwrap().contains("usres"), "{r}");
    }

    #[test]
    fn bad_configuration_and_formats_come_back_as_errors_not_panics() {
        let r: serde_json::Value = serde_json::from_str(&replay_json(r#"{"threshold_multiplier":-1}"#, SAMPLE, "auto")).unwrap();
        assert!(r["error"].as_str().unwrap().contains("threshold_multiplier"), "{r}");
        let r: serde_json::Value = serde_json::from_str(&replay_json("{}", SAMPLE, "xml")).unwrap();
        assert!(r["error"].as_str().unwrap().contains("jsonl, csv or auto"), "{r}");
        let r: serde_json::Value = serde_json::from_str(&export_json("not json")).unwrap();
        assert!(r["error"].is_string());
        assert_eq!(Config::from_json(defaults_json().as_bytes()).unwrap(), Config::default());
    }
}
