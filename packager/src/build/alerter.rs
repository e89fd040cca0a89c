//! The alerting Lambda's deployment zip, built by the alerter's own script so Terraform can pick it up.

use super::error::BuildError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The alerter's build script, relative to the project.
pub const SCRIPT: &str = "infra/alerter/scripts/build.sh";

/// Runs `infra/alerter/scripts/build.sh OUT.zip`; `Ok(None)` when the project has no such script.
pub fn build(project: &Path, out: &Path) -> Result<Option<PathBuf>, BuildError> {
    let script = project.join(SCRIPT);
    if !script.is_file() {
        return Ok(None);
    }
    let output = Command::new("bash")
        .arg(&script)
        .arg(out)
        .current_dir(project)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| BuildError::Tool { what: SCRIPT.into(), message: e.to_string() })?;
    if !output.status.success() {
        return Err(BuildError::Tool {
            what: format!("building the alerter zip ({SCRIPT})"),
            message: format!("it exited with {}; pass --no-alerter to skip it", output.status),
        });
    }
    // The script prints the zip's path; trust the file we asked for when it prints nothing.
    let printed = String::from_utf8_lossy(&output.stdout).lines().last().map(str::trim).filter(|l| !l.is_empty()).map(PathBuf::from);
    let zip = printed.unwrap_or_else(|| out.to_path_buf());
    if !zip.is_file() {
        return Err(BuildError::Tool { what: SCRIPT.into(), message: format!("it did not write {}", zip.display()) });
    }
    Ok(Some(zip))
}
