//! Records the wasmtime version the packager (and so every `.cwasm` it precompiles) is built with, read from the
//! workspace's Cargo.lock: the one place that knows it, so the build manifest can never disagree with the engine.

use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let lock = manifest_dir.join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_else(|e| panic!("read {}: {e}", lock.display()));
    let version = text
        .split("[[package]]")
        .find(|p| p.lines().any(|l| l.trim() == "name = \"wasmtime\""))
        .and_then(|p| p.lines().find_map(|l| l.trim().strip_prefix("version = \"")?.strip_suffix('"').map(str::to_string)))
        .expect("Cargo.lock lists wasmtime");
    println!("cargo:rustc-env=PACKAGER_WASMTIME_VERSION={version}");
}
