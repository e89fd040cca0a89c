//! What the commands that talk to AWS (`deploy`, `send`) share: one SDK configuration (the default chain, with
//! `--region` and `--endpoint-url` on top, checked for a region and credentials before the first call so those two
//! mistakes get their own error), the S3 client, [`backoff`], [`terraform`] outputs, and their [`error`]s.

pub mod backoff;
pub mod error;
pub mod terraform;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::ProvideCredentials;
use error::{AwsError, error_chain};

/// Loads the SDK configuration; `region` and `endpoint_url` override the environment and profile when given.
pub async fn load(region: Option<&str>, endpoint_url: Option<&str>) -> Result<SdkConfig, AwsError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(AwsError::NoRegion);
    }
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::NoCredentials("the SDK has no credentials provider".into()));
    };
    provider.provide_credentials().await.map_err(|e| AwsError::NoCredentials(error_chain(&e)))?;
    Ok(config)
}

/// An S3 client; path-style addressing when an endpoint is configured (moto and other stand-ins have no
/// per-bucket host names).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some()).build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// The partition of `region`, for ARNs the packager builds itself (the bucket ARN).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_and_govcloud_regions_have_their_own_partition() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
