//! `packager run` and `packager generate` end to end, through the real binary.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;

fn packager() -> Command {
    let mut cmd = Command::cargo_bin("packager").unwrap();
    // Start from a clean environment and an empty folder so no packager.toml or PACKAGER_* leaks in.
    cmd.env_clear().current_dir(std::env::temp_dir());
    cmd
}

fn anomalies(stdout: &[u8]) -> Vec<detector_wasm::Verdict> {
    String::from_utf8_lossy(stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn run_without_a_file_replays_the_bundled_sample_and_scores_its_labels() {
    let out = packager().arg("run").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let found = anomalies(&out.stdout);
    assert!(found.len() >= 10, "the sample holds labeled spikes and bursts; found {}", found.len());
    assert!(found.iter().all(|v| v.status == detector_wasm::verdict::Status::Anomaly));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in ["events", "keys", "anomalies", "invalid records", "events/s", "precision", "recall", "F1"] {
        assert!(stderr.contains(needle), "summary lacks {needle}: {stderr}");
    }
}

#[test]
fn the_bundled_sample_is_what_generate_writes() {
    let out = packager().arg("generate").args(packager::sample::SAMPLE_GENERATE_ARGS).output().unwrap();
    assert!(out.status.success());
    assert!(
        out.stdout == packager::sample::SAMPLE,
        "packager/data/sample-transactions.jsonl is stale; regenerate it with the args in sample.rs"
    );
}

#[test]
fn labeled_generated_data_gets_precision_recall_and_f1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    packager().args(["generate", "--events", "20000", "--users", "200", "--seed", "9", "-o"]).arg(&file).assert().success();
    let out = packager().arg("run").arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("labeled input")).expect("labeled summary");
    let precision: f64 = line.split("precision ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let recall: f64 = line.split("recall ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    // The defaults must find the injected anomalies without flooding: on this stream the expectation is
    // precision ~0.8 and recall ~0.55 (bursts' first events cannot be told from a normal purchase).
    assert!(precision > 0.7, "{line}");
    assert!(recall > 0.45, "{line}");
    assert!(stderr.contains("recall by kind: amount_spike"), "{stderr}");
}

#[test]
fn malformed_lines_are_reported_with_line_numbers_and_the_run_goes_on() {
    let input = concat!(
        r#"{"userId":"u","amount":1,"timestamp":1700000000000,"transactionId":"a"}"#,
        "\n{broken\n",
        r#"{"userId":"u","amount":"1","timestamp":1700000000000,"transactionId":"b"}"#,
        "\n",
        r#"{"userId":"u","amount":2,"timestamp":1700000001000,"transactionId":"c"}"#,
        "\n"
    );
    packager()
        .args(["run", "-", "--emit", "all"])
        .write_stdin(input)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"eventId\":\"a\"").and(predicate::str::contains("\"eventId\":\"c\"")))
        .stderr(predicate::str::contains("line 2: record is not valid JSON"))
        .stderr(predicate::str::contains("line 3: field `amount`: expected a number"))
        .stderr(predicate::str::contains("2 events, 1 keys, 0 anomalies, 2 invalid records"));
}

#[test]
fn a_line_longer_than_max_record_bytes_is_cut_and_refused_and_the_run_goes_on() {
    // A file without line breaks must not be read into memory whole: the line is cut one byte past
    // max_record_bytes, refused for its size, and the lines after it are scored.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let mut input = vec![b'x'; 8 << 20];
    input.extend_from_slice(b"\n{\"userId\":\"u\",\"amount\":1,\"timestamp\":1700000000000}\n");
    std::fs::write(&file, input).unwrap();
    let dead = dir.path().join("dead.jsonl");
    let out = packager().args(["run", "--emit", "all"]).arg(&file).arg("--dead-letters").arg(&dead).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(anomalies(&out.stdout).len(), 1, "the line after the long one is scored");
    let letter: serde_json::Value = serde_json::from_str(std::fs::read_to_string(&dead).unwrap().trim()).unwrap();
    assert_eq!(letter["line"], 1);
    assert_eq!(letter["rawBytes"], (1 << 20) + 1, "the kernel got the line cut at max_record_bytes + 1: {letter}");
    assert!(letter["reason"].as_str().unwrap().contains("max_record_bytes"), "{letter}");
}

#[test]
fn a_byte_order_mark_before_the_first_line_is_not_a_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let mut input = b"\xEF\xBB\xBF".to_vec();
    input.extend_from_slice(b"{\"userId\":\"u\",\"amount\":1,\"timestamp\":1700000000000,\"transactionId\":\"a\"}\r\n");
    std::fs::write(&file, input).unwrap();
    let out = packager().args(["run", "--emit", "all"]).arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let verdicts = anomalies(&out.stdout);
    assert_eq!(verdicts.len(), 1, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(verdicts[0].event_id, "a");
}

#[test]
fn emit_all_writes_a_verdict_with_a_score_for_every_judged_event() {
    let out = packager().args(["run", "--emit", "all", "--min-events", "3"]).output().unwrap();
    let all = anomalies(&out.stdout);
    assert_eq!(all.len(), 4000);
    assert!(all.iter().filter(|v| v.status != detector_wasm::verdict::Status::Warmup).all(|v| v.score.is_some()));
}

#[test]
fn text_output_is_one_readable_line_per_anomaly() {
    let out = packager().args(["run", "--output", "text"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().count() >= 10);
    assert!(text.lines().all(|l| l.contains("ANOMALY") && l.contains("score")), "{text}");
}

#[test]
fn precedence_flags_over_environment_over_file_over_defaults() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("packager.toml"), "[detector]\nthreshold_multiplier = 50.0\nvelocity = false\n").unwrap();
    let count = |cmd: &mut Command| anomalies(&cmd.output().unwrap().stdout).len();
    let from_file = count(packager().current_dir(dir.path()).arg("run"));
    assert_eq!(from_file, 0, "the file's threshold of 50 silences everything");
    let from_env = count(packager().current_dir(dir.path()).env("PACKAGER_THRESHOLD_MULTIPLIER", "3").arg("run"));
    assert!(from_env > 0, "the environment beats the file");
    let from_flag =
        count(packager().current_dir(dir.path()).env("PACKAGER_THRESHOLD_MULTIPLIER", "3").args(["run", "--threshold-multiplier", "50"]));
    assert_eq!(from_flag, 0, "the flag beats the environment");
}

#[test]
fn bad_configuration_names_the_key_and_the_fix() {
    packager()
        .args(["run", "--threshold-multiplier", "-2"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("threshold_multiplier").and(predicate::str::contains("> 0")));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("packager.toml"), "[detector]\nthreshhold = 3\n").unwrap();
    packager()
        .current_dir(dir.path())
        .arg("run")
        .assert()
        .failure()
        .stderr(predicate::str::contains("threshhold").and(predicate::str::contains("unknown key")));
    packager().args(["run", "--set", "oops"]).assert().failure().stderr(predicate::str::contains("KEY=VALUE"));
}

#[test]
fn missing_input_and_bad_kernels_are_clear_errors() {
    packager().args(["run", "/nonexistent/events.jsonl"]).assert().failure().stderr(predicate::str::contains("/nonexistent/events.jsonl"));
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("kernel.wasm");
    std::fs::write(&fake, b"not wasm").unwrap();
    packager().args(["run", "--kernel"]).arg(&fake).assert().failure().stderr(predicate::str::contains("kernel"));
}

#[test]
fn help_documents_the_run_contract() {
    packager().args(["run", "--help"]).assert().success().stdout(
        predicate::str::contains("--emit")
            .and(predicate::str::contains("--output"))
            .and(predicate::str::contains("--threshold-multiplier")),
    );
}

#[test]
fn a_stream_whose_records_all_lack_the_key_field_is_told_which_setting_names_it() {
    // What `packager generate --kind metrics` writes, replayed without --key-field.
    let input = concat!(
        r#"{"host":"h1","metric":"cpu","value":3.5,"timestamp":1700000000000,"sampleId":"m-1"}"#,
        "\n",
        r#"{"host":"h1","metric":"cpu","value":3.7,"timestamp":1700000060000,"sampleId":"m-2"}"#,
        "\n"
    );
    packager()
        .args(["run", "-"])
        .write_stdin(input)
        .assert()
        .success()
        .stderr(predicate::str::contains("0 events, 0 keys, 0 anomalies, 2 invalid records"))
        .stderr(predicate::str::contains("no record has `userId`, where this run reads the key"))
        .stderr(predicate::str::contains("--key-field (or `key_field` in packager.toml)"))
        .stderr(predicate::str::contains("`host`, `metric`, `sampleId`, `timestamp`, `value`"));
    // With the key named, the next field the stream names differently gets the same help.
    packager()
        .args(["run", "-", "--key-field", "host,metric"])
        .write_stdin(input)
        .assert()
        .success()
        .stderr(predicate::str::contains("no record has `amount`, where this run reads the value"))
        .stderr(predicate::str::contains("--value-field"));
    // One record without the key among readable ones is a bad record, not a naming problem: no hint.
    let mixed = concat!(
        r#"{"userId":"u","amount":1,"timestamp":1700000000000,"transactionId":"a"}"#,
        "\n",
        r#"{"amount":1,"timestamp":1700000001000,"transactionId":"b"}"#,
        "\n"
    );
    packager()
        .args(["run", "-"])
        .write_stdin(mixed)
        .assert()
        .success()
        .stderr(predicate::str::contains("line 2: field `userId`: is missing"))
        .stderr(predicate::str::contains("no record has").not());
}
