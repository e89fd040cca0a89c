//! `packager run --flink`: the same replay as `packager run`, but through the built jar on a local Flink MiniCluster,
//! so a user sees the real job (Java operators, keyed state, the JNI host, the precompiled kernel) work before deploying.
//!
//! The job's local launch contract (job-template/java, `AnomalyDetectionJob.main`): `--properties FILE` with the
//! Managed Flink property groups; here `source` and both sinks use the `file` connector. Parallelism 1 keeps the
//! anomalies in input order, so the output is line for line what `packager run` prints. The MiniCluster runs the
//! Flink the jar is built for (its build.json), on FLINK_HOME or the Flink jars `packager build` fetches; `--sql`
//! adds the `sql` group, so the job runs the user's SQL over the input (table `events`) instead.

use super::error::RunError;
use super::{EmitChoice, RunArgs, resolve_outputs};
use crate::artifact::{JAR_NAME, MAIN_CLASS, OUT_DIR};
use crate::build::flink_jars;
use crate::build::report::Progress;
use crate::config::FileConfig;
use crate::flink_version::FlinkVersion;
use crate::output::{OutputFormat, describe_dead_letter, text_line};
use crate::project::find_project;
use crate::sample::SAMPLE;
use detector_wasm::properties::{self, PropertyGroups};
use detector_wasm::replay::Summary;
use detector_wasm::{DeadLetter, Verdict};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The jar `packager build` writes, relative to the project.
pub fn default_jar() -> PathBuf {
    let project = find_project().unwrap_or_else(|_| PathBuf::from("."));
    project.join(OUT_DIR).join(JAR_NAME)
}

type Result<T, E = RunError> = std::result::Result<T, E>;

/// Runs the replay on a MiniCluster. `args` are already merged with packager.toml.
pub fn run(args: RunArgs, file: &FileConfig, verbose: u8) -> Result<Summary> {
    if args.kernel.is_some() {
        return Err(RunError::KernelWithFlink);
    }
    if let Some(report) = &args.report {
        return Err(RunError::ReportWithFlink(report.clone()));
    }
    let (config, emit, output) = resolve_outputs(&args, file)?;
    let jar = args.jar.clone().unwrap_or_else(default_jar);
    if !jar.is_file() {
        return Err(RunError::NoJar(jar));
    }
    let jar_runtime = crate::artifact::runtime_of_jar(&jar).unwrap_or_else(|| crate::artifact::LEGACY_RUNTIME.into());
    let version = match (args.flink_version, FlinkVersion::from_runtime(&jar_runtime)) {
        (Some(wanted), built) if built != Some(wanted) => return Err(RunError::WrongJar { jar, jar_runtime, wanted }),
        (Some(wanted), _) => wanted,
        (None, built) => built.unwrap_or_default(),
    };
    let sql = match &args.sql {
        Some(_) if version != FlinkVersion::V2_2 => return Err(RunError::SqlNeedsFlink22(version)),
        Some(path) => Some(std::fs::read_to_string(path).map_err(|source| RunError::SqlFile { path: path.clone(), source })?),
        None => None,
    };
    let origin = flink_jars::OriginFromEnv::read();
    let progress = if verbose > 0 { Progress::new() } else { Progress::quiet() };
    let flink = flink_jars::resolve(args.flink_home.as_deref(), version, &origin.origin(), &progress).map_err(Box::new)?;

    let work = tempfile::Builder::new()
        .prefix("packager-flink-run-")
        .tempdir()
        .map_err(|source| RunError::Work { path: std::env::temp_dir(), source })?;
    let work_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::Work { path, source }
    };
    let (input, input_name) = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            let abs = p.canonicalize().map_err(|source| RunError::ReadInput { path: p.clone(), source })?;
            (abs, p.display().to_string())
        }
        other => {
            // The file source reads files, so standard input and the bundled sample are written out first.
            let path = work.path().join("input.jsonl");
            let (bytes, name) = match other {
                Some(_) => {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut buf)
                        .map_err(|source| RunError::ReadInput { path: "-".into(), source })?;
                    (buf, "standard input".to_string())
                }
                None => (SAMPLE.to_vec(), "the bundled sample transactions".to_string()),
            };
            std::fs::write(&path, bytes).map_err(work_err(&path))?;
            (path, name)
        }
    };
    let anomalies_dir = work.path().join("anomalies");
    let dead_dir = work.path().join("dead-letters");
    let properties = work.path().join("application_properties.json");
    let groups = property_groups(&input, &anomalies_dir, &dead_dir, &config, args.batch_size, sql.as_deref());
    std::fs::write(&properties, serde_json::to_vec_pretty(&groups).expect("properties serialize")).map_err(work_err(&properties))?;

    let log = work.path().join("job.log");
    let log_file = std::fs::File::create(&log).map_err(work_err(&log))?;
    let classpath = format!("{}:{}", jar.display(), flink.classpath());
    eprintln!("starting the job on a local MiniCluster (Flink {}, {}) ...", flink.version, jar.display());
    let started = Instant::now();
    let mut cmd = Command::new("java");
    cmd.arg(format!("-Djava.io.tmpdir={}", work.path().display()))
        .arg("-cp")
        .arg(&classpath)
        .arg(MAIN_CLASS)
        .arg("--properties")
        .arg(&properties)
        .stdin(Stdio::null());
    if verbose > 0 {
        cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        let err_file = log_file.try_clone().map_err(work_err(&log))?;
        cmd.stdout(log_file).stderr(err_file);
    }
    let status = cmd.status().map_err(RunError::NoJava)?;
    let elapsed = started.elapsed();
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(30)..].join("\n");
        // Keep the log: the temporary directory goes away with `work`.
        let kept = std::env::temp_dir().join(format!("packager-flink-run-{}.log", std::process::id()));
        let _ = std::fs::copy(&log, &kept);
        return Err(RunError::JobFailed { status: status.to_string(), tail, log: kept.display().to_string() });
    }

    let verdicts = read_part_files(&anomalies_dir)?;
    let dead = read_part_files(&dead_dir)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut summary = Summary::default();
    let mut keys = std::collections::HashSet::new();
    for line in &verdicts {
        let verdict: Option<Verdict> = serde_json::from_slice(line).ok();
        if let Some(v) = &verdict {
            summary.events += 1;
            keys.insert(v.key.clone());
            if v.status == detector_wasm::verdict::Status::Anomaly {
                summary.anomalies += 1;
            }
        }
        let written = match (output, &verdict) {
            (OutputFormat::Text, Some(v)) => writeln!(out, "{}", text_line(v)),
            _ => out.write_all(line).and_then(|()| out.write_all(b"\n")),
        };
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            other => other.map_err(RunError::Stdout)?,
        }
    }
    let _ = out.flush();
    summary.invalid = dead.len() as u64;
    summary.keys = keys.len() as u64;
    let show_invalid = if verbose > 0 { usize::MAX } else { args.show_invalid.unwrap_or(20) };
    for line in dead.iter().take(show_invalid) {
        let reason = serde_json::from_slice::<DeadLetter>(line)
            .map(|d| describe_dead_letter(&d))
            .unwrap_or_else(|_| String::from_utf8_lossy(line).into_owned());
        eprintln!("dead letter: {reason}");
    }
    if dead.len() > show_invalid {
        eprintln!("… and {} more invalid lines (-v shows all; --dead-letters FILE keeps them)", dead.len() - show_invalid);
    }
    if let Some(path) = &args.dead_letters {
        let mut text = Vec::new();
        for line in &dead {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
        std::fs::write(path, text).map_err(|source| RunError::WriteOutput { path: path.clone(), source })?;
    }
    let counted = if emit == EmitChoice::All {
        format!("{} events, {} keys, {} anomalies", summary.events, summary.keys, summary.anomalies)
    } else {
        format!("{} anomalies", summary.anomalies)
    };
    eprintln!(
        "replayed {input_name} through Flink {} on a MiniCluster: {counted}, {} invalid records in {:.2} s (JVM start included)",
        flink.version,
        summary.invalid,
        elapsed.as_secs_f64()
    );
    Ok(summary)
}

/// The job's property groups for a local file-to-file run.
fn property_groups(
    input: &Path,
    anomalies: &Path,
    dead: &Path,
    config: &detector_wasm::Config,
    batch_size: Option<usize>,
    sql: Option<&str>,
) -> Value {
    let mut groups = PropertyGroups::new()
        .file(properties::SOURCE, &input.display().to_string())
        .file(properties::ANOMALIES, &anomalies.display().to_string())
        .file(properties::DEAD_LETTERS, &dead.display().to_string())
        .detector(config, true)
        // One task: the job then emits in input order, as `packager run` does.
        .set(properties::JOB, "parallelism", "1")
        // The file sink commits on checkpoints; a short interval ends a bounded run soon after its input.
        .set(properties::JOB, "checkpoint_interval_ms", "500");
    if let Some(n) = batch_size {
        groups = groups.set(properties::JOB, "parse_batch_size", n.to_string());
    }
    if let Some(statement) = sql {
        groups = groups.set(properties::SQL, "statement", statement);
    }
    groups.to_json()
}

/// Every line of the committed part files under `dir`, part files in the order the sink wrote them.
fn read_part_files(dir: &Path) -> Result<Vec<Vec<u8>>> {
    let mut parts: Vec<(Vec<u64>, PathBuf)> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            // In-progress and pending files start with a dot; only committed files count.
            .filter(|p| p.is_file() && !p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
            .map(|p| (part_order(&p), p))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RunError::ReadInput { path: dir.to_path_buf(), source }),
    };
    parts.sort();
    let mut lines = Vec::new();
    for (_, path) in parts {
        let bytes = std::fs::read(&path).map_err(|source| RunError::ReadInput { path: path.clone(), source })?;
        lines.extend(bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
    }
    Ok(lines)
}

/// `anomalies-<uuid>-<subtask>-<counter>.jsonl` sorts by (subtask, counter): the numbers after the uuid.
fn part_order(path: &Path) -> Vec<u64> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let numbers: Vec<u64> = stem.rsplit('-').take(2).filter_map(|p| p.parse().ok()).collect();
    numbers.into_iter().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_files_sort_by_their_counter_not_by_name() {
        let a = part_order(Path::new("/x/anomalies-1b2c-0-10.jsonl"));
        let b = part_order(Path::new("/x/anomalies-1b2c-0-9.jsonl"));
        assert_eq!(a, vec![0, 10]);
        assert!(b < a);
    }

    #[test]
    fn every_detector_value_is_a_string_the_kernel_reads_back() {
        let config = detector_wasm::Config { threshold_multiplier: 2.5, velocity: false, ..Default::default() };
        let groups = property_groups(Path::new("/in"), Path::new("/a"), Path::new("/d"), &config, Some(64), None);
        let detector = groups[3]["PropertyMap"].as_object().unwrap();
        assert!(detector.values().all(Value::is_string), "{detector:?}");
        let back = detector_wasm::Config::from_map(detector).unwrap();
        assert_eq!(back.to_json(), config.to_json());
        assert_eq!(groups[4]["PropertyMap"]["parallelism"], "1");
        assert_eq!(groups[4]["PropertyMap"]["parse_batch_size"], "64");
    }
}
