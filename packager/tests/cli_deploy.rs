//! `packager deploy` and `packager send` end to end through the real binary: help, the documented errors, and a
//! dry run against moto_server (S3) and a stub Managed Flink endpoint that records every call it gets.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use test_support::{Moto, aws_env, unique_name};

fn packager(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("packager").unwrap();
    // A clean environment and an empty HOME: no packager.toml, no PACKAGER_*, no AWS profile leaks in.
    cmd.env_clear().current_dir(dir).env("HOME", dir).env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

const STREAMS: [&str; 6] = [
    "--source-stream-arn",
    "arn:aws:kinesis:us-east-1:123456789012:stream/in",
    "--anomalies-stream-arn",
    "arn:aws:kinesis:us-east-1:123456789012:stream/out",
    "--dead-letters-stream-arn",
    "arn:aws:kinesis:us-east-1:123456789012:stream/dl",
];

fn write_jar(dir: &Path, local: bool) -> PathBuf {
    let path = dir.join(if local { "local.jar" } else { "anomaly-detector.jar" });
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    zip.start_file("META-INF/anomaly-detector/build.json", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(format!(r#"{{"local": {local}}}"#).as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

#[test]
fn deploy_and_send_help_name_their_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = packager(dir.path()).args(["deploy", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--jar",
        "--terraform-outputs",
        "--application-name",
        "--bucket",
        "--service-role-arn",
        "--dry-run",
        "--start",
        "--parallelism",
        "--endpoint-url",
        "--output",
        "--threshold-multiplier",
    ] {
        assert!(help.contains(flag), "deploy --help lacks {flag}:\n{help}");
    }
    let out = packager(dir.path()).args(["send", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--stream", "--generate", "--max-attempts", "--endpoint-url", "--key-field", "--terraform-outputs"] {
        assert!(help.contains(flag), "send --help lacks {flag}:\n{help}");
    }
}

#[test]
fn deploy_without_configuration_names_the_first_missing_setting_and_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    packager(dir.path())
        .arg("deploy")
        .assert()
        .failure()
        .stderr(predicate::str::contains("no application name given").and(predicate::str::contains("--application-name")));
    packager(dir.path())
        .args(["deploy", "--application-name", "app", "--bucket", "b"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no source stream given").and(predicate::str::contains("kinesis_stream_arn")));
}

#[test]
fn deploy_refuses_bad_flags_a_missing_jar_and_a_local_jar() {
    let dir = tempfile::tempdir().unwrap();
    let base = |cmd: &mut Command| {
        cmd.args(["deploy", "--application-name", "app", "--bucket", "b"]).args(STREAMS);
    };
    let mut cmd = packager(dir.path());
    base(&mut cmd);
    cmd.args(["--parallelism", "0"]).assert().failure().stderr(predicate::str::contains("invalid --parallelism"));
    let mut cmd = packager(dir.path());
    base(&mut cmd);
    cmd.args(["--parallelism", "many"]).assert().failure().code(2).stderr(predicate::str::contains("--parallelism"));
    let mut cmd = packager(dir.path());
    base(&mut cmd);
    cmd.assert()
        .failure()
        .stderr(predicate::str::contains("no jar at target/packager/anomaly-detector.jar").and(predicate::str::contains("packager build")));
    let local = write_jar(dir.path(), true);
    let mut cmd = packager(dir.path());
    base(&mut cmd);
    cmd.arg("--jar")
        .arg(&local)
        .assert()
        .failure()
        .stderr(predicate::str::contains("was built with --local").and(predicate::str::contains("rebuild without --local")));
    std::fs::write(dir.path().join("packager.toml"), "[deploy]\nbuckett = \"x\"\n").unwrap();
    let mut cmd = packager(dir.path());
    base(&mut cmd);
    cmd.assert().failure().stderr(predicate::str::contains("buckett"));
}

#[test]
fn send_without_region_or_credentials_says_which_and_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    std::fs::write(&events, "{\"userId\":\"u1\",\"amount\":3}\n").unwrap();
    packager(dir.path())
        .args(["send", "--stream", "transactions"])
        .arg(&events)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no AWS region").and(predicate::str::contains("--region")));
    packager(dir.path())
        .args(["send", "--stream", "transactions", "--region", "us-east-1"])
        .arg(&events)
        .assert()
        .failure()
        .stderr(predicate::str::contains("no AWS credentials").and(predicate::str::contains("AWS_ACCESS_KEY_ID")));
    packager(dir.path()).args(["send"]).arg(&events).assert().failure().stderr(predicate::str::contains("no stream given"));
    packager(dir.path()).args(["send", "--stream", "s"]).assert().failure().code(2).stderr(predicate::str::contains("<FILE>"));
}

/// A stand-in for the Managed Flink endpoint on 127.0.0.1: answers each call by its X-Amz-Target and records it.
struct FlinkStub {
    url: String,
    calls: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FlinkStub {
    fn start(answer: fn(&str) -> (u16, String)) -> FlinkStub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (calls2, stop2) = (calls.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream, answer, &calls2);
                }
            }
        });
        FlinkStub { url, calls, stop, thread: Some(thread) }
    }
}

fn serve(stream: TcpStream, answer: fn(&str) -> (u16, String), calls: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let (mut target, mut length) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "x-amz-target" => target = value.trim().rsplit('.').next().unwrap_or("").to_string(),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    calls.lock().unwrap().push(target.clone());
    let (status, json) = answer(&target);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )
}

impl Drop for FlinkStub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn not_found(target: &str) -> (u16, String) {
    match target {
        "DescribeApplication" => (400, r#"{"__type":"ResourceNotFoundException","message":"Application app is not found"}"#.into()),
        _ => (500, r#"{"__type":"InternalFailure","message":"a dry run must not call this"}"#.into()),
    }
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let moto = Moto::start();
    let flink = FlinkStub::start(not_found);
    let dir = tempfile::tempdir().unwrap();
    let jar = write_jar(dir.path(), false);
    let bucket = unique_name("artifacts");
    let env = aws_env(moto.endpoint());
    // The bucket exists (made through moto's S3 API with plain HTTP; path-style PUT creates a bucket).
    let port = moto.endpoint().rsplit(':').next().unwrap();
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let tf = dir.path().join("tf.json");
    std::fs::write(
        &tf,
        format!(
            r#"{{"artifacts_bucket_name": {{"value": "{bucket}"}}, "flink_application_name": {{"value": "app"}},
                "flink_service_role_arn": {{"value": "arn:aws:iam::123456789012:role/flink"}},
                "kinesis_stream_arn": {{"value": "arn:aws:kinesis:us-east-1:123456789012:stream/in"}},
                "anomalies_stream_arn": {{"value": "arn:aws:kinesis:us-east-1:123456789012:stream/out"}},
                "dead_letters_stream_arn": {{"value": "arn:aws:kinesis:us-east-1:123456789012:stream/dl"}},
                "aws_region": {{"value": "us-east-1"}}}}"#
        ),
    )
    .unwrap();
    let out = packager(dir.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_ENDPOINT_URL_KINESIS_ANALYTICS_V2", &flink.url)
        .args(["deploy", "--dry-run", "--start", "--terraform-outputs"])
        .arg(&tf)
        .arg("--jar")
        .arg(&jar)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("dry run, nothing changed: plan for Managed Flink application `app`"), "{stdout}");
    assert!(stdout.contains(&format!("  upload   s3://{bucket}/flink/anomaly-detector-")), "{stdout}");
    assert!(
        stdout.contains("  create   app (FLINK-1_20)") && stdout.contains("  start    app") && stdout.contains("until RUNNING"),
        "{stdout}"
    );
    assert_eq!(*flink.calls.lock().unwrap(), ["DescribeApplication"], "a dry run only reads");

    // JSON output carries the same plan; the bucket is still empty.
    let out = packager(dir.path())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_ENDPOINT_URL_KINESIS_ANALYTICS_V2", &flink.url)
        .args(["deploy", "--dry-run", "--output", "json", "--terraform-outputs"])
        .arg(&tf)
        .arg("--jar")
        .arg(&jar)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["plan"]["action"], "create");
    assert_eq!(report["plan"]["upload"], true);
    let mut s = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
    write!(s, "GET /{bucket} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut listing = String::new();
    s.read_to_string(&mut listing).unwrap();
    assert!(!listing.contains("<Key>"), "the dry run uploaded something: {listing}");
}
