//! Hosting the detection kernel: the one engine configuration ([`engine`]), the ABI client ([`kernel`]) and, with
//! the `jni` feature, the native methods the Flink job calls (`jni`).
//!
//! Built as an rlib for `packager` and tests, and as the cdylib the Flink job loads through JNI.

pub mod engine;
#[cfg(feature = "jni")]
pub mod jni;
pub mod kernel;

pub use engine::Traps;
pub use kernel::{DetectOutcome, Kernel, KernelError, KernelInfo, KernelModule, ParseOutcome, Runner};
