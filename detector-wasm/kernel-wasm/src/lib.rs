//! The detection kernel as a `.wasm` module, built from `detector-wasm` by this crate's build script.

/// The kernel module (`detector-wasm` for `wasm32-unknown-unknown`, profile `kernel`).
pub const WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/kernel.wasm"));
