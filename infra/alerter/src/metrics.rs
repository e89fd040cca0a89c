//! Batch counts → CloudWatch Embedded Metric Format documents, one JSON line each on stdout.
//!
//! EMF instead of `PutMetricData`: no API call on the alerting path, no IAM permission, and CloudWatch Logs extracts
//! the metrics from the function's log group.
//!
//! Per invocation: one document per severity that had alerts (dimension sets `[Application]` and
//! `[Application, Severity]`, so the per-application series is the sum over the severity documents), and one document
//! with `InvalidAnomalyRecords` under `[Application]` only, since a record that could not be read has no severity.

use detector_wasm::verdict::Severity;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The CloudWatch namespace of every metric the alerter emits.
pub const NAMESPACE: &str = "AnomalyDetection";

/// What one invocation did, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchMetrics {
    /// Distinct anomalies published, by severity.
    anomalies: BTreeMap<Severity, u64>,
    /// SNS messages published, by severity.
    alerts: BTreeMap<Severity, u64>,
    /// Records that can never be published.
    invalid_records: u64,
}

impl BatchMetrics {
    /// Counts one distinct anomaly whose alert was published.
    pub fn published(&mut self, severity: Severity) {
        *self.anomalies.entry(severity).or_default() += 1;
        *self.alerts.entry(severity).or_default() += 1;
    }

    /// Counts one record that can never be published.
    pub fn invalid(&mut self) {
        self.invalid_records += 1;
    }

    /// Distinct anomalies published in the batch, all severities.
    pub fn anomalies_published(&self) -> u64 {
        self.anomalies.values().sum()
    }

    /// Records that can never be published, in the batch.
    pub fn invalid_records(&self) -> u64 {
        self.invalid_records
    }

    /// The EMF documents for this batch, each one line of JSON.
    pub fn emf_lines(&self, application: &str, timestamp_ms: i64) -> Vec<String> {
        let mut docs = Vec::new();
        for (&severity, &anomalies) in &self.anomalies {
            let alerts = self.alerts.get(&severity).copied().unwrap_or(0);
            docs.push(json!({
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["Application"], ["Application", "Severity"]],
                        "Metrics": [
                            {"Name": "AnomalyCount", "Unit": "Count"},
                            {"Name": "AlertsPublished", "Unit": "Count"}
                        ]
                    }]
                },
                "Application": application,
                "Severity": severity.as_str(),
                "AnomalyCount": anomalies,
                "AlertsPublished": alerts,
            }));
        }
        // Emitted even at zero: an alarm on invalid records then sees 0, not missing data, while the function runs.
        docs.push(json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [["Application"]],
                    "Metrics": [{"Name": "InvalidAnomalyRecords", "Unit": "Count"}]
                }]
            },
            "Application": application,
            "InvalidAnomalyRecords": self.invalid_records,
        }));
        docs.iter().map(Value::to_string).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[String]) -> Vec<Value> {
        lines
            .iter()
            .map(|l| {
                assert!(!l.contains('\n'), "an EMF document must be one line: {l}");
                serde_json::from_str(l).unwrap()
            })
            .collect()
    }

    #[test]
    fn one_document_per_severity_plus_one_for_invalid_records() {
        let mut m = BatchMetrics::default();
        m.published(Severity::High);
        m.published(Severity::Low);
        m.published(Severity::High);
        m.invalid();
        let docs = parse(&m.emf_lines("frauddet-prod", 1_735_734_896_789));
        assert_eq!(docs.len(), 3);

        let expected_low = json!({
            "_aws": {
                "Timestamp": 1_735_734_896_789_i64,
                "CloudWatchMetrics": [{
                    "Namespace": "AnomalyDetection",
                    "Dimensions": [["Application"], ["Application", "Severity"]],
                    "Metrics": [{"Name": "AnomalyCount", "Unit": "Count"}, {"Name": "AlertsPublished", "Unit": "Count"}]
                }]
            },
            "Application": "frauddet-prod",
            "Severity": "low",
            "AnomalyCount": 1,
            "AlertsPublished": 1
        });
        assert_eq!(docs[0], expected_low);
        assert_eq!(docs[1]["Severity"], "high");
        assert_eq!((docs[1]["AnomalyCount"].as_u64(), docs[1]["AlertsPublished"].as_u64()), (Some(2), Some(2)));
        assert_eq!(
            docs[2],
            json!({
                "_aws": {
                    "Timestamp": 1_735_734_896_789_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "AnomalyDetection",
                        "Dimensions": [["Application"]],
                        "Metrics": [{"Name": "InvalidAnomalyRecords", "Unit": "Count"}]
                    }]
                },
                "Application": "frauddet-prod",
                "InvalidAnomalyRecords": 1
            })
        );
        assert_eq!((m.anomalies_published(), m.invalid_records()), (3, 1));
    }

    #[test]
    fn every_dimension_and_metric_named_in_a_directive_is_in_its_document() {
        let mut m = BatchMetrics::default();
        m.published(Severity::Medium);
        for doc in parse(&m.emf_lines("a", 0)) {
            for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
                for set in directive["Dimensions"].as_array().unwrap() {
                    for dim in set.as_array().unwrap() {
                        assert!(doc[dim.as_str().unwrap()].is_string(), "dimension {dim} missing in {doc}");
                    }
                }
                for metric in directive["Metrics"].as_array().unwrap() {
                    assert!(doc[metric["Name"].as_str().unwrap()].is_u64(), "metric {metric} missing in {doc}");
                }
            }
        }
    }

    #[test]
    fn an_empty_batch_still_reports_zero_invalid_records_and_no_severity_documents() {
        let docs = parse(&BatchMetrics::default().emf_lines("a", 0));
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0]["InvalidAnomalyRecords"], 0);
        assert!(docs[0].get("AnomalyCount").is_none());
    }
}
