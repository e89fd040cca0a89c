//! The JNI boundary of the Flink job: the native methods of `anomaly.job.NativeKernel`.
//!
//! # Contract with the Java side
//! A [`Session`] is one configured kernel instance ([`Runner`]) owned by one operator instance and called from one
//! thread at a time (the Flink task thread). The hot path moves no bytes through JNI:
//! - Java holds a direct `ByteBuffer` over the session's **control block** (host memory, stable for the session's
//!   life; native-endian `i64` slots, see the `SLOT_*` constants) and one over the kernel's **whole linear memory**.
//! - `reserve(len)` makes the kernel's input buffer at least `len` bytes and publishes its offset and capacity;
//!   Java writes requests (framed as in `detector_wasm::abi`) straight into it and calls `parse` / `detect`, which
//!   publish the answer's offset and length; Java reads the answer straight from linear memory.
//! - Any call can grow (and so move) linear memory, and a trap replaces the instance, so after every call Java
//!   compares `SLOT_EPOCH` with the epoch it last saw and, when it changed, re-reads the slots and re-fetches the
//!   memory view. A view that outlives its epoch may point at unmapped memory: it must never be used again.
//!
//! # Loading
//! `JNI_OnLoad` pins this library copy: once loaded it is never unmapped, not even when the JVM unloads it with its
//! classloader, because the signal handlers the kernel's engine installs (and the thread-exit hooks wasmtime
//! registers) point into it. Each classloader loads its own copy (see `NativeKernel.loadLibrary`), so each leaks one
//! copy (~1.5 MB) when it is collected. A kernel with signal-based traps is refused if pinning failed.
//!
//! # Failures
//! A trap is survived here: the [`Runner`] retries the batch on a fresh instance and turns the record that traps into a
//! `kernel`-stage dead letter inside the answer. Everything else (a kernel that refuses its config, an ABI or engine
//! mismatch, a malformed answer, a misuse of this API) throws `anomaly.job.KernelException` with the message, and the
//! Java side replaces the session. A Rust panic never unwinds into the JVM: every entry point catches it and throws.

use std::any::Any;
use std::ffi::CString;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use ::jni::sys::{JNIEnv, jboolean, jbyteArray, jclass, jint, jlong, jobject};
use detector_wasm::verdict::DeadLetter;
use detector_wasm::wire::{self, read_batch};

use crate::engine::Traps;
use crate::kernel::{KernelError, KernelModule, Runner};

/// Bumped whenever Java must re-read the slots below and re-fetch its memory view.
pub const SLOT_EPOCH: usize = 0;
/// Offset in linear memory of the input buffer.
pub const SLOT_INPUT_OFFSET: usize = 1;
/// Bytes reserved at the input buffer.
pub const SLOT_INPUT_CAPACITY: usize = 2;
/// Offset in linear memory of the last answer.
pub const SLOT_OUTPUT_OFFSET: usize = 3;
/// Length of the last answer.
pub const SLOT_OUTPUT_LEN: usize = 4;
/// Kernel traps survived by this session (each replaced the instance).
pub const SLOT_TRAPS: usize = 5;
/// Slots in the control block.
pub const CONTROL_SLOTS: usize = 8;

const EXCEPTION_CLASS: &str = "anomaly/job/KernelException";

/// Why an entry point failed.
enum Failure {
    /// A JNI call left a Java exception pending (out of memory, say); it is the one Java will see.
    JavaPending,
    /// To be thrown as a `KernelException`.
    Message(String),
}

impl From<KernelError> for Failure {
    fn from(e: KernelError) -> Failure {
        Failure::Message(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::Message(message)
    }
}

/// What Java last saw of the memory layout; any change bumps the epoch.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
struct Layout {
    memory_base: usize,
    memory_size: usize,
    input_offset: usize,
    input_capacity: usize,
}

/// One configured kernel instance and the control block Java reads.
pub struct Session {
    runner: Runner,
    control: Box<[i64; CONTROL_SLOTS]>,
    published: Layout,
    input: (usize, usize),
    /// Traps survived by runners this session has already replaced.
    earlier_traps: u64,
}

impl Session {
    /// Loads a kernel precompiled for `traps` and configures an instance.
    ///
    /// # Safety
    /// `cwasm` must be a trusted `.cwasm` from `engine::precompile` (see [`KernelModule::from_cwasm`]).
    pub unsafe fn new(cwasm: &[u8], config_json: &[u8], traps: Traps) -> Result<Session, KernelError> {
        // SAFETY: forwarded to the caller.
        let module = unsafe { KernelModule::from_cwasm(cwasm, traps) }?;
        let runner = Runner::new(module.instantiate(config_json)?);
        let mut session =
            Session { runner, control: Box::new([0; CONTROL_SLOTS]), published: Layout::default(), input: (0, 0), earlier_traps: 0 };
        session.reserve(64 << 10)?;
        Ok(session)
    }

    /// The control block Java reads.
    pub fn control(&self) -> &[i64; CONTROL_SLOTS] {
        &self.control
    }

    /// The kernel's whole linear memory (valid until the epoch changes).
    pub fn memory(&mut self) -> &mut [u8] {
        self.runner.kernel_mut().memory_mut()
    }

    fn publish(&mut self) {
        let memory = self.runner.kernel_mut().memory_mut();
        let layout = Layout {
            memory_base: memory.as_ptr() as usize,
            memory_size: memory.len(),
            input_offset: self.input.0,
            input_capacity: self.input.1,
        };
        if layout != self.published {
            self.published = layout;
            self.control[SLOT_EPOCH] += 1;
        }
        self.control[SLOT_INPUT_OFFSET] = layout.input_offset as i64;
        self.control[SLOT_INPUT_CAPACITY] = layout.input_capacity as i64;
        self.control[SLOT_TRAPS] = (self.earlier_traps + self.runner.traps()) as i64;
    }

    fn publish_answer(&mut self, offset: usize, len: usize) {
        self.control[SLOT_OUTPUT_OFFSET] = offset as i64;
        self.control[SLOT_OUTPUT_LEN] = len as i64;
        self.publish();
    }

    /// Makes the input buffer at least `len` bytes.
    pub fn reserve(&mut self, len: usize) -> Result<(), KernelError> {
        let offset = self.runner.kernel_mut().reserve_input(len)?;
        self.input = (offset, len);
        self.publish();
        Ok(())
    }

    fn checked_request(&self, count: i64, len: i64) -> Result<(usize, usize), Failure> {
        let (Ok(count), Ok(len)) = (usize::try_from(count), usize::try_from(len)) else {
            return Err(Failure::Message(format!("count {count} and length {len} must not be negative")));
        };
        if len > self.input.1 {
            return Err(Failure::Message(format!(
                "request of {len} bytes is larger than the {} reserved; call reserve before writing the request",
                self.input.1
            )));
        }
        Ok((count, len))
    }

    /// Runs `parse_batch` over `count` records Java wrote at the input buffer; publishes the answer.
    fn parse(&mut self, count: i64, len: i64) -> Result<(), Failure> {
        let (count, len) = self.checked_request(count, len)?;
        match self.runner.kernel_mut().call_parse(count, len).map(span) {
            Ok((at, answer_len)) => self.publish_in_place(at, answer_len),
            Err(KernelError::Trap(_)) => {
                let request = self.request_after_trap(len)?;
                let records = read_batch(&request, count, wire::read_record).map_err(java_framing(count))?;
                self.replace_instance()?;
                // The batch is known to trap: go record by record at once, each isolated by the Runner.
                let mut answer = Vec::new();
                for record in records {
                    for outcome in self.runner.parse(&[record])? {
                        wire::write_parsed(&mut answer, outcome.as_frame());
                    }
                }
                self.place_answer(&answer)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Runs `detect_batch` over `count` (state, event) items Java wrote at the input buffer; publishes the answer.
    fn detect(&mut self, count: i64, len: i64) -> Result<(), Failure> {
        let (count, len) = self.checked_request(count, len)?;
        match self.runner.kernel_mut().call_detect(count, len).map(span) {
            Ok((at, answer_len)) => self.publish_in_place(at, answer_len),
            Err(KernelError::Trap(_)) => {
                let request = self.request_after_trap(len)?;
                let items = read_batch(&request, count, wire::read_detect_item).map_err(java_framing(count))?;
                self.replace_instance()?;
                let mut answer = Vec::new();
                for item in &items {
                    for outcome in self.runner.detect(std::slice::from_ref(item))? {
                        wire::write_detected(&mut answer, outcome.as_frame());
                    }
                }
                self.place_answer(&answer)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The request as Java wrote it; a trapped instance's memory is still readable, only its code must not run again.
    fn request_after_trap(&mut self, len: usize) -> Result<Vec<u8>, Failure> {
        let offset = self.input.0;
        self.memory()
            .get(offset..offset + len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| Failure::Message(format!("input buffer at {offset} of {len} bytes lies outside the trapped kernel's memory")))
    }

    /// Swaps in a fresh instance; the [`Runner`] then isolates the record that trapped.
    fn replace_instance(&mut self) -> Result<(), KernelError> {
        let fresh = self.runner.kernel_mut().fresh()?;
        self.earlier_traps += self.runner.traps() + 1;
        self.runner = Runner::new(fresh);
        Ok(())
    }

    /// Publishes an answer assembled here: it is copied into the new instance's input buffer, so Java reads every
    /// answer from linear memory (Java has read it before it writes the next request there).
    /// Publishes an answer the kernel left in its own memory, given its address (see [`span`]) and length.
    fn publish_in_place(&mut self, at: usize, len: usize) -> Result<(), Failure> {
        let base = self.memory().as_ptr() as usize;
        self.publish_answer(at - base, len);
        Ok(())
    }

    fn place_answer(&mut self, answer: &[u8]) -> Result<(), Failure> {
        let capacity = answer.len().max(self.input.1);
        let offset = self.runner.kernel_mut().reserve_input(capacity)?;
        self.input = (offset, capacity);
        self.memory()[offset..offset + answer.len()].copy_from_slice(answer);
        self.publish_answer(offset, answer.len());
        Ok(())
    }

    /// A JSON document describing the kernel and its effective configuration (for the job's log).
    fn describe(&mut self) -> Result<Vec<u8>, KernelError> {
        let config = self.runner.kernel_mut().effective_config()?;
        let config: serde_json::Value =
            serde_json::from_slice(&config).map_err(|e| KernelError::Malformed(format!("effective config: {e}")))?;
        let info = self.runner.kernel_mut().info();
        let doc = serde_json::json!({
            "kernelVersion": info.kernel_version,
            "abiVersion": info.abi_version,
            "stateVersion": info.state_version,
            "stateSize": info.state_size,
            "effectiveConfig": config,
        });
        Ok(doc.to_string().into_bytes())
    }
}

/// An answer slice as (address, length), so the borrow of the kernel ends before the answer is published.
fn span(answer: &[u8]) -> (usize, usize) {
    (answer.as_ptr() as usize, answer.len())
}

/// The failure for a request Java wrote that does not hold `count` framed entries.
fn java_framing(count: usize) -> impl Fn(String) -> Failure {
    move |e| Failure::Message(format!("request written by Java is not framed as {count} entries: {e}"))
}

// ---------------------------------------------------------------------------------------------------------------
// Raw JNI plumbing. Every entry point runs its body through `entry`, which catches panics and throws exceptions.

type Functions = ::jni::sys::JNINativeInterface__1_4;

/// The JNI function table (every JVM the job runs on implements JNI ≥ 1.4).
///
/// # Safety
/// `env` must be the `JNIEnv` the JVM passed to the current native call.
unsafe fn functions<'a>(env: *mut JNIEnv) -> &'a Functions {
    // SAFETY: a valid JNIEnv points at the JVM's function table, which has every 1.4 entry.
    unsafe { &(**env).v1_4 }
}

fn exception_pending(env: *mut JNIEnv) -> bool {
    // SAFETY: env comes from the current native call (every caller below).
    unsafe { (functions(env).ExceptionCheck)(env) }
}

fn throw(env: *mut JNIEnv, message: &str) {
    if exception_pending(env) {
        return;
    }
    // JNI takes "modified UTF-8": no NUL bytes, and characters outside the BMP would need surrogate pairs.
    let safe: String = message.chars().map(|c| if c == '\0' || c as u32 > 0xFFFF { '\u{FFFD}' } else { c }).collect();
    let message = CString::new(safe).unwrap_or_default();
    let class_name = CString::new(EXCEPTION_CLASS).unwrap_or_default();
    // SAFETY: env is valid; both strings are NUL-terminated. If the class is missing, FindClass leaves
    // NoClassDefFoundError pending, which is as good an exception as any.
    unsafe {
        let class = (functions(env).FindClass)(env, class_name.as_ptr());
        if !class.is_null() {
            (functions(env).ThrowNew)(env, class, message.as_ptr());
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned()).unwrap_or_default()
}

/// Runs an entry point's body: a `Failure` or a panic becomes a pending Java exception and `fallback` is returned.
fn entry<T>(env: *mut JNIEnv, fallback: T, body: impl FnOnce() -> Result<T, Failure>) -> T {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(Failure::JavaPending)) => fallback,
        Ok(Err(Failure::Message(message))) => {
            throw(env, &message);
            fallback
        }
        Err(payload) => {
            throw(
                env,
                &format!("the anomaly host panicked: {}; this is a bug in the host library, please report it", panic_message(&*payload)),
            );
            fallback
        }
    }
}

fn bytes_from_java(env: *mut JNIEnv, array: jbyteArray, what: &str) -> Result<Vec<u8>, Failure> {
    if array.is_null() {
        return Err(Failure::Message(format!("{what} is null")));
    }
    // SAFETY: env is valid and array is a non-null byte[] (the Java signature says so).
    unsafe {
        let len = (functions(env).GetArrayLength)(env, array);
        let mut bytes = vec![0u8; len.max(0) as usize];
        (functions(env).GetByteArrayRegion)(env, array, 0, len, bytes.as_mut_ptr().cast());
        if exception_pending(env) {
            return Err(Failure::JavaPending);
        }
        Ok(bytes)
    }
}

fn bytes_to_java(env: *mut JNIEnv, bytes: &[u8]) -> Result<jbyteArray, Failure> {
    let len = jint::try_from(bytes.len()).map_err(|_| format!("{} bytes do not fit a Java array", bytes.len()))?;
    // SAFETY: env is valid; the region written lies inside the new array.
    unsafe {
        let array = (functions(env).NewByteArray)(env, len);
        if array.is_null() {
            return Err(Failure::JavaPending);
        }
        (functions(env).SetByteArrayRegion)(env, array, 0, len, bytes.as_ptr().cast());
        Ok(array)
    }
}

fn direct_buffer(env: *mut JNIEnv, at: *mut u8, len: usize) -> Result<jobject, Failure> {
    // SAFETY: env is valid; the caller guarantees `at..at+len` stays mapped for as long as the contract says.
    let buffer = unsafe { (functions(env).NewDirectByteBuffer)(env, at.cast(), len as jlong) };
    if buffer.is_null() {
        return Err(if exception_pending(env) {
            Failure::JavaPending
        } else {
            Failure::Message("this JVM does not support direct buffers over native memory".into())
        });
    }
    Ok(buffer)
}

fn session<'a>(handle: jlong) -> Result<&'a mut Session, Failure> {
    if handle == 0 {
        return Err(Failure::Message("the kernel session is closed".into()));
    }
    // SAFETY: a non-zero handle is a pointer from `create`, not yet passed to `destroy` (NativeKernel zeroes its handle
    // on close), used by one thread at a time.
    Ok(unsafe { &mut *(handle as *mut Session) })
}

/// `static native long create(byte[] cwasm, byte[] configJson, boolean signalTraps)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_create(
    env: *mut JNIEnv,
    _class: jclass,
    cwasm: jbyteArray,
    config: jbyteArray,
    signal_traps: jboolean,
) -> jlong {
    entry(env, 0, || {
        let traps = if signal_traps { Traps::Signals } else { Traps::Explicit };
        if traps == Traps::Signals
            && let Some(Err(why)) = PINNED.get()
        {
            return Err(Failure::Message(format!(
                "cannot use signal-based traps: the host library could not pin itself in memory ({why}); set job.signal_traps = false"
            )));
        }
        let cwasm = bytes_from_java(env, cwasm, "the precompiled kernel")?;
        let config = bytes_from_java(env, config, "the kernel configuration")?;
        // SAFETY: NativeKernel passes only the .cwasm built into the job jar by `packager build` / dev-jar.sh.
        let session = unsafe { Session::new(&cwasm, &config, traps) }?;
        Ok(Box::into_raw(Box::new(session)) as jlong)
    })
}

/// Whether `JNI_OnLoad` pinned this library copy (unset outside a JVM: an rlib is never unloaded).
static PINNED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();

/// Makes this library copy permanent: a second reference opened with `RTLD_NODELETE` (and never closed) keeps the
/// dynamic loader from unmapping it when the JVM closes its own handle.
fn pin_this_library() -> Result<(), String> {
    // SAFETY: dladdr only reads the loader's tables; any address inside this library identifies it.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(pin_this_library as *const std::ffi::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return Err("dladdr does not know this library".into());
    }
    // SAFETY: RTLD_NOLOAD only looks the already loaded library up by the name dladdr returned; nothing is mapped.
    let handle = unsafe { libc::dlopen(info.dli_fname, libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE) };
    if handle.is_null() {
        // SAFETY: dlerror returns the loader's last message, or null.
        let message = unsafe { libc::dlerror() };
        let message = if message.is_null() {
            "no message".into()
        } else {
            // SAFETY: a non-null dlerror result is a NUL-terminated string.
            unsafe { std::ffi::CStr::from_ptr(message) }.to_string_lossy().into_owned()
        };
        return Err(format!("dlopen(RTLD_NODELETE): {message}"));
    }
    Ok(())
}

/// Called by the JVM when it loads this library copy: pins it (see the module doc).
#[unsafe(no_mangle)]
pub extern "system" fn JNI_OnLoad(_vm: *mut ::jni::sys::JavaVM, _reserved: *mut std::ffi::c_void) -> jint {
    let pinned = panic::catch_unwind(pin_this_library).unwrap_or_else(|_| Err("panicked".into()));
    let _ = PINNED.set(pinned);
    ::jni::sys::JNI_VERSION_1_8
}

/// Called by the JVM when the class loader that loaded this library copy is collected. Nothing will call the copy
/// again: its epoch clock's thread stops here (and must, when pinning failed and the copy is about to be unmapped).
#[unsafe(no_mangle)]
pub extern "system" fn JNI_OnUnload(_vm: *mut ::jni::sys::JavaVM, _reserved: *mut std::ffi::c_void) {
    let _ = panic::catch_unwind(crate::engine::stop_clock);
}

/// `static native void destroy(long handle)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_destroy(env: *mut JNIEnv, _class: jclass, handle: jlong) {
    entry(env, (), || {
        if handle != 0 {
            // SAFETY: the handle came from `create` and Java never uses it again.
            drop(unsafe { Box::from_raw(handle as *mut Session) });
        }
        Ok(())
    })
}

/// `static native ByteBuffer control(long handle)`: the control block, valid until `destroy`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_control(env: *mut JNIEnv, _class: jclass, handle: jlong) -> jobject {
    entry(env, ptr::null_mut(), || {
        let session = session(handle)?;
        // The box never moves while the session lives.
        direct_buffer(env, session.control.as_mut_ptr().cast(), CONTROL_SLOTS * size_of::<i64>())
    })
}

/// `static native ByteBuffer memory(long handle)`: the kernel's linear memory, valid until the epoch changes.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_memory(env: *mut JNIEnv, _class: jclass, handle: jlong) -> jobject {
    entry(env, ptr::null_mut(), || {
        let memory = session(handle)?.memory();
        direct_buffer(env, memory.as_mut_ptr(), memory.len())
    })
}

/// `static native void reserve(long handle, int len)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_reserve(env: *mut JNIEnv, _class: jclass, handle: jlong, len: jint) {
    entry(env, (), || {
        let len = usize::try_from(len).map_err(|_| format!("cannot reserve {len} bytes"))?;
        Ok(session(handle)?.reserve(len)?)
    })
}

/// `static native void parse(long handle, int count, int len)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_parse(env: *mut JNIEnv, _class: jclass, handle: jlong, count: jint, len: jint) {
    entry(env, (), || session(handle)?.parse(count.into(), len.into()))
}

/// `static native void detect(long handle, int count, int len)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_detect(env: *mut JNIEnv, _class: jclass, handle: jlong, count: jint, len: jint) {
    entry(env, (), || session(handle)?.detect(count.into(), len.into()))
}

/// `static native byte[] describe(long handle)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_describe(env: *mut JNIEnv, _class: jclass, handle: jlong) -> jbyteArray {
    entry(env, ptr::null_mut(), || {
        let doc = session(handle)?.describe()?;
        bytes_to_java(env, &doc)
    })
}

/// `static native byte[] deadLetter(byte[] reasonUtf8, byte[] raw, boolean eventBlob)`: a `kernel`-stage dead letter
/// for a record the Java side could not get through the kernel, in the one dead-letter format. For an event blob (the
/// detect stage) the letter carries the event as JSON and its key, as the [`Runner`] writes them after a trap.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_deadLetter(
    env: *mut JNIEnv,
    _class: jclass,
    reason: jbyteArray,
    raw: jbyteArray,
    event_blob: jboolean,
) -> jbyteArray {
    entry(env, ptr::null_mut(), || {
        let reason = String::from_utf8_lossy(&bytes_from_java(env, reason, "the reason")?).into_owned();
        let raw = bytes_from_java(env, raw, "the record")?;
        let event = if event_blob { detector_wasm::Event::decode(&raw).ok() } else { None };
        let letter = match event {
            Some(event) => DeadLetter::new("kernel", None, reason, Some(event.key.clone()), event.to_json().as_bytes()),
            None => DeadLetter::new("kernel", None, reason, None, &raw),
        };
        bytes_to_java(env, letter.to_json().as_bytes())
    })
}

/// `static native void panicForTest()`: panics on purpose, so tests can prove no panic crosses into the JVM.
#[unsafe(no_mangle)]
pub extern "system" fn Java_anomaly_job_NativeKernel_panicForTest(env: *mut JNIEnv, _class: jclass) {
    entry(env, (), || -> Result<(), Failure> { panic!("deliberate panic from panicForTest") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_java_framed_wrongly_is_refused_with_the_count() {
        let mut request = Vec::new();
        wire::write_detect_item(&mut request, b"s", b"e");
        let Failure::Message(m) = read_batch(&request, 2, wire::read_detect_item).map_err(java_framing(2)).unwrap_err() else {
            panic!("a framing failure is a message for Java")
        };
        assert!(m.starts_with("request written by Java is not framed as 2 entries: "), "{m}");
    }
}
