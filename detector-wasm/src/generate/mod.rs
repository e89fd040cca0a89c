//! Seeded, labeled synthetic streams (cargo feature `generate`, off for the `.wasm` kernel, which stays import-free
//! and small): what `packager generate` and `packager send --generate` write and what the playground generates,
//! compiled to WebAssembly there. One file per kind of stream, each with its `Options`, a `generate` function that
//! hands out events in time order and `lines` for the whole stream as JSON lines:
//! - [`transactions`]: card transactions of many users, with amount spikes, bursts and habit shifts;
//! - [`metrics`]: system metrics of many hosts, sampled regularly, with spikes, dips, level shifts, drifts and
//!   flat-lines.

pub mod metrics;
pub mod transactions;

/// Why a stream stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error<E> {
    /// The options cannot make a stream; the message names the flag.
    Invalid(String),
    /// The caller's sink failed (writing to a closed pipe, say).
    Sink(E),
}
