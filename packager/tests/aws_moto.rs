//! S3 upload and Kinesis PutRecords against moto_server on 127.0.0.1 (started and stopped by each test through
//! test-support), and the PutRecords partial-failure path against rule-based responses (moto cannot fail records).

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesis::operation::put_records::PutRecordsOutput;
use aws_sdk_kinesis::types::{PutRecordsResultEntry, ShardIteratorType};
use aws_sdk_kinesisanalyticsv2::operation::create_application::CreateApplicationOutput;
use aws_sdk_kinesisanalyticsv2::operation::describe_application::{DescribeApplicationError, DescribeApplicationOutput};
use aws_sdk_kinesisanalyticsv2::types::error::ResourceNotFoundException;
use aws_sdk_kinesisanalyticsv2::types::{ApplicationDetail, ApplicationStatus, RuntimeEnvironment};
use aws_sdk_s3::config::Credentials;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, VersioningConfiguration};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use packager::aws::backoff::Backoff;
use packager::config::FileConfig;
use packager::deploy::error::DeployError;
use packager::deploy::jar::Jar;
use packager::deploy::plan::AppAction;
use packager::deploy::wait::Timing;
use packager::deploy::{Clients, DeployArgs, Settings, deploy};
use packager::send::{self, Record, SendError, Stream};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;
use test_support::{Moto, REGION, unique_name};

fn sdk(moto: &Moto) -> SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(moto.endpoint())
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "test",
        )))
        .build()
}

fn no_wait() -> Backoff {
    Backoff { initial: Duration::ZERO, max: Duration::ZERO }
}

fn write_jar(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("anomaly-detector.jar");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("META-INF/anomaly-detector/build.json", options).unwrap();
    zip.write_all(format!(r#"{{"local": false, "note": "{extra}"}}"#).as_bytes()).unwrap();
    zip.finish().unwrap();
    path
}

fn detail(status: ApplicationStatus) -> ApplicationDetail {
    ApplicationDetail::builder()
        .application_arn("arn:aws:kinesisanalytics:us-east-1:123456789012:application/app")
        .application_name("app")
        // The runtime of the settings' default (a jar built for Flink 2.2): deploy refuses an application on another.
        .runtime_environment(RuntimeEnvironment::Flink22)
        .application_status(status)
        .application_version_id(1)
        .build()
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn deploy_uploads_the_jar_once_by_content_and_refuses_a_missing_bucket() {
    let moto = Moto::start();
    let sdk = sdk(&moto);
    let s3 = packager::aws::s3_client(&sdk);
    let bucket = unique_name("artifacts");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    // As infra/terraform makes it: versioned, so the application can be pinned to the object version it runs.
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let jar = Jar::read(&write_jar(dir.path(), "v1")).unwrap();
    let settings = DeployArgs {
        application_name: Some("app".into()),
        bucket: Some(bucket.clone()),
        service_role_arn: Some("arn:aws:iam::123456789012:role/flink".into()),
        source_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/in".into()),
        anomalies_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/out".into()),
        dead_letters_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/dl".into()),
        ..Default::default()
    }
    .resolve(&FileConfig::default())
    .unwrap();
    let timing = Timing { poll: no_wait(), conflict: no_wait(), conflict_attempts: 3, timeout: Duration::from_secs(60) };
    let missing = || {
        mock!(aws_sdk_kinesisanalyticsv2::Client::describe_application).then_error(|| {
            DescribeApplicationError::ResourceNotFoundException(ResourceNotFoundException::builder().message("none").build())
        })
    };
    let ready = || {
        mock!(aws_sdk_kinesisanalyticsv2::Client::describe_application)
            .then_output(|| DescribeApplicationOutput::builder().application_detail(detail(ApplicationStatus::Ready)).build())
    };
    let create = mock!(aws_sdk_kinesisanalyticsv2::Client::create_application)
        .match_requests(|r| {
            let location = r
                .application_configuration()
                .unwrap()
                .application_code_configuration()
                .unwrap()
                .code_content()
                .unwrap()
                .s3_content_location()
                .unwrap();
            location.file_key().starts_with("flink/anomaly-detector-")
                && location.file_key().ends_with(".jar")
                && location.bucket_arn().starts_with("arn:aws:s3:::artifacts-")
                && location.object_version().is_some_and(|v| !v.is_empty())
        })
        .then_output(|| CreateApplicationOutput::builder().application_detail(detail(ApplicationStatus::Ready)).build());
    let flink = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &[&missing(), &create, &ready(), &ready()]);
    let clients = Clients { s3: s3.clone(), flink };

    // First deploy: the object is new, so it is uploaded, with its sha256 recorded.
    let report = deploy(&settings, &jar, REGION, &clients, &timing).await.unwrap();
    assert!(report.plan.upload);
    assert_eq!(report.plan.app, AppAction::Create);
    assert_eq!(report.status.as_deref(), Some("READY"));
    let key = jar.key("flink/");
    let head = s3.head_object().bucket(&bucket).key(&key).checksum_mode(ChecksumMode::Enabled).send().await.unwrap();
    assert_eq!(head.content_length(), Some(jar.bytes.len() as i64));
    assert_eq!(head.checksum_sha256(), Some(jar.sha256_base64.as_str()), "S3's own checksum is the jar's sha256");
    assert_eq!(create.num_calls(), 1, "the application was created pinned to the uploaded version");
    assert!(head.version_id().is_some());
    let body = s3.get_object().bucket(&bucket).key(&key).send().await.unwrap().body.collect().await.unwrap().into_bytes();
    assert_eq!(body.as_ref(), jar.bytes.as_slice());

    // The same bytes again: the plan skips the upload (a dry run touches nothing else).
    let mut dry = settings.clone();
    dry.dry_run = true;
    let flink = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &[&ready(), &ready(), &ready(), &ready()]);
    let clients = Clients { s3: s3.clone(), flink };
    let report = deploy(&dry, &jar, REGION, &clients, &timing).await.unwrap();
    assert!(!report.plan.upload, "identical object must be reused");
    assert!(report.plan.to_text(true).contains("already holds these bytes"));

    // The same key overwritten with other bytes (a new current version, another S3 checksum) no longer holds the jar:
    // it is uploaded again. So is an object S3 has no checksum for (uploaded by an older packager, say).
    s3.put_object().bucket(&bucket).key(&key).body(ByteStream::from_static(b"not the jar")).send().await.unwrap();
    let report = deploy(&dry, &jar, REGION, &clients, &timing).await.unwrap();
    assert!(report.plan.upload, "an object whose S3 checksum differs must not be reused");
    let unchecked = jar.key("unchecked/");
    s3.put_object().bucket(&bucket).key(&unchecked).body(ByteStream::from(jar.bytes.clone())).send().await.unwrap();
    let elsewhere = Settings { key_prefix: "unchecked/".into(), ..dry.clone() };
    let report = deploy(&elsewhere, &jar, REGION, &clients, &timing).await.unwrap();
    assert!(report.plan.upload, "an object without an S3 checksum is not trusted");

    // Other bytes get another key.
    let other = Jar::read(&write_jar(dir.path(), "v2")).unwrap();
    assert_ne!(other.key("flink/"), key);
    let report = deploy(&dry, &other, REGION, &clients, &timing).await.unwrap();
    assert!(report.plan.upload);

    // A bucket that does not exist is named, before any Managed Flink call.
    let mut wrong = settings.clone();
    wrong.bucket = unique_name("no-such-bucket");
    let flink = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &[&missing()]);
    let err = deploy(&wrong, &jar, REGION, &Clients { s3: s3.clone(), flink }, &timing).await.unwrap_err();
    assert!(matches!(err, DeployError::BucketMissing { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("S3 bucket `{}` does not exist", wrong.bucket));
}

#[tokio::test]
async fn an_upload_whose_s3_checksum_is_not_the_jars_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let jar = Jar::read(&write_jar(dir.path(), "v1")).unwrap();
    let wanted = jar.sha256_base64.clone();
    let put = mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| r.checksum_algorithm() == Some(&ChecksumAlgorithm::Sha256) && r.checksum_sha256() == Some(wanted.as_str()))
        .then_output(|| PutObjectOutput::builder().version_id("v2").build());
    let size = jar.bytes.len() as i64;
    let head = mock!(aws_sdk_s3::Client::head_object)
        .match_requests(|r| r.version_id() == Some("v2") && r.checksum_mode() == Some(&ChecksumMode::Enabled))
        .then_output(move || HeadObjectOutput::builder().content_length(size).checksum_sha256("c29tZXRoaW5nIGVsc2U=").build());
    let s3 = mock_client!(aws_sdk_s3, RuleMode::Sequential, &[&put, &head]);
    let err = packager::deploy::s3::upload(&s3, "artifacts", "flink/a.jar", &jar).await.unwrap_err();
    assert!(matches!(err, DeployError::UploadUnverified { .. }), "{err:?}");
    assert!(err.to_string().starts_with("S3 does not confirm the upload of s3://artifacts/flink/a.jar (version v2)"), "{err}");
    assert_eq!((put.num_calls(), head.num_calls()), (1, 1));
}

async fn read_back(client: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, Vec<u8>)> {
    let shards = client.list_shards().stream_name(stream).send().await.unwrap();
    let mut out = Vec::new();
    for shard in shards.shards() {
        let it = client
            .get_shard_iterator()
            .stream_name(stream)
            .shard_id(shard.shard_id())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap();
        let mut iterator = it.shard_iterator().map(String::from);
        while let Some(i) = iterator.take() {
            let got = client.get_records().shard_iterator(i).limit(10_000).send().await.unwrap();
            if got.records().is_empty() {
                break;
            }
            out.extend(got.records().iter().map(|r| (r.partition_key().unwrap_or_default().to_string(), r.data().as_ref().to_vec())));
            iterator = got.next_shard_iterator().map(String::from);
        }
    }
    out
}

#[tokio::test(flavor = "current_thread")]
async fn send_puts_every_record_in_batches_of_500_keyed_by_the_event_key() {
    let moto = Moto::start();
    let client = aws_sdk_kinesis::Client::new(&sdk(&moto));
    let stream = unique_name("transactions");
    client.create_stream().stream_name(&stream).shard_count(2).send().await.unwrap();
    let config = detector_wasm::Config::default();
    let records: Vec<Record> = (1..=1100u64)
        .map(|line| {
            let data =
                format!(r#"{{"userId":"u{}","amount":{line},"timestamp":1767225600000,"transactionId":"t{line}"}}"#, line % 7).into_bytes();
            let (partition_key, parsed) = send::partition_key(&config, &data, line);
            assert!(parsed);
            Record { line, partition_key, data }
        })
        .collect();
    let report = send::send(&client, &Stream::Name(stream.clone()), records.clone(), 8, no_wait()).await.unwrap();
    assert_eq!((report.sent, report.requests, report.retried), (1100, 3, 0));
    assert!(report.not_sent.is_empty());
    let mut got = read_back(&client, &stream).await;
    let mut want: Vec<(String, Vec<u8>)> = records.into_iter().map(|r| (r.partition_key, r.data)).collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), 1100);
    assert_eq!(got, want, "every record arrives once, with the event's key as partition key");
    assert!(got.iter().all(|(k, _)| k.starts_with('u')));

    let err = send::send(
        &client,
        &Stream::Name(unique_name("missing")),
        vec![Record { line: 1, partition_key: "k".into(), data: b"{}".to_vec() }],
        8,
        no_wait(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, SendError::StreamMissing { .. }), "{err:?}");
}

fn entry_ok() -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder().sequence_number("1").shard_id("shardId-000000000000").build()
}

fn entry_throttled() -> PutRecordsResultEntry {
    PutRecordsResultEntry::builder().error_code("ProvisionedThroughputExceededException").error_message("Rate exceeded for shard").build()
}

fn records(n: u64) -> Vec<Record> {
    (1..=n).map(|line| Record { line, partition_key: format!("u{line}"), data: format!("event {line}").into_bytes() }).collect()
}

#[tokio::test]
async fn only_the_records_a_batch_failed_are_sent_again() {
    let first = mock!(aws_sdk_kinesis::Client::put_records).match_requests(|r| r.records().len() == 3).then_output(|| {
        PutRecordsOutput::builder()
            .failed_record_count(1)
            .records(entry_ok())
            .records(entry_throttled())
            .records(entry_ok())
            .build()
            .unwrap()
    });
    let retry = mock!(aws_sdk_kinesis::Client::put_records)
        .match_requests(|r| {
            r.records().len() == 1 && r.records()[0].data().as_ref() == b"event 2" && r.records()[0].partition_key() == Some("u2")
        })
        .then_output(|| PutRecordsOutput::builder().failed_record_count(0).records(entry_ok()).build().unwrap());
    let client = mock_client!(aws_sdk_kinesis, RuleMode::Sequential, &[&first, &retry]);
    let report = send::send(&client, &Stream::Name("s".into()), records(3), 8, no_wait()).await.unwrap();
    assert_eq!((report.sent, report.requests, report.retried), (3, 2, 1));
    assert!(report.not_sent.is_empty());
    assert_eq!((first.num_calls(), retry.num_calls()), (1, 1));
}

#[tokio::test]
async fn records_still_failing_after_the_bound_are_listed_by_line() {
    let partial = mock!(aws_sdk_kinesis::Client::put_records).match_requests(|r| r.records().len() == 3).then_output(|| {
        PutRecordsOutput::builder()
            .failed_record_count(2)
            .records(entry_throttled())
            .records(entry_ok())
            .records(entry_throttled())
            .build()
            .unwrap()
    });
    let always = mock!(aws_sdk_kinesis::Client::put_records).match_requests(|r| r.records().len() == 2).then_output(|| {
        PutRecordsOutput::builder().failed_record_count(2).records(entry_throttled()).records(entry_throttled()).build().unwrap()
    });
    let client = mock_client!(aws_sdk_kinesis, RuleMode::MatchAny, &[&partial, &always]);
    let report = send::send(&client, &Stream::Arn("arn:aws:kinesis:us-east-1:1:stream/s".into()), records(3), 4, no_wait()).await.unwrap();
    assert_eq!(report.sent, 1);
    assert_eq!(report.not_sent.iter().map(|n| n.line).collect::<Vec<_>>(), [1, 3]);
    assert_eq!((partial.num_calls(), always.num_calls()), (1, 3), "4 attempts in all, then it stops");
    let text = send::not_sent_error(&report, 4).to_string();
    assert!(text.starts_with("2 of 3 records were not sent to `arn:aws:kinesis:us-east-1:1:stream/s` after 4 attempts each:"), "{text}");
    assert!(text.contains("line 1: ProvisionedThroughputExceededException: Rate exceeded for shard"), "{text}");
    assert!(text.contains("line 3: "), "{text}");
}
