//! Progress while building (a spinner on a terminal, plain lines otherwise, always on standard error) and the build
//! report: what was written, how big, its sha256, and how long each step took.

use super::error::BuildError;
use super::fetch::sha256_file;
use crate::artifact::BuildManifest;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
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

/// Step progress on standard error: a spinner for the running step and a bar per download on a terminal, plain
/// lines otherwise.
pub struct Progress {
    /// The terminal's bars and the step spinner; `None` when standard error is not a terminal (or quiet).
    bars: Option<(MultiProgress, ProgressBar)>,
    steps: Vec<StepTiming>,
    quiet: bool,
}

impl Progress {
    /// A spinner when standard error is a terminal, plain lines otherwise.
    pub fn new() -> Progress {
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            let spinner = multi.add(ProgressBar::new_spinner());
            spinner
                .set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()));
            spinner.enable_steady_tick(Duration::from_millis(120));
            (multi, spinner)
        });
        Progress { bars, steps: Vec::new(), quiet: false }
    }

    /// Progress that prints nothing (tests, library callers).
    pub fn quiet() -> Progress {
        Progress { bars: None, steps: Vec::new(), quiet: true }
    }

    /// A byte counter for one download: on a terminal a bar with size, rate and time left (a counter when the size
    /// is unknown); hidden otherwise, where the step's own lines say what is fetched.
    pub fn bytes(&self, name: &str, length: Option<u64>) -> ProgressBar {
        let Some((multi, _)) = &self.bars else { return ProgressBar::hidden() };
        let (bar, template) = match length {
            Some(n) => (ProgressBar::new(n), "  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"),
            None => (ProgressBar::new_spinner(), "  {spinner} {msg} {bytes} {bytes_per_sec}"),
        };
        bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> "));
        bar.set_message(name.to_string());
        multi.add(bar)
    }

    /// Runs one named step, timing it; the step can print lines and show download bars through the `Progress` it gets.
    pub fn step<T>(&mut self, name: &str, f: impl FnOnce(&Progress) -> Result<T, BuildError>) -> Result<T, BuildError> {
        match &self.bars {
            _ if self.quiet => {}
            Some((_, spinner)) => spinner.set_message(name.to_string()),
            None => eprintln!("{name} ..."),
        }
        let started = Instant::now();
        let result = f(self);
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

    /// A line for the user, above the bars.
    pub fn line(&self, text: &str) {
        match &self.bars {
            _ if self.quiet => {}
            Some((multi, _)) => {
                let _ = multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// Runs `f` (a question on the terminal, say) with the bars out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bars {
            Some((multi, _)) => multi.suspend(f),
            None => f(),
        }
    }

    /// Stops the spinner and hands back the timings.
    pub fn finish(self) -> Vec<StepTiming> {
        if let Some((_, spinner)) = self.bars {
            spinner.finish_and_clear();
        }
        self.steps
    }
}

impl Default for Progress {
    fn default() -> Progress {
        Progress::new()
    }
}
