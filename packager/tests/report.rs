//! `packager run --report FILE.html` end to end: the page names every anomaly and every label, says when it
//! aggregated, and renders in a real headless Chromium (the screenshot lands in `target/artifacts/`).

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn packager() -> Command {
    let mut cmd = Command::cargo_bin("packager").unwrap();
    cmd.env_clear().current_dir(std::env::temp_dir());
    cmd
}

fn generate(dir: &Path, args: &[&str]) -> PathBuf {
    let file = dir.join("events.jsonl");
    packager().arg("generate").args(args).arg("-o").arg(&file).assert().success();
    file
}

fn artifacts() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn report_names_every_flagged_anomaly_and_every_label_with_scores_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), &["--seed", "11", "--users", "30", "--events", "2500"]);
    let html_path = dir.path().join("report.html");
    let out = packager()
        .args(["run", "--threshold-multiplier", "2.5", "--report-key", "user029", "--report"])
        .arg(&html_path)
        .arg(&events)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let html = std::fs::read_to_string(&html_path).unwrap();

    // Stdout still carries only anomalies (the report does not change what --emit writes), and each one is on the page.
    let flagged: Vec<detector_wasm::Verdict> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(flagged.len() >= 10, "the sample should yield anomalies, got {}", flagged.len());
    for v in &flagged {
        assert_eq!(v.status, detector_wasm::verdict::Status::Anomaly);
        assert!(html.contains(&v.anomaly_id), "anomaly {} ({}) missing from the report", v.anomaly_id, v.event_id);
    }
    assert!(html.contains(&format!("<b>{} anomalies</b>", flagged.len())));

    // Every labeled anomaly in the input is on the page as a hit or a miss, with its kind.
    let mut labeled = 0;
    for line in std::fs::read_to_string(&events).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let label = e["label"].as_str().unwrap();
        if label == "normal" {
            continue;
        }
        labeled += 1;
        let id = e["transactionId"].as_str().unwrap();
        let row = html.split("<tr").find(|r| r.contains(&format!("<td>{id}</td>"))).unwrap_or_else(|| panic!("label of {id} missing"));
        assert!(row.contains(label), "{id}'s row lacks its label {label}: {row}");
        let flagged_here = flagged.iter().any(|v| v.event_id == id);
        assert!(row.contains(if flagged_here { ">hit<" } else { ">miss<" }), "{id}: {row}");
    }
    assert!(labeled > 20, "the generated stream holds labeled anomalies, found {labeled}");
    let false_alarms = flagged.iter().filter(|v| v.label.as_deref() == Some("normal")).count();
    assert_eq!(html.matches("<tr class=\"o-false-alarm\">").count() - top_table_rows(&html, "o-false-alarm"), false_alarms);

    // The same scores as the run's summary line.
    let summary = stderr.lines().find(|l| l.starts_with("labeled input")).unwrap();
    for name in ["precision", "recall", "F1"] {
        let value = summary.split(&format!("{name} ")).nth(1).unwrap().split(' ').next().unwrap();
        assert!(html.contains(&format!("{name} <b>{value}</b>")), "{name} {value} missing from the report");
    }
    // Charted: the six busiest keys, the three with the most anomalies among the rest, and the chosen key.
    assert_eq!(html.matches("<svg class=\"chart\"").count(), 10);
    let most_flagged = flagged.iter().fold(std::collections::HashMap::<&str, usize>::new(), |mut m, v| {
        *m.entry(v.key.as_str()).or_default() += 1;
        m
    });
    let top_key = most_flagged.iter().max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k))).unwrap().0;
    assert!(html.contains(&format!("<h3 class=\"key\">{top_key} ")), "the key with the most anomalies ({top_key}) is not charted");
    assert!(html.contains("<h3 class=\"key\">user029 "), "--report-key user029 not charted");
    assert!(html.contains("<td><code>threshold_multiplier</code></td><td><code>2.5</code></td>"));
    // Self-contained: nothing to fetch, no script.
    for needle in ["https://", "<link", "<script", "<img", "@import"] {
        assert!(!html.contains(needle), "the report references {needle}");
    }

    screenshot(&html_path, "report.png");
}

/// Rows of the top-anomalies table with the given class (the same anomaly is listed in both tables).
fn top_table_rows(html: &str, class: &str) -> usize {
    let top = html.split("<table id=\"top\">").nth(1).and_then(|t| t.split("</table>").next()).unwrap_or("");
    top.matches(&format!("<tr class=\"{class}\">")).count()
}

#[test]
fn long_series_are_aggregated_and_the_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), &["--seed", "3", "--users", "4", "--events", "6000"]);
    let html_path = dir.path().join("big.html");
    let out = packager()
        .args(["run", "--report-max-points", "200", "--report-max-rows", "5", "--report-keys", "2", "--report-key", "nobody", "--report"])
        .arg(&html_path)
        .arg(&events)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.contains("id=\"sampling\"") && html.contains("at most 200 points per key"), "aggregation is not announced");
    assert!(html.contains("id=\"rows-left-out\""), "left-out rows are not announced");
    assert!(html.contains("not in the input: <code>nobody</code>"), "an unknown --report-key is not reported");
    let polyline = html.split("<polyline class=\"values\" points=\"").nth(1).unwrap().split('"').next().unwrap();
    let points = polyline.split(' ').count();
    assert!((100..=200).contains(&points), "a chart holds {points} points");
}

/// Renders `html` in headless Chromium into `target/artifacts/NAME`. Set `CHROMIUM` to use another binary.
fn screenshot(html: &Path, name: &str) {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let out_path = artifacts().join(name);
    let _ = std::fs::remove_file(&out_path);
    let profile = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1300,2600"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out_path.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{chromium}` ({e}): install Debian's chromium (apt-get install chromium) or set CHROMIUM"));
    assert!(status.status.success(), "chromium failed: {}", String::from_utf8_lossy(&status.stderr));
    let png = std::fs::read(&out_path).expect("chromium wrote no screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 50_000, "the screenshot looks empty ({} bytes)", png.len());
}
