//! The Flink job: `javac --release 11` (Managed Flink's `FLINK-1_20` runs Java 11 bytecode) over
//! `job-template/java/src/main/java`, against the jars of a Flink distribution's `lib/`.

use super::error::BuildError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the job's sources live in the project.
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

    /// The classpath of every jar in `lib/` (a wildcard, expanded by the JVM tools).
    pub fn classpath(&self) -> String {
        format!("{}/lib/*", self.path.display())
    }
}

/// Compiles the job into `classes` (emptied first) and returns it.
pub fn compile(project: &Path, flink: &FlinkHome, classes: &Path) -> Result<PathBuf, BuildError> {
    let sources_dir = project.join(SOURCES);
    let mut sources = Vec::new();
    collect_java(&sources_dir, &mut sources)?;
    if sources.is_empty() {
        return Err(BuildError::read(sources_dir, "no .java files"));
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
    let output = Command::new("javac")
        .args(["--release", "11", "-encoding", "UTF-8", "-Xlint:all", "-Xlint:-serial", "-Xlint:-processing", "-Werror", "-cp"])
        .arg(flink.classpath())
        .arg("-d")
        .arg(classes)
        .arg(format!("@{}", list.display()))
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => BuildError::MissingTool {
                tool: "javac".into(),
                help: "install a JDK 11 or newer (Debian: apt-get install openjdk-17-jdk-headless)".into(),
            },
            _ => BuildError::Tool { what: "javac".into(), message: e.to_string() },
        })?;
    if !output.status.success() {
        return Err(BuildError::Tool {
            what: "compiling the Flink job (javac --release 11)".into(),
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
    }
}
