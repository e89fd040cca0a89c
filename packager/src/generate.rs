//! `packager generate`: a seeded, labeled synthetic transaction stream in the brief's event format.
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
//! Every event carries `label` (`normal` or the kind), so `packager run` prints precision, recall and F1.

use clap::Args;
use miette::Diagnostic;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, Normal};
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write;
use std::path::PathBuf;

/// What can stop `packager generate`.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum GenerateError {
    #[error("{0}")]
    #[diagnostic(code(packager::usage))]
    Usage(String),

    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(packager::output))]
    WriteOutput { path: PathBuf, source: std::io::Error },

    #[error("cannot write to standard output: {0}")]
    #[diagnostic(code(packager::stdout))]
    Stdout(std::io::Error),
}

type Result<T, E = GenerateError> = std::result::Result<T, E>;

/// `packager generate` flags.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Events to write (bad lines from --invalid-rate come on top)
    #[arg(long, default_value_t = 10_000)]
    pub events: u64,
    /// Distinct users (keys)
    #[arg(long, default_value_t = 200)]
    pub users: u32,
    /// Random seed: the same seed and flags give the same stream
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Time of the first event, ms since 1970 [default: 2026-01-01T00:00:00Z]
    #[arg(long, default_value_t = 1_767_225_600_000)]
    pub start_ms: i64,
    /// Share of events that are amount spikes
    #[arg(long, default_value_t = 0.003)]
    pub spike_rate: f64,
    /// Share of events that start a card-testing burst
    #[arg(long, default_value_t = 0.0015)]
    pub burst_rate: f64,
    /// Share of users whose habits shift for good halfway through
    #[arg(long, default_value_t = 0.05)]
    pub shift_share: f64,
    /// Events labeled `habit_shift` after each shift
    #[arg(long, default_value_t = 5)]
    pub shift_labeled: u32,
    /// Share of extra lines that are malformed or mistyped (unlabeled), to exercise the dead-letter path
    #[arg(long, default_value_t = 0.0)]
    pub invalid_rate: f64,
    /// Leave the `label` field out
    #[arg(long)]
    pub no_labels: bool,
    /// Write to this file instead of standard output
    #[arg(long, short)]
    pub output: Option<PathBuf>,
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

fn check(args: &GenerateArgs) -> Result<()> {
    let share = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) { Ok(()) } else { Err(GenerateError::Usage(format!("--{name} must be between 0 and 1, got {v}"))) }
    };
    share("spike-rate", args.spike_rate)?;
    share("burst-rate", args.burst_rate)?;
    share("shift-share", args.shift_share)?;
    share("invalid-rate", args.invalid_rate)?;
    if args.users == 0 {
        return Err(GenerateError::Usage("--users must be at least 1".into()));
    }
    Ok(())
}

/// Generates the events of `args` in time order, calling `emit` for each (and `bad` for each malformed line).
pub fn generate(
    args: &GenerateArgs,
    mut emit: impl FnMut(&GeneratedEvent) -> std::io::Result<()>,
    mut bad: impl FnMut(&str) -> std::io::Result<()>,
) -> Result<()> {
    check(args)?;
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
        emit(&event).map_err(GenerateError::Stdout)?;
        if rng.random_bool(args.invalid_rate) {
            bad(&malformed(&mut rng, &event)).map_err(GenerateError::Stdout)?;
        }
        let next = match u.queued.front() {
            Some((t, _)) => *t,
            None => ts + next_gap_ms(&mut rng, u),
        };
        heap.push(std::cmp::Reverse((next, i)));
    }
    Ok(())
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

/// Runs `packager generate`.
pub fn run(args: &GenerateArgs) -> Result<()> {
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|source| GenerateError::WriteOutput { path: path.clone(), source })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::cell::RefCell::new(std::io::BufWriter::new(sink));
    let counts = std::cell::RefCell::new(std::collections::BTreeMap::<&str, u64>::new());
    let result = generate(
        args,
        |e| {
            *counts.borrow_mut().entry(e.label).or_default() += 1;
            writeln!(out.borrow_mut(), "{}", event_json(e, args.no_labels))
        },
        |line| {
            *counts.borrow_mut().entry("invalid line").or_default() += 1;
            writeln!(out.borrow_mut(), "{line}")
        },
    );
    match result {
        Err(GenerateError::Stdout(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        other => other?,
    }
    out.borrow_mut().flush().map_err(GenerateError::Stdout)?;
    let summary: Vec<String> = counts.borrow().iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("generated {} users, seed {}: {}", args.users, args.seed, summary.join(" · "));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: GenerateArgs,
    }

    fn collect(extra: &[&str]) -> (Vec<GeneratedEvent>, Vec<String>) {
        let mut argv = vec!["generate"];
        argv.extend_from_slice(extra);
        let args = Wrapper::parse_from(argv).args;
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        generate(
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
        let config = detector_wasm::Config::default();
        for line in &bad {
            assert!(detector_wasm::parse(&config, line.as_bytes()).is_err(), "{line}");
        }
        for e in &events {
            detector_wasm::parse(&config, event_json(e, false).as_bytes()).unwrap();
        }
    }
}
