//! The `packager` CLI as a library: each subcommand is a module with its flags and a `run` function.

pub mod build;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod error;
pub mod flink_run;
pub mod flink_version;
pub mod generate;
pub mod replay;
pub mod report;
pub mod run;
pub mod score;
pub mod send;

use cli::{Cli, Command};
use config::FileConfig;

/// Runs the parsed command line.
pub fn run_cli(cli: Cli) -> error::Result<()> {
    let file = FileConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Run(args) => run::run(*args, &file, cli.verbose).map(|_| ()),
        Command::Generate(args) => generate::run(&args),
        Command::Build(args) => build::run(*args, &file),
        Command::Deploy(args) => deploy::run(*args, &file),
        Command::Send(args) => send::run(*args, &file),
    }
}
