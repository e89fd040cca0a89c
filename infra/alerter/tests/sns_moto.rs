//! The alerter against SNS and S3 for real: the aws-sdk-sns client publishes to moto_server, an SQS queue subscribed
//! to the topic (raw message delivery off, so the SNS envelope with Subject and MessageAttributes arrives) receives
//! what SNS delivered, and the test reads it back; unalertable records are kept in a moto S3 bucket.
//!
//! Needs `moto_server` (`pip install 'moto[server]'`) and `python3` on PATH; fails, never skips, without them.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

mod support;

use alerter::config::Config;
use alerter::decode;
use alerter::handler;
use alerter::keep::S3Keeper;
use alerter::publish::{PublishFailure, Publisher, SnsPublisher};
use alerter::render::{self, Alert};
use serde_json::Value;
use std::collections::BTreeMap;
use support::{FaultProxy, Moto, drain, fixture_event, fixture_expected_failures, s3_client, sns_client, topic_with_queue, unique_name};

/// A bucket on `moto` for the unalertable records of `config`, and a keeper writing there.
async fn keeper(moto: &Moto, config: &mut Config) -> S3Keeper {
    let s3 = s3_client(moto.endpoint());
    config.unalertable_bucket = unique_name("archive");
    s3.create_bucket().bucket(&config.unalertable_bucket).send().await.unwrap();
    S3Keeper::new(s3, config)
}

/// The keys under `unalertable/` in the config's bucket, sorted.
async fn kept_keys(moto: &Moto, config: &Config) -> Vec<String> {
    let listed = s3_client(moto.endpoint()).list_objects_v2().bucket(&config.unalertable_bucket).send().await.unwrap();
    let mut keys: Vec<String> = listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect();
    keys.sort();
    keys
}

fn config(topic_arn: &str) -> Config {
    Config {
        topic_arn: topic_arn.into(),
        application: "frauddet-prod".into(),
        dashboard_url: Some("https://console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=frauddet-prod".into()),
        unalertable_bucket: "archive".into(),
        unalertable_prefix: "unalertable/".into(),
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
    let mut config = config(&topic.arn);
    let keeper = keeper(&moto, &mut config).await;
    let publisher = SnsPublisher::new(sns_client(&proxy.endpoint), &config);
    let event = fixture_event();

    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &publisher, &keeper, None).await;

    assert_eq!(outcome.failed, fixture_expected_failures());
    assert_eq!((outcome.metrics.anomalies_published(), outcome.metrics.invalid_records()), (3, 5));
    let kept = kept_keys(&moto, &config).await;
    let suffixes: Vec<&str> = kept.iter().map(|k| &k[k.len() - 7..]).collect();
    assert_eq!(suffixes, ["04.json", "05.json", "06.json", "07.json", "09.json"], "the unalertable records are kept: {kept:?}");
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
    assert!(subjects.iter().any(|s| s.starts_with("[LOW] frauddet-prod: userId user-0077 burst of 5 events")), "{subjects:?}");
}

#[tokio::test]
async fn a_deleted_topic_is_transient_so_every_publishable_record_is_retried() {
    let moto = Moto::start();
    let mut config = config("arn:aws:sns:us-east-1:123456789012:no-such-topic");
    let keeper = keeper(&moto, &mut config).await;
    let publisher = SnsPublisher::new(sns_client(moto.endpoint()), &config);
    let event = fixture_event();
    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &publisher, &keeper, None).await;
    // Records 1, 2, 3, 8, 10 and 11 carry anomalies; the five invalid ones are kept, not retried.
    let suffixes: Vec<&str> = outcome.failed.iter().map(|s| &s[s.len() - 2..]).collect();
    assert_eq!(suffixes, ["01", "02", "03", "08", "10", "11"]);
    assert_eq!(outcome.metrics.invalid_records(), 5);
    assert_eq!(kept_keys(&moto, &config).await.len(), 5);
}

#[tokio::test]
async fn unalertable_records_that_cannot_be_kept_are_retried_not_dropped() {
    let moto = Moto::start();
    let topic = topic_with_queue(&moto).await;
    let mut config = config(&topic.arn);
    config.unalertable_bucket = unique_name("no-such-bucket");
    let keeper = S3Keeper::new(s3_client(moto.endpoint()), &config);
    let publisher = SnsPublisher::new(sns_client(moto.endpoint()), &config);
    let event = fixture_event();
    let outcome = handler::process(event["Records"].as_array().unwrap(), &config, &publisher, &keeper, None).await;
    // S3 answers NoSuchBucket for records 4, 5, 6, 7 and 9: each goes back to the stream instead of being lost.
    let suffixes: Vec<&str> = outcome.failed.iter().map(|s| &s[s.len() - 2..]).collect();
    assert_eq!(suffixes, ["04", "05", "06", "07", "09"]);
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
