//! The anomaly-detection kernel.
//!
//! Pure, target-neutral detection code plus one WebAssembly boundary ([`abi`]). The same crate builds the `.wasm`
//! that runs inside the Flink job and `packager run`, and natively for benchmarks, parity tests and the Rust hosts
//! that read its types ([`verdict::Verdict`], [`verdict::DeadLetter`], [`config::Config`]).
//!
//! The flow for one record: [`event::parse`] turns raw JSON into an [`event::Event`] (key, value, time, id);
//! the host looks up the key's state bytes; [`detector::detect`] scores the event against them and returns the new
//! state and an [`detector::Assessment`], rendered into a [`verdict::Verdict`] when it is to be emitted.

// `!(x > y)` is deliberate throughout: it sends NaN down the safe branch, which `x <= y` would not.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod abi;
pub mod config;
pub mod detector;
pub mod event;
#[cfg(feature = "generate")]
pub mod generate;
pub mod math;
pub mod properties;
pub mod replay;
pub mod score;
pub mod state;
pub mod verdict;
pub mod wire;

pub use config::Config;
pub use detector::{Assessment, Detector, assess, detect, render};
pub use event::{Event, ParseError, parse};
pub use state::{STATE_SIZE, State};
pub use verdict::{DeadLetter, Verdict};
