//! The `packager` CLI as a library: one module per subcommand with its flags, its `run` function and its own error
//! type; leaf modules every command may share; and, here, the one place where the commands' errors become the
//! diagnostic `main` prints. The module tree and who may use whom is in packager/README.md ("Module tree"),
//! checked by `tests/module_tree.rs`.

pub mod artifact;
pub mod aws;
pub mod build;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod digest;
pub mod flink_home;
pub mod flink_version;
pub mod generate;
pub mod output;
pub mod project;
pub mod run;
pub mod sample;
pub mod send;

use cli::{Cli, Command};
use config::FileConfig;
use miette::Diagnostic;

/// Any command's failure, shown by `main` as the command's own diagnostic (message, code and the help that fixes it).
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] config::ConfigError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Run(#[from] run::RunError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Generate(#[from] generate::GenerateError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Build(#[from] build::BuildError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Deploy(#[from] deploy::error::DeployError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Send(#[from] send::SendError),
}

/// Runs the parsed command line.
pub fn run_cli(cli: Cli) -> Result<(), Error> {
    let file = FileConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Run(args) => run::run(*args, &file, cli.verbose).map(|_| ())?,
        Command::Generate(args) => generate::run(&args)?,
        Command::Build(args) => build::run(*args, &file)?,
        Command::Deploy(args) => deploy::run(*args, &file)?,
        Command::Send(args) => send::run(*args, &file)?,
    }
    Ok(())
}
