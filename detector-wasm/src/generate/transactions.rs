//! Transactions: a seeded, labeled synthetic stream in the brief's event format (`packager generate`, `packager send
//! --generate`, the playground's "Generate").
//!
//! Each user has their own spending habit (log-normal amounts: a typical amount and a spread), their own pace
//! (transactions per day, with short shopping sessions), and a handful of favourite merchants. Into that stream go
//! labeled anomalies of three kinds:
//! - `amount_spike`: one purchase far above the user's habit (4.5 to 8 of their own standard deviations, and at
//!   least 5× their typical amount);
//! - `burst`: card testing — 5 to 12 small purchases seconds apart at random merchants;
//! - `habit_shift`: a user whose typical amount jumps 3–8× for good; their first events after the change are
//!   labeled, later ones are the new normal.
//!
//! Every event carries `label` (`normal` or the kind), so `packager run` prints precision, recall and F1. The same
//! options and seed give the same stream.

use super::Error;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};
use std::collections::{BinaryHeap, VecDeque};

/// What to generate; [`Options::DEFAULT`] is what `packager generate` does without flags.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Events to write (bad lines from `invalid_rate` come on top).
    pub events: u64,
    /// Distinct users (keys).
    pub users: u32,
    /// Random seed: the same seed and options give the same stream.
    pub seed: u64,
    /// Time of the first event, ms since 1970.
    pub start_ms: i64,
    /// Share of events that are amount spikes.
    pub spike_rate: f64,
    /// Share of events that start a card-testing burst.
    pub burst_rate: f64,
    /// Share of users whose habits shift for good halfway through.
    pub shift_share: f64,
    /// Events labeled `habit_shift` after each shift.
    pub shift_labeled: u32,
    /// Share of extra lines that are malformed or mistyped (unlabeled), to exercise the dead-letter path.
    pub invalid_rate: f64,
}

impl Options {
    /// The defaults: 10,000 events of 200 users from seed 1, starting 2026-01-01T00:00:00Z.
    pub const DEFAULT: Options = Options {
        events: 10_000,
        users: 200,
        seed: 1,
        start_ms: 1_767_225_600_000,
        spike_rate: 0.003,
        burst_rate: 0.0015,
        shift_share: 0.05,
        shift_labeled: 5,
        invalid_rate: 0.0,
    };

    /// Refuses options no stream can be made from, naming the flag.
    pub fn check(&self) -> Result<(), String> {
        let share =
            |name: &str, v: f64| if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(format!("--{name} must be between 0 and 1, got {v}")) };
        share("spike-rate", self.spike_rate)?;
        share("burst-rate", self.burst_rate)?;
        share("shift-share", self.shift_share)?;
        share("invalid-rate", self.invalid_rate)?;
        if self.users == 0 {
            return Err("--users must be at least 1".into());
        }
        Ok(())
    }
}

impl Default for Options {
    fn default() -> Options {
        Options::DEFAULT
    }
}

struct User {
    id: String,
    log_typical: f64,
    spread: f64,
    per_day: f64,
    merchants: Vec<u32>,
    shift_at_ms: Option<i64>,
    shifted_events: u32,
    queued: VecDeque<(i64, Planned)>,
}

#[derive(Clone, Copy)]
enum Planned {
    Burst,
}

/// One generated event, before it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedEvent {
    pub user: String,
    pub amount: f64,
    pub timestamp_ms: i64,
    pub transaction_id: String,
    pub merchant: String,
    pub label: &'static str,
}

const MERCHANTS: u32 = 500;
const SESSION_CHANCE: f64 = 0.15;
const SESSION_GAP_SECS: f64 = 240.0;
const DAY_MS: f64 = 86_400_000.0;

/// Generates the events of `args` in time order, calling `emit` for each (and `bad` for each malformed line); the
/// first error of either stops the stream.
pub fn generate<E>(
    args: &Options,
    mut emit: impl FnMut(&GeneratedEvent) -> Result<(), E>,
    mut bad: impl FnMut(&str) -> Result<(), E>,
) -> Result<(), Error<E>> {
    args.check().map_err(Error::Invalid)?;
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let width = args.users.to_string().len().max(3);
    let unit = Exp::new(1.0).expect("rate 1 is valid");
    let pace = Normal::new(4f64.ln(), 0.6).expect("valid normal");
    let mut users: Vec<User> = (0..args.users)
        .map(|i| {
            let favourites = rng.random_range(3..=8);
            User {
                id: format!("user{:0width$}", i + 1),
                log_typical: rng.random_range(10f64.ln()..200f64.ln()),
                spread: rng.random_range(0.25..0.8),
                per_day: pace.sample(&mut rng).exp().clamp(0.5, 30.0),
                merchants: (0..favourites).map(|_| rng.random_range(1..=MERCHANTS)).collect(),
                shift_at_ms: None,
                shifted_events: 0,
                queued: VecDeque::new(),
            }
        })
        .collect();
    // Long enough for every event at the users' combined pace; shifts happen in the middle third.
    let per_day: f64 = users.iter().map(|u| u.per_day).sum();
    let horizon_ms = args.events as f64 / per_day * DAY_MS;
    for user in users.iter_mut() {
        if rng.random_bool(args.shift_share) {
            user.shift_at_ms = Some(args.start_ms + (horizon_ms * rng.random_range(0.35..0.65)) as i64);
        }
    }
    let next_gap_ms = |rng: &mut ChaCha8Rng, u: &User| -> i64 {
        let secs =
            if rng.random_bool(SESSION_CHANCE) { unit.sample(rng) * SESSION_GAP_SECS } else { unit.sample(rng) * 86_400.0 / u.per_day };
        (secs * 1000.0).max(1000.0) as i64
    };
    // Min-heap of (next time, user index).
    let mut heap: BinaryHeap<std::cmp::Reverse<(i64, usize)>> = BinaryHeap::new();
    for (i, u) in users.iter().enumerate() {
        let first = args.start_ms + (unit.sample(&mut rng) * DAY_MS / u.per_day) as i64;
        heap.push(std::cmp::Reverse((first, i)));
    }
    let mut written = 0u64;
    while written < args.events {
        let Some(std::cmp::Reverse((ts, i))) = heap.pop() else { break };
        let u = &mut users[i];
        let planned = u.queued.pop_front().map(|(_, p)| p);
        let (amount, merchant, label) = match planned {
            Some(Planned::Burst) => (rng.random_range(0.5..5.0), rng.random_range(1..=MERCHANTS), "burst"),
            None if rng.random_bool(args.burst_rate) => {
                let extra = rng.random_range(4..=11);
                let mut t = ts;
                for _ in 0..extra {
                    t += ((unit.sample(&mut rng) * 15.0).max(1.0) * 1000.0) as i64;
                    u.queued.push_back((t, Planned::Burst));
                }
                (rng.random_range(0.5..5.0), rng.random_range(1..=MERCHANTS), "burst")
            }
            None => {
                let shifted = u.shift_at_ms.is_some_and(|s| ts >= s);
                let mut log_typical = u.log_typical;
                let mut label = "normal";
                if shifted {
                    if u.shifted_events == 0 {
                        u.log_typical += rng.random_range(3f64.ln()..8f64.ln());
                    }
                    log_typical = u.log_typical;
                    u.shifted_events += 1;
                    if u.shifted_events <= args.shift_labeled {
                        label = "habit_shift";
                    }
                }
                let z: f64 = Normal::new(0.0, 1.0).expect("valid normal").sample(&mut rng);
                let mut amount = (log_typical + u.spread * z).exp();
                if label == "normal" && rng.random_bool(args.spike_rate) {
                    let sigmas = rng.random_range(4.5..8.0);
                    amount = (log_typical + (u.spread * sigmas).max(5f64.ln())).exp();
                    label = "amount_spike";
                }
                let merchant = if rng.random_bool(0.9) {
                    u.merchants[rng.random_range(0..u.merchants.len())]
                } else {
                    rng.random_range(1..=MERCHANTS)
                };
                (amount, merchant, label)
            }
        };
        written += 1;
        let event = GeneratedEvent {
            user: u.id.clone(),
            amount: (amount * 100.0).round() / 100.0,
            timestamp_ms: ts,
            transaction_id: format!("txn-{}-{written:08}", args.seed),
            merchant: format!("merchant-{merchant:03}"),
            label,
        };
        emit(&event).map_err(Error::Sink)?;
        if rng.random_bool(args.invalid_rate) {
            bad(&malformed(&mut rng, &event)).map_err(Error::Sink)?;
        }
        let next = match u.queued.front() {
            Some((t, _)) => *t,
            None => ts + next_gap_ms(&mut rng, u),
        };
        heap.push(std::cmp::Reverse((next, i)));
    }
    Ok(())
}

/// The whole stream as JSON lines, malformed ones in their place, `label` included unless `!labels`: for callers that
/// want it in memory (`packager send --generate`, the playground).
pub fn lines(args: &Options, labels: bool) -> Result<Vec<String>, String> {
    // Good and malformed lines interleave; one cell keeps their order.
    let lines = std::cell::RefCell::new(Vec::new());
    let result = generate::<std::convert::Infallible>(
        args,
        |e| {
            lines.borrow_mut().push(event_json(e, !labels));
            Ok(())
        },
        |bad| {
            lines.borrow_mut().push(bad.to_string());
            Ok(())
        },
    );
    match result {
        Ok(()) => Ok(lines.into_inner()),
        Err(Error::Invalid(message)) => Err(message),
        Err(Error::Sink(never)) => match never {},
    }
}

/// A malformed or mistyped variant of `e`, the kinds producers really send.
fn malformed(rng: &mut ChaCha8Rng, e: &GeneratedEvent) -> String {
    let good = event_json(e, false);
    match rng.random_range(0..9) {
        0 => good[..good.len() / 2].to_string(),
        1 => good.replace(&format!("\"amount\":{}", fmt_amount(e.amount)), &format!("\"amount\":\"{}\"", fmt_amount(e.amount))),
        2 => good.replace(&format!("\"amount\":{}", fmt_amount(e.amount)), &format!("\"amount\":-{}", fmt_amount(e.amount))),
        3 => good.replace(&format!("\"userId\":\"{}\",", e.user), ""),
        4 => good.replace(&format!("\"timestamp\":{}", e.timestamp_ms), &format!("\"timestamp\":{}", e.timestamp_ms / 1000)),
        5 => "this is not json".to_string(),
        6 => good.replace(&format!("\"amount\":{}", fmt_amount(e.amount)), "\"amount\":null"),
        7 => format!("{{\"userId\":\"{}\",\"amount\":{}}}", e.user, "[".repeat(200) + &"]".repeat(200)),
        _ => good.replace(&format!("\"userId\":\"{}\"", e.user), "\"userId\":true"),
    }
}

fn fmt_amount(x: f64) -> String {
    format!("{x:.2}")
}

/// The event as the brief's JSON, with `label` unless `no_label`.
pub fn event_json(e: &GeneratedEvent, no_label: bool) -> String {
    let label = if no_label { String::new() } else { format!(",\"label\":\"{}\"", e.label) };
    format!(
        "{{\"userId\":\"{}\",\"amount\":{},\"timestamp\":{},\"transactionId\":\"{}\",\"merchantId\":\"{}\"{label}}}",
        e.user,
        fmt_amount(e.amount),
        e.timestamp_ms,
        e.transaction_id,
        e.merchant
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stream for `packager generate`-style flags (`--events 2000 --seed 7` …).
    fn collect(extra: &[&str]) -> (Vec<GeneratedEvent>, Vec<String>) {
        let mut args = Options::DEFAULT;
        for pair in extra.chunks(2) {
            let value = pair[1];
            match pair[0] {
                "--events" => args.events = value.parse().unwrap(),
                "--users" => args.users = value.parse().unwrap(),
                "--seed" => args.seed = value.parse().unwrap(),
                "--spike-rate" => args.spike_rate = value.parse().unwrap(),
                "--burst-rate" => args.burst_rate = value.parse().unwrap(),
                "--shift-share" => args.shift_share = value.parse().unwrap(),
                "--invalid-rate" => args.invalid_rate = value.parse().unwrap(),
                other => panic!("no flag {other} in these tests"),
            }
        }
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        generate::<()>(
            &args,
            |e| {
                events.push(e.clone());
                Ok(())
            },
            |l| {
                bad.push(l.to_string());
                Ok(())
            },
        )
        .unwrap();
        (events, bad)
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let a = collect(&["--events", "2000", "--seed", "7"]);
        assert_eq!(a, collect(&["--events", "2000", "--seed", "7"]));
        assert_ne!(a.0, collect(&["--events", "2000", "--seed", "8"]).0);
    }

    #[test]
    fn events_are_in_time_order_with_every_kind_of_anomaly() {
        let (events, _) = collect(&["--events", "20000", "--users", "100"]);
        assert_eq!(events.len(), 20_000);
        assert!(events.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
        for kind in ["normal", "amount_spike", "burst", "habit_shift"] {
            assert!(events.iter().any(|e| e.label == kind), "no {kind}");
        }
        let users: std::collections::HashSet<_> = events.iter().map(|e| &e.user).collect();
        assert_eq!(users.len(), 100);
    }

    #[test]
    fn amounts_are_heavy_tailed_per_user() {
        let (events, _) = collect(&["--events", "20000", "--users", "20", "--spike-rate", "0", "--burst-rate", "0", "--shift-share", "0"]);
        let mut amounts: Vec<f64> = events.iter().filter(|e| e.user == "user001").map(|e| e.amount).collect();
        amounts.sort_by(f64::total_cmp);
        let median = amounts[amounts.len() / 2];
        let mean = amounts.iter().sum::<f64>() / amounts.len() as f64;
        assert!(mean > median, "log-normal amounts have mean {mean} above median {median}");
    }

    #[test]
    fn bursts_are_seconds_apart_and_small() {
        let (events, _) = collect(&["--events", "20000", "--burst-rate", "0.01"]);
        let mut by_user: std::collections::HashMap<&str, Vec<&GeneratedEvent>> = Default::default();
        for e in events.iter().filter(|e| e.label == "burst") {
            by_user.entry(&e.user).or_default().push(e);
        }
        let close = by_user.values().flat_map(|v| v.windows(2)).filter(|w| w[1].timestamp_ms - w[0].timestamp_ms < 120_000).count();
        assert!(close > 50, "burst events follow each other within two minutes ({close})");
        assert!(events.iter().filter(|e| e.label == "burst").all(|e| e.amount <= 5.0));
    }

    #[test]
    fn invalid_lines_are_extra_and_really_invalid() {
        let (events, bad) = collect(&["--events", "3000", "--invalid-rate", "0.05"]);
        assert_eq!(events.len(), 3000);
        assert!(bad.len() > 50);
        let config = crate::Config::default();
        for line in &bad {
            assert!(crate::parse(&config, line.as_bytes()).is_err(), "{line}");
        }
        for e in &events {
            crate::parse(&config, event_json(e, false).as_bytes()).unwrap();
        }
    }
}
