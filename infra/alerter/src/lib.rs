//! The alerting Lambda: anomalies from the Kinesis anomalies stream become SNS alerts and CloudWatch metrics.
//!
//! Per invocation: [`decode`] each record into the kernel's [`detector_wasm::verdict::Verdict`], [`render`] one
//! message per distinct anomaly, [`publish`] it to SNS, [`keep`] every record that can never become an alert in
//! S3, count what happened in [`metrics`] (EMF on stdout), and return the records worth retrying as batch item
//! failures ([`handler`]).

pub mod config;
pub mod decode;
pub mod handler;
pub mod keep;
pub mod metrics;
pub mod publish;
pub mod render;

use config::Config;
use keep::Keeper;
use publish::Publisher;

/// Serves invocations until the runtime stops.
pub async fn run<P: Publisher, K: Keeper>(config: Config, publisher: P, keeper: K) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|event| handler::handle(event, &config, &publisher, &keeper))).await
}
