//! `packager generate`: the flags and the writing of a seeded, labeled synthetic transaction stream. The generator
//! itself is the kernel crate's (`detector_wasm::generate::transactions`, feature `generate`), so the playground
//! generates the same stream compiled to WebAssembly.

use clap::Args;
use detector_wasm::generate::{self, transactions};
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

/// `packager generate` flags.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Events to write (bad lines from --invalid-rate come on top)
    #[arg(long, default_value_t = DEFAULT.events)]
    pub events: u64,
    /// Distinct users (keys)
    #[arg(long, default_value_t = DEFAULT.users)]
    pub users: u32,
    /// Random seed: the same seed and flags give the same stream
    #[arg(long, default_value_t = DEFAULT.seed)]
    pub seed: u64,
    /// Time of the first event, ms since 1970 [default: 2026-01-01T00:00:00Z]
    #[arg(long, default_value_t = DEFAULT.start_ms)]
    pub start_ms: i64,
    /// Share of events that are amount spikes
    #[arg(long, default_value_t = DEFAULT.spike_rate)]
    pub spike_rate: f64,
    /// Share of events that start a card-testing burst
    #[arg(long, default_value_t = DEFAULT.burst_rate)]
    pub burst_rate: f64,
    /// Share of users whose habits shift for good halfway through
    #[arg(long, default_value_t = DEFAULT.shift_share)]
    pub shift_share: f64,
    /// Events labeled `habit_shift` after each shift
    #[arg(long, default_value_t = DEFAULT.shift_labeled)]
    pub shift_labeled: u32,
    /// Share of extra lines that are malformed or mistyped (unlabeled), to exercise the dead-letter path
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
    /// The generator's options.
    pub fn options(&self) -> transactions::Options {
        transactions::Options {
            events: self.events,
            users: self.users,
            seed: self.seed,
            start_ms: self.start_ms,
            spike_rate: self.spike_rate,
            burst_rate: self.burst_rate,
            shift_share: self.shift_share,
            shift_labeled: self.shift_labeled,
            invalid_rate: self.invalid_rate,
        }
    }
}

/// Runs `packager generate`.
pub fn run(args: &GenerateArgs) -> Result<(), GenerateError> {
    let sink: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::fs::File::create(path).map_err(|source| GenerateError::WriteOutput { path: path.clone(), source })?),
        None => Box::new(std::io::stdout().lock()),
    };
    let out = std::cell::RefCell::new(std::io::BufWriter::new(sink));
    let counts = std::cell::RefCell::new(std::collections::BTreeMap::<&str, u64>::new());
    let result = transactions::generate(
        &args.options(),
        |e| {
            *counts.borrow_mut().entry(e.label).or_default() += 1;
            writeln!(out.borrow_mut(), "{}", transactions::event_json(e, args.no_labels))
        },
        |line| {
            *counts.borrow_mut().entry("invalid line").or_default() += 1;
            writeln!(out.borrow_mut(), "{line}")
        },
    );
    match result {
        Ok(()) => {}
        Err(generate::Error::Invalid(message)) => return Err(GenerateError::Usage(message)),
        Err(generate::Error::Sink(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(generate::Error::Sink(e)) => return Err(GenerateError::Stdout(e)),
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

    #[test]
    fn flags_default_to_the_generators_defaults() {
        assert_eq!(Wrapper::parse_from(["generate"]).args.options(), transactions::Options::DEFAULT);
    }
}
