//! Progress while building (a spinner on a terminal, plain lines otherwise, always on standard error) and the build
//! report: what was written, how big, its sha256, and how long each step took.

use super::connector::sha256_file;
use super::error::BuildError;
use crate::artifact::BuildManifest;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One file the build wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// What it is: `jar`, `kernel.wasm`, `kernel.cwasm`, `host`, `alerter`.
    pub name: String,
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

impl Artifact {
    /// Describes the file at `path`.
    pub fn of(name: &str, path: &Path) -> Result<Artifact, BuildError> {
        let size = std::fs::metadata(path).map_err(|e| BuildError::read(path, e))?.len();
        Ok(Artifact { name: name.to_string(), path: path.to_path_buf(), size, sha256: sha256_file(path)? })
    }
}

/// How long a step took, or why it was skipped.
#[derive(Debug, Clone, Serialize)]
pub struct StepTiming {
    pub step: String,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// What `packager build --output json` prints.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildReport {
    pub jar: PathBuf,
    pub artifacts: Vec<Artifact>,
    pub manifest: BuildManifest,
    pub steps: Vec<StepTiming>,
    pub total_seconds: f64,
    /// Things a user should know before deploying (a host-target fallback, a skipped alerter).
    pub warnings: Vec<String>,
}

/// Step progress on standard error.
pub struct Progress {
    bar: Option<ProgressBar>,
    steps: Vec<StepTiming>,
}

impl Progress {
    /// A spinner when standard error is a terminal, plain lines otherwise.
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress { bar, steps: Vec::new() }
    }

    /// Runs one named step, timing it.
    pub fn step<T>(&mut self, name: &str, f: impl FnOnce() -> Result<T, BuildError>) -> Result<T, BuildError> {
        match &self.bar {
            Some(bar) => bar.set_message(name.to_string()),
            None => eprintln!("{name} ..."),
        }
        let started = Instant::now();
        let result = f();
        let seconds = started.elapsed().as_secs_f64();
        let mark = if result.is_ok() { "done" } else { "FAILED" };
        self.line(&format!("{mark}: {name} ({seconds:.1} s)"));
        self.steps.push(StepTiming { step: name.to_string(), seconds, skipped: None });
        result
    }

    /// Records a step that did not run, and says why.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.line(&format!("skipped: {name}: {why}"));
        self.steps.push(StepTiming { step: name.to_string(), seconds: 0.0, skipped: Some(why.to_string()) });
    }

    /// A line for the user, above the spinner.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Stops the spinner and hands back the timings.
    pub fn finish(self) -> Vec<StepTiming> {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        self.steps
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}
