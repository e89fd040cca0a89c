//! Native and WebAssembly builds of the kernel give byte-identical answers — parse results, verdicts, dead letters
//! and state bytes — over random streams and random configurations, bad records included.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use anomaly_host::{Kernel, KernelModule};
use detector_wasm::abi;
use detector_wasm::wire;
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

fn module() -> &'static KernelModule {
    static MODULE: OnceLock<KernelModule> = OnceLock::new();
    MODULE.get_or_init(|| KernelModule::from_wasm(kernel_wasm::WASM).unwrap())
}

/// The same raw ABI calls, natively or through wasmtime.
trait Abi {
    fn parse(&mut self, request: &[u8], count: usize) -> Vec<u8>;
    fn detect(&mut self, request: &[u8], count: usize) -> Vec<u8>;
}

struct Native(abi::Kernel);

impl Abi for Native {
    fn parse(&mut self, request: &[u8], count: usize) -> Vec<u8> {
        self.0.input_reserve(request.len())[..request.len()].copy_from_slice(request);
        assert_eq!(self.0.parse_batch(count as u32, request.len()), count as i32);
        self.0.output().to_vec()
    }
    fn detect(&mut self, request: &[u8], count: usize) -> Vec<u8> {
        self.0.input_reserve(request.len())[..request.len()].copy_from_slice(request);
        assert_eq!(self.0.detect_batch(count as u32, request.len()), count as i32);
        self.0.output().to_vec()
    }
}

struct Wasm(Kernel);

impl Abi for Wasm {
    fn parse(&mut self, request: &[u8], count: usize) -> Vec<u8> {
        self.0.parse_batch(request, count).unwrap().to_vec()
    }
    fn detect(&mut self, request: &[u8], count: usize) -> Vec<u8> {
        self.0.detect_batch(request, count).unwrap().to_vec()
    }
}

/// Replays `records` one per batch through `abi`, keeping one state per key; returns every answer in order.
fn replay(abi: &mut dyn Abi, records: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut states: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut answers = Vec::new();
    for record in records {
        let mut request = Vec::new();
        wire::write_record(&mut request, record);
        let parsed = abi.parse(&request, 1);
        answers.push(parsed.clone());
        if let wire::Parsed::Event { key, event } = wire::read_batch(&parsed, 1, wire::read_parsed).unwrap()[0] {
            let mut request = Vec::new();
            wire::write_detect_item(&mut request, states.get(key).map(Vec::as_slice).unwrap_or(&[]), event);
            let detected = abi.detect(&request, 1);
            if let wire::Detected::Verdict { state, .. } = wire::read_batch(&detected, 1, wire::read_detected).unwrap()[0] {
                states.insert(key.to_vec(), state.to_vec());
            }
            answers.push(detected);
        }
    }
    answers
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    let amount = prop_oneof![0.0f64..500.0, 0.0f64..1e9, Just(0.0), Just(1e-300), (-100.0f64..0.0)];
    let good = (0u8..6, amount, 0i64..600_000, any::<bool>(), prop::option::of("[a-z_]{0,12}")).prop_map(
        |(user, amount, offset, with_id, label)| {
            let id = if with_id { format!(",\"transactionId\":\"t{offset}\"") } else { String::new() };
            let label = label.map(|l| format!(",\"label\":\"{l}\"")).unwrap_or_default();
            format!(
                "{{\"userId\":\"user{user}\",\"amount\":{amount},\"timestamp\":{},\"merchantId\":\"m\"{id}{label}}}",
                1_700_000_000_000i64 + offset * 1000
            )
            .into_bytes()
        },
    );
    let bad = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        Just(b"{\"userId\":\"u\",\"amount\":\"12\",\"timestamp\":1700000000000}".to_vec()),
        Just(b"{\"userId\":\"u\",\"amount\":1,\"timestamp\":1700000000}".to_vec()),
        Just(b"{\"userId\":\"u\",\"amount\":1".to_vec()),
        Just(b"{\"userId\":\"\xff\",\"amount\":1,\"timestamp\":1700000000000}".to_vec()),
        Just(format!("{{\"userId\":\"u\",\"amount\":1,\"x\":{}1{}}}", "[".repeat(300), "]".repeat(300)).into_bytes()),
    ];
    prop_oneof![8 => good, 2 => bad]
}

fn config() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("adaptive"), Just("zscore"), Just("ewma")],
        prop_oneof![Just("high"), Just("low"), Just("both")],
        any::<bool>(),
        prop_oneof![Just("skip"), Just("clip"), Just("full")],
        1.0f64..5.0,
        2u32..12,
        any::<bool>(),
    )
        .prop_map(|(detector, direction, log, update, k, min_events, velocity)| {
            format!(
                r#"{{"emit":"all","detector":"{detector}","direction":"{direction}","log_transform":{log},"allow_negative":{},"anomaly_update":"{update}","threshold_multiplier":{k},"min_events":{min_events},"velocity":{velocity},"burst_window_secs":120,"burst_min_events":3,"max_record_bytes":4096,"half_life_events":7}}"#,
                !log || detector == "adaptive"
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn native_and_wasm_agree_byte_for_byte(config in config(), records in prop::collection::vec(record(), 1..250)) {
        let mut native = abi::Kernel::new();
        native.input_reserve(config.len())[..config.len()].copy_from_slice(config.as_bytes());
        prop_assert_eq!(native.configure(config.len()), 0, "{}", String::from_utf8_lossy(native.output()));
        let mut wasm = module().instantiate(config.as_bytes()).unwrap();
        let a = replay(&mut Native(native), &records);
        let b = replay(&mut Wasm(wasm.fresh().unwrap()), &records);
        prop_assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            prop_assert!(x == y, "answer {} differs:\nnative {}\nwasm   {}", i, String::from_utf8_lossy(x), String::from_utf8_lossy(y));
        }
        let _ = wasm.effective_config();
    }
}
