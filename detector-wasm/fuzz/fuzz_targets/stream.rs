//! Arbitrary bytes as a stream of records through the kernel the way a host drives it: parse every line, keep one
//! state per key, detect. Any panic is a bug (bad input must become a dead letter); every answer must be readable.
//! Now and then the stored state is replaced by fuzz bytes, as a corrupt or foreign checkpoint would be.
//! Every line is also parsed without the parser's fast path: both must give the same event or the same error.
#![no_main]

use detector_wasm::abi;
use detector_wasm::wire;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

/// Configurations that take different paths through the parser and the detectors.
const CONFIGS: [&str; 8] = [
    "{}",
    r#"{"log_transform":false,"allow_negative":true,"direction":"low","anomaly_update":"full","emit":"all"}"#,
    r#"{"detector":"zscore","min_events":2,"emit":"all"}"#,
    r#"{"detector":"ewma","direction":"both","anomaly_update":"full","emit":"all"}"#,
    r#"{"log_transform":false,"velocity":false,"min_events":2,"allow_negative":true,"timestamp_unit":"s"}"#,
    r#"{"key_field":"userId,merchantId","value_field":"amount","event_id_field":"","label_field":"","max_record_bytes":256,"anomaly_update":"skip","min_events":3}"#,
    r#"{"detector":"zscore","velocity":false,"min_events":2,"emit":"all"}"#,
    r#"{"detector":"ewma","velocity":false,"log_transform":false,"allow_negative":true,"direction":"both","emit":"all"}"#,
];

fn configured(config: &str) -> abi::Kernel {
    let mut k = abi::Kernel::new();
    k.input_reserve(config.len())[..config.len()].copy_from_slice(config.as_bytes());
    assert_eq!(k.configure(config.len()), 0, "{}", String::from_utf8_lossy(k.output()));
    k
}

fn call(k: &mut abi::Kernel, request: &[u8], count: usize, detect: bool) -> Vec<u8> {
    k.input_reserve(request.len())[..request.len()].copy_from_slice(request);
    let rc = if detect { k.detect_batch(count as u32, request.len()) } else { k.parse_batch(count as u32, request.len()) };
    assert_eq!(rc, count as i32, "well-framed request refused: {}", String::from_utf8_lossy(k.output()));
    k.output().to_vec()
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let config_json = CONFIGS[usize::from(selector) % CONFIGS.len()];
    let mut kernel = configured(config_json);
    let config = detector_wasm::Config::from_json(config_json.as_bytes()).expect("the fuzz configurations are valid");
    let corrupt_every = usize::from(selector >> 2).max(3);
    let mut states: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    for (i, line) in rest.split(|&b| b == b'\n').take(256).enumerate() {
        assert_eq!(detector_wasm::parse(&config, line), detector_wasm::event::parse_reference(&config, line), "fast path and serde disagree");
        let mut request = Vec::new();
        wire::write_record(&mut request, line);
        let parsed = call(&mut kernel, &request, 1, false);
        let wire::Parsed::Event { key, event } = wire::read_batch(&parsed, 1, wire::read_parsed).expect("parse answer must be readable")[0] else {
            continue;
        };
        let state = if i % corrupt_every == corrupt_every - 1 { line.to_vec() } else { states.get(key).cloned().unwrap_or_default() };
        let mut request = Vec::new();
        wire::write_detect_item(&mut request, &state, event);
        let detected = call(&mut kernel, &request, 1, true);
        match wire::read_batch(&detected, 1, wire::read_detected).expect("detect answer must be readable")[0] {
            wire::Detected::Verdict { state, verdict, .. } => {
                let size = match (config.detector, config.velocity) {
                    (detector_wasm::config::DetectorKind::Adaptive, _) => detector_wasm::STATE_SIZE,
                    (_, true) => detector_wasm::state::CLASSIC_STATE_SIZE,
                    (_, false) => detector_wasm::state::COMPACT_STATE_SIZE,
                };
                assert_eq!(state.len(), size);
                if !verdict.is_empty() {
                    serde_json::from_slice::<serde_json::Value>(verdict).expect("a verdict is JSON");
                }
                states.insert(key.to_vec(), state.to_vec());
            }
            wire::Detected::DeadLetter(dead) => {
                serde_json::from_slice::<serde_json::Value>(dead).expect("a dead letter is JSON");
            }
        }
    }
});
