//! What `packager build` leaves for the commands that use its jar (`run --flink`, `deploy`): where the jar is, the
//! entries the job looks for, and the build manifest (`META-INF/anomaly-detector/build.json`): what went in, so
//! `packager deploy` can refuse a `--local` jar and anyone can tell which kernel and host a running application has.

use serde::{Deserialize, Serialize};

/// Where `packager build` writes, relative to the project.
pub const OUT_DIR: &str = "target/packager";
/// The jar's file name under the output directory.
pub const JAR_NAME: &str = "anomaly-detector.jar";
/// The job's entry point.
pub const MAIN_CLASS: &str = "anomaly.job.AnomalyDetectionJob";
/// Jar entry of the precompiled kernel (`anomaly.job.KernelSource`), for signal-based traps (the default).
pub const KERNEL_ENTRY: &str = "kernel/kernel.cwasm";
/// Jar entry of the same kernel precompiled for the engine without signal handlers (`job.signal_traps = false`).
pub const KERNEL_NO_SIGNALS_ENTRY: &str = "kernel/kernel-no-signals.cwasm";
/// Jar entry of the JNI library (`anomaly.job.NativeKernel`).
pub const HOST_ENTRY: &str = "native/linux-x86_64/libanomaly_host.so";
/// Where the manifest lives inside the jar.
pub const MANIFEST_ENTRY: &str = "META-INF/anomaly-detector/build.json";
/// The runtime of jars whose manifest predates `flinkRuntime`: packager built only for Flink 1.20 then.
pub const LEGACY_RUNTIME: &str = "FLINK-1_20";

/// The manifest. Field order is the JSON order; nothing in it depends on the time of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildManifest {
    pub packager_version: String,
    /// sha256 of the `.wasm` kernel (the module that was validated and precompiled).
    pub kernel_sha256: String,
    pub abi_version: u32,
    /// Of the Flink distribution the job was compiled against.
    pub flink_version: String,
    /// The Managed Flink runtime the jar is for (`FLINK-2_2`, `FLINK-1_20`); deploy refuses an application on another.
    pub flink_runtime: String,
    pub wasmtime_version: String,
    /// `git rev-parse HEAD` of the project, `-dirty` when it had uncommitted changes; `unknown` outside git.
    pub git_revision: String,
    /// Built with `--local`: no Kinesis connector, for MiniCluster runs only.
    pub local: bool,
    /// The connector jar's origin and sha256, when one was added.
    pub kinesis_connector: Option<ConnectorInfo>,
    /// The target the JNI host was built for (`x86_64-unknown-linux-gnu.2.17`, or the machine's own after a fallback).
    pub host_target: String,
}

/// Which connector jar was merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorInfo {
    pub artifact: String,
    pub version: String,
    pub sha256: String,
}

/// The `flinkRuntime` a jar's manifest records (`LEGACY_RUNTIME` for older jars); `None` when the file is no jar
/// with a manifest.
pub fn runtime_of_jar(path: &std::path::Path) -> Option<String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).ok()?).ok()?;
    let mut text = String::new();
    archive.by_name(MANIFEST_ENTRY).ok()?.read_to_string(&mut text).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(manifest.get("flinkRuntime").and_then(|v| v.as_str()).unwrap_or(LEGACY_RUNTIME).to_string())
}

impl BuildManifest {
    /// Pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the manifest always serializes");
        bytes.push(b'\n');
        bytes
    }
}
