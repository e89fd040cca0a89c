//! The ABI client against the real kernel module and against deliberately broken modules.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use anomaly_host::{DetectOutcome, KernelError, KernelModule, ParseOutcome, Runner, Traps, engine};
use detector_wasm::abi;
use std::time::{Duration, Instant};

const BRIEF: [&str; 2] = [
    r#"{"userId":"user001","amount":100.0,"timestamp":1234567890000,"transactionId":"txn-001","merchantId":"merchant-001"}"#,
    r#"{"userId":"user001","amount":5000.0,"timestamp":1234567950000,"transactionId":"txn-002","merchantId":"merchant-002"}"#,
];

fn module() -> KernelModule {
    KernelModule::from_wasm(kernel_wasm::WASM).unwrap()
}

#[test]
fn real_kernel_reports_its_abi_and_state_size() {
    let kernel = module().instantiate(b"{}").unwrap();
    assert_eq!(kernel.info().abi_version, abi::ABI_VERSION);
    assert_eq!(kernel.info().state_size, detector_wasm::STATE_SIZE);
    assert!(kernel.info().config_keys.iter().any(|k| k == "threshold_multiplier"));
}

#[test]
fn precompiled_kernels_load_into_the_runtime_engine_of_either_trap_mode_and_agree() {
    let records: Vec<&[u8]> = BRIEF.iter().map(|r| r.as_bytes()).collect();
    let expected = Runner::new(module().instantiate(b"{}").unwrap()).parse(&records).unwrap();
    for traps in Traps::ALL {
        let cwasm = engine::precompile(kernel_wasm::WASM, traps).unwrap();
        // SAFETY: produced just above by engine::precompile.
        let precompiled = unsafe { KernelModule::from_cwasm(&cwasm, traps) }.unwrap();
        assert_eq!(Runner::new(precompiled.instantiate(b"{}").unwrap()).parse(&records).unwrap(), expected, "{traps:?}");
    }
}

#[test]
fn a_kernel_precompiled_for_the_other_trap_mode_is_refused_clearly() {
    let cwasm = engine::precompile(kernel_wasm::WASM, Traps::Explicit).unwrap();
    // SAFETY: a genuine artifact of engine::precompile, for the other mode.
    let err = unsafe { KernelModule::from_cwasm(&cwasm, Traps::Signals) }.err().expect("mismatch must be refused");
    assert!(matches!(err, KernelError::EngineMismatch(_)), "{err}");
    assert!(err.to_string().contains("signal-based traps"), "{err}");
}

#[test]
fn kernels_alive_at_the_same_time_share_one_runtime_engine_per_trap_mode() {
    let cwasm = engine::precompile(kernel_wasm::WASM, Traps::Signals).unwrap();
    // SAFETY: produced just above by engine::precompile.
    let (a, b) =
        unsafe { (KernelModule::from_cwasm(&cwasm, Traps::Signals).unwrap(), KernelModule::from_cwasm(&cwasm, Traps::Signals).unwrap()) };
    assert!(wasmtime::Engine::same(a.engine(), b.engine()));
}

#[test]
fn a_cwasm_from_another_engine_config_is_refused_clearly() {
    // A default engine (no epoch interruption, other reservations) produces an incompatible artifact.
    let other = wasmtime::Engine::default().precompile_module(kernel_wasm::WASM).unwrap();
    // SAFETY: a genuine wasmtime artifact, only with other settings.
    let err = unsafe { KernelModule::from_cwasm(&other, Traps::Signals) }.err().expect("mismatch must be refused");
    assert!(matches!(err, KernelError::EngineMismatch(_)), "{err}");
    assert!(err.to_string().contains("packager build"), "{err}");
}

#[test]
fn configuration_errors_name_the_key() {
    let err = module().instantiate(br#"{"threshold_multiplier":"lots"}"#).err().unwrap();
    assert!(matches!(err, KernelError::Config(_)), "{err}");
    assert!(err.to_string().contains("threshold_multiplier"), "{err}");
}

#[test]
fn brief_events_parse_and_detect_through_wasm() {
    let mut runner = Runner::new(module().instantiate(br#"{"emit":"all"}"#).unwrap());
    let parsed = runner.parse(&[BRIEF[0].as_bytes(), b"not json"]).unwrap();
    let ParseOutcome::Event { key, event } = &parsed[0] else { panic!("{parsed:?}") };
    assert_eq!(key, b"user001");
    let ParseOutcome::DeadLetter(dead) = &parsed[1] else { panic!("{parsed:?}") };
    let dead: detector_wasm::DeadLetter = serde_json::from_slice(dead).unwrap();
    assert_eq!(dead.raw.as_deref(), Some("not json"));
    let out = runner.detect(&[(&[], event)]).unwrap();
    let DetectOutcome::Verdict { state, verdict, .. } = &out[0] else { panic!("{out:?}") };
    assert_eq!(state.len(), detector_wasm::STATE_SIZE);
    let verdict: detector_wasm::Verdict = serde_json::from_slice(verdict).unwrap();
    assert_eq!(verdict.key, "user001");
    assert_eq!(verdict.event_id, "txn-001");
}

fn wat_module(text: &str) -> Result<KernelModule, KernelError> {
    KernelModule::from_wasm(&wat::parse_str(text).unwrap())
}

/// A module with every export. `kernel_info` answers a valid info document; `parse_batch` runs `parse_body`
/// (params: count, len), then answers one dead letter `x` and returns 1.
fn fake_kernel(abi_version: u32, parse_body: &str) -> String {
    let info =
        format!(r#"{{"abiVersion":{abi_version},"stateSize":128,"stateVersion":1,"kernelVersion":"fake","detectors":[],"configKeys":[]}}"#);
    let escaped = info.replace('"', "\\22");
    let len = info.len();
    format!(
        r#"(module
          (memory (export "memory") 1)
          (global $answering_parse (mut i32) (i32.const 0))
          (data (i32.const 0) "{escaped}")
          (data (i32.const 512) "\01\01\00\00\00x")
          (func (export "abi_version") (result i32) i32.const {abi_version})
          (func (export "state_size") (result i32) i32.const 128)
          (func (export "input_reserve") (param i32) (result i32) i32.const 1024)
          (func (export "output_ptr") (result i32)
            (if (result i32) (global.get $answering_parse) (then i32.const 512) (else i32.const 0)))
          (func (export "output_len") (result i32)
            (if (result i32) (global.get $answering_parse) (then i32.const 6) (else i32.const {len})))
          (func (export "kernel_info") (result i32) (global.set $answering_parse (i32.const 0)) i32.const 0)
          (func (export "configure") (param i32) (result i32) (global.set $answering_parse (i32.const 0)) i32.const 0)
          (func (export "parse_batch") (param i32 i32) (result i32)
            {parse_body}
            (global.set $answering_parse (i32.const 1))
            i32.const 1)
          (func (export "detect_batch") (param i32 i32) (result i32) i32.const 0))"#
    )
}

#[test]
fn a_kernel_with_imports_is_refused() {
    let err =
        wat_module(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#).err().unwrap();
    assert!(matches!(err, KernelError::HasImports { .. }), "{err}");
    assert!(err.to_string().contains("fd_write"), "{err}");
}

#[test]
fn a_kernel_missing_exports_is_refused() {
    let err = wat_module(r#"(module (memory (export "memory") 1))"#).err().unwrap();
    assert!(matches!(err, KernelError::MissingExport(_)), "{err}");
}

#[test]
fn an_unknown_abi_version_is_refused() {
    let err = wat_module(&fake_kernel(99, "nop")).unwrap().instantiate(b"{}").err().unwrap();
    assert!(matches!(err, KernelError::AbiMismatch { found: 99, .. }), "{err}");
}

#[test]
fn a_runaway_kernel_is_interrupted_at_its_time_limit_instead_of_hanging() {
    let module = wat_module(&fake_kernel(abi::ABI_VERSION, "(loop $l (br $l))")).unwrap();
    let mut kernel = module.instantiate(b"{}").unwrap();
    kernel.set_time_limit(Duration::from_millis(200));
    let err = kernel.parse_batch(&[0, 0, 0, 0], 1).err().unwrap();
    assert!(matches!(err, KernelError::Trap(_)), "{err}");
    assert!(err.to_string().contains("time limit"), "{err}");
    // A fresh instance after the trap keeps the limit; a new one has the default (2 s), which stops it too.
    let err = kernel.fresh().unwrap().parse_batch(&[0, 0, 0, 0], 1).err().unwrap();
    assert!(err.to_string().contains("time limit"), "{err}");
    let err = module.instantiate(b"{}").unwrap().parse_batch(&[0, 0, 0, 0], 1).err().unwrap();
    assert!(err.to_string().contains("time limit"), "{err}");
}

#[test]
fn faults_inside_the_kernel_become_trap_errors_with_either_trap_mode() {
    // The record's first byte picks the fault: an access past the end of memory (a guard-page SIGSEGV with signals),
    // a division by zero (SIGFPE), `unreachable` (SIGILL).
    let body = "(local.set 0 (i32.load8_u (i32.const 1028)))
        (if (i32.eq (local.get 0) (i32.const 0x6d)) (then (drop (i32.load (i32.const 0xfffffff0)))))
        (if (i32.eq (local.get 0) (i32.const 0x64)) (then (drop (i32.div_s (i32.const 1) (i32.sub (local.get 0) (i32.const 0x64))))))
        (if (i32.eq (local.get 0) (i32.const 0x75)) (then unreachable))";
    let wasm = wat::parse_str(fake_kernel(abi::ABI_VERSION, body)).unwrap();
    for traps in Traps::ALL {
        let module = KernelModule::from_wasm_with(&wasm, traps).unwrap();
        for (record, expected) in [(b"m", "out of bounds memory access"), (b"d", "integer divide by zero"), (b"u", "unreachable")] {
            let mut request = Vec::new();
            detector_wasm::wire::write_record(&mut request, record);
            let err = module.instantiate(b"{}").unwrap().parse_batch(&request, 1).expect_err("the fault must trap");
            assert!(matches!(err, KernelError::Trap(_)), "{traps:?} {err}");
            assert!(err.to_string().contains(expected), "{traps:?}: {err}");
        }
        // The instance that faulted is gone; a fresh one answers.
        let mut request = Vec::new();
        detector_wasm::wire::write_record(&mut request, b"fine");
        assert!(module.instantiate(b"{}").unwrap().parse_batch(&request, 1).is_ok(), "{traps:?}");
    }
}

#[test]
fn a_trapping_record_becomes_a_dead_letter_and_its_neighbours_are_still_processed() {
    // Traps when the batch's first record starts with '!' (its bytes start at 1024 + 4).
    let body = "(if (i32.eq (i32.load8_u (i32.const 1028)) (i32.const 33)) (then unreachable))";
    let module = wat_module(&fake_kernel(abi::ABI_VERSION, body)).unwrap();
    let mut runner = Runner::new(module.instantiate(b"{}").unwrap());
    let out = runner.parse(&[b"!boom", b"fine"]).unwrap();
    assert_eq!(out.len(), 2);
    let ParseOutcome::DeadLetter(dead) = &out[0] else { panic!("{out:?}") };
    let dead: detector_wasm::DeadLetter = serde_json::from_slice(dead).unwrap();
    assert_eq!(dead.stage, "kernel");
    assert_eq!(dead.raw.as_deref(), Some("!boom"));
    assert!(dead.reason.contains("trapped"), "{}", dead.reason);
    assert_eq!(out[1], ParseOutcome::DeadLetter(b"x".to_vec()), "the neighbour got the fresh instance's answer");
    // Once for the batch, once more for the record alone.
    assert_eq!(runner.traps(), 2);
}

#[test]
fn zero_copy_calls_get_a_fresh_time_limit_each_time() {
    // Each call spins for about a tenth of the limit (calibrated below); a limit armed once for the whole
    // reservation would interrupt one of the later calls.
    let body =
        "(local.set 0 (i32.load (i32.const 1024))) (loop $l (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0)))";
    let module = wat_module(&fake_kernel(abi::ABI_VERSION, body)).unwrap();
    let mut kernel = module.instantiate(b"{}").unwrap();
    let spins = |kernel: &mut anomaly_host::Kernel, n: u32| {
        let offset = kernel.reserve_input(4).unwrap();
        kernel.memory_mut()[offset..offset + 4].copy_from_slice(&n.to_le_bytes());
        offset
    };
    let mut n = 1u32 << 20;
    let per_call = loop {
        spins(&mut kernel, n);
        let start = Instant::now();
        kernel.call_parse(1, 4).unwrap();
        let took = start.elapsed();
        if took >= Duration::from_millis(20) || n >= 1 << 30 {
            break took;
        }
        n *= 2;
    };
    kernel.set_time_limit(per_call * 10);
    spins(&mut kernel, n);
    for call in 0..30 {
        kernel.call_parse(1, 4).unwrap_or_else(|e| panic!("call {call} of {per_call:?} each under a limit of 10x that: {e}"));
    }
}
