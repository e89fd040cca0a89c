//! `packager`: parse the command line, set up diagnostics, run the subcommand, report errors.

use clap::Parser;
use packager::cli::Cli;
use tracing_subscriber::EnvFilter;

fn main() -> miette::Result<()> {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)))
        .with_writer(std::io::stderr)
        .init();
    packager::run_cli(cli)?;
    Ok(())
}
