//! What can stop `packager send`, each with the flag or setting that fixes it.

use crate::aws::error::AwsError;
use crate::config::ConfigError;
use miette::Diagnostic;
use std::path::PathBuf;

/// A send failure.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum SendError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    #[error("cannot read {path}: {source}")]
    #[diagnostic(code(packager::input), help("check the path, or pass `-` to read standard input"))]
    ReadInput { path: PathBuf, source: std::io::Error },

    #[error("{0}")]
    #[diagnostic(code(packager::usage))]
    Usage(String),

    #[error("Kinesis stream `{stream}` does not exist")]
    #[diagnostic(
        code(packager::no_stream),
        help("pass the stream's name or ARN with --stream, or give --terraform-outputs with kinesis_stream_arn")
    )]
    StreamMissing { stream: String },

    #[error("{count} of {total} records were not sent to `{stream}` after {attempts} attempts each:\n{list}")]
    #[diagnostic(
        code(packager::not_sent),
        help(
            "the stream is throttling or refusing them: send the listed lines again later, or raise --max-attempts (or the stream's shards)"
        )
    )]
    NotSent { stream: String, count: usize, total: u64, attempts: u32, list: String },
}
