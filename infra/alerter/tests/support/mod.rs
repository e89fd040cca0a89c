//! Helpers shared by the integration tests: moto_server and the SNS fault proxy as child processes that die with
//! the test, SDK clients pointed at them, and the committed Kinesis event fixture.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The region every test resource lives in.
pub const REGION: &str = "us-east-1";
/// The key whose publishes the fault proxy throttles; the fixture has records for it.
pub const THROTTLED_KEY: &str = "user-throttled";

/// A directory of this crate, e.g. `tests/fixtures`.
pub fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A name no other test run uses, for topics and queues.
pub fn unique_name(prefix: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos}", std::process::id())
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("bound listener has an address").port()
}

/// A child process killed (and reaped) when dropped, so a failing test leaves nothing running.
pub struct Guard {
    child: Child,
    name: &'static str,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Guard {
    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited early with {status}", self.name)),
            _ => None,
        }
    }
}

/// `moto_server` on a free loopback port.
pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    _process: Guard,
}

impl Moto {
    /// Starts moto_server and waits until it accepts connections. Panics, never skips, when it is not installed.
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start moto_server ({e}): this test needs it and does not skip; install it with \
                     `pip install 'moto[server]'`"
                )
            });
        let mut process = Guard { child, name: "moto_server" };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(why) = process.exited() {
                panic!("{why}; run `moto_server -H 127.0.0.1 -p {port}` by hand to see why");
            }
            assert!(Instant::now() < deadline, "moto_server did not listen on 127.0.0.1:{port} within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { endpoint: format!("http://127.0.0.1:{port}"), _process: process }
    }
}

/// `sns_fault_proxy.py` in front of moto: throttles publishes for [`THROTTLED_KEY`].
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    port: u16,
    _process: Guard,
}

impl FaultProxy {
    /// Starts the proxy on a free port, forwarding to `upstream`.
    pub fn start(upstream: &str) -> FaultProxy {
        let script = crate_path("tests/support/sns_fault_proxy.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .args(["--upstream", upstream, "--throttle-key", THROTTLED_KEY])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let process = Guard { child, name: "sns_fault_proxy.py" };
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
