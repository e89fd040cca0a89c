//! The page's WebAssembly exports: a small string ABI with no generated glue (`static/kernel.js` is its JS side),
//! so the module imports nothing and builds with `cargo` alone.
//!
//! Text crosses as UTF-8 bytes. For each argument the page asks [`pg_alloc`] for a buffer, writes the bytes into it
//! and passes (pointer, length); the call takes those buffers back and frees them. Every call leaves its answer
//! (JSON text, or the version string) in one result buffer and returns its length in bytes; [`pg_result_ptr`] says
//! where it starts. The answer stays valid until the next call.

use std::cell::RefCell;

thread_local! {
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes for one argument; the next call that receives it frees it.
#[unsafe(no_mangle)]
pub extern "C" fn pg_alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast()
}

/// Takes back a buffer from [`pg_alloc`] as text (invalid UTF-8 is replaced, never trusted).
///
/// # Safety
/// `ptr` and `len` must come from one [`pg_alloc`] call whose buffer has not been taken back yet.
unsafe fn take(ptr: *mut u8, len: usize) -> String {
    // SAFETY: the caller hands back exactly one live allocation of `len` bytes made by `pg_alloc`.
    let bytes = unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) };
    String::from_utf8_lossy(&bytes).into_owned()
}

fn answer(text: String) -> usize {
    RESULT.with(|r| {
        let mut r = r.borrow_mut();
        *r = text.into_bytes();
        r.len()
    })
}

/// Where the last answer starts in linear memory.
#[unsafe(no_mangle)]
pub extern "C" fn pg_result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

/// Replays the input (`jsonl`, `csv` or `auto`) under the flat config JSON; see `replay::Replayed`.
///
/// # Safety
/// Each (pointer, length) pair must come from its own [`pg_alloc`] call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pg_replay(
    config_ptr: *mut u8,
    config_len: usize,
    input_ptr: *mut u8,
    input_len: usize,
    format_ptr: *mut u8,
    format_len: usize,
) -> usize {
    // SAFETY: forwarded from this function's contract.
    let (config, input, format) = unsafe { (take(config_ptr, config_len), take(input_ptr, input_len), take(format_ptr, format_len)) };
    answer(crate::replay_json(&config, &input, &format))
}

/// The packager.toml and Terraform snippets for a flat config JSON.
///
/// # Safety
/// The (pointer, length) pair must come from a [`pg_alloc`] call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pg_export(config_ptr: *mut u8, config_len: usize) -> usize {
    // SAFETY: forwarded from this function's contract.
    let config = unsafe { take(config_ptr, config_len) };
    answer(crate::export_json(&config))
}

/// The kernel's default configuration as flat JSON.
#[unsafe(no_mangle)]
pub extern "C" fn pg_defaults() -> usize {
    answer(crate::defaults_json())
}

/// The kernel crate's version.
#[unsafe(no_mangle)]
pub extern "C" fn pg_version() -> usize {
    answer(env!("CARGO_PKG_VERSION").to_string())
}
