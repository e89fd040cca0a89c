//! `packager run`: replay JSON lines through the kernel locally, no AWS and no Flink.

use crate::config::{DetectorFlags, FileConfig, resolve_detector};
use crate::error::{Error, Result};
use crate::replay::{Item, Outcome, Replay, ReplayError, Summary};
use crate::report;
use anomaly_host::KernelModule;
use clap::{Args, ValueEnum};
use detector_wasm::config::Emit;
use detector_wasm::{DeadLetter, Verdict};
use serde::Deserialize;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

/// The labeled sample transactions bundled with the packager (`packager generate --seed 42 --users 60 --events 4000`).
pub const SAMPLE: &[u8] = include_bytes!("../data/sample-transactions.jsonl");
/// How the bundled sample was generated; a test keeps the file and this line in step.
pub const SAMPLE_GENERATE_ARGS: &[&str] = &["--seed", "42", "--users", "60", "--events", "4000"];

/// How results are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One line per verdict for people.
    Text,
    /// The kernel's verdict JSON, one object per line.
    Json,
}

/// Which verdicts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmitChoice {
    /// Only anomalies.
    Anomalies,
    /// A verdict for every event, score included (for plotting and scoring detectors against labels).
    All,
}

/// `packager run` flags; the `[run]` table of packager.toml takes the same names.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct RunArgs {
    /// JSON-lines events to replay (`-` for standard input); the bundled labeled sample when omitted
    #[serde(skip)]
    pub file: Option<PathBuf>,
    /// Result format on standard output [default: json]
    #[arg(long, value_enum, env = "PACKAGER_OUTPUT")]
    pub output: Option<OutputFormat>,
    /// Which verdicts to write [default: anomalies]
    #[arg(long, value_enum, env = "PACKAGER_EMIT")]
    pub emit: Option<EmitChoice>,
    /// A kernel .wasm to run instead of the embedded one
    #[arg(long, env = "PACKAGER_KERNEL")]
    pub kernel: Option<PathBuf>,
    /// Records per kernel call [default: 256]
    #[arg(long, env = "PACKAGER_BATCH_SIZE")]
    pub batch_size: Option<usize>,
    /// Also write every dead letter (JSON lines with line number and reason) to this file
    #[arg(long, env = "PACKAGER_DEAD_LETTERS")]
    pub dead_letters: Option<PathBuf>,
    /// Invalid lines reported on standard error before the rest are only counted [default: 20; -v shows all]
    #[arg(long)]
    pub show_invalid: Option<usize>,
    /// Replay through the built jar on a local Flink MiniCluster (java, FLINK_HOME) instead of the embedded kernel
    #[arg(long)]
    #[serde(skip)]
    pub flink: bool,
    /// The jar for --flink [default: target/packager/anomaly-detector.jar, from `packager build --local`]
    #[arg(long, env = "PACKAGER_JAR", value_name = "JAR")]
    pub jar: Option<PathBuf>,
    /// The Flink the --flink MiniCluster runs: 2.2 or 1.20 [default: the one the jar is built for]
    #[arg(long, env = "PACKAGER_FLINK_VERSION", value_enum, value_name = "VERSION")]
    pub flink_version: Option<crate::flink_version::FlinkVersion>,
    /// Flink distribution for --flink: its lib/*.jar go on the classpath [default: Flink's jars fetched into the cache, as `packager build` does]
    #[arg(long, env = "FLINK_HOME", value_name = "DIR")]
    pub flink_home: Option<PathBuf>,
    /// With --flink: run this SQL (the job's `sql` property group) instead of the fixed pipeline; it reads the input as table `events` and writes to `anomalies` (Flink 2.2)
    #[arg(long, value_name = "QUERY.sql", requires = "flink")]
    pub sql: Option<PathBuf>,
    /// Also write a self-contained HTML report (charts per key, anomalies, scores, the config) to this file (not with --flink)
    #[arg(long, env = "PACKAGER_REPORT", value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// A key to chart in the report besides the busiest ones (repeatable)
    #[arg(long = "report-key", value_name = "KEY")]
    #[serde(default)]
    pub report_key: Vec<String>,
    /// Busiest keys charted in the report [default: 6]
    #[arg(long)]
    pub report_keys: Option<usize>,
    /// Keys with the most anomalies charted in the report besides the busiest [default: 3]
    #[arg(long)]
    pub report_anomalous_keys: Option<usize>,
    /// Most chart points per key in the report; longer series are aggregated [default: 1000]
    #[arg(long)]
    pub report_max_points: Option<usize>,
    /// Most rows in the report's table of anomalies and labeled events [default: 5000]
    #[arg(long)]
    pub report_max_rows: Option<usize>,
    #[command(flatten)]
    #[serde(skip)]
    pub detector: DetectorFlags,
}

impl RunArgs {
    /// Fills what flags and environment left unset from the `[run]` table of packager.toml.
    pub(crate) fn merged(mut self, file: &FileConfig) -> Result<RunArgs> {
        let from_file: RunArgs = file
            .run
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| Error::ConfigFile { path: "packager.toml [run]".into(), message: e.to_string() })?;
        self.output = self.output.or(from_file.output);
        self.emit = self.emit.or(from_file.emit);
        self.kernel = self.kernel.or(from_file.kernel);
        self.batch_size = self.batch_size.or(from_file.batch_size);
        self.dead_letters = self.dead_letters.or(from_file.dead_letters);
        self.show_invalid = self.show_invalid.or(from_file.show_invalid);
        self.jar = self.jar.or(from_file.jar);
        self.flink_version = self.flink_version.or(from_file.flink_version);
        self.flink_home = self.flink_home.or(from_file.flink_home);
        self.sql = self.sql.or(from_file.sql);
        self.report = self.report.or(from_file.report);
        if self.report_key.is_empty() {
            self.report_key = from_file.report_key;
        }
        self.report_keys = self.report_keys.or(from_file.report_keys);
        self.report_anomalous_keys = self.report_anomalous_keys.or(from_file.report_anomalous_keys);
        self.report_max_points = self.report_max_points.or(from_file.report_max_points);
        self.report_max_rows = self.report_max_rows.or(from_file.report_max_rows);
        Ok(self)
    }
}

/// Loads the kernel to run: `--kernel FILE` or the embedded module.
pub fn load_kernel(path: Option<&PathBuf>) -> Result<(KernelModule, String)> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| Error::ReadInput { path: path.clone(), source })?;
            let module = KernelModule::from_wasm(&bytes).map_err(|source| Error::Kernel { origin: path.display().to_string(), source })?;
            Ok((module, path.display().to_string()))
        }
        None => {
            let module =
                KernelModule::from_wasm(kernel_wasm::WASM).map_err(|source| Error::Kernel { origin: "embedded".into(), source })?;
            Ok((module, "embedded kernel".into()))
        }
    }
}

/// The detector config (from flags and packager.toml) with `--emit` applied, the emit choice and the output format:
/// what both the wasmtime replay and `--flink` start from.
pub(crate) fn resolve_outputs(args: &RunArgs, file: &FileConfig) -> Result<(detector_wasm::Config, EmitChoice, OutputFormat)> {
    let mut config = resolve_detector(&args.detector, file)?;
    let emit = args.emit.unwrap_or(EmitChoice::Anomalies);
    config.emit = match emit {
        EmitChoice::Anomalies => Emit::Anomalies,
        EmitChoice::All => Emit::All,
    };
    Ok((config, emit, args.output.unwrap_or(OutputFormat::Json)))
}

/// Runs `packager run`.
pub fn run(args: RunArgs, file: &FileConfig, verbose: u8) -> Result<Summary> {
    let args = args.merged(file)?;
    if args.flink {
        return crate::flink_run::run(args, file, verbose);
    }
    let (config, emit, output) = resolve_outputs(&args, file)?;
    let (module, kernel_origin) = load_kernel(args.kernel.as_ref())?;
    let mut report = args.report.as_ref().map(|_| report::Collector::new(report_options(&args)));
    // A report plots every event, so the kernel renders every verdict; stdout still shows only what --emit asks for.
    let kernel_config = if report.is_some() { detector_wasm::Config { emit: Emit::All, ..config.clone() } } else { config.clone() };
    let mut replay = Replay::new(&module, &kernel_config, args.batch_size.unwrap_or(256))
        .map_err(|source| Error::Kernel { origin: kernel_origin.clone(), source })?;

    let (input, input_name): (Box<dyn BufRead>, String) = match &args.file {
        None => (Box::new(SAMPLE), "the bundled sample transactions".into()),
        Some(p) if p.as_os_str() == "-" => (Box::new(BufReader::new(std::io::stdin().lock())), "standard input".into()),
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|source| Error::ReadInput { path: p.clone(), source })?;
            (Box::new(BufReader::with_capacity(1 << 20, f)), p.display().to_string())
        }
    };
    let mut dead_file = match &args.dead_letters {
        Some(p) => {
            Some(std::io::BufWriter::new(std::fs::File::create(p).map_err(|source| Error::WriteOutput { path: p.clone(), source })?))
        }
        None => None,
    };
    let show_invalid = if verbose > 0 { usize::MAX } else { args.show_invalid.unwrap_or(20) };
    let mut shown_invalid = 0usize;
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
        Err(ReplayError::Write(e)) => return Err(Error::Stdout(e)),
        Err(ReplayError::Read(source)) => return Err(Error::ReadInput { path: input_name.into(), source }),
        Err(ReplayError::Kernel(source)) => return Err(Error::Kernel { origin: kernel_origin, source }),
    }
    let _ = out.flush();
    if let Some(f) = dead_file.as_mut() {
        f.flush().map_err(|source| Error::WriteOutput { path: args.dead_letters.clone().unwrap_or_default(), source })?;
    }
    let summary = replay.summary();
    if summary.invalid as usize > shown_invalid {
        eprintln!("… and {} more invalid lines (-v shows all; --dead-letters FILE keeps them)", summary.invalid as usize - shown_invalid);
    }
    print_summary(&summary, &input_name, elapsed.as_secs_f64(), &config);
    if let (Some(collector), Some(path)) = (report, &args.report) {
        let meta = report::Meta { input: input_name, kernel: kernel_origin, seconds: elapsed.as_secs_f64(), config: config.to_map() };
        let page = report::html::render(&collector.finish(summary.clone(), meta));
        std::fs::write(path, page).map_err(|source| Error::WriteOutput { path: path.clone(), source })?;
        eprintln!("report written to {}", path.display());
    }
    Ok(summary)
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

pub(crate) fn describe_dead_letter(d: &DeadLetter) -> String {
    match &d.field {
        Some(field) => format!("field `{field}`: {}", d.reason),
        None => d.reason.clone(),
    }
}

fn write_verdict(out: &mut impl Write, format: OutputFormat, json: &[u8]) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => {
            out.write_all(json)?;
            out.write_all(b"\n")
        }
        OutputFormat::Text => {
            let v: Verdict = serde_json::from_slice(json).map_err(std::io::Error::other)?;
            writeln!(out, "{}", text_line(&v))
        }
    }
}

/// One verdict as a line for people.
pub fn text_line(v: &Verdict) -> String {
    let status = match (v.status, v.severity) {
        (detector_wasm::verdict::Status::Anomaly, Some(s)) => format!("ANOMALY {}", s.as_str()),
        (detector_wasm::verdict::Status::Anomaly, None) => "ANOMALY".into(),
        (detector_wasm::verdict::Status::Normal, _) => "normal".into(),
        (detector_wasm::verdict::Status::Warmup, _) => "warmup".into(),
    };
    let score = v.score.map(|s| format!("score {s:.1}")).unwrap_or_else(|| "score -".into());
    let time = v.timestamp.map(format_time).unwrap_or_else(|| "-".into());
    format!("{time}  {status:<14} {:<12} {:<14} {score:<11} {}", v.key, v.event_id, v.reason)
}

/// RFC 3339 UTC from ms since the epoch.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
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
    fn times_render_as_rfc3339() {
        assert_eq!(format_time(1_234_567_890_000), "2009-02-13T23:31:30Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_825_600_123), "2000-02-29T12:00:00Z");
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group_thousands(0), "0");
        assert_eq!(group_thousands(1234), "1,234");
        assert_eq!(group_thousands(1_234_567), "1,234,567");
    }
}
