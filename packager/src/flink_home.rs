//! A Flink distribution (`FLINK_HOME`): what `packager build` compiles the job against and `packager run --flink`
//! runs it with.

use crate::flink_version::FlinkVersion;
use miette::Diagnostic;
use std::path::{Path, PathBuf};

/// Why `--flink-home` cannot be used.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum FlinkHomeError {
    #[error("no Flink distribution: --flink-home is not set")]
    #[diagnostic(
        code(packager::build::flink_home),
        help("pass --flink-home DIR or set FLINK_HOME to a Flink distribution (job-template/scripts/flink-home.sh fetches one)")
    )]
    NoFlinkHome,

    #[error("--flink-home {path} has no lib/flink-dist-*.jar")]
    #[diagnostic(code(packager::build::flink_home), help("point --flink-home (or FLINK_HOME) at the directory that holds lib/"))]
    BadFlinkHome { path: PathBuf },

    #[error("the Flink distribution {path} is Flink {found}, but the job is built for Flink {wanted}")]
    #[diagnostic(code(packager::build::flink_version))]
    VersionMismatch {
        path: PathBuf,
        found: String,
        wanted: FlinkVersion,
        #[help]
        help: String,
    },
}

/// A Flink distribution: `FLINK_HOME` with `lib/flink-dist-<version>.jar`.
#[derive(Debug, Clone)]
pub struct FlinkHome {
    pub path: PathBuf,
    /// From the flink-dist jar's name, e.g. `1.20.3`.
    pub version: String,
}

impl FlinkHome {
    /// Checks `path` (from --flink-home or FLINK_HOME) holds a Flink distribution.
    pub fn open(path: Option<&Path>) -> Result<FlinkHome, FlinkHomeError> {
        let path = path.ok_or(FlinkHomeError::NoFlinkHome)?;
        let lib = path.join("lib");
        let entries = std::fs::read_dir(&lib).map_err(|_| FlinkHomeError::BadFlinkHome { path: path.to_path_buf() })?;
        let version = entries
            .filter_map(|e| e.ok())
            .find_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("flink-dist")?
                    .strip_suffix(".jar")
                    .map(|v| v.trim_start_matches(['-', '_']).to_string())
            })
            .ok_or_else(|| FlinkHomeError::BadFlinkHome { path: path.to_path_buf() })?;
        // flink-dist_2.12-1.x names carry the Scala version first.
        let version = version.rsplit('-').next().unwrap_or(&version).to_string();
        Ok(FlinkHome { path: path.to_path_buf(), version })
    }

    /// Opens `path` and checks it holds a release of `wanted`.
    pub fn open_for(path: &Path, wanted: FlinkVersion) -> Result<FlinkHome, FlinkHomeError> {
        let home = FlinkHome::open(Some(path))?;
        match FlinkVersion::of_release(&home.version) {
            Some(v) if v == wanted => Ok(home),
            found => {
                let build_for_it = found.map(|v| format!("build for it with --flink-version {v}, or ")).unwrap_or_default();
                Err(FlinkHomeError::VersionMismatch {
                    path: path.to_path_buf(),
                    found: home.version.clone(),
                    wanted,
                    help: format!(
                        "{build_for_it}point --flink-home (FLINK_HOME) at a Flink {wanted} distribution, or unset it and packager \
                         fetches Flink {}'s jars itself",
                        wanted.release()
                    ),
                })
            }
        }
    }

    /// The classpath of every jar in `lib/` (a wildcard, expanded by the JVM tools).
    pub fn classpath(&self) -> String {
        format!("{}/lib/*", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flink_version_comes_from_the_dist_jar() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        assert!(matches!(FlinkHome::open(Some(dir.path())), Err(FlinkHomeError::BadFlinkHome { .. })));
        std::fs::write(dir.path().join("lib/flink-dist-1.20.3.jar"), b"").unwrap();
        assert_eq!(FlinkHome::open(Some(dir.path())).unwrap().version, "1.20.3");
        assert!(matches!(FlinkHome::open(None), Err(FlinkHomeError::NoFlinkHome)));
        assert!(FlinkHome::open_for(dir.path(), FlinkVersion::V1_20).is_ok());
        let err = FlinkHome::open_for(dir.path(), FlinkVersion::V2_2).unwrap_err();
        assert!(matches!(err, FlinkHomeError::VersionMismatch { .. }), "{err}");
    }
}
