//! `packager deploy` flags, the `[deploy]` table of packager.toml, and Terraform outputs, resolved into one [`Settings`].
//!
//! Precedence: flags > `PACKAGER_*` environment variables > `--terraform-outputs` > packager.toml `[deploy]` > defaults.
//! Terraform outputs sit above the file because they describe what is actually deployed; a flag still wins.

use super::error::DeployError;
use crate::artifact::{JAR_NAME, OUT_DIR};
use crate::aws::error::AwsError;
use crate::aws::terraform::TerraformOutputs;
use crate::config::{ConfigError, DetectorFlags, FileConfig, resolve_detector};
use crate::output::OutputFormat;
use clap::Args;
use detector_wasm::properties::{self, PropertyGroups};
use serde::Deserialize;
use std::path::PathBuf;

type Result<T, E = DeployError> = std::result::Result<T, E>;

/// `packager deploy` flags; the `[deploy]` table of packager.toml takes the same names (snake_case).
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DeployArgs {
    /// The jar to deploy [default: target/packager/anomaly-detector.jar]
    #[arg(long, env = "PACKAGER_JAR")]
    pub jar: Option<PathBuf>,
    /// `terraform output -json` of infra/terraform: fills bucket, application, role, streams, log stream and region
    #[arg(long, env = "PACKAGER_TERRAFORM_OUTPUTS")]
    pub terraform_outputs: Option<PathBuf>,
    /// Managed Flink application to create or update (terraform: flink_application_name)
    #[arg(long, env = "PACKAGER_APPLICATION_NAME")]
    pub application_name: Option<String>,
    /// S3 bucket for the jar (terraform: artifacts_bucket_name)
    #[arg(long, env = "PACKAGER_BUCKET")]
    pub bucket: Option<String>,
    /// Prefix of the jar's S3 key; the key ends in the jar's sha256 [default: flink/]
    #[arg(long, env = "PACKAGER_KEY_PREFIX")]
    pub key_prefix: Option<String>,
    /// IAM role the application runs as, needed to create it (terraform: flink_service_role_arn)
    #[arg(long, env = "PACKAGER_SERVICE_ROLE_ARN")]
    pub service_role_arn: Option<String>,
    /// Kinesis stream the job reads (terraform: kinesis_stream_arn)
    #[arg(long, env = "PACKAGER_SOURCE_STREAM_ARN")]
    pub source_stream_arn: Option<String>,
    /// Kinesis stream the job writes anomalies to (terraform: anomalies_stream_arn)
    #[arg(long, env = "PACKAGER_ANOMALIES_STREAM_ARN")]
    pub anomalies_stream_arn: Option<String>,
    /// Kinesis stream the job writes dead letters to (terraform: dead_letters_stream_arn)
    #[arg(long, env = "PACKAGER_DEAD_LETTERS_STREAM_ARN")]
    pub dead_letters_stream_arn: Option<String>,
    /// CloudWatch log stream for the application's logs, set or changed by every deploy (terraform: flink_log_stream_arn)
    #[arg(long, env = "PACKAGER_LOG_STREAM_ARN")]
    pub log_stream_arn: Option<String>,
    /// KMS key (ARN, id or alias) that encrypts the application's state — running state, checkpoints and snapshots,
    /// i.e. every key's baseline; `aws-owned` for the service's own key (terraform: kms_key_arn) [default: left as it is]
    #[arg(long, env = "PACKAGER_STATE_KMS_KEY")]
    pub state_kms_key: Option<String>,
    /// AWS region (terraform: aws_region) [default: the SDK's: AWS_REGION, then the profile]
    #[arg(long, env = "PACKAGER_REGION")]
    pub region: Option<String>,
    /// Send AWS calls to this endpoint instead of AWS (moto, LocalStack); AWS_ENDPOINT_URL works too
    #[arg(long, env = "PACKAGER_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Parallel tasks of the job [default: 1]
    #[arg(long, env = "PACKAGER_PARALLELISM")]
    pub parallelism: Option<i32>,
    /// Parallel tasks per KPU [default: 1]
    #[arg(long, env = "PACKAGER_PARALLELISM_PER_KPU")]
    pub parallelism_per_kpu: Option<i32>,
    /// Let Managed Flink scale parallelism with load [default: false]
    #[arg(long, env = "PACKAGER_AUTO_SCALING", value_name = "BOOL")]
    pub auto_scaling: Option<bool>,
    /// Checkpoint interval, ms (checkpointing is always on: it carries every key's baseline) [default: 60000]
    #[arg(long, env = "PACKAGER_CHECKPOINT_INTERVAL_MS")]
    pub checkpoint_interval_ms: Option<i64>,
    /// Where the job starts reading a stream it has no checkpoint for: TRIM_HORIZON, LATEST or AT_TIMESTAMP [default: TRIM_HORIZON]
    #[arg(long, env = "PACKAGER_SOURCE_INIT_POSITION")]
    pub source_init_position: Option<String>,
    /// Hours a key's baseline is kept after its last event (the job group's state_ttl_hours) [default: 720]
    #[arg(long, env = "PACKAGER_STATE_TTL_HOURS")]
    pub state_ttl_hours: Option<u32>,
    /// Start the application after creating or updating it (a running one keeps running either way)
    #[arg(long)]
    #[serde(default)]
    pub start: bool,
    /// Move an application on FLINK-1_20 to the jar's FLINK-2_2 in place, restoring its latest snapshot (one-way; RollbackApplication goes back)
    #[arg(long)]
    #[serde(default)]
    pub upgrade_runtime: bool,
    /// Print what would be uploaded, created or changed, and change nothing
    #[arg(long)]
    #[serde(skip)]
    pub dry_run: bool,
    /// Longest wait for the application to reach its target status, seconds [default: 900]
    #[arg(long, env = "PACKAGER_WAIT_TIMEOUT_SECS")]
    pub wait_timeout_secs: Option<u64>,
    /// Result format on standard output [default: text]
    #[arg(long, value_enum, env = "PACKAGER_OUTPUT")]
    pub output: Option<OutputFormat>,
    #[command(flatten)]
    #[serde(skip)]
    pub detector: DetectorFlags,
}

/// The KMS key Managed Flink encrypts an application's state with.
#[derive(Debug, Clone, PartialEq)]
pub enum StateKey {
    /// The service's own key (its default).
    AwsOwned,
    /// A customer-managed key: ARN, id or alias.
    Customer(String),
}

impl StateKey {
    /// How `--state-kms-key` names the service's own key.
    pub const AWS_OWNED: &'static str = "aws-owned";
}

impl std::fmt::Display for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateKey::AwsOwned => f.write_str("AWS-owned key"),
            StateKey::Customer(key) => f.write_str(key),
        }
    }
}

/// Everything deploy needs, resolved and checked (except the role, which only a create needs).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub jar: PathBuf,
    pub application_name: String,
    pub bucket: String,
    pub key_prefix: String,
    pub service_role_arn: Option<String>,
    pub log_stream_arn: Option<String>,
    /// The key the application's state is encrypted with (`None`: leave it as it is).
    pub state_key: Option<StateKey>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    pub parallelism: i32,
    pub parallelism_per_kpu: i32,
    pub auto_scaling: bool,
    pub checkpoint_interval_ms: i64,
    pub start: bool,
    /// The Managed Flink runtime of the jar (its build.json), which a new application gets and an existing one must have.
    pub runtime: String,
    /// Upgrade an application on an older runtime to [`Settings::runtime`] in place (`--upgrade-runtime`).
    pub upgrade_runtime: bool,
    pub dry_run: bool,
    pub wait_timeout_secs: u64,
    pub output: OutputFormat,
    /// The runtime property groups, as the job reads them.
    pub property_groups: super::flink::Groups,
}

impl DeployArgs {
    /// Resolves flags, environment, Terraform outputs, `[deploy]` and defaults into [`Settings`].
    pub fn resolve(self, file: &FileConfig) -> Result<Settings> {
        let from_file: DeployArgs = file.deploy.clone().try_into().map_err(|e: toml::de::Error| ConfigError::table("deploy", &e))?;
        let tf_path = self.terraform_outputs.clone().or(from_file.terraform_outputs.clone());
        let tf = match &tf_path {
            Some(path) => TerraformOutputs::read(path)?,
            None => TerraformOutputs::default(),
        };
        // flag/env, then terraform, then file
        let pick = |flag: Option<String>, tf_key: &str, file: Option<String>| flag.or_else(|| tf.get(tf_key)).or(file);
        let terraform_hint = |key: &str| format!(", or give --terraform-outputs with {key}");
        let required = |value: Option<String>, what: &'static str, flag: &'static str, key: &'static str, tf_key: &str| {
            value.filter(|v| !v.is_empty()).ok_or_else(|| AwsError::Missing { what, flag, key, terraform: terraform_hint(tf_key) })
        };

        let application_name = required(
            pick(self.application_name, "flink_application_name", from_file.application_name),
            "application name",
            "--application-name",
            "application_name",
            "flink_application_name",
        )?;
        let bucket = required(
            pick(self.bucket, "artifacts_bucket_name", from_file.bucket),
            "S3 bucket",
            "--bucket",
            "bucket",
            "artifacts_bucket_name",
        )?;
        let source = required(
            pick(self.source_stream_arn, "kinesis_stream_arn", from_file.source_stream_arn),
            "source stream",
            "--source-stream-arn",
            "source_stream_arn",
            "kinesis_stream_arn",
        )?;
        let anomalies = required(
            pick(self.anomalies_stream_arn, "anomalies_stream_arn", from_file.anomalies_stream_arn),
            "anomalies stream",
            "--anomalies-stream-arn",
            "anomalies_stream_arn",
            "anomalies_stream_arn",
        )?;
        let dead_letters = required(
            pick(self.dead_letters_stream_arn, "dead_letters_stream_arn", from_file.dead_letters_stream_arn),
            "dead-letters stream",
            "--dead-letters-stream-arn",
            "dead_letters_stream_arn",
            "dead_letters_stream_arn",
        )?;
        let service_role_arn = pick(self.service_role_arn, "flink_service_role_arn", from_file.service_role_arn).filter(|v| !v.is_empty());
        let log_stream_arn = pick(self.log_stream_arn, "flink_log_stream_arn", from_file.log_stream_arn).filter(|v| !v.is_empty());
        let state_key = pick(self.state_kms_key, "kms_key_arn", from_file.state_kms_key)
            .filter(|v| !v.is_empty())
            .map(|key| if key.eq_ignore_ascii_case(StateKey::AWS_OWNED) { StateKey::AwsOwned } else { StateKey::Customer(key) });
        // The region the connectors use is the stream's own, so the job never depends on the deployer's profile.
        let region = pick(self.region, "aws_region", from_file.region).or_else(|| arn_region(&source));

        // The settings deploy owns once Terraform created the application: flag/env, then what the stack's
        // variables make of them (flink_deploy_defaults), then the file, then the built-in default.
        let tf_defaults = &tf.defaults;
        let parallelism = self.parallelism.or(tf_defaults.parallelism).or(from_file.parallelism).unwrap_or(1);
        let parallelism_per_kpu =
            self.parallelism_per_kpu.or(tf_defaults.parallelism_per_kpu).or(from_file.parallelism_per_kpu).unwrap_or(1);
        if parallelism < 1 {
            return Err(AwsError::Invalid { flag: "--parallelism", message: format!("{parallelism}; it must be at least 1") }.into());
        }
        if !(1..=8).contains(&parallelism_per_kpu) {
            return Err(AwsError::Invalid {
                flag: "--parallelism-per-kpu",
                message: format!("{parallelism_per_kpu}; Managed Flink takes 1 to 8"),
            }
            .into());
        }
        let checkpoint_interval_ms =
            self.checkpoint_interval_ms.or(tf_defaults.checkpoint_interval_ms).or(from_file.checkpoint_interval_ms).unwrap_or(60_000);
        if checkpoint_interval_ms < 1 {
            return Err(AwsError::Invalid {
                flag: "--checkpoint-interval-ms",
                message: format!("{checkpoint_interval_ms}; it must be positive"),
            }
            .into());
        }
        let position = self
            .source_init_position
            .or_else(|| tf_defaults.property(properties::SOURCE, "source.init.position"))
            .or(from_file.source_init_position)
            .unwrap_or_else(|| "TRIM_HORIZON".into());
        if !["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"].contains(&position.as_str()) {
            return Err(AwsError::Invalid {
                flag: "--source-init-position",
                message: format!("`{position}`; expected TRIM_HORIZON, LATEST or AT_TIMESTAMP"),
            }
            .into());
        }
        let tf_ttl = match tf_defaults.property(properties::JOB, "state_ttl_hours") {
            Some(text) => Some(text.parse::<u32>().map_err(|_| AwsError::TerraformOutputs {
                path: tf_path.clone().unwrap_or_default(),
                message: format!("flink_deploy_defaults: job.state_ttl_hours is `{text}`, not a whole number of hours"),
            })?),
            None => None,
        };
        let state_ttl_hours = self.state_ttl_hours.or(tf_ttl).or(from_file.state_ttl_hours).unwrap_or(720);
        let connector_region = region.clone().unwrap_or_default();
        if connector_region.is_empty() {
            return Err(AwsError::NoRegion.into());
        }

        // The stack's detector keys rank between flags/env and packager.toml's [detector].
        let detector = match tf_defaults.property_groups.get(properties::DETECTOR) {
            Some(keys) => {
                let mut detector = file.detector.clone();
                for (key, value) in keys {
                    detector.insert(key.clone(), toml::Value::String(value.clone()));
                }
                resolve_detector(&self.detector, &FileConfig { detector, ..FileConfig::default() })?
            }
            None => resolve_detector(&self.detector, file)?,
        };
        let property_groups = PropertyGroups::new()
            .kinesis(properties::SOURCE, &source, &connector_region, &[("source.init.position", &position)])
            .kinesis(properties::ANOMALIES, &anomalies, &connector_region, &[])
            .kinesis(properties::DEAD_LETTERS, &dead_letters, &connector_region, &[])
            .detector(&detector, false)
            .set(properties::JOB, "state_ttl_hours", state_ttl_hours.to_string())
            .into_map();

        Ok(Settings {
            jar: self.jar.or(from_file.jar).unwrap_or_else(|| PathBuf::from(OUT_DIR).join(JAR_NAME)),
            application_name,
            bucket,
            key_prefix: self.key_prefix.or(from_file.key_prefix).unwrap_or_else(|| "flink/".into()),
            service_role_arn,
            log_stream_arn,
            state_key,
            region,
            endpoint_url: self.endpoint_url.or(from_file.endpoint_url),
            parallelism,
            parallelism_per_kpu,
            auto_scaling: self.auto_scaling.or(tf_defaults.auto_scaling).or(from_file.auto_scaling).unwrap_or(false),
            checkpoint_interval_ms,
            start: self.start || from_file.start,
            // The jar's own runtime replaces this once the jar is read (deploy::run).
            runtime: crate::flink_version::FlinkVersion::default().runtime().to_string(),
            upgrade_runtime: self.upgrade_runtime || from_file.upgrade_runtime,
            dry_run: self.dry_run,
            wait_timeout_secs: self.wait_timeout_secs.or(from_file.wait_timeout_secs).unwrap_or(900),
            output: self.output.or(from_file.output).unwrap_or(OutputFormat::Text),
            property_groups,
        })
    }
}

/// The region field of an ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
pub fn arn_region(arn: &str) -> Option<String> {
    let region = arn.split(':').nth(3)?;
    (!region.is_empty()).then(|| region.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "arn:aws:kinesis:eu-west-1:123456789012:stream/transactions";

    fn full_flags() -> DeployArgs {
        DeployArgs {
            application_name: Some("app".into()),
            bucket: Some("bucket".into()),
            source_stream_arn: Some(SOURCE.into()),
            anomalies_stream_arn: Some("arn:aws:kinesis:eu-west-1:123456789012:stream/anomalies".into()),
            dead_letters_stream_arn: Some("arn:aws:kinesis:eu-west-1:123456789012:stream/dead".into()),
            ..Default::default()
        }
    }

    #[test]
    fn property_groups_carry_streams_region_detector_and_job() {
        let file: FileConfig = toml::from_str("[detector]\nthreshold_multiplier = 4.5\n").unwrap();
        let s = full_flags().resolve(&file).unwrap();
        let source = &s.property_groups["source"];
        assert_eq!(source["connector"], "kinesis");
        assert_eq!(source["stream.arn"], SOURCE);
        assert_eq!(source["aws.region"], "eu-west-1");
        assert_eq!(source["format"], "raw");
        assert_eq!(source["source.init.position"], "TRIM_HORIZON");
        // A sink option the Kinesis sink does not know would fail the job at start.
        assert!(!s.property_groups["anomalies"].contains_key("source.init.position"));
        assert_eq!(s.property_groups["detector"]["threshold_multiplier"], "4.5");
        assert_eq!(s.property_groups["detector"]["key_field"], "userId");
        assert!(!s.property_groups["detector"].contains_key("emit"), "the job decides what it emits");
        assert_eq!(s.property_groups["job"]["state_ttl_hours"], "720");
        assert_eq!((s.parallelism, s.checkpoint_interval_ms, s.key_prefix.as_str()), (1, 60_000, "flink/"));
    }

    #[test]
    fn flags_beat_terraform_outputs_which_beat_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let tf = dir.path().join("tf.json");
        std::fs::write(
            &tf,
            r#"{"artifacts_bucket_name": {"sensitive": false, "type": "string", "value": "tf-bucket"},
                "flink_application_name": {"value": "tf-app"},
                "flink_service_role_arn": {"value": "arn:aws:iam::1:role/tf"},
                "kinesis_stream_arn": {"value": "arn:aws:kinesis:us-east-2:1:stream/in"},
                "anomalies_stream_arn": {"value": "arn:aws:kinesis:us-east-2:1:stream/out"},
                "dead_letters_stream_arn": {"value": "arn:aws:kinesis:us-east-2:1:stream/dl"},
                "flink_log_stream_arn": {"value": "arn:aws:logs:us-east-2:1:log-group:g:log-stream:s"},
                "aws_region": {"value": "us-east-2"},
                "kms_key_arn": {"value": "arn:aws:kms:us-east-2:1:key/k"},
                "stream_count": {"value": 3}}"#,
        )
        .unwrap();
        let file: FileConfig = toml::from_str("[deploy]\nbucket = \"file-bucket\"\nparallelism = 4\nkey_prefix = \"jars/\"\n").unwrap();
        let args = DeployArgs { terraform_outputs: Some(tf), application_name: Some("flag-app".into()), ..Default::default() };
        let s = args.resolve(&file).unwrap();
        assert_eq!(s.application_name, "flag-app");
        assert_eq!(s.bucket, "tf-bucket");
        assert_eq!(s.service_role_arn.as_deref(), Some("arn:aws:iam::1:role/tf"));
        assert_eq!(s.region.as_deref(), Some("us-east-2"));
        assert_eq!(s.log_stream_arn.as_deref(), Some("arn:aws:logs:us-east-2:1:log-group:g:log-stream:s"));
        assert_eq!(s.parallelism, 4);
        assert_eq!(s.key_prefix, "jars/");
        assert_eq!(s.property_groups["dead_letters"]["stream.arn"], "arn:aws:kinesis:us-east-2:1:stream/dl");
        assert_eq!(s.state_key, Some(StateKey::Customer("arn:aws:kms:us-east-2:1:key/k".into())), "the stack's key encrypts the state");
        let back = DeployArgs { state_kms_key: Some("AWS-OWNED".into()), ..args_for(&dir) };
        assert_eq!(back.resolve(&file).unwrap().state_key, Some(StateKey::AwsOwned));
        let none = DeployArgs {
            terraform_outputs: None,
            bucket: Some("b".into()),
            source_stream_arn: Some("arn:aws:kinesis:us-east-2:1:stream/in".into()),
            anomalies_stream_arn: Some("arn:aws:kinesis:us-east-2:1:stream/out".into()),
            dead_letters_stream_arn: Some("arn:aws:kinesis:us-east-2:1:stream/dl".into()),
            ..args_for(&dir)
        };
        assert_eq!(none.resolve(&FileConfig::default()).unwrap().state_key, None, "nothing asked for: left as it is");
    }

    fn args_for(dir: &tempfile::TempDir) -> DeployArgs {
        DeployArgs { terraform_outputs: Some(dir.path().join("tf.json")), application_name: Some("flag-app".into()), ..Default::default() }
    }

    /// `terraform output -json` of a stack whose variables differ from every built-in default.
    fn stack_outputs(dir: &std::path::Path) -> PathBuf {
        let tf = dir.join("tf.json");
        let groups = r#"{
            "source": {"connector": "kinesis", "stream.arn": "arn:aws:kinesis:eu-west-1:1:stream/in", "aws.region": "eu-west-1",
                       "source.init.position": "LATEST", "format": "raw"},
            "anomalies": {"connector": "kinesis", "stream.arn": "arn:aws:kinesis:eu-west-1:1:stream/out", "aws.region": "eu-west-1", "format": "raw"},
            "dead_letters": {"connector": "kinesis", "stream.arn": "arn:aws:kinesis:eu-west-1:1:stream/dl", "aws.region": "eu-west-1", "format": "raw"},
            "detector": {"threshold_multiplier": "4.5", "detector": "ewma", "min_events": "25", "velocity": "false"},
            "job": {"state_ttl_hours": "48"}}"#;
        let text = format!(
            r#"{{"artifacts_bucket_name": {{"value": "b"}}, "flink_application_name": {{"value": "app"}},
                "kinesis_stream_arn": {{"value": "arn:aws:kinesis:eu-west-1:1:stream/in"}},
                "anomalies_stream_arn": {{"value": "arn:aws:kinesis:eu-west-1:1:stream/out"}},
                "dead_letters_stream_arn": {{"value": "arn:aws:kinesis:eu-west-1:1:stream/dl"}},
                "aws_region": {{"value": "eu-west-1"}},
                "flink_deploy_defaults": {{"value": {{"parallelism": 6, "parallelism_per_kpu": 2, "auto_scaling": true,
                    "checkpoint_interval_ms": 30000, "property_groups": {groups}}}}}}}"#
        );
        std::fs::write(&tf, text).unwrap();
        tf
    }

    #[test]
    fn the_stacks_variables_are_what_deploy_writes_unless_a_flag_says_otherwise() {
        // Terraform creates the application, then leaves these settings to deploy: deploy must take the stack's
        // values, or its first run would undo `flink_parallelism`, `anomaly_threshold_multiplier` and the rest.
        let dir = tempfile::tempdir().unwrap();
        let file: FileConfig = toml::from_str("[detector]\nthreshold_multiplier = 9.0\nmin_stddev = 0.2\n").unwrap();
        let args = DeployArgs { terraform_outputs: Some(stack_outputs(dir.path())), ..Default::default() };
        let s = args.resolve(&file).unwrap();
        assert_eq!((s.parallelism, s.parallelism_per_kpu, s.auto_scaling, s.checkpoint_interval_ms), (6, 2, true, 30_000));
        assert_eq!(s.property_groups["source"]["source.init.position"], "LATEST");
        assert_eq!(s.property_groups["job"]["state_ttl_hours"], "48");
        let detector = &s.property_groups["detector"];
        assert_eq!((detector["threshold_multiplier"].as_str(), detector["detector"].as_str()), ("4.5", "ewma"), "the stack beats the file");
        assert_eq!((detector["min_events"].as_str(), detector["velocity"].as_str()), ("25", "false"));
        assert_eq!(detector["min_stddev"], "0.2", "what the stack leaves open, the file still sets");

        let args = DeployArgs {
            terraform_outputs: Some(stack_outputs(dir.path())),
            parallelism: Some(3),
            source_init_position: Some("TRIM_HORIZON".into()),
            detector: crate::config::DetectorFlags { threshold_multiplier: Some(5.0), ..Default::default() },
            ..Default::default()
        };
        let s = args.resolve(&file).unwrap();
        assert_eq!(s.parallelism, 3);
        assert_eq!(s.property_groups["source"]["source.init.position"], "TRIM_HORIZON");
        assert_eq!(s.property_groups["detector"]["threshold_multiplier"], "5.0");
    }

    #[test]
    fn a_missing_bucket_names_the_flag_the_key_and_the_terraform_output() {
        let args = DeployArgs { bucket: None, ..full_flags() };
        let err = args.resolve(&FileConfig::default()).unwrap_err();
        let text = format!("{err}");
        assert_eq!(text, "no S3 bucket given");
        let help = miette::Diagnostic::help(&err).unwrap().to_string();
        assert!(help.contains("--bucket") && help.contains("artifacts_bucket_name"), "{help}");
    }

    #[test]
    fn bad_numbers_and_positions_are_refused_by_flag() {
        let err = DeployArgs { parallelism: Some(0), ..full_flags() }.resolve(&FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("--parallelism"), "{err}");
        let err = DeployArgs { source_init_position: Some("EARLIEST".into()), ..full_flags() }.resolve(&FileConfig::default()).unwrap_err();
        assert!(err.to_string().contains("TRIM_HORIZON"), "{err}");
        let file: FileConfig = toml::from_str("[deploy]\nbuckett = \"x\"\n").unwrap();
        assert!(full_flags().resolve(&file).unwrap_err().to_string().contains("buckett"));
    }
}
