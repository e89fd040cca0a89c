//! The JNI host library (`anomaly-host --features jni`, release, runtime-only wasmtime) for Managed Flink's Linux
//! x86-64: cross-built with `cargo zigbuild` against glibc 2.17 so it loads on the service's older glibc, or built for
//! this machine's own target when zigbuild is missing (fine for local runs, said loudly, recorded in the manifest).

use super::error::BuildError;
use super::tools::{self, Zigbuild};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The zigbuild target: Linux x86-64 linked against glibc 2.17 at most.
pub const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
/// The library's file name.
pub const LIBRARY: &str = "libanomaly_host.so";

/// A built host library and what it was built for.
#[derive(Debug, Clone)]
pub struct HostLibrary {
    pub path: PathBuf,
    /// `x86_64-unknown-linux-gnu.2.17`, or the machine's own target after a fallback.
    pub target: String,
    /// Why the machine's own target was used, when it was.
    pub fallback: Option<String>,
}

/// Builds the host in `project` into `target_dir`; `zigbuild` says whether (and from where) the cross build can run,
/// `None` skips it on purpose (`--no-zigbuild`).
pub fn build(project: &Path, target_dir: &Path, zigbuild: Option<&Zigbuild>, quiet: bool) -> Result<HostLibrary, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let fallback = match zigbuild {
        None => Some("--no-zigbuild was given".to_string()),
        Some(Zigbuild::Missing(why)) => Some(why.clone()),
        Some(_) => None,
    };
    let machine = format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS);
    if fallback.is_some() && machine != "x86_64-linux" {
        return Err(BuildError::NoCrossBuild { machine });
    }
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(project);
    if let Some(Zigbuild::Installed(dir)) = zigbuild {
        cmd.env("PATH", tools::path_with(dir));
    }
    let (target, out_dir) = match &fallback {
        None => {
            cmd.args(["zigbuild", "--target", ZIG_TARGET]);
            (ZIG_TARGET.to_string(), target_dir.join("x86_64-unknown-linux-gnu").join("release"))
        }
        Some(_) => {
            cmd.arg("build");
            (machine_target(), target_dir.join("release"))
        }
    };
    cmd.args(["--locked", "--release", "-p", "anomaly-host", "--features", "jni", "--lib", "--target-dir"]).arg(target_dir);
    if quiet {
        cmd.arg("--quiet");
    }
    // Flags meant for an outer build (a test's, a wrapper's) must not leak into this one.
    for var in ["CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "CARGO_MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    let status = cmd.stdout(Stdio::null()).status().map_err(|e| BuildError::Tool { what: "cargo".into(), message: e.to_string() })?;
    if !status.success() {
        return Err(BuildError::Tool {
            what: format!("building the JNI host for {target}"),
            message: "cargo reported errors (above)".into(),
        });
    }
    Ok(HostLibrary { path: out_dir.join(LIBRARY), target, fallback })
}

/// This machine's target triple, as rustc names it.
fn machine_target() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .args(["-vV"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().find_map(|l| l.strip_prefix("host: ").map(str::to_string)))
        .unwrap_or_else(|| format!("{}-unknown-{}", std::env::consts::ARCH, std::env::consts::OS))
}
