//! The one WebAssembly boundary: every export, the memory contract, and the framing both sides use (its code, one
//! write and one read function per message, is [`crate::wire`]).
//!
//! # Memory contract
//! The module imports nothing and exports its linear memory as `memory`. It owns two buffers:
//! - **input**: the host calls `input_reserve(len)`, which returns a pointer to at least `len` writable bytes, writes
//!   its request there, then calls an entry point with the request's length. The pointer stays valid until the next
//!   `input_reserve` (a reserve may grow memory, so hosts aliasing memory re-fetch their view after it).
//! - **output**: each entry point writes its answer to the output buffer; `output_ptr()` and `output_len()` locate it
//!   until the next entry-point call.
//!
//! # Exports
//! | export                            | returns                                                                   |
//! |-----------------------------------|---------------------------------------------------------------------------|
//! | `abi_version() -> u32`            | [`ABI_VERSION`]; a host refuses a kernel whose version it does not know   |
//! | `state_size() -> u32`             | most bytes of state per key ([`crate::state::STATE_SIZE`]; `zscore` and `ewma` write 128, or 40 without `velocity`) |
//! | `input_reserve(len) -> ptr`       | the input buffer, at least `len` bytes                                    |
//! | `output_ptr() -> ptr`, `output_len() -> u32` | the last answer                                                |
//! | `kernel_info() -> i32`            | 0; output = JSON `{"abiVersion","stateSize","stateVersion","kernelVersion","detectors","configKeys"}` |
//! | `configure(len) -> i32`           | 0; input = config JSON (see [`crate::config`]); output = the effective config JSON |
//! | `parse_batch(count, len) -> i32`  | `count`; input = `count` records, output = `count` parse results           |
//! | `detect_batch(count, len) -> i32` | `count`; input = `count` detect items, output = `count` detect results     |
//!
//! A negative return is an error: [`ERR_NOT_CONFIGURED`], [`ERR_FRAMING`], [`ERR_CONFIG`]; the output then holds the
//! message as UTF-8. Bad *records* are never errors of the call: they are results (dead letters) inside the batch.
//!
//! # Framing (little-endian; `bytes` = u32 length + bytes)
//! Result tags: [`TAG_OK`] = 0, [`TAG_DEAD_LETTER`] = 1.
//! - record: `bytes` (the raw event).
//! - parse result: `u8 0, bytes key, bytes event` for an event, or `u8 1, bytes dead_letter_json`.
//! - detect item: `bytes state` (empty for a new key), `bytes event` (as parse returned it).
//! - detect result: `u8 0, u8 flags, f64 score (NaN in warm-up), bytes new_state, bytes verdict_json` — the verdict
//!   is empty unless the event is an anomaly or the config says `emit = all`; flags:
//!   [`FLAG_ANOMALY`], [`FLAG_WARMUP`], [`FLAG_LABELED`], [`FLAG_LABEL_POSITIVE`], [`FLAG_STATE_RESET`] (stored state
//!   that could not be read was replaced by a fresh one) — or `u8 1, bytes dead_letter_json` when the key's state
//!   was written by a newer kernel (the host keeps the old state).
//!
//! Items within one `detect_batch` are independent: a host must not put two events of the same key in one batch
//! (the second would not see the first's state).
//!
//! Across calls the kernel keeps no per-key data, only the population check's summary of every value it has
//! detected since `configure` ([`crate::detector::Population`]), learned in item order: a host sends each
//! subtask's events through one instance, in their order, and gets the same verdicts however it batches them.

use crate::config::{Config, Emit, KEYS};
use crate::detector::{self, Detector};
use crate::event::{self, EventBlob, EventHead};
use crate::state::{STATE_SIZE, STATE_VERSION, State};
use crate::verdict::DeadLetter;
use crate::wire::{Detected, Parsed, Reader, read_detect_item, read_record, write_detected, write_parsed};
pub use crate::wire::{TAG_DEAD_LETTER, TAG_OK};

/// The version of this contract. Bump on any change a host could notice.
pub const ABI_VERSION: u32 = 1;

/// `configure` was not called (or failed) before a batch.
pub const ERR_NOT_CONFIGURED: i32 = -1;
/// The request's framing does not match its declared count and length.
pub const ERR_FRAMING: i32 = -2;
/// The configuration was refused; the output names the key.
pub const ERR_CONFIG: i32 = -3;

pub const FLAG_ANOMALY: u8 = 1;
pub const FLAG_WARMUP: u8 = 2;
pub const FLAG_LABELED: u8 = 4;
pub const FLAG_LABEL_POSITIVE: u8 = 8;
/// The key's stored state was unreadable and was reset (hosts count these; a rendered verdict says why).
pub const FLAG_STATE_RESET: u8 = 16;

/// The kernel behind the exports: configuration plus the two buffers. Native hosts and tests drive it directly.
#[derive(Default)]
pub struct Kernel {
    detector: Option<Detector>,
    input: Vec<u8>,
    output: Vec<u8>,
    scratch: Vec<u8>,
    state: Vec<u8>,
    /// The key state each detect item is decoded into and assessed in place (one per kernel, reused).
    key_state: State,
    /// What the population check judges new keys against: every event this kernel has detected since `configure`.
    population: detector::Population,
}

impl Kernel {
    pub fn new() -> Kernel {
        Kernel::default()
    }

    /// The input buffer, grown to at least `len` bytes.
    pub fn input_reserve(&mut self, len: usize) -> &mut [u8] {
        if self.input.len() < len {
            self.input.resize(len, 0);
        }
        &mut self.input[..]
    }

    /// The last answer.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// The current configuration, once `configure` succeeded.
    pub fn config(&self) -> Option<&Config> {
        self.detector.as_ref().map(Detector::config)
    }

    fn fail(&mut self, code: i32, message: &str) -> i32 {
        self.output.clear();
        self.output.extend_from_slice(message.as_bytes());
        code
    }

    fn request(&self, len: usize) -> Result<&[u8], String> {
        self.input.get(..len).ok_or_else(|| format!("request of {len} bytes is larger than the {} reserved", self.input.len()))
    }

    /// Writes the kernel's self-description to the output.
    pub fn kernel_info(&mut self) -> i32 {
        let info = serde_json::json!({
            "abiVersion": ABI_VERSION,
            "stateSize": STATE_SIZE,
            "stateVersion": STATE_VERSION,
            "kernelVersion": env!("CARGO_PKG_VERSION"),
            "detectors": crate::config::DetectorKind::CHOICES.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            "configKeys": KEYS,
        });
        self.output.clear();
        self.output.extend_from_slice(info.to_string().as_bytes());
        0
    }

    /// Reads the config JSON in the first `len` input bytes.
    pub fn configure(&mut self, len: usize) -> i32 {
        let parsed = match self.request(len) {
            Ok(bytes) => Config::from_json(bytes).map_err(|e| e.to_string()),
            Err(e) => return self.fail(ERR_FRAMING, &e),
        };
        match parsed {
            Ok(config) => {
                self.output.clear();
                self.output.extend_from_slice(config.to_json().as_bytes());
                self.detector = Some(Detector::new(config));
                self.population = detector::Population::new();
                0
            }
            Err(message) => {
                self.detector = None;
                self.fail(ERR_CONFIG, &message)
            }
        }
    }

    /// Parses `count` framed records from the first `len` input bytes.
    pub fn parse_batch(&mut self, count: u32, len: usize) -> i32 {
        let Some(detector) = self.detector.take() else {
            return self.fail(ERR_NOT_CONFIGURED, "configure the kernel before parse_batch");
        };
        let result = self.parse_into(detector.config(), count, len);
        self.detector = Some(detector);
        match result {
            Ok(()) => count as i32,
            Err(e) => self.fail(ERR_FRAMING, &e),
        }
    }

    fn parse_into(&mut self, config: &Config, count: u32, len: usize) -> Result<(), String> {
        let input =
            self.input.get(..len).ok_or_else(|| format!("request of {len} bytes is larger than the {} reserved", self.input.len()))?;
        let mut r = Reader::new(input);
        self.output.clear();
        for _ in 0..count {
            let raw = read_record(&mut r)?;
            match event::parse_view(config, raw) {
                Ok(event) => {
                    self.scratch.clear();
                    event.encode_into(&mut self.scratch);
                    write_parsed(&mut self.output, Parsed::Event { key: event.key().as_bytes(), event: &self.scratch });
                }
                Err(e) => {
                    let dead = DeadLetter::new("parse", e.field, e.reason, None, raw).to_json();
                    write_parsed(&mut self.output, Parsed::DeadLetter(dead.as_bytes()));
                }
            }
        }
        if !r.is_empty() {
            return Err(format!("{count} records declared but {} of {len} bytes were left over", len - r.position()));
        }
        Ok(())
    }

    /// Runs the detector over `count` framed (state, event) items from the first `len` input bytes.
    pub fn detect_batch(&mut self, count: u32, len: usize) -> i32 {
        let Some(detector) = self.detector.take() else {
            return self.fail(ERR_NOT_CONFIGURED, "configure the kernel before detect_batch");
        };
        let result = self.detect_into(&detector, count, len);
        self.detector = Some(detector);
        match result {
            Ok(()) => count as i32,
            Err(e) => self.fail(ERR_FRAMING, &e),
        }
    }

    fn detect_into(&mut self, detector: &Detector, count: u32, len: usize) -> Result<(), String> {
        let config = detector.config();
        let input =
            self.input.get(..len).ok_or_else(|| format!("request of {len} bytes is larger than the {} reserved", self.input.len()))?;
        let mut r = Reader::new(input);
        self.output.clear();
        for _ in 0..count {
            let (state, blob) = read_detect_item(&mut r)?;
            // Detecting needs the blob's head only; the rest is read (and checked) for a verdict that is rendered.
            let unreadable = |e: String| DeadLetter::new("detect", None, format!("unreadable event from parse: {e}"), None, blob).to_json();
            let head = match EventHead::read(blob) {
                Ok(head) => head,
                Err(e) => {
                    write_detected(&mut self.output, Detected::DeadLetter(unreadable(e).as_bytes()));
                    continue;
                }
            };
            match detector::detect_in_place(detector, &mut self.key_state, state, head.value, head.timestamp_ms, Some(&mut self.population))
            {
                Ok(assessment) => {
                    let rendered = assessment.is_anomaly() || config.emit == Emit::All;
                    let event = match rendered.then(|| EventBlob::read(blob)).transpose() {
                        Ok(event) => event,
                        Err(e) => {
                            // As if the blob had not been read at all: the key's state stays as it was.
                            write_detected(&mut self.output, Detected::DeadLetter(unreadable(e).as_bytes()));
                            continue;
                        }
                    };
                    let new_state = &self.key_state;
                    let mut flags = 0;
                    if assessment.is_anomaly() {
                        flags |= FLAG_ANOMALY;
                    }
                    if assessment.status == crate::verdict::Status::Warmup {
                        flags |= FLAG_WARMUP;
                    }
                    if assessment.state_reset.is_some() {
                        flags |= FLAG_STATE_RESET;
                    }
                    if let Some(positive) = head.label {
                        flags |= FLAG_LABELED;
                        if positive {
                            flags |= FLAG_LABEL_POSITIVE;
                        }
                    }
                    self.state.clear();
                    new_state.encode_into(&mut self.state);
                    self.scratch.clear();
                    if let Some(event) = event {
                        serde_json::to_writer(&mut self.scratch, &detector::render(config, &event.to_event(), &assessment))
                            .map_err(|e| e.to_string())?;
                    }
                    let score = assessment.score.unwrap_or(f64::NAN);
                    write_detected(&mut self.output, Detected::Verdict { flags, score, state: &self.state, verdict: &self.scratch });
                }
                Err(e) => {
                    let dead = match EventBlob::read(blob) {
                        Ok(event) => {
                            let event = event.to_event();
                            DeadLetter::new("detect", None, e.to_string(), Some(event.key.clone()), event.to_json().as_bytes()).to_json()
                        }
                        Err(unread) => unreadable(unread),
                    };
                    write_detected(&mut self.output, Detected::DeadLetter(dead.as_bytes()));
                }
            }
        }
        if !r.is_empty() {
            return Err(format!("{count} items declared but {} of {len} bytes were left over", len - r.position()));
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
mod exports {
    //! The `extern "C"` surface; each export is a one-line call into the one global [`Kernel`].
    use super::Kernel;
    use core::cell::UnsafeCell;

    struct Global(UnsafeCell<Option<Kernel>>);
    // wasm32-unknown-unknown is single-threaded: no two exports ever run at once.
    unsafe impl Sync for Global {}
    static KERNEL: Global = Global(UnsafeCell::new(None));

    fn kernel() -> &'static mut Kernel {
        // SAFETY: single-threaded, and no export holds the reference across another export call.
        unsafe { (*KERNEL.0.get()).get_or_insert_with(Kernel::new) }
    }

    #[unsafe(no_mangle)]
    pub extern "C" fn abi_version() -> u32 {
        super::ABI_VERSION
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn state_size() -> u32 {
        crate::state::STATE_SIZE as u32
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn input_reserve(len: u32) -> *mut u8 {
        kernel().input_reserve(len as usize).as_mut_ptr()
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn output_ptr() -> *const u8 {
        kernel().output().as_ptr()
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn output_len() -> u32 {
        kernel().output().len() as u32
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn kernel_info() -> i32 {
        kernel().kernel_info()
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn configure(len: u32) -> i32 {
        kernel().configure(len as usize)
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn parse_batch(count: u32, len: u32) -> i32 {
        kernel().parse_batch(count, len as usize)
    }
    #[unsafe(no_mangle)]
    pub extern "C" fn detect_batch(count: u32, len: u32) -> i32 {
        kernel().detect_batch(count, len as usize)
    }
}
