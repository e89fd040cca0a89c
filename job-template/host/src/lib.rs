//! Hosting the detection kernel: the one engine configuration ([`engine`]) and the ABI client ([`kernel`]).
//!
//! Built as an rlib for `packager` and tests, and as the cdylib the Flink job loads through JNI.

pub mod engine;
pub mod kernel;

pub use kernel::{DetectOutcome, Kernel, KernelError, KernelInfo, KernelModule, ParseOutcome, Runner};
