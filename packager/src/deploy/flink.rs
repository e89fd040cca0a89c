//! The Managed Flink (kinesisanalyticsv2) calls: describe, create, update, start, rollback. Changes use the
//! application's current version id and are retried with backoff when another change got there first.

use super::error::DeployError;
use super::settings::{Settings, StateKey};
use super::wait::Timing;
use crate::aws::error::AwsError;
use aws_sdk_kinesisanalyticsv2::Client;
use aws_sdk_kinesisanalyticsv2::error::SdkError;
use aws_sdk_kinesisanalyticsv2::operation::add_application_cloud_watch_logging_option::AddApplicationCloudWatchLoggingOptionError as AddLoggingError;
use aws_sdk_kinesisanalyticsv2::operation::rollback_application::RollbackApplicationError;
use aws_sdk_kinesisanalyticsv2::operation::update_application::UpdateApplicationError;
use aws_sdk_kinesisanalyticsv2::types::{
    ApplicationCodeConfiguration, ApplicationCodeConfigurationUpdate, ApplicationConfiguration, ApplicationConfigurationUpdate,
    ApplicationEncryptionConfiguration, ApplicationEncryptionConfigurationUpdate, ApplicationRestoreConfiguration, ApplicationRestoreType,
    ApplicationSnapshotConfiguration, CheckpointConfiguration, CheckpointConfigurationUpdate, CloudWatchLoggingOption,
    CloudWatchLoggingOptionUpdate, CodeContent, CodeContentType, CodeContentUpdate, ConfigurationType, EnvironmentProperties,
    EnvironmentPropertyUpdates, FlinkApplicationConfiguration, FlinkApplicationConfigurationUpdate, KeyType, ParallelismConfiguration,
    ParallelismConfigurationUpdate, PropertyGroup, RunConfiguration, RunConfigurationUpdate, RuntimeEnvironment, S3ContentLocation,
    S3ContentLocationUpdate,
};
use std::collections::BTreeMap;

/// Property groups by id, keys sorted (so plans and comparisons are stable).
pub type Groups = BTreeMap<String, detector_wasm::properties::PropertyMap>;

/// What deploy needs to know about an existing application.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppState {
    pub status: String,
    pub version_id: i64,
    pub runtime: String,
    /// Where the code is (with the object version it is pinned to, if any).
    pub code: Option<CodeLocation>,
    pub property_groups: Groups,
    pub parallelism: Option<i32>,
    pub parallelism_per_kpu: Option<i32>,
    pub auto_scaling: Option<bool>,
    pub checkpointing: Option<bool>,
    pub checkpoint_interval_ms: Option<i64>,
    /// The CloudWatch log stream the application logs to, if any.
    pub log_stream: Option<LogStream>,
    /// The key its state is encrypted with (`None`: not described, which is the service's own key).
    pub state_key: Option<StateKey>,
}

/// An application's CloudWatch logging option, as described.
#[derive(Debug, Clone, PartialEq)]
pub struct LogStream {
    /// The option's id, which an update of the log stream names.
    pub id: Option<String>,
    pub arn: String,
}

/// Where the code goes: bucket ARN, key and, in a versioned bucket, the object version the application is pinned to
/// (so a later write to the key cannot change what a restart runs).
#[derive(Debug, Clone, PartialEq)]
pub struct CodeLocation {
    pub bucket_arn: String,
    pub key: String,
    pub object_version: Option<String>,
}

impl std::fmt::Display for CodeLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.bucket_arn, self.key)?;
        match &self.object_version {
            Some(v) => write!(f, " version {v}"),
            None => Ok(()),
        }
    }
}

/// Describes `application`; `None` when it does not exist.
pub async fn describe(client: &Client, application: &str) -> Result<Option<AppState>, DeployError> {
    let out = match client.describe_application().application_name(application).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
        Err(e) => return Err(DeployError::aws(format!("DescribeApplication `{application}`"), &e)),
    };
    let Some(detail) = out.application_detail() else {
        return Err(AwsError::Call {
            action: format!("DescribeApplication `{application}`"),
            message: "the answer has no application detail".into(),
        }
        .into());
    };
    let config = detail.application_configuration_description();
    let code = config
        .and_then(|c| c.application_code_configuration_description())
        .and_then(|c| c.code_content_description())
        .and_then(|c| c.s3_application_code_location_description())
        .map(|s3| CodeLocation {
            bucket_arn: s3.bucket_arn().to_string(),
            key: s3.file_key().to_string(),
            object_version: s3.object_version().map(str::to_string),
        });
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
        state_key: config.and_then(|c| c.application_encryption_configuration_description()).map(|e| match e.key_type() {
            KeyType::CustomerManagedKey => StateKey::Customer(e.key_id().unwrap_or_default().to_string()),
            _ => StateKey::AwsOwned,
        }),
        log_stream: detail
            .cloud_watch_logging_option_descriptions()
            .first()
            .map(|l| LogStream { id: l.cloud_watch_logging_option_id().map(str::to_string), arn: l.log_stream_arn().to_string() }),
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
    AwsError::Call { action: "building the request".into(), message: e.to_string() }.into()
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

/// Creates the application: the jar's runtime, the code, checkpointing, parallelism, snapshots, property groups, logging.
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
                            S3ContentLocation::builder()
                                .bucket_arn(&code.bucket_arn)
                                .file_key(&code.key)
                                .set_object_version(code.object_version.clone())
                                .build()
                                .map_err(build_error)?,
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
        .set_application_encryption_configuration(match &settings.state_key {
            Some(StateKey::Customer(key)) => Some(
                ApplicationEncryptionConfiguration::builder()
                    .key_type(KeyType::CustomerManagedKey)
                    .key_id(key)
                    .build()
                    .map_err(build_error)?,
            ),
            _ => None,
        })
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
            .runtime_environment(RuntimeEnvironment::from(settings.runtime.as_str()))
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
    /// A new runtime (`--upgrade-runtime`): an in-place version upgrade.
    pub runtime: Option<String>,
    pub log_stream: Option<LogStreamChange>,
    /// A new key for the application's state.
    pub state_key: Option<StateKey>,
}

/// A change of the CloudWatch log stream.
#[derive(Debug, Clone, PartialEq)]
pub enum LogStreamChange {
    /// The application logs elsewhere: UpdateApplication points its logging option (by id) at `arn`.
    Replace { id: String, arn: String },
    /// The application has no logging option: AddApplicationCloudWatchLoggingOption, a call of its own.
    Add { arn: String },
}

impl Update {
    /// Whether UpdateApplication has anything to send (adding a log stream is a separate call).
    pub fn needs_update_call(&self) -> bool {
        self.changes_configuration() || self.runtime.is_some() || matches!(self.log_stream, Some(LogStreamChange::Replace { .. }))
    }

    /// Whether the application configuration (code, properties, parallelism, checkpointing, state key) changes.
    fn changes_configuration(&self) -> bool {
        self.code.is_some() || self.property_groups.is_some() || self.parallelism || self.checkpointing || self.state_key.is_some()
    }

    /// The log stream to add with [`add_log_stream`], if any.
    pub fn log_stream_to_add(&self) -> Option<&str> {
        match &self.log_stream {
            Some(LogStreamChange::Add { arn }) => Some(arn),
            _ => None,
        }
    }
}

/// How a call that names the application's version id failed.
enum Failure {
    /// ConcurrentModificationException: the version id is stale.
    Conflict,
    /// ResourceInUseException: the application's status forbids the call.
    InUse,
    Other(DeployError),
}

impl Failure {
    /// Sorts the error of `action`: `conflict` and `in_use` say whether the service error is of those kinds.
    fn of<E, R>(e: SdkError<E, R>, conflict: fn(&E) -> bool, in_use: fn(&E) -> bool, action: impl FnOnce() -> String) -> Failure
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        match e.as_service_error() {
            Some(s) if conflict(s) => Failure::Conflict,
            Some(s) if in_use(s) => Failure::InUse,
            _ => Failure::Other(DeployError::aws(action(), &e)),
        }
    }
}

/// Runs `call` with the application's version id; after a concurrent modification it pauses, describes the
/// application again and runs `call` with the new version id and what it read (`None` the first time), at most
/// `timing.conflict_attempts` times. `action` names the call in errors, `refused` what a status that forbids it does
/// not allow ("an update").
async fn at_current_version<T, F, Fut>(
    client: &Client,
    name: &str,
    mut version_id: i64,
    action: &'static str,
    refused: &'static str,
    timing: &Timing,
    mut call: F,
) -> Result<T, DeployError>
where
    F: FnMut(i64, Option<&AppState>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let mut attempt = 0;
    let mut now: Option<AppState> = None;
    loop {
        match call(version_id, now.as_ref()).await {
            Ok(out) => return Ok(out),
            Err(Failure::Conflict) => {
                conflict_pause(name, &mut attempt, timing).await?;
                let state = describe(client, name).await?.ok_or_else(|| AwsError::Call {
                    action: format!("{action} `{name}`"),
                    message: "the application was deleted meanwhile".into(),
                })?;
                version_id = state.version_id;
                now = Some(state);
            }
            Err(Failure::InUse) => {
                let status = describe(client, name).await.ok().flatten().map(|s| s.status).unwrap_or_else(|| "busy".into());
                return Err(state_error(name, refused, &status));
            }
            Err(Failure::Other(e)) => return Err(e),
        }
    }
}

/// The UpdateApplication request for `change` from `version_id` (only what changes is sent).
fn update_request(
    client: &Client,
    settings: &Settings,
    version_id: i64,
    change: &Update,
) -> Result<aws_sdk_kinesisanalyticsv2::operation::update_application::builders::UpdateApplicationFluentBuilder, DeployError> {
    let mut configuration = ApplicationConfigurationUpdate::builder();
    if let Some(code) = &change.code {
        configuration = configuration.application_code_configuration_update(
            ApplicationCodeConfigurationUpdate::builder()
                .code_content_type_update(CodeContentType::Zipfile)
                .code_content_update(
                    CodeContentUpdate::builder()
                        .s3_content_location_update(
                            S3ContentLocationUpdate::builder()
                                .bucket_arn_update(&code.bucket_arn)
                                .file_key_update(&code.key)
                                .set_object_version_update(code.object_version.clone())
                                .build(),
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
    if let Some(key) = &change.state_key {
        let update = match key {
            StateKey::AwsOwned => ApplicationEncryptionConfigurationUpdate::builder().key_type_update(KeyType::AwsOwnedKey),
            StateKey::Customer(id) => {
                ApplicationEncryptionConfigurationUpdate::builder().key_type_update(KeyType::CustomerManagedKey).key_id_update(id)
            }
        };
        configuration = configuration.application_encryption_configuration_update(update.build().map_err(build_error)?);
    }
    let logging = match &change.log_stream {
        Some(LogStreamChange::Replace { id, arn }) => Some(vec![
            CloudWatchLoggingOptionUpdate::builder()
                .cloud_watch_logging_option_id(id)
                .log_stream_arn_update(arn)
                .build()
                .map_err(build_error)?,
        ]),
        _ => None,
    };
    Ok(client
        .update_application()
        .application_name(&settings.application_name)
        .current_application_version_id(version_id)
        // A change of log stream alone sends no configuration part.
        .set_application_configuration_update(change.changes_configuration().then(|| configuration.build()))
        .set_runtime_environment_update(change.runtime.as_deref().map(RuntimeEnvironment::from))
        .set_cloud_watch_logging_option_updates(logging)
        .set_run_configuration_update(change.restore_from_latest_snapshot.then(|| {
            RunConfigurationUpdate::builder()
                .application_restore_configuration(restore(ApplicationRestoreType::RestoreFromLatestSnapshot))
                .build()
        })))
}

/// Updates the application from `version_id` with `change`. After a conflict (someone else changed the application
/// first) it never re-sends `change`: `replan` gets the application as it is now and says what to send instead —
/// an error to stop (the other change overlaps this one), or `None` when nothing is left to change. Returns the
/// version id the update created (`None`: nothing was sent).
pub async fn update(
    client: &Client,
    settings: &Settings,
    version_id: i64,
    change: &Update,
    timing: &Timing,
    mut replan: impl FnMut(&AppState) -> Result<Option<Update>, DeployError>,
) -> Result<Option<i64>, DeployError> {
    let name = &settings.application_name;
    at_current_version(client, name, version_id, "UpdateApplication", "an update", timing, |version_id, now| {
        let next = match now {
            None => Ok(Some(change.clone())),
            Some(state) => replan(state),
        };
        let request = next.and_then(|next| next.map(|c| update_request(client, settings, version_id, &c)).transpose());
        async move {
            let Some(request) = request.map_err(Failure::Other)? else { return Ok(None) };
            let out = request.send().await.map_err(|e| {
                Failure::of(
                    e,
                    UpdateApplicationError::is_concurrent_modification_exception,
                    UpdateApplicationError::is_resource_in_use_exception,
                    || format!("UpdateApplication `{name}` from version {version_id}"),
                )
            })?;
            Ok(Some(out.application_detail().map(|d| d.application_version_id()).unwrap_or(version_id + 1)))
        }
    })
    .await
}

/// Adds the CloudWatch logging option `arn` to an application that has none; returns the version id it created.
pub async fn add_log_stream(client: &Client, name: &str, version_id: i64, arn: &str, timing: &Timing) -> Result<i64, DeployError> {
    let option = CloudWatchLoggingOption::builder().log_stream_arn(arn).build().map_err(build_error)?;
    at_current_version(client, name, version_id, "AddApplicationCloudWatchLoggingOption", "adding a log stream", timing, |version_id, _| {
        let request = client
            .add_application_cloud_watch_logging_option()
            .application_name(name)
            .current_application_version_id(version_id)
            .cloud_watch_logging_option(option.clone());
        async move {
            let out = request.send().await.map_err(|e| {
                Failure::of(e, AddLoggingError::is_concurrent_modification_exception, AddLoggingError::is_resource_in_use_exception, || {
                    format!("AddApplicationCloudWatchLoggingOption `{name}` from version {version_id}")
                })
            })?;
            Ok(out.application_version_id().unwrap_or(version_id + 1))
        }
    })
    .await
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
    at_current_version(client, application, version_id, "RollbackApplication", "a rollback", timing, |version_id, _| {
        let request = client.rollback_application().application_name(application).current_application_version_id(version_id);
        async move {
            // Any other refusal is reported as the service worded it.
            let never = |_: &RollbackApplicationError| false;
            request.send().await.map(|_| ()).map_err(|e| {
                Failure::of(e, RollbackApplicationError::is_concurrent_modification_exception, never, || {
                    format!("RollbackApplication `{application}`")
                })
            })
        }
    })
    .await
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
