//! The one recipe that compiles `detector-wasm` into the kernel `.wasm`: used by this crate's build script (to embed
//! the module) and by `packager build` (to ship it), so both produce the same bytes from the same sources.
//!
//! A nested cargo with its own target directory avoids the outer build's lock. Only `std`: a build script includes
//! this file with `#[path]`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The kernel's target.
pub const TARGET: &str = "wasm32-unknown-unknown";
/// The cargo profile the kernel is built with (workspace Cargo.toml: LTO, one codegen unit, panic = abort).
pub const PROFILE: &str = "kernel";
/// The package the kernel is built from.
pub const PACKAGE: &str = "detector-wasm";

/// Builds the kernel from the workspace at `workspace` into `target_dir`; returns the `.wasm` path.
///
/// `cargo` is the cargo to run (a build script passes `$CARGO`); `quiet` hides cargo's progress lines.
pub fn compile(workspace: &Path, target_dir: &Path, cargo: OsString, quiet: bool) -> Result<PathBuf, String> {
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(workspace).args(["build", "--locked", "-p", PACKAGE, "--lib", "--target", TARGET, "--profile", PROFILE]);
    if quiet {
        cmd.arg("--quiet");
    }
    cmd.arg("--target-dir").arg(target_dir).stdout(Stdio::null());
    // The outer build's flags are for the host target, not for wasm32.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER", "CARGO_MAKEFLAGS"]
    {
        cmd.env_remove(var);
    }
    let status = cmd.status().map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        if target_installed() == Some(false) {
            return Err(format!("the {TARGET} target is not installed; run `rustup target add {TARGET}` and build again"));
        }
        return Err("building the wasm kernel failed (see cargo's errors above)".into());
    }
    Ok(target_dir.join(TARGET).join(PROFILE).join("detector_wasm.wasm"))
}

fn target_installed() -> Option<bool> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).args(["--print", "sysroot"]).output().ok()?;
    Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("lib/rustlib").join(TARGET).exists())
}
