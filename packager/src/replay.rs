//! Replaying JSON lines through the kernel exactly as the Flink job does: parse, look up the key's state,
//! detect, store the new state. One state per key, kept in a map instead of Flink keyed state.

use anomaly_host::{DetectOutcome, KernelError, KernelModule, ParseOutcome, Runner};
use detector_wasm::abi;
use detector_wasm::score::Confusion;
use detector_wasm::{Config, Event};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io::BufRead;

/// What happened to one input line.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A scored event; `verdict` is the kernel's JSON (empty when not rendered: a normal event under `emit = anomalies`).
    Verdict { flags: u8, score: f64, verdict: Vec<u8>, key: Vec<u8>, label: Option<String> },
    /// A record that could not be scored: the kernel's dead-letter JSON.
    DeadLetter(Vec<u8>),
}

impl Outcome {
    /// Whether this is an anomaly.
    pub fn is_anomaly(&self) -> bool {
        matches!(self, Outcome::Verdict { flags, .. } if flags & abi::FLAG_ANOMALY != 0)
    }
}

/// One input line and its outcome; `line` counts from 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub line: u64,
    pub outcome: Outcome,
}

/// Totals over a replay.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Summary {
    pub events: u64,
    pub keys: u64,
    pub anomalies: u64,
    pub warmup: u64,
    pub invalid: u64,
    pub kernel_traps: u64,
    /// Present when the input carried labels.
    pub labels: Option<Confusion>,
}

/// A replay in progress: the kernel, one state per key, and the totals.
pub struct Replay {
    runner: Runner,
    states: HashMap<Vec<u8>, Vec<u8>>,
    batch_size: usize,
    summary: Summary,
    next_line: u64,
}

impl Replay {
    /// A replay of `config` through `module`; `batch_size` records per kernel call.
    pub fn new(module: &KernelModule, config: &Config, batch_size: usize) -> Result<Replay, KernelError> {
        let kernel = module.instantiate(config.to_json().as_bytes())?;
        Ok(Replay {
            runner: Runner::new(kernel),
            states: HashMap::new(),
            batch_size: batch_size.max(1),
            summary: Summary::default(),
            next_line: 1,
        })
    }

    /// Reads every line of `input` through the kernel, calling `sink` for each non-blank line in input order.
    pub fn run<R: BufRead>(&mut self, mut input: R, mut sink: impl FnMut(&Item) -> std::io::Result<()>) -> Result<(), ReplayError> {
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::with_capacity(self.batch_size);
        loop {
            let mut buf = Vec::new();
            let read = input.read_until(b'\n', &mut buf).map_err(ReplayError::Read)?;
            if read == 0 {
                break;
            }
            let line = self.next_line;
            self.next_line += 1;
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            lines.push((line, buf));
            if lines.len() >= self.batch_size {
                self.batch(&lines, &mut sink)?;
                lines.clear();
            }
        }
        self.batch(&lines, &mut sink)
    }

    /// Totals so far.
    pub fn summary(&self) -> Summary {
        let mut s = self.summary.clone();
        s.keys = self.states.len() as u64;
        s.kernel_traps = self.runner.traps();
        s
    }

    fn batch(&mut self, lines: &[(u64, Vec<u8>)], sink: &mut impl FnMut(&Item) -> std::io::Result<()>) -> Result<(), ReplayError> {
        if lines.is_empty() {
            return Ok(());
        }
        let records: Vec<&[u8]> = lines.iter().map(|(_, l)| l.as_slice()).collect();
        let parsed = self.runner.parse(&records).map_err(ReplayError::Kernel)?;
        let mut results: Vec<Option<Outcome>> = vec![None; lines.len()];
        // A detect batch may not hold one key twice: the second event must see the first one's state.
        let mut group: Vec<usize> = Vec::new();
        let mut group_keys: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for (i, p) in parsed.iter().enumerate() {
            match p {
                ParseOutcome::DeadLetter(d) => results[i] = Some(Outcome::DeadLetter(d.clone())),
                ParseOutcome::Event { key, .. } => {
                    if !group_keys.insert(key.as_slice()) {
                        self.detect_group(&parsed, &group, &mut results)?;
                        group.clear();
                        group_keys.clear();
                        group_keys.insert(key.as_slice());
                    }
                    group.push(i);
                }
            }
        }
        self.detect_group(&parsed, &group, &mut results)?;
        for ((line, _), outcome) in lines.iter().zip(results) {
            let outcome = outcome.expect("every line has an outcome");
            self.count(&outcome);
            sink(&Item { line: *line, outcome }).map_err(ReplayError::Write)?;
        }
        Ok(())
    }

    fn detect_group(&mut self, parsed: &[ParseOutcome], group: &[usize], results: &mut [Option<Outcome>]) -> Result<(), ReplayError> {
        if group.is_empty() {
            return Ok(());
        }
        let empty: Vec<u8> = Vec::new();
        let items: Vec<(&[u8], &[u8])> = group
            .iter()
            .map(|&i| {
                let ParseOutcome::Event { key, event } = &parsed[i] else { unreachable!("groups hold events only") };
                (self.states.get(key).unwrap_or(&empty).as_slice(), event.as_slice())
            })
            .collect();
        let detected = self.runner.detect(&items).map_err(ReplayError::Kernel)?;
        for (&i, outcome) in group.iter().zip(detected) {
            let ParseOutcome::Event { key, event } = &parsed[i] else { unreachable!("groups hold events only") };
            results[i] = Some(match outcome {
                DetectOutcome::Verdict { flags, score, state, verdict } => {
                    match self.states.entry(key.clone()) {
                        Entry::Occupied(mut e) => *e.get_mut() = state,
                        Entry::Vacant(e) => {
                            e.insert(state);
                        }
                    }
                    let label =
                        if flags & abi::FLAG_LABELED != 0 { Event::decode(event).ok().and_then(|e| e.label).map(|l| l.kind) } else { None };
                    Outcome::Verdict { flags, score, verdict, key: key.clone(), label }
                }
                DetectOutcome::DeadLetter(d) => Outcome::DeadLetter(d),
            });
        }
        Ok(())
    }

    fn count(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::DeadLetter(_) => self.summary.invalid += 1,
            Outcome::Verdict { flags, label, .. } => {
                self.summary.events += 1;
                let anomaly = flags & abi::FLAG_ANOMALY != 0;
                if anomaly {
                    self.summary.anomalies += 1;
                }
                if flags & abi::FLAG_WARMUP != 0 {
                    self.summary.warmup += 1;
                }
                if flags & abi::FLAG_LABELED != 0 {
                    let positive = (flags & abi::FLAG_LABEL_POSITIVE != 0).then(|| label.as_deref().unwrap_or("anomaly"));
                    self.summary.labels.get_or_insert_with(Confusion::default).add(anomaly, positive);
                }
            }
        }
    }
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading input: {0}")]
    Read(std::io::Error),
    #[error("writing output: {0}")]
    Write(std::io::Error),
    #[error(transparent)]
    Kernel(KernelError),
}
