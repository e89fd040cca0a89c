//! Entry point: logging, configuration, the SNS and S3 clients, then the runtime loop in [`alerter::run`].

use alerter::config::Config;
use alerter::keep::S3Keeper;
use alerter::publish::SnsPublisher;
use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use lambda_runtime::tracing;
use std::time::Duration;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Diagnostics go to stderr so stdout carries only EMF documents; JSON when the function's log format is JSON.
    tracing::init_default_subscriber_with_writer(std::io::stderr);
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            // Logged once, readably; returning the error would print its Debug form after it. Lambda reports the exit
            // as Runtime.ExitError and the records stay on the stream.
            tracing::error!("{e}");
            std::process::exit(1);
        }
    };
    // A hung connection must not eat the invocation: the handler stops publishing before the deadline, and these
    // bounds make each SNS call give up early enough to be retried by the SDK within that time.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(15))
        .build();
    let sdk = aws_config::defaults(BehaviorVersion::latest()).timeout_config(timeouts).load().await;
    let publisher = SnsPublisher::new(aws_sdk_sns::Client::new(&sdk), &config);
    // An endpoint override (a local stand-in) serves buckets by path, not by host name.
    let s3 = aws_sdk_s3::config::Builder::from(&sdk).force_path_style(sdk.endpoint_url().is_some()).build();
    let keeper = S3Keeper::new(aws_sdk_s3::Client::from_conf(s3), &config);
    tracing::info!(topic = config.topic_arn, application = config.application, kept_in = config.unalertable_bucket, "alerter ready");
    alerter::run(config, publisher, keeper).await
}
