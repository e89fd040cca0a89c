//! The alerter against SNS for real: the aws-sdk-sns client publishes to moto_server, an SQS queue subscribed to
//! the topic (raw message delivery off, so the SNS envelope with Subject and MessageAttributes arrives) receives
//! what SNS delivered, and the test reads it back.
//!
//! Needs `moto_server` (`pip install 'moto[server]'`) and `python3` on PATH; fails, never skips, without them.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

mod support;

use alerter::config::Config;
use alerter::decode;
use alerter::handler;
use alerter::publish::{PublishFailure, Publisher, SnsPublisher};
use alerter::render::{self, Alert};
use serde_json::Value;
use std::collections::BTreeMap;
use support::{FaultProxy, Moto, drain, fixture_event, fixture_expected_failures, sns_client, topic_with_queue};

fn config(topic_arn: &str) -> Config {
    Config {
        topic_arn: topic_arn.into(),
        application: "frauddet-prod".into(),
        dashboard_url: Some("https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=frauddet-prod".into()),
    }
}

/// The alerts the fixture's publishable anomalies render to, by anomaly id.
fn expected_alerts(event: &Value, config: &Config) -> BTreeMap<String, Alert> {
    event["Records"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| decode::decode(r).ok())
        .filter(|a| a.verdict.key != support::THROTTLED_KEY)
        .map(|a| (a.verdict.anomaly_id.clone(), render::render(&a, config)))
        .collect()
}

#[tokio::test]
async fn fixture_batch_publishes_each_distinct_anomaly_once_and_reports_only_the_throttled_records() {
    let moto = Moto::start();
    let topic = topic_with_queue(&moto).await;
    // SNS throttles the publishes for one key; everything else reaches moto.
    let proxy = FaultProxy::start(moto.endpoint());
    let config = config(&topic.arn);
    let publisher = SnsPublisher::new(sns_client(&proxy.endpoint), &config);
    let event = fixture_event();

    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &publisher, None).await;

    assert_eq!(outcome.failed, fixture_expected_failures());
    assert_eq!((outcome.metrics.anomalies_published(), outcome.metrics.invalid_records()), (3, 5));
    assert!(proxy.throttled() >= 2, "the SDK retries a throttled publish before the record is reported");

    let expected = expected_alerts(&event, &config);
    assert_eq!(expected.len(), 3);
    let envelopes = drain(&moto, &topic.queue_url, expected.len()).await;
    assert_eq!(envelopes.len(), expected.len(), "one message per distinct anomaly, duplicates not re-sent: {envelopes:#?}");
    for envelope in &envelopes {
        let attributes = &envelope["MessageAttributes"];
        let id = attributes["anomalyId"]["Value"].as_str().unwrap();
        let alert = &expected[id];
        assert_eq!(envelope["Type"], "Notification");
        assert_eq!(envelope["TopicArn"], topic.arn.as_str());
        assert_eq!(envelope["Subject"], alert.subject.as_str());
        assert_eq!(envelope["Message"], alert.message.as_str());
        let got: BTreeMap<&str, (&str, &str)> = attributes
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, a)| (name.as_str(), (a["Type"].as_str().unwrap(), a["Value"].as_str().unwrap())))
            .collect();
        let want: BTreeMap<&str, (&str, &str)> = alert.attributes.iter().map(|(n, v)| (*n, ("String", v.as_str()))).collect();
        assert_eq!(got, want);
        assert!(["low", "medium", "high"].contains(&got["severity"].1));
        assert!(got["key"].1.starts_with("user-"));
    }
    let subjects: Vec<&str> = envelopes.iter().map(|e| e["Subject"].as_str().unwrap()).collect();
    assert!(subjects.iter().any(|s| s.starts_with("[HIGH] frauddet-prod: userId user-0042 amount 4999.00 outside ")), "{subjects:?}");
    assert!(subjects.iter().any(|s| s.starts_with("[MEDIUM] frauddet-prod: userId user-0077 burst of 5 events")), "{subjects:?}");
}

#[tokio::test]
async fn a_deleted_topic_is_transient_so_every_publishable_record_is_retried() {
    let moto = Moto::start();
    let config = config("arn:aws:sns:us-east-1:123456789012:no-such-topic");
    let publisher = SnsPublisher::new(sns_client(moto.endpoint()), &config);
    let event = fixture_event();
    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &publisher, None).await;
    // Records 1, 2, 3, 8, 10 and 11 carry anomalies; the five invalid ones are still not retried.
    let suffixes: Vec<&str> = outcome.failed.iter().map(|s| &s[s.len() - 2..]).collect();
    assert_eq!(suffixes, ["01", "02", "03", "08", "10", "11"]);
    assert_eq!(outcome.metrics.invalid_records(), 5);
}

#[tokio::test]
async fn a_message_sns_refuses_as_too_long_is_permanent() {
    let moto = Moto::start();
    let topic = topic_with_queue(&moto).await;
    let publisher = SnsPublisher::new(sns_client(moto.endpoint()), &config(&topic.arn));
    let alert = Alert {
        anomaly_id: "an-0".into(),
        subject: "too long".into(),
        message: "x".repeat(render::MAX_MESSAGE_BYTES + 1),
        attributes: vec![("severity", "low".into())],
    };
    match publisher.publish(&alert).await {
        Err(PublishFailure::Permanent(e)) => assert!(e.contains("InvalidParameter"), "{e}"),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}
