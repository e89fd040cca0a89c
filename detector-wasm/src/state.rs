//! Per-key state and its byte format.
//!
//! The host stores these bytes (Flink `ValueState<byte[]>`, a map in `packager run`) and hands them back with the
//! key's next event; the kernel keeps nothing between calls. The format is fixed-size, little-endian, and versioned:
//!
//! | offset | type     | field                                                              |
//! |-------:|----------|--------------------------------------------------------------------|
//! | 0      | u8       | format version (`STATE_VERSION`)                                   |
//! | 1      | u8       | value model: 1 = zscore, 2 = ewma                                   |
//! | 2      | u16      | reserved, 0                                                         |
//! | 4      | u32      | consecutive anomalies                                               |
//! | 8      | u64      | events learned into the value baseline                              |
//! | 16     | u64      | valid events seen for the key                                       |
//! | 24     | f64      | baseline mean (model scale: `ln(1+x)` with `log_transform`)         |
//! | 32     | f64      | zscore: sum of squared deviations (Welford M2); ewma: variance      |
//! | 40     | i64      | latest event time, ms (`i64::MIN` when no timestamp was seen)       |
//! | 48     | f64      | mean gap between events, seconds (exponentially weighted)           |
//! | 56     | u32      | gaps learned                                                        |
//! | 60     | u8       | timestamps in the ring                                              |
//! | 61     | u8       | next ring slot                                                      |
//! | 62     | u16      | reserved, 0                                                         |
//! | 64     | i64 × 8  | ring of the latest event times, ms                                  |
//!
//! `STATE_SIZE` = 128 bytes per key. A newer kernel reads every older version (see [`State::decode`]); state written
//! by a newer kernel than this one is refused rather than misread.

use crate::config::{DetectorKind, VELOCITY_RING};
use std::fmt;

/// The state format this kernel writes.
pub const STATE_VERSION: u8 = 1;
/// Bytes of state per key.
pub const STATE_SIZE: usize = 128;

/// One key's baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub model: DetectorKind,
    pub consecutive_anomalies: u32,
    pub n: u64,
    pub seen: u64,
    pub mean: f64,
    /// Welford M2 for zscore, the variance for ewma.
    pub spread: f64,
    pub last_ts_ms: i64,
    pub gap_mean_secs: f64,
    pub gaps: u32,
    pub ring_len: u8,
    pub ring_next: u8,
    pub ring: [i64; VELOCITY_RING],
}

/// State bytes this kernel cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// Written by a newer kernel.
    Newer { version: u8 },
    /// Not a state this kernel ever wrote.
    Corrupt { reason: String },
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Newer { version } => write!(
                f,
                "stored state has format version {version}, newer than this kernel's {STATE_VERSION}; deploy the kernel that wrote it (or a newer one), then replay this record from the dead-letter output"
            ),
            StateError::Corrupt { reason } => write!(f, "stored state is unreadable ({reason}); the key's state must be reset"),
        }
    }
}

impl State {
    /// A key with no history, scored by `model`.
    pub fn new(model: DetectorKind) -> State {
        State {
            model,
            consecutive_anomalies: 0,
            n: 0,
            seen: 0,
            mean: 0.0,
            spread: 0.0,
            last_ts_ms: i64::MIN,
            gap_mean_secs: 0.0,
            gaps: 0,
            ring_len: 0,
            ring_next: 0,
            ring: [0; VELOCITY_RING],
        }
    }

    /// Reads stored bytes (empty = a new key) and converts them to `model`, keeping the baseline when the detector
    /// was changed between deployments.
    pub fn decode(bytes: &[u8], model: DetectorKind) -> Result<State, StateError> {
        if bytes.is_empty() {
            return Ok(State::new(model));
        }
        let version = bytes[0];
        if version > STATE_VERSION {
            return Err(StateError::Newer { version });
        }
        // Version 1 is the first format. An older version would be migrated here, one arm per version.
        if version != 1 {
            return Err(StateError::Corrupt { reason: format!("unknown format version {version}") });
        }
        if bytes.len() != STATE_SIZE {
            return Err(StateError::Corrupt { reason: format!("{} bytes, expected {STATE_SIZE}", bytes.len()) });
        }
        let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let f64_at = |o: usize| f64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
        let stored_model = match bytes[1] {
            1 => DetectorKind::Zscore,
            2 => DetectorKind::Ewma,
            other => {
                return Err(StateError::Corrupt { reason: format!("unknown value model {other}") });
            }
        };
        let mut ring = [0i64; VELOCITY_RING];
        for (i, slot) in ring.iter_mut().enumerate() {
            *slot = u64_at(64 + 8 * i) as i64;
        }
        let state = State {
            model: stored_model,
            consecutive_anomalies: u32_at(4),
            n: u64_at(8),
            seen: u64_at(16),
            mean: f64_at(24),
            spread: f64_at(32),
            last_ts_ms: u64_at(40) as i64,
            gap_mean_secs: f64_at(48),
            gaps: u32_at(56),
            ring_len: bytes[60],
            ring_next: bytes[61],
            ring,
        };
        if !(state.mean.is_finite() && state.spread.is_finite() && state.spread >= 0.0 && state.gap_mean_secs.is_finite())
            || state.ring_len as usize > VELOCITY_RING
            || state.ring_next as usize >= VELOCITY_RING
        {
            return Err(StateError::Corrupt { reason: "fields out of range".into() });
        }
        Ok(state.into_model(model))
    }

    /// Appends the [`STATE_SIZE`] bytes of this state to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(STATE_VERSION);
        out.push(match self.model {
            DetectorKind::Zscore => 1,
            DetectorKind::Ewma => 2,
        });
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(&self.consecutive_anomalies.to_le_bytes());
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&self.seen.to_le_bytes());
        out.extend_from_slice(&self.mean.to_le_bytes());
        out.extend_from_slice(&self.spread.to_le_bytes());
        out.extend_from_slice(&self.last_ts_ms.to_le_bytes());
        out.extend_from_slice(&self.gap_mean_secs.to_le_bytes());
        out.extend_from_slice(&self.gaps.to_le_bytes());
        out.push(self.ring_len);
        out.push(self.ring_next);
        out.extend_from_slice(&0u16.to_le_bytes());
        for t in self.ring {
            out.extend_from_slice(&t.to_le_bytes());
        }
    }

    /// The state as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_SIZE);
        self.encode_into(&mut out);
        out
    }

    /// The sample variance of the value baseline (0 until two events are learned).
    pub fn variance(&self) -> f64 {
        match self.model {
            DetectorKind::Zscore if self.n >= 2 => self.spread / (self.n - 1) as f64,
            DetectorKind::Zscore => 0.0,
            DetectorKind::Ewma => self.spread,
        }
    }

    /// Re-expresses the baseline for another value model, so switching detectors keeps what each key has learned.
    fn into_model(mut self, model: DetectorKind) -> State {
        if self.model == model {
            return self;
        }
        let variance = self.variance();
        self.spread = match model {
            DetectorKind::Zscore => variance * self.n.saturating_sub(1) as f64,
            DetectorKind::Ewma => variance,
        };
        self.model = model;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> State {
        let mut s = State::new(DetectorKind::Zscore);
        s.n = 12;
        s.seen = 14;
        s.mean = 4.2;
        s.spread = 11.0;
        s.last_ts_ms = 1_234_567_890_000;
        s.gap_mean_secs = 3600.0;
        s.gaps = 11;
        s.ring_len = 3;
        s.ring_next = 3;
        s.ring[..3].copy_from_slice(&[1, 2, 3]);
        s.consecutive_anomalies = 2;
        s
    }

    #[test]
    fn state_is_fixed_size_and_round_trips() {
        let s = sample();
        let bytes = s.encode();
        assert_eq!(bytes.len(), STATE_SIZE);
        assert_eq!(State::decode(&bytes, DetectorKind::Zscore).unwrap(), s);
        assert_eq!(State::decode(&State::new(DetectorKind::Ewma).encode(), DetectorKind::Ewma).unwrap(), State::new(DetectorKind::Ewma));
    }

    #[test]
    fn switching_detectors_keeps_mean_and_variance() {
        let s = sample();
        let e = State::decode(&s.encode(), DetectorKind::Ewma).unwrap();
        assert_eq!(e.model, DetectorKind::Ewma);
        assert_eq!(e.mean, s.mean);
        assert!((e.variance() - s.variance()).abs() < 1e-12);
        let back = State::decode(&e.encode(), DetectorKind::Zscore).unwrap();
        assert!((back.variance() - s.variance()).abs() < 1e-12);
    }

    #[test]
    fn newer_and_corrupt_state_is_refused_with_a_reason() {
        let mut bytes = sample().encode();
        bytes[0] = STATE_VERSION + 1;
        let e = State::decode(&bytes, DetectorKind::Zscore).unwrap_err();
        assert!(matches!(e, StateError::Newer { .. }));
        assert!(e.to_string().contains("newer than this kernel"), "{e}");
        assert!(matches!(State::decode(&[1, 1, 0], DetectorKind::Zscore), Err(StateError::Corrupt { .. })));
        let mut bytes = sample().encode();
        bytes[24..32].copy_from_slice(&f64::NAN.to_le_bytes());
        assert!(matches!(State::decode(&bytes, DetectorKind::Zscore), Err(StateError::Corrupt { .. })));
    }
}
