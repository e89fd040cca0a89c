//! `packager generate`: the flags and the writing of a seeded, labeled synthetic stream — transactions (the
//! default) or system metrics (`--kind metrics`). The generator
//! itself is the kernel crate's (`detector_wasm::generate::transactions`, feature `generate`), so the playground
//! generates the same stream compiled to WebAssembly.

use clap::Args;
use detector_wasm::generate::{self, metrics, transactions};
use miette::Diagnostic;
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

const DEFAULT: transactions::Options = transactions::Options::DEFAULT;
const METRICS: metrics::Options = metrics::Options::DEFAULT;

/// Which stream `packager generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Card transactions of many users (the brief's events): amount spikes, card-testing bursts, habit shifts
    Transactions,
    /// System metrics of many hosts (`host`, `metric`, `value`), sampled regularly: spikes, dips, level shifts,
    /// drifts, flat-lines. Replay with `packager run FILE --key-field host,metric --value-field value
    /// --event-id-field sampleId`
    Metrics,
}

/// `packager generate` flags.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Which stream to write
    #[arg(long, value_enum, default_value_t = Kind::Transactions)]
    pub kind: Kind,
    /// Events to write (bad lines from --invalid-rate come on top)
    #[arg(long, default_value_t = DEFAULT.events)]
    pub events: u64,
    /// Distinct users (keys) of transactions
    #[arg(long, default_value_t = DEFAULT.users)]
    pub users: u32,
    /// Hosts of metrics; each has three series: cpu, latency_ms, requests [default: 20]
    #[arg(long)]
    pub hosts: Option<u32>,
    /// Seconds between samples of a metric [default: 300]
    #[arg(long)]
    pub interval_secs: Option<u32>,
    /// Random seed: the same seed and flags give the same stream
    #[arg(long, default_value_t = DEFAULT.seed)]
    pub seed: u64,
    /// Time of the first event, ms since 1970 [default: 2026-01-01T00:00:00Z]
    #[arg(long, default_value_t = DEFAULT.start_ms)]
    pub start_ms: i64,
    /// Share of events that are amount spikes (transactions: 0.003) or spikes and dips (metrics: 0.002)
    #[arg(long)]
    pub spike_rate: Option<f64>,
    /// Share of events that start a card-testing burst
    #[arg(long, default_value_t = DEFAULT.burst_rate)]
    pub burst_rate: f64,
    /// Share of users whose habits shift for good halfway through
    #[arg(long, default_value_t = DEFAULT.shift_share)]
    pub shift_share: f64,
    /// Share of metric series that get a level shift, and again a drift, and again a flat-line [default: 0.15]
    #[arg(long)]
    pub change_share: Option<f64>,
    /// Events labeled after each habit shift (transactions) or level shift, drift or flat-line (metrics)
    #[arg(long, default_value_t = DEFAULT.shift_labeled)]
    pub shift_labeled: u32,
    /// Share of extra lines that are malformed or mistyped (unlabeled), to exercise the dead-letter path (transactions)
    #[arg(long, default_value_t = DEFAULT.invalid_rate)]
    pub invalid_rate: f64,
    /// Leave the `label` field out
    #[arg(long)]
    pub no_labels: bool,
    /// Write to this file instead of standard output
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

impl GenerateArgs {
    /// The transaction generator's options.
    pub fn options(&self) -> transactions::Options {
        transactions::Options {
            events: self.events,
            users: self.users,
            seed: self.seed,
            start_ms: self.start_ms,
            spike_rate: self.spike_rate.unwrap_or(DEFAULT.spike_rate),
            burst_rate: self.burst_rate,
            shift_share: self.shift_share,
            shift_labeled: self.shift_labeled,
            invalid_rate: self.invalid_rate,
        }
    }

    /// The metrics generator's options.
    pub fn metrics_options(&self) -> metrics::Options {
        metrics::Options {
            events: self.events,
            hosts: self.hosts.unwrap_or(METRICS.hosts),
            seed: self.seed,
            start_ms: self.start_ms,
            interval_secs: self.interval_secs.unwrap_or(METRICS.interval_secs),
            spike_rate: self.spike_rate.unwrap_or(METRICS.spike_rate),
            change_share: self.change_share.unwrap_or(METRICS.change_share),
            shift_labeled: self.shift_labeled,
        }
    }

    /// Flags of the other kind, refused instead of silently ignored.
    fn check_kind(&self) -> Result<(), GenerateError> {
        let wrong: &[(&str, bool)] = match self.kind {
            Kind::Transactions => &[
                ("--hosts", self.hosts.is_some()),
                ("--interval-secs", self.interval_secs.is_some()),
                ("--change-share", self.change_share.is_some()),
            ],
            Kind::Metrics => &[
                ("--users", self.users != DEFAULT.users),
                ("--burst-rate", self.burst_rate != DEFAULT.burst_rate),
                ("--shift-share", self.shift_share != DEFAULT.shift_share),
                ("--invalid-rate", self.invalid_rate != DEFAULT.invalid_rate),
            ],
        };
        match wrong.iter().find(|(_, set)| *set) {
            Some((flag, _)) => Err(GenerateError::Usage(format!(
                "{flag} does not apply to --kind {}; see `packager generate --help`",
                if self.kind == Kind::Metrics { "metrics" } else { "transactions" }
            ))),
            None => Ok(()),
        }
    }
}

/// Runs `packager generate`.
pub fn run(args: &GenerateArgs) -> Result<(), GenerateError> {
    args.check_kind()?;
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|source| GenerateError::WriteOutput { path: path.clone(), source })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::cell::RefCell::new(std::io::BufWriter::new(sink));
    let counts = std::cell::RefCell::new(std::collections::BTreeMap::<&str, u64>::new());
    let result = match args.kind {
        Kind::Transactions => transactions::generate(
            &args.options(),
            |e| {
                *counts.borrow_mut().entry(e.label).or_default() += 1;
                writeln!(out.borrow_mut(), "{}", transactions::event_json(e, args.no_labels))
            },
            |line| {
                *counts.borrow_mut().entry("invalid line").or_default() += 1;
                writeln!(out.borrow_mut(), "{line}")
            },
        ),
        Kind::Metrics => metrics::generate(&args.metrics_options(), |e| {
            *counts.borrow_mut().entry(e.label).or_default() += 1;
            writeln!(out.borrow_mut(), "{}", metrics::event_json(e, args.no_labels))
        }),
    };
    match result {
        Ok(()) => {}
        Err(generate::Error::Invalid(message)) => return Err(GenerateError::Usage(message)),
        Err(generate::Error::Sink(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(generate::Error::Sink(e)) => return Err(GenerateError::Stdout(e)),
    }
    out.borrow_mut().flush().map_err(GenerateError::Stdout)?;
    let summary: Vec<String> = counts.borrow().iter().map(|(k, v)| format!("{k} {v}")).collect();
    let whose = match args.kind {
        Kind::Transactions => format!("{} users", args.users),
        Kind::Metrics => format!("{} hosts × 3 metrics", args.metrics_options().hosts),
    };
    eprintln!("generated {whose}, seed {}: {}", args.seed, summary.join(" · "));
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

    #[test]
    fn flags_default_to_the_generators_defaults() {
        assert_eq!(Wrapper::parse_from(["generate"]).args.options(), transactions::Options::DEFAULT);
        assert_eq!(Wrapper::parse_from(["generate", "--kind", "metrics"]).args.metrics_options(), metrics::Options::DEFAULT);
    }

    #[test]
    fn a_flag_of_the_other_kind_is_refused_by_name() {
        let e = Wrapper::parse_from(["generate", "--hosts", "3"]).args.check_kind().unwrap_err();
        assert!(e.to_string().contains("--hosts") && e.to_string().contains("--kind transactions"), "{e}");
        let e = Wrapper::parse_from(["generate", "--kind", "metrics", "--users", "3"]).args.check_kind().unwrap_err();
        assert!(e.to_string().contains("--users"), "{e}");
    }
}
