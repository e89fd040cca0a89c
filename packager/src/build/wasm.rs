//! The kernel: compile `detector-wasm` for wasm32 (the recipe `kernel-wasm` embeds, not a copy), validate it through
//! the host exactly as the Flink job will load it, and precompile it to `.cwasm` with the host's engine config.

use super::error::BuildError;
use anomaly_host::{KernelModule, Runner, Traps};
use detector_wasm::Config;
use detector_wasm::replay::Replay;
use std::path::{Path, PathBuf};

/// Compiles the kernel in `project` (target dir `target_dir/kernel-wasm`, shared with the `kernel-wasm` crate's build).
pub fn compile(project: &Path, target_dir: &Path, quiet: bool) -> Result<Vec<u8>, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let path = kernel_wasm::compile::compile(project, &target_dir.join("kernel-wasm"), cargo, quiet).map_err(BuildError::KernelCompile)?;
    std::fs::read(&path).map_err(|e| BuildError::read(path, e))
}

/// What validation learned about a kernel.
#[derive(Debug, Clone)]
pub struct Validated {
    /// The kernel's `ABI_VERSION`.
    pub abi_version: u32,
    /// The kernel's own version string.
    pub kernel_version: String,
    /// Events the smoke run scored.
    pub smoke_events: u64,
    /// Anomalies the smoke run found.
    pub smoke_anomalies: u64,
}

/// Checks a kernel the way the job loads it: no imports, every ABI export, a known ABI version (the host refuses
/// anything else), then a replay of `sample` with the default configuration that must score events without a trap.
pub fn validate(wasm: &[u8], origin: &Path, sample: &[u8]) -> Result<Validated, BuildError> {
    let invalid = |message: String| BuildError::KernelInvalid { path: origin.to_path_buf(), message };
    let module = KernelModule::from_wasm(wasm).map_err(|e| invalid(e.to_string()))?;
    let config = Config::default();
    let kernel = module.instantiate(config.to_json().as_bytes()).map_err(|e| invalid(e.to_string()))?;
    let info = kernel.info().clone();
    let mut replay = Replay::new(Runner::new(kernel), 256);
    replay.run(sample, |_| Ok(())).map_err(|e| invalid(format!("the smoke run over the bundled sample failed: {e}")))?;
    let summary = replay.summary();
    if summary.kernel_traps > 0 {
        return Err(invalid(format!("the kernel trapped {} times on the bundled sample events", summary.kernel_traps)));
    }
    if summary.events == 0 {
        return Err(invalid(format!("the kernel scored none of the bundled sample events ({} were dead letters)", summary.invalid)));
    }
    Ok(Validated {
        abi_version: info.abi_version,
        kernel_version: info.kernel_version,
        smoke_events: summary.events,
        smoke_anomalies: summary.anomalies,
    })
}

/// Precompiles for the Managed Flink target with the host's engine config for `traps` (`anomaly_host::engine`),
/// then loads the result into the runtime engine when this machine can run it, so a config drift fails here and
/// not in Flink.
pub fn precompile(wasm: &[u8], traps: Traps) -> Result<Vec<u8>, BuildError> {
    let cwasm = anomaly_host::engine::precompile(wasm, traps).map_err(|e| BuildError::Precompile(format!("{e:#}")))?;
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        // SAFETY: the bytes were produced just above by the host's own precompile.
        unsafe { KernelModule::from_cwasm(&cwasm, traps) }
            .map_err(|e| BuildError::Precompile(format!("the runtime engine refuses the fresh .cwasm: {e}")))?;
    }
    Ok(cwasm)
}

/// Where the built `.wasm` is reported from (the cargo output path, for messages).
pub fn wasm_path(target_dir: &Path) -> PathBuf {
    target_dir.join("kernel-wasm").join(kernel_wasm::compile::TARGET).join(kernel_wasm::compile::PROFILE).join("detector_wasm.wasm")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every export the host requires, with `abi_version` returning `abi`; `extra` goes into the module.
    fn kernel_wat(abi: u32, extra: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module {extra}
                 (memory (export "memory") 1)
                 (func (export "abi_version") (result i32) i32.const {abi})
                 (func (export "state_size") (result i32) i32.const 0)
                 (func (export "input_reserve") (param i32) (result i32) i32.const 0)
                 (func (export "output_ptr") (result i32) i32.const 0)
                 (func (export "output_len") (result i32) i32.const 0)
                 (func (export "kernel_info") (result i32) i32.const 0)
                 (func (export "configure") (param i32) (result i32) i32.const 0)
                 (func (export "parse_batch") (param i32 i32) (result i32) i32.const 0)
                 (func (export "detect_batch") (param i32 i32) (result i32) i32.const 0))"#
        ))
        .unwrap()
    }

    fn message(wasm: &[u8]) -> String {
        validate(wasm, Path::new("k.wasm"), crate::sample::SAMPLE).unwrap_err().to_string()
    }

    #[test]
    fn the_real_kernel_passes_and_reports_its_abi_version() {
        let v = validate(kernel_wasm::WASM, Path::new("k.wasm"), crate::sample::SAMPLE).unwrap();
        assert_eq!(v.abi_version, detector_wasm::abi::ABI_VERSION);
        assert!(v.smoke_events > 1000 && v.smoke_anomalies > 0, "{v:?}");
    }

    #[test]
    fn a_kernel_that_imports_anything_is_refused_by_name() {
        let err = message(&kernel_wat(detector_wasm::abi::ABI_VERSION, r#"(import "wasi_snapshot_preview1" "fd_write" (func))"#));
        assert!(err.contains("imports `wasi_snapshot_preview1::fd_write`"), "{err}");
    }

    #[test]
    fn a_kernel_with_an_unknown_abi_version_is_refused() {
        let err = message(&kernel_wat(99, ""));
        assert!(err.contains("ABI version 99"), "{err}");
    }

    #[test]
    fn a_kernel_missing_an_export_is_refused_by_name() {
        let wasm = wat::parse_str(r#"(module (memory (export "memory") 1))"#).unwrap();
        assert!(message(&wasm).contains("does not export `abi_version`"));
    }

    #[test]
    fn precompiled_kernels_load_into_the_runtime_engine_of_their_trap_mode_only() {
        for traps in Traps::ALL {
            let cwasm = precompile(kernel_wasm::WASM, traps).unwrap();
            assert!(unsafe { KernelModule::from_cwasm(&cwasm, traps) }.is_ok(), "{traps:?}");
            let other = if traps == Traps::Signals { Traps::Explicit } else { Traps::Signals };
            assert!(unsafe { KernelModule::from_cwasm(&cwasm, other) }.is_err(), "{traps:?} kernel in a {other:?} engine");
        }
    }
}
