//! The Flink job: `javac --release 17` for Flink 2.2 (`FLINK-2_2` runs Java 17), `--release 11` for 1.20, over the
//! shared sources `job-template/java/src/main/java` and the version's own `job-template/java/src/flink-<version>/java`
//! (where the Flink APIs differ), against the jars of a Flink distribution's `lib/`.

use super::error::BuildError;
use crate::flink_version::FlinkVersion;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the job's shared sources live in the project.
pub const SOURCES: &str = "job-template/java/src/main/java";

/// A Flink distribution: `FLINK_HOME` with `lib/flink-dist-<version>.jar`.
#[derive(Debug, Clone)]
pub struct FlinkHome {
    pub path: PathBuf,
    /// From the flink-dist jar's name, e.g. `1.20.3`.
    pub version: String,
}

impl FlinkHome {
    /// Checks `path` (from --flink-home or FLINK_HOME) holds a Flink distribution.
    pub fn open(path: Option<&Path>) -> Result<FlinkHome, BuildError> {
        let path = path.ok_or(BuildError::NoFlinkHome)?;
        let lib = path.join("lib");
        let entries = std::fs::read_dir(&lib).map_err(|_| BuildError::BadFlinkHome { path: path.to_path_buf() })?;
        let version = entries
            .filter_map(|e| e.ok())
            .find_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_prefix("flink-dist")?
                    .strip_suffix(".jar")
                    .map(|v| v.trim_start_matches(['-', '_']).to_string())
            })
            .ok_or_else(|| BuildError::BadFlinkHome { path: path.to_path_buf() })?;
        // flink-dist_2.12-1.x names carry the Scala version first.
        let version = version.rsplit('-').next().unwrap_or(&version).to_string();
        Ok(FlinkHome { path: path.to_path_buf(), version })
    }

    /// Opens `path` and checks it holds a release of `wanted`.
    pub fn open_for(path: &Path, wanted: FlinkVersion) -> Result<FlinkHome, BuildError> {
        let home = FlinkHome::open(Some(path))?;
        match FlinkVersion::of_release(&home.version) {
            Some(v) if v == wanted => Ok(home),
            found => {
                let build_for_it = found.map(|v| format!("build for it with --flink-version {v}, or ")).unwrap_or_default();
                Err(BuildError::FlinkVersionMismatch {
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

/// Compiles the job for `version` into `classes` (emptied first) and returns it.
pub fn compile(project: &Path, version: FlinkVersion, flink: &FlinkHome, classes: &Path) -> Result<PathBuf, BuildError> {
    let mut sources = Vec::new();
    for dir in [project.join(SOURCES), project.join(version.sources())] {
        let before = sources.len();
        collect_java(&dir, &mut sources)?;
        if sources.len() == before {
            return Err(BuildError::read(dir, "no .java files"));
        }
    }
    // Sorted: javac's output must not depend on directory order.
    sources.sort();
    if classes.exists() {
        std::fs::remove_dir_all(classes).map_err(|e| BuildError::write(classes, e))?;
    }
    std::fs::create_dir_all(classes).map_err(|e| BuildError::write(classes, e))?;
    let list = classes.with_extension("sources.txt");
    let text: String = sources.iter().map(|p| format!("\"{}\"\n", p.display())).collect();
    std::fs::write(&list, text).map_err(|e| BuildError::write(&list, e))?;
    let release = version.java_release().to_string();
    let output = Command::new("javac")
        .args(["--release", release.as_str(), "-encoding", "UTF-8", "-Xlint:all", "-Xlint:-serial", "-Xlint:-processing", "-Werror", "-cp"])
        .arg(flink.classpath())
        .arg("-d")
        .arg(classes)
        .arg(format!("@{}", list.display()))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BuildError::MissingTool {
                tool: "javac".into(),
                help: "install a JDK 17 or newer (Debian: apt-get install openjdk-17-jdk-headless)".into(),
            },
            _ => BuildError::Tool { what: "javac".into(), message: e.to_string() },
        })?;
    if !output.status.success() {
        return Err(BuildError::Tool {
            what: format!("compiling the Flink job for Flink {version} (javac --release {release})"),
            message: format!("\n{}", String::from_utf8_lossy(&output.stderr).trim_end()),
        });
    }
    Ok(classes.to_path_buf())
}

fn collect_java(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BuildError::read(dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| BuildError::read(dir, e))?.path();
        if path.is_dir() {
            collect_java(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "java") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flink_version_comes_from_the_dist_jar() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        assert!(matches!(FlinkHome::open(Some(dir.path())), Err(BuildError::BadFlinkHome { .. })));
        std::fs::write(dir.path().join("lib/flink-dist-1.20.3.jar"), b"").unwrap();
        assert_eq!(FlinkHome::open(Some(dir.path())).unwrap().version, "1.20.3");
        assert!(matches!(FlinkHome::open(None), Err(BuildError::NoFlinkHome)));
        assert!(FlinkHome::open_for(dir.path(), FlinkVersion::V1_20).is_ok());
        let err = FlinkHome::open_for(dir.path(), FlinkVersion::V2_2).unwrap_err();
        assert!(matches!(err, BuildError::FlinkVersionMismatch { .. }), "{err}");
    }
}
