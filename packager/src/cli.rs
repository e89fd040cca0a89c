//! The command line: global flags and one subcommand per job.

use crate::build::BuildArgs;
use crate::deploy::DeployArgs;
use crate::generate::GenerateArgs;
use crate::run::RunArgs;
use crate::send::SendArgs;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Build, deploy and locally replay WebAssembly anomaly detection for Amazon Managed Service for Apache Flink.
///
/// Configuration precedence: flags > PACKAGER_* environment variables > packager.toml > built-in defaults.
#[derive(Debug, Parser)]
#[command(name = "packager", version, propagate_version = true, max_term_width = 110)]
pub struct Cli {
    /// packager.toml to read [default: ./packager.toml when it exists]
    #[arg(long, global = true, env = "PACKAGER_CONFIG")]
    pub config: Option<PathBuf>,
    /// More diagnostics on standard error (-v, -vv); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay JSON-lines events through the kernel locally (no AWS, no Flink) and print the anomalies
    #[command(allow_negative_numbers = true)]
    Run(Box<RunArgs>),
    /// Write a seeded, labeled synthetic transaction stream (JSON lines)
    Generate(GenerateArgs),
    /// Build the Flink jar (kernel .cwasm, JNI host, job, Kinesis connector) and the alerter's Lambda zip
    Build(Box<BuildArgs>),
    /// Upload the jar to S3 and create or update the Managed Flink application (--dry-run shows the plan)
    Deploy(Box<DeployArgs>),
    /// Put JSON-lines events (a file, standard input or --generate) into a Kinesis stream
    Send(Box<SendArgs>),
}
