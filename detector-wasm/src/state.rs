//! Per-key state and its byte format.
//!
//! The host stores these bytes (Flink `ValueState<byte[]>`, a map in `packager run`) and hands them back with the
//! key's next event; the kernel keeps no per-key data between calls (its one memory across calls is the
//! population check's 24-byte summary of every key's values, [`crate::detector::Population`]). The format is fixed-size, little-endian, and versioned:
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
//! That is format version 1, written for `zscore` and `ewma` ([`CLASSIC_STATE_SIZE`] = 128 bytes). The `adaptive`
//! detector writes format version 2: the same 128-byte header (model 3; `mean` and `spread` hold the level and the
//! variance of `ln(1 + value)`), followed by its extension:
//!
//! | offset | type      | field                                                                   |
//! |-------:|-----------|-------------------------------------------------------------------------|
//! | 128    | f64       | level (the value's own scale)                                           |
//! | 136    | f64       | variance around the level                                               |
//! | 144    | f64       | the previous value                                                      |
//! | 152    | f64       | lowest value seen                                                       |
//! | 160    | f64       | highest value seen                                                      |
//! | 168    | f64 × 3   | typical absolute error of the level, the time-of-day profile, the previous value |
//! | 192    | f64       | surprise record                                                         |
//! | 200    | f64 × 2   | recent average surprise of the level and of the profile                 |
//! | 216    | f64 × 2   | their records                                                           |
//! | 232    | f64       | mean of ln(gap in seconds)                                               |
//! | 240    | f64       | variance of ln(gap)                                                      |
//! | 248    | i64       | start of the current run of far values, ms                              |
//! | 256    | f64 × 4   | ring of the latest values                                               |
//! | 288    | f64 × 4   | the same, as ln(1 + value)                                              |
//! | 320    | u32       | events learned into the level since it was last re-baselined            |
//! | 324    | u32       | gaps learned                                                            |
//! | 328    | i8        | current run: +n / −n values far above / below the level                 |
//! | 329    | u8        | next slot of the value ring                                             |
//! | 330    | u8        | profile bins with enough visits                                         |
//! | 331    | u8        | flags: 1 = every value so far was ≥ 0; 2, 4 = the sustained check of the level, the profile may alarm; 8 = this run of repeats was reported |
//! | 332    | u16       | current run of exact repeats of the value                               |
//! | 334    | u16       | the longest run of repeats before                                       |
//! | 336    | f32 × 48  | time-of-day profile, half-hour bins (UTC)                               |
//! | 528    | u8 × 48   | visits per bin (saturating)                                             |
//!
//! [`STATE_SIZE`] = 576 bytes, the most any detector writes.
//!
//! `zscore` and `ewma` with `velocity = false` read nothing of the time fields (offsets 40 to 127: they serve the
//! velocity check alone), so they write format version 3: the first [`COMPACT_STATE_SIZE`] = 40 bytes of the layout
//! above (version byte 3, model 1 or 2), nothing after. Every state is still fixed-size for a given configuration:
//! 40 bytes for `zscore`/`ewma` without velocity, 128 with it, 576 for `adaptive`. Turning velocity on for a key
//! stored in format 3 starts its time history afresh (the velocity check warms up again over `min_events` gaps);
//! turning it off drops that history on the key's next event.
//!
//! A newer kernel reads every older version (see
//! [`State::decode`]), converting between detectors when the configuration changed; state written by a newer kernel
//! than this one is refused rather than misread.

use crate::config::{Config, DetectorKind, VELOCITY_RING};
use std::fmt;

/// The newest state format this kernel writes (version 1 for `zscore` and `ewma` with velocity, 2 for `adaptive`, 3
/// for `zscore` and `ewma` without velocity).
pub const STATE_VERSION: u8 = 3;
/// Bytes of state per key for `zscore` and `ewma` with `velocity` (format version 1).
pub const CLASSIC_STATE_SIZE: usize = 128;
/// Bytes of state per key for `zscore` and `ewma` without `velocity` (format version 3: format 1 without its time
/// fields).
pub const COMPACT_STATE_SIZE: usize = 40;
/// Bytes of state per key for `adaptive` (format version 2): the most any detector writes.
pub const STATE_SIZE: usize = 576;
/// The value models of formats 1 and 3 by their code (byte 1).
const CLASSIC_MODELS: &[(u8, DetectorKind)] = &[(1, DetectorKind::Zscore), (2, DetectorKind::Ewma)];
/// Half-hour bins of the `adaptive` time-of-day profile.
pub const SEASON_BINS: usize = 48;

/// The `adaptive` detector's part of a key's state (see the layout above and `detector::adaptive`).
#[derive(Debug, Clone, PartialEq)]
pub struct Adaptive {
    pub level: f64,
    pub var: f64,
    pub last: f64,
    pub low: f64,
    pub high: f64,
    pub mae: [f64; 3],
    pub record: f64,
    pub sustained: [f64; 2],
    pub sustained_record: [f64; 2],
    pub gap_log_mean: f64,
    pub gap_log_var: f64,
    pub run_start_ms: i64,
    pub recent: [f64; 4],
    pub recent_log: [f64; 4],
    pub level_count: u32,
    pub gap_count: u32,
    pub run: i8,
    pub recent_next: u8,
    pub bins_ready: u8,
    pub all_nonnegative: bool,
    /// Bit i set: the sustained check of model i (level, profile) may alarm.
    pub sustained_armed: u8,
    /// The current run of exact repeats of the value, the longest run before, and whether this run was reported.
    pub repeats: u16,
    pub repeat_record: u16,
    pub flat_reported: bool,
    pub bins: [f32; SEASON_BINS],
    pub bin_visits: [u8; SEASON_BINS],
}

impl Default for Adaptive {
    fn default() -> Self {
        Adaptive {
            level: 0.0,
            var: 0.0,
            last: 0.0,
            low: 0.0,
            high: 0.0,
            mae: [0.0; 3],
            record: 0.0,
            sustained: [0.0; 2],
            sustained_record: [0.0; 2],
            gap_log_mean: 0.0,
            gap_log_var: 0.0,
            run_start_ms: 0,
            recent: [0.0; 4],
            recent_log: [0.0; 4],
            level_count: 0,
            gap_count: 0,
            run: 0,
            recent_next: 0,
            bins_ready: 0,
            all_nonnegative: true,
            sustained_armed: 3,
            repeats: 0,
            repeat_record: 0,
            flat_reported: false,
            bins: [0.0; SEASON_BINS],
            bin_visits: [0; SEASON_BINS],
        }
    }
}

impl Adaptive {
    /// Appends the extension's [`STATE_SIZE`] − 128 bytes: written into one array and copied once (a push per field
    /// costs several times the detection itself).
    fn encode_into(&self, out: &mut Vec<u8>) {
        // One array, constant offsets (so no per-field bounds check), copied out once.
        let mut b = [0u8; STATE_SIZE - 128];
        macro_rules! put {
            ($offset:expr, $value:expr) => {{
                let bytes = $value.to_le_bytes();
                b[$offset - 128..$offset - 128 + bytes.len()].copy_from_slice(&bytes);
            }};
        }
        put!(128, self.level);
        put!(136, self.var);
        put!(144, self.last);
        put!(152, self.low);
        put!(160, self.high);
        put!(168, self.mae[0]);
        put!(176, self.mae[1]);
        put!(184, self.mae[2]);
        put!(192, self.record);
        put!(200, self.sustained[0]);
        put!(208, self.sustained[1]);
        put!(216, self.sustained_record[0]);
        put!(224, self.sustained_record[1]);
        put!(232, self.gap_log_mean);
        put!(240, self.gap_log_var);
        put!(248, self.run_start_ms);
        put!(256, self.recent[0]);
        put!(264, self.recent[1]);
        put!(272, self.recent[2]);
        put!(280, self.recent[3]);
        put!(288, self.recent_log[0]);
        put!(296, self.recent_log[1]);
        put!(304, self.recent_log[2]);
        put!(312, self.recent_log[3]);
        put!(320, self.level_count);
        put!(324, self.gap_count);
        put!(328, self.run);
        put!(329, self.recent_next);
        put!(330, self.bins_ready);
        put!(331, self.all_nonnegative as u8 | self.sustained_armed << 1 | (self.flat_reported as u8) << 3);
        put!(332, self.repeats);
        put!(334, self.repeat_record);
        for (dst, x) in b[336 - 128..528 - 128].chunks_exact_mut(4).zip(self.bins.iter()) {
            dst.copy_from_slice(&x.to_le_bytes());
        }
        b[528 - 128..].copy_from_slice(&self.bin_visits);
        out.extend_from_slice(&b);
    }

    fn decode_from(&mut self, b: &[u8; STATE_SIZE]) {
        let f = |o: usize| f64::from_le_bytes(b[o..o + 8].try_into().expect("8 bytes"));
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().expect("4 bytes"));
        self.level = f(128);
        self.var = f(136);
        self.last = f(144);
        self.low = f(152);
        self.high = f(160);
        self.mae = [f(168), f(176), f(184)];
        self.record = f(192);
        self.sustained = [f(200), f(208)];
        self.sustained_record = [f(216), f(224)];
        self.gap_log_mean = f(232);
        self.gap_log_var = f(240);
        self.run_start_ms = i64::from_le_bytes(b[248..256].try_into().expect("8 bytes"));
        self.recent = [f(256), f(264), f(272), f(280)];
        self.recent_log = [f(288), f(296), f(304), f(312)];
        self.level_count = u32_at(320);
        self.gap_count = u32_at(324);
        self.run = b[328] as i8;
        self.recent_next = b[329];
        self.bins_ready = b[330];
        self.all_nonnegative = b[331] & 1 != 0;
        self.sustained_armed = (b[331] >> 1) & 3;
        self.flat_reported = b[331] & 8 != 0;
        self.repeats = u16::from_le_bytes(b[332..334].try_into().expect("2 bytes"));
        self.repeat_record = u16::from_le_bytes(b[334..336].try_into().expect("2 bytes"));
        for (bin, src) in self.bins.iter_mut().zip(b[336..528].chunks_exact(4)) {
            *bin = f32::from_le_bytes(src.try_into().expect("4 bytes"));
        }
        self.bin_visits.copy_from_slice(&b[528..528 + SEASON_BINS]);
    }

    /// Whether every field is one this kernel could have written. Branch-free: `x * 0` is 0 for every finite `x` and
    /// NaN otherwise, so one sum says whether all are finite (this runs for every event).
    fn is_sane(&self) -> bool {
        let (m, s, r, q, l) = (&self.mae, &self.sustained, &self.sustained_record, &self.recent, &self.recent_log);
        let floats = [
            self.level,
            self.var,
            self.last,
            self.low,
            self.high,
            self.record,
            self.gap_log_mean,
            self.gap_log_var,
            m[0],
            m[1],
            m[2],
            s[0],
            s[1],
            r[0],
            r[1],
            q[0],
            q[1],
            q[2],
            q[3],
            l[0],
            l[1],
            l[2],
            l[3],
        ];
        let zero: f64 = floats.iter().map(|x| x * 0.0).sum();
        let zero32: f32 = self.bins.iter().map(|x| x * 0.0).sum();
        zero == 0.0
            && zero32 == 0.0
            && self.var >= 0.0
            && self.gap_log_var >= 0.0
            && m[0] >= 0.0
            && m[1] >= 0.0
            && m[2] >= 0.0
            && self.record >= 0.0
            && self.low <= self.high
            && self.recent_next < 4
            && self.bins_ready as usize <= SEASON_BINS
    }
}

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
    /// The `adaptive` detector's extension (default for `zscore` and `ewma`).
    pub adaptive: Adaptive,
    /// Whether [`State::encode_into`] keeps the time fields (`last_ts_ms` to `ring`) for `zscore` and `ewma`: format 1
    /// when set, the compact format 3 when not. Set from the configuration's `velocity` by [`State::decode_into`];
    /// `adaptive` always keeps them (it reads the gaps).
    pub keep_time: bool,
}

impl Default for State {
    /// A key with no history under the default detector.
    fn default() -> State {
        State::new(DetectorKind::Adaptive)
    }
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
            adaptive: Adaptive::default(),
            keep_time: true,
        }
    }

    /// Reads stored bytes (empty = a new key) and converts them to the configured detector, keeping the baseline when
    /// the detector was changed between deployments.
    pub fn decode(bytes: &[u8], config: &Config) -> Result<State, StateError> {
        let mut state = State::new(config.detector);
        state.decode_into(bytes, config)?;
        Ok(state)
    }

    /// [`State::decode`] into this state, in place (hosts reuse one state for a whole batch instead of moving ~700
    /// bytes around per event). On an error, `self` is left as a fresh state of the configured detector.
    pub fn decode_into(&mut self, bytes: &[u8], config: &Config) -> Result<(), StateError> {
        let model = config.detector;
        self.reset(model);
        self.keep_time = config.velocity || model == DetectorKind::Adaptive;
        if bytes.is_empty() {
            return Ok(());
        }
        let version = bytes[0];
        if version > STATE_VERSION {
            return Err(StateError::Newer { version });
        }
        let (expected_size, models): (usize, &[(u8, DetectorKind)]) = match version {
            1 => (CLASSIC_STATE_SIZE, CLASSIC_MODELS),
            2 => (STATE_SIZE, &[(3, DetectorKind::Adaptive)]),
            3 => (COMPACT_STATE_SIZE, CLASSIC_MODELS),
            other => return Err(StateError::Corrupt { reason: format!("unknown format version {other}") }),
        };
        if bytes.len() != expected_size {
            return Err(StateError::Corrupt { reason: format!("{} bytes, expected {expected_size} for format {version}", bytes.len()) });
        }
        let Some(&(_, stored_model)) = models.iter().find(|(code, _)| *code == bytes[1]) else {
            return Err(StateError::Corrupt { reason: format!("unknown value model {} for format {version}", bytes[1]) });
        };
        // Fixed-size views: the offsets below are then checked at compile time, not per field.
        let head: &[u8; COMPACT_STATE_SIZE] = bytes.first_chunk().expect("length checked above");
        let u32_at = |o: usize| u32::from_le_bytes(head[o..o + 4].try_into().expect("4 bytes"));
        let u64_at = |o: usize| u64::from_le_bytes(head[o..o + 8].try_into().expect("8 bytes"));
        self.model = stored_model;
        self.consecutive_anomalies = u32_at(4);
        self.n = u64_at(8);
        self.seen = u64_at(16);
        self.mean = f64::from_bits(u64_at(24));
        self.spread = f64::from_bits(u64_at(32));
        // Formats 1 and 2 carry the time fields; format 3 leaves them as a new key's.
        if let Some(header) = bytes.first_chunk::<CLASSIC_STATE_SIZE>() {
            let u64_at = |o: usize| u64::from_le_bytes(header[o..o + 8].try_into().expect("8 bytes"));
            for (i, slot) in self.ring.iter_mut().enumerate() {
                *slot = u64_at(64 + 8 * i) as i64;
            }
            self.last_ts_ms = u64_at(40) as i64;
            self.gap_mean_secs = f64::from_bits(u64_at(48));
            self.gaps = u32::from_le_bytes(header[56..60].try_into().expect("4 bytes"));
            self.ring_len = header[60];
            self.ring_next = header[61];
        }
        if let Ok(full) = <&[u8; STATE_SIZE]>::try_from(bytes) {
            self.adaptive.decode_from(full);
        }
        if !(self.mean.is_finite() && self.spread.is_finite() && self.spread >= 0.0 && self.gap_mean_secs.is_finite())
            || self.ring_len as usize > VELOCITY_RING
            || self.ring_next as usize >= VELOCITY_RING
            || (version == 2 && !self.adaptive.is_sane())
        {
            self.reset(model);
            return Err(StateError::Corrupt { reason: "fields out of range".into() });
        }
        if self.model != model {
            self.convert(config);
        }
        Ok(())
    }

    /// Makes this a key with no history, scored by `model`, in place.
    fn reset(&mut self, model: DetectorKind) {
        self.model = model;
        self.consecutive_anomalies = 0;
        self.n = 0;
        self.seen = 0;
        self.mean = 0.0;
        self.spread = 0.0;
        self.last_ts_ms = i64::MIN;
        self.gap_mean_secs = 0.0;
        self.gaps = 0;
        self.ring_len = 0;
        self.ring_next = 0;
        self.ring = [0; VELOCITY_RING];
        if model == DetectorKind::Adaptive {
            self.adaptive = Adaptive::default();
        }
    }

    /// The format version [`State::encode_into`] writes, and its size.
    fn format(&self) -> (u8, usize) {
        match self.model {
            DetectorKind::Adaptive => (2, STATE_SIZE),
            _ if self.keep_time => (1, CLASSIC_STATE_SIZE),
            _ => (3, COMPACT_STATE_SIZE),
        }
    }

    /// The number of bytes [`State::encode_into`] writes.
    pub fn encoded_len(&self) -> usize {
        self.format().1
    }

    /// Appends this state's bytes to `out`: [`CLASSIC_STATE_SIZE`] for `zscore` and `ewma` (format 1), or
    /// [`COMPACT_STATE_SIZE`] without their time fields (format 3, [`State::keep_time`] unset), [`STATE_SIZE`] for
    /// `adaptive`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let (version, len) = self.format();
        let model = match self.model {
            DetectorKind::Zscore => 1,
            DetectorKind::Ewma => 2,
            DetectorKind::Adaptive => 3,
        };
        let mut b = [0u8; CLASSIC_STATE_SIZE];
        b[0] = version;
        b[1] = model;
        b[4..8].copy_from_slice(&self.consecutive_anomalies.to_le_bytes());
        b[8..16].copy_from_slice(&self.n.to_le_bytes());
        b[16..24].copy_from_slice(&self.seen.to_le_bytes());
        b[24..32].copy_from_slice(&self.mean.to_le_bytes());
        b[32..40].copy_from_slice(&self.spread.to_le_bytes());
        if len >= CLASSIC_STATE_SIZE {
            b[40..48].copy_from_slice(&self.last_ts_ms.to_le_bytes());
            b[48..56].copy_from_slice(&self.gap_mean_secs.to_le_bytes());
            b[56..60].copy_from_slice(&self.gaps.to_le_bytes());
            b[60] = self.ring_len;
            b[61] = self.ring_next;
            for (i, t) in self.ring.iter().enumerate() {
                b[64 + 8 * i..72 + 8 * i].copy_from_slice(&t.to_le_bytes());
            }
        }
        out.reserve(len);
        out.extend_from_slice(&b[..len.min(CLASSIC_STATE_SIZE)]);
        if self.model == DetectorKind::Adaptive {
            self.adaptive.encode_into(out);
        }
    }

    /// The state as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATE_SIZE);
        self.encode_into(&mut out);
        out
    }

    /// The sample variance of the value baseline (0 until two events are learned); for `adaptive`, of `ln(1 + value)`.
    pub fn variance(&self) -> f64 {
        match self.model {
            DetectorKind::Zscore if self.n >= 2 => self.spread / (self.n - 1) as f64,
            DetectorKind::Zscore => 0.0,
            DetectorKind::Ewma | DetectorKind::Adaptive => self.spread,
        }
    }

    /// Re-expresses the baseline for another value model, so switching detectors keeps what each key has learned.
    fn convert(&mut self, config: &Config) {
        let model = config.detector;
        if self.model == model {
            return;
        }
        let variance = self.variance();
        if self.model == DetectorKind::Adaptive && !config.log_transform {
            // The classic detectors without a log scale continue from the adaptive level in the value's own scale.
            self.mean = self.adaptive.level;
            self.spread = self.adaptive.var;
            self.model = DetectorKind::Ewma;
            return self.convert(config);
        }
        self.spread = match model {
            DetectorKind::Zscore => variance * self.n.saturating_sub(1) as f64,
            DetectorKind::Ewma | DetectorKind::Adaptive => variance,
        };
        if model == DetectorKind::Adaptive {
            self.model = model;
            crate::detector::adaptive::migrate(config, self, variance);
            return;
        }
        self.adaptive = Adaptive::default();
        self.model = model;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(detector: DetectorKind) -> Config {
        Config { detector, ..Config::default() }
    }

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
        assert_eq!(bytes.len(), CLASSIC_STATE_SIZE);
        assert_eq!(State::decode(&bytes, &cfg(DetectorKind::Zscore)).unwrap(), s);
        assert_eq!(
            State::decode(&State::new(DetectorKind::Ewma).encode(), &cfg(DetectorKind::Ewma)).unwrap(),
            State::new(DetectorKind::Ewma)
        );
    }

    #[test]
    fn switching_detectors_keeps_mean_and_variance() {
        let s = sample();
        let e = State::decode(&s.encode(), &cfg(DetectorKind::Ewma)).unwrap();
        assert_eq!(e.model, DetectorKind::Ewma);
        assert_eq!(e.mean, s.mean);
        assert!((e.variance() - s.variance()).abs() < 1e-12);
        let back = State::decode(&e.encode(), &cfg(DetectorKind::Zscore)).unwrap();
        assert!((back.variance() - s.variance()).abs() < 1e-12);
    }

    fn no_velocity(detector: DetectorKind) -> Config {
        Config { detector, velocity: false, ..Config::default() }
    }

    #[test]
    fn classic_state_without_velocity_is_the_40_byte_head_of_format_1() {
        for model in [DetectorKind::Zscore, DetectorKind::Ewma] {
            let mut s = sample();
            s.model = model;
            let full = s.encode();
            s.keep_time = false;
            let compact = s.encode();
            assert_eq!(compact.len(), COMPACT_STATE_SIZE);
            assert_eq!(s.encoded_len(), COMPACT_STATE_SIZE);
            assert_eq!(compact[0], 3);
            assert_eq!(compact[1..], full[1..COMPACT_STATE_SIZE], "format 3 is format 1's head");
            let back = State::decode(&compact, &no_velocity(model)).unwrap();
            let mut expected = State::new(model);
            (expected.consecutive_anomalies, expected.n, expected.seen) = (s.consecutive_anomalies, s.n, s.seen);
            (expected.mean, expected.spread, expected.keep_time) = (s.mean, s.spread, false);
            assert_eq!(back, expected, "the value baseline round-trips, the time fields start empty");
        }
    }

    #[test]
    fn turning_velocity_off_and_on_keeps_the_value_baseline() {
        let s = sample();
        // Format 1 (written with velocity) read without velocity: written back as format 3.
        let off = State::decode(&s.encode(), &no_velocity(DetectorKind::Zscore)).unwrap();
        assert!(!off.keep_time);
        assert_eq!((off.n, off.mean, off.spread, off.seen), (s.n, s.mean, s.spread, s.seen));
        let compact = off.encode();
        assert_eq!(compact.len(), COMPACT_STATE_SIZE);
        // And back on: format 1 again, the value baseline kept, no time history.
        let on = State::decode(&compact, &cfg(DetectorKind::Zscore)).unwrap();
        assert!(on.keep_time);
        assert_eq!((on.n, on.mean, on.spread), (s.n, s.mean, s.spread));
        assert_eq!((on.last_ts_ms, on.gaps, on.ring_len), (i64::MIN, 0, 0));
        assert_eq!(on.encode().len(), CLASSIC_STATE_SIZE);
        // Into another detector: ewma without velocity stays compact, adaptive takes its full format.
        let ewma = State::decode(&compact, &no_velocity(DetectorKind::Ewma)).unwrap();
        assert!((ewma.variance() - s.variance()).abs() < 1e-12);
        assert_eq!(ewma.encode().len(), COMPACT_STATE_SIZE);
        let adaptive = State::decode(&compact, &no_velocity(DetectorKind::Adaptive)).unwrap();
        assert_eq!(adaptive.encode().len(), STATE_SIZE);
    }

    #[test]
    fn compact_state_with_a_wrong_length_or_model_is_refused() {
        let mut s = sample();
        s.keep_time = false;
        let compact = s.encode();
        let mut long = compact.clone();
        long.resize(CLASSIC_STATE_SIZE, 0);
        let e = State::decode(&long, &no_velocity(DetectorKind::Zscore)).unwrap_err();
        assert!(e.to_string().contains("expected 40 for format 3"), "{e}");
        let mut adaptive = compact.clone();
        adaptive[1] = 3;
        assert!(matches!(State::decode(&adaptive, &no_velocity(DetectorKind::Zscore)), Err(StateError::Corrupt { .. })));
        assert!(State::decode(&compact[..39], &no_velocity(DetectorKind::Zscore)).is_err());
    }

    #[test]
    fn the_compact_format_changes_no_verdict() {
        // The same stream, its state stored in format 3 (this kernel) and in format 1 (what kernels before format 3
        // wrote for the same configuration), gives the same assessments.
        use crate::detector::{Detector, detect_value};
        for model in [DetectorKind::Zscore, DetectorKind::Ewma] {
            let detector = Detector::new(Config { min_events: 5, ..no_velocity(model) });
            let (mut compact, mut full) = (Vec::new(), Vec::new());
            for i in 0..300u32 {
                let x = if i % 37 == 0 { 5000.0 } else { 100.0 + f64::from(i % 7) * 3.0 };
                let ts = Some(1_700_000_000_000 + i64::from(i) * 61_000);
                let (a, b) = (detect_value(&detector, &compact, x, ts).unwrap(), detect_value(&detector, &full, x, ts).unwrap());
                assert_eq!((a.1.score, a.1.value_anomaly, a.1.status), (b.1.score, b.1.value_anomaly, b.1.status), "event {i}");
                compact = a.0.encode();
                let mut old = b.0;
                old.keep_time = true;
                full = old.encode();
                assert_eq!((compact.len(), full.len()), (COMPACT_STATE_SIZE, CLASSIC_STATE_SIZE));
            }
        }
    }

    #[test]
    fn newer_and_corrupt_state_is_refused_with_a_reason() {
        let mut bytes = sample().encode();
        bytes[0] = STATE_VERSION + 1;
        let e = State::decode(&bytes, &cfg(DetectorKind::Zscore)).unwrap_err();
        assert!(matches!(e, StateError::Newer { .. }));
        assert!(e.to_string().contains("newer than this kernel"), "{e}");
        assert!(matches!(State::decode(&[1, 1, 0], &cfg(DetectorKind::Zscore)), Err(StateError::Corrupt { .. })));
        let mut bytes = sample().encode();
        bytes[24..32].copy_from_slice(&f64::NAN.to_le_bytes());
        assert!(matches!(State::decode(&bytes, &cfg(DetectorKind::Zscore)), Err(StateError::Corrupt { .. })));
    }
}
