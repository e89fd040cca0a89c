//! The jar in S3: the bucket must exist, an object already at the content-addressed key is reused.

use super::error::DeployError;
use super::jar::Jar;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

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

/// Whether `key` already holds exactly these bytes (same size and, when recorded, the same sha256).
pub async fn holds(client: &Client, bucket: &str, key: &str, jar: &Jar) -> Result<bool, DeployError> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(head) => {
            let same_size = head.content_length() == Some(jar.bytes.len() as i64);
            let same_hash = head.metadata().and_then(|m| m.get("sha256")).is_none_or(|h| *h == jar.sha256);
            Ok(same_size && same_hash)
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
        Err(e) => Err(DeployError::aws(format!("HeadObject s3://{bucket}/{key}"), &e)),
    }
}

/// Uploads the jar to `key`, recording its sha256 as object metadata.
pub async fn upload(client: &Client, bucket: &str, key: &str, jar: &Jar) -> Result<(), DeployError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/java-archive")
        .metadata("sha256", &jar.sha256)
        .body(ByteStream::from(jar.bytes.clone()))
        .send()
        .await
        .map_err(|e| DeployError::aws(format!("PutObject s3://{bucket}/{key}"), &e))?;
    Ok(())
}
