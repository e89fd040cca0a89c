//! What identifies a key and an anomaly must not be ambiguous. A composite key's parts are joined into one key
//! string, which names the key's baseline (Flink keys its state by it); an anomaly id is derived from the key and
//! the event id, and consumers of the at-least-once anomalies stream (the alerter, per batch) dedupe on it. If two
//! different inputs gave the same string, two keys would share one baseline, and one of two anomalies would be
//! taken for a duplicate of the other and never alerted on.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use detector_wasm::verdict::anomaly_id;
use detector_wasm::{Config, Detector, detect, parse};
use proptest::prelude::*;

fn composite() -> Config {
    Config::from_json(br#"{"key_field":"a,b","velocity":false,"timestamp_field":"","min_events":2}"#).unwrap()
}

fn key_of(config: &Config, a: &str, b: &str) -> String {
    let raw = serde_json::json!({"a": a, "b": b, "amount": 1.0}).to_string();
    parse(config, raw.as_bytes()).unwrap().key
}

#[test]
fn composite_keys_whose_parts_hold_the_separator_stay_apart() {
    let c = composite();
    assert_ne!(key_of(&c, "x|y", "z"), key_of(&c, "x", "y|z"));
    assert_ne!(key_of(&c, "x\\", "|z"), key_of(&c, "x", "\\|z"));
    assert_ne!(key_of(&c, "x\\|", "z"), key_of(&c, "x", "\\|z"));
}

#[test]
fn ordinary_composite_keys_read_as_before() {
    // Parts without `|` or `\` give the same key as every earlier release: deployed baselines keep their keys.
    assert_eq!(key_of(&composite(), "web-1", "cpu"), "web-1|cpu");
    assert_eq!(key_of(&composite(), "x|y", "z"), "x\\|y|z");
}

#[test]
fn two_composite_keys_that_used_to_collide_keep_two_baselines() {
    let c = composite();
    let detector = Detector::new(c.clone());
    let event =
        |a: &str, b: &str, amount: f64| parse(&c, serde_json::json!({"a": a, "b": b, "amount": amount}).to_string().as_bytes()).unwrap();
    let mut states = std::collections::HashMap::<String, Vec<u8>>::new();
    for (a, b, amount) in [("x|y", "z", 10.0), ("x", "y|z", 1000.0), ("x|y", "z", 11.0), ("x", "y|z", 1100.0)] {
        let e = event(a, b, amount);
        let state = states.entry(e.key.clone()).or_default();
        let (new_state, _) = detect(&detector, state, &e).unwrap();
        *state = new_state.encode();
    }
    assert_eq!(states.len(), 2, "one baseline each: {:?}", states.keys().collect::<Vec<_>>());
}

#[test]
fn anomaly_ids_of_keys_and_event_ids_that_hold_the_old_separator_differ() {
    assert_ne!(anomaly_id("a\0b", "c"), anomaly_id("a", "b\0c"));
    assert_ne!(anomaly_id("a", "\0"), anomaly_id("a\0", ""));
}

/// The derivation, written out independently of the kernel: `an-` and the XXH3-128 of the key's UTF-8 length as a
/// little-endian u32, the key, the event id's length likewise, and the event id, as 32 lowercase hex digits.
#[test]
fn the_anomaly_id_is_xxh3_128_of_the_length_prefixed_key_and_event_id() {
    let mut framed = Vec::new();
    for part in ["user001", "txn-001"] {
        framed.extend_from_slice(&(part.len() as u32).to_le_bytes());
        framed.extend_from_slice(part.as_bytes());
    }
    let want = format!("an-{:032x}", xxhash_rust::xxh3::xxh3_128(&framed));
    assert_eq!(anomaly_id("user001", "txn-001"), want);
}

/// Strings made of the characters that matter: the separators old and new, the escape, and a letter or two.
fn part(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', '|', '\\', '\0']), min..=6).prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    #[test]
    fn different_parts_give_different_keys(a1 in part(1), b1 in part(1), a2 in part(1), b2 in part(1)) {
        prop_assume!((&a1, &b1) != (&a2, &b2));
        let c = composite();
        prop_assert_ne!(key_of(&c, &a1, &b1), key_of(&c, &a2, &b2));
    }

    #[test]
    fn different_keys_and_event_ids_give_different_anomaly_ids(k1 in part(0), e1 in part(0), k2 in part(0), e2 in part(0)) {
        prop_assume!((&k1, &e1) != (&k2, &e2));
        prop_assert_ne!(anomaly_id(&k1, &e1), anomaly_id(&k2, &e2));
    }
}
