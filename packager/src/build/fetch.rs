//! Downloads the build needs (the Kinesis connector, Flink's API jars): from a Maven repository, checked against the
//! repository's own `.sha256` (else `.sha1`), or from a URL with a known sha256 (PyPI publishes one per file); kept
//! in a local cache so later builds need no network. Long downloads show a progress bar on a terminal.

use super::error::BuildError;
use super::report::Progress;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Maven Central.
pub const DEFAULT_MAVEN_REPO: &str = "https://repo1.maven.org/maven2";

/// One artifact of a Maven repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenArtifact {
    /// The group as a path: `org/apache/flink`.
    pub group_path: String,
    pub artifact: String,
    pub version: String,
}

impl MavenArtifact {
    /// `group:artifact:version`, the group dotted.
    pub fn new(group: &str, artifact: &str, version: &str) -> MavenArtifact {
        MavenArtifact { group_path: group.replace('.', "/"), artifact: artifact.into(), version: version.into() }
    }

    /// The jar's path inside a repository (and inside the cache).
    pub fn path(&self) -> String {
        format!("{}/{}/{}/{}-{}.jar", self.group_path, self.artifact, self.version, self.artifact, self.version)
    }

    /// The jar's file name.
    pub fn file_name(&self) -> String {
        format!("{}-{}.jar", self.artifact, self.version)
    }
}

/// A file in the cache, ready to use.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub path: PathBuf,
    /// The URL it came from.
    pub origin: String,
    pub sha256: String,
    /// Whether it came from the cache (no network).
    pub cached: bool,
}

/// The artifact from `repo`, through the cache under `cache_dir/maven`: verified against the repository's checksum
/// when downloaded, against the sha256 recorded next to it when taken from the cache.
pub fn maven(artifact: &MavenArtifact, repo: &str, cache_dir: &Path, progress: &Progress) -> Result<Fetched, BuildError> {
    let url = format!("{}/{}", repo.trim_end_matches('/'), artifact.path());
    let target = cache_dir.join("maven").join(artifact.path());
    if let Some(hit) = cached(&target, &url)? {
        return Ok(hit);
    }
    let expected = published_checksum(&url)?;
    download(&url, &target, &expected, progress)
}

/// The file at `url` (whose sha256 is `sha256`) through the cache at `target`.
pub fn verified(url: &str, sha256: &str, target: &Path, progress: &Progress) -> Result<Fetched, BuildError> {
    if let Some(hit) = cached(target, url)? {
        return Ok(hit);
    }
    download(url, target, &Checksum { algorithm: "sha256", hex: sha256.to_ascii_lowercase() }, progress)
}

/// A checksum published for a download.
#[derive(Debug, Clone)]
pub struct Checksum {
    pub algorithm: &'static str,
    pub hex: String,
}

/// `target` when it is in the cache and still matches the sha256 recorded when it was fetched.
fn cached(target: &Path, url: &str) -> Result<Option<Fetched>, BuildError> {
    let sidecar = sidecar(target);
    if let (Ok(expected), true) = (std::fs::read_to_string(&sidecar), target.is_file()) {
        let actual = sha256_file(target)?;
        if actual == expected.trim() {
            return Ok(Some(Fetched { path: target.to_path_buf(), origin: url.to_string(), sha256: actual, cached: true }));
        }
        tracing::warn!("cached {} does not match its recorded sha256; fetching it again", target.display());
    }
    Ok(None)
}

fn sidecar(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    target.with_file_name(name)
}

/// Downloads `url` next to `target`, checks it against `expected`, then renames it into place: an interrupted build
/// never leaves a half file in the cache, and a file that fails the check is not kept.
fn download(url: &str, target: &Path, expected: &Checksum, progress: &Progress) -> Result<Fetched, BuildError> {
    let dir = target.parent().ok_or_else(|| BuildError::write(target, "no parent directory"))?;
    std::fs::create_dir_all(dir).map_err(|e| BuildError::write(dir, e))?;
    let mut partial_name = target.file_name().unwrap_or_default().to_os_string();
    partial_name.push(".part");
    let partial = target.with_file_name(partial_name);
    let (mut reader, length) = open(url)?.ok_or_else(|| BuildError::Fetch { url: url.into(), message: "not found (404)".into() })?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let bar = progress.bytes(&name, length);
    let mut file = std::fs::File::create(&partial).map_err(|e| BuildError::write(&partial, e))?;
    let (mut sha256, mut sha1) = (Sha256::new(), <sha1::Sha1 as sha1::Digest>::new());
    let mut buffer = vec![0u8; 256 << 10];
    loop {
        let n = reader.read(&mut buffer).map_err(|e| BuildError::Fetch { url: url.into(), message: e.to_string() })?;
        if n == 0 {
            break;
        }
        sha256.update(&buffer[..n]);
        sha1::Digest::update(&mut sha1, &buffer[..n]);
        file.write_all(&buffer[..n]).map_err(|e| BuildError::write(&partial, e))?;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    drop(file);
    let sha256 = hex(&sha256.finalize());
    let actual = if expected.algorithm == "sha256" { sha256.clone() } else { hex(&sha1::Digest::finalize(sha1)) };
    if actual != expected.hex {
        let _ = std::fs::remove_file(&partial);
        return Err(BuildError::Checksum { url: url.into(), algorithm: expected.algorithm, expected: expected.hex.clone(), actual });
    }
    std::fs::rename(&partial, target).map_err(|e| BuildError::write(target, e))?;
    let sidecar = sidecar(target);
    std::fs::write(&sidecar, &sha256).map_err(|e| BuildError::write(&sidecar, e))?;
    progress.line(&format!("  fetched {url}\n     into {} (sha256 {sha256})", target.display()));
    Ok(Fetched { path: target.to_path_buf(), origin: url.into(), sha256, cached: false })
}

/// The repository's checksum for `url`: `.sha256` when published, else `.sha1` (Maven Central always has that).
pub fn published_checksum(url: &str) -> Result<Checksum, BuildError> {
    for algorithm in ["sha256", "sha1"] {
        let checksum_url = format!("{url}.{algorithm}");
        if let Some((mut reader, _)) = open(&checksum_url)? {
            let mut text = String::new();
            reader.read_to_string(&mut text).map_err(|e| BuildError::Fetch { url: checksum_url.clone(), message: e.to_string() })?;
            // Either the bare hex digest or `digest  file-name`.
            let digest = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
            let want = if algorithm == "sha256" { 64 } else { 40 };
            if digest.len() != want || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(BuildError::Fetch { url: checksum_url, message: format!("not a {algorithm} checksum: {text:?}") });
            }
            return Ok(Checksum { algorithm, hex: digest });
        }
    }
    Err(BuildError::Fetch {
        url: url.to_string(),
        message: "the repository publishes neither a .sha256 nor a .sha1 for it, so it cannot be verified".into(),
    })
}

/// A stream of the body and its length when the server says.
pub type Body = (Box<dyn Read + Send>, Option<u64>);

/// Opens `url` (http, https or file); `None` when it does not exist.
pub fn open(url: &str) -> Result<Option<Body>, BuildError> {
    if let Some(path) = url.strip_prefix("file://") {
        return match std::fs::File::open(path) {
            Ok(f) => {
                let length = f.metadata().ok().map(|m| m.len());
                Ok(Some((Box::new(f), length)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BuildError::Fetch { url: url.to_string(), message: e.to_string() }),
        };
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(1800)))
        .build()
        .into();
    match agent.get(url).call() {
        Ok(response) => {
            let length = response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
            Ok(Some((Box::new(response.into_body().into_with_config().limit(u64::MAX).reader()), length)))
        }
        Err(ureq::Error::StatusCode(404)) => Ok(None),
        Err(e) => Err(BuildError::Fetch { url: url.to_string(), message: e.to_string() }),
    }
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, BuildError> {
    let mut file = std::fs::File::open(path).map_err(|e| BuildError::read(path, e))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|e| BuildError::read(path, e))?;
    Ok(hex(&hasher.finalize()))
}

pub use crate::digest::hex;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maven_paths_follow_the_repository_layout() {
        let a = MavenArtifact::new("org.apache.flink", "flink-dist", "2.2.0");
        assert_eq!(a.path(), "org/apache/flink/flink-dist/2.2.0/flink-dist-2.2.0.jar");
        assert_eq!(a.file_name(), "flink-dist-2.2.0.jar");
    }

    #[test]
    fn a_file_url_is_fetched_verified_and_then_served_from_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("x.jar");
        std::fs::write(&source, b"jar bytes").unwrap();
        let sha = hex(&Sha256::digest(b"jar bytes"));
        let url = format!("file://{}", source.display());
        let target = dir.path().join("cache/x.jar");
        let progress = Progress::quiet();
        let first = verified(&url, &sha, &target, &progress).unwrap();
        assert!(!first.cached && first.sha256 == sha);
        std::fs::remove_file(&source).unwrap();
        assert!(verified(&url, &sha, &target, &progress).unwrap().cached, "the second fetch needs no source");
        let err = verified(&format!("file://{}/y.jar", dir.path().display()), &"0".repeat(64), &dir.path().join("c/y.jar"), &progress);
        assert!(err.unwrap_err().to_string().contains("404"));
    }

    #[test]
    fn a_wrong_checksum_leaves_nothing_in_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("x.jar");
        std::fs::write(&source, b"tampered").unwrap();
        let target = dir.path().join("cache/x.jar");
        let err = verified(&format!("file://{}", source.display()), &"0".repeat(64), &target, &Progress::quiet()).unwrap_err();
        assert!(matches!(err, BuildError::Checksum { .. }), "{err}");
        assert!(!target.exists() && !target.with_file_name("x.jar.part").exists());
    }
}
