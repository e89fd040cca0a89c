//! The parity reference for the Flink job: replays a JSON-lines file through [`Runner`] with one state per key, as
//! the job does (parse in batches, then detect each event against its key's state), and writes what the job writes.
//!
//! `cargo run -p anomaly-host --example replay -- CONFIG.json EVENTS.jsonl ANOMALIES.jsonl DEAD_LETTERS.jsonl`
//!
//! Stand-in until `packager run FILE --emit anomalies` is on main; the parity test then switches to it.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

use anomaly_host::{DetectOutcome, KernelModule, ParseOutcome, Runner};

const PARSE_BATCH: usize = 256;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [config, events, anomalies, dead_letters] = args.as_slice() else {
        eprintln!("usage: replay CONFIG.json EVENTS.jsonl ANOMALIES.jsonl DEAD_LETTERS.jsonl");
        return ExitCode::from(2);
    };
    match run(config, events, anomalies, dead_letters) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn create(path: &str) -> Result<BufWriter<std::fs::File>, String> {
    std::fs::File::create(path).map(BufWriter::new).map_err(|e| format!("cannot create {path}: {e}"))
}

fn line(out: &mut impl Write, bytes: &[u8], path: &str) -> Result<(), String> {
    out.write_all(bytes).and_then(|()| out.write_all(b"\n")).map_err(|e| format!("cannot write {path}: {e}"))
}

fn run(config: &str, events: &str, anomalies_path: &str, dead_path: &str) -> Result<(), String> {
    let config = std::fs::read(config).map_err(|e| format!("cannot read {config}: {e}"))?;
    let input = std::fs::read(events).map_err(|e| format!("cannot read {events}: {e}"))?;
    let module = KernelModule::from_wasm(kernel_wasm::WASM).map_err(|e| e.to_string())?;
    let mut runner = Runner::new(module.instantiate(&config).map_err(|e| e.to_string())?);
    let mut anomalies = create(anomalies_path)?;
    let mut dead = create(dead_path)?;
    let mut states: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();

    // Empty lines are skipped, as the job's file source skips them.
    let records: Vec<&[u8]> = input.split(|&b| b == b'\n').filter(|r| !r.is_empty()).collect();
    for batch in records.chunks(PARSE_BATCH) {
        for parsed in runner.parse(batch).map_err(|e| e.to_string())? {
            let (key, event) = match parsed {
                ParseOutcome::Event { key, event } => (key, event),
                ParseOutcome::DeadLetter(json) => {
                    line(&mut dead, &json, dead_path)?;
                    continue;
                }
            };
            let state = states.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            let outcome = runner.detect(&[(state, &event)]).map_err(|e| e.to_string())?.pop().ok_or("kernel answered no result")?;
            match outcome {
                DetectOutcome::Verdict { state, verdict, .. } => {
                    states.insert(key, state);
                    if !verdict.is_empty() {
                        line(&mut anomalies, &verdict, anomalies_path)?;
                    }
                }
                DetectOutcome::DeadLetter(json) => line(&mut dead, &json, dead_path)?,
            }
        }
    }
    anomalies.flush().map_err(|e| format!("cannot write {anomalies_path}: {e}"))?;
    dead.flush().map_err(|e| format!("cannot write {dead_path}: {e}"))
}
