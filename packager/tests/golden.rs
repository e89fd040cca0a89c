//! Golden tests: every folder under `tests/golden/` that holds an `input.jsonl` is a case (tests/golden/README.md says
//! what a case holds and how its numbers were derived). Each case runs through `packager run --emit all` (the `.wasm`
//! under wasmtime) and through the playground's engine (`detector_wasm::replay` with the kernel compiled in); both must
//! give exactly `expected.jsonl` and `expected-dead-letters.jsonl` (when present). The Flink job's run of the same
//! cases is `GoldenTest` in job-template/java.
//!
//! `UPDATE_GOLDEN=1 cargo test -p packager --test golden` rewrites the expected files from `packager run` — then check
//! the numbers by hand (`tests/golden/derive.py` re-derives the hand-checked ones independently).

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use detector_wasm::config::Emit;
use detector_wasm::replay::{InProcess, Item, Outcome, Replay};
use packager::config::{DetectorFlags, FileConfig, resolve_detector};
use std::path::{Path, PathBuf};

/// Every case folder, sorted by name.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/golden");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.join("input.jsonl").is_file()).collect();
    cases.sort();
    assert!(cases.len() >= 5, "the golden cases went missing from {}: {cases:?}", root.display());
    cases
}

fn name(case: &Path) -> String {
    case.file_name().unwrap().to_string_lossy().into_owned()
}

/// Compares what a run wrote with the case's expected files; the differences, one message per file.
fn compare(case: &Path, how: &str, verdicts: &str, dead_letters: &str) -> Vec<String> {
    let mut failures = Vec::new();
    for (file, actual) in [("expected.jsonl", verdicts), ("expected-dead-letters.jsonl", dead_letters)] {
        let expected = std::fs::read_to_string(case.join(file)).unwrap_or_default();
        if expected != actual {
            failures.push(format!("{}/{file} differs from {how}; expected:\n{expected}\nactual:\n{actual}", name(case)));
        }
    }
    failures
}

fn assert_none(failures: Vec<String>) {
    assert!(failures.is_empty(), "{} golden file(s) differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

#[test]
fn every_case_through_packager_run() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let dead = tmp.path().join("dead.jsonl");
        let output = Command::cargo_bin("packager")
            .unwrap()
            .current_dir(&case)
            .env_clear()
            .args(["run", "input.jsonl", "--emit", "all", "--output", "json", "--config", "packager.toml", "--dead-letters"])
            .arg(&dead)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}: {}", name(&case), String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8(output.stdout).unwrap();
        let dead = std::fs::read_to_string(&dead).unwrap();
        if update {
            for (file, actual) in [("expected.jsonl", &stdout), ("expected-dead-letters.jsonl", &dead)] {
                if !actual.is_empty() || case.join(file).exists() {
                    std::fs::write(case.join(file), actual).unwrap();
                }
            }
            continue;
        }
        failures.extend(compare(&case, "packager run", &stdout, &dead));
    }
    assert_none(failures);
}

#[test]
fn every_case_through_the_playground_engine() {
    let mut failures = Vec::new();
    for case in cases() {
        // The configuration exactly as `packager run --config packager.toml --emit all` resolves it.
        let file = FileConfig::load(Some(&case.join("packager.toml"))).unwrap();
        let mut config = resolve_detector(&DetectorFlags::default(), &file).unwrap();
        config.emit = Emit::All;
        let mut replay = Replay::new(InProcess::new(&config).unwrap(), 256);
        let (mut verdicts, mut dead) = (String::new(), String::new());
        let input = std::fs::read(case.join("input.jsonl")).unwrap();
        replay
            .run(input.as_slice(), |item: &Item| {
                match &item.outcome {
                    Outcome::Verdict { verdict, .. } => verdicts.push_str(&format!("{}\n", String::from_utf8_lossy(verdict))),
                    Outcome::DeadLetter(json) => {
                        // As `--dead-letters` writes them: with the input line.
                        let mut letter: serde_json::Value = serde_json::from_slice(json).unwrap();
                        letter.as_object_mut().unwrap().insert("line".into(), item.line.into());
                        dead.push_str(&format!("{letter}\n"));
                    }
                }
                Ok(())
            })
            .unwrap();
        failures.extend(compare(&case, "the playground engine", &verdicts, &dead));
    }
    assert_none(failures);
}
