//! The Kinesis connector (`flink-sql-connector-aws-kinesis-streams`, pinned for Flink 1.20): fetched from a Maven
//! repository, verified against the repository's own `.sha256` (or `.sha1`), and kept in a local cache so later
//! builds need no network. Managed Flink does not provide it, so it goes into the production jar.

use super::error::BuildError;
use crate::digest::{hex, sha256_hex};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Maven group, as a path.
pub const GROUP_PATH: &str = "org/apache/flink";
/// Maven artifact id.
pub const ARTIFACT: &str = "flink-sql-connector-aws-kinesis-streams";
/// The connector release for Flink 1.20.
pub const VERSION: &str = "5.1.0-1.20";
/// Maven Central.
pub const DEFAULT_REPO: &str = "https://repo1.maven.org/maven2";

/// A connector jar ready to merge.
#[derive(Debug, Clone)]
pub struct Connector {
    pub path: PathBuf,
    /// The URL it came from, or the path it was given as.
    pub origin: String,
    pub sha256: String,
    /// Whether it came from the cache (no network).
    pub cached: bool,
}

/// The artifact's path inside a Maven repository.
pub fn artifact_path() -> String {
    format!("{GROUP_PATH}/{ARTIFACT}/{VERSION}/{ARTIFACT}-{VERSION}.jar")
}

/// The connector from `repo`, through the cache under `cache_dir`.
pub fn fetch(repo: &str, cache_dir: &Path) -> Result<Connector, BuildError> {
    let url = format!("{}/{}", repo.trim_end_matches('/'), artifact_path());
    let cached = cache_dir.join("maven").join(artifact_path());
    let sidecar = cached.with_extension("jar.sha256");
    if let (Ok(expected), true) = (std::fs::read_to_string(&sidecar), cached.is_file()) {
        let actual = sha256_file(&cached)?;
        if actual == expected.trim() {
            return Ok(Connector { path: cached, origin: url, sha256: actual, cached: true });
        }
        tracing::warn!("cached {} does not match its recorded sha256; fetching it again", cached.display());
    }

    let (algorithm, expected) = published_checksum(&url)?;
    let dir = cached.parent().unwrap_or(cache_dir);
    std::fs::create_dir_all(dir).map_err(|e| BuildError::write(dir, e))?;
    // Download next to the final name, then rename: an interrupted build never leaves a half jar in the cache.
    let partial = cached.with_extension("jar.part");
    let mut reader = open(&url)?.ok_or_else(|| BuildError::Fetch { url: url.clone(), message: "not found (404)".into() })?;
    let mut file = std::fs::File::create(&partial).map_err(|e| BuildError::write(&partial, e))?;
    std::io::copy(&mut reader, &mut file).map_err(|e| BuildError::Fetch { url: url.clone(), message: e.to_string() })?;
    drop(file);
    let bytes = std::fs::read(&partial).map_err(|e| BuildError::read(&partial, e))?;
    let actual = match algorithm {
        "sha256" => sha256_hex(&bytes),
        _ => sha1_hex(&bytes),
    };
    if actual != expected {
        let _ = std::fs::remove_file(&partial);
        return Err(BuildError::Checksum { url, algorithm, expected, actual });
    }
    std::fs::rename(&partial, &cached).map_err(|e| BuildError::write(&cached, e))?;
    let sha256 = sha256_hex(&bytes);
    std::fs::write(&sidecar, &sha256).map_err(|e| BuildError::write(&sidecar, e))?;
    Ok(Connector { path: cached, origin: url, sha256, cached: false })
}

/// A connector jar given by path (`--kinesis-connector`).
pub fn from_path(path: &Path) -> Result<Connector, BuildError> {
    let sha256 = sha256_file(path)?;
    Ok(Connector { path: path.to_path_buf(), origin: path.display().to_string(), sha256, cached: false })
}

/// The repository's checksum for `url`: `.sha256` when published, else `.sha1` (Maven Central always has that).
fn published_checksum(url: &str) -> Result<(&'static str, String), BuildError> {
    for algorithm in ["sha256", "sha1"] {
        let checksum_url = format!("{url}.{algorithm}");
        if let Some(mut reader) = open(&checksum_url)? {
            let mut text = String::new();
            reader.read_to_string(&mut text).map_err(|e| BuildError::Fetch { url: checksum_url.clone(), message: e.to_string() })?;
            // Either the bare hex digest or `digest  file-name`.
            let digest = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
            let want = if algorithm == "sha256" { 64 } else { 40 };
            if digest.len() != want || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(BuildError::Fetch { url: checksum_url, message: format!("not a {algorithm} checksum: {text:?}") });
            }
            return Ok((algorithm, digest));
        }
    }
    Err(BuildError::Fetch {
        url: url.to_string(),
        message: "the repository publishes neither a .sha256 nor a .sha1 for it, so it cannot be verified".into(),
    })
}

/// Opens `url` (http, https or file); `None` when it does not exist.
fn open(url: &str) -> Result<Option<Box<dyn Read + Send>>, BuildError> {
    if let Some(path) = url.strip_prefix("file://") {
        return match std::fs::File::open(path) {
            Ok(f) => Ok(Some(Box::new(f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(BuildError::Fetch { url: url.to_string(), message: e.to_string() }),
        };
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into();
    match agent.get(url).call() {
        Ok(response) => Ok(Some(Box::new(response.into_body().into_reader()))),
        Err(ureq::Error::StatusCode(404)) => Ok(None),
        Err(e) => Err(BuildError::Fetch { url: url.to_string(), message: e.to_string() }),
    }
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, BuildError> {
    let bytes = std::fs::read(path).map_err(|e| BuildError::read(path, e))?;
    Ok(sha256_hex(&bytes))
}

/// SHA-1, only to check what Maven repositories publish (Maven Central always has `.sha1`, rarely `.sha256`).
fn sha1_hex(data: &[u8]) -> String {
    use sha1::Digest as _;
    hex(&sha1::Sha1::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_artifact_path_follows_the_maven_layout() {
        assert_eq!(
            artifact_path(),
            "org/apache/flink/flink-sql-connector-aws-kinesis-streams/5.1.0-1.20/flink-sql-connector-aws-kinesis-streams-5.1.0-1.20.jar"
        );
    }
}
