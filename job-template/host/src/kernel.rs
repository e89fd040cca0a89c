//! The host side of the kernel ABI: load a kernel, check it, and call it.
//!
//! [`KernelModule`] is a compiled kernel (cheap to instantiate); [`Kernel`] is one configured instance with raw
//! batch calls; [`Runner`] adds what every host needs on top: batching, and recovery from a trapping kernel by
//! isolating the record that caused the trap (it becomes a dead letter, its neighbours are still processed).

use detector_wasm::abi;
use detector_wasm::verdict::DeadLetter;
use detector_wasm::wire::{self, read_batch};
pub use detector_wasm::wire::{DetectOutcome, ParseOutcome};
use serde::Deserialize;
use wasmtime::{Engine, Instance, Memory, Module, Store, StoreLimits, StoreLimitsBuilder, TypedFunc};

use crate::engine::{self, Traps};

/// Everything that can go wrong hosting a kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("kernel module is not valid: {0}")]
    Invalid(String),
    #[error("kernel imports `{module}::{name}`; a kernel must import nothing (no WASI, no host functions)")]
    HasImports { module: String, name: String },
    #[error("kernel does not export `{0}`; build it from detector-wasm (abi.rs lists the exports)")]
    MissingExport(String),
    #[error("kernel speaks ABI version {found}, this host speaks {expected}; rebuild the kernel and the host from the same release")]
    AbiMismatch { found: u32, expected: u32 },
    #[error("kernel configuration refused: {0}")]
    Config(String),
    #[error("kernel trapped: {0}")]
    Trap(String),
    #[error("kernel call failed (code {code}): {message}")]
    Call { code: i32, message: String },
    #[error("kernel answer is malformed: {0}")]
    Malformed(String),
    #[error("precompiled kernel does not match this host's engine: {0}; rebuild it with `packager build`")]
    EngineMismatch(String),
}

/// What a kernel says about itself (`kernel_info`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KernelInfo {
    pub abi_version: u32,
    pub state_size: usize,
    pub state_version: u32,
    pub kernel_version: String,
    pub detectors: Vec<String>,
    pub config_keys: Vec<String>,
}

/// A compiled, validated kernel module.
#[derive(Clone)]
pub struct KernelModule {
    engine: Engine,
    module: Module,
}

impl KernelModule {
    /// Compiles a `.wasm` kernel in-process for this machine (signal-based traps).
    #[cfg(feature = "compiler")]
    pub fn from_wasm(wasm: &[u8]) -> Result<KernelModule, KernelError> {
        KernelModule::from_wasm_with(wasm, Traps::Signals)
    }

    /// Compiles a `.wasm` kernel in-process for this machine, catching its faults the way `traps` says.
    #[cfg(feature = "compiler")]
    pub fn from_wasm_with(wasm: &[u8], traps: Traps) -> Result<KernelModule, KernelError> {
        let engine = engine::compiler_engine(None, traps).map_err(|e| KernelError::Invalid(format!("{e:#}")))?;
        let module = Module::new(&engine, wasm).map_err(|e| KernelError::Invalid(format!("{e:#}")))?;
        KernelModule::checked(engine, module)
    }

    /// Loads a `.cwasm` precompiled by [`engine::precompile`] for `traps` into this library copy's engine.
    ///
    /// # Safety
    /// `cwasm` must come from [`engine::precompile`] (a trusted build artifact): wasmtime maps it as machine code.
    pub unsafe fn from_cwasm(cwasm: &[u8], traps: Traps) -> Result<KernelModule, KernelError> {
        let engine = engine::runtime_engine(traps).map_err(|e| KernelError::EngineMismatch(format!("{e:#}")))?;
        // SAFETY: forwarded to the caller.
        let module = unsafe { Module::deserialize(&engine, cwasm) }
            .map_err(|e| KernelError::EngineMismatch(format!("{e:#} (this engine runs kernels precompiled for {})", traps.describe())))?;
        KernelModule::checked(engine, module)
    }

    fn checked(engine: Engine, module: Module) -> Result<KernelModule, KernelError> {
        if let Some(import) = module.imports().next() {
            return Err(KernelError::HasImports { module: import.module().to_string(), name: import.name().to_string() });
        }
        let exported: Vec<&str> = module.exports().map(|e| e.name()).collect();
        for name in REQUIRED_EXPORTS {
            if !exported.contains(name) {
                return Err(KernelError::MissingExport(name.to_string()));
            }
        }
        Ok(KernelModule { engine, module })
    }

    /// The engine the module was compiled or loaded into.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A new instance configured with `config_json` (flat config keys; see `detector_wasm::config`).
    pub fn instantiate(&self, config_json: &[u8]) -> Result<Kernel, KernelError> {
        Kernel::new(self, config_json)
    }
}

/// Exports a kernel must have.
pub const REQUIRED_EXPORTS: &[&str] = &[
    "memory",
    "abi_version",
    "state_size",
    "input_reserve",
    "output_ptr",
    "output_len",
    "kernel_info",
    "configure",
    "parse_batch",
    "detect_batch",
];

struct Exports {
    input_reserve: TypedFunc<u32, u32>,
    output_ptr: TypedFunc<(), u32>,
    output_len: TypedFunc<(), u32>,
    configure: TypedFunc<u32, i32>,
    parse_batch: TypedFunc<(u32, u32), i32>,
    detect_batch: TypedFunc<(u32, u32), i32>,
}

/// One configured kernel instance.
pub struct Kernel {
    store: Store<StoreLimits>,
    memory: Memory,
    exports: Exports,
    info: KernelInfo,
    config_json: Vec<u8>,
    module: KernelModule,
    /// A call's base time limit, in epoch ticks (see [`engine::deadline_ticks`]).
    limit_ticks: u64,
}

fn trap(e: wasmtime::Error) -> KernelError {
    // The error's own text is a backtrace header; the cause (`wasmtime::Trap`) says what happened.
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => {
            KernelError::Trap("interrupted: the call ran past its time limit (a kernel stuck in a loop?)".into())
        }
        Some(t) => KernelError::Trap(t.to_string()),
        None => KernelError::Trap(e.root_cause().to_string()),
    }
}

impl Kernel {
    fn new(module: &KernelModule, config_json: &[u8]) -> Result<Kernel, KernelError> {
        let limits = StoreLimitsBuilder::new().memory_size(engine::MAX_MEMORY).instances(1).build();
        let mut store = Store::new(&module.engine, limits);
        store.limiter(|limits| limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(engine::TICKS_PER_CALL);
        let instance = Instance::new(&mut store, &module.module, &[]).map_err(trap)?;
        let func = |store: &mut Store<StoreLimits>, name: &str| -> Result<wasmtime::Func, KernelError> {
            instance.get_func(&mut *store, name).ok_or_else(|| KernelError::MissingExport(name.into()))
        };
        let typed_err = |name: &str, e: wasmtime::Error| KernelError::Invalid(format!("export `{name}` has the wrong signature: {e}"));
        let abi_version: TypedFunc<(), u32> = func(&mut store, "abi_version")?.typed(&store).map_err(|e| typed_err("abi_version", e))?;
        let found = abi_version.call(&mut store, ()).map_err(trap)?;
        if found != abi::ABI_VERSION {
            return Err(KernelError::AbiMismatch { found, expected: abi::ABI_VERSION });
        }
        macro_rules! typed {
            ($name:literal) => {
                func(&mut store, $name)?.typed(&store).map_err(|e| typed_err($name, e))?
            };
        }
        let exports = Exports {
            input_reserve: typed!("input_reserve"),
            output_ptr: typed!("output_ptr"),
            output_len: typed!("output_len"),
            configure: typed!("configure"),
            parse_batch: typed!("parse_batch"),
            detect_batch: typed!("detect_batch"),
        };
        let kernel_info: TypedFunc<(), i32> = typed!("kernel_info");
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| KernelError::MissingExport("memory".into()))?;
        let placeholder = KernelInfo {
            abi_version: found,
            state_size: 0,
            state_version: 0,
            kernel_version: String::new(),
            detectors: vec![],
            config_keys: vec![],
        };
        let mut kernel = Kernel {
            store,
            memory,
            exports,
            info: placeholder,
            config_json: config_json.to_vec(),
            module: module.clone(),
            limit_ticks: engine::TICKS_PER_CALL,
        };
        let code = kernel_info.call(&mut kernel.store, ()).map_err(trap)?;
        let info_bytes = kernel.output_checked(code)?;
        kernel.info = serde_json::from_slice(info_bytes).map_err(|e| KernelError::Malformed(format!("kernel_info: {e}")))?;
        kernel.configure()?;
        Ok(kernel)
    }

    /// What the kernel says about itself.
    pub fn info(&self) -> &KernelInfo {
        &self.info
    }

    /// The effective configuration as JSON (every key, defaults filled in).
    pub fn effective_config(&mut self) -> Result<Vec<u8>, KernelError> {
        self.configure()
    }

    fn configure(&mut self) -> Result<Vec<u8>, KernelError> {
        let config = std::mem::take(&mut self.config_json);
        let result = self.write_input(&config).and_then(|()| {
            self.arm(config.len());
            let code = self.exports.configure.call(&mut self.store, config.len() as u32).map_err(trap)?;
            if code == abi::ERR_CONFIG {
                let message = String::from_utf8_lossy(self.output_raw()?).into_owned();
                return Err(KernelError::Config(message));
            }
            Ok(self.output_checked(code)?.to_vec())
        });
        self.config_json = config;
        result
    }

    /// Sets the time limit of the next call, which runs on a request of `request_len` bytes.
    fn arm(&mut self, request_len: usize) {
        self.store.set_epoch_deadline(engine::deadline_ticks(self.limit_ticks, request_len));
    }

    /// Changes the base time limit of every later call (default: [`engine::TICKS_PER_CALL`] ticks, 2 s), rounded up
    /// to whole ticks of [`engine::EPOCH_TICK`].
    pub fn set_time_limit(&mut self, limit: std::time::Duration) {
        self.limit_ticks = limit.as_nanos().div_ceil(engine::EPOCH_TICK.as_nanos()).max(1) as u64;
    }

    /// Copies `request` into the kernel's input buffer.
    fn write_input(&mut self, request: &[u8]) -> Result<(), KernelError> {
        let offset = self.reserve_input(request.len())?;
        self.memory.data_mut(&mut self.store)[offset..offset + request.len()].copy_from_slice(request);
        Ok(())
    }

    /// Reserves `len` bytes of kernel input and returns their offset in linear memory (for zero-copy hosts, which
    /// then write through [`Kernel::memory_mut`]).
    pub fn reserve_input(&mut self, len: usize) -> Result<usize, KernelError> {
        let len32 = u32::try_from(len).map_err(|_| KernelError::Malformed(format!("request of {len} bytes is over 4 GiB")))?;
        self.arm(len);
        let offset = self.exports.input_reserve.call(&mut self.store, len32).map_err(trap)? as usize;
        if offset.checked_add(len).is_none_or(|end| end > self.memory.data_size(&self.store)) {
            return Err(KernelError::Malformed(format!("input buffer at {offset} of {len} bytes lies outside memory")));
        }
        Ok(offset)
    }

    /// The kernel's whole linear memory (valid until the next call that can grow it).
    pub fn memory_mut(&mut self) -> &mut [u8] {
        self.memory.data_mut(&mut self.store)
    }

    fn output_raw(&mut self) -> Result<&[u8], KernelError> {
        // A deadline is absolute: one armed for an earlier call may have passed since.
        self.arm(0);
        let ptr = self.exports.output_ptr.call(&mut self.store, ()).map_err(trap)? as usize;
        let len = self.exports.output_len.call(&mut self.store, ()).map_err(trap)? as usize;
        self.memory
            .data(&self.store)
            .get(ptr..ptr.saturating_add(len))
            .ok_or_else(|| KernelError::Malformed(format!("output at {ptr} of {len} bytes lies outside memory")))
    }

    fn output_checked(&mut self, code: i32) -> Result<&[u8], KernelError> {
        if code < 0 {
            let message = String::from_utf8_lossy(self.output_raw()?).into_owned();
            return Err(KernelError::Call { code, message });
        }
        self.output_raw()
    }

    /// Runs `parse_batch` on a request already written at the input buffer; returns the raw answer.
    pub fn call_parse(&mut self, count: usize, len: usize) -> Result<&[u8], KernelError> {
        // The limit is per call: a zero-copy host reuses one reservation for many calls.
        self.arm(len);
        let code = self.exports.parse_batch.call(&mut self.store, (count as u32, len as u32)).map_err(trap)?;
        self.output_checked(code)
    }

    /// Runs `detect_batch` on a request already written at the input buffer; returns the raw answer.
    pub fn call_detect(&mut self, count: usize, len: usize) -> Result<&[u8], KernelError> {
        self.arm(len);
        let code = self.exports.detect_batch.call(&mut self.store, (count as u32, len as u32)).map_err(trap)?;
        self.output_checked(code)
    }

    /// Parses a framed request of `count` records (built with `detector_wasm::wire::write_record`).
    pub fn parse_batch(&mut self, request: &[u8], count: usize) -> Result<&[u8], KernelError> {
        self.write_input(request)?;
        self.call_parse(count, request.len())
    }

    /// Detects over a framed request of `count` items (built with `detector_wasm::wire::write_detect_item`).
    pub fn detect_batch(&mut self, request: &[u8], count: usize) -> Result<&[u8], KernelError> {
        self.write_input(request)?;
        self.call_detect(count, request.len())
    }

    /// A fresh instance of the same module and configuration (after a trap the old one must not be used).
    pub fn fresh(&self) -> Result<Kernel, KernelError> {
        let mut kernel = Kernel::new(&self.module, &self.config_json)?;
        kernel.limit_ticks = self.limit_ticks;
        Ok(kernel)
    }
}

/// Batches records through a kernel and survives kernel traps: the batch is retried record by record on a fresh
/// instance, and the record that traps becomes a `kernel`-stage dead letter.
pub struct Runner {
    kernel: Kernel,
    request: Vec<u8>,
    traps: u64,
}

impl Runner {
    pub fn new(kernel: Kernel) -> Runner {
        Runner { kernel, request: Vec::new(), traps: 0 }
    }

    /// The kernel (for its info and effective config).
    pub fn kernel_mut(&mut self) -> &mut Kernel {
        &mut self.kernel
    }

    /// How many kernel traps were survived.
    pub fn traps(&self) -> u64 {
        self.traps
    }

    fn replace_kernel(&mut self) -> Result<(), KernelError> {
        self.traps += 1;
        self.kernel = self.kernel.fresh()?;
        Ok(())
    }

    /// Parses raw records.
    pub fn parse(&mut self, records: &[&[u8]]) -> Result<Vec<ParseOutcome>, KernelError> {
        self.request.clear();
        for r in records {
            wire::write_record(&mut self.request, r);
        }
        match self.kernel.parse_batch(&self.request, records.len()) {
            Ok(out) => Ok(read_batch(out, records.len(), wire::read_parsed)
                .map_err(KernelError::Malformed)?
                .into_iter()
                .map(wire::Parsed::into_owned)
                .collect()),
            Err(KernelError::Trap(reason)) => {
                self.replace_kernel()?;
                if records.len() == 1 {
                    let dead = DeadLetter::new("kernel", None, format!("kernel trapped while parsing: {reason}"), None, records[0]);
                    return Ok(vec![ParseOutcome::DeadLetter(dead.to_json().into_bytes())]);
                }
                let mut out = Vec::with_capacity(records.len());
                for r in records {
                    out.extend(self.parse(&[r])?);
                }
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs the detector over (state, event) items; no two items may share a key.
    pub fn detect(&mut self, items: &[(&[u8], &[u8])]) -> Result<Vec<DetectOutcome>, KernelError> {
        self.request.clear();
        for (state, event) in items {
            wire::write_detect_item(&mut self.request, state, event);
        }
        match self.kernel.detect_batch(&self.request, items.len()) {
            Ok(out) => Ok(read_batch(out, items.len(), wire::read_detected)
                .map_err(KernelError::Malformed)?
                .into_iter()
                .map(wire::Detected::into_owned)
                .collect()),
            Err(KernelError::Trap(reason)) => {
                self.replace_kernel()?;
                if items.len() == 1 {
                    let event = detector_wasm::Event::decode(items[0].1).ok();
                    let raw = event.as_ref().map(|e| e.to_json().into_bytes()).unwrap_or_else(|| items[0].1.to_vec());
                    let dead =
                        DeadLetter::new("kernel", None, format!("kernel trapped while detecting: {reason}"), event.map(|e| e.key), &raw);
                    return Ok(vec![DetectOutcome::DeadLetter(dead.to_json().into_bytes())]);
                }
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.extend(self.detect(std::slice::from_ref(item))?);
                }
                Ok(out)
            }
            Err(e) => Err(e),
        }
    }
}

/// The runner is how `packager run` replays a stream through the `.wasm` (`detector_wasm::replay`).
impl detector_wasm::replay::Batches for Runner {
    type Error = KernelError;

    fn parse(&mut self, records: &[&[u8]]) -> Result<Vec<ParseOutcome>, KernelError> {
        Runner::parse(self, records)
    }

    fn detect(&mut self, items: &[(&[u8], &[u8])]) -> Result<Vec<DetectOutcome>, KernelError> {
        Runner::detect(self, items)
    }

    fn traps(&self) -> u64 {
        Runner::traps(self)
    }
}
