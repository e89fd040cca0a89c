//! Everything the kernel writes fits the sinks it goes to. A Kinesis record holds at most 1 MiB, a Firehose record
//! 1000 KiB; a dead letter that embeds a whole hostile record can be larger than the record itself (every control
//! character becomes six bytes of JSON, every binary byte 4/3 of base64), and a sink that refuses it fails the job,
//! which then meets the same record again after its restart. So whatever the record, every dead letter and every
//! verdict is at most `verdict::MAX_OUTPUT_BYTES`, and a dead letter still identifies its whole record (length and
//! SHA-256) when it carries only the record's beginning.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use detector_wasm::Config;
use detector_wasm::abi::Kernel;
use detector_wasm::wire::{self, Detected, Parsed};
use proptest::prelude::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The sinks' limit the kernel's outputs must stay under (the Kinesis data-record limit).
const KINESIS_RECORD_LIMIT: usize = 1024 * 1024;
/// What the kernel promises (see `detector_wasm::verdict`): far enough below every sink's limit.
const PROMISED: usize = 256 * 1024;

fn kernel(config: &str) -> Kernel {
    let mut k = Kernel::new();
    let bytes = config.as_bytes();
    k.input_reserve(bytes.len()).get_mut(..bytes.len()).unwrap().copy_from_slice(bytes);
    assert_eq!(k.configure(bytes.len()), 0, "{}", String::from_utf8_lossy(k.output()));
    k
}

/// Parses one record and returns its dead letter as JSON (panics when the record parses).
fn dead_letter(k: &mut Kernel, raw: &[u8]) -> Vec<u8> {
    let mut request = Vec::new();
    wire::write_record(&mut request, raw);
    k.input_reserve(request.len())[..request.len()].copy_from_slice(&request);
    assert_eq!(k.parse_batch(1, request.len()), 1);
    match wire::read_batch(k.output(), 1, wire::read_parsed).unwrap()[0] {
        Parsed::DeadLetter(json) => json.to_vec(),
        Parsed::Event { .. } => panic!("expected a dead letter for a record of {} bytes", raw.len()),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The dead letter fits, says how long the record was and what it hashes to, and carries a true prefix of it
/// (all of it when it is not marked truncated).
fn check_dead_letter(json: &[u8], raw: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(json.len() <= PROMISED, "a dead letter of {} bytes for a record of {} bytes", json.len(), raw.len());
    let letter: Value = serde_json::from_slice(json).map_err(|e| TestCaseError::fail(format!("not JSON: {e}")))?;
    prop_assert_eq!(letter["rawBytes"].as_u64(), Some(raw.len() as u64));
    let digest = sha256_hex(raw);
    prop_assert_eq!(letter["rawSha256"].as_str(), Some(digest.as_str()));
    let kept: Vec<u8> = match (letter["raw"].as_str(), letter["rawBase64"].as_str()) {
        (Some(text), None) => text.as_bytes().to_vec(),
        (None, Some(b64)) => decode_base64(b64),
        other => return Err(TestCaseError::fail(format!("expected exactly one of raw and rawBase64, got {other:?}"))),
    };
    prop_assert!(raw.starts_with(&kept), "the embedded record is not a prefix of the record");
    let truncated = letter["truncated"].as_bool();
    prop_assert_eq!(truncated, Some(kept.len() < raw.len()), "truncated must say whether bytes were left out");
    Ok(())
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in text.as_bytes().chunks(4) {
        let digits: Vec<u8> = chunk.iter().filter(|&&c| c != b'=').map(|&c| value(c)).collect();
        let n = digits.iter().enumerate().fold(0u32, |acc, (i, d)| acc | (*d as u32) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..digits.len()]);
    }
    out
}

/// Records of every size up to (and just over) `max_record_bytes`, made of the bytes that grow most in a dead
/// letter: control characters (6 bytes of JSON each), quotes and backslashes (2), multi-byte UTF-8, bytes that are
/// not UTF-8 at all (base64), and plain ASCII.
fn hostile_record(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let unit = prop::sample::select(vec![
        b"\x01".to_vec(),
        b"\x1f".to_vec(),
        b"\"".to_vec(),
        b"\\".to_vec(),
        "é".as_bytes().to_vec(),
        "\u{2028}".as_bytes().to_vec(),
        vec![0xff],
        vec![0xc3],
        b"a".to_vec(),
    ]);
    let sizes = prop_oneof![0..64usize, (max - 64)..=(max + 64), 0..=max];
    (sizes, prop::collection::vec(unit, 1..4), any::<bool>()).prop_map(move |(size, units, as_json)| {
        let mut body = Vec::with_capacity(size + 16);
        let mut i = 0;
        while body.len() < size {
            body.extend_from_slice(&units[i % units.len()]);
            i += 1;
        }
        body.truncate(size);
        if as_json && size > 12 {
            // An object whose one string holds it all: the shape of a record that is nearly valid.
            body[..11].copy_from_slice(b"{\"userId\":\"");
        }
        body
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn every_dead_letter_fits_the_sink_whatever_the_record(raw in hostile_record(1024 * 1024)) {
        let mut k = kernel("{}");
        let json = dead_letter(&mut k, &raw);
        check_dead_letter(&json, &raw)?;
    }

    #[test]
    fn records_under_a_small_max_record_bytes_fit_too(raw in hostile_record(4096)) {
        let mut k = kernel(r#"{"max_record_bytes": 4096}"#);
        let json = dead_letter(&mut k, &raw);
        check_dead_letter(&json, &raw)?;
    }
}

/// The two records that crash-looped the job: 600 KB of escaped characters (a 1.2 MB dead letter before) and
/// 800 KB that are not UTF-8 (1.07 MB of base64 before).
#[test]
fn the_two_records_that_looped_the_job_now_fit() {
    let mut k = kernel("{}");
    let mut escaped = b"{\"userId\":\"".to_vec();
    escaped.extend(std::iter::repeat_n(b'\x01', 600_000));
    let binary: Vec<u8> = (0..800_000u32).map(|i| 0x80 | (i % 64) as u8).collect();
    for raw in [escaped, binary] {
        let json = dead_letter(&mut k, &raw);
        assert!(json.len() < KINESIS_RECORD_LIMIT && json.len() <= PROMISED, "{} bytes", json.len());
        check_dead_letter(&json, &raw).unwrap();
    }
}

/// Verdicts are bounded by what the configuration allows: keys and ids of at most 256 bytes, attributes of at most
/// 256 bytes each and a bounded number of configured fields with bounded names. The worst the configuration
/// allows, filled with the characters that grow most, still fits.
#[test]
fn the_largest_verdict_the_configuration_allows_fits() {
    let name = |i: usize| format!("{i:02}{}", "\u{1}".repeat(MAX_NAME - 2));
    let attributes: Vec<String> = (0..MAX_ATTRIBUTES).map(|i| name(i + 10)).collect();
    let config = serde_json::json!({
        "key_field": [name(0), name(1)],
        "value_field": name(2),
        "timestamp_field": "",
        "velocity": false,
        "event_id_field": name(3),
        "label_field": name(4),
        "attribute_fields": attributes,
        "min_events": 2,
        "emit": "all",
    });
    let config = Config::from_json(config.to_string().as_bytes()).expect("the largest configuration is valid");
    let mut k = kernel(&config.to_json());
    let hostile = "\u{1}".repeat(250);
    let mut record = serde_json::Map::new();
    record.insert(name(0), hostile[..120].into());
    record.insert(name(1), hostile[..120].into());
    record.insert(name(2), 5.0.into());
    record.insert(name(3), hostile.clone().into());
    record.insert(name(4), hostile.clone().into());
    for a in &attributes {
        record.insert(a.clone(), (hostile.clone() + "xxxxxx").into());
    }
    let raw = Value::Object(record).to_string();
    let mut request = Vec::new();
    wire::write_record(&mut request, raw.as_bytes());
    k.input_reserve(request.len())[..request.len()].copy_from_slice(&request);
    assert_eq!(k.parse_batch(1, request.len()), 1);
    let event = match wire::read_batch(k.output(), 1, wire::read_parsed).unwrap()[0] {
        Parsed::Event { event, .. } => event.to_vec(),
        Parsed::DeadLetter(d) => panic!("the record should parse: {}", String::from_utf8_lossy(d)),
    };
    let mut request = Vec::new();
    wire::write_detect_item(&mut request, &[], &event);
    k.input_reserve(request.len())[..request.len()].copy_from_slice(&request);
    assert_eq!(k.detect_batch(1, request.len()), 1);
    let verdict = match wire::read_batch(k.output(), 1, wire::read_detected).unwrap()[0] {
        Detected::Verdict { verdict, .. } => verdict.to_vec(),
        Detected::DeadLetter(d) => panic!("{}", String::from_utf8_lossy(d)),
    };
    assert!(verdict.len() > 32 * 1024, "the test should build a large verdict, got {} bytes", verdict.len());
    assert!(verdict.len() <= PROMISED, "a verdict of {} bytes", verdict.len());
}

/// Longest field name and most attribute fields the configuration accepts (`detector_wasm::config`).
const MAX_NAME: usize = 128;
const MAX_ATTRIBUTES: usize = 32;

#[test]
fn the_configuration_refuses_more_fields_or_longer_names_than_the_bound_assumes() {
    let too_many: Vec<String> = (0..=MAX_ATTRIBUTES).map(|i| format!("a{i}")).collect();
    let err = Config::from_json(serde_json::json!({ "attribute_fields": too_many }).to_string().as_bytes()).unwrap_err();
    assert_eq!(err.key, "attribute_fields", "{err}");
    let err = Config::from_json(serde_json::json!({ "value_field": "v".repeat(MAX_NAME + 1) }).to_string().as_bytes()).unwrap_err();
    assert_eq!(err.key, "value_field", "{err}");
}
