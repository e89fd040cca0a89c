//! Where the project is: the nearest directory from the current one upwards that holds the kernel and the job, so
//! `packager build` and `packager run --flink` work from anywhere inside it.

use miette::Diagnostic;
use std::path::{Path, PathBuf};

/// Where the job's sources live in the project.
pub const JOB_SOURCES: &str = "job-template/java/src/main/java";

/// No project above the current directory.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("cannot find the project: no directory from {start} upwards holds detector-wasm/ and job-template/")]
#[diagnostic(code(packager::build::project), help("run packager inside the project, or pass --project-dir DIR"))]
pub struct NoProject {
    pub start: PathBuf,
}

/// The nearest directory from the current one upwards that holds the kernel and the job.
pub fn find_project() -> Result<PathBuf, NoProject> {
    let start = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    start
        .ancestors()
        .find(|dir| dir.join("detector-wasm/Cargo.toml").is_file() && dir.join(JOB_SOURCES).is_dir())
        .map(Path::to_path_buf)
        .ok_or(NoProject { start })
}
