//! What can stop `packager build`, each with the flag or tool that fixes it.

use miette::Diagnostic;
use std::path::PathBuf;

/// A build failure.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum BuildError {
    #[error("the kernel did not compile: {0}")]
    #[diagnostic(code(packager::build::kernel_compile), help("fix the errors cargo printed above, then run `packager build` again"))]
    KernelCompile(String),

    #[error("the kernel {path} is not a valid kernel: {message}")]
    #[diagnostic(
        code(packager::build::kernel_invalid),
        help("a kernel imports nothing, exports every function of detector-wasm/src/abi.rs and speaks this packager's ABI_VERSION")
    )]
    KernelInvalid { path: PathBuf, message: String },

    #[error("cannot precompile the kernel to .cwasm: {0}")]
    #[diagnostic(code(packager::build::precompile))]
    Precompile(String),

    #[error("{what} failed: {message}")]
    #[diagnostic(code(packager::build::tool))]
    Tool { what: String, message: String },

    #[error("the JNI host library cannot be built for linux-x86_64 on this {machine} machine without cargo-zigbuild")]
    #[diagnostic(
        code(packager::build::zigbuild),
        help("install it (`pip install ziglang cargo-zigbuild`) so the host is cross-built for x86_64-unknown-linux-gnu.2.17")
    )]
    NoCrossBuild { machine: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    FlinkHome(#[from] crate::flink_home::FlinkHomeError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Project(#[from] crate::project::NoProject),

    #[error("the tool install was refused: {0}")]
    #[diagnostic(code(packager::build::tools))]
    ToolInstall(String),

    #[error("`{tool}` is not on PATH")]
    #[diagnostic(code(packager::build::missing_tool))]
    MissingTool {
        tool: String,
        #[help]
        help: String,
    },

    #[error("cannot fetch {url}: {message}")]
    #[diagnostic(
        code(packager::build::fetch),
        help("check --maven-repo (PACKAGER_MAVEN_REPO), or pass --kinesis-connector JAR, or --local to leave the connector out")
    )]
    Fetch { url: String, message: String },

    #[error("cannot fetch Flink {release}'s jars from {url}: {message}")]
    #[diagnostic(
        code(packager::build::flink_jars),
        help(
            "pass --flink-home DIR (or set FLINK_HOME) to a Flink {release} distribution, or fetch from elsewhere: --maven-repo URL (a \
             mirror), or --flink-jars pypi (PyPI's apache-flink-libraries; --pypi-url for a mirror)"
        )
    )]
    FlinkJars { release: String, url: String, message: String },

    #[error("checksum mismatch for {url}: the repository says {expected} ({algorithm}), the download is {actual}")]
    #[diagnostic(
        code(packager::build::checksum),
        help("the download is corrupt or the repository is not trustworthy; check --maven-repo, or pass --kinesis-connector JAR")
    )]
    Checksum { url: String, algorithm: &'static str, expected: String, actual: String },

    #[error("cannot read {path}: {message}")]
    #[diagnostic(code(packager::build::read))]
    Read { path: PathBuf, message: String },

    #[error("cannot write {path}: {message}")]
    #[diagnostic(code(packager::build::write))]
    Write { path: PathBuf, message: String },

    #[error("{path} is not a jar (zip) file: {message}")]
    #[diagnostic(code(packager::build::jar), help("check --kinesis-connector, or delete the file under the cache dir to fetch it again"))]
    BadJar { path: PathBuf, message: String },

    #[error("cannot write to standard output: {0}")]
    #[diagnostic(code(packager::stdout))]
    Stdout(std::io::Error),

    #[error("invalid `{key}` in packager.toml [build]: {message}")]
    #[diagnostic(code(packager::build::config))]
    Config { key: String, message: String },
}

impl BuildError {
    /// A read failure of `path`.
    pub fn read(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> BuildError {
        BuildError::Read { path: path.into(), message: e.to_string() }
    }

    /// A write failure of `path`.
    pub fn write(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> BuildError {
        BuildError::Write { path: path.into(), message: e.to_string() }
    }
}
