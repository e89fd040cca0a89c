//! Compiles the `detector-wasm` crate for `wasm32-unknown-unknown` (profile `kernel`) so that hosts can embed the
//! exact module that ships to Flink. The recipe lives in `src/compile.rs`, shared with `packager build`.

#[path = "src/compile.rs"]
mod compile;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let workspace = manifest_dir.join("../..").canonicalize().expect("workspace root exists");
    let kernel_dir = workspace.join("detector-wasm");
    for path in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", kernel_dir.join(path).display());
    }
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.lock").display());
    println!("cargo:rerun-if-changed={}", workspace.join("Cargo.toml").display());
    println!("cargo:rerun-if-changed={}", manifest_dir.join("src/compile.rs").display());

    let target_dir = env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target")).join("kernel-wasm");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let wasm = compile::compile(&workspace, &target_dir, cargo, true).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("kernel.wasm");
    std::fs::copy(&wasm, &out).unwrap_or_else(|e| panic!("copy {} to {}: {e}", wasm.display(), out.display()));
}
