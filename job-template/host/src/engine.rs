//! The one wasmtime engine configuration, shared by the JNI library, `packager run` and `packager build`.
//!
//! A `.cwasm` only loads into an engine configured like the one that produced it, so every engine in the product
//! is built here. The settings come from what was measured inside Flink TaskManagers (see ARCHITECTURE.md):
//! - no signal-based traps: a library copy unloaded with its job must not leave a signal handler behind;
//! - a small memory reservation with no guard region: the default reserves ~4 GiB of address space per instance;
//! - a bounded wasm stack: deep recursion must trap, not overflow a small JVM thread stack;
//! - fuel: a runaway kernel is stopped after a bounded amount of work per call, never hangs a TaskManager.

use wasmtime::{Config, Engine};

/// Address space reserved up front for a kernel's linear memory; it can still grow (and move) past this.
pub const MEMORY_RESERVATION: u64 = 32 << 20;
/// Extra address space reserved for growth after a move.
pub const MEMORY_RESERVATION_FOR_GROWTH: u64 = 16 << 20;
/// Largest wasm stack, bytes.
pub const MAX_WASM_STACK: usize = 128 << 10;
/// Largest linear memory a kernel may grow to, bytes.
pub const MAX_MEMORY: usize = 512 << 20;
/// Fuel granted per call, on top of [`FUEL_PER_INPUT_BYTE`] for every byte of the request.
pub const FUEL_PER_CALL: u64 = 500_000_000;
/// Fuel granted per request byte (parsing costs a few dozen instructions per byte).
pub const FUEL_PER_INPUT_BYTE: u64 = 400;
/// The target `.cwasm` files are precompiled for: Managed Flink's Linux x86-64, baseline CPU features only.
pub const PRECOMPILE_TARGET: &str = "x86_64-unknown-linux-gnu";

/// The runtime settings every engine shares.
pub fn config() -> Config {
    let mut config = Config::new();
    config
        .signals_based_traps(false)
        .memory_reservation(MEMORY_RESERVATION)
        .memory_guard_size(0)
        .memory_reservation_for_growth(MEMORY_RESERVATION_FOR_GROWTH)
        .max_wasm_stack(MAX_WASM_STACK)
        .consume_fuel(true);
    config
}

/// An engine that can only load precompiled `.cwasm` kernels (no compiler inside).
pub fn runtime_engine() -> Result<Engine, wasmtime::Error> {
    Engine::new(&config())
}

/// An engine with Cranelift, compiling for `target` (`None` = this machine, with its CPU features).
#[cfg(feature = "compiler")]
pub fn compiler_engine(target: Option<&str>) -> Result<Engine, wasmtime::Error> {
    let mut config = config();
    if let Some(target) = target {
        // An explicit target disables host CPU feature detection: the code runs on any x86-64.
        config.target(target)?;
    }
    // Without signal-based traps, Cranelift's spectre mitigations (which rely on faulting loads) must be off.
    // SAFETY: both are documented Cranelift settings and required by `signals_based_traps(false)`.
    unsafe {
        config.cranelift_flag_set("enable_heap_access_spectre_mitigation", "false");
        config.cranelift_flag_set("enable_table_access_spectre_mitigation", "false");
    }
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    Engine::new(&config)
}

/// Compiles a kernel `.wasm` into a `.cwasm` for [`PRECOMPILE_TARGET`], loadable by [`runtime_engine`].
#[cfg(feature = "compiler")]
pub fn precompile(wasm: &[u8]) -> Result<Vec<u8>, wasmtime::Error> {
    compiler_engine(Some(PRECOMPILE_TARGET))?.precompile_module(wasm)
}
