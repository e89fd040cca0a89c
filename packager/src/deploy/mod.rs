//! `packager deploy`: the jar to S3 (content-addressed), then create or update the Managed Flink application, start
//! it when asked, and wait for it to settle — get, create-or-update, wait, as cargo-lambda deploys.
//!
//! One file per idea: [`settings`] (flags, packager.toml, Terraform outputs), [`jar`] (the artifact and its manifest),
//! [`s3`], [`flink`] (the Managed Flink calls), [`plan`] (what will change), [`wait`] (status polling), [`error`].
//! The SDK configuration, backoff and Terraform outputs are [`crate::aws`], shared with `packager send`.

pub mod error;
pub mod flink;
pub mod jar;
pub mod plan;
pub mod s3;
pub mod settings;
pub mod wait;

use crate::aws::{self, error::AwsError};
use crate::config::FileConfig;
use crate::output::OutputFormat;
use error::DeployError;
use flink::CodeLocation;
use jar::Jar;
use plan::{AppAction, Plan};
use serde::Serialize;
pub use settings::{DeployArgs, Settings};
use wait::{Settled, Timing};

/// The clients deploy talks to.
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub flink: aws_sdk_kinesisanalyticsv2::Client,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub plan: Plan,
    /// Status and version at the end (for a dry run: as found).
    pub status: Option<String>,
    pub version_id: Option<i64>,
}

/// Runs `packager deploy`.
pub fn run(args: DeployArgs, file: &FileConfig) -> Result<(), DeployError> {
    let mut settings = args.resolve(file)?;
    let jar = Jar::read(&settings.jar)?;
    settings.runtime = jar.runtime().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AwsError::Call { action: "starting the async runtime".into(), message: e.to_string() })?;
    let report = runtime.block_on(async {
        let sdk = aws::load(settings.region.as_deref(), settings.endpoint_url.as_deref()).await?;
        let clients = Clients { s3: aws::s3_client(&sdk), flink: aws_sdk_kinesisanalyticsv2::Client::new(&sdk) };
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        deploy(&settings, &jar, &region, &clients, &Timing::standard(settings.wait_timeout_secs)).await
    })?;
    print(&report, settings.output);
    Ok(())
}

fn print(report: &Report, output: OutputFormat) {
    match output {
        OutputFormat::Json => println!("{}", serde_json::to_string(report).expect("report serialises")),
        OutputFormat::Text => {
            print!("{}", report.plan.to_text(report.dry_run));
            if !report.dry_run {
                let version = report.version_id.map(|v| format!(" at version {v}")).unwrap_or_default();
                println!("deployed: `{}` is {}{version}", report.plan.application, report.status.as_deref().unwrap_or("unknown"));
            }
        }
    }
}

/// Plans, and unless `settings.dry_run`, uploads, creates or updates, starts and waits.
pub async fn deploy(settings: &Settings, jar: &Jar, region: &str, clients: &Clients, timing: &Timing) -> Result<Report, DeployError> {
    let name = settings.application_name.as_str();
    s3::check_bucket(&clients.s3, &settings.bucket).await?;
    let key = jar.key(&settings.key_prefix);
    let stored = s3::holds(&clients.s3, &settings.bucket, &key, None, jar).await?;
    // The application is pinned to the object version that holds the jar (the one uploaded below, if none does).
    let mut code = CodeLocation {
        bucket_arn: format!("arn:{}:s3:::{}", aws::partition(region), settings.bucket),
        key,
        object_version: stored.as_ref().and_then(|s| s.version.clone()),
    };
    let current = flink::describe(&clients.flink, name).await?;
    let jar_path = jar.path.display().to_string();
    let plan = plan::decide(settings, (&jar_path, &jar.sha256, jar.bytes.len()), &code, stored.is_some(), current.as_ref())?;
    if settings.dry_run {
        return Ok(Report {
            dry_run: true,
            status: current.as_ref().map(|c| c.status.clone()),
            version_id: current.as_ref().map(|c| c.version_id),
            plan,
        });
    }
    if plan.upload {
        tracing::info!("uploading {} to {}", jar_path, plan.s3_uri);
        code.object_version = s3::upload(&clients.s3, &settings.bucket, &code.key, jar).await?.version;
    }
    let (status, version_id) = apply(&plan, settings, &code, &clients.flink, timing).await?;
    Ok(Report { dry_run: false, status: Some(status), version_id: Some(version_id), plan })
}

/// Carries out the application part of `plan`: create or update, start, wait; rolls back an update of a running
/// application that does not reach RUNNING. Returns the final status and version.
pub async fn apply(
    plan: &Plan,
    settings: &Settings,
    code: &CodeLocation,
    client: &aws_sdk_kinesisanalyticsv2::Client,
    timing: &Timing,
) -> Result<(String, i64), DeployError> {
    let name = settings.application_name.as_str();
    match &plan.app {
        AppAction::Create => {
            tracing::info!("creating `{name}`");
            flink::create(client, settings, code, timing).await?;
            expect(wait::until_settled(client, name, "READY", timing).await?, name, "READY", timing)?;
        }
        AppAction::Update { version_id, .. } => {
            let update = plan.update(settings, code).expect("an update plan has an update");
            let mut version_id = *version_id;
            // After a concurrent change, the plan made afresh from the application as it then is.
            let mut latest = plan.clone();
            if update.needs_update_call() {
                tracing::info!("updating `{name}` from version {version_id}");
                let updated = flink::update(client, settings, version_id, &update, timing, |now| {
                    latest = latest.replan(settings, code, now)?;
                    tracing::warn!(
                        "`{name}` changed under this deploy (now version {}); re-planned:\n{}",
                        now.version_id,
                        latest.to_text(false)
                    );
                    Ok(latest.update(settings, code).filter(flink::Update::needs_update_call))
                })
                .await?;
                let target = latest.settles_in();
                let settled = wait::until_settled(client, name, target, timing).await?;
                match (settled, updated) {
                    (Settled::Reached(s), _) => version_id = s.version_id,
                    (settled, Some(new_version)) => {
                        return Err(after_failed_update(client, name, target, settled, new_version, timing).await);
                    }
                    (settled, None) => expect(settled, name, target, timing)?,
                }
            }
            // An application without a logging option gets one by a call of its own, once the update has settled.
            let last = latest.update(settings, code);
            if let Some(arn) = last.as_ref().and_then(flink::Update::log_stream_to_add) {
                let target = latest.settles_in();
                tracing::info!("adding log stream {arn} to `{name}` at version {version_id}");
                flink::add_log_stream(client, name, version_id, arn, timing).await?;
                expect(wait::until_settled(client, name, target, timing).await?, name, target, timing)?;
            }
        }
        AppAction::Unchanged { .. } => {}
    }
    if plan.start {
        tracing::info!("starting `{name}`");
        // A fresh application has no snapshot; an existing one keeps its baselines.
        let from_snapshot = !matches!(plan.app, AppAction::Create);
        flink::start(client, name, from_snapshot, "READY").await?;
        match wait::until_settled(client, name, "RUNNING", timing).await? {
            Settled::Reached(_) => {}
            Settled::Other(s) => return Err(DeployError::StartFailed { application: name.into(), status: s.status }),
            Settled::TimedOut(s) => return Err(timeout(name, "RUNNING", &s.status, timing)),
        }
    }
    let last = flink::describe(client, name)
        .await?
        .ok_or_else(|| AwsError::Call { action: format!("DescribeApplication `{name}`"), message: "the application disappeared".into() })?;
    Ok((last.status, last.version_id))
}

fn expect(settled: Settled, name: &str, target: &str, timing: &Timing) -> Result<(), DeployError> {
    match settled {
        Settled::Reached(_) => Ok(()),
        Settled::Other(s) => Err(DeployError::State {
            application: name.into(),
            status: s.status,
            action: "deploy to finish",
            help: "look at the application in the console; run the deploy again once it is READY or RUNNING",
        }),
        Settled::TimedOut(s) => Err(timeout(name, target, &s.status, timing)),
    }
}

fn timeout(name: &str, target: &str, status: &str, timing: &Timing) -> DeployError {
    DeployError::WaitTimeout { application: name.into(), target: target.into(), status: status.into(), secs: timing.timeout.as_secs() }
}

/// An update that did not reach its target: a running application is rolled back to the version before it.
async fn after_failed_update(
    client: &aws_sdk_kinesisanalyticsv2::Client,
    name: &str,
    target: &str,
    settled: Settled,
    new_version: i64,
    timing: &Timing,
) -> DeployError {
    let status = match &settled {
        Settled::Reached(s) | Settled::Other(s) | Settled::TimedOut(s) => s.status.clone(),
    };
    let status =
        if matches!(settled, Settled::TimedOut(_)) { format!("still {status} after {} s", timing.timeout.as_secs()) } else { status };
    if target != "RUNNING" {
        return DeployError::UpdateFailed {
            application: name.into(),
            target: target.into(),
            status,
            rollback: "it was not running, so nothing was rolled back".into(),
        };
    }
    tracing::warn!("`{name}` did not reach RUNNING after the update; rolling back");
    let version = match &settled {
        Settled::Reached(s) | Settled::Other(s) | Settled::TimedOut(s) => s.version_id.max(new_version),
    };
    let rollback = match flink::rollback(client, name, version, timing).await {
        Err(e) => format!("the rollback failed too: {e}"),
        Ok(()) => match wait::until_settled(client, name, "RUNNING", timing).await {
            Ok(Settled::Reached(s)) => format!("rolled back with RollbackApplication: now version {} and RUNNING", s.version_id),
            Ok(Settled::Other(s)) | Ok(Settled::TimedOut(s)) => {
                format!("rolled back with RollbackApplication, but it is {} (version {})", s.status, s.version_id)
            }
            Err(e) => format!("rolled back with RollbackApplication; its status is unknown: {e}"),
        },
    };
    DeployError::UpdateFailed { application: name.into(), target: target.into(), status, rollback }
}
