//! Managed Flink calls against rule-based SDK responses (aws-smithy-mocks): moto cannot serve this API to the Rust
//! SDK. Rules run in sequence, so each test also pins the order of the calls deploy makes.

// Test code: an unwrap is an assertion (house rule 5). Clippy allows it in #[test] bodies only, not in helpers.
#![allow(clippy::unwrap_used)]

use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::operation::add_application_cloud_watch_logging_option::AddApplicationCloudWatchLoggingOptionOutput;
use aws_sdk_kinesisanalyticsv2::operation::create_application::CreateApplicationOutput;
use aws_sdk_kinesisanalyticsv2::operation::describe_application::{DescribeApplicationError, DescribeApplicationOutput};
use aws_sdk_kinesisanalyticsv2::operation::rollback_application::RollbackApplicationOutput;
use aws_sdk_kinesisanalyticsv2::operation::start_application::{StartApplicationError, StartApplicationOutput};
use aws_sdk_kinesisanalyticsv2::operation::update_application::{UpdateApplicationError, UpdateApplicationOutput};
use aws_sdk_kinesisanalyticsv2::types::error::{ConcurrentModificationException, ResourceInUseException, ResourceNotFoundException};
use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationCodeConfigurationDescription, ApplicationConfigurationDescription, ApplicationDetail,
    ApplicationEncryptionConfigurationDescription, ApplicationRestoreType, ApplicationStatus, CheckpointConfigurationDescription,
    CloudWatchLoggingOptionDescription, CodeContentDescription, CodeContentType, EnvironmentPropertyDescriptions,
    FlinkApplicationConfigurationDescription, KeyType, ParallelismConfigurationDescription, PropertyGroup, RuntimeEnvironment,
    S3ApplicationCodeLocationDescription,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use packager::aws::backoff::Backoff;
use packager::config::FileConfig;
use packager::deploy::error::DeployError;
use packager::deploy::flink::{self, CodeLocation};
use packager::deploy::plan::{self, AppAction};
use packager::deploy::settings::StateKey;
use packager::deploy::wait::Timing;
use packager::deploy::{DeployArgs, Settings, apply};
use std::time::Duration;

const APP: &str = "anomaly-detector";
const ROLE: &str = "arn:aws:iam::123456789012:role/flink";
const SOURCE: &str = "arn:aws:kinesis:us-east-1:123456789012:stream/transactions";
const OLD_KEY: &str = "flink/anomaly-detector-old.jar";
const NEW_KEY: &str = "flink/anomaly-detector-new.jar";
const BUCKET_ARN: &str = "arn:aws:s3:::artifacts";
const STATE_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const LOG_STREAM: &str = "arn:aws:logs:us-east-1:123456789012:log-group:flink:log-stream:app";

fn settings(start: bool) -> Settings {
    DeployArgs {
        application_name: Some(APP.into()),
        bucket: Some("artifacts".into()),
        service_role_arn: Some(ROLE.into()),
        source_stream_arn: Some(SOURCE.into()),
        anomalies_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/anomalies".into()),
        dead_letters_stream_arn: Some("arn:aws:kinesis:us-east-1:123456789012:stream/dead-letters".into()),
        log_stream_arn: Some(LOG_STREAM.into()),
        start,
        ..Default::default()
    }
    .resolve(&FileConfig::default())
    .unwrap()
}

/// No waiting in tests; `timeout` decides whether one look at a moving status already times out.
fn timing(timeout: Duration) -> Timing {
    let none = Backoff { initial: Duration::ZERO, max: Duration::ZERO };
    Timing { poll: none, conflict: none, conflict_attempts: 3, timeout }
}

fn code(key: &str) -> CodeLocation {
    CodeLocation { bucket_arn: BUCKET_ARN.into(), key: key.into(), object_version: None }
}

/// An application as the service describes one deployed with `state` (no logging, groups or settings when empty).
fn detail(status: ApplicationStatus, version: i64, runtime: RuntimeEnvironment) -> ApplicationDetail {
    detail_of(&flink::AppState {
        status: status.as_str().into(),
        version_id: version,
        runtime: runtime.as_str().into(),
        code: Some(code(OLD_KEY)),
        ..Default::default()
    })
}

fn describe(status: ApplicationStatus, version: i64) -> Rule {
    mock!(Client::describe_application).then_output(move || {
        DescribeApplicationOutput::builder().application_detail(detail(status.clone(), version, RuntimeEnvironment::Flink120)).build()
    })
}

/// What the service describes for an application in `s`: what [`flink::describe`] reads back from it is `s`.
fn detail_of(s: &flink::AppState) -> ApplicationDetail {
    let code = s.code.as_ref().unwrap();
    let groups: Vec<PropertyGroup> = s
        .property_groups
        .iter()
        .map(|(id, map)| {
            PropertyGroup::builder()
                .property_group_id(id)
                .set_property_map(Some(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
                .build()
                .unwrap()
        })
        .collect();
    let config = ApplicationConfigurationDescription::builder()
        .application_code_configuration_description(
            ApplicationCodeConfigurationDescription::builder()
                .code_content_type(CodeContentType::Zipfile)
                .code_content_description(
                    CodeContentDescription::builder()
                        .s3_application_code_location_description(
                            S3ApplicationCodeLocationDescription::builder()
                                .bucket_arn(&code.bucket_arn)
                                .file_key(&code.key)
                                .set_object_version(code.object_version.clone())
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .set_application_encryption_configuration_description(s.state_key.as_ref().map(|k| {
            let described = match k {
                StateKey::AwsOwned => ApplicationEncryptionConfigurationDescription::builder().key_type(KeyType::AwsOwnedKey),
                StateKey::Customer(id) => {
                    ApplicationEncryptionConfigurationDescription::builder().key_type(KeyType::CustomerManagedKey).key_id(id)
                }
            };
            described.build().unwrap()
        }))
        .environment_property_descriptions(EnvironmentPropertyDescriptions::builder().set_property_group_descriptions(Some(groups)).build())
        .flink_application_configuration_description(
            FlinkApplicationConfigurationDescription::builder()
                .parallelism_configuration_description(
                    ParallelismConfigurationDescription::builder()
                        .set_parallelism(s.parallelism)
                        .set_parallelism_per_kpu(s.parallelism_per_kpu)
                        .set_auto_scaling_enabled(s.auto_scaling)
                        .build(),
                )
                .checkpoint_configuration_description(
                    CheckpointConfigurationDescription::builder()
                        .set_checkpointing_enabled(s.checkpointing)
                        .set_checkpoint_interval(s.checkpoint_interval_ms)
                        .build(),
                )
                .build(),
        )
        .build();
    let logging: Vec<CloudWatchLoggingOptionDescription> = s
        .log_stream
        .iter()
        .map(|l| {
            CloudWatchLoggingOptionDescription::builder()
                .set_cloud_watch_logging_option_id(l.id.clone())
                .log_stream_arn(&l.arn)
                .build()
                .unwrap()
        })
        .collect();
    ApplicationDetail::builder()
        .application_arn(format!("arn:aws:kinesisanalytics:us-east-1:123456789012:application/{APP}"))
        .application_name(APP)
        .runtime_environment(RuntimeEnvironment::from(s.runtime.as_str()))
        .application_status(ApplicationStatus::from(s.status.as_str()))
        .application_version_id(s.version_id)
        .application_configuration_description(config)
        .set_cloud_watch_logging_option_descriptions(Some(logging))
        .build()
        .unwrap()
}

/// DescribeApplication answering with everything deploy compares: what [`flink::describe`] reads back is `state`.
fn describe_state(state: flink::AppState) -> Rule {
    mock!(Client::describe_application)
        .then_output(move || DescribeApplicationOutput::builder().application_detail(detail_of(&state)).build())
}

fn conflict() -> Rule {
    mock!(Client::update_application).then_error(|| {
        UpdateApplicationError::ConcurrentModificationException(ConcurrentModificationException::builder().message("busy").build())
    })
}

fn updated(from_version: i64) -> Rule {
    mock!(Client::update_application).match_requests(move |r| r.current_application_version_id() == Some(from_version)).then_output(
        move || {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, from_version + 1, RuntimeEnvironment::Flink120))
                .build()
        },
    )
}

/// The state a running application on the old jar is in, and the plan to move it to the new jar.
fn update_plan(s: &Settings) -> plan::Plan {
    let mut state = update_plan_state(s);
    state.property_groups.get_mut("detector").unwrap().insert("threshold_multiplier".into(), "2.5".into());
    plan::decide(s, ("a.jar", "new", 10), &code(NEW_KEY), false, Some(&state)).unwrap()
}

#[tokio::test]
async fn a_missing_application_is_created_with_the_full_configuration_then_started() {
    let s = Settings { state_key: Some(StateKey::Customer(STATE_KEY.into())), ..settings(true) };
    let create = mock!(Client::create_application)
        .match_requests(|r| {
            let config = r.application_configuration().unwrap();
            let groups = config.environment_properties().unwrap().property_groups();
            let source = groups.iter().find(|g| g.property_group_id() == "source").unwrap().property_map();
            let flink = config.flink_application_configuration().unwrap();
            r.runtime_environment() == Some(&RuntimeEnvironment::Flink22)
                && r.service_execution_role() == Some(ROLE)
                && source.get("stream.arn").map(String::as_str) == Some(SOURCE)
                && source.get("connector").map(String::as_str) == Some("kinesis")
                && groups.iter().any(|g| g.property_group_id() == "detector" && g.property_map().contains_key("threshold_multiplier"))
                && groups.iter().any(|g| g.property_group_id() == "job" && g.property_map().contains_key("state_ttl_hours"))
                && flink.checkpoint_configuration().unwrap().checkpointing_enabled() == Some(true)
                && config.application_snapshot_configuration().unwrap().snapshots_enabled()
                && config.application_code_configuration().unwrap().code_content().unwrap().s3_content_location().unwrap().file_key()
                    == NEW_KEY
                && r.cloud_watch_logging_options().len() == 1
                && config
                    .application_encryption_configuration()
                    .is_some_and(|e| e.key_type() == &KeyType::CustomerManagedKey && e.key_id() == Some(STATE_KEY))
        })
        .then_output(|| {
            CreateApplicationOutput::builder().application_detail(detail(ApplicationStatus::Ready, 1, RuntimeEnvironment::Flink120)).build()
        });
    let start = mock!(Client::start_application)
        .match_requests(|r| {
            r.run_configuration().and_then(|c| c.application_restore_configuration()).map(|c| c.application_restore_type())
                == Some(&ApplicationRestoreType::SkipRestoreFromSnapshot)
        })
        .then_output(|| StartApplicationOutput::builder().build());
    let rules = [
        create,
        describe(ApplicationStatus::Ready, 1),
        start,
        describe(ApplicationStatus::Starting, 1),
        describe(ApplicationStatus::Running, 1),
        describe(ApplicationStatus::Running, 1),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), false, None).unwrap();
    assert_eq!(plan.app, AppAction::Create);
    let (status, version) = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("RUNNING", 1));
    assert!(rules.iter().all(|r| r.num_calls() == 1), "every call made once, in order");
}

#[tokio::test]
async fn an_update_of_a_running_application_sends_only_the_changes_and_restores_the_latest_snapshot() {
    let s = settings(false);
    let update = mock!(Client::update_application)
        .match_requests(|r| {
            let c = r.application_configuration_update().unwrap();
            let restore =
                r.run_configuration_update().and_then(|c| c.application_restore_configuration()).map(|c| c.application_restore_type());
            r.current_application_version_id() == Some(7)
                && restore == Some(&ApplicationRestoreType::RestoreFromLatestSnapshot)
                && c.application_code_configuration_update()
                    .and_then(|u| u.code_content_update())
                    .and_then(|u| u.s3_content_location_update())
                    .and_then(|u| u.file_key_update())
                    == Some(NEW_KEY)
                && c.environment_property_updates().is_some()
                && c.flink_application_configuration_update().is_none()
                && r.cloud_watch_logging_option_updates().is_empty()
                && r.runtime_environment_update().is_none()
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 8, RuntimeEnvironment::Flink120))
                .build()
        });
    let rules = [
        update,
        describe(ApplicationStatus::Updating, 8),
        describe(ApplicationStatus::Running, 8),
        describe(ApplicationStatus::Running, 8),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let plan = update_plan(&s);
    let (status, version) = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("RUNNING", 8));
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn a_new_application_is_created_on_the_runtime_its_jar_is_built_for() {
    let s = Settings { runtime: "FLINK-1_20".into(), ..settings(false) };
    let create = mock!(Client::create_application)
        .match_requests(|r| r.runtime_environment() == Some(&RuntimeEnvironment::Flink120))
        .then_output(|| {
            CreateApplicationOutput::builder().application_detail(detail(ApplicationStatus::Ready, 1, RuntimeEnvironment::Flink120)).build()
        });
    let rules = [create, describe(ApplicationStatus::Ready, 1), describe(ApplicationStatus::Ready, 1)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let plan = plan::decide(&s, ("a.jar", "x", 1), &code(NEW_KEY), true, None).unwrap();
    apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn upgrade_runtime_updates_a_running_1_20_application_to_2_2_with_the_new_jar_from_its_snapshot() {
    let s = Settings { upgrade_runtime: true, ..settings(false) };
    let state = flink::AppState { runtime: "FLINK-1_20".into(), ..update_plan_state(&s) };
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), false, Some(&state)).unwrap();
    let update = mock!(Client::update_application)
        .match_requests(|r| {
            let restore =
                r.run_configuration_update().and_then(|c| c.application_restore_configuration()).map(|c| c.application_restore_type());
            r.runtime_environment_update() == Some(&RuntimeEnvironment::Flink22)
                && restore == Some(&ApplicationRestoreType::RestoreFromLatestSnapshot)
                && r.application_configuration_update()
                    .and_then(|c| c.application_code_configuration_update())
                    .and_then(|u| u.code_content_update())
                    .and_then(|u| u.s3_content_location_update())
                    .and_then(|u| u.file_key_update())
                    == Some(NEW_KEY)
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 8, RuntimeEnvironment::Flink22))
                .build()
        });
    let rules = [update, describe(ApplicationStatus::Running, 8), describe(ApplicationStatus::Running, 8)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let (status, version) = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("RUNNING", 8));
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

/// The application of [`update_plan`] as another change left it: at `version`, changed by `change`.
fn changed_meanwhile(s: &Settings, version: i64, change: impl FnOnce(&mut flink::AppState)) -> Rule {
    let mut state = update_plan_state(s);
    state.property_groups.get_mut("detector").unwrap().insert("threshold_multiplier".into(), "2.5".into());
    state.version_id = version;
    change(&mut state);
    describe_state(state)
}

#[tokio::test]
async fn after_a_concurrent_change_elsewhere_the_update_is_planned_again_and_sent_from_the_new_version() {
    let s = settings(false);
    // Someone stopped the application meanwhile: the new plan restores no snapshot (there is no running job).
    let resent = mock!(Client::update_application)
        .match_requests(|r| {
            r.current_application_version_id() == Some(8)
                && r.run_configuration_update().is_none()
                && r.application_configuration_update().unwrap().environment_property_updates().is_some()
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 9, RuntimeEnvironment::Flink120))
                .build()
        });
    let rules = [
        conflict(),
        changed_meanwhile(&s, 8, |a| a.status = "READY".into()),
        resent,
        describe(ApplicationStatus::Ready, 9),
        describe(ApplicationStatus::Ready, 9),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let (status, version) = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("READY", 9));
    assert!(rules.iter().all(|r| r.num_calls() == 1), "every call made once, in order");
}

#[tokio::test]
async fn a_concurrent_change_that_made_part_of_the_plan_leaves_only_the_rest_to_send() {
    let s = settings(false);
    // The other change set the threshold this deploy wants: only the code is left, and the properties are not sent.
    let code_only = mock!(Client::update_application)
        .match_requests(|r| {
            let c = r.application_configuration_update().unwrap();
            r.current_application_version_id() == Some(8)
                && c.environment_property_updates().is_none()
                && c.application_code_configuration_update().is_some()
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 9, RuntimeEnvironment::Flink120))
                .build()
        });
    let wanted = s.property_groups["detector"]["threshold_multiplier"].clone();
    let rules = [
        conflict(),
        changed_meanwhile(&s, 8, |a| {
            a.property_groups.get_mut("detector").unwrap().insert("threshold_multiplier".into(), wanted);
        }),
        code_only,
        describe(ApplicationStatus::Running, 9),
        describe(ApplicationStatus::Running, 9),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let (_, version) = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!(version, 9);
    assert!(rules.iter().all(|r| r.num_calls() == 1), "every call made once, in order");
}

#[tokio::test]
async fn a_concurrent_change_of_what_the_plan_changes_stops_the_deploy_without_overwriting_it() {
    let s = settings(false);
    let rules = [
        conflict(),
        changed_meanwhile(&s, 8, |a| {
            a.property_groups.get_mut("detector").unwrap().insert("threshold_multiplier".into(), "5".into());
        }),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert!(matches!(err, DeployError::ConcurrentChange { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "application `anomaly-detector` was changed by someone else while this deploy ran, in what this deploy changes: \
         detector.threshold_multiplier was 2.5, is now 5, this deploy wants 3.0"
    );
    assert!(rules.iter().all(|r| r.num_calls() == 1), "one UpdateApplication only: the other change is not overwritten");

    // A setting the plan left alone, changed meanwhile, would be undone by the new plan: refused the same way.
    let rules = [conflict(), changed_meanwhile(&s, 8, |a| a.parallelism = Some(4))];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert!(err.to_string().ends_with("parallelism was 1, is now 4, this deploy wants 1"), "{err}");
}

#[tokio::test]
async fn conflicts_that_do_not_stop_end_in_a_bounded_error() {
    let s = settings(false);
    let rules = [conflict(), changed_meanwhile(&s, 8, |_| {}), conflict(), changed_meanwhile(&s, 9, |_| {}), conflict()];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert!(matches!(err, DeployError::Conflict { attempts: 3, .. }), "{err:?}");
    assert_eq!(err.to_string(), "application `anomaly-detector` was modified concurrently 3 times in a row; gave up");
}

#[tokio::test]
async fn an_update_that_does_not_reach_running_is_rolled_back_and_says_so() {
    let s = settings(false);
    let rollback = mock!(Client::rollback_application)
        .match_requests(|r| r.current_application_version_id() == Some(8) && r.application_name() == Some(APP))
        .then_output(|| {
            RollbackApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::RollingBack, 9, RuntimeEnvironment::Flink120))
                .build()
        });
    // The job fails on the new code and the application settles in READY instead of RUNNING.
    let rules = [
        updated(7),
        describe(ApplicationStatus::Updating, 8),
        describe(ApplicationStatus::Ready, 8),
        rollback,
        describe(ApplicationStatus::Running, 9),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "application `anomaly-detector` did not reach RUNNING after the update (it was READY); \
         rolled back with RollbackApplication: now version 9 and RUNNING"
    );
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn an_update_still_updating_at_the_deadline_is_rolled_back_too() {
    let s = settings(false);
    let rollback = mock!(Client::rollback_application).then_output(|| RollbackApplicationOutput::builder().build());
    let rules = [updated(7), describe(ApplicationStatus::Updating, 8), rollback, describe(ApplicationStatus::Running, 9)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::ZERO)).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("(it was still UPDATING after 0 s)") && text.contains("rolled back with RollbackApplication"), "{text}");
}

#[tokio::test]
async fn a_start_refused_for_the_applications_state_is_a_state_error() {
    let mut s = settings(true);
    s.start = true;
    let state = flink::AppState { status: "READY".into(), version_id: 3, ..update_plan_state(&s) };
    let plan = plan::decide(&s, ("a.jar", "x", 1), &code(OLD_KEY), true, Some(&state)).unwrap();
    assert_eq!(plan.app, AppAction::Unchanged { version_id: 3, status: "READY".into() });
    let refuse = mock!(Client::start_application).then_error(|| {
        StartApplicationError::ResourceInUseException(ResourceInUseException::builder().message("Application is STOPPING").build())
    });
    let rules = [refuse];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&plan, &s, &code(OLD_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(err.to_string(), "application `anomaly-detector` is READY, which does not allow a start");
}

#[tokio::test]
async fn a_start_that_settles_short_of_running_is_reported() {
    let s = settings(true);
    let state = flink::AppState { status: "READY".into(), version_id: 3, ..update_plan_state(&s) };
    let plan = plan::decide(&s, ("a.jar", "x", 1), &code(OLD_KEY), true, Some(&state)).unwrap();
    let start = mock!(Client::start_application)
        .match_requests(|r| {
            r.run_configuration().and_then(|c| c.application_restore_configuration()).map(|c| c.application_restore_type())
                == Some(&ApplicationRestoreType::RestoreFromLatestSnapshot)
        })
        .then_output(|| StartApplicationOutput::builder().build());
    let rules = [start, describe(ApplicationStatus::Starting, 3), describe(ApplicationStatus::Ready, 3)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&plan, &s, &code(OLD_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(err.to_string(), "application `anomaly-detector` did not start (it is READY)");
}

/// What [`flink::describe`] reads from an application deployed exactly as `s` asks, on the old jar.
fn update_plan_state(s: &Settings) -> flink::AppState {
    flink::AppState {
        status: "RUNNING".into(),
        version_id: 7,
        runtime: s.runtime.clone(),
        code: Some(code(OLD_KEY)),
        property_groups: s.property_groups.clone(),
        parallelism: Some(1),
        parallelism_per_kpu: Some(1),
        auto_scaling: Some(false),
        checkpointing: Some(true),
        checkpoint_interval_ms: Some(60_000),
        log_stream: Some(flink::LogStream { id: Some("7.1".into()), arn: LOG_STREAM.into() }),
        state_key: None,
    }
}

#[tokio::test]
async fn the_state_key_is_read_back_and_changed_by_an_update_of_the_encryption_alone() {
    let s = Settings { state_key: Some(StateKey::Customer(STATE_KEY.into())), ..settings(false) };
    // As the service describes an application on its own key: the plan changes that key and nothing else.
    let client = mock_client!(
        aws_sdk_kinesisanalyticsv2,
        RuleMode::Sequential,
        &[&describe_state(flink::AppState { state_key: Some(StateKey::AwsOwned), code: Some(code(NEW_KEY)), ..update_plan_state(&s) })]
    );
    let state = flink::describe(&client, APP).await.unwrap().unwrap();
    assert_eq!(state.state_key, Some(StateKey::AwsOwned));
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), true, Some(&state)).unwrap();
    assert!(plan.to_text(true).contains(&format!("state_kms_key: AWS-owned key → {STATE_KEY}")), "{}", plan.to_text(true));
    let update = mock!(Client::update_application)
        .match_requests(|r| {
            let c = r.application_configuration_update().unwrap();
            let key = c.application_encryption_configuration_update().unwrap();
            key.key_type_update() == &KeyType::CustomerManagedKey
                && key.key_id_update() == Some(STATE_KEY)
                && c.application_code_configuration_update().is_none()
                && c.environment_property_updates().is_none()
                && c.flink_application_configuration_update().is_none()
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 8, RuntimeEnvironment::Flink120))
                .build()
        });
    let rules = [update, describe(ApplicationStatus::Running, 8), describe(ApplicationStatus::Running, 8)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert!(rules.iter().all(|r| r.num_calls() == 1));

    // On that key already: nothing to change. Without a key asked for, the encryption is left as it is.
    let on_key =
        flink::AppState { state_key: Some(StateKey::Customer(STATE_KEY.into())), code: Some(code(NEW_KEY)), ..update_plan_state(&s) };
    assert!(matches!(
        plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), true, Some(&on_key)).unwrap().app,
        AppAction::Unchanged { .. }
    ));
    let unasked = Settings { state_key: None, ..s.clone() };
    assert!(matches!(
        plan::decide(&unasked, ("a.jar", "new", 10), &code(NEW_KEY), true, Some(&state)).unwrap().app,
        AppAction::Unchanged { .. }
    ));
}

#[tokio::test]
async fn describe_reads_a_missing_application_as_none_and_another_runtime_as_wrong() {
    let missing = mock!(Client::describe_application).then_error(|| {
        DescribeApplicationError::ResourceNotFoundException(ResourceNotFoundException::builder().message("no such app").build())
    });
    let old = mock!(Client::describe_application).then_output(|| {
        DescribeApplicationOutput::builder().application_detail(detail(ApplicationStatus::Running, 4, RuntimeEnvironment::Flink115)).build()
    });
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &[&missing, &old]);
    assert_eq!(flink::describe(&client, APP).await.unwrap(), None);
    let state = flink::describe(&client, APP).await.unwrap().unwrap();
    assert_eq!((state.runtime.as_str(), state.code.clone()), ("FLINK-1_15", Some(code(OLD_KEY))));
    let err = plan::decide(&settings(false), ("a.jar", "x", 1), &code(NEW_KEY), true, Some(&state)).unwrap_err();
    assert!(matches!(err, DeployError::WrongRuntime { .. }), "{err:?}");
}

#[tokio::test]
async fn a_running_application_without_logging_is_updated_then_given_the_log_stream() {
    let s = settings(false);
    let mut state = update_plan_state(&s);
    state.log_stream = None;
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), false, Some(&state)).unwrap();
    let update = mock!(Client::update_application)
        .match_requests(|r| r.current_application_version_id() == Some(7) && r.cloud_watch_logging_option_updates().is_empty())
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 8, RuntimeEnvironment::Flink120))
                .build()
        });
    // Added from the version the update settled at, once the application is RUNNING again.
    let add = mock!(Client::add_application_cloud_watch_logging_option)
        .match_requests(|r| {
            r.application_name() == Some(APP)
                && r.current_application_version_id() == Some(8)
                && r.cloud_watch_logging_option().map(|o| o.log_stream_arn()) == Some(LOG_STREAM)
        })
        .then_output(|| AddApplicationCloudWatchLoggingOptionOutput::builder().application_version_id(9).build());
    let rules = [
        update,
        describe(ApplicationStatus::Updating, 8),
        describe(ApplicationStatus::Running, 8),
        add,
        describe(ApplicationStatus::Updating, 9),
        describe(ApplicationStatus::Running, 9),
        describe(ApplicationStatus::Running, 9),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let (status, version) = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("RUNNING", 9));
    assert!(rules.iter().all(|r| r.num_calls() == 1), "every call made once, in order");
}

#[tokio::test]
async fn a_new_log_stream_alone_updates_the_logging_option_by_its_id_and_nothing_else() {
    let s = settings(false);
    let mut state = update_plan_state(&s);
    state.code = Some(code(NEW_KEY));
    state.log_stream =
        Some(flink::LogStream { id: Some("7.1".into()), arn: "arn:aws:logs:us-east-1:123456789012:log-group:old:log-stream:app".into() });
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), true, Some(&state)).unwrap();
    let update = mock!(Client::update_application)
        .match_requests(|r| {
            let logging = r.cloud_watch_logging_option_updates();
            r.current_application_version_id() == Some(7)
                && r.application_configuration_update().is_none()
                && logging.len() == 1
                && logging[0].cloud_watch_logging_option_id() == "7.1"
                && logging[0].log_stream_arn_update() == Some(LOG_STREAM)
        })
        .then_output(|| {
            UpdateApplicationOutput::builder()
                .application_detail(detail(ApplicationStatus::Updating, 8, RuntimeEnvironment::Flink120))
                .build()
        });
    let rules = [update, describe(ApplicationStatus::Running, 8), describe(ApplicationStatus::Running, 8)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let (status, version) = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap();
    assert_eq!((status.as_str(), version), ("RUNNING", 8));
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn adding_a_log_stream_to_a_busy_application_is_a_state_error() {
    let s = settings(false);
    let state = flink::AppState { status: "READY".into(), log_stream: None, code: Some(code(NEW_KEY)), ..update_plan_state(&s) };
    let plan = plan::decide(&s, ("a.jar", "new", 10), &code(NEW_KEY), true, Some(&state)).unwrap();
    let refuse = mock!(Client::add_application_cloud_watch_logging_option).then_error(|| {
        aws_sdk_kinesisanalyticsv2::operation::add_application_cloud_watch_logging_option::AddApplicationCloudWatchLoggingOptionError::ResourceInUseException(
            ResourceInUseException::builder().message("Application is UPDATING").build(),
        )
    });
    // No UpdateApplication: only the log stream differs, and adding it is a call of its own.
    let rules = [refuse, describe(ApplicationStatus::Updating, 7)];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&plan, &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert_eq!(err.to_string(), "application `anomaly-detector` is UPDATING, which does not allow adding a log stream");
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn a_rollback_that_meets_a_concurrent_modification_is_retried_from_the_new_version_id() {
    let s = settings(false);
    let conflict = mock!(Client::rollback_application).then_error(|| {
        aws_sdk_kinesisanalyticsv2::operation::rollback_application::RollbackApplicationError::ConcurrentModificationException(
            ConcurrentModificationException::builder().message("busy").build(),
        )
    });
    let rollback = mock!(Client::rollback_application)
        .match_requests(|r| r.current_application_version_id() == Some(9))
        .then_output(|| RollbackApplicationOutput::builder().build());
    let rules = [
        updated(7),
        describe(ApplicationStatus::Ready, 8),
        conflict,
        describe(ApplicationStatus::Ready, 9),
        rollback,
        describe(ApplicationStatus::Running, 10),
    ];
    let client = mock_client!(aws_sdk_kinesisanalyticsv2, RuleMode::Sequential, &rules);
    let err = apply(&update_plan(&s), &s, &code(NEW_KEY), &client, &timing(Duration::from_secs(60))).await.unwrap_err();
    assert!(err.to_string().ends_with("rolled back with RollbackApplication: now version 10 and RUNNING"), "{err}");
    assert!(rules.iter().all(|r| r.num_calls() == 1), "every call made once, in order");
}
