//! The Kinesis event fixture shared by the moto test and the `cargo lambda` script, kept honest here: its verdicts
//! are produced by the real kernel (parse → detect → render), so the file fails this test when the kernel's output
//! drifts, and the documented failure list is checked against the handler with a scripted publisher.
//!
//! Regenerate after a kernel change: `UPDATE_FIXTURES=1 cargo test -p alerter --test fixture`, then review the
//! diff and `tests/fixtures/kinesis-event.expected.json`.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

mod support;

use alerter::config::Config;
use alerter::handler;
use alerter::publish::{PublishFailure, Publisher};
use alerter::render::Alert;
use detector_wasm::verdict::{Status, Trigger, Verdict, base64};
use detector_wasm::{Detector, detect, parse, render};
use serde_json::{Value, json};
use std::collections::HashMap;
use support::{THROTTLED_KEY, crate_path, fixture_event, fixture_expected_failures};

/// 2025-01-01T12:00:00Z.
const BASE_MS: i64 = 1_735_732_800_000;
const HOUR_MS: i64 = 3_600_000;

/// The kernel with its default configuration plus a `country` attribute, keeping per-key state like the Flink job.
struct Kernel {
    detector: Detector,
    states: HashMap<String, Vec<u8>>,
}

impl Kernel {
    fn new() -> Kernel {
        let config = detector_wasm::Config { attribute_fields: vec!["merchantId".into(), "country".into()], ..Default::default() };
        Kernel { detector: Detector::new(config), states: HashMap::new() }
    }

    /// Feeds one event, written field by field so its bytes (and so the verdict's attribute order) do not depend on
    /// how serde_json happens to order a map in this build (`preserve_order` is switched on by other crates).
    fn feed(&mut self, user: &str, amount: f64, at_ms: i64, id: &str, merchant: &str, country: &str) -> Verdict {
        let config = self.detector.config().clone();
        let raw = format!(
            r#"{{"userId":{},"amount":{amount:?},"timestamp":{at_ms},"transactionId":{},"merchantId":{},"country":{}}}"#,
            json!(user),
            json!(id),
            json!(merchant),
            json!(country)
        );
        let event = parse(&config, raw.as_bytes()).unwrap();
        let state = self.states.entry(event.key.clone()).or_default();
        let (new_state, assessment) = detect(&self.detector, state, &event).unwrap();
        *state = new_state.encode();
        render(&config, &event, &assessment)
    }

    fn learn(&mut self, user: &str) -> Verdict {
        let amounts = [18.5, 22.0, 25.9, 31.2, 19.9, 27.5];
        let mut last = None;
        for i in 0..30 {
            let id = format!("txn-{user}-{i:03}");
            last = Some(self.feed(user, amounts[i % amounts.len()], BASE_MS + i as i64 * HOUR_MS, &id, "m-100", "DE"));
        }
        last.unwrap()
    }

    fn purchase(&mut self, user: &str, id: &str, amount: f64, at_ms: i64) -> Verdict {
        self.feed(user, amount, at_ms, id, "m-981", "FR")
    }
}

fn kinesis_record(index: usize, data: &str) -> Value {
    let sequence = format!("49656690013580262437208305843621370473446452{index:012}");
    json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": format!("pk-{index}"),
            "sequenceNumber": sequence,
            "data": data,
            "approximateArrivalTimestamp": 1_735_851_600.123
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": format!("shardId-000000000000:{sequence}"),
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/frauddet-prod-alerter",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/frauddet-prod-anomalies"
    })
}

fn verdict_line(verdict: &Verdict) -> String {
    base64(format!("{}\n", serde_json::to_string(verdict).unwrap()).as_bytes())
}

/// The fixture event, built from what the kernel writes.
fn generate() -> Value {
    let mut kernel = Kernel::new();
    let after = BASE_MS + 30 * HOUR_MS;

    let normal = kernel.learn("user-0042");
    let big = kernel.purchase("user-0042", "txn-user-0042-030", 4999.0, after);
    kernel.learn("user-throttled");
    let throttled = kernel.purchase(THROTTLED_KEY, "txn-user-throttled-030", 2500.0, after);
    kernel.learn("user-0099");
    let another = kernel.purchase("user-0099", "txn-user-0099-030", 90.0, after);
    // Six purchases ten seconds apart from a key that buys once an hour: a burst.
    kernel.learn("user-0077");
    let burst = (0..6)
        .map(|i| kernel.purchase("user-0077", &format!("txn-user-0077-{:03}", 30 + i), 21.0, after + i * 10_000))
        .find(|v| v.status == Status::Anomaly)
        .expect("a burst of six purchases in a minute is a velocity anomaly");

    for (name, v) in [("big", &big), ("throttled", &throttled), ("another", &another), ("burst", &burst)] {
        assert_eq!(v.status, Status::Anomaly, "{name} purchase should be an anomaly: {}", v.reason);
    }
    assert_eq!(normal.status, Status::Normal);
    assert_eq!(burst.trigger, Some(Trigger::Velocity));

    // Edited as text, not through a serde_json map, so the bytes do not depend on the map's key order.
    let version = detector_wasm::verdict::VERDICT_SCHEMA_VERSION;
    let current = format!("{{\"schemaVersion\":{version},");
    let big_json = serde_json::to_string(&big).unwrap();
    assert!(big_json.starts_with(&current), "a verdict starts with its schemaVersion: {big_json}");
    let future = big_json.replacen(&current, &format!("{{\"schemaVersion\":{},", version + 1), 1);

    let records = [
        verdict_line(&big),                            // 1 published
        verdict_line(&burst),                          // 2 published
        verdict_line(&big),                            // 3 duplicate of 1: not published again
        "this is not base64!".to_string(),             // 4 invalid
        base64(b"user-0042,4999.00\n"),                // 5 invalid: not JSON
        base64(format!("{future}\n").as_bytes()),      // 6 invalid: unknown schemaVersion
        verdict_line(&normal),                         // 7 invalid: status normal
        verdict_line(&throttled),                      // 8 throttled by SNS: reported
        base64(&[0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), // 9 invalid: not UTF-8
        verdict_line(&throttled),                      // 10 duplicate of 8: reported too
        verdict_line(&another),                        // 11 published
    ];
    json!({ "Records": records.iter().enumerate().map(|(i, data)| kinesis_record(i + 1, data)).collect::<Vec<_>>() })
}

#[test]
fn kinesis_event_fixture_is_what_the_kernel_writes() {
    let path = crate_path("tests/fixtures/kinesis-event.json");
    let generated = format!("{}\n", serde_json::to_string_pretty(&generate()).unwrap());
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    // Compared as JSON values: the file's key order is the map's, which depends on serde_json's features in the build.
    assert!(
        serde_json::from_str::<Value>(&committed).ok().as_ref() == Some(&generate()),
        "{} is stale (the kernel's output changed?): regenerate with `UPDATE_FIXTURES=1 cargo test -p alerter --test fixture` \
         and review the diff and kinesis-event.expected.json",
        path.display()
    );
}

/// Fails publishes whose `key` attribute is the throttled key, as the fault proxy does in front of moto.
struct ThrottlesOneKey;

impl Publisher for ThrottlesOneKey {
    async fn publish(&self, alert: &Alert) -> Result<String, PublishFailure> {
        if alert.attributes.iter().any(|(name, value)| *name == "key" && value == THROTTLED_KEY) {
            Err(PublishFailure::Transient("Throttling: Rate exceeded".into()))
        } else {
            Ok(format!("msg-{}", alert.anomaly_id))
        }
    }
}

#[tokio::test]
async fn fixture_batch_reports_exactly_the_documented_failures() {
    let event = fixture_event();
    let config = Config {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:frauddet-prod-alerts".into(),
        application: "frauddet-prod".into(),
        dashboard_url: None,
    };
    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &ThrottlesOneKey, None).await;
    assert_eq!(outcome.failed, fixture_expected_failures());
    assert_eq!(outcome.metrics.anomalies_published(), 3, "records 1, 2 and 11");
    assert_eq!(outcome.metrics.invalid_records(), 5, "records 4, 5, 6, 7 and 9");
}
