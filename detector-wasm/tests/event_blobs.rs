//! The event blob between parse and detect: detect reads its head for every event and the rest only for a verdict
//! it renders; a blob it cannot read is a dead letter naming why, never a verdict built from garbage.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use detector_wasm::abi::Kernel;
use detector_wasm::wire::{self, Detected, Parsed};

fn kernel(config: &str) -> Kernel {
    let mut k = Kernel::new();
    let bytes = config.as_bytes();
    k.input_reserve(bytes.len())[..bytes.len()].copy_from_slice(bytes);
    assert_eq!(k.configure(bytes.len()), 0, "{}", String::from_utf8_lossy(k.output()));
    k
}

fn blob(k: &mut Kernel, raw: &str) -> Vec<u8> {
    let mut request = Vec::new();
    wire::write_record(&mut request, raw.as_bytes());
    k.input_reserve(request.len())[..request.len()].copy_from_slice(&request);
    assert_eq!(k.parse_batch(1, request.len()), 1);
    match wire::read_batch(k.output(), 1, wire::read_parsed).unwrap()[0] {
        Parsed::Event { event, .. } => event.to_vec(),
        Parsed::DeadLetter(d) => panic!("the record should parse: {}", String::from_utf8_lossy(d)),
    }
}

/// Detects one event of a new key: `Ok(verdict JSON)` or `Err(dead letter JSON)`.
fn detect(k: &mut Kernel, event: &[u8]) -> Result<String, String> {
    let mut request = Vec::new();
    wire::write_detect_item(&mut request, &[], event);
    k.input_reserve(request.len())[..request.len()].copy_from_slice(&request);
    assert_eq!(k.detect_batch(1, request.len()), 1);
    match wire::read_batch(k.output(), 1, wire::read_detected).unwrap()[0] {
        Detected::Verdict { verdict, .. } => Ok(String::from_utf8(verdict.to_vec()).unwrap()),
        Detected::DeadLetter(d) => Err(String::from_utf8(d.to_vec()).unwrap()),
    }
}

const RECORD: &str =
    r#"{"userId":"user001","amount":100.0,"timestamp":1234567890000,"transactionId":"txn-001","merchantId":"merchant-001"}"#;

#[test]
fn a_rendered_verdict_needs_the_whole_blob_readable() {
    // emit = all: every event's verdict is rendered, so every blob is read whole.
    let mut k = kernel(r#"{"emit":"all"}"#);
    let good = blob(&mut k, RECORD);
    let verdict = detect(&mut k, &good).unwrap();
    assert!(verdict.contains("txn-001") && verdict.contains("merchant-001"), "{verdict}");

    // The event id's bytes made invalid UTF-8: the head is intact, the rest is not.
    let at = good.windows(7).position(|w| w == b"txn-001").unwrap();
    let mut bad = good.clone();
    bad[at] = 0xff;
    let dead = detect(&mut k, &bad).unwrap_err();
    assert!(dead.contains("unreadable event from parse") && dead.contains("not UTF-8"), "{dead}");

    // Cut inside the strings: the head is intact, the rest is missing.
    let dead = detect(&mut k, &good[..good.len() - 4]).unwrap_err();
    assert!(dead.contains("unreadable event from parse"), "{dead}");
}

#[test]
fn a_blob_whose_head_is_unreadable_is_a_dead_letter_whatever_is_emitted() {
    let mut k = kernel("{}");
    let good = blob(&mut k, RECORD);
    for bad in [&good[..10], &[9u8; 40][..]] {
        let dead = detect(&mut k, bad).unwrap_err();
        assert!(dead.contains("unreadable event from parse"), "{dead}");
    }
    // The intact blob of the same record is scored (no verdict rendered: the key is new).
    assert_eq!(detect(&mut k, &good), Ok(String::new()));
}
