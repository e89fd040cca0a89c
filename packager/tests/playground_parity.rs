//! The playground's replay (detector-web, the kernel crate behind wasm-bindgen; here built natively) and
//! `packager run` (the same crate as a `.wasm` under wasmtime) flag exactly the same events for the same settings,
//! with the same scores up to the last bits native and wasm floating point may differ in.

use assert_cmd::Command;

#[test]
fn playground_replay_flags_exactly_what_packager_run_flags() {
    let sample = std::str::from_utf8(packager::sample::SAMPLE).unwrap();
    for (flags, config) in [
        (vec![], "{}"),
        (vec!["--threshold-multiplier", "2.2", "--min-events", "5"], r#"{"threshold_multiplier":2.2,"min_events":5}"#),
        (
            vec!["--detector", "ewma", "--direction", "both", "--velocity", "false"],
            r#"{"detector":"ewma","direction":"both","velocity":false}"#,
        ),
    ] {
        let out =
            Command::cargo_bin("packager").unwrap().env_clear().current_dir(std::env::temp_dir()).arg("run").args(&flags).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let from_packager: Vec<(String, Option<f64>)> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<detector_wasm::Verdict>(l).unwrap())
            .map(|v| (v.anomaly_id, v.score))
            .collect();
        let page = detector_web::replay::replay(config, sample, "auto").map_err(|e| e.error).unwrap();
        let from_page: Vec<(String, Option<f64>)> = page.anomalies.into_iter().map(|a| (a.anomaly_id, a.score)).collect();
        assert!(!from_page.is_empty());
        let ids = |v: &[(String, Option<f64>)]| v.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&from_page), ids(&from_packager), "settings {flags:?}");
        for ((id, a), (_, b)) in from_page.iter().zip(&from_packager) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!((a - b).abs() <= 1e-12 * a.abs().max(1.0), "{id}: score {a} vs {b} with {flags:?}");
        }
    }
}
