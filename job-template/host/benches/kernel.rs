//! What the WebAssembly boundary costs: the same kernel natively and under wasmtime, one event per call and in
//! batches. Every variant does the same work per event — parse the raw JSON, look up the key's state, detect, keep
//! the new state — so the ratios are the price of the sandbox and of the call, nothing else.
//!
//! `cargo bench -p anomaly-host --bench kernel` (results and the machine in benchmarks/README.md). The WebAssembly
//! variants run the `.cwasm` exactly as `packager build` ships it (precompiled for baseline x86-64, loaded into the
//! runtime engine): `wasm/…` with signal-based traps (the default), `wasm-no-signals/…` on the engine without signal
//! handlers (`job.signal_traps = false`).
//!
//! `previous-default/batch-256` is `native/batch-256` with the default before `adaptive` (zscore): the price of the
//! new default natively.
//!
//! `KERNEL_BENCH_ONCE=VARIANT cargo bench -p anomaly-host --bench kernel` replays the stream through one variant once
//! and exits, for instruction counts under `valgrind --tool=callgrind` (steady under load, unlike times).

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use anomaly_host::{KernelModule, Traps, engine};
use criterion::{BatchSize, Criterion, Throughput, criterion_group};
use detector_wasm::abi;
use detector_wasm::wire;
use detector_wasm::{Config, Detector};
use std::collections::HashMap;

const USERS: usize = 1024;
const EVENTS: usize = 16 * 1024;
const CONFIG: &str = "{}";
/// The default before `adaptive` (zscore, one-sided, 10 events of warm-up): `previous-default/batch-256` runs it
/// natively, so the new default's native cost can be compared with the old one's in one run.
const PREVIOUS_DEFAULT: &str = r#"{"detector":"zscore","direction":"high","min_events":10}"#;

/// Brief-shaped transactions, round-robin over users so a batch of up to `USERS` events never repeats a key (the
/// job's batches don't either: one batch holds at most one event per key). Amounts are log-normal-ish per user from a
/// fixed LCG, so the detectors take their ordinary paths with the occasional anomaly.
fn events() -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..EVENTS)
        .map(|i| {
            let user = i % USERS;
            let typical = 20.0 + (user % 37) as f64 * 7.0;
            let spike = if next() < 0.002 { 25.0 } else { 1.0 };
            let amount = (typical * (1.0 + (next() - 0.5) * 0.6) * spike * 100.0).round() / 100.0;
            format!(
                r#"{{"userId":"user{user:05}","amount":{amount},"timestamp":{},"transactionId":"txn-{i}","merchantId":"merchant-{:03}"}}"#,
                1_700_000_000_000u64 + i as u64 * 1_500,
                i % 97
            )
            .into_bytes()
        })
        .collect()
}

/// The kernel's two batch calls, natively (the ABI code compiled for the host) or through wasmtime.
trait Calls {
    fn parse(&mut self, request: &[u8], count: usize) -> &[u8];
    fn detect(&mut self, request: &[u8], count: usize) -> &[u8];
}

impl Calls for abi::Kernel {
    fn parse(&mut self, request: &[u8], count: usize) -> &[u8] {
        self.input_reserve(request.len())[..request.len()].copy_from_slice(request);
        assert_eq!(self.parse_batch(count as u32, request.len()), count as i32);
        self.output()
    }
    fn detect(&mut self, request: &[u8], count: usize) -> &[u8] {
        self.input_reserve(request.len())[..request.len()].copy_from_slice(request);
        assert_eq!(self.detect_batch(count as u32, request.len()), count as i32);
        self.output()
    }
}

impl Calls for anomaly_host::Kernel {
    fn parse(&mut self, request: &[u8], count: usize) -> &[u8] {
        self.parse_batch(request, count).unwrap()
    }
    fn detect(&mut self, request: &[u8], count: usize) -> &[u8] {
        self.detect_batch(request, count).unwrap()
    }
}

/// Replays every event through `kernel` in batches of `batch`; returns the number of anomalies (so nothing is
/// optimised away).
fn replay(kernel: &mut dyn Calls, events: &[Vec<u8>], batch: usize, states: &mut HashMap<Vec<u8>, Vec<u8>>) -> usize {
    let mut anomalies = 0;
    let mut request = Vec::new();
    let mut parsed: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(batch);
    for chunk in events.chunks(batch) {
        request.clear();
        for raw in chunk {
            wire::write_record(&mut request, raw);
        }
        parsed.clear();
        for p in wire::read_batch(kernel.parse(&request, chunk.len()), chunk.len(), wire::read_parsed).unwrap() {
            if let wire::Parsed::Event { key, event } = p {
                parsed.push((key.to_vec(), event.to_vec()));
            }
        }
        request.clear();
        for (key, event) in &parsed {
            wire::write_detect_item(&mut request, states.get(key).map(Vec::as_slice).unwrap_or(&[]), event);
        }
        let detected = kernel.detect(&request, parsed.len());
        for ((key, _), d) in parsed.iter().zip(wire::read_batch(detected, parsed.len(), wire::read_detected).unwrap()) {
            if let wire::Detected::Verdict { flags, state, .. } = d {
                anomalies += usize::from(flags & abi::FLAG_ANOMALY != 0);
                match states.get_mut(key) {
                    Some(s) => s.copy_from_slice(state),
                    None => {
                        states.insert(key.clone(), state.to_vec());
                    }
                }
            }
        }
    }
    anomalies
}

/// The detector as plain Rust calls, no ABI framing: the floor.
fn direct(detector: &Detector, events: &[Vec<u8>], states: &mut HashMap<String, Vec<u8>>) -> usize {
    let mut anomalies = 0;
    for raw in events {
        let event = detector_wasm::parse(detector.config(), raw).unwrap();
        let state = states.entry(event.key.clone()).or_default();
        let (next, assessment) = detector_wasm::detect(detector, state, &event).unwrap();
        if assessment.is_anomaly() {
            anomalies += 1;
            std::hint::black_box(serde_json::to_vec(&detector_wasm::render(detector.config(), &event, &assessment)).unwrap());
        }
        state.clear();
        next.encode_into(state);
    }
    anomalies
}

fn native_kernel() -> abi::Kernel {
    native_kernel_with(CONFIG)
}

fn native_kernel_with(config: &str) -> abi::Kernel {
    let mut k = abi::Kernel::new();
    k.input_reserve(config.len())[..config.len()].copy_from_slice(config.as_bytes());
    assert_eq!(k.configure(config.len()), 0);
    k
}

/// The kernel as shipped for `traps`: precompiled for Managed Flink's target, loaded into the runtime engine.
fn shipped_module(traps: Traps) -> KernelModule {
    let cwasm = engine::precompile(kernel_wasm::WASM, traps).unwrap();
    // SAFETY: produced just above by engine::precompile.
    unsafe { KernelModule::from_cwasm(&cwasm, traps) }.unwrap()
}

/// `KERNEL_BENCH_ONCE=VARIANT`: one replay of `native/batch-N`, `previous-default/batch-N`, `wasm/batch-N` or
/// `wasm-no-signals/batch-N`.
fn once(variant: &str) {
    let events = events();
    let (kind, batch) = variant.split_once("/batch-").expect("VARIANT is KIND/batch-N");
    let batch: usize = batch.parse().expect("N is a number");
    let mut kernel: Box<dyn Calls> = match kind {
        "native" => Box::new(native_kernel()),
        "previous-default" => Box::new(native_kernel_with(PREVIOUS_DEFAULT)),
        "wasm" => Box::new(shipped_module(Traps::Signals).instantiate(CONFIG.as_bytes()).unwrap()),
        "wasm-no-signals" => Box::new(shipped_module(Traps::Explicit).instantiate(CONFIG.as_bytes()).unwrap()),
        other => panic!("unknown variant kind {other}"),
    };
    let anomalies = replay(kernel.as_mut(), &events, batch, &mut HashMap::new());
    println!("{variant}: {} events, {anomalies} anomalies", events.len());
}

fn bench(c: &mut Criterion) {
    let events = events();
    let modules = [("wasm", shipped_module(Traps::Signals)), ("wasm-no-signals", shipped_module(Traps::Explicit))];
    let detector = Detector::new(Config::from_json(CONFIG.as_bytes()).unwrap());

    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);
    // Each iteration replays the whole stream from empty state, so every variant sees the same warm-up and anomalies.
    group.bench_function("native/direct", |b| {
        b.iter_batched_ref(HashMap::new, |states| direct(&detector, &events, states), BatchSize::LargeInput)
    });
    for batch in [1, 256] {
        group.bench_function(format!("native/batch-{batch}"), |b| {
            let mut kernel = native_kernel();
            b.iter_batched_ref(HashMap::new, |states| replay(&mut kernel, &events, batch, states), BatchSize::LargeInput)
        });
        for (name, module) in &modules {
            group.bench_function(format!("{name}/batch-{batch}"), |b| {
                let mut kernel = module.instantiate(CONFIG.as_bytes()).unwrap();
                b.iter_batched_ref(HashMap::new, |states| replay(&mut kernel, &events, batch, states), BatchSize::LargeInput)
            });
        }
    }
    group.bench_function("previous-default/batch-256", |b| {
        let mut kernel = native_kernel_with(PREVIOUS_DEFAULT);
        b.iter_batched_ref(HashMap::new, |states| replay(&mut kernel, &events, 256, states), BatchSize::LargeInput)
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    match std::env::var("KERNEL_BENCH_ONCE") {
        Ok(variant) => once(&variant),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
