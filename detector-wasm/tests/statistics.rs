//! The running statistics against two-pass computations over random streams.

use detector_wasm::config::{AnomalyUpdate, DetectorKind};
use detector_wasm::{Config, Detector, Event, State, assess};
use proptest::prelude::*;

fn learning_everything(kind: DetectorKind, half_life: f64) -> Detector {
    // Every value is learned as is, so the baseline is exactly the statistics of the stream.
    let c = Config {
        detector: kind,
        log_transform: false,
        velocity: false,
        min_stddev: 0.0,
        half_life_events: half_life,
        anomaly_update: AnomalyUpdate::Full,
        ..Config::default()
    };
    Detector::new(c)
}

fn event(value: f64) -> Event {
    Event { key: "k".into(), event_id: "e".into(), value, timestamp_ms: None, label: None, attributes: vec![] }
}

fn feed(detector: &Detector, values: &[f64]) -> State {
    let mut state = State::new(detector.config().detector);
    for &v in values {
        assess(detector, &mut state, &event(v));
    }
    state
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-9 * scale.max(1.0)
}

proptest! {
    #[test]
    fn welford_matches_two_pass_mean_and_variance(values in prop::collection::vec(0.0f64..1e6, 2..400)) {
        let state = feed(&learning_everything(DetectorKind::Zscore, 50.0), &values);
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        prop_assert_eq!(state.n, values.len() as u64);
        prop_assert!(close(state.mean, mean, mean), "mean {} vs {}", state.mean, mean);
        prop_assert!(close(state.variance(), variance, variance), "variance {} vs {}", state.variance(), variance);
    }

    #[test]
    fn ewma_matches_explicitly_weighted_mean_and_variance(values in prop::collection::vec(0.0f64..1e4, 2..300), half_life in 1.0f64..100.0) {
        let detector = learning_everything(DetectorKind::Ewma, half_life);
        let state = feed(&detector, &values);
        // Weights: event i enters with alpha_i = max(alpha, 1/(i+1)) and decays by (1 - alpha_j) for every later j.
        let alpha = 1.0 - 2f64.powf(-1.0 / half_life);
        let alphas: Vec<f64> = (0..values.len()).map(|i| alpha.max(1.0 / (i as f64 + 1.0))).collect();
        let weights: Vec<f64> = (0..values.len())
            .map(|i| alphas[i] * alphas[i + 1..].iter().map(|a| 1.0 - a).product::<f64>())
            .collect();
        let mean: f64 = weights.iter().zip(&values).map(|(w, v)| w * v).sum();
        let variance: f64 = weights.iter().zip(&values).map(|(w, v)| w * (v - mean).powi(2)).sum();
        prop_assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert!(close(state.mean, mean, mean), "mean {} vs {}", state.mean, mean);
        prop_assert!((state.variance() - variance).abs() <= 1e-7 * variance.max(1.0), "variance {} vs {}", state.variance(), variance);
    }
}
