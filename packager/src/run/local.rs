//! The local replay: JSON lines through the kernel's `.wasm` (embedded, or `--kernel`) under wasmtime, one state per
//! key as the Flink job keeps it; verdicts on standard output, the summary (and, for labeled input, precision and
//! recall) on standard error, and with `--report` the HTML page.

use super::error::RunError;
use super::report;
use super::{EmitChoice, RunArgs, resolve_outputs};
use crate::config::FileConfig;
use crate::output::{describe_dead_letter, write_verdict};
use crate::sample::SAMPLE;
use anomaly_host::{KernelModule, Runner};
use detector_wasm::DeadLetter;
use detector_wasm::config::Emit;
use detector_wasm::replay::{Item, Outcome, Replay, ReplayError, Summary};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

type Result<T, E = RunError> = std::result::Result<T, E>;

/// Loads the kernel to run: `--kernel FILE` or the embedded module.
pub fn load_kernel(path: Option<&PathBuf>) -> Result<(KernelModule, String)> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| RunError::ReadInput { path: path.clone(), source })?;
            let module =
                KernelModule::from_wasm(&bytes).map_err(|source| RunError::Kernel { origin: path.display().to_string(), source })?;
            Ok((module, path.display().to_string()))
        }
        None => {
            let module =
                KernelModule::from_wasm(kernel_wasm::WASM).map_err(|source| RunError::Kernel { origin: "embedded".into(), source })?;
            Ok((module, "embedded kernel".into()))
        }
    }
}

/// Replays `args` (already merged with packager.toml) through the kernel under wasmtime.
pub fn run(args: RunArgs, file: &FileConfig, verbose: u8) -> Result<Summary> {
    let (config, emit, output) = resolve_outputs(&args, file)?;
    let (module, kernel_origin) = load_kernel(args.kernel.as_ref())?;
    let mut report = args.report.as_ref().map(|_| report::Collector::new(report_options(&args)));
    // A report plots every event, so the kernel renders every verdict; stdout still shows only what --emit asks for.
    let kernel_config = if report.is_some() { detector_wasm::Config { emit: Emit::All, ..config.clone() } } else { config.clone() };
    let kernel = module
        .instantiate(kernel_config.to_json().as_bytes())
        .map_err(|source| RunError::Kernel { origin: kernel_origin.clone(), source })?;
    // One byte past max_record_bytes: a longer line still reaches the kernel and is refused for its size, and a file
    // without line breaks is never read into memory whole.
    let mut replay =
        Replay::new(Runner::new(kernel), args.batch_size.unwrap_or(256)).with_max_line_bytes(config.max_record_bytes as usize + 1);

    let (input, input_name): (Box<dyn BufRead>, String) = match &args.file {
        None => (Box::new(SAMPLE), "the bundled sample transactions".into()),
        Some(p) if p.as_os_str() == "-" => (Box::new(BufReader::new(std::io::stdin().lock())), "standard input".into()),
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|source| RunError::ReadInput { path: p.clone(), source })?;
            (Box::new(BufReader::with_capacity(1 << 20, f)), p.display().to_string())
        }
    };
    let mut dead_file = match &args.dead_letters {
        Some(p) => {
            Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(|source| RunError::WriteOutput { path: p.clone(), source })?))
        }
        None => None,
    };
    let show_invalid = if verbose > 0 { usize::MAX } else { args.show_invalid.unwrap_or(20) };
    let mut shown_invalid = 0usize;
    let mut missing = MissingField::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let started = Instant::now();
    let result = replay.run(input, |item: &Item| {
        match &item.outcome {
            Outcome::Verdict { flags, verdict, .. } => {
                if let Some(r) = report.as_mut() {
                    r.add(item.line, *flags, verdict);
                }
                let wanted = emit == EmitChoice::All || flags & detector_wasm::abi::FLAG_ANOMALY != 0;
                if wanted && !verdict.is_empty() {
                    write_verdict(&mut out, output, verdict)?;
                }
            }
            Outcome::DeadLetter(json) => {
                let dead: Option<DeadLetter> = serde_json::from_slice(json).ok();
                missing.add(dead.as_ref());
                if shown_invalid < show_invalid {
                    shown_invalid += 1;
                    let reason = dead.as_ref().map(describe_dead_letter).unwrap_or_else(|| String::from_utf8_lossy(json).into_owned());
                    eprintln!("line {}: {reason}", item.line);
                }
                if let Some(f) = dead_file.as_mut() {
                    let mut value: serde_json::Value = serde_json::from_slice(json).unwrap_or(serde_json::Value::Null);
                    if let Some(obj) = value.as_object_mut() {
                        obj.insert("line".into(), item.line.into());
                    }
                    writeln!(f, "{value}")?;
                }
            }
        }
        Ok(())
    });
    let elapsed = started.elapsed();
    match result {
        Ok(()) => {}
        Err(ReplayError::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        Err(ReplayError::Write(e)) => return Err(RunError::Stdout(e)),
        Err(ReplayError::Read(source)) => return Err(RunError::ReadInput { path: input_name.into(), source }),
        Err(ReplayError::Kernel(source)) => return Err(RunError::Kernel { origin: kernel_origin, source }),
    }
    let _ = out.flush();
    if let Some(f) = dead_file.as_mut() {
        f.flush().map_err(|source| RunError::WriteOutput { path: args.dead_letters.clone().unwrap_or_default(), source })?;
    }
    let summary = replay.summary();
    if summary.invalid as usize > shown_invalid {
        eprintln!("… and {} more invalid lines (-v shows all; --dead-letters FILE keeps them)", summary.invalid as usize - shown_invalid);
    }
    print_summary(&summary, &input_name, elapsed.as_secs_f64(), &config);
    if summary.events == 0
        && summary.invalid > 0
        && let Some(hint) = missing.hint(&config)
    {
        eprintln!("{hint}");
    }
    if let (Some(collector), Some(path)) = (report, &args.report) {
        let meta = report::Meta { input: input_name, kernel: kernel_origin, seconds: elapsed.as_secs_f64(), config: config.to_map() };
        let page = report::html::render(&collector.finish(summary.clone(), meta));
        std::fs::write(path, page).map_err(|source| RunError::WriteOutput { path: path.clone(), source })?;
        eprintln!("report written to {}", path.display());
    }
    Ok(summary)
}

/// The field the dead letters lack, while every one so far lacks the same one: a run in which no record could be read
/// for that reason reads a stream that names its fields differently (`packager generate --kind metrics` replayed
/// without `--key-field host,metric …`), and the per-line errors alone do not say which setting to change.
#[derive(Default)]
struct MissingField {
    field: Option<String>,
    first_raw: Option<String>,
    /// A dead letter for another reason, or lacking another field, came.
    mixed: bool,
}

impl MissingField {
    fn add(&mut self, dead: Option<&DeadLetter>) {
        let missing = dead.filter(|d| d.stage == "parse" && d.reason.starts_with("is missing"));
        match (missing, &self.field) {
            (Some(d @ DeadLetter { field: Some(f), .. }), None) if !self.mixed => {
                self.field = Some(f.clone());
                self.first_raw = d.raw.clone();
            }
            (Some(DeadLetter { field: Some(f), .. }), Some(seen)) if seen == f => {}
            _ => self.mixed = true,
        }
    }

    /// What to change, when every dead letter lacked the same field: the setting that names it, and the fields the
    /// first record has.
    fn hint(&self, config: &detector_wasm::Config) -> Option<String> {
        let field = self.field.as_ref().filter(|_| !self.mixed)?;
        let (role, flag, key) = if config.key_field.contains(field) {
            ("key", "--key-field", "key_field")
        } else if &config.value_field == field {
            ("value", "--value-field", "value_field")
        } else if &config.timestamp_field == field {
            ("event time", "--timestamp-field", "timestamp_field")
        } else {
            return None;
        };
        let mut hint = format!(
            "no record has `{field}`, where this run reads the {role}: the stream names its fields differently; name \
             the right one with {flag} (or `{key}` in packager.toml)"
        );
        let fields = self.first_raw.as_deref().and_then(|raw| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw).ok());
        if let Some(fields) = fields.filter(|f| !f.is_empty()) {
            let mut names: Vec<String> = fields.keys().map(|k| format!("`{k}`")).collect();
            names.sort();
            hint.push_str(&format!("; the first record's fields are {}", names.join(", ")));
        }
        Some(hint)
    }
}

fn report_options(args: &RunArgs) -> report::Options {
    let defaults = report::Options::default();
    report::Options {
        busiest: args.report_keys.unwrap_or(defaults.busiest),
        most_anomalous: args.report_anomalous_keys.unwrap_or(defaults.most_anomalous),
        keys: args.report_key.clone(),
        max_points: args.report_max_points.unwrap_or(defaults.max_points),
        max_rows: args.report_max_rows.unwrap_or(defaults.max_rows),
    }
}

fn print_summary(s: &Summary, input: &str, secs: f64, config: &detector_wasm::Config) {
    let rate = if secs > 0.0 { (s.events + s.invalid) as f64 / secs } else { 0.0 };
    eprintln!(
        "replayed {input}: {} events, {} keys, {} anomalies, {} invalid records ({} in warm-up) in {secs:.2} s — {} events/s",
        s.events,
        s.keys,
        s.anomalies,
        s.invalid,
        s.warmup,
        group_thousands(rate as u64)
    );
    eprintln!(
        "detector {} · threshold_multiplier {} · min_events {} · direction {} · log_transform {} · velocity {}",
        config.detector.as_str(),
        config.threshold_multiplier,
        config.min_events,
        config.direction.as_str(),
        config.log_transform,
        config.velocity
    );
    if s.state_resets > 0 {
        eprintln!("{} keys had stored state the kernel could not read; they started afresh", s.state_resets);
    }
    if s.kernel_traps > 0 {
        eprintln!("the kernel trapped {} times; those records are dead letters with stage `kernel`", s.kernel_traps);
    }
    if let Some(c) = &s.labels {
        eprintln!(
            "labeled input: precision {:.3} · recall {:.3} · F1 {:.3} (TP {} · FP {} · FN {} · false-positive rate {:.4})",
            c.precision(),
            c.recall(),
            c.f1(),
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            c.false_positive_rate()
        );
        if !c.by_kind.is_empty() {
            let kinds: Vec<String> = c.by_kind.iter().map(|(k, (hit, all))| format!("{k} {hit}/{all}")).collect();
            eprintln!("recall by kind: {}", kinds.join(" · "));
        }
    }
}

fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(1234), "1,234");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
