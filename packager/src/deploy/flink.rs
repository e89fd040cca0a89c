//! The Managed Flink (kinesisanalyticsv2) calls: describe, create, update, start, rollback. Changes use the
//! application's current version id and are retried with backoff when another change got there first.

use super::error::{DeployError, error_chain};
use super::settings::Settings;
use super::wait::Timing;
use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationCodeConfiguration, ApplicationCodeConfigurationUpdate, ApplicationConfiguration, ApplicationConfigurationUpdate,
    ApplicationRestoreConfiguration, ApplicationRestoreType, ApplicationSnapshotConfiguration, CheckpointConfiguration,
    CheckpointConfigurationUpdate, CloudWatchLoggingOption, CodeContent, CodeContentType, CodeContentUpdate, ConfigurationType,
    EnvironmentProperties, EnvironmentPropertyUpdates, FlinkApplicationConfiguration, FlinkApplicationConfigurationUpdate,
    ParallelismConfiguration, ParallelismConfigurationUpdate, PropertyGroup, RunConfiguration, RunConfigurationUpdate, RuntimeEnvironment,
    S3ContentLocation, S3ContentLocationUpdate,
};
use std::collections::BTreeMap;

/// The runtime this packager builds for.
pub const RUNTIME: &str = "FLINK-1_20";

/// Property groups by id, keys sorted (so plans and comparisons are stable).
pub type Groups = BTreeMap<String, BTreeMap<String, String>>;

/// What deploy needs to know about an existing application.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub status: String,
    pub version_id: i64,
    pub runtime: String,
    /// (bucket ARN, key) of the code.
    pub code: Option<(String, String)>,
    pub property_groups: Groups,
    pub parallelism: Option<i32>,
    pub parallelism_per_kpu: Option<i32>,
    pub auto_scaling: Option<bool>,
    pub checkpointing: Option<bool>,
    pub checkpoint_interval_ms: Option<i64>,
}

/// Where the code goes: bucket ARN and key.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeLocation {
    pub bucket_arn: String,
    pub key: String,
}

/// Describes `application`; `None` when it does not exist.
pub async fn describe(client: &Client, application: &str) -> Result<Option<AppState>, DeployError> {
    let out = match client.describe_application().application_name(application).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
        Err(e) => return Err(DeployError::aws(format!("DescribeApplication `{application}`"), &e)),
    };
    let Some(detail) = out.application_detail() else {
        return Err(DeployError::Aws {
            action: format!("DescribeApplication `{application}`"),
            message: "the answer has no application detail".into(),
        });
    };
    let config = detail.application_configuration_description();
    let code = config
        .and_then(|c| c.application_code_configuration_description())
        .and_then(|c| c.code_content_description())
        .and_then(|c| c.s3_application_code_location_description())
        .map(|s3| (s3.bucket_arn().to_string(), s3.file_key().to_string()));
    let property_groups = config
        .and_then(|c| c.environment_property_descriptions())
        .map(|p| {
            p.property_group_descriptions()
                .iter()
                .map(|g| (g.property_group_id().to_string(), g.property_map().iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
                .collect()
        })
        .unwrap_or_default();
    let flink = config.and_then(|c| c.flink_application_configuration_description());
    let parallelism = flink.and_then(|f| f.parallelism_configuration_description());
    let checkpoint = flink.and_then(|f| f.checkpoint_configuration_description());
    Ok(Some(AppState {
        status: detail.application_status().as_str().to_string(),
        version_id: detail.application_version_id(),
        runtime: detail.runtime_environment().as_str().to_string(),
        code,
        property_groups,
        parallelism: parallelism.and_then(|p| p.parallelism()),
        parallelism_per_kpu: parallelism.and_then(|p| p.parallelism_per_kpu()),
        auto_scaling: parallelism.and_then(|p| p.auto_scaling_enabled()),
        checkpointing: checkpoint.and_then(|c| c.checkpointing_enabled()),
        checkpoint_interval_ms: checkpoint.and_then(|c| c.checkpoint_interval()),
    }))
}

fn property_groups(groups: &Groups) -> Vec<PropertyGroup> {
    groups
        .iter()
        .map(|(id, map)| {
            PropertyGroup::builder()
                .property_group_id(id)
                .set_property_map(Some(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()))
                .build()
                .expect("property group id is set")
        })
        .collect()
}

fn build_error(e: aws_sdk_kinesisanalyticsv2::error::BuildError) -> DeployError {
    DeployError::Aws { action: "building the request".into(), message: e.to_string() }
}

/// The error for a call the application's state forbids (ResourceInUseException).
fn state_error(application: &str, action: &'static str, status: &str) -> DeployError {
    DeployError::State {
        application: application.into(),
        status: status.into(),
        action,
        help: "wait until it is READY or RUNNING (or stop it in the console) and run the deploy again",
    }
}

/// Creates the application: FLINK-1_20, the code, checkpointing, parallelism, snapshots, property groups, logging.
pub async fn create(client: &Client, settings: &Settings, code: &CodeLocation, timing: &Timing) -> Result<(), DeployError> {
    let role =
        settings.service_role_arn.clone().ok_or_else(|| DeployError::RoleMissing { application: settings.application_name.clone() })?;
    let configuration = ApplicationConfiguration::builder()
        .application_code_configuration(
            ApplicationCodeConfiguration::builder()
                .code_content_type(CodeContentType::Zipfile)
                .code_content(
                    CodeContent::builder()
                        .s3_content_location(
                            S3ContentLocation::builder().bucket_arn(&code.bucket_arn).file_key(&code.key).build().map_err(build_error)?,
                        )
                        .build(),
                )
                .build()
                .map_err(build_error)?,
        )
        .flink_application_configuration(
            FlinkApplicationConfiguration::builder()
                .checkpoint_configuration(
                    CheckpointConfiguration::builder()
                        .configuration_type(ConfigurationType::Custom)
                        .checkpointing_enabled(true)
                        .checkpoint_interval(settings.checkpoint_interval_ms)
                        .build()
                        .map_err(build_error)?,
                )
                .parallelism_configuration(
                    ParallelismConfiguration::builder()
                        .configuration_type(ConfigurationType::Custom)
                        .parallelism(settings.parallelism)
                        .parallelism_per_kpu(settings.parallelism_per_kpu)
                        .auto_scaling_enabled(settings.auto_scaling)
                        .build()
                        .map_err(build_error)?,
                )
                .build(),
        )
        // Snapshots carry every key's baseline across updates and restarts.
        .application_snapshot_configuration(
            ApplicationSnapshotConfiguration::builder().snapshots_enabled(true).build().map_err(build_error)?,
        )
        .environment_properties(
            EnvironmentProperties::builder()
                .set_property_groups(Some(property_groups(&settings.property_groups)))
                .build()
                .map_err(build_error)?,
        )
        .build();
    let logging = match &settings.log_stream_arn {
        Some(arn) => vec![CloudWatchLoggingOption::builder().log_stream_arn(arn).build().map_err(build_error)?],
        None => vec![],
    };
    let name = &settings.application_name;
    let mut attempt = 0;
    loop {
        let result = client
            .create_application()
            .application_name(name)
            .runtime_environment(RuntimeEnvironment::from(RUNTIME))
            .service_execution_role(&role)
            .application_configuration(configuration.clone())
            .set_cloud_watch_logging_options((!logging.is_empty()).then(|| logging.clone()))
            .send()
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_concurrent_modification_exception()) => {
                conflict_pause(name, &mut attempt, timing).await?
            }
            Err(e) => return Err(DeployError::aws(format!("CreateApplication `{name}`"), &e)),
        }
    }
}

/// What an update changes (`None`: leave as is).
#[derive(Debug, Clone, Default)]
pub struct Update {
    pub code: Option<CodeLocation>,
    pub property_groups: Option<Groups>,
    pub parallelism: bool,
    pub checkpointing: bool,
    /// The application is running: restart it from its latest snapshot so every key keeps its baseline.
    pub restore_from_latest_snapshot: bool,
}

/// Updates the application from `version_id`; after a conflict it reads the new version id and tries again.
/// Returns the version id the update created.
pub async fn update(
    client: &Client,
    settings: &Settings,
    mut version_id: i64,
    change: &Update,
    timing: &Timing,
) -> Result<i64, DeployError> {
    let name = &settings.application_name;
    let mut configuration = ApplicationConfigurationUpdate::builder();
    if let Some(code) = &change.code {
        configuration = configuration.application_code_configuration_update(
            ApplicationCodeConfigurationUpdate::builder()
                .code_content_type_update(CodeContentType::Zipfile)
                .code_content_update(
                    CodeContentUpdate::builder()
                        .s3_content_location_update(
                            S3ContentLocationUpdate::builder().bucket_arn_update(&code.bucket_arn).file_key_update(&code.key).build(),
                        )
                        .build(),
                )
                .build(),
        );
    }
    if let Some(groups) = &change.property_groups {
        configuration = configuration.environment_property_updates(
            EnvironmentPropertyUpdates::builder().set_property_groups(Some(property_groups(groups))).build().map_err(build_error)?,
        );
    }
    if change.parallelism || change.checkpointing {
        let mut flink = FlinkApplicationConfigurationUpdate::builder();
        if change.parallelism {
            flink = flink.parallelism_configuration_update(
                ParallelismConfigurationUpdate::builder()
                    .configuration_type_update(ConfigurationType::Custom)
                    .parallelism_update(settings.parallelism)
                    .parallelism_per_kpu_update(settings.parallelism_per_kpu)
                    .auto_scaling_enabled_update(settings.auto_scaling)
                    .build(),
            );
        }
        if change.checkpointing {
            flink = flink.checkpoint_configuration_update(
                CheckpointConfigurationUpdate::builder()
                    .configuration_type_update(ConfigurationType::Custom)
                    .checkpointing_enabled_update(true)
                    .checkpoint_interval_update(settings.checkpoint_interval_ms)
                    .build(),
            );
        }
        configuration = configuration.flink_application_configuration_update(flink.build());
    }
    let configuration = configuration.build();
    let run = change.restore_from_latest_snapshot.then(|| {
        RunConfigurationUpdate::builder()
            .application_restore_configuration(restore(ApplicationRestoreType::RestoreFromLatestSnapshot))
            .build()
    });
    let mut attempt = 0;
    loop {
        let result = client
            .update_application()
            .application_name(name)
            .current_application_version_id(version_id)
            .application_configuration_update(configuration.clone())
            .set_run_configuration_update(run.clone())
            .send()
            .await;
        match result {
            Ok(out) => return Ok(out.application_detail().map(|d| d.application_version_id()).unwrap_or(version_id + 1)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_concurrent_modification_exception()) => {
                conflict_pause(name, &mut attempt, timing).await?;
                let state = describe(client, name).await?.ok_or_else(|| DeployError::Aws {
                    action: format!("UpdateApplication `{name}`"),
                    message: "the application was deleted during the update".into(),
                })?;
                version_id = state.version_id;
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {
                let status = describe(client, name).await.ok().flatten().map(|s| s.status).unwrap_or_else(|| "busy".into());
                return Err(state_error(name, "an update", &status));
            }
            Err(e) => return Err(DeployError::aws(format!("UpdateApplication `{name}` from version {version_id}"), &e)),
        }
    }
}

fn restore(kind: ApplicationRestoreType) -> ApplicationRestoreConfiguration {
    ApplicationRestoreConfiguration::builder().application_restore_type(kind).build().expect("restore type is set")
}

/// Starts the application; `from_snapshot` restores the latest snapshot (an application that never ran has none).
pub async fn start(client: &Client, application: &str, from_snapshot: bool, status: &str) -> Result<(), DeployError> {
    let kind =
        if from_snapshot { ApplicationRestoreType::RestoreFromLatestSnapshot } else { ApplicationRestoreType::SkipRestoreFromSnapshot };
    let result = client
        .start_application()
        .application_name(application)
        .run_configuration(RunConfiguration::builder().application_restore_configuration(restore(kind)).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => {
            Err(state_error(application, "a start", status))
        }
        Err(e) => Err(DeployError::aws(format!("StartApplication `{application}`"), &e)),
    }
}

/// Rolls the application back to its previous version.
pub async fn rollback(client: &Client, application: &str, version_id: i64, timing: &Timing) -> Result<(), DeployError> {
    let mut version_id = version_id;
    let mut attempt = 0;
    loop {
        match client.rollback_application().application_name(application).current_application_version_id(version_id).send().await {
            Ok(_) => return Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_concurrent_modification_exception()) => {
                conflict_pause(application, &mut attempt, timing).await?;
                if let Some(state) = describe(client, application).await? {
                    version_id = state.version_id;
                }
            }
            Err(e) => return Err(DeployError::Aws { action: format!("RollbackApplication `{application}`"), message: error_chain(&e) }),
        }
    }
}

async fn conflict_pause(application: &str, attempt: &mut u32, timing: &Timing) -> Result<(), DeployError> {
    *attempt += 1;
    if *attempt >= timing.conflict_attempts {
        return Err(DeployError::Conflict { application: application.into(), attempts: *attempt });
    }
    let delay = timing.conflict.delay(*attempt - 1);
    tracing::warn!("`{application}` changed under us (ConcurrentModificationException); retry {attempt} in {} ms", delay.as_millis());
    tokio::time::sleep(delay).await;
    Ok(())
}
