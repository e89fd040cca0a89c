//! The alerting Lambda: anomalies from the Kinesis anomalies stream become SNS alerts and CloudWatch metrics.
//!
//! Per invocation: [`decode`] each record into the kernel's [`detector_wasm::verdict::Verdict`], [`render`] one
//! message per distinct anomaly, [`publish`] it to SNS, count what happened in [`metrics`] (EMF on stdout), and
//! return the records worth retrying as batch item failures ([`handler`]).

pub mod config;
pub mod decode;
pub mod handler;
pub mod metrics;
pub mod publish;
pub mod render;

use config::Config;
use publish::Publisher;

/// Serves invocations until the runtime stops.
pub async fn run<P: Publisher>(config: Config, publisher: P) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(lambda_runtime::service_fn(|event| handler::handle(event, &config, &publisher))).await
}
