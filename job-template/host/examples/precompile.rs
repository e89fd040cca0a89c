//! Precompiles a kernel into the `.cwasm` the runtime-only JNI library loads (`engine::precompile`).
//!
//! `cargo run -p anomaly-host --example precompile -- [--no-signals] OUT.cwasm [IN.wasm|IN.wat]`; without an input,
//! the kernel the `kernel-wasm` crate builds from `detector-wasm`. A `.wat` input is for tests that need deliberately
//! broken kernels. `--no-signals` precompiles for the engine without signal handlers (`job.signal_traps = false`).

use anomaly_host::Traps;
use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let traps = if args.first().is_some_and(|a| a.as_os_str() == "--no-signals") {
        args.remove(0);
        Traps::Explicit
    } else {
        Traps::Signals
    };
    let (out, input) = match args.as_slice() {
        [out] => (out, None),
        [out, input] => (out, Some(input)),
        _ => {
            eprintln!("usage: precompile [--no-signals] OUT.cwasm [IN.wasm|IN.wat]");
            return ExitCode::from(2);
        }
    };
    match run(out, input, traps) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(out: &PathBuf, input: Option<&PathBuf>, traps: Traps) -> Result<(), String> {
    let wasm = match input {
        None => kernel_wasm::WASM.to_vec(),
        Some(path) if path.extension().is_some_and(|e| e == "wat") => {
            wat::parse_file(path).map_err(|e| format!("cannot read {} as WebAssembly text: {e}", path.display()))?
        }
        Some(path) => std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
    };
    let cwasm = anomaly_host::engine::precompile(&wasm, traps).map_err(|e| format!("cannot precompile the kernel: {e:#}"))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(out, cwasm).map_err(|e| format!("cannot write {}: {e}", out.display()))
}
