//! Golden tests: each folder under `tests/golden/` holds `input.jsonl` and `packager.toml`; `packager run --emit all`
//! must print exactly `expected.jsonl` and write exactly `expected-dead-letters.jsonl` (when present).
//! `UPDATE_GOLDEN=1 cargo test -p packager --test golden` rewrites them — then check the numbers by hand
//! (tests/golden/README.md shows how each expected value was derived).

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden")
}

fn check(case: &str) {
    let dir = golden_dir().join(case);
    let tmp = tempfile::tempdir().unwrap();
    let dead = tmp.path().join("dead.jsonl");
    let output = Command::cargo_bin("packager")
        .unwrap()
        .current_dir(&dir)
        .env_clear()
        .args(["run", "input.jsonl", "--emit", "all", "--output", "json", "--config", "packager.toml", "--dead-letters"])
        .arg(&dead)
        .output()
        .unwrap();
    assert!(output.status.success(), "{case}: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let dead = std::fs::read_to_string(&dead).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, actual) in [("expected.jsonl", &stdout), ("expected-dead-letters.jsonl", &dead)] {
        let path = dir.join(name);
        if update {
            if !actual.is_empty() || path.exists() {
                std::fs::write(&path, actual).unwrap();
            }
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(expected == *actual, "{case}/{name} differs; expected:\n{expected}\nactual:\n{actual}");
    }
}

#[test]
fn brief_example_transactions() {
    check("brief");
}

#[test]
fn zscore_stream_checked_by_hand() {
    check("zscore-by-hand");
}

#[test]
fn ewma_stream_checked_by_hand() {
    check("ewma-by-hand");
}

#[test]
fn velocity_burst() {
    check("velocity-burst");
}

#[test]
fn bad_records_become_dead_letters_with_line_numbers() {
    check("bad-records");
}

#[test]
fn adaptive_money_stream() {
    check("adaptive-money");
}

#[test]
fn adaptive_metric_stream() {
    check("adaptive-metric");
}
