//! Bounded exponential backoff: deploy's status polls and conflict retries, and send's per-record retries.

use std::time::Duration;

/// Delays that double from `initial` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.initial.saturating_mul(1u32 << attempt.min(16)).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(20) };
        let delays: Vec<u64> = (0..6).map(|i| b.delay(i).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 20, 20]);
        assert_eq!(b.delay(1000), Duration::from_secs(20));
    }
}
