//! The one wasmtime engine configuration, shared by the JNI library, `packager run` and `packager build`.
//!
//! A `.cwasm` only loads into an engine configured like the one that produced it, so every engine in the product
//! is built here. The settings come from what was measured inside Flink TaskManagers (see ARCHITECTURE.md and
//! benchmarks/README.md):
//! - signal-based traps with guard pages ([`Traps::Signals`], the default): the compiled kernel carries no bounds
//!   checks, the base of linear memory never moves (a 4 GiB reservation per instance, address space only), and
//!   wasmtime's handlers pass every fault outside WebAssembly on to the JVM's. Safe in a JVM only because the JNI
//!   library pins itself once loaded (`jni.rs`, `JNI_OnLoad`): no handler ever outlives its code;
//! - [`Traps::Explicit`] for processes where signal handlers are not welcome (a signal-based profiler agent): no
//!   handler is ever installed and every memory access is bounds-checked, with a fixed reservation of
//!   [`MAX_MEMORY`] so the base still never moves;
//! - a bounded wasm stack: deep recursion must trap, not overflow a small JVM thread stack;
//! - a time limit per call (epoch interruption): a runaway kernel is stopped, never hangs a TaskManager. Epochs
//!   cost the kernel less than fuel (benchmarks/README.md); they need a clock, whose thread is joined before a
//!   library copy is unloaded ([`stop_clock`], called from `JNI_OnUnload`);
//! - one runtime engine per trap mode per library copy ([`runtime_engine`]), shared by every kernel alive in it.

use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, EngineWeak};

/// How a kernel's faults (out-of-bounds accesses, `unreachable`, division by zero) are caught. A `.cwasm` is
/// precompiled for one of the two and loads only into an engine of the same kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traps {
    /// Signal handlers and guard pages: no bounds checks in compiled code. The product's default.
    Signals,
    /// No signal handler, ever; explicit bounds checks (slower). Selected by `job.signal_traps = false`.
    Explicit,
}

impl Traps {
    /// Both modes, in the order `packager build` precompiles them.
    pub const ALL: [Traps; 2] = [Traps::Signals, Traps::Explicit];

    /// How the mode reads in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Traps::Signals => "signal-based traps",
            Traps::Explicit => "explicit bounds checks (no signal handlers)",
        }
    }

    fn index(self) -> usize {
        match self {
            Traps::Signals => 0,
            Traps::Explicit => 1,
        }
    }
}

/// Address space reserved for a kernel's linear memory with [`Traps::Signals`]: all a 32-bit index can reach, so
/// with the guard region below no access needs a bounds check. Only address space: pages are committed as the
/// kernel grows its memory.
pub const SIGNALS_MEMORY_RESERVATION: u64 = 4 << 30;
/// Unmapped address space after linear memory ([`Traps::Signals`]): covers a 32-bit index plus any static offset
/// the compiler folds into an access up to this size.
pub const SIGNALS_GUARD_SIZE: u64 = 32 << 20;
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

/// The runtime settings of every engine with `traps`.
pub fn config(traps: Traps) -> Config {
    let mut config = Config::new();
    match traps {
        Traps::Signals => {
            config.signals_based_traps(true).memory_reservation(SIGNALS_MEMORY_RESERVATION).memory_guard_size(SIGNALS_GUARD_SIZE)
        }
        // A reservation as large as the kernel may ever grow (StoreLimits caps it there too), so memory never moves
        // and the compiled code keeps its base in a register instead of reloading it after every call.
        Traps::Explicit => config.signals_based_traps(false).memory_reservation(MAX_MEMORY as u64).memory_guard_size(0),
    };
    config.memory_may_move(false).max_wasm_stack(MAX_WASM_STACK).epoch_interruption(true);
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
fn register(engine: &Engine) {
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

/// The engines of this library copy, one per trap mode, alive while a kernel uses them.
static RUNTIME_ENGINES: Mutex<[Option<EngineWeak>; 2]> = Mutex::new([None, None]);

/// The engine with `traps` that loads precompiled `.cwasm` kernels (no compiler inside): the one every kernel of
/// this library copy shares while any is alive, or a new one (on the epoch clock). The first [`Traps::Signals`]
/// engine of a process installs wasmtime's signal handlers; [`Traps::Explicit`] never does.
pub fn runtime_engine(traps: Traps) -> Result<Engine, wasmtime::Error> {
    let mut engines = RUNTIME_ENGINES.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let slot = &mut engines[traps.index()];
    if let Some(engine) = slot.as_ref().and_then(EngineWeak::upgrade) {
        return Ok(engine);
    }
    let engine = Engine::new(&config(traps))?;
    register(&engine);
    *slot = Some(engine.weak());
    Ok(engine)
}

/// An engine with Cranelift and `traps`, compiling for `target` (`None` = this machine, with its CPU features); on
/// the epoch clock.
#[cfg(feature = "compiler")]
pub fn compiler_engine(target: Option<&str>, traps: Traps) -> Result<Engine, wasmtime::Error> {
    let mut config = config(traps);
    if let Some(target) = target {
        // An explicit target disables host CPU feature detection: the code runs on any x86-64.
        config.target(target)?;
    }
    // Without signal-based traps, Cranelift's spectre mitigations (which rely on faulting loads) must be off; with
    // them, no heap access is bounds-checked, so there is nothing to mitigate. Off in both, so one flag set serves
    // both modes (the kernel is our own code, not an untrusted guest).
    // SAFETY: both are documented Cranelift settings and required by `signals_based_traps(false)`.
    unsafe {
        config.cranelift_flag_set("enable_heap_access_spectre_mitigation", "false");
        config.cranelift_flag_set("enable_table_access_spectre_mitigation", "false");
    }
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    let engine = Engine::new(&config)?;
    register(&engine);
    Ok(engine)
}

/// Compiles a kernel `.wasm` into a `.cwasm` for [`PRECOMPILE_TARGET`], loadable by [`runtime_engine`]`(traps)`.
#[cfg(feature = "compiler")]
pub fn precompile(wasm: &[u8], traps: Traps) -> Result<Vec<u8>, wasmtime::Error> {
    compiler_engine(Some(PRECOMPILE_TARGET), traps)?.precompile_module(wasm)
}
