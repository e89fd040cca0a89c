//! One invocation: decode every record, publish each distinct anomaly once, keep every record that can never become
//! an alert, and report exactly the records that may succeed on a retry.
//!
//! Lambda checkpoints a Kinesis shard before the lowest reported sequence number and retries from there, so
//! reporting a record that can never succeed would block its shard until the retries run out. Records that can
//! never succeed are therefore logged at error level, counted in `InvalidAnomalyRecords` and kept with their
//! payload and the reason ([`crate::keep`]); only one that cannot be kept either is reported, so it is retried
//! rather than lost.

use crate::config::Config;
use crate::decode::{self, Anomaly};
use crate::keep::{self, Keeper};
use crate::metrics::BatchMetrics;
use crate::publish::{PublishFailure, Publisher};
use crate::render::{self, Alert};
use aws_lambda_events::event::streams::KinesisEventResponse;
use futures_util::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use lambda_runtime::tracing::{debug, error, info, warn};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Publishes in flight at once: a full batch in a few round trips, far below SNS's publish quota.
pub const PUBLISH_CONCURRENCY: usize = 8;
/// Time kept back from the invocation deadline to report failures and write metrics before Lambda stops us.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The Kinesis event with its records kept raw, so one malformed record cannot fail the rest (see [`decode::decode`]).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KinesisBatch {
    /// The event's `Records`, each decoded on its own.
    #[serde(rename = "Records", default)]
    pub records: Vec<Value>,
}

/// What one batch came to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Sequence numbers to report as batch item failures, in batch order.
    pub failed: Vec<String>,
    /// The counts for this invocation's EMF documents.
    pub metrics: BatchMetrics,
    /// Unalertable records that could not be kept and cannot be reported (no sequence number): the invocation fails.
    pub unkept_without_sequence_number: usize,
}

/// The Lambda handler: processes the batch, writes its metrics to stdout, and returns the batch item failures.
pub async fn handle<P: Publisher, K: Keeper>(
    event: LambdaEvent<KinesisBatch>,
    config: &Config,
    publisher: &P,
    keeper: &K,
) -> Result<KinesisEventResponse, lambda_runtime::Error> {
    let (batch, context) = event.into_parts();
    let outcome = process(&batch.records, config, publisher, keeper, time_left(context.deadline(), SystemTime::now())).await;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    write_metrics(&outcome.metrics.emf_lines(&config.application, now_ms));
    info!(
        records = batch.records.len(),
        anomalies_published = outcome.metrics.anomalies_published(),
        invalid_records = outcome.metrics.invalid_records(),
        failed_records = outcome.failed.len(),
        "batch done"
    );
    if outcome.unkept_without_sequence_number > 0 {
        // It cannot be reported by itself, and dropping it would lose it: fail the invocation, so Lambda retries
        // the batch (bisecting it) and finally parks it, records included, in the on-failure destination.
        return Err(format!(
            "{} unalertable record(s) without a sequence number could not be kept; failing the batch so it is retried",
            outcome.unkept_without_sequence_number
        )
        .into());
    }
    let mut response = KinesisEventResponse::default();
    response.set_failures(outcome.failed);
    Ok(response)
}

/// A record that will not become an alert, and why.
struct Unalertable<'a> {
    record: &'a Value,
    sequence_number: Option<String>,
    reason: String,
}

/// Decodes, dedupes and publishes `records`, and keeps the unalertable ones; `time_left` is how long the invocation
/// may still run, if known.
pub async fn process<P: Publisher, K: Keeper>(
    records: &[Value],
    config: &Config,
    publisher: &P,
    keeper: &K,
    time_left: Option<Duration>,
) -> BatchOutcome {
    let mut metrics = BatchMetrics::default();
    // Distinct anomalies in first-seen order, and every decoded record (in batch order) with its anomaly's index.
    let mut anomalies: Vec<Anomaly> = Vec::new();
    let mut records_of: Vec<Vec<(String, &Value)>> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut decoded: Vec<(String, usize)> = Vec::new();
    let mut unalertable: Vec<Unalertable> = Vec::new();
    for record in records {
        match decode::decode(record) {
            Ok(anomaly) => {
                let sequence_number = anomaly.sequence_number.clone();
                let index = match by_id.get(&anomaly.verdict.anomaly_id) {
                    Some(&index) => {
                        debug!(sequence_number, anomaly_id = anomaly.verdict.anomaly_id, "duplicate anomaly in batch, published once");
                        index
                    }
                    None => {
                        by_id.insert(anomaly.verdict.anomaly_id.clone(), anomalies.len());
                        anomalies.push(anomaly);
                        records_of.push(Vec::new());
                        anomalies.len() - 1
                    }
                };
                records_of[index].push((sequence_number.clone(), record));
                decoded.push((sequence_number, index));
            }
            Err(invalid) => {
                error!(
                    sequence_number = invalid.sequence_number.as_deref().unwrap_or("(none)"),
                    reason = invalid.reason,
                    "a record that can never be alerted on; keeping it"
                );
                metrics.invalid();
                unalertable.push(Unalertable { record, sequence_number: invalid.sequence_number, reason: invalid.reason });
            }
        }
    }

    let deadline = time_left.map(|t| tokio::time::Instant::now() + t.saturating_sub(DEADLINE_MARGIN));
    let results: Vec<(usize, Result<String, PublishFailure>)> = stream::iter(anomalies.iter().enumerate())
        .map(|(index, anomaly)| async move { (index, publish_before(publisher, &render::render(anomaly, config), deadline).await) })
        .buffer_unordered(PUBLISH_CONCURRENCY)
        .collect()
        .await;

    let mut retry = vec![false; anomalies.len()];
    for (index, result) in results {
        let (anomaly, sequence_numbers) = (&anomalies[index], &records_of[index]);
        let anomaly_id = anomaly.verdict.anomaly_id.as_str();
        match result {
            Ok(message_id) => {
                info!(anomaly_id, severity = anomaly.severity.as_str(), message_id, records = sequence_numbers.len(), "alert published");
                metrics.published(anomaly.severity);
            }
            Err(PublishFailure::Transient(e)) => {
                let sequence_numbers: Vec<&str> = sequence_numbers.iter().map(|(s, _)| s.as_str()).collect();
                warn!(anomaly_id, ?sequence_numbers, error = e, "publish failed; reporting the records for retry");
                retry[index] = true;
            }
            Err(PublishFailure::Permanent(e)) => {
                for (sequence_number, record) in sequence_numbers {
                    error!(sequence_number, anomaly_id, reason = e, "SNS refused the alert; keeping the record");
                    metrics.invalid();
                    unalertable.push(Unalertable {
                        record,
                        sequence_number: Some(sequence_number.clone()),
                        reason: format!("SNS refused the alert: {e}"),
                    });
                }
            }
        }
    }

    let now = chrono::Utc::now();
    let kept: Vec<(usize, Result<(), String>)> = stream::iter(unalertable.iter().enumerate())
        .map(|(index, u)| async move {
            let key = keep::object_key(&config.unalertable_prefix, u.record, now);
            let body = keep::object_body(u.record, &u.reason, config, now);
            (index, keep_before(keeper, &key, body, deadline).await)
        })
        .buffer_unordered(PUBLISH_CONCURRENCY)
        .collect()
        .await;
    let mut not_kept: Vec<&str> = Vec::new();
    let mut unkept_without_sequence_number = 0;
    for (index, result) in kept {
        let u = &unalertable[index];
        match (result, &u.sequence_number) {
            (Ok(()), _) => {}
            (Err(e), Some(sequence_number)) => {
                warn!(sequence_number, error = e, "cannot keep an unalertable record; reporting it for retry");
                not_kept.push(sequence_number);
            }
            (Err(e), None) => {
                error!(error = e, "cannot keep an unalertable record that has no sequence number");
                unkept_without_sequence_number += 1;
            }
        }
    }

    let failed = records
        .iter()
        .filter_map(|r| r.pointer("/kinesis/sequenceNumber").and_then(Value::as_str))
        .filter(|s| decoded.iter().any(|(sequence_number, index)| sequence_number == s && retry[*index]) || not_kept.contains(s))
        .map(str::to_string)
        .collect();
    BatchOutcome { failed, metrics, unkept_without_sequence_number }
}

/// Keeps one record, giving up at `deadline` like a publish does.
async fn keep_before<K: Keeper>(keeper: &K, key: &str, body: Vec<u8>, deadline: Option<tokio::time::Instant>) -> Result<(), String> {
    match deadline {
        None => keeper.keep(key, body).await,
        Some(deadline) => tokio::time::timeout_at(deadline, keeper.keep(key, body))
            .await
            .unwrap_or_else(|_| Err("the invocation's time ran out before S3 answered".into())),
    }
}

/// Publishes `alert`, giving up (transiently) at `deadline`: a batch that reports its failures in time is retried
/// from the first failure, while one that times out is retried whole, re-sending every alert already published.
async fn publish_before<P: Publisher>(
    publisher: &P,
    alert: &Alert,
    deadline: Option<tokio::time::Instant>,
) -> Result<String, PublishFailure> {
    match deadline {
        None => publisher.publish(alert).await,
        Some(deadline) => tokio::time::timeout_at(deadline, publisher.publish(alert))
            .await
            .unwrap_or_else(|_| Err(PublishFailure::Transient("the invocation's time ran out before SNS answered".into()))),
    }
}

/// How long the invocation may still run. `None` when the deadline has already passed at the start of the batch:
/// Lambda never does that, but local emulators do (`cargo lambda watch` sends 600000 ms after the epoch), and
/// failing every record for it would test nothing.
pub fn time_left(deadline: SystemTime, now: SystemTime) -> Option<Duration> {
    deadline.duration_since(now).ok().filter(|left| !left.is_zero())
}

fn write_metrics(lines: &[String]) {
    let mut stdout = std::io::stdout().lock();
    for line in lines {
        if let Err(e) = writeln!(stdout, "{line}") {
            warn!(error = %e, "cannot write an EMF document to stdout; this batch's metrics are lost");
        }
    }
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{line, record, record_b64, verdict};
    use detector_wasm::verdict::{Severity, Status};
    use std::collections::HashSet;
    use std::sync::Mutex;

    /// A publisher that fails the anomalies it is told to, and records every publish attempt.
    #[derive(Default)]
    struct Scripted {
        transient: HashSet<String>,
        permanent: HashSet<String>,
        slow: HashSet<String>,
        attempts: Mutex<Vec<String>>,
    }

    impl Publisher for Scripted {
        async fn publish(&self, alert: &Alert) -> Result<String, PublishFailure> {
            self.attempts.lock().unwrap().push(alert.anomaly_id.clone());
            if self.slow.contains(&alert.anomaly_id) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if self.transient.contains(&alert.anomaly_id) {
                Err(PublishFailure::Transient("Throttling: Rate exceeded".into()))
            } else if self.permanent.contains(&alert.anomaly_id) {
                Err(PublishFailure::Permanent("InvalidParameter: Message too long".into()))
            } else {
                Ok(format!("msg-{}", alert.anomaly_id))
            }
        }
    }

    /// A keeper that records what it keeps, and fails for the sequence numbers it is told to.
    #[derive(Default)]
    struct Shelf {
        failing: HashSet<String>,
        kept: Mutex<Vec<(String, Value)>>,
    }

    impl Keeper for Shelf {
        async fn keep(&self, key: &str, body: Vec<u8>) -> Result<(), String> {
            if self.failing.iter().any(|s| key.contains(s.as_str())) {
                return Err("S3: AccessDenied".into());
            }
            self.kept.lock().unwrap().push((key.to_string(), serde_json::from_slice(&body).unwrap()));
            Ok(())
        }
    }

    impl Shelf {
        fn kept_sequences(&self) -> Vec<String> {
            let mut kept: Vec<String> = self
                .kept
                .lock()
                .unwrap()
                .iter()
                .map(|(_, body)| body["record"]["kinesis"]["sequenceNumber"].as_str().unwrap_or("(none)").to_string())
                .collect();
            kept.sort();
            kept
        }
    }

    fn config() -> Config {
        crate::config::tests::example()
    }

    fn good(sequence: &str, key: &str, event_id: &str, severity: Severity) -> Value {
        record(sequence, &line(&verdict(key, event_id, severity)))
    }

    fn id(key: &str, event_id: &str) -> String {
        detector_wasm::verdict::anomaly_id(key, event_id)
    }

    fn published(metrics: &BatchMetrics) -> Vec<Value> {
        metrics.emf_lines("frauddet-prod", 0).iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    #[tokio::test]
    async fn a_clean_batch_publishes_everything_and_reports_nothing() {
        let publisher = Scripted::default();
        let records = [good("1", "u1", "e1", Severity::High), good("2", "u2", "e2", Severity::Low)];
        let outcome = process(&records, &config(), &publisher, &Shelf::default(), None).await;
        assert_eq!(outcome.failed, Vec::<String>::new());
        assert_eq!(outcome.metrics.anomalies_published(), 2);
        assert_eq!(publisher.attempts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn mixed_batch_reports_only_the_records_of_transiently_failed_anomalies() {
        let publisher = Scripted {
            transient: HashSet::from([id("u3", "e3"), id("u5", "e5")]),
            permanent: HashSet::from([id("u6", "e6")]),
            ..Scripted::default()
        };
        let mut normal = verdict("u7", "e7", Severity::Low);
        normal.status = Status::Normal;
        let records = [
            good("100", "u1", "e1", Severity::High),
            record_b64("101", "%%% not base64 %%%"),
            good("102", "u3", "e3", Severity::Medium), // transient
            good("103", "u1", "e1", Severity::High),   // duplicate of 100, published once
            record("104", b"{\"schemaVersion\": 99}"),
            good("105", "u5", "e5", Severity::Low),    // transient
            good("106", "u3", "e3", Severity::Medium), // duplicate of a transient failure: retried too
            good("107", "u6", "e6", Severity::High),   // permanent
            record("108", &line(&normal)),
            good("109", "u8", "e8", Severity::Low),
        ];
        let outcome = process(&records, &config(), &publisher, &Shelf::default(), None).await;
        assert_eq!(outcome.failed, ["102", "105", "106"]);
        // u1, u3, u5, u6, u8: one attempt per distinct anomaly, however many records carry it.
        let mut attempts = publisher.attempts.lock().unwrap().clone();
        attempts.sort();
        let mut want = vec![id("u1", "e1"), id("u3", "e3"), id("u5", "e5"), id("u6", "e6"), id("u8", "e8")];
        want.sort();
        assert_eq!(attempts, want);
        // Published: u1 (high), u8 (low). Invalid: 101, 104, 108 and the refused 107.
        assert_eq!(outcome.metrics.anomalies_published(), 2);
        assert_eq!(outcome.metrics.invalid_records(), 4);
        let docs = published(&outcome.metrics);
        let count = |severity: &str| docs.iter().find(|d| d["Severity"] == severity).map(|d| d["AnomalyCount"].as_u64().unwrap());
        assert_eq!((count("low"), count("medium"), count("high")), (Some(1), None, Some(1)));
        assert_eq!(docs.last().unwrap()["InvalidAnomalyRecords"], 4);
    }

    #[tokio::test]
    async fn every_record_that_can_never_be_alerted_on_is_kept_with_its_payload_and_reason() {
        let publisher = Scripted { permanent: HashSet::from([id("u6", "e6")]), ..Scripted::default() };
        let mut normal = verdict("u7", "e7", Severity::Low);
        normal.status = Status::Normal;
        let records = [
            good("1", "u1", "e1", Severity::High),
            record_b64("2", "%%% not base64 %%%"),
            record("3", b"{\"schemaVersion\": 99}"),
            record("4", &line(&normal)),
            good("5", "u6", "e6", Severity::High), // SNS refuses it
            good("6", "u6", "e6", Severity::High), // the same anomaly again: kept too
        ];
        let shelf = Shelf::default();
        let outcome = process(&records, &config(), &publisher, &shelf, None).await;
        assert!(outcome.failed.is_empty(), "nothing to retry: {:?}", outcome.failed);
        assert_eq!(shelf.kept_sequences(), ["2", "3", "4", "5", "6"]);
        assert_eq!(outcome.metrics.invalid_records(), 5);
        let kept = shelf.kept.lock().unwrap();
        let (key, body) = kept.iter().find(|(_, b)| b["record"]["kinesis"]["sequenceNumber"] == "3").unwrap();
        assert_eq!(key, "unalertable/2025/01/01/shardId-000000000000/3.json");
        assert!(body["reason"].as_str().unwrap().starts_with("unknown schemaVersion 99"), "{body}");
        assert_eq!(body["record"], records[2], "the record as delivered, payload included");
        let (_, refused) = kept.iter().find(|(_, b)| b["record"]["kinesis"]["sequenceNumber"] == "5").unwrap();
        assert!(refused["reason"].as_str().unwrap().starts_with("SNS refused the alert: InvalidParameter"), "{refused}");
    }

    #[tokio::test]
    async fn a_record_that_cannot_be_kept_is_reported_for_retry_not_dropped() {
        let shelf = Shelf { failing: HashSet::from(["/3.json".to_string()]), ..Shelf::default() };
        let records = [good("1", "u1", "e1", Severity::High), record("2", b"[]"), record("3", b"{\"schemaVersion\": 99}")];
        let outcome = process(&records, &config(), &Scripted::default(), &shelf, None).await;
        assert_eq!(outcome.failed, ["3"]);
        assert_eq!(shelf.kept_sequences(), ["2"]);
        assert_eq!(outcome.unkept_without_sequence_number, 0);
    }

    #[tokio::test]
    async fn a_record_without_sequence_number_that_cannot_be_kept_fails_the_invocation() {
        let shelf = Shelf { failing: HashSet::from(["no-sequence-".to_string()]), ..Shelf::default() };
        let records = [serde_json::json!({"kinesis": {}})];
        let outcome = process(&records, &config(), &Scripted::default(), &shelf, None).await;
        assert_eq!(outcome.unkept_without_sequence_number, 1, "the handler turns this into an error: the batch is retried");
    }

    #[tokio::test]
    async fn every_record_of_a_duplicated_anomaly_is_reported_when_its_publish_fails() {
        let publisher = Scripted { transient: HashSet::from([id("u1", "e1")]), ..Scripted::default() };
        let records = [good("1", "u1", "e1", Severity::High), good("2", "u2", "e2", Severity::High), good("3", "u1", "e1", Severity::High)];
        let outcome = process(&records, &config(), &publisher, &Shelf::default(), None).await;
        assert_eq!(outcome.failed, ["1", "3"]);
        assert_eq!(publisher.attempts.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_batch_of_only_invalid_records_reports_no_failures() {
        let records = [record_b64("1", "!!"), record("2", b"\xff"), record("3", b"[]"), serde_json::json!({"kinesis": {}})];
        let outcome = process(&records, &config(), &Scripted::default(), &Shelf::default(), None).await;
        assert!(outcome.failed.is_empty());
        assert_eq!(outcome.metrics.invalid_records(), 4);
    }

    #[tokio::test(start_paused = true)]
    async fn publishes_still_running_at_the_deadline_are_reported_for_retry() {
        let publisher = Scripted { slow: HashSet::from([id("u2", "e2")]), ..Scripted::default() };
        let records = [good("1", "u1", "e1", Severity::High), good("2", "u2", "e2", Severity::High)];
        let outcome = process(&records, &config(), &publisher, &Shelf::default(), Some(Duration::from_secs(30))).await;
        assert_eq!(outcome.failed, ["2"]);
        assert_eq!(outcome.metrics.anomalies_published(), 1);
    }

    #[test]
    fn a_deadline_already_past_means_no_deadline() {
        let now = SystemTime::now();
        assert_eq!(time_left(now + Duration::from_secs(30), now), Some(Duration::from_secs(30)));
        assert_eq!(time_left(UNIX_EPOCH + Duration::from_millis(600_000), now), None);
    }

    #[tokio::test]
    async fn the_response_lists_failures_as_lambda_expects() {
        let mut response = KinesisEventResponse::default();
        response.set_failures(["102", "105"]);
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "102"}, {"itemIdentifier": "105"}]})
        );
    }
}
