//! The Flink job: `javac --release 11` (Managed Flink's `FLINK-1_20` runs Java 11 bytecode) over
//! `job-template/java/src/main/java`, against the jars of a Flink distribution's `lib/`.

use super::error::BuildError;
use crate::flink_home::FlinkHome;
use crate::project::JOB_SOURCES;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles the job into `classes` (emptied first) and returns it.
pub fn compile(project: &Path, flink: &FlinkHome, classes: &Path) -> Result<PathBuf, BuildError> {
    let sources_dir = project.join(JOB_SOURCES);
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
