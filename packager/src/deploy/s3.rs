//! The jar in S3: the bucket must exist; an object already at the content-addressed key is reused only when S3's own
//! SHA-256 checksum of it is the jar's. Uploads carry that checksum (S3 refuses bytes that do not match it), and the
//! object version they create is what the application is pinned to.

use super::error::DeployError;
use super::jar::Jar;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode};

/// Fails with a clear error when the bucket is missing or out of reach.
pub async fn check_bucket(client: &Client, bucket: &str) -> Result<(), DeployError> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            if e.as_service_error().is_some_and(|s| s.is_not_found()) || status == Some(404) {
                Err(DeployError::BucketMissing { bucket: bucket.into() })
            } else if status == Some(403) {
                Err(DeployError::BucketAccess { bucket: bucket.into(), message: "403 Forbidden".into() })
            } else {
                Err(DeployError::aws(format!("HeadBucket `{bucket}`"), &e))
            }
        }
    }
}

/// An object that holds the jar's bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Its version, in a versioned bucket (`None` in a bucket without versioning: nothing to pin).
    pub version: Option<String>,
}

/// S3's answer for a version id in a bucket that never had versioning.
const NO_VERSION: &str = "null";

fn version(id: Option<&str>) -> Option<String> {
    id.filter(|v| *v != NO_VERSION).map(str::to_string)
}

/// What S3 says about `key` (its current version, or `version`): `Some` when S3's own SHA-256 of the object is the
/// jar's. An object without an S3 checksum (uploaded before deploy sent one) or with another one does not hold it.
pub async fn holds(client: &Client, bucket: &str, key: &str, version_id: Option<&str>, jar: &Jar) -> Result<Option<Stored>, DeployError> {
    let head =
        client.head_object().bucket(bucket).key(key).set_version_id(version_id.map(str::to_string)).checksum_mode(ChecksumMode::Enabled);
    match head.send().await {
        Ok(head) => {
            let same = head.content_length() == Some(jar.bytes.len() as i64) && head.checksum_sha256() == Some(jar.sha256_base64.as_str());
            Ok(same.then(|| Stored { version: version(head.version_id()) }))
        }
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_not_found()) || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Ok(None)
        }
        Err(e) => Err(DeployError::aws(format!("HeadObject s3://{bucket}/{key}"), &e)),
    }
}

/// Uploads the jar to `key` with its SHA-256 (S3 rejects the upload when the bytes it got do not match), then reads
/// the checksum S3 stored for the version it created back: the object the application is pinned to is verified.
pub async fn upload(client: &Client, bucket: &str, key: &str, jar: &Jar) -> Result<Stored, DeployError> {
    let put = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/java-archive")
        .metadata("sha256", &jar.sha256)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(&jar.sha256_base64)
        .body(ByteStream::from(jar.bytes.clone()))
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("PutObject s3://{bucket}/{key}"), &e))?;
    let version = version(put.version_id());
    match holds(client, bucket, key, version.as_deref(), jar).await? {
        Some(stored) => Ok(stored),
        None => Err(DeployError::UploadUnverified {
            uri: format!("s3://{bucket}/{key}"),
            version: version.unwrap_or_else(|| "(unversioned)".into()),
        }),
    }
}
