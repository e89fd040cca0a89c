//! Records that will never become an alert, kept with their payload and the reason, so nothing is lost.
//!
//! A record is unalertable when it is not a verdict the alerter can read (not base64, JSON or UTF-8, an unknown
//! `schemaVersion` from a kernel newer than this alerter, not an anomaly) or when SNS refuses the message built
//! from it. Retrying would fail the same way and block the shard, so instead of being reported it is written to
//! S3: one object per record under `UNALERTABLE_PREFIX`, keyed by arrival date, shard and sequence number, holding
//! the reason and the Kinesis record exactly as Lambda delivered it (its data still base64). Writing the same
//! record twice (a retried batch) writes the same key. A record that cannot be kept is reported for retry
//! instead (see [`crate::handler`]).

use crate::config::Config;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::future::Future;

/// Somewhere unalertable records are kept: S3 in production, a recording fake in tests.
pub trait Keeper {
    /// Stores `body` (JSON) under `key`.
    fn keep(&self, key: &str, body: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

/// Keeps records in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Keeper {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Keeper {
    /// A keeper writing to the configured bucket.
    pub fn new(client: aws_sdk_s3::Client, config: &Config) -> S3Keeper {
        S3Keeper { client, bucket: config.unalertable_bucket.clone() }
    }
}

impl Keeper for S3Keeper {
    async fn keep(&self, key: &str, body: Vec<u8>) -> Result<(), String> {
        // The bucket's default encryption (SSE-KMS with the stack's key) applies; nothing to say here.
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write s3://{}/{key}: {}", self.bucket, DisplayErrorContext(&e)))
    }
}

/// The object key for `record`: `PREFIX/yyyy/mm/dd/SHARD/SEQUENCE.json`, by the record's arrival time (else `now`).
/// A record without a sequence number (malformed) is named by the SHA-256 of its JSON instead.
pub fn object_key(prefix: &str, record: &Value, now: DateTime<Utc>) -> String {
    let arrived = record
        .pointer("/kinesis/approximateArrivalTimestamp")
        .and_then(Value::as_f64)
        .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0) as i64))
        .unwrap_or(now);
    let shard = record
        .get("eventID")
        .and_then(Value::as_str)
        .and_then(|id| id.split_once(':'))
        .map(|(shard, _)| safe(shard))
        .unwrap_or_else(|| "unknown-shard".into());
    let name = match record.pointer("/kinesis/sequenceNumber").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(sequence) => safe(sequence),
        None => format!("no-sequence-{}", detector_wasm::verdict::sha256_hex(record.to_string().as_bytes())),
    };
    format!("{prefix}{}/{shard}/{name}.json", arrived.format("%Y/%m/%d"))
}

/// The object body: why the record was not alerted on, and the record as Lambda delivered it.
pub fn object_body(record: &Value, reason: &str, config: &Config, now: DateTime<Utc>) -> Vec<u8> {
    let body = json!({
        "reason": reason,
        "application": config.application,
        "keptAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "record": record,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Letters, digits, `-`, `_` and `.` as they are; anything else (a key part from a malformed record) as `_`.
fn safe(part: &str) -> String {
    let cleaned: String =
        part.chars().take(128).map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if cleaned.is_empty() || cleaned.starts_with('.') { format!("_{cleaned}") } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::record;

    fn config() -> Config {
        crate::config::tests::example()
    }

    #[test]
    fn keys_are_dated_by_arrival_and_named_by_shard_and_sequence_number() {
        let r = record("49590338271490256608559692538361571095921575989136588898", b"x");
        let key = object_key("unalertable/", &r, Utc::now());
        // The fixture record arrived at 1735734897.123 s: 2025-01-01.
        assert_eq!(key, "unalertable/2025/01/01/shardId-000000000000/49590338271490256608559692538361571095921575989136588898.json");
    }

    #[test]
    fn a_record_without_sequence_number_or_event_id_still_gets_a_stable_safe_key() {
        let mut r = record("1", b"x");
        r["kinesis"].as_object_mut().unwrap().remove("sequenceNumber");
        r["eventID"] = json!("../../etc:1");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let key = object_key("unalertable/", &r, now);
        assert_eq!(key, object_key("unalertable/", &r, now), "the same record, the same key");
        assert!(key.starts_with("unalertable/2025/01/01/_.._.._etc/no-sequence-"), "{key}");
        assert!(!key.contains("/../"), "{key}");
    }

    #[test]
    fn the_body_holds_the_reason_and_the_record_as_delivered() {
        let r = record("7", b"{\"schemaVersion\":99}");
        let body: Value = serde_json::from_slice(&object_body(&r, "unknown schemaVersion 99", &config(), Utc::now())).unwrap();
        assert_eq!(body["reason"], "unknown schemaVersion 99");
        assert_eq!(body["application"], "frauddet-prod");
        assert_eq!(body["record"], r, "the record itself, data still base64");
    }
}
