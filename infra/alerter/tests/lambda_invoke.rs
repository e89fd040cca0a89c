//! The built function under cargo-lambda's Lambda emulator, end to end:
//!
//! 1. moto_server serves SNS and SQS; a topic gets an SQS queue subscribed. `sns_fault_proxy.py` sits in front of
//!    moto and throttles publishes for the key `user-throttled`.
//! 2. `cargo lambda watch --only-lambda-apis` serves the Lambda runtime and invoke APIs on a free loopback port, and
//!    the alerter binary cargo built for this test runs against it with the environment Terraform gives the
//!    function, SNS pointed at the proxy. (`--only-lambda-apis`, so the binary under test is this crate's; watch
//!    would otherwise build its own copy with plain cargo.)
//! 3. `cargo lambda invoke` sends `tests/fixtures/kinesis-event.json` (good, duplicate and bad records); the JSON
//!    response must equal `tests/fixtures/kinesis-event.expected.json`, the function's stdout must carry the EMF
//!    counts, and the queue must hold one alert per published anomaly.
//!
//! The function is the crate's binary that cargo built for this test, or, when `ALERTER_FUNCTION_CMD` is set, that
//! command line (split on whitespace): `scripts/test.sh` sets it to run the `bootstrap` from the arm64 zip that
//! `scripts/build.sh` wrote under `qemu-aarch64`, so the shipped artifact itself answers the invoke.
//!
//! Needs `cargo-lambda` (`pip install cargo-lambda`), `moto_server` (`pip install 'moto[server]'`) and `python3`;
//! fails, never skips, without them. Every process started here is stopped when the test ends, also on failure.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{ChildGuard, FaultProxy, Moto, crate_path, drain, topic_with_queue, unique_name};
use test_support::free_port;

const INSTALL_CARGO_LAMBDA: &str = "install it with `pip install cargo-lambda ziglang`";
/// Generous for the SDK's retries of the throttled publishes, also under qemu; a normal run takes a few seconds.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(120);

/// `cargo lambda watch --only-lambda-apis` on a free loopback port, once it accepts connections.
fn start_emulator(log: &Path) -> (ChildGuard, u16) {
    let port = free_port();
    let mut watch = ChildGuard::spawn(
        "cargo lambda watch",
        Command::new("cargo")
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
            .current_dir(crate_path(""))
            .stdin(Stdio::null())
            .stdout(log_file(log))
            .stderr(log_file(log)),
        INSTALL_CARGO_LAMBDA,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(why) = watch.exited() {
            panic!("{why}; its output:\n{}", read(log));
        }
        assert!(Instant::now() < deadline, "cargo lambda watch did not listen on 127.0.0.1:{port} within 60 s:\n{}", read(log));
        std::thread::sleep(Duration::from_millis(100));
    }
    (watch, port)
}

fn log_file(path: &Path) -> std::fs::File {
    std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The program and arguments that run the function: `ALERTER_FUNCTION_CMD`, or the crate's own binary.
fn function_command() -> (String, Vec<String>) {
    match std::env::var("ALERTER_FUNCTION_CMD") {
        Ok(line) if !line.trim().is_empty() => {
            let mut words = line.split_whitespace().map(str::to_string);
            let program = words.next().expect("a non-blank line has a first word");
            (program, words.collect())
        }
        _ => (env!("CARGO_BIN_EXE_alerter").to_string(), Vec::new()),
    }
}

/// A scratch directory for this test's logs, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_lambda_invoke_of_the_fixture_returns_exactly_the_documented_batch_item_failures() {
    let scratch = Scratch(std::env::temp_dir().join(unique_name("alerter-invoke")));
    std::fs::create_dir_all(&scratch.0).unwrap();
    let (watch_log, function_out, function_err) =
        (scratch.0.join("watch.log"), scratch.0.join("function.stdout"), scratch.0.join("function.stderr"));

    let moto = Moto::start();
    let topic = topic_with_queue(&moto).await;
    let proxy = FaultProxy::start(moto.endpoint());
    let (_watch, port) = start_emulator(&watch_log);

    let (program, args) = function_command();
    let mut function = ChildGuard::spawn(
        format!("the function ({program})"),
        Command::new(&program)
            .args(&args)
            .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", support::REGION)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_SNS", &proxy.endpoint)
            .env("SNS_TOPIC_ARN", &topic.arn)
            .env("APPLICATION_NAME", "frauddet-prod")
            .env("DASHBOARD_URL", "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=frauddet-prod")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log_file(&function_out))
            .stderr(log_file(&function_err)),
        "cargo builds the crate's binary for this test; for ALERTER_FUNCTION_CMD, install what it names",
    );

    let (invoke_out, invoke_err) = (scratch.0.join("invoke.json"), scratch.0.join("invoke.log"));
    let mut invoke = ChildGuard::spawn(
        "cargo lambda invoke",
        Command::new("cargo")
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string(), "--output-format", "json"])
            .arg("--data-file")
            .arg(crate_path("tests/fixtures/kinesis-event.json"))
            .current_dir(crate_path(""))
            .stdin(Stdio::null())
            .stdout(log_file(&invoke_out))
            .stderr(log_file(&invoke_err)),
        INSTALL_CARGO_LAMBDA,
    );
    // The emulator waits for a function that never polls, so a function that died would hang the invoke: watch both.
    let deadline = Instant::now() + INVOKE_TIMEOUT;
    let status = loop {
        if let Some(status) = invoke.child_mut().try_wait().unwrap() {
            break status;
        }
        if let Some(why) = function.exited() {
            panic!("{why} before answering the invoke; its log:\n{}", read(&function_err));
        }
        assert!(
            Instant::now() < deadline,
            "cargo lambda invoke got no answer within {} s\n--- watch:\n{}\n--- function:\n{}",
            INVOKE_TIMEOUT.as_secs(),
            read(&watch_log),
            read(&function_err)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "cargo lambda invoke failed ({status}): {}\n--- watch:\n{}\n--- function:\n{}",
        read(&invoke_err),
        read(&watch_log),
        read(&function_err)
    );

    let response: Value =
        serde_json::from_str(&read(&invoke_out)).unwrap_or_else(|e| panic!("the response is not JSON ({e}): {}", read(&invoke_out)));
    let expected: Value = serde_json::from_str(&read(&crate_path("tests/fixtures/kinesis-event.expected.json"))).unwrap();
    assert_eq!(response, expected, "the batch response differs from kinesis-event.expected.json");
    assert_eq!(expected["batchItemFailures"].as_array().map(Vec::len), Some(2), "records 8 and 10 (throttled) only");

    // The handler writes its EMF documents before it returns the response, so they are on stdout by now.
    let emf: Vec<Value> = read(&function_out).lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).unwrap()).collect();
    let sum = |metric: &str| emf.iter().filter_map(|d| d[metric].as_u64()).sum::<u64>();
    assert_eq!((sum("AnomalyCount"), sum("InvalidAnomalyRecords")), (3, 5), "EMF documents on stdout: {emf:#?}");
    assert!(emf.iter().all(|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "AnomalyDetection"), "{emf:#?}");
    // Invalid records are logged with their sequence numbers (records 4, 5, 6, 7 and 9 of the fixture).
    let log = read(&function_err);
    for record in [4, 5, 6, 7, 9] {
        let sequence = format!("49656690013580262437208305843621370473446452{record:012}");
        assert!(log.contains(&sequence), "record {record} ({sequence}) is not in the function's log:\n{log}");
    }

    let envelopes = drain(&moto, &topic.queue_url, 3).await;
    let mut keys: Vec<&str> = envelopes.iter().map(|e| e["MessageAttributes"]["key"]["Value"].as_str().unwrap()).collect();
    keys.sort();
    assert_eq!(keys, ["user-0042", "user-0077", "user-0099"], "one alert per distinct published anomaly: {envelopes:#?}");
    for envelope in &envelopes {
        let subject = envelope["Subject"].as_str().unwrap();
        assert!(subject.starts_with('[') && subject.contains("frauddet-prod: userId user-"), "{subject}");
        assert!(envelope["Message"].as_str().unwrap().contains("dashboards:name=frauddet-prod"), "no dashboard link: {envelope}");
    }
}
