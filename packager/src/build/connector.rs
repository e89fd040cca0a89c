//! The Kinesis connector (`flink-sql-connector-aws-kinesis-streams`, the release for the Flink version built for:
//! 6.0.0-2.0 for 2.2, 5.1.0-1.20 for 1.20): fetched from a Maven repository, verified against the repository's own
//! `.sha256` (or `.sha1`), and kept in a local cache so later builds need no network. Managed Flink does not provide
//! it, so it goes into the production jar.

use super::error::BuildError;
use super::fetch::{self, MavenArtifact};
use super::report::Progress;
use crate::flink_version::FlinkVersion;
use std::path::{Path, PathBuf};

pub use super::fetch::{DEFAULT_MAVEN_REPO as DEFAULT_REPO, hex, sha256_file};

/// Maven group.
pub const GROUP: &str = "org.apache.flink";
/// Maven artifact id.
pub const ARTIFACT: &str = "flink-sql-connector-aws-kinesis-streams";

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

/// The connector release for `version`.
pub fn artifact(version: FlinkVersion) -> MavenArtifact {
    MavenArtifact::new(GROUP, ARTIFACT, version.kinesis_connector())
}

/// The artifact's path inside a Maven repository.
pub fn artifact_path(version: FlinkVersion) -> String {
    artifact(version).path()
}

/// The connector for `version` from `repo`, through the cache under `cache_dir`.
pub fn fetch(version: FlinkVersion, repo: &str, cache_dir: &Path, progress: &Progress) -> Result<Connector, BuildError> {
    let f = fetch::maven(&artifact(version), repo, cache_dir, progress)?;
    Ok(Connector { path: f.path, origin: f.origin, sha256: f.sha256, cached: f.cached })
}

/// A connector jar given by path (`--kinesis-connector`).
pub fn from_path(path: &Path) -> Result<Connector, BuildError> {
    let sha256 = sha256_file(path)?;
    Ok(Connector { path: path.to_path_buf(), origin: path.display().to_string(), sha256, cached: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flink_version_has_its_connector_release() {
        assert_eq!(
            artifact_path(FlinkVersion::V2_2),
            "org/apache/flink/flink-sql-connector-aws-kinesis-streams/6.0.0-2.0/flink-sql-connector-aws-kinesis-streams-6.0.0-2.0.jar"
        );
        assert_eq!(
            artifact_path(FlinkVersion::V1_20),
            "org/apache/flink/flink-sql-connector-aws-kinesis-streams/5.1.0-1.20/flink-sql-connector-aws-kinesis-streams-5.1.0-1.20.jar"
        );
    }
}
