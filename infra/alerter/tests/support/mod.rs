//! Helpers shared by the alerter's integration tests: the SNS fault proxy as a child process that dies with the test,
//! SDK clients pointed at moto (started by the workspace's `test-support`), and the committed Kinesis event fixture.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
pub use test_support::{ChildGuard, Moto, REGION, unique_name};

/// The key whose publishes the fault proxy throttles; the fixture has records for it.
pub const THROTTLED_KEY: &str = "user-throttled";

/// A path inside this crate, e.g. `tests/fixtures`.
pub fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `sns_fault_proxy.py` in front of moto: throttles publishes for [`THROTTLED_KEY`].
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    _process: ChildGuard,
}

impl FaultProxy {
    /// Starts the proxy on a free port, forwarding to `upstream`.
    pub fn start(upstream: &str) -> FaultProxy {
        let script = crate_path("tests/support/sns_fault_proxy.py");
        let mut process = ChildGuard::spawn(
            "sns_fault_proxy.py",
            Command::new("python3")
                .arg(&script)
                .args(["--upstream", upstream, "--throttle-key", THROTTLED_KEY])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit()),
            "install python3",
        );
        let stdout = process.child_mut().stdout.take().expect("stdout is piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("cannot read the fault proxy's first line");
        let port: u16 = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the fault proxy did not start: it printed {line:?}"));
        FaultProxy { endpoint: format!("http://127.0.0.1:{port}"), port, _process: process }
    }

    /// How many publishes were throttled so far.
    pub fn throttled(&self) -> u64 {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("fault proxy is up");
        write!(stream, "GET /__fault_proxy/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let body = response.split("\r\n\r\n").nth(1).expect("an HTTP response has a body");
        serde_json::from_str::<Value>(body).unwrap()["throttled"].as_u64().unwrap()
    }
}

/// A topic with a queue subscribed to it.
pub struct Topic {
    /// The topic ARN.
    pub arn: String,
    /// The subscribed queue.
    pub queue_url: String,
}

/// Creates a topic on `moto` with a fresh SQS queue subscribed (raw delivery off: the SNS envelope arrives).
pub async fn topic_with_queue(moto: &Moto) -> Topic {
    let (sns, sqs) = (sns_client(moto.endpoint()), sqs_client(moto.endpoint()));
    let arn = sns.create_topic().name(unique_name("alerts")).send().await.unwrap().topic_arn.unwrap();
    let queue_url = sqs.create_queue().queue_name(unique_name("alert-inbox")).send().await.unwrap().queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe().topic_arn(&arn).protocol("sqs").endpoint(queue_arn).send().await.unwrap();
    Topic { arn, queue_url }
}

/// Every SNS envelope the queue holds, waiting until `expected` arrived and then once more for strays.
pub async fn drain(moto: &Moto, queue_url: &str, expected: usize) -> Vec<Value> {
    let sqs = sqs_client(moto.endpoint());
    let mut envelopes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let wait = if envelopes.len() >= expected { 1 } else { 2 };
        let received = sqs.receive_message().queue_url(queue_url).max_number_of_messages(10).wait_time_seconds(wait).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() && (envelopes.len() >= expected || Instant::now() > deadline) {
            return envelopes;
        }
        for message in messages {
            envelopes.push(serde_json::from_str(message.body.as_deref().unwrap()).unwrap());
            sqs.delete_message().queue_url(queue_url).receipt_handle(message.receipt_handle.unwrap()).send().await.unwrap();
        }
    }
}

/// An SNS client for `endpoint` with fake credentials.
pub fn sns_client(endpoint: &str) -> aws_sdk_sns::Client {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sns::Client::from_conf(config)
}

/// An SQS client for `endpoint` with fake credentials.
pub fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new(REGION))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An S3 client for `endpoint` with fake credentials (buckets by path, as moto serves them).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(REGION))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("testing", "testing", None, None, "tests"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// The committed Kinesis event fixture.
pub fn fixture_event() -> Value {
    let path = crate_path("tests/fixtures/kinesis-event.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The fixture's documented batch item failures (`itemIdentifier`s, in order).
pub fn fixture_expected_failures() -> Vec<String> {
    let path = crate_path("tests/fixtures/kinesis-event.expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let expected: Value = serde_json::from_str(&text).unwrap();
    expected["batchItemFailures"].as_array().unwrap().iter().map(|f| f["itemIdentifier"].as_str().unwrap().to_string()).collect()
}
