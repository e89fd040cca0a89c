//! Every error the packager reports, each with the flag or file that fixes it.

use miette::Diagnostic;
use std::path::PathBuf;

/// A packager failure.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(packager::input), help("check the path, or pass `-` to read standard input"))]
    ReadInput { path: PathBuf, source: std::io::Error },

    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(packager::output))]
    WriteOutput { path: PathBuf, source: std::io::Error },

    #[error("cannot write to standard output: {0}")]
    #[diagnostic(code(packager::stdout))]
    Stdout(std::io::Error),

    #[error("cannot read config file {path}: {message}")]
    #[diagnostic(code(packager::config_file), help("packager.toml holds a [detector] table of kernel keys; see `packager run --help`"))]
    ConfigFile { path: PathBuf, message: String },

    #[error("{0}")]
    #[diagnostic(
        code(packager::detector_config),
        help(
            "set detector keys with flags (`--threshold-multiplier 3.0`), PACKAGER_* variables, or the [detector] table of packager.toml"
        )
    )]
    DetectorConfig(detector_wasm::config::ConfigError),

    #[error("invalid --set `{0}`: expected KEY=VALUE, e.g. --set min_stddev=0.1")]
    #[diagnostic(code(packager::set))]
    SetSyntax(String),

    #[error("cannot load the kernel {origin}: {source}")]
    #[diagnostic(
        code(packager::kernel),
        help("build a kernel from detector-wasm with `packager build`, or drop --kernel to use the embedded one")
    )]
    Kernel { origin: String, source: anomaly_host::KernelError },

    #[error("{0}")]
    #[diagnostic(code(packager::usage))]
    Usage(String),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] crate::build::BuildError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    FlinkRun(#[from] crate::flink_run::FlinkRunError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Deploy(#[from] crate::deploy::error::DeployError),
}

/// The packager's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
