//! Publishing an [`Alert`], and which failures are worth a retry.
//!
//! A failure is permanent only when SNS refuses the message itself (`InvalidParameter`, `InvalidParameterValue`):
//! sending it again would be refused again. Everything else is transient: throttling, SNS or KMS errors, timeouts,
//! and also configuration faults such as a deleted topic or a denied KMS key. Those clear once the configuration is
//! fixed, so the record goes back to the stream and, after the event source mapping's bounded retries, to its
//! on-failure destination, instead of being dropped.

use crate::config::Config;
use crate::render::Alert;
use aws_sdk_sns::error::{DisplayErrorContext, SdkError};
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;
use std::future::Future;

/// Why an alert was not published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishFailure {
    /// Worth retrying: the record is reported as a batch item failure.
    Transient(String),
    /// Retrying would fail the same way: the record is logged and counted as invalid.
    Permanent(String),
}

/// Something alerts can be published to: SNS in production, a scripted fake in tests.
pub trait Publisher {
    /// Publishes `alert`, returning the message id.
    fn publish(&self, alert: &Alert) -> impl Future<Output = Result<String, PublishFailure>> + Send;
}

/// Publishes alerts to one SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
}

impl SnsPublisher {
    /// A publisher to the configured topic.
    pub fn new(client: aws_sdk_sns::Client, config: &Config) -> SnsPublisher {
        SnsPublisher { client, topic_arn: config.topic_arn.clone(), fifo: config.is_fifo_topic() }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishFailure> {
        let mut request = self.client.publish().topic_arn(&self.topic_arn).subject(&alert.subject).message(&alert.message);
        for (name, value) in &alert.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PublishFailure::Transient(format!("cannot build message attribute {name}: {e}")))?;
            request = request.message_attributes(*name, attribute);
        }
        if self.fifo {
            // Only FIFO topics take a deduplication id (standard topics refuse it; the handler dedupes per batch).
            // The group is the anomaly id too: alerts need no ordering, and a key may not be a valid group id.
            request = request.message_group_id(&alert.anomaly_id).message_deduplication_id(&alert.anomaly_id);
        }
        match request.send().await {
            Ok(output) => Ok(output.message_id().unwrap_or_default().to_string()),
            Err(err) => Err(classify(&err)),
        }
    }
}

/// Sorts an SDK error into transient or permanent (see the module docs).
pub fn classify(err: &SdkError<PublishError>) -> PublishFailure {
    let text = DisplayErrorContext(err).to_string();
    match err.as_service_error() {
        Some(PublishError::InvalidParameterException(_) | PublishError::InvalidParameterValueException(_)) => {
            PublishFailure::Permanent(text)
        }
        _ => PublishFailure::Transient(text),
    }
}
