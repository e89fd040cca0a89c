//! `packager run`: replay JSON lines through the kernel and print the verdicts.
//!
//! One file per path: [`local`] (the embedded or given `.wasm` under wasmtime, no AWS and no Flink), [`flink`]
//! (`--flink`: the built jar on a local MiniCluster), [`report`] (`--report`: the HTML page drawn from the local
//! replay), and [`error`]. This file holds the flags and what both paths start from.

pub mod error;
pub mod flink;
pub mod local;
pub mod report;

use crate::config::{ConfigError, DetectorFlags, FileConfig, resolve_detector};
use crate::output::OutputFormat;
use clap::{Args, ValueEnum};
use detector_wasm::config::Emit;
use detector_wasm::replay::Summary;
pub use error::RunError;
use serde::Deserialize;
use std::path::PathBuf;

type Result<T, E = RunError> = std::result::Result<T, E>;

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
        let from_file: RunArgs = file.run.clone().try_into().map_err(|e: toml::de::Error| ConfigError::table("run", &e))?;
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

/// Runs `packager run`: the local replay, or with `--flink` the MiniCluster.
pub fn run(args: RunArgs, file: &FileConfig, verbose: u8) -> Result<Summary> {
    let args = args.merged(file)?;
    if args.flink { flink::run(args, file, verbose) } else { local::run(args, file, verbose) }
}
