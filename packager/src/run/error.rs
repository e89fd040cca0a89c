//! What can stop `packager run`, locally or with `--flink`, each with the flag or file that fixes it.

use crate::config::ConfigError;
use crate::flink_home::FlinkHomeError;
use crate::flink_version::FlinkVersion;
use miette::Diagnostic;
use std::path::PathBuf;

/// A `packager run` failure.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum RunError {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(packager::input), help("check the path, or pass `-` to read standard input"))]
    ReadInput { path: PathBuf, source: std::io::Error },

    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(packager::output))]
    WriteOutput { path: PathBuf, source: std::io::Error },

    #[error("cannot write to standard output: {0}")]
    #[diagnostic(code(packager::stdout))]
    Stdout(std::io::Error),

    #[error("cannot load the kernel {origin}: {source}")]
    #[diagnostic(
        code(packager::kernel),
        help("build a kernel from detector-wasm with `packager build`, or drop --kernel to use the embedded one")
    )]
    Kernel { origin: String, source: anomaly_host::KernelError },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    FlinkHome(#[from] FlinkHomeError),

    #[error("no jar at {0}")]
    #[diagnostic(code(packager::run::jar), help("build one with `packager build --local`, or pass --jar FILE"))]
    NoJar(PathBuf),

    #[error("--kernel does not apply to --flink: the job runs the kernel inside its jar")]
    #[diagnostic(code(packager::run::kernel), help("rebuild the jar with `packager build --local`, or drop --flink"))]
    KernelWithFlink,

    #[error("--report does not apply to --flink (asked for {0}): the report is drawn from the local replay")]
    #[diagnostic(
        code(packager::run::report),
        help("drop --flink to get the report (same kernel, same verdicts), or drop --report (also `report` in packager.toml [run])")
    )]
    ReportWithFlink(PathBuf),

    #[error("the jar {jar} is built for {jar_runtime}, not for Flink {wanted}")]
    #[diagnostic(
        code(packager::run::flink_version),
        help(
            "drop --flink-version to run the jar on the Flink it is built for, or build one for Flink {wanted}: `packager build --local --flink-version {wanted}`"
        )
    )]
    WrongJar { jar: PathBuf, jar_runtime: String, wanted: FlinkVersion },

    #[error("--sql needs Flink 2.2 (process table functions); the jar is built for Flink {0}")]
    #[diagnostic(code(packager::run::sql), help("build for Flink 2.2: `packager build --local --flink-version 2.2`"))]
    SqlNeedsFlink22(FlinkVersion),

    #[error("cannot read the SQL file {path}: {source}")]
    #[diagnostic(code(packager::run::sql_file))]
    SqlFile { path: PathBuf, source: std::io::Error },

    /// Flink's jars, fetched as `packager build` fetches them when there is no FLINK_HOME.
    #[error(transparent)]
    #[diagnostic(transparent)]
    FlinkJars(#[from] Box<crate::build::BuildError>),

    #[error("`java` could not be started: {0}")]
    #[diagnostic(code(packager::run::java), help("install a Java 11+ runtime (Debian: apt-get install openjdk-17-jdk-headless)"))]
    NoJava(std::io::Error),

    #[error("the Flink job failed ({status}); its last output lines:\n{tail}")]
    #[diagnostic(code(packager::run::job), help("the full log is {log}; -v shows the job's output as it runs"))]
    JobFailed { status: String, tail: String, log: String },

    #[error("cannot use the work directory {path}: {source}")]
    #[diagnostic(code(packager::run::work))]
    Work { path: PathBuf, source: std::io::Error },
}
