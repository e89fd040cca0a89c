//! What can stop `packager deploy`, each with the flag or setting that fixes it.

use crate::aws::error::AwsError;
use crate::config::ConfigError;
use miette::Diagnostic;
use std::path::PathBuf;

/// A deploy failure.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum DeployError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Aws(#[from] AwsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Config(#[from] ConfigError),

    #[error("no jar at {path}")]
    #[diagnostic(code(packager::no_jar), help("build it with `packager build`, or point --jar at the jar to deploy"))]
    JarMissing { path: PathBuf },

    #[error("{path} is not a packager-built jar: {message}")]
    #[diagnostic(code(packager::bad_jar), help("build the jar with `packager build`; it writes META-INF/anomaly-detector/build.json"))]
    BadJar { path: PathBuf, message: String },

    #[error("{path} was built with --local: it has no Kinesis connector and cannot run on Managed Flink")]
    #[diagnostic(code(packager::local_jar), help("rebuild without --local (`packager build`), then deploy again"))]
    LocalJar { path: PathBuf },

    #[error("S3 bucket `{bucket}` does not exist")]
    #[diagnostic(
        code(packager::no_bucket),
        help("create it (infra/terraform makes one: artifacts_bucket_name), or pass the right one with --bucket")
    )]
    BucketMissing { bucket: String },

    #[error("no access to S3 bucket `{bucket}`: {message}")]
    #[diagnostic(
        code(packager::bucket_access),
        help("the caller needs s3:GetObject, s3:GetObjectVersion, s3:PutObject and s3:ListBucket on it; or pass another --bucket")
    )]
    BucketAccess { bucket: String, message: String },

    #[error("application `{application}` does not exist, and creating it needs a service execution role")]
    #[diagnostic(
        code(packager::no_role),
        help(
            "pass --service-role-arn, set `service_role_arn` in [deploy] of packager.toml, or give --terraform-outputs with flink_service_role_arn"
        )
    )]
    RoleMissing { application: String },

    #[error("application `{application}` runs {found}, but this jar is built for {jar}")]
    #[diagnostic(code(packager::wrong_runtime))]
    WrongRuntime {
        application: String,
        found: String,
        jar: String,
        #[help]
        help: String,
    },

    #[error("application `{application}` is {status}, which does not allow {action}")]
    #[diagnostic(code(packager::application_state), help("{help}"))]
    State { application: String, status: String, action: &'static str, help: &'static str },

    #[error("S3 does not confirm the upload of {uri} (version {version}): its SHA-256 checksum of the object is not the jar's")]
    #[diagnostic(
        code(packager::upload_unverified),
        help(
            "nothing was deployed; something else writes to that key (or the upload was altered on the way): check the bucket and deploy again"
        )
    )]
    UploadUnverified { uri: String, version: String },

    #[error("application `{application}` was changed by someone else while this deploy ran, in what this deploy changes: {changes}")]
    #[diagnostic(
        code(packager::concurrent_change),
        help(
            "the application was not updated (so the other change is kept); see who changed it (console, another deploy), then run `packager deploy --dry-run` and deploy again"
        )
    )]
    ConcurrentChange { application: String, changes: String },

    #[error("application `{application}` was modified concurrently {attempts} times in a row; gave up")]
    #[diagnostic(code(packager::conflict), help("another deploy or a console change is in progress; wait for it and run the deploy again"))]
    Conflict { application: String, attempts: u32 },

    #[error("application `{application}` did not reach {target} after the update (it was {status}); {rollback}")]
    #[diagnostic(
        code(packager::update_failed),
        help("the job's CloudWatch logs (the log stream of --log-stream-arn) say why it failed; fix and deploy again")
    )]
    UpdateFailed { application: String, target: String, status: String, rollback: String },

    #[error("application `{application}` did not start (it is {status})")]
    #[diagnostic(
        code(packager::start_failed),
        help(
            "the job's CloudWatch logs (the log stream of --log-stream-arn) say why; the new code is deployed, start it again once fixed"
        )
    )]
    StartFailed { application: String, status: String },

    #[error("application `{application}` did not reach {target} within {secs} s (it is {status})")]
    #[diagnostic(
        code(packager::wait_timeout),
        help("look at the application in the console; raise --wait-timeout-secs if it is only slow")
    )]
    WaitTimeout { application: String, target: String, status: String, secs: u64 },
}

impl DeployError {
    /// An AWS call failure, with the SDK's full error chain (the top level alone often says only "service error").
    pub fn aws(action: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> DeployError {
        DeployError::Aws(AwsError::call(action, err))
    }
}
