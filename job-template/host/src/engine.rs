//! The one wasmtime engine configuration, shared by the JNI library, `packager run` and `packager build`.
//!
//! A `.cwasm` only loads into an engine configured like the one that produced it, so every engine in the product
//! is built here. The settings come from what was measured inside Flink TaskManagers (see ARCHITECTURE.md):
//! - no signal-based traps: a library copy unloaded with its job must not leave a signal handler behind;
//! - a small memory reservation with no guard region: the default reserves ~4 GiB of address space per instance;
//! - a bounded wasm stack: deep recursion must trap, not overflow a small JVM thread stack;
//! - a time limit per call (epoch interruption): a runaway kernel is stopped, never hangs a TaskManager. Epochs
//!   cost the kernel less than fuel (benchmarks/README.md); they need a clock, [`register`], whose thread is joined
//!   before a library copy is unloaded ([`stop_clock`], called from `JNI_OnUnload`).

use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, EngineWeak};

/// Address space reserved up front for a kernel's linear memory; it can still grow (and move) past this.
pub const MEMORY_RESERVATION: u64 = 32 << 20;
/// Extra address space reserved for growth after a move.
pub const MEMORY_RESERVATION_FOR_GROWTH: u64 = 16 << 20;
/// Largest wasm stack, bytes.
pub const MAX_WASM_STACK: usize = 128 << 10;
/// Largest linear memory a kernel may grow to, bytes.
pub const MAX_MEMORY: usize = 512 << 20;
/// How often the clock advances every engine's epoch.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);
/// A call's time limit, in ticks: 2 s, on top of [`TICKS_PER_INPUT_MIB`] for every MiB of the request. A batch of
/// records takes well under a millisecond, so only a runaway kernel (or a thread starved for seconds) reaches it.
pub const TICKS_PER_CALL: u64 = 200;
/// Extra ticks per MiB of request (parsing runs at tens of MiB/s or more: 100 ms per MiB is ample).
pub const TICKS_PER_INPUT_MIB: u64 = 10;
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
        .epoch_interruption(true);
    config
}

/// The time limit for a call with a request of `request_len` bytes, in ticks of [`EPOCH_TICK`].
pub fn deadline_ticks(base: u64, request_len: usize) -> u64 {
    base.saturating_add(TICKS_PER_INPUT_MIB.saturating_mul((request_len as u64).div_ceil(1 << 20)))
}

/// The epoch clock of this library copy: one thread advancing the epoch of every registered engine that is still
/// alive. It ends by itself once none is, and [`stop_clock`] ends it at once.
struct Clock {
    engines: Vec<EngineWeak>,
    thread: Option<JoinHandle<()>>,
    running: bool,
    stopped: bool,
}

static CLOCK: Mutex<Clock> = Mutex::new(Clock { engines: Vec::new(), thread: None, running: false, stopped: false });

fn clock() -> std::sync::MutexGuard<'static, Clock> {
    CLOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Puts `engine` on the epoch clock, starting the clock's thread if it is not running.
pub fn register(engine: &Engine) {
    let mut clock = clock();
    clock.engines.push(engine.weak());
    if clock.running || clock.stopped {
        return;
    }
    // A previous thread that ended on its own has left (or is leaving) the loop: reap it before starting another.
    if let Some(old) = clock.thread.take() {
        let _ = old.join();
    }
    clock.running = true;
    clock.thread = Some(std::thread::Builder::new().name("wasm-epoch".into()).spawn(tick).expect("spawn the epoch clock"));
}

fn tick() {
    loop {
        std::thread::sleep(EPOCH_TICK);
        let mut clock = clock();
        clock.engines.retain(|weak| weak.upgrade().map(|engine| engine.increment_epoch()).is_some());
        if clock.stopped || clock.engines.is_empty() {
            // Nothing after this runs under the lock, so `register` and `stop_clock` may join this thread.
            clock.running = false;
            return;
        }
    }
}

/// Stops the clock for good and waits for its thread to end (before the library's code is unmapped). Calls that
/// start afterwards are not interrupted.
pub fn stop_clock() {
    let thread = {
        let mut clock = clock();
        clock.stopped = true;
        clock.thread.take()
    };
    if let Some(thread) = thread {
        let _ = thread.join();
    }
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
