//! Waiting for an application to settle in a status, polling with bounded backoff.

use super::error::DeployError;
use super::flink::{self, AppState};
use crate::aws::backoff::Backoff;
use crate::aws::error::AwsError;
use std::time::{Duration, Instant};

/// How long deploy waits and how often it retries; tests use zero delays.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Between status polls.
    pub poll: Backoff,
    /// Between attempts after a ConcurrentModificationException.
    pub conflict: Backoff,
    /// Attempts of one change before a conflict is reported.
    pub conflict_attempts: u32,
    /// Longest wait for a target status.
    pub timeout: Duration,
}

impl Timing {
    /// Production timing: polls from 2 s to 20 s, conflicts retried 5 times from 1 s.
    pub fn standard(timeout_secs: u64) -> Timing {
        Timing {
            poll: Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(20) },
            conflict: Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(16) },
            conflict_attempts: 5,
            timeout: Duration::from_secs(timeout_secs),
        }
    }
}

/// Statuses an application passes through on its own; every other status is where it stays until told otherwise.
pub fn is_transitional(status: &str) -> bool {
    matches!(status, "STARTING" | "UPDATING" | "STOPPING" | "AUTOSCALING" | "ROLLING_BACK" | "FORCE_STOPPING" | "DELETING" | "MAINTENANCE")
}

/// How a wait ended.
#[derive(Debug)]
pub enum Settled {
    /// The application reached the target.
    Reached(AppState),
    /// It settled in another status.
    Other(AppState),
    /// Still moving when the time ran out (the last state seen).
    TimedOut(AppState),
}

/// Polls until the application leaves every transitional status or `timing.timeout` passes.
pub async fn until_settled(
    client: &aws_sdk_kinesisanalyticsv2::Client,
    application: &str,
    target: &str,
    timing: &Timing,
) -> Result<Settled, DeployError> {
    let deadline = Instant::now() + timing.timeout;
    let mut attempt = 0;
    loop {
        let state = flink::describe(client, application).await?.ok_or_else(|| AwsError::Call {
            action: format!("waiting for `{application}`"),
            message: "the application disappeared".into(),
        })?;
        if state.status == target {
            return Ok(Settled::Reached(state));
        }
        if !is_transitional(&state.status) {
            return Ok(Settled::Other(state));
        }
        let delay = timing.poll.delay(attempt);
        if Instant::now() + delay > deadline {
            return Ok(Settled::TimedOut(state));
        }
        tracing::info!("`{application}` is {}; next look in {} s", state.status, delay.as_secs());
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_moving_statuses_are_waited_through() {
        assert!(is_transitional("UPDATING") && is_transitional("STARTING") && is_transitional("ROLLING_BACK"));
        assert!(!is_transitional("RUNNING") && !is_transitional("READY") && !is_transitional("ROLLED_BACK"));
    }
}
