//! The wasm-bindgen exports: thin wrappers over the crate's JSON-in, JSON-out functions.

use wasm_bindgen::prelude::wasm_bindgen;

/// Replays `input` (`jsonl`, `csv` or `auto`) under the flat config JSON; see `replay::Replayed`.
#[wasm_bindgen]
pub fn replay(config_json: &str, input: &str, format: &str) -> String {
    crate::replay_json(config_json, input, format)
}

/// The packager.toml and Terraform snippets for a flat config JSON.
#[wasm_bindgen]
pub fn export_settings(config_json: &str) -> String {
    crate::export_json(config_json)
}

/// A labeled synthetic transaction stream (JSON lines) for the options JSON, from `packager generate`'s generator.
#[wasm_bindgen]
pub fn generate(options_json: &str) -> String {
    crate::generate_json(options_json)
}

/// The kernel's default configuration as flat JSON.
#[wasm_bindgen]
pub fn default_config() -> String {
    crate::defaults_json()
}

/// The kernel crate's version.
#[wasm_bindgen]
pub fn kernel_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}
