//! One Kinesis record → the anomaly it carries, or the reason it can never become an alert.
//!
//! Everything refused here is permanent: retrying the record would refuse it again, so the handler logs and counts
//! it instead of reporting it as a batch item failure.

use aws_lambda_events::event::kinesis::KinesisEventRecord;
use detector_wasm::verdict::{Severity, Status, Trigger, VERDICT_SCHEMA_VERSIONS_READ, Verdict};
use serde::Deserialize;
use serde_json::Value;

/// A verdict that is an anomaly, with the fields an alert needs already checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Anomaly {
    /// The Kinesis sequence number: the batch item identifier Lambda retries by.
    pub sequence_number: String,
    pub verdict: Verdict,
    pub severity: Severity,
    pub trigger: Trigger,
}

/// A record that can never be published, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The Kinesis sequence number when the record has one.
    pub sequence_number: Option<String>,
    pub reason: String,
}

/// Decodes one record of the event's `Records` array.
///
/// Records are taken as raw JSON rather than through `KinesisEvent`, because a single record whose `data` is not
/// base64 would otherwise fail the whole event, and with it every good record in the batch.
pub fn decode(record: &Value) -> Result<Anomaly, Invalid> {
    let fallback_sequence = record.pointer("/kinesis/sequenceNumber").and_then(Value::as_str).filter(|s| !s.is_empty());
    let invalid = |sequence: Option<&str>, reason: String| Invalid { sequence_number: sequence.map(str::to_string), reason };
    let record = KinesisEventRecord::deserialize(record)
        .map_err(|e| invalid(fallback_sequence, format!("the Kinesis record is malformed (is `data` base64?): {e}")))?;
    let sequence_number = record.kinesis.sequence_number;
    if sequence_number.is_empty() {
        return Err(invalid(None, "the Kinesis record has no kinesis.sequenceNumber".into()));
    }
    match decode_data(&record.kinesis.data) {
        Ok((verdict, severity, trigger)) => Ok(Anomaly { sequence_number, verdict, severity, trigger }),
        Err(reason) => Err(invalid(Some(&sequence_number), reason)),
    }
}

/// Decodes a record's bytes: one JSON verdict line from the kernel.
pub fn decode_data(data: &[u8]) -> Result<(Verdict, Severity, Trigger), String> {
    let text =
        std::str::from_utf8(data).map_err(|e| format!("the record data is not UTF-8 (invalid byte at offset {})", e.valid_up_to()))?;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("the record data is not JSON: {e}"))?;
    // The version is checked before the shape, so a record from a newer kernel is reported as such and not as a
    // confusing missing-field error.
    let version = match value.get("schemaVersion") {
        Some(v) => v.as_u64().ok_or_else(|| format!("schemaVersion is {v}, not a number"))?,
        None => return Err("the record has no schemaVersion: it is not a verdict".into()),
    };
    if !VERDICT_SCHEMA_VERSIONS_READ.iter().any(|&known| u64::from(known) == version) {
        return Err(format!(
            "unknown schemaVersion {version}: this alerter reads verdict schemas {VERDICT_SCHEMA_VERSIONS_READ:?}; deploy an \
             alerter built with the kernel that wrote it, then send the kept record again"
        ));
    }
    let verdict: Verdict = serde_json::from_value(value).map_err(|e| format!("the record is not a verdict: {e}"))?;
    if verdict.status != Status::Anomaly {
        let status = serde_json::to_value(verdict.status).unwrap_or(Value::Null);
        return Err(format!("the verdict's status is {status}, not \"anomaly\": only anomalies belong on the anomalies stream"));
    }
    if verdict.anomaly_id.is_empty() {
        return Err("the anomaly has an empty anomalyId".into());
    }
    // The kernel sets both for every anomaly; without them an alert cannot be routed or counted by severity.
    let severity = verdict.severity.ok_or_else(|| format!("anomaly {} has no severity", verdict.anomaly_id))?;
    let trigger = verdict.trigger.ok_or_else(|| format!("anomaly {} has no trigger", verdict.anomaly_id))?;
    Ok((verdict, severity, trigger))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use detector_wasm::verdict::{AttributeValue, Baseline, DetectorInfo, VERDICT_SCHEMA_VERSION, Velocity, anomaly_id, base64};
    use serde_json::json;
    use std::collections::BTreeMap;

    /// A verdict as the kernel renders a value anomaly for `key`.
    pub(crate) fn verdict(key: &str, event_id: &str, severity: Severity) -> Verdict {
        Verdict {
            schema_version: VERDICT_SCHEMA_VERSION,
            anomaly_id: anomaly_id(key, event_id),
            status: Status::Anomaly,
            severity: Some(severity),
            trigger: Some(Trigger::Value),
            pattern: None,
            state_reset: None,
            key_field: "userId".into(),
            key: key.into(),
            event_id: event_id.into(),
            timestamp: Some(1_735_734_896_789),
            value_field: "amount".into(),
            value: 4999.0,
            score: Some(9.4),
            value_score: Some(9.4),
            expected_low: Some(3.1),
            expected_high: Some(182.0),
            baseline: Baseline { mean: 3.2, stddev: 0.9, count: 1200, scale: "log1p".into(), typical: 24.0 },
            velocity: None,
            detector: DetectorInfo {
                name: "zscore".into(),
                threshold_multiplier: 3.0,
                min_events: 20,
                direction: "high".into(),
                log_transform: true,
                anomaly_update: "clip".into(),
                half_life_events: None,
                velocity: true,
            },
            reason: format!("amount 4999.00 is 9.4σ above userId {key}'s baseline (expected 3.10–182.00 from 1200 events, typical 24.00)"),
            attributes: BTreeMap::from([
                ("merchantId".to_string(), AttributeValue::Str("m-981".into())),
                ("country".to_string(), AttributeValue::Str("DE".into())),
                ("cardPresent".to_string(), AttributeValue::Bool(false)),
            ]),
            label: None,
        }
    }

    /// A velocity part as the kernel fills it.
    pub(crate) fn burst() -> Velocity {
        Velocity { events_in_window: 12, expected_in_window: 0.2, window_secs: 60.0, usual_gap_secs: 300.0, score: 8.1 }
    }

    /// A Kinesis event record (as Lambda delivers it) carrying `data`.
    pub(crate) fn record(sequence: &str, data: &[u8]) -> Value {
        record_b64(sequence, &base64(data))
    }

    /// A Kinesis event record whose `data` field is given as is.
    pub(crate) fn record_b64(sequence: &str, data: &str) -> Value {
        json!({
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": format!("shardId-000000000000:{sequence}"),
            "eventName": "aws:kinesis:record",
            "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/anomalies",
            "invokeIdentityArn": "arn:aws:iam::123456789012:role/alerter",
            "kinesis": {
                "kinesisSchemaVersion": "1.0",
                "partitionKey": "user-1",
                "sequenceNumber": sequence,
                "data": data,
                "approximateArrivalTimestamp": 1735734897.123
            }
        })
    }

    /// The JSON line the kernel writes for `verdict`.
    pub(crate) fn line(verdict: &Verdict) -> Vec<u8> {
        let mut line = serde_json::to_vec(verdict).unwrap();
        line.push(b'\n');
        line
    }

    #[test]
    fn decodes_a_kernel_verdict_line() {
        let v = verdict("user-1", "txn-1", Severity::High);
        let anomaly = decode(&record("49590338271490256608559692538361571095921575989136588898", &line(&v))).unwrap();
        assert_eq!(anomaly.sequence_number, "49590338271490256608559692538361571095921575989136588898");
        assert_eq!(anomaly.verdict, v);
        assert_eq!((anomaly.severity, anomaly.trigger), (Severity::High, Trigger::Value));
    }

    fn reason(record: Value) -> Invalid {
        decode(&record).unwrap_err()
    }

    #[test]
    fn a_record_that_is_not_base64_is_invalid_but_keeps_its_sequence_number() {
        let err = reason(record_b64("7", "not base64!"));
        assert_eq!(err.sequence_number.as_deref(), Some("7"));
        assert!(err.reason.contains("malformed"), "{}", err.reason);
    }

    #[test]
    fn records_that_are_not_utf8_or_json_or_verdicts_are_invalid() {
        assert!(reason(record("1", &[0x7b, 0xff, 0xfe])).reason.contains("not UTF-8"));
        assert!(reason(record("2", b"user-1,4999.00")).reason.contains("not JSON"));
        assert!(reason(record("3", br#"{"userId":"u","amount":3}"#)).reason.contains("no schemaVersion"));
        assert!(reason(record("4", br#"{"schemaVersion":1,"status":"anomaly"}"#)).reason.contains("not a verdict"));
        assert!(reason(record("5", br#"{"schemaVersion":"1"}"#)).reason.contains("not a number"));
    }

    #[test]
    fn verdicts_of_the_previous_schema_still_decode() {
        // Schema 1 differs only in how the kernel derived anomalyId: a kernel not yet redeployed keeps alerting.
        let mut v = verdict("u", "e", Severity::High);
        v.schema_version = 1;
        let anomaly = decode(&record("8", &line(&v))).unwrap();
        assert_eq!(anomaly.verdict.schema_version, 1);
        assert_eq!(decode(&record("9", &line(&verdict("u", "e", Severity::High)))).unwrap().verdict.schema_version, 2);
    }

    #[test]
    fn an_unknown_schema_version_is_invalid_and_says_which() {
        let mut v = serde_json::to_value(verdict("u", "e", Severity::Low)).unwrap();
        v["schemaVersion"] = json!(VERDICT_SCHEMA_VERSION + 1);
        let err = reason(record("9", v.to_string().as_bytes()));
        assert_eq!(err.sequence_number.as_deref(), Some("9"));
        assert!(err.reason.starts_with(&format!("unknown schemaVersion {}", VERDICT_SCHEMA_VERSION + 1)), "{}", err.reason);
    }

    #[test]
    fn a_verdict_that_is_not_an_anomaly_is_invalid() {
        let mut v = verdict("u", "e", Severity::Low);
        v.status = Status::Normal;
        v.severity = None;
        v.trigger = None;
        let err = reason(record("3", &line(&v)));
        assert!(err.reason.contains("status is \"normal\""), "{}", err.reason);
    }

    #[test]
    fn an_anomaly_without_severity_is_invalid() {
        let mut v = verdict("u", "e", Severity::Low);
        v.severity = None;
        assert!(reason(record("3", &line(&v))).reason.contains("has no severity"));
    }

    #[test]
    fn a_record_without_a_sequence_number_is_invalid() {
        let mut r = record("1", &line(&verdict("u", "e", Severity::Low)));
        r["kinesis"].as_object_mut().unwrap().remove("sequenceNumber");
        assert_eq!(reason(r), Invalid { sequence_number: None, reason: "the Kinesis record has no kinesis.sequenceNumber".into() });
    }
}
