//! The Flink job: `javac --release 17` for Flink 2.2 (`FLINK-2_2` runs Java 17), `--release 11` for 1.20, over the
//! shared sources `job-template/java/src/main/java` and the version's own `job-template/java/src/flink-<version>/java`
//! (where the Flink APIs differ), against the jars of a Flink distribution's `lib/`.

use super::error::BuildError;
use crate::flink_home::FlinkHome;
use crate::flink_version::FlinkVersion;
use crate::project::JOB_SOURCES;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles the job for `version` into `classes` (emptied first) and returns it.
pub fn compile(project: &Path, version: FlinkVersion, flink: &FlinkHome, classes: &Path) -> Result<PathBuf, BuildError> {
    let mut sources = Vec::new();
    for dir in [project.join(JOB_SOURCES), project.join(version.sources())] {
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
