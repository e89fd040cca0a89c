//! `packager build` and `packager run --flink` end to end, through the real binary: CLI errors, the built jar's
//! contents and manifest, reproducibility, the Kinesis connector fetched from a fake Maven repository on 127.0.0.1,
//! and the MiniCluster replay giving what `packager run` gives.
//!
//! The builds need a Flink distribution: FLINK_HOME (job-template/scripts/flink-home.sh prints one), and the 1.20
//! build FLINK_HOME_1_20 (`flink-home.sh 1.20`); tests/setup.sh sets both. Without them those tests fail.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use packager::build::connector;
use packager::build::report::Progress;
use packager::flink_version::FlinkVersion;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

fn project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The packager binary with no packager.toml or PACKAGER_* from the caller, run in the project.
fn packager() -> Command {
    let mut cmd = Command::cargo_bin("packager").unwrap();
    for (key, _) in std::env::vars() {
        if key.starts_with("PACKAGER_") {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(project());
    cmd
}

/// Standard error with miette's wrapping undone: words joined by single spaces, the frame's `│` gone.
fn flat(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr).replace('│', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The Flink distribution these tests build against. Missing, the tests fail (a skipped test reads as a passing one).
fn flink_home() -> Option<PathBuf> {
    let home = std::env::var_os("FLINK_HOME").map(PathBuf::from).filter(|p| p.join("lib").is_dir());
    assert!(
        home.is_some(),
        "FLINK_HOME is not set to a Flink distribution: run `export FLINK_HOME=$(job-template/scripts/flink-home.sh)` \
         (tests/setup.sh and tests/run-all do it)"
    );
    home
}

fn sha256(path: &Path) -> String {
    connector::sha256_file(path).unwrap()
}

fn jar_entries(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        out.insert(entry.name().unwrap().to_string(), bytes);
    }
    out
}

/// Runs `packager build --no-alerter --out-dir OUT ARGS…` and returns the jar.
fn build(flink: &Path, out: &Path, args: &[&str]) -> PathBuf {
    let result = packager()
        .args(["build", "--no-alerter", "--output", "json", "--flink-home"])
        .arg(flink)
        .arg("--out-dir")
        .arg(out)
        .args(args)
        .output()
        .unwrap();
    assert!(result.status.success(), "packager build failed:\n{}", String::from_utf8_lossy(&result.stderr));
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let jar = PathBuf::from(report["jar"].as_str().unwrap());
    let listed = &report["artifacts"][0];
    assert_eq!(listed["sha256"], sha256(&jar), "the report's hash is the jar's");
    assert_eq!(listed["size"], std::fs::metadata(&jar).unwrap().len());
    assert!(report["steps"].as_array().unwrap().iter().any(|s| s["step"].as_str().unwrap().starts_with("kernel: precompile")));
    jar
}

/// One `--local` jar shared by the tests of this file (a build takes a while).
fn local_jar(flink: &Path) -> PathBuf {
    static JAR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    JAR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let jar = build(flink, dir.path(), &["--local"]);
        (dir, jar)
    })
    .1
    .clone()
}

#[test]
fn build_help_names_every_input() {
    let out = packager().args(["build", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--flink-version",
        "--local",
        "--kinesis-connector",
        "--maven-repo",
        "--flink-jars",
        "--pypi-url",
        "--cache-dir",
        "--flink-home",
        "--install-tools",
        "--no-zigbuild",
        "--no-alerter",
        "--output",
    ] {
        assert!(help.contains(flag), "build --help lacks {flag}:\n{help}");
    }
}

#[test]
fn local_and_a_connector_jar_cannot_be_combined() {
    let out = packager().args(["build", "--local", "--kinesis-connector", "x.jar"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--local") && stderr.contains("--kinesis-connector"), "{stderr}");
}

#[test]
fn an_unknown_flag_is_refused() {
    let out = packager().args(["build", "--lokal"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--local"), "clap suggests the right flag");
}

#[test]
fn without_flink_home_and_no_reachable_repository_the_fetch_fails_first_and_names_the_ways_out() {
    let started = std::time::Instant::now();
    let cache = tempfile::tempdir().unwrap();
    let out = packager()
        .env_remove("FLINK_HOME")
        .args(["build", "--local", "--maven-repo", "http://127.0.0.1:9/maven2", "--cache-dir"])
        .arg(cache.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = flat(&out.stderr);
    assert!(stderr.contains("127.0.0.1:9/maven2") && stderr.contains("flink-dist/2.2.0"), "{stderr}");
    assert!(stderr.contains("--flink-home") && stderr.contains("FLINK_HOME") && stderr.contains("--flink-jars pypi"), "{stderr}");
    assert!(started.elapsed().as_secs() < 20, "it must fail before compiling");
}

#[test]
fn without_flink_home_a_local_build_fetches_flinks_jars_into_an_empty_cache_and_succeeds() {
    // A fresh laptop: no FLINK_HOME, nothing cached. The jars are served, Maven-layout with published sha256s, by a
    // local server holding the files of the Flink distribution the other tests use.
    let flink = flink_home().unwrap();
    let release = FlinkVersion::V2_2.release();
    let mut files = BTreeMap::new();
    for artifact in packager::build::flink_jars::maven_artifacts(release) {
        let bytes = std::fs::read(flink.join("lib").join(artifact.file_name())).unwrap();
        files.insert(format!("{}.sha256", artifact.path()), packager::digest::sha256_hex(&bytes).into_bytes());
        files.insert(artifact.path(), bytes);
    }
    let maven = FakeMaven::start(files);
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let result = packager()
        .env_remove("FLINK_HOME")
        .args(["build", "--local", "--no-alerter", "--output", "json", "--maven-repo", &maven.url, "--cache-dir"])
        .arg(cache.path())
        .arg("--out-dir")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = flat(&result.stderr);
    assert!(result.status.success(), "env -u FLINK_HOME packager build --local failed:\n{}", String::from_utf8_lossy(&result.stderr));
    assert!(stderr.contains(&format!("Flink {release}")) && stderr.contains(&maven.url), "it says what it fetched from where: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    let entries = jar_entries(Path::new(report["jar"].as_str().unwrap()));
    let manifest: serde_json::Value = serde_json::from_slice(&entries["META-INF/anomaly-detector/build.json"]).unwrap();
    assert_eq!(manifest["flinkRuntime"], "FLINK-2_2");
    assert_eq!(manifest["flinkVersion"], release);
    let lib = cache.path().join("flink").join(format!("{release}-maven")).join("lib");
    assert!(lib.join(format!("flink-dist-{release}.jar")).is_file(), "the jars are kept in the cache: {}", lib.display());
}

#[test]
fn the_flink_releases_packager_fetches_are_the_ones_the_tests_pin() {
    let env = std::fs::read_to_string(project().join("tests/tools.env")).unwrap();
    let pinned = |name: &str| env.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).map(str::trim).unwrap().to_string();
    assert_eq!(pinned("FLINK_2_2_VERSION"), FlinkVersion::V2_2.release(), "tests/tools.env and packager/src/flink_version.rs");
    assert_eq!(pinned("FLINK_1_20_VERSION"), FlinkVersion::V1_20.release(), "tests/tools.env and packager/src/flink_version.rs");
}

#[test]
fn a_flink_home_of_the_other_version_is_refused_before_building_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("lib/flink-dist-1.20.3.jar"), b"").unwrap();
    let out = packager().args(["build", "--local", "--flink-home"]).arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    let stderr = flat(&out.stderr);
    assert!(
        stderr.contains("Flink 1.20.3") && stderr.contains("built for Flink 2.2") && stderr.contains("--flink-version 1.20"),
        "{stderr}"
    );
}

#[test]
fn a_missing_connector_jar_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(dir.path().join("lib/flink-dist-2.2.0.jar"), b"").unwrap();
    let out =
        packager().args(["build", "--kinesis-connector", "/nonexistent/connector.jar", "--flink-home"]).arg(dir.path()).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/connector.jar"));
}

#[test]
fn a_bad_build_table_in_packager_toml_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("packager.toml");
    std::fs::write(&config, "[build]\nlokal = true\n").unwrap();
    let out = packager().arg("--config").arg(&config).args(["build", "--flink-home", "/x"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("lokal") && stderr.contains("[build]"), "{stderr}");
}

#[test]
fn run_flink_without_a_jar_says_how_to_build_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = packager().args(["run", "--flink", "--jar"]).arg(dir.path().join("none.jar")).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("packager build --local"));
}

#[test]
fn run_flink_refuses_a_report_instead_of_ignoring_it() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    let out = packager().args(["run", "--flink", "--report"]).arg(&report).arg("--jar").arg(dir.path().join("none.jar")).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--report does not apply to --flink") && stderr.contains("report.html"), "{stderr}");
    assert!(!report.exists(), "no report may be written when the run is refused");
}

#[test]
fn a_local_build_has_the_job_kernel_host_and_manifest_and_is_reproducible() {
    let Some(flink) = flink_home() else { return };
    let jar = local_jar(&flink);
    let entries = jar_entries(&jar);
    let manifest_mf = String::from_utf8_lossy(&entries["META-INF/MANIFEST.MF"]).into_owned();
    assert!(manifest_mf.contains("Main-Class: anomaly.job.AnomalyDetectionJob"), "{manifest_mf}");
    assert!(entries.contains_key("anomaly/job/AnomalyDetectionJob.class"));
    assert!(entries["kernel/kernel.cwasm"].len() > 1000);
    assert!(entries["kernel/kernel-no-signals.cwasm"].len() > 1000);
    assert!(entries["native/linux-x86_64/libanomaly_host.so"].starts_with(b"\x7fELF"));
    assert!(!entries.keys().any(|k| k.contains("kinesis")), "a --local jar carries no connector");

    let manifest: serde_json::Value = serde_json::from_slice(&entries["META-INF/anomaly-detector/build.json"]).unwrap();
    let kernel = std::fs::read(jar.parent().unwrap().join("kernel.wasm")).unwrap();
    assert_eq!(manifest["kernelSha256"], packager::digest::hex(&<sha2::Sha256 as sha2::Digest>::digest(&kernel)));
    assert_eq!(manifest["abiVersion"], detector_wasm::abi::ABI_VERSION);
    assert_eq!(manifest["local"], true);
    assert_eq!(manifest["kinesisConnector"], serde_json::Value::Null);
    assert_eq!(manifest["packagerVersion"], env!("CARGO_PKG_VERSION"));
    assert!(manifest["flinkVersion"].as_str().unwrap().starts_with("2.2"), "{manifest}");
    assert_eq!(manifest["flinkRuntime"], "FLINK-2_2");
    // Java 17 bytecode (class file major version 61), and the SQL function that only Flink 2 has.
    assert_eq!(&entries["anomaly/job/AnomalyDetectionJob.class"][6..8], &[0, 61]);
    assert!(entries.contains_key("anomaly/job/AnomalyDetectFunction.class"));
    assert!(manifest["wasmtimeVersion"].as_str().unwrap().starts_with("48."), "{manifest}");
    assert!(manifest["hostTarget"].as_str().unwrap().starts_with("x86_64-unknown-linux-gnu"), "{manifest}");
    assert!(!manifest["gitRevision"].as_str().unwrap().is_empty());

    // Same inputs, another output directory, a later time: the same bytes.
    let again = tempfile::tempdir().unwrap();
    let second = build(&flink, again.path(), &["--local"]);
    assert_eq!(sha256(&jar), sha256(&second), "two builds of the same sources differ");
}

#[test]
fn a_1_20_build_has_java_11_bytecode_no_sql_function_and_says_flink_1_20() {
    let flink = std::env::var_os("FLINK_HOME_1_20").map(PathBuf::from).filter(|p| p.join("lib").is_dir());
    let flink = flink
        .expect("FLINK_HOME_1_20 is not set: `export FLINK_HOME_1_20=$(job-template/scripts/flink-home.sh 1.20)` (tests/setup.sh does it)");
    let out = tempfile::tempdir().unwrap();
    let jar = build(&flink, out.path(), &["--local", "--flink-version", "1.20"]);
    let entries = jar_entries(&jar);
    assert_eq!(&entries["anomaly/job/AnomalyDetectionJob.class"][6..8], &[0, 55], "Java 11 bytecode");
    assert!(!entries.contains_key("anomaly/job/AnomalyDetectFunction.class"), "Flink 1.20 has no process table functions");
    let manifest: serde_json::Value = serde_json::from_slice(&entries["META-INF/anomaly-detector/build.json"]).unwrap();
    assert_eq!(manifest["flinkRuntime"], "FLINK-1_20");
    assert!(manifest["flinkVersion"].as_str().unwrap().starts_with("1.20"), "{manifest}");
}

/// A fake Maven repository on 127.0.0.1: serves `files` by path, 404 otherwise, counts requests.
struct FakeMaven {
    url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeMaven {
    fn start(files: BTreeMap<String, Vec<u8>>) -> FakeMaven {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/maven2", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (count, halt) = (requests.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(Ordering::SeqCst) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let line = String::from_utf8_lossy(&head).lines().next().unwrap_or("").to_string();
                let path = line.split_whitespace().nth(1).unwrap_or("").trim_start_matches("/maven2/").to_string();
                let (status, body) = match files.get(&path) {
                    Some(body) => ("200 OK", body.clone()),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let _ = stream.write_all(&body);
            }
        });
        FakeMaven { url, requests, stop, thread: Some(thread) }
    }
}

impl Drop for FakeMaven {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A small jar standing in for the Kinesis connector, with a service file the job's jar must keep whole.
fn fake_connector() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, text) in [
        ("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n\r\n"),
        (
            "META-INF/services/org.apache.flink.table.factories.Factory",
            "org.apache.flink.connector.kinesis.table.KinesisDynamicTableFactory\n",
        ),
        ("org/apache/flink/connector/kinesis/table/KinesisDynamicTableFactory.class", "fake"),
    ] {
        zip.start_file(name, options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    packager::digest::hex(&sha1::Sha1::digest(bytes))
}

#[test]
fn the_connector_is_verified_against_the_repository_sha1_and_then_served_from_the_cache() {
    let jar = fake_connector();
    let path = connector::artifact_path(FlinkVersion::V2_2);
    let files =
        BTreeMap::from([(path.clone(), jar.clone()), (format!("{path}.sha1"), format!("{}  x.jar\n", sha1_hex(&jar)).into_bytes())]);
    let cache = tempfile::tempdir().unwrap();
    let got = {
        let maven = FakeMaven::start(files);
        let got = connector::fetch(FlinkVersion::V2_2, &maven.url, cache.path(), &Progress::quiet()).unwrap();
        assert!(!got.cached);
        assert_eq!(maven.requests.load(Ordering::SeqCst), 3, "sha256 (404), sha1, jar");
        got
    };
    assert_eq!(std::fs::read(&got.path).unwrap(), jar);
    // The server is gone: only the cache can answer.
    let again = connector::fetch(FlinkVersion::V2_2, "http://127.0.0.1:9/maven2", cache.path(), &Progress::quiet()).unwrap();
    assert!(again.cached);
    assert_eq!(again.sha256, got.sha256);
}

#[test]
fn a_published_sha256_is_preferred_and_a_mismatch_is_refused_and_not_cached() {
    let jar = fake_connector();
    let path = connector::artifact_path(FlinkVersion::V1_20);
    let wrong = "0".repeat(64);
    let maven = FakeMaven::start(BTreeMap::from([(path.clone(), jar.clone()), (format!("{path}.sha256"), wrong.clone().into_bytes())]));
    let cache = tempfile::tempdir().unwrap();
    let err = connector::fetch(FlinkVersion::V1_20, &maven.url, cache.path(), &Progress::quiet()).unwrap_err().to_string();
    assert!(err.contains("checksum mismatch") && err.contains(&wrong) && err.contains("sha256"), "{err}");
    assert!(!cache.path().join("maven").join(&path).exists(), "a jar that failed verification must not be cached");
}

#[test]
fn a_repository_without_checksums_is_refused() {
    let path = connector::artifact_path(FlinkVersion::V2_2);
    let maven = FakeMaven::start(BTreeMap::from([(path, fake_connector())]));
    let cache = tempfile::tempdir().unwrap();
    let err = connector::fetch(FlinkVersion::V2_2, &maven.url, cache.path(), &Progress::quiet()).unwrap_err().to_string();
    assert!(err.contains("neither a .sha256 nor a .sha1"), "{err}");
}

#[test]
fn a_missing_artifact_names_the_url_and_the_flag() {
    let maven = FakeMaven::start(BTreeMap::new());
    let cache = tempfile::tempdir().unwrap();
    let err = connector::fetch(FlinkVersion::V2_2, &maven.url, cache.path(), &Progress::quiet()).unwrap_err();
    assert!(err.to_string().contains(&maven.url), "{err}");
}

#[test]
fn a_production_build_merges_the_fetched_connector_and_records_it() {
    let Some(flink) = flink_home() else { return };
    let jar = fake_connector();
    let path = connector::artifact_path(FlinkVersion::V2_2);
    let sha256 = packager::digest::sha256_hex(&jar);
    let maven = FakeMaven::start(BTreeMap::from([(path.clone(), jar), (format!("{path}.sha256"), sha256.clone().into_bytes())]));
    let (out, cache) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cache_arg = cache.path().to_str().unwrap().to_string();
    let built = build(&flink, out.path(), &["--maven-repo", &maven.url, "--cache-dir", &cache_arg]);
    let entries = jar_entries(&built);
    assert!(entries.contains_key("org/apache/flink/connector/kinesis/table/KinesisDynamicTableFactory.class"));
    assert!(entries.contains_key("anomaly/job/AnomalyDetectionJob.class"));
    let services = String::from_utf8_lossy(&entries["META-INF/services/org.apache.flink.table.factories.Factory"]).into_owned();
    assert!(services.contains("KinesisDynamicTableFactory"), "{services}");
    let manifest: serde_json::Value = serde_json::from_slice(&entries["META-INF/anomaly-detector/build.json"]).unwrap();
    assert_eq!(manifest["local"], false);
    assert_eq!(manifest["kinesisConnector"]["sha256"], sha256);
    assert_eq!(manifest["kinesisConnector"]["version"], "6.0.0-2.0");
    assert_eq!(manifest["flinkRuntime"], "FLINK-2_2");
}

/// `packager run ARGS…` and `packager run --flink ARGS…` must print the same thing.
fn assert_flink_matches_plain_run(flink: &Path, args: &[&str]) {
    let jar = local_jar(flink);
    let plain = packager().arg("run").args(args).output().unwrap();
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let on_flink = packager().args(["run", "--flink", "--jar"]).arg(&jar).arg("--flink-home").arg(flink).args(args).output().unwrap();
    assert!(on_flink.status.success(), "packager run --flink failed:\n{}", String::from_utf8_lossy(&on_flink.stderr));
    assert!(!plain.stdout.is_empty(), "the input must give some output to compare");
    let (a, b) = (String::from_utf8_lossy(&plain.stdout), String::from_utf8_lossy(&on_flink.stdout));
    assert!(a == b, "packager run and packager run --flink differ for {args:?}:\n--- run\n{a}\n--- run --flink\n{b}");
    assert!(String::from_utf8_lossy(&on_flink.stderr).contains("MiniCluster"));
}

#[test]
fn run_flink_gives_the_anomalies_plain_run_gives_on_the_bundled_sample() {
    let Some(flink) = flink_home() else { return };
    assert_flink_matches_plain_run(&flink, &[]);
}

#[test]
fn run_flink_sql_with_anomaly_detect_over_the_default_config_gives_what_plain_run_gives() {
    let Some(flink) = flink_home() else { return };
    let dir = tempfile::tempdir().unwrap();
    let query = dir.path().join("anomalies.sql");
    std::fs::write(
        &query,
        "-- the anomalies of each user, as packager run finds them\n\
         INSERT INTO anomalies\n  SELECT verdict FROM ANOMALY_DETECT(input => TABLE events PARTITION BY userId) WHERE is_anomaly;\n",
    )
    .unwrap();
    let jar = local_jar(&flink);
    let plain = packager().arg("run").output().unwrap();
    assert!(plain.status.success(), "{}", String::from_utf8_lossy(&plain.stderr));
    let on_flink =
        packager().args(["run", "--flink", "--sql"]).arg(&query).arg("--jar").arg(&jar).arg("--flink-home").arg(&flink).output().unwrap();
    assert!(on_flink.status.success(), "packager run --flink --sql failed:\n{}", String::from_utf8_lossy(&on_flink.stderr));
    let (a, b) = (String::from_utf8_lossy(&plain.stdout), String::from_utf8_lossy(&on_flink.stdout));
    assert!(!a.is_empty(), "the sample must raise anomalies");
    assert!(a == b, "packager run and packager run --flink --sql differ:\n--- run\n{a}\n--- run --flink --sql\n{b}");
}

#[test]
fn run_flink_refuses_a_flink_version_its_jar_is_not_built_for() {
    let Some(flink) = flink_home() else { return };
    let jar = local_jar(&flink);
    let out = packager().args(["run", "--flink", "--flink-version", "1.20", "--jar"]).arg(&jar).output().unwrap();
    assert!(!out.status.success());
    let stderr = flat(&out.stderr);
    assert!(stderr.contains("built for FLINK-2_2") && stderr.contains("--flink-version 1.20"), "{stderr}");
}

#[test]
fn run_flink_matches_plain_run_with_every_verdict_a_changed_config_and_bad_lines() {
    let Some(flink) = flink_home() else { return };
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let generated = packager().args(["generate", "--seed", "7", "--users", "20", "--events", "1500"]).output().unwrap();
    assert!(generated.status.success());
    let mut text = generated.stdout;
    text.extend_from_slice(b"not json\n{\"userId\":\"u1\",\"amount\":\"lots\"}\n");
    std::fs::write(&events, text).unwrap();
    let file = events.to_str().unwrap();
    assert_flink_matches_plain_run(
        &flink,
        &[file, "--emit", "all", "--output", "text", "--threshold-multiplier", "2.5", "--detector", "ewma"],
    );
}
