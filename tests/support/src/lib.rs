//! Test helpers shared by the workspace's crates: local stand-ins for AWS services, run as child processes that die
//! with the test.
//!
//! [`Moto`] starts `moto_server` (PyPI `moto[server]`) on a free loopback port. Tests that need it fail, never skip,
//! when it is not installed: a skipped integration test reads as a passing one in CI. [`ChildGuard`] gives any other
//! helper process a test starts (a fault proxy, an emulator) the same fate: killed and reaped when the test ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The region tests create their resources in (moto keeps resources per region).
pub const REGION: &str = "us-east-1";

/// How long moto_server may take to answer its first request (it imports every service model on start).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A name no other test or test run uses, for buckets, streams and applications (lowercase, digits and dashes).
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("a bound listener has an address").port()
}

/// Environment for a child process (a CLI under test) that talks to [`Moto`]: dummy static credentials, the test
/// region, no instance-metadata lookups, and the endpoint.
pub fn aws_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", REGION.into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
    ]
}

/// A child process that is killed and reaped when dropped, so a test that fails or panics leaves nothing running.
#[derive(Debug)]
pub struct ChildGuard {
    child: Child,
    name: String,
}

impl ChildGuard {
    /// Spawns `command` and guards it. Panics naming the program and `install_hint` when it cannot be started.
    pub fn spawn(name: impl Into<String>, command: &mut Command, install_hint: &str) -> ChildGuard {
        let name = name.into();
        match command.spawn() {
            Ok(child) => ChildGuard { child, name },
            Err(e) => panic!("cannot start {name} ({e}); these tests need it and do not skip: {install_hint}"),
        }
    }

    /// `Some(reason)` when the process has already exited, e.g. while a test waits for it to listen.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited early with {status}", self.name)),
            _ => None,
        }
    }

    /// The guarded process, e.g. to take its piped stdout.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` on a free loopback port; the process is killed and reaped when this is dropped.
pub struct Moto {
    endpoint: String,
    process: ChildGuard,
}

impl Moto {
    /// Starts moto_server and waits until it answers HTTP.
    ///
    /// Panics (the test fails) when `moto_server` is not on PATH or does not come up: install it with
    /// `pip install 'moto[server]'`.
    pub fn start() -> Moto {
        let mut last_error = String::new();
        // A port picked free can be taken by another test before moto binds it; a second port fixes that.
        for _ in 0..3 {
            let port = free_port();
            let process = ChildGuard::spawn(
                "moto_server",
                Command::new("moto_server")
                    .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null()),
                "install it with `pip install 'moto[server]'` so that `moto_server` is on PATH",
            );
            let mut moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), process };
            match moto.wait_until_ready(port) {
                Ok(()) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!("moto_server did not come up: {last_error}");
    }

    /// The endpoint URL to give the SDK, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn wait_until_ready(&mut self, port: u16) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(why) = self.process.exited() {
                return Err(format!("{why}, before answering on port {port}"));
            }
            if answers_http(addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("no HTTP answer on port {port} within {} s", START_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Whether something on `addr` answers a plain HTTP request with a status line.
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    if stream.write_all(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_answers_and_is_gone_after_drop() {
        let moto = Moto::start();
        let port: u16 = moto.endpoint().rsplit(':').next().unwrap().parse().unwrap();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert!(answers_http(addr));
        drop(moto);
        assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(), "moto_server still listens after drop");
    }

    #[test]
    fn a_guarded_child_is_killed_on_drop() {
        let mut command = Command::new("sleep");
        command.arg("600");
        let mut guard = ChildGuard::spawn("sleep", &mut command, "it is part of coreutils");
        let pid = guard.child_mut().id();
        assert_eq!(guard.exited(), None);
        drop(guard);
        // The guard reaped it, so the pid no longer names a live process of ours.
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "sleep {pid} still runs after drop");
    }

    #[test]
    fn unique_names_differ_within_one_process() {
        assert_ne!(unique_name("b"), unique_name("b"));
    }
}
