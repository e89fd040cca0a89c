//! Flink's jars, which the job is compiled against (and `run --flink` runs on): a Flink distribution's `lib/` when
//! `--flink-home`/`FLINK_HOME` names one, else fetched once into the cache for the release the job is built for:
//!
//! - `maven` (default): `flink-dist`, `flink-connector-files`, the Table API, planner and runtime and `flink-json`
//!   from `--maven-repo` (Maven Central unless a mirror is given), each checked against the repository's checksum:
//!   what the job compiles against and what `run --flink` (SQL included) runs on;
//! - `pypi`: the `apache-flink-libraries` source distribution from PyPI (`--pypi-url`), checked against the sha256
//!   PyPI publishes for it, whose `deps/lib/` is a whole Flink `lib/` (the planner and log4j included).
//!
//! Either way the jars end up in `<cache>/flink/<release>-<source>/lib/`, a directory that looks like a Flink
//! distribution, so everything downstream only ever sees a Flink home.

use super::error::BuildError;
use super::fetch::{self, MavenArtifact};
use super::report::Progress;
use crate::flink_home::FlinkHome;
use crate::flink_version::FlinkVersion;
use serde::{Deserialize, Serialize};
use std::io::Read;
use std::path::{Path, PathBuf};

/// PyPI.
pub const DEFAULT_PYPI_URL: &str = "https://pypi.org";
/// The PyPI project whose source distribution carries Flink's `lib/`.
pub const PYPI_PROJECT: &str = "apache-flink-libraries";
/// Marks a complete fetched `lib/` (written last, so an interrupted fetch is redone).
const COMPLETE: &str = ".complete";

/// Where fetched Flink jars come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JarSource {
    /// A Maven repository (`--maven-repo`, Maven Central by default).
    #[default]
    Maven,
    /// PyPI's `apache-flink-libraries` (`--pypi-url`).
    Pypi,
}

impl JarSource {
    fn as_str(self) -> &'static str {
        match self {
            JarSource::Maven => "maven",
            JarSource::Pypi => "pypi",
        }
    }
}

/// The Maven artifacts of a Flink `lib/` for `release`: enough to compile the job and to run it on a MiniCluster.
pub fn maven_artifacts(release: &str) -> Vec<MavenArtifact> {
    ["flink-dist", "flink-connector-files", "flink-table-api-java-uber", "flink-table-planner-loader", "flink-table-runtime", "flink-json"]
        .into_iter()
        .map(|a| MavenArtifact::new("org.apache.flink", a, release))
        .collect()
}

/// Where the jars come from, as the flags say.
#[derive(Debug, Clone)]
pub struct Origin<'a> {
    pub source: JarSource,
    pub maven_repo: &'a str,
    pub pypi_url: &'a str,
    pub cache_dir: &'a Path,
}

/// What `packager build`'s flags say about where Flink's jars come from, read from their environment variables and
/// defaults: for commands without those flags (`run --flink`), which then use the same cache.
#[derive(Debug, Clone)]
pub struct OriginFromEnv {
    pub source: JarSource,
    pub maven_repo: String,
    pub pypi_url: String,
    pub cache_dir: PathBuf,
}

impl OriginFromEnv {
    /// `PACKAGER_FLINK_JARS`, `PACKAGER_MAVEN_REPO`, `PACKAGER_PYPI_URL`, `PACKAGER_CACHE_DIR`, else the defaults.
    pub fn read() -> OriginFromEnv {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        OriginFromEnv {
            source: if var("PACKAGER_FLINK_JARS").as_deref() == Some("pypi") { JarSource::Pypi } else { JarSource::Maven },
            maven_repo: var("PACKAGER_MAVEN_REPO").unwrap_or_else(|| fetch::DEFAULT_MAVEN_REPO.into()),
            pypi_url: var("PACKAGER_PYPI_URL").unwrap_or_else(|| DEFAULT_PYPI_URL.into()),
            cache_dir: var("PACKAGER_CACHE_DIR").map(PathBuf::from).unwrap_or_else(super::default_cache_dir),
        }
    }

    /// As an [`Origin`].
    pub fn origin(&self) -> Origin<'_> {
        Origin { source: self.source, maven_repo: &self.maven_repo, pypi_url: &self.pypi_url, cache_dir: &self.cache_dir }
    }
}

/// A Flink home for `version`: `home` when given (it must hold that version), else the cache's, fetched first when
/// it is not there yet.
pub fn resolve(home: Option<&Path>, version: FlinkVersion, origin: &Origin, progress: &Progress) -> Result<FlinkHome, BuildError> {
    if let Some(path) = home {
        return Ok(FlinkHome::open_for(path, version)?);
    }
    let release = version.release();
    let dir = origin.cache_dir.join("flink").join(format!("{release}-{}", origin.source.as_str()));
    let lib = dir.join("lib");
    if !lib.join(COMPLETE).is_file() {
        if lib.exists() {
            std::fs::remove_dir_all(&lib).map_err(|e| BuildError::write(&lib, e))?;
        }
        std::fs::create_dir_all(&lib).map_err(|e| BuildError::write(&lib, e))?;
        let fetched = match origin.source {
            JarSource::Maven => from_maven(release, origin, &lib, progress),
            JarSource::Pypi => from_pypi(release, origin, &lib, progress),
        };
        fetched.map_err(|e| match e {
            BuildError::Fetch { url, message } => BuildError::FlinkJars { release: release.to_string(), url, message },
            other => other,
        })?;
        std::fs::write(lib.join(COMPLETE), release).map_err(|e| BuildError::write(&lib, e))?;
    } else {
        progress.line(&format!("  Flink {release} jars from the cache: {}", lib.display()));
    }
    Ok(FlinkHome::open_for(&dir, version)?)
}

/// Each artifact through the Maven cache, then linked (or copied) into `lib`.
fn from_maven(release: &str, origin: &Origin, lib: &Path, progress: &Progress) -> Result<(), BuildError> {
    for artifact in maven_artifacts(release) {
        let fetched = fetch::maven(&artifact, origin.maven_repo, origin.cache_dir, progress)?;
        let link = lib.join(artifact.file_name());
        if std::fs::hard_link(&fetched.path, &link).is_err() {
            std::fs::copy(&fetched.path, &link).map_err(|e| BuildError::write(&link, e))?;
        }
    }
    Ok(())
}

/// The part of PyPI's JSON API answer this needs.
#[derive(Debug, Deserialize)]
struct PypiRelease {
    urls: Vec<PypiFile>,
}

#[derive(Debug, Deserialize)]
struct PypiFile {
    packagetype: String,
    filename: String,
    url: String,
    digests: PypiDigests,
}

#[derive(Debug, Deserialize)]
struct PypiDigests {
    sha256: String,
}

/// The source distribution of `apache-flink-libraries==release`, verified, its `deps/lib/*.jar` unpacked into `lib`.
fn from_pypi(release: &str, origin: &Origin, lib: &Path, progress: &Progress) -> Result<(), BuildError> {
    let api = format!("{}/pypi/{PYPI_PROJECT}/{release}/json", origin.pypi_url.trim_end_matches('/'));
    let (mut reader, _) = fetch::open(&api)?
        .ok_or_else(|| BuildError::Fetch { url: api.clone(), message: format!("PyPI has no {PYPI_PROJECT} {release}") })?;
    let mut text = String::new();
    reader.read_to_string(&mut text).map_err(|e| BuildError::Fetch { url: api.clone(), message: e.to_string() })?;
    let answer: PypiRelease =
        serde_json::from_str(&text).map_err(|e| BuildError::Fetch { url: api.clone(), message: format!("not PyPI's JSON API: {e}") })?;
    let sdist = answer
        .urls
        .into_iter()
        .find(|f| f.packagetype == "sdist")
        .ok_or_else(|| BuildError::Fetch { url: api.clone(), message: format!("{PYPI_PROJECT} {release} has no source distribution") })?;
    let archive = origin.cache_dir.join("pypi").join(&sdist.filename);
    let fetched = fetch::verified(&sdist.url, &sdist.digests.sha256, &archive, progress)?;
    let unpacked = unpack_lib(&fetched.path, lib)?;
    if unpacked == 0 {
        return Err(BuildError::Fetch { url: sdist.url, message: "the source distribution has no deps/lib/*.jar".into() });
    }
    // The jars are what is kept; the archive (about 230 MB) is not needed again.
    let _ = std::fs::remove_file(&fetched.path);
    let _ = std::fs::remove_file(fetched.path.with_file_name(format!("{}.sha256", sdist.filename)));
    Ok(())
}

/// Unpacks every `*/deps/lib/*.jar` of a `.tar.gz` into `lib`; returns how many.
fn unpack_lib(archive: &Path, lib: &Path) -> Result<usize, BuildError> {
    let file = std::fs::File::open(archive).map_err(|e| BuildError::read(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut count = 0;
    for entry in tar.entries().map_err(|e| BuildError::read(archive, e))? {
        let mut entry = entry.map_err(|e| BuildError::read(archive, e))?;
        let path: PathBuf = entry.path().map_err(|e| BuildError::read(archive, e))?.into_owned();
        let in_lib = path.parent().is_some_and(|p| p.ends_with("deps/lib"));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if in_lib && name.ends_with(".jar") && !name.contains('/') {
            let out = lib.join(&name);
            entry.unpack(&out).map_err(|e| BuildError::write(&out, e))?;
            count += 1;
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;
    use std::io::Write;

    /// A small stand-in for the sdist: `apache-flink-libraries-R/deps/lib/` with a fake flink-dist jar.
    fn sdist(release: &str) -> Vec<u8> {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        for (name, body) in [
            (format!("apache-flink-libraries-{release}/deps/lib/flink-dist-{release}.jar"), b"dist".to_vec()),
            (format!("apache-flink-libraries-{release}/deps/lib/log4j-api-2.24.3.jar"), b"log".to_vec()),
            (format!("apache-flink-libraries-{release}/setup.py"), b"ignored".to_vec()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, body.as_slice()).unwrap();
        }
        tar.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn pypi_source_distribution_is_verified_unpacked_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let release = FlinkVersion::V2_2.release();
        let archive = dir.path().join("served.tar.gz");
        let bytes = sdist(release);
        std::fs::File::create(&archive).unwrap().write_all(&bytes).unwrap();
        let api = dir.path().join(format!("pypi/{PYPI_PROJECT}/{release}"));
        std::fs::create_dir_all(&api).unwrap();
        let answer = serde_json::json!({"urls": [
            {"packagetype": "bdist_wheel", "filename": "x.whl", "url": "file:///nope", "digests": {"sha256": "00"}},
            {"packagetype": "sdist", "filename": format!("{PYPI_PROJECT}-{release}.tar.gz"),
             "url": format!("file://{}", archive.display()), "digests": {"sha256": fetch::hex(&sha2::Sha256::digest(&bytes))}},
        ]});
        std::fs::write(api.join("json"), answer.to_string()).unwrap();
        let cache = dir.path().join("cache");
        let pypi_url = format!("file://{}", dir.path().display());
        let origin = Origin { source: JarSource::Pypi, maven_repo: "file:///nowhere", pypi_url: &pypi_url, cache_dir: &cache };

        let home = resolve(None, FlinkVersion::V2_2, &origin, &Progress::quiet()).unwrap();
        assert_eq!(home.version, release);
        let mut jars: Vec<String> =
            std::fs::read_dir(home.path.join("lib")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        jars.sort();
        assert_eq!(jars, [".complete".to_string(), format!("flink-dist-{release}.jar"), "log4j-api-2.24.3.jar".into()]);
        assert!(!cache.join("pypi").join(format!("{PYPI_PROJECT}-{release}.tar.gz")).exists(), "the archive is not kept");

        // Nothing is fetched again: the served files can go.
        std::fs::remove_file(&archive).unwrap();
        std::fs::remove_dir_all(dir.path().join("pypi")).unwrap();
        assert_eq!(resolve(None, FlinkVersion::V2_2, &origin, &Progress::quiet()).unwrap().path, home.path);
    }

    #[test]
    fn a_tampered_source_distribution_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let release = FlinkVersion::V1_20.release();
        let archive = dir.path().join("served.tar.gz");
        std::fs::write(&archive, sdist(release)).unwrap();
        let api = dir.path().join(format!("pypi/{PYPI_PROJECT}/{release}"));
        std::fs::create_dir_all(&api).unwrap();
        let answer = serde_json::json!({"urls": [{"packagetype": "sdist", "filename": "f.tar.gz",
            "url": format!("file://{}", archive.display()), "digests": {"sha256": "0".repeat(64)}}]});
        std::fs::write(api.join("json"), answer.to_string()).unwrap();
        let cache = dir.path().join("cache");
        let pypi_url = format!("file://{}", dir.path().display());
        let origin = Origin { source: JarSource::Pypi, maven_repo: "", pypi_url: &pypi_url, cache_dir: &cache };
        let err = resolve(None, FlinkVersion::V1_20, &origin, &Progress::quiet()).unwrap_err();
        assert!(matches!(err, BuildError::Checksum { .. }), "{err}");
    }

    #[test]
    fn a_flink_home_of_another_version_is_refused_with_both_fixes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/flink-dist-1.20.3.jar"), b"").unwrap();
        let origin = Origin { source: JarSource::Maven, maven_repo: "", pypi_url: "", cache_dir: dir.path() };
        let err = resolve(Some(dir.path()), FlinkVersion::V2_2, &origin, &Progress::quiet()).unwrap_err();
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(
            err.to_string().contains("1.20.3") && help.contains("--flink-version 1.20") && help.contains("FLINK_HOME"),
            "{err}: {help}"
        );
        assert_eq!(resolve(Some(dir.path()), FlinkVersion::V1_20, &origin, &Progress::quiet()).unwrap().version, "1.20.3");
    }
}
