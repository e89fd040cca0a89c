//! Any finite input leaves a readable state: no value (±1e308, huge jumps, exact repeats, constant series, denormals)
//! can make a key's state non-finite or unreadable, whatever the detector and its options.

use detector_wasm::config::{AnomalyUpdate, Config, DetectorKind, Direction};
use detector_wasm::detector::{self, Detector};
use detector_wasm::state::StateError;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::MAX),
        Just(-f64::MAX),
        Just(1e308),
        Just(-1e308),
        Just(1e155),
        Just(0.0),
        Just(-0.0),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(1.0),
        Just(100.0),
        -1e300..1e300f64,
        -10.0..10.0f64,
        0.0..1e6f64,
    ]
}

fn config() -> impl Strategy<Value = Config> {
    (
        prop::sample::select(vec![DetectorKind::Adaptive, DetectorKind::Zscore, DetectorKind::Ewma]),
        any::<bool>(),
        prop::sample::select(vec![Direction::High, Direction::Low, Direction::Both]),
        prop::sample::select(vec![AnomalyUpdate::Skip, AnomalyUpdate::Clip, AnomalyUpdate::Full]),
        2u32..6,
        any::<bool>(),
    )
        .prop_map(|(detector, log_transform, direction, anomaly_update, min_events, velocity)| Config {
            detector,
            log_transform,
            // Negative values wherever the configuration allows them.
            allow_negative: !log_transform || detector == DetectorKind::Adaptive,
            direction,
            anomaly_update,
            min_events,
            velocity,
            ..Config::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn every_finite_stream_leaves_a_readable_finite_state(
        config in config(),
        stream in prop::collection::vec((value(), 0i64..4_000_000_000), 1..120),
        repeat in 0usize..300,
    ) {
        config.validate().unwrap();
        let detector = Detector::new(config.clone());
        let mut bytes = Vec::new();
        let mut ts = 1_700_000_000_000i64;
        // The stream, then its last value repeated (a constant series).
        let last = stream.last().map(|v| v.0).unwrap_or(0.0);
        let values = stream.iter().copied().chain(std::iter::repeat_n((last, 1_000), repeat));
        for (x, step) in values {
            let x = if config.allow_negative { x } else { x.abs() };
            ts += step;
            let (state, assessment) = match detector::detect_value(&detector, &bytes, x, Some(ts)) {
                Ok(done) => done,
                Err(e) => return Err(TestCaseError::fail(format!("state became unusable after {x}: {e}"))),
            };
            prop_assert!(assessment.state_reset.is_none(), "state written by this kernel was unreadable: {:?}", assessment.state_reset);
            if let Some(s) = assessment.score {
                prop_assert!(s.is_finite(), "score {s} for {x}");
            }
            bytes = state.encode();
            // Every stored float is finite, so the next call can read it.
            match detector_wasm::State::decode(&bytes, &config) {
                Ok(_) => {}
                Err(StateError::Corrupt { reason }) => return Err(TestCaseError::fail(format!("after {x}: {reason}"))),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
    }
}

#[test]
fn unreadable_state_is_reset_and_reported_never_a_dead_end() {
    let config = Config::default();
    let detector = Detector::new(config.clone());
    let (state, _) = detector::detect_value(&detector, &[], 10.0, Some(1_700_000_000_000)).unwrap();
    let mut bytes = state.encode();
    bytes[24..32].copy_from_slice(&f64::NAN.to_le_bytes());
    let (fresh, assessment) = detector::detect_value(&detector, &bytes, 11.0, Some(1_700_000_060_000)).unwrap();
    assert!(assessment.state_reset.as_deref().is_some_and(|r| r.contains("out of range")), "{:?}", assessment.state_reset);
    assert_eq!(fresh.n, 1, "the key starts afresh with this event");
    let (_, next) = detector::detect_value(&detector, &fresh.encode(), 12.0, Some(1_700_000_120_000)).unwrap();
    assert!(next.state_reset.is_none());
    // Truncated bytes too.
    let (_, truncated) = detector::detect_value(&detector, &bytes[..100], 11.0, Some(1_700_000_060_000)).unwrap();
    assert!(truncated.state_reset.is_some());
}

#[test]
fn state_from_a_newer_kernel_is_refused_not_reset() {
    let detector = Detector::new(Config::default());
    let (state, _) = detector::detect_value(&detector, &[], 10.0, Some(1_700_000_000_000)).unwrap();
    let mut bytes = state.encode();
    bytes[0] = detector_wasm::state::STATE_VERSION + 1;
    assert!(matches!(detector::detect_value(&detector, &bytes, 11.0, None), Err(StateError::Newer { .. })));
}

#[test]
fn two_huge_values_do_not_poison_a_key() {
    // Issue 12: two events >= 1e155 with log_transform = false made every later event of the key a dead letter.
    for detector_kind in [DetectorKind::Adaptive, DetectorKind::Zscore, DetectorKind::Ewma] {
        let config = Config { detector: detector_kind, log_transform: false, allow_negative: true, ..Config::default() };
        let detector = Detector::new(config);
        let mut bytes = Vec::new();
        for (i, x) in [1e155, 2e155, -1e308, 1e308, 5.0, 6.0, 5.5].into_iter().enumerate() {
            let (state, a) = detector::detect_value(&detector, &bytes, x, Some(1_700_000_000_000 + i as i64 * 60_000)).unwrap();
            assert!(a.state_reset.is_none(), "{detector_kind:?} after {x}");
            bytes = state.encode();
        }
    }
}
