//! Compiles the `detector-wasm` crate for `wasm32-unknown-unknown` (profile `kernel`) so that hosts can embed the
//! exact module that ships to Flink. A nested cargo with its own target directory avoids the outer build's lock.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..").canonicalize().expect("workspace root exists");
    let kernel_dir = workspace.join("detector-wasm");
    for path in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", kernel_dir.join(path).display());
    }
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.toml").display());

    let target_dir = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target")).join("kernel-wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "--quiet", "--locked", "-p", "detector-wasm", "--lib", "--target", TARGET, "--profile", "kernel", "--target-dir"])
        .arg(&target_dir);
    // The outer build's flags are for the host target, not for wasm32.
    for var in
        ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "CARGO_TARGET_DIR", "RUSTC_WORKSPACE_WRAPPER", "CARGO_MAKEFLAGS"]
    {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the wasm kernel");
    if !status.success() {
        let sysroot = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into())).args(["--print", "sysroot"]).output();
        let installed =
            sysroot.ok().map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()).join("lib/rustlib").join(TARGET).exists());
        if installed == Some(false) {
            panic!("the {TARGET} target is not installed; run `rustup target add {TARGET}` and build again");
        }
        panic!("building the wasm kernel failed (see the errors above)");
    }
    let wasm = target_dir.join(TARGET).join("kernel").join("detector_wasm.wasm");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("kernel.wasm");
    std::fs::copy(&wasm, &out).unwrap_or_else(|e| panic!("copy {} to {}: {e}", wasm.display(), out.display()));
}
