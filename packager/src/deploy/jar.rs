//! The jar to deploy: its bytes, their sha256 (the S3 key), and the build manifest that says whether it can run on
//! Managed Flink at all.

use super::error::DeployError;
use crate::artifact::MANIFEST_ENTRY as MANIFEST;
use crate::digest::{sha256_base64, sha256_hex};
use serde::Deserialize;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::artifact::LEGACY_RUNTIME;

/// The part of the build manifest deploy relies on; other fields are reported, not checked.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// Built with `--local`: no Kinesis connector inside.
    #[serde(default)]
    pub local: bool,
    /// The Managed Flink runtime the jar is built for; jars built before it was recorded are all FLINK-1_20.
    #[serde(default, rename = "flinkRuntime")]
    pub flink_runtime: Option<String>,
    /// Everything else the build recorded (kernel sha256, versions, git revision).
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A jar ready to upload.
#[derive(Debug, Clone)]
pub struct Jar {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Lowercase hex sha256 of `bytes`.
    pub sha256: String,
    /// The same sha256 in base64, as S3 reports its own checksum of an object.
    pub sha256_base64: String,
    pub manifest: Manifest,
}

impl Jar {
    /// Reads and checks `path`: it must exist, be a zip with the build manifest, and not be a `--local` build.
    pub fn read(path: &Path) -> Result<Jar, DeployError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DeployError::JarMissing { path: path.into() }),
            Err(e) => return Err(DeployError::BadJar { path: path.into(), message: e.to_string() }),
        };
        let bad = |message: String| DeployError::BadJar { path: path.into(), message };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).map_err(|e| bad(format!("not a zip archive ({e})")))?;
        let mut text = String::new();
        archive
            .by_name(MANIFEST)
            .map_err(|_| bad(format!("it has no {MANIFEST}")))?
            .read_to_string(&mut text)
            .map_err(|e| bad(format!("cannot read {MANIFEST}: {e}")))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| bad(format!("{MANIFEST} is not valid: {e}")))?;
        if manifest.local {
            return Err(DeployError::LocalJar { path: path.into() });
        }
        let (sha256, sha256_base64) = (sha256_hex(&bytes), sha256_base64(&bytes));
        Ok(Jar { path: path.into(), bytes, sha256, sha256_base64, manifest })
    }

    /// The Managed Flink runtime the jar is built for.
    pub fn runtime(&self) -> &str {
        self.manifest.flink_runtime.as_deref().unwrap_or(LEGACY_RUNTIME)
    }

    /// The content-addressed object key: the same bytes always land on the same key.
    pub fn key(&self, prefix: &str) -> String {
        format!("{prefix}anomaly-detector-{}.jar", self.sha256)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A jar with the given manifest text (or none), as `packager build` lays it out.
    pub(crate) fn write_jar(dir: &Path, manifest: Option<&str>) -> PathBuf {
        let path = dir.join("anomaly-detector.jar");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("META-INF/MANIFEST.MF", options).unwrap();
        zip.write_all(b"Manifest-Version: 1.0\r\nMain-Class: anomaly.job.AnomalyDetectionJob\r\n").unwrap();
        if let Some(m) = manifest {
            zip.start_file(MANIFEST, options).unwrap();
            zip.write_all(m.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    #[test]
    fn a_production_jar_is_read_and_keyed_by_its_sha256() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_jar(dir.path(), Some(r#"{"local": false, "abi_version": 1, "flinkRuntime": "FLINK-2_2"}"#));
        let jar = Jar::read(&path).unwrap();
        assert_eq!(jar.runtime(), "FLINK-2_2");
        let expected = sha256_hex(&std::fs::read(&path).unwrap());
        assert_eq!(jar.sha256, expected);
        assert_eq!(jar.key("flink/"), format!("flink/anomaly-detector-{expected}.jar"));
        assert_eq!(jar.manifest.other["abi_version"], 1);
    }

    #[test]
    fn a_jar_built_before_the_runtime_was_recorded_is_a_flink_1_20_jar() {
        let dir = tempfile::tempdir().unwrap();
        let jar = Jar::read(&write_jar(dir.path(), Some(r#"{"local": false}"#))).unwrap();
        assert_eq!(jar.runtime(), "FLINK-1_20");
    }

    #[test]
    fn a_local_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_jar(dir.path(), Some(r#"{"local": true}"#));
        let err = Jar::read(&path).unwrap_err();
        assert!(matches!(err, DeployError::LocalJar { .. }), "{err:?}");
        assert!(err.to_string().contains("--local"));
    }

    #[test]
    fn a_jar_without_manifest_or_file_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_jar(dir.path(), None);
        assert!(Jar::read(&path).unwrap_err().to_string().contains(MANIFEST));
        assert!(matches!(Jar::read(&dir.path().join("nope.jar")), Err(DeployError::JarMissing { .. })));
        std::fs::write(dir.path().join("text.jar"), "hello").unwrap();
        assert!(Jar::read(&dir.path().join("text.jar")).unwrap_err().to_string().contains("not a zip"));
    }
}
