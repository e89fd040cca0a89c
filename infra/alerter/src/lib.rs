//! The alerting Lambda: anomalies from the Kinesis anomalies stream become SNS alerts and CloudWatch metrics.

pub mod config;
pub mod decode;
pub mod metrics;
pub mod render;
