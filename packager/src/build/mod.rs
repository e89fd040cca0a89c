//! `packager build`: from the project's sources to one jar Managed Flink can run (and the alerter's Lambda zip).
//!
//! Steps, each in its own file: [`flink_jars`] (Flink's jars, given or fetched), [`wasm`] (compile, validate,
//! precompile the kernel), [`tools`] and [`host`] (cargo-zigbuild, found or installed, and the JNI library),
//! [`java`] (the Flink job), [`connector`] (the Kinesis connector), [`fetch`] (checksummed, cached downloads),
//! [`jar`] (a reproducible jar), [`alerter`], and [`report`] (progress and the build report). What the jar holds and
//! where it goes is [`crate::artifact`], shared with the commands that use the jar.

pub mod alerter;
pub mod connector;
pub mod error;
pub mod fetch;
pub mod flink_jars;
pub mod host;
pub mod jar;
pub mod java;
pub mod report;
pub mod tools;
pub mod wasm;

use crate::artifact::{
    BuildManifest, ConnectorInfo, HOST_ENTRY, JAR_NAME, KERNEL_ENTRY, KERNEL_NO_SIGNALS_ENTRY, MAIN_CLASS, MANIFEST_ENTRY,
};
use crate::config::FileConfig;
use crate::flink_home::FlinkHome;
use crate::flink_version::FlinkVersion;
use crate::output::OutputFormat;
use crate::project::find_project;
use crate::sample::SAMPLE;
use clap::Args;
pub use error::BuildError;
use report::{Artifact, BuildReport, Progress};
use serde::Deserialize;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The wasmtime version every `.cwasm` is precompiled with (from Cargo.lock, by build.rs).
pub const WASMTIME_VERSION: &str = env!("PACKAGER_WASMTIME_VERSION");

/// `packager build` flags; the `[build]` table of packager.toml takes the same names.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct BuildArgs {
    /// The Flink (and Managed Flink runtime) to build for: 2.2 (FLINK-2_2, Java 17) or 1.20 (FLINK-1_20, Java 11) [default: 2.2]
    #[arg(long, env = "PACKAGER_FLINK_VERSION", value_enum, value_name = "VERSION")]
    pub flink_version: Option<FlinkVersion>,
    /// Leave the Kinesis connector out: a jar for local MiniCluster runs (`packager run --flink`); deploy refuses it
    #[arg(long)]
    #[serde(default)]
    pub local: bool,
    /// A Kinesis connector jar to merge instead of fetching flink-sql-connector-aws-kinesis-streams
    #[arg(long, env = "PACKAGER_KINESIS_CONNECTOR", value_name = "JAR", conflicts_with = "local")]
    pub kinesis_connector: Option<PathBuf>,
    /// Maven repository the connector (and Flink's jars) are fetched from (https, http or file) [default: https://repo1.maven.org/maven2]
    #[arg(long, env = "PACKAGER_MAVEN_REPO", value_name = "URL")]
    pub maven_repo: Option<String>,
    /// Where Flink's jars come from when no --flink-home is given: a Maven repository (--maven-repo) or PyPI's apache-flink-libraries [default: maven]
    #[arg(long, env = "PACKAGER_FLINK_JARS", value_enum, value_name = "SOURCE")]
    pub flink_jars: Option<flink_jars::JarSource>,
    /// PyPI for --flink-jars pypi [default: https://pypi.org]
    #[arg(long, env = "PACKAGER_PYPI_URL", value_name = "URL")]
    pub pypi_url: Option<String>,
    /// Download cache [default: $XDG_CACHE_HOME/packager, else ~/.cache/packager]
    #[arg(long, env = "PACKAGER_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Flink distribution whose lib/*.jar the job is compiled against [default: Flink's jars fetched into the cache]
    #[arg(long, env = "FLINK_HOME", value_name = "DIR")]
    pub flink_home: Option<PathBuf>,
    /// The project [default: the nearest directory upwards holding detector-wasm/ and job-template/]
    #[arg(long, env = "PACKAGER_PROJECT_DIR", value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    /// Where the jar, kernel and zip are written [default: <project>/target/packager]
    #[arg(long, env = "PACKAGER_OUT_DIR", value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Cargo target directory for the kernel and host builds [default: <project>/target]
    #[arg(long, env = "PACKAGER_TARGET_DIR", value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Build the JNI host for this machine's target instead of cross-building it with cargo zigbuild (glibc 2.17)
    #[arg(long)]
    #[serde(default)]
    pub no_zigbuild: bool,
    /// Install cargo-zigbuild and zig (pip, into the cache) when they are missing, without asking
    #[arg(long, conflicts_with = "no_zigbuild")]
    #[serde(default)]
    pub install_tools: bool,
    /// Do not build the alerter Lambda zip
    #[arg(long)]
    #[serde(default)]
    pub no_alerter: bool,
    /// Report format on standard output [default: text]
    #[arg(long, value_enum, env = "PACKAGER_OUTPUT")]
    pub output: Option<OutputFormat>,
}

impl BuildArgs {
    /// Fills what flags and environment left unset from the `[build]` table of packager.toml.
    fn merged(mut self, file: &FileConfig) -> Result<BuildArgs, BuildError> {
        let from_file: BuildArgs = file
            .build
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| BuildError::Config { key: "build".into(), message: e.message().to_string() })?;
        self.local |= from_file.local;
        self.no_zigbuild |= from_file.no_zigbuild;
        self.install_tools |= from_file.install_tools;
        self.flink_version = self.flink_version.or(from_file.flink_version);
        self.flink_jars = self.flink_jars.or(from_file.flink_jars);
        self.pypi_url = self.pypi_url.or(from_file.pypi_url);
        self.no_alerter |= from_file.no_alerter;
        self.kinesis_connector = self.kinesis_connector.or(from_file.kinesis_connector);
        self.maven_repo = self.maven_repo.or(from_file.maven_repo);
        self.cache_dir = self.cache_dir.or(from_file.cache_dir);
        self.flink_home = self.flink_home.or(from_file.flink_home);
        self.project_dir = self.project_dir.or(from_file.project_dir);
        self.out_dir = self.out_dir.or(from_file.out_dir);
        self.target_dir = self.target_dir.or(from_file.target_dir);
        self.output = self.output.or(from_file.output);
        Ok(self)
    }
}

/// Runs `packager build` and prints the result.
pub fn run(args: BuildArgs, file: &FileConfig) -> Result<(), BuildError> {
    let args = args.merged(file)?;
    let output = args.output;
    let report = build(args)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let written = match output.unwrap_or(OutputFormat::Text) {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report).expect("the report always serializes")),
        OutputFormat::Text => print_text(&mut out, &report),
    };
    written.map_err(BuildError::Stdout)
}

/// Builds everything `args` (already merged with packager.toml) asks for; returns the report, prints nothing on stdout.
pub fn build(args: BuildArgs) -> Result<BuildReport, BuildError> {
    let started = Instant::now();
    let project = match &args.project_dir {
        Some(dir) => dir.canonicalize().map_err(|e| BuildError::read(dir, e))?,
        None => find_project()?,
    };
    let target_dir = args.target_dir.clone().unwrap_or_else(|| project.join("target"));
    let out_dir = args.out_dir.clone().unwrap_or_else(|| target_dir.join("packager"));
    let work = out_dir.join("build");
    std::fs::create_dir_all(&work).map_err(|e| BuildError::write(&work, e))?;
    let quiet = !tracing::enabled!(tracing::Level::INFO);

    let version = args.flink_version.unwrap_or_default();
    let cache = args.cache_dir.clone().unwrap_or_else(default_cache_dir);
    let repo = args.maven_repo.clone().unwrap_or_else(|| connector::DEFAULT_REPO.to_string());
    // Every input is checked before the first slow step, so a wrong FLINK_HOME fails in a second, not in minutes.
    if let Some(home) = &args.flink_home {
        FlinkHome::open_for(home, version)?;
    }
    if let Some(path) = &args.kinesis_connector
        && !path.is_file()
    {
        return Err(BuildError::read(path, "no such file (given by --kinesis-connector)"));
    }

    let mut progress = Progress::new();
    let mut warnings = Vec::new();
    let source = args.flink_jars.unwrap_or_default();
    let pypi_url = args.pypi_url.clone().unwrap_or_else(|| flink_jars::DEFAULT_PYPI_URL.to_string());
    let origin = flink_jars::Origin { source, maven_repo: &repo, pypi_url: &pypi_url, cache_dir: &cache };
    let jars_step = match &args.flink_home {
        Some(home) => format!("flink: Flink {version} jars in {}", home.display()),
        None => format!(
            "flink: Flink {} jars from {}",
            version.release(),
            if source == flink_jars::JarSource::Pypi { &pypi_url } else { &repo }
        ),
    };
    let flink = progress.step(&jars_step, |p| flink_jars::resolve(args.flink_home.as_deref(), version, &origin, p))?;

    let connector = if args.local {
        progress.skip("kinesis connector", "--local: the jar is for MiniCluster runs only");
        None
    } else if let Some(path) = &args.kinesis_connector {
        Some(progress.step("kinesis connector: check the given jar", |_| connector::from_path(path))?)
    } else {
        let name = format!("kinesis connector: {} {} from {repo}", connector::ARTIFACT, version.kinesis_connector());
        let c = progress.step(&name, |p| connector::fetch(version, &repo, &cache, p))?;
        if c.cached {
            progress.line(&format!("  (from the cache: {})", c.path.display()));
        }
        Some(c)
    };

    let wasm_path = wasm::wasm_path(&target_dir);
    let wasm =
        progress.step("kernel: compile detector-wasm for wasm32-unknown-unknown", |_| wasm::compile(&project, &target_dir, quiet))?;
    let validated =
        progress.step("kernel: validate (imports, exports, ABI version, smoke run)", |_| wasm::validate(&wasm, &wasm_path, SAMPLE))?;
    let cwasm =
        progress.step("kernel: precompile to .cwasm for baseline x86-64", |_| wasm::precompile(&wasm, anomaly_host::Traps::Signals))?;
    let cwasm_no_signals = progress.step("kernel: precompile again for the engine without signal handlers", |_| {
        wasm::precompile(&wasm, anomaly_host::Traps::Explicit)
    })?;
    let kernel_wasm = out_dir.join("kernel.wasm");
    let kernel_cwasm = out_dir.join("kernel.cwasm");
    std::fs::write(&kernel_wasm, &wasm).map_err(|e| BuildError::write(&kernel_wasm, e))?;
    std::fs::write(&kernel_cwasm, &cwasm).map_err(|e| BuildError::write(&kernel_cwasm, e))?;

    let zigbuild = if args.no_zigbuild {
        None
    } else {
        let install = if args.install_tools { tools::Install::Yes } else { tools::Install::Ask };
        Some(progress.step("tools: cargo-zigbuild and zig", |p| tools::zigbuild(&tools::Tools::here(&cache, install), p))?)
    };
    let host = progress
        .step("host: build the JNI library (release, --features jni)", |_| host::build(&project, &target_dir, zigbuild.as_ref(), quiet))?;
    if let Some(why) = &host.fallback {
        let warning = format!(
            "the JNI host was built for this machine's target {} instead of {} because {why}: it may need a newer glibc than Managed Flink has",
            host.target,
            host::ZIG_TARGET
        );
        progress.line(&format!("warning: {warning}"));
        warnings.push(warning);
    }

    let release = version.java_release();
    let classes = progress.step(&format!("job: javac --release {release} against Flink {}", flink.version), |_| {
        java::compile(&project, version, &flink, &work.join("classes"))
    })?;

    let manifest = BuildManifest {
        packager_version: env!("CARGO_PKG_VERSION").to_string(),
        kernel_sha256: crate::digest::sha256_hex(&wasm),
        abi_version: validated.abi_version,
        flink_version: flink.version.clone(),
        flink_runtime: version.runtime().to_string(),
        wasmtime_version: WASMTIME_VERSION.to_string(),
        git_revision: git_revision(&project),
        local: args.local,
        kinesis_connector: connector.as_ref().map(|c| ConnectorInfo {
            artifact: connector::ARTIFACT.to_string(),
            version: version.kinesis_connector().to_string(),
            sha256: c.sha256.clone(),
        }),
        host_target: host.target.clone(),
    };
    let jar_path = out_dir.join(JAR_NAME);
    progress.step("jar: assemble", |_| {
        let mut jar = jar::JarBuilder::new();
        jar.add_dir(&classes)?;
        jar.add(KERNEL_ENTRY, cwasm.clone());
        jar.add(KERNEL_NO_SIGNALS_ENTRY, cwasm_no_signals.clone());
        jar.add(HOST_ENTRY, std::fs::read(&host.path).map_err(|e| BuildError::read(&host.path, e))?);
        jar.add(MANIFEST_ENTRY, manifest.to_bytes());
        if let Some(c) = &connector {
            jar.merge_jar(&c.path)?;
        }
        jar.write(&jar_path, MAIN_CLASS, &format!("packager {}", env!("CARGO_PKG_VERSION")))
    })?;

    let mut artifacts = vec![
        Artifact::of("jar", &jar_path)?,
        Artifact::of("kernel.wasm", &kernel_wasm)?,
        Artifact::of("kernel.cwasm", &kernel_cwasm)?,
        Artifact::of("host", &host.path)?,
    ];
    if args.no_alerter {
        progress.skip("alerter: Lambda zip", "--no-alerter");
    } else if !project.join(alerter::SCRIPT).is_file() {
        let why = format!("{} does not exist in this project", alerter::SCRIPT);
        progress.skip("alerter: Lambda zip", &why);
        warnings.push(format!("no alerter zip: {why}"));
    } else {
        let zip = out_dir.join("alerter.zip");
        if let Some(zip) = progress.step("alerter: Lambda zip", |_| alerter::build(&project, &zip))? {
            artifacts.push(Artifact::of("alerter", &zip)?);
        }
    }
    let steps = progress.finish();
    Ok(BuildReport { jar: jar_path, artifacts, manifest, steps, total_seconds: started.elapsed().as_secs_f64(), warnings })
}

fn print_text(out: &mut impl Write, report: &BuildReport) -> std::io::Result<()> {
    for a in &report.artifacts {
        writeln!(out, "{:<13} {:>12}  {}  {}", a.name, format_size(a.size), a.sha256, a.path.display())?;
    }
    let m = &report.manifest;
    let connector = match &m.kinesis_connector {
        Some(c) => format!("{} {}", c.artifact, c.version),
        None => "none (--local)".to_string(),
    };
    writeln!(
        out,
        "abi {} · flink {} ({}) · wasmtime {} · host {} · connector {} · git {} · {:.1} s",
        m.abi_version, m.flink_version, m.flink_runtime, m.wasmtime_version, m.host_target, connector, m.git_revision, report.total_seconds
    )
}

fn format_size(bytes: u64) -> String {
    if bytes >= 1 << 20 { format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20)) } else { format!("{:.1} KiB", bytes as f64 / 1024.0) }
}

/// `$XDG_CACHE_HOME/packager`, else `~/.cache/packager`.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    base.join("packager")
}

/// The project's git commit, `-dirty` with uncommitted changes to tracked files, `unknown` outside git.
fn git_revision(project: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git").arg("-C").arg(project).args(args).output().ok().filter(|o| o.status.success()).map(|o| o.stdout)
    };
    let Some(head) = git(&["rev-parse", "HEAD"]) else { return "unknown".into() };
    let head = String::from_utf8_lossy(&head).trim().to_string();
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(status) if !status.is_empty() => format!("{head}-dirty"),
        _ => head,
    }
}
