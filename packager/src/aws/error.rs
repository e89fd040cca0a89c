//! What the commands that talk to AWS (`deploy`, `send`) can both run into: a setting not given or out of range, no
//! region, no credentials, unreadable Terraform outputs, a failed call. Each names the flag or setting that fixes it.

use miette::Diagnostic;
use std::path::PathBuf;

/// A failure shared by every command that talks to AWS.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum AwsError {
    #[error("no AWS region: the SDK found none in the environment or the AWS profile")]
    #[diagnostic(
        code(packager::no_region),
        help(
            "pass --region, set AWS_REGION, put `region` in the [deploy] table of packager.toml, or give --terraform-outputs with aws_region"
        )
    )]
    NoRegion,

    #[error("no AWS credentials: {0}")]
    #[diagnostic(
        code(packager::no_credentials),
        help("set AWS_PROFILE (and run `aws sso login` for SSO profiles), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    )]
    NoCredentials(String),

    #[error("no {what} given")]
    #[diagnostic(code(packager::missing_setting), help("pass {flag}, set `{key}` in the [deploy] table of packager.toml{terraform}"))]
    Missing { what: &'static str, flag: &'static str, key: &'static str, terraform: String },

    #[error("cannot read terraform outputs {path}: {message}")]
    #[diagnostic(code(packager::terraform_outputs), help("write it with `terraform output -json > outputs.json` in infra/terraform"))]
    TerraformOutputs { path: PathBuf, message: String },

    #[error("invalid {flag}: {message}")]
    #[diagnostic(code(packager::invalid_setting))]
    Invalid { flag: &'static str, message: String },

    #[error("{action} failed: {message}")]
    #[diagnostic(code(packager::aws))]
    Call { action: String, message: String },
}

impl AwsError {
    /// An AWS call failure, with the SDK's full error chain (the top level alone often says only "service error").
    pub fn call(action: impl Into<String>, err: &(dyn std::error::Error + 'static)) -> AwsError {
        AwsError::Call { action: action.into(), message: error_chain(err) }
    }
}

/// `err` and its sources, joined with ": ", with repeats dropped.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}
