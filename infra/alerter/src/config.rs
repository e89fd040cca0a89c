//! The function's settings, read once per cold start from the environment Terraform gives it.

use std::fmt;

/// CloudWatch refuses dimension values longer than this, and `APPLICATION_NAME` is one.
const MAX_APPLICATION_CHARS: usize = 255;
/// The link goes into every alert body; a bound keeps the body's size bounded (see `render`).
const MAX_DASHBOARD_URL_CHARS: usize = 2048;
/// Where unalertable records go in the bucket when `UNALERTABLE_PREFIX` is not set.
const DEFAULT_PREFIX: &str = "unalertable/";

/// What the function needs to know besides the records it is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The topic alerts are published to (`SNS_TOPIC_ARN`).
    pub topic_arn: String,
    /// The application the anomalies belong to (`APPLICATION_NAME`): the metrics' `Application` dimension.
    pub application: String,
    /// The dashboard linked from every alert (`DASHBOARD_URL`); no link when unset or empty.
    pub dashboard_url: Option<String>,
    /// The bucket records that can never become alerts are kept in (`UNALERTABLE_BUCKET`), see [`crate::keep`].
    pub unalertable_bucket: String,
    /// Their key prefix (`UNALERTABLE_PREFIX`, default `unalertable/`); ends with `/` unless empty.
    pub unalertable_prefix: String,
}

/// Why the environment does not describe a usable configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    Missing { var: &'static str, hint: &'static str },
    /// A variable is set to something unusable.
    Invalid { var: &'static str, value: String, why: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { var, hint } => write!(f, "environment variable {var} is not set: set it to {hint}"),
            ConfigError::Invalid { var, value, why } => write!(f, "environment variable {var}={value:?} is invalid: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let required = |var: &'static str, hint: &'static str| {
            get(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing { var, hint })
        };
        let topic_arn = required("SNS_TOPIC_ARN", "the alert topic's ARN (arn:aws:sns:REGION:ACCOUNT:NAME)")?;
        check_topic_arn(&topic_arn)?;
        let application = required("APPLICATION_NAME", "the application's name, e.g. frauddet-prod")?;
        check_application(&application)?;
        let dashboard_url = get("DASHBOARD_URL").map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        if let Some(url) = &dashboard_url
            && url.chars().count() > MAX_DASHBOARD_URL_CHARS
        {
            return Err(ConfigError::Invalid {
                var: "DASHBOARD_URL",
                value: url.chars().take(80).collect::<String>() + "…",
                why: format!("longer than {MAX_DASHBOARD_URL_CHARS} characters"),
            });
        }
        // Required: without a place to keep them, unalertable records would have to be dropped or block the shard.
        let unalertable_bucket =
            required("UNALERTABLE_BUCKET", "the S3 bucket that keeps records the alerter cannot alert on (Terraform: the archive bucket)")?;
        let mut unalertable_prefix = get("UNALERTABLE_PREFIX").map(|v| v.trim().to_string()).unwrap_or_else(|| DEFAULT_PREFIX.into());
        if !unalertable_prefix.is_empty() && !unalertable_prefix.ends_with('/') {
            unalertable_prefix.push('/');
        }
        Ok(Config { topic_arn, application, dashboard_url, unalertable_bucket, unalertable_prefix })
    }

    /// Whether the topic is a FIFO topic, which needs a message group and takes a deduplication id.
    pub fn is_fifo_topic(&self) -> bool {
        self.topic_arn.ends_with(".fifo")
    }
}

/// A malformed ARN makes SNS answer `InvalidParameter` for every message, which the publisher would take for a
/// problem with the record and drop it; refusing to start instead keeps the records on the stream.
fn check_topic_arn(arn: &str) -> Result<(), ConfigError> {
    let parts: Vec<&str> = arn.split(':').collect();
    let valid = parts.len() == 6 && parts[0] == "arn" && parts[2] == "sns" && parts[1..].iter().all(|p| !p.is_empty());
    if valid {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            var: "SNS_TOPIC_ARN",
            value: arn.to_string(),
            why: "expected an SNS topic ARN of the form arn:PARTITION:sns:REGION:ACCOUNT:NAME".into(),
        })
    }
}

/// CloudWatch drops an EMF document whose dimension value is not ASCII or too long, so catch it at cold start.
fn check_application(name: &str) -> Result<(), ConfigError> {
    let why = if !name.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        "CloudWatch dimension values must be printable ASCII"
    } else if name.len() > MAX_APPLICATION_CHARS {
        "longer than 255 characters, the CloudWatch dimension limit"
    } else {
        return Ok(());
    };
    Err(ConfigError::Invalid { var: "APPLICATION_NAME", value: name.to_string(), why: why.into() })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A valid configuration for the other modules' tests.
    pub(crate) fn example() -> Config {
        Config {
            topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts".into(),
            application: "frauddet-prod".into(),
            dashboard_url: None,
            unalertable_bucket: "archive".into(),
            unalertable_prefix: "unalertable/".into(),
        }
    }

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:frauddet-prod-alerts";

    #[test]
    fn reads_all_variables_and_treats_an_empty_dashboard_as_none() {
        let config = Config::from_lookup(lookup(&[
            ("SNS_TOPIC_ARN", TOPIC),
            ("APPLICATION_NAME", "frauddet-prod"),
            ("DASHBOARD_URL", ""),
            ("UNALERTABLE_BUCKET", "archive"),
        ]))
        .unwrap();
        assert_eq!(
            config,
            Config {
                topic_arn: TOPIC.into(),
                application: "frauddet-prod".into(),
                dashboard_url: None,
                unalertable_bucket: "archive".into(),
                unalertable_prefix: "unalertable/".into(),
            }
        );
        assert!(!config.is_fifo_topic());
        let config = Config::from_lookup(lookup(&[
            ("SNS_TOPIC_ARN", TOPIC),
            ("APPLICATION_NAME", "a"),
            ("UNALERTABLE_BUCKET", "b"),
            ("UNALERTABLE_PREFIX", "kept"),
        ]))
        .unwrap();
        assert_eq!(config.unalertable_prefix, "kept/");
    }

    #[test]
    fn missing_variables_name_the_variable() {
        let err = Config::from_lookup(lookup(&[("APPLICATION_NAME", "x")])).unwrap_err();
        assert!(err.to_string().starts_with("environment variable SNS_TOPIC_ARN is not set"), "{err}");
        let err = Config::from_lookup(lookup(&[("SNS_TOPIC_ARN", TOPIC), ("APPLICATION_NAME", "  ")])).unwrap_err();
        assert!(err.to_string().contains("APPLICATION_NAME"), "{err}");
        let err = Config::from_lookup(lookup(&[("SNS_TOPIC_ARN", TOPIC), ("APPLICATION_NAME", "a")])).unwrap_err();
        assert!(err.to_string().starts_with("environment variable UNALERTABLE_BUCKET is not set"), "{err}");
    }

    #[test]
    fn rejects_a_topic_arn_that_is_not_an_sns_arn() {
        for bad in ["frauddet-alerts", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:sns:eu-west-1::t"] {
            let err = Config::from_lookup(lookup(&[("SNS_TOPIC_ARN", bad), ("APPLICATION_NAME", "a")])).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid { var: "SNS_TOPIC_ARN", .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn rejects_an_application_name_cloudwatch_would_refuse() {
        let err = Config::from_lookup(lookup(&[("SNS_TOPIC_ARN", TOPIC), ("APPLICATION_NAME", "betrugserkennung-prüfung")])).unwrap_err();
        assert!(err.to_string().contains("printable ASCII"), "{err}");
    }

    #[test]
    fn recognises_fifo_topics() {
        let config = Config::from_lookup(lookup(&[
            ("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:alerts.fifo"),
            ("APPLICATION_NAME", "a"),
            ("UNALERTABLE_BUCKET", "b"),
        ]))
        .unwrap();
        assert!(config.is_fifo_topic());
    }
}
