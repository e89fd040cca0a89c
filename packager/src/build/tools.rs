//! The tools the build needs besides cargo and a JDK: `cargo-zigbuild` and `zig`, which cross-build the JNI host for
//! Managed Flink's older glibc. When they are missing the build installs them (with Python's pip, into a virtual
//! environment under the cache) or asks once, as cargo-lambda offers to install zig:
//!
//! - `--install-tools` (or `install_tools = true`): install without asking;
//! - on a terminal: ask; the answer is remembered in `<cache>/tools/answers.json`, so the question comes once;
//! - otherwise (CI, a pipe): install nothing; the host is built for this machine's target, with a warning.

use super::error::BuildError;
use super::report::Progress;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What pip installs: the versions tests/setup.sh installs too.
pub const ZIG_PACKAGES: [&str; 2] = ["ziglang==0.17.1", "cargo-zigbuild==0.24.1"];

/// Remembered answers to the build's questions.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Answers {
    /// Whether to install cargo-zigbuild and zig when they are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    install_zigbuild: Option<bool>,
}

/// How the build may get missing tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Install {
    /// Install without asking (`--install-tools`).
    Yes,
    /// Ask on a terminal, once; elsewhere install nothing.
    Ask,
}

/// Where cargo-zigbuild comes from for this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zigbuild {
    /// On PATH already.
    OnPath,
    /// Installed by packager: this directory goes first on PATH.
    Installed(PathBuf),
    /// Not available, and why (the host then builds for this machine).
    Missing(String),
}

/// The tools' directory under the cache.
fn tools_dir(cache_dir: &Path) -> PathBuf {
    cache_dir.join("tools")
}

/// The virtual environment packager installs cargo-zigbuild into.
fn venv(cache_dir: &Path) -> PathBuf {
    tools_dir(cache_dir).join("zigbuild")
}

fn bin(venv: &Path) -> PathBuf {
    venv.join(if cfg!(windows) { "Scripts" } else { "bin" })
}

/// What finding or installing a tool depends on.
#[derive(Debug, Clone)]
pub struct Tools<'a> {
    /// The cargo that runs `cargo zigbuild`.
    pub cargo: std::ffi::OsString,
    pub cache_dir: &'a Path,
    pub install: Install,
    /// Whether a question can be asked (standard input and error are a terminal).
    pub interactive: bool,
    /// The Python that creates the virtual environment (`PACKAGER_PYTHON`, default python3).
    pub python: std::ffi::OsString,
}

impl<'a> Tools<'a> {
    /// This process's cargo and Python, asking only on a terminal.
    pub fn here(cache_dir: &'a Path, install: Install) -> Tools<'a> {
        Tools {
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            cache_dir,
            install,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
            python: std::env::var_os("PACKAGER_PYTHON").unwrap_or_else(|| "python3".into()),
        }
    }
}

/// Finds cargo-zigbuild, or installs it (asking first unless told to install).
pub fn zigbuild(tools: &Tools, progress: &Progress) -> Result<Zigbuild, BuildError> {
    let (cargo, cache_dir, install) = (tools.cargo.as_os_str(), tools.cache_dir, tools.install);
    if works(cargo, None) {
        return Ok(Zigbuild::OnPath);
    }
    let installed = bin(&venv(cache_dir));
    if works(cargo, Some(&installed)) {
        return Ok(Zigbuild::Installed(installed));
    }
    let answers_file = tools_dir(cache_dir).join("answers.json");
    let mut answers: Answers = std::fs::read(&answers_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let go = match (install, answers.install_zigbuild) {
        (Install::Yes, _) => true,
        (Install::Ask, Some(remembered)) => remembered,
        (Install::Ask, None) if tools.interactive => {
            let yes = progress.suspend(|| ask(&venv(cache_dir)));
            answers.install_zigbuild = Some(yes);
            remember(&answers_file, &answers);
            yes
        }
        (Install::Ask, None) => {
            return Ok(Zigbuild::Missing(
                "cargo-zigbuild is not installed (pass --install-tools to have packager install it with pip, or `pip install ziglang \
                 cargo-zigbuild`)"
                    .into(),
            ));
        }
    };
    if !go {
        return Ok(Zigbuild::Missing(format!(
            "cargo-zigbuild is not installed and installing it was declined (remembered in {}; delete it to be asked again, or pass \
             --install-tools)",
            answers_file.display()
        )));
    }
    install_into(&tools.python, &venv(cache_dir), progress)?;
    if !works(cargo, Some(&installed)) {
        return Err(BuildError::ToolInstall(format!(
            "pip installed {} into {}, but `cargo zigbuild` still does not run",
            ZIG_PACKAGES.join(" "),
            venv(cache_dir).display()
        )));
    }
    Ok(Zigbuild::Installed(installed))
}

/// The question, on standard error; an empty answer is yes.
fn ask(venv: &Path) -> bool {
    eprint!(
        "cargo-zigbuild and zig are not installed. They build the JNI host for Managed Flink's glibc 2.17; without them the host is \
         built for this machine and may not load there.\nInstall {} with pip into {}? [Y/n] ",
        ZIG_PACKAGES.join(" "),
        venv.display()
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    !matches!(line.trim().to_ascii_lowercase().as_str(), "n" | "no")
}

fn remember(file: &Path, answers: &Answers) {
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = std::fs::write(file, serde_json::to_vec_pretty(answers).expect("answers serialize")) {
        tracing::warn!("cannot remember the answer in {}: {e}", file.display());
    }
}

/// `python -m venv DIR` and pip install the zig packages into it.
fn install_into(python: &std::ffi::OsStr, venv: &Path, progress: &Progress) -> Result<(), BuildError> {
    progress.line(&format!("  installing {} into {} ...", ZIG_PACKAGES.join(" "), venv.display()));
    let run = |cmd: &mut Command, what: &str| -> Result<(), BuildError> {
        let output = cmd.stdin(Stdio::null()).output().map_err(|e| {
            BuildError::ToolInstall(format!("{what}: {e} (install Python 3 with pip, or pass --no-zigbuild to build without zig)"))
        })?;
        if !output.status.success() {
            return Err(BuildError::ToolInstall(format!("{what} failed:\n{}", String::from_utf8_lossy(&output.stderr).trim_end())));
        }
        Ok(())
    };
    run(Command::new(python).arg("-m").arg("venv").arg(venv), "creating a Python virtual environment")?;
    let venv_python = bin(venv).join(if cfg!(windows) { "python.exe" } else { "python" });
    run(
        Command::new(venv_python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"]).args(ZIG_PACKAGES),
        "pip install",
    )?;
    progress.line(&format!("  installed cargo-zigbuild and zig into {}", venv.display()));
    Ok(())
}

/// Whether `cargo zigbuild` runs, with `extra` first on PATH.
pub fn works(cargo: &std::ffi::OsStr, extra: Option<&Path>) -> bool {
    let mut cmd = Command::new(cargo);
    cmd.args(["zigbuild", "--help"]).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(dir) = extra {
        if !dir.is_dir() {
            return false;
        }
        cmd.env("PATH", path_with(dir));
    }
    cmd.status().is_ok_and(|s| s.success())
}

/// PATH with `dir` first.
pub fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn script(path: &Path, body: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A cargo that finds `cargo-zigbuild` on PATH as cargo does, but only in directories under `cache` (so one installed
    /// on this machine does not count).
    fn fake_cargo(dir: &Path, cache: &Path) -> std::ffi::OsString {
        let cargo = dir.join("cargo");
        script(
            &cargo,
            &format!(
                r#"IFS=:; for d in $PATH; do case "$d" in {}*) [ -x "$d/cargo-zigbuild" ] && exec "$d/cargo-zigbuild" "$@";; esac; done; exit 1"#,
                cache.display()
            ),
        );
        cargo.into()
    }

    fn tools<'a>(cargo: std::ffi::OsString, cache: &'a Path, install: Install, python: &Path) -> Tools<'a> {
        Tools { cargo, cache_dir: cache, install, interactive: false, python: python.into() }
    }

    #[test]
    fn install_tools_creates_a_venv_and_pip_installs_the_pinned_packages_there() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let log = dir.path().join("pip.log");
        // A Python whose venv's python records the pip call and "installs" a cargo-zigbuild that runs.
        let venv_python = dir.path().join("venv-python");
        script(
            &venv_python,
            &format!(
                r#"echo "$@" >> {}; d=$(dirname "$0"); printf '#!/bin/sh\nexit 0\n' > "$d/cargo-zigbuild"; chmod +x "$d/cargo-zigbuild""#,
                log.display()
            ),
        );
        let python = dir.path().join("python3");
        script(&python, &format!(r#"[ "$1 $2" = "-m venv" ] || exit 2; mkdir -p "$3/bin"; cp {} "$3/bin/python""#, venv_python.display()));
        let t = tools(fake_cargo(dir.path(), &cache), &cache, Install::Yes, &python);
        let got = zigbuild(&t, &Progress::quiet()).unwrap();
        assert_eq!(got, Zigbuild::Installed(bin(&venv(&cache))));
        let pip = std::fs::read_to_string(&log).unwrap();
        assert!(pip.contains("-m pip install") && ZIG_PACKAGES.iter().all(|p| pip.contains(p)), "{pip}");
        // Installed once: the next build finds it without pip.
        std::fs::remove_file(&log).unwrap();
        let again = tools(fake_cargo(dir.path(), &cache), &cache, Install::Ask, &python);
        assert_eq!(zigbuild(&again, &Progress::quiet()).unwrap(), Zigbuild::Installed(bin(&venv(&cache))));
        assert!(!log.exists(), "nothing was installed the second time");
    }

    #[test]
    fn a_declined_install_is_remembered_and_not_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = tools_dir(dir.path()).join("answers.json");
        remember(&file, &Answers { install_zigbuild: Some(false) });
        let mut t = tools(fake_cargo(dir.path(), dir.path()), dir.path(), Install::Ask, Path::new("/nonexistent/python3"));
        // Even where a question could be asked, the remembered answer stands.
        t.interactive = true;
        let got = zigbuild(&t, &Progress::quiet()).unwrap();
        let Zigbuild::Missing(why) = got else { panic!("{got:?}") };
        assert!(why.contains("declined") && why.contains("answers.json") && why.contains("--install-tools"), "{why}");
    }

    #[test]
    fn without_a_terminal_nothing_is_installed_and_the_flag_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let t = tools(fake_cargo(dir.path(), dir.path()), dir.path(), Install::Ask, Path::new("/nonexistent/python3"));
        let got = zigbuild(&t, &Progress::quiet()).unwrap();
        let Zigbuild::Missing(why) = got else { panic!("{got:?}") };
        assert!(why.contains("--install-tools"), "{why}");
        assert!(!venv(dir.path()).exists());
    }
}
