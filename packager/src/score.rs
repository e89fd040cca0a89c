//! Scoring verdicts against ground-truth labels. The one definition lives in the kernel crate, so the playground
//! (a wasm-bindgen build of the same crate) reports exactly the precision and recall `packager run` prints.

pub use detector_wasm::score::Confusion;
