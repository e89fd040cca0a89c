//! The population check: a key too new to be judged by its own history is judged against the stream's events
//! (`population_events`, pattern `stream_outlier`). Driven through the kernel's ABI by the replay engine, as
//! `packager run` and the playground drive it.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use detector_wasm::config::{Config, Direction, Emit};
use detector_wasm::detector::POPULATION_MIN;
use detector_wasm::replay::{InProcess, Item, Outcome, Replay};
use serde_json::Value;

const T0: i64 = 1_767_225_600_000;

/// `users` spenders of about 40 (a deterministic spread between 20 and 80), each buying once an hour, interleaved:
/// `events` events in all.
fn background(users: usize, events: usize) -> Vec<String> {
    (0..events)
        .map(|i| {
            let user = i % users;
            let round = i / users;
            // A spread of amounts in ln scale from ln(20) to ln(80), differing per user and purchase.
            let u = ((user * 7919 + round * 104_729) % 1000) as f64 / 1000.0;
            let amount = (20f64.ln() + u * (80f64.ln() - 20f64.ln())).exp();
            line(&format!("user{user:04}"), amount, T0 + i as i64 * 60_000, i)
        })
        .collect()
}

fn line(user: &str, amount: f64, timestamp: i64, id: usize) -> String {
    format!(r#"{{"userId":"{user}","amount":{amount:.2},"timestamp":{timestamp},"transactionId":"t{id}"}}"#)
}

/// Every verdict of a replay with `emit = all`, as JSON, in input order.
fn verdicts(config: &Config, lines: &[String], batch_size: usize) -> Vec<Value> {
    let config = Config { emit: Emit::All, ..config.clone() };
    let mut replay = Replay::new(InProcess::new(&config).unwrap(), batch_size);
    let mut out = Vec::new();
    replay
        .run(lines.join("\n").as_bytes(), |item: &Item| {
            match &item.outcome {
                Outcome::Verdict { verdict, .. } => out.push(serde_json::from_slice(verdict).unwrap()),
                Outcome::DeadLetter(d) => panic!("unexpected dead letter {}", String::from_utf8_lossy(d)),
            }
            Ok(())
        })
        .unwrap();
    out
}

/// The stream's background, then a new user whose first purchase is `amount`: that purchase's verdict.
fn first_purchase(config: &Config, background_events: usize, amount: f64) -> Value {
    let mut lines = background(200, background_events);
    lines.push(line("newcomer", amount, T0 + background_events as i64 * 60_000, background_events));
    verdicts(config, &lines, 256).pop().unwrap()
}

#[test]
fn a_new_keys_first_purchase_far_above_the_streams_is_an_anomaly_it_could_not_be_by_its_own_history() {
    let v = first_purchase(&Config::default(), 2000, 5000.0);
    assert_eq!(v["status"], "anomaly", "{v}");
    assert_eq!(v["pattern"], "stream_outlier");
    assert_eq!(v["trigger"], "value");
    assert!(v["score"].as_f64().unwrap() > 3.0, "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("above what this stream's events show") && reason.contains("userId newcomer"), "{reason}");
    // The expected band is the stream's: it holds the background's amounts and not the spike.
    let high = v["expectedHigh"].as_f64().unwrap();
    assert!((80.0..5000.0).contains(&high), "{v}");

    // An ordinary first purchase is still warm-up: the check only adds alarms for values far above the stream.
    let v = first_purchase(&Config::default(), 2000, 60.0);
    assert_eq!(v["status"], "warmup", "{v}");
}

#[test]
fn the_check_is_off_with_population_events_0_before_the_population_has_learned_enough_and_for_old_keys() {
    let off = Config { population_events: 0, ..Config::default() };
    assert_eq!(first_purchase(&off, 2000, 5000.0)["status"], "warmup");
    // Fewer background events than the population needs: nothing to judge by yet.
    assert_eq!(first_purchase(&Config::default(), POPULATION_MIN as usize - 10, 5000.0)["status"], "warmup");
    // A key with `population_events` events of its own is judged by them alone: a big spender who always spends
    // 5000 is not an alarm on its 31st purchase, though it was on its first ones.
    let mut lines = background(200, 2000);
    let n = lines.len();
    for i in 0..31 {
        lines.push(line("bigspender", 5000.0 * (1.0 + 0.01 * (i % 3) as f64), T0 + (n + i) as i64 * 3_600_000, n + i));
    }
    let v = verdicts(&Config::default(), &lines, 256);
    assert_eq!(v[n]["pattern"], "stream_outlier", "{}", v[n]);
    let last = &v[n + 30];
    assert_eq!(last["status"], "normal", "{last}");
}

#[test]
fn only_high_values_of_log_transformed_streams_are_judged_and_a_higher_threshold_alarms_less() {
    let tiny = first_purchase(&Config::default(), 2000, 0.01);
    assert_eq!(tiny["status"], "warmup", "a value far below the stream is not this check's business: {tiny}");
    let low = Config { direction: Direction::Low, ..Config::default() };
    assert_eq!(first_purchase(&low, 2000, 5000.0)["status"], "warmup");
    let linear = Config { log_transform: false, ..Config::default() };
    assert_eq!(first_purchase(&linear, 2000, 5000.0)["status"], "warmup");

    // Monotone in threshold_multiplier: the score is the same, the line moves.
    let score = first_purchase(&Config::default(), 2000, 400.0)["score"].as_f64().unwrap();
    for k in [2.0, 3.0, 4.0, 6.0] {
        let v = first_purchase(&Config { threshold_multiplier: k, ..Config::default() }, 2000, 400.0);
        assert_eq!(v["status"] == "anomaly", score > k, "k {k}, score {score}: {v}");
    }
}

#[test]
fn verdicts_do_not_depend_on_how_the_stream_is_batched() {
    let mut lines = background(50, 1500);
    for (i, amount) in [3000.0, 45.0, 900.0, 20.0].into_iter().enumerate() {
        lines.insert(1100 + 40 * i, line(&format!("late{i}"), amount, T0 + (1100 + 40 * i) as i64 * 60_000 + 1, 9000 + i));
    }
    let whole = verdicts(&Config::default(), &lines, 1024);
    assert!(whole.iter().any(|v| v["pattern"] == "stream_outlier"), "the stream must exercise the check");
    for batch in [1, 7, 256] {
        assert_eq!(verdicts(&Config::default(), &lines, batch), whole, "batch size {batch}");
    }
}

#[test]
fn the_check_changes_verdicts_never_a_keys_state() {
    // Each key's state evolves the same with and without the population (so a job at any parallelism, or after a
    // restart, keeps the same per-key baselines): every event of a key that has `population_events` events behind it
    // gets the same verdict either way, and events differ only where the population alarmed.
    let mut lines = background(50, 1500);
    for i in 0..40 {
        let amount = if i % 10 == 0 { 2500.0 } else { 30.0 + i as f64 };
        lines.insert(1100 + 5 * i, line("late", amount, T0 + (1100 + 5 * i) as i64 * 60_000 + 1, 9000 + i));
    }
    let on = verdicts(&Config::default(), &lines, 256);
    let off = verdicts(&Config { population_events: 0, ..Config::default() }, &lines, 256);
    let late: Vec<usize> = (0..on.len()).filter(|&i| on[i]["key"] == "late").collect();
    assert!(late[..30].iter().any(|&i| on[i]["pattern"] == "stream_outlier"), "the check must alarm on the new key");
    for (age, &i) in late.iter().enumerate() {
        if age >= 30 || on[i]["pattern"] != "stream_outlier" {
            assert_eq!(on[i], off[i], "event {age} of the new key");
        }
    }
    let others: Vec<usize> = (0..on.len()).filter(|&i| on[i]["key"] != "late").collect();
    assert!(others.iter().all(|&i| on[i] == off[i]));
}
