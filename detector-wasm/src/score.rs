//! Scoring verdicts against ground-truth labels: precision, recall, F1, and recall per anomaly kind (used by
//! `packager run`, its HTML report and the playground).

use std::collections::BTreeMap;

/// Counts of verdicts against labels.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Confusion {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub true_negatives: u64,
    /// Per labeled anomaly kind: (flagged, labeled).
    pub by_kind: BTreeMap<String, (u64, u64)>,
}

impl Confusion {
    /// Adds one labeled event: whether it was flagged, and its label (`None` or `Some("normal")`-like = negative).
    pub fn add(&mut self, flagged: bool, positive_kind: Option<&str>) {
        match (flagged, positive_kind) {
            (true, Some(kind)) => {
                self.true_positives += 1;
                self.by_kind.entry(kind.to_string()).or_default().0 += 1;
                self.by_kind.entry(kind.to_string()).or_default().1 += 1;
            }
            (false, Some(kind)) => {
                self.false_negatives += 1;
                self.by_kind.entry(kind.to_string()).or_default().1 += 1;
            }
            (true, None) => self.false_positives += 1,
            (false, None) => self.true_negatives += 1,
        }
    }

    /// Labeled events seen.
    pub fn labeled(&self) -> u64 {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }

    /// Flagged events that were labeled anomalies (1 when nothing was flagged).
    pub fn precision(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_positives)
    }

    /// Labeled anomalies that were flagged (1 when nothing was labeled an anomaly).
    pub fn recall(&self) -> f64 {
        ratio(self.true_positives, self.true_positives + self.false_negatives)
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// Flagged events among labeled normals.
    pub fn false_positive_rate(&self) -> f64 {
        if self.false_positives + self.true_negatives == 0 {
            0.0
        } else {
            self.false_positives as f64 / (self.false_positives + self.true_negatives) as f64
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_recall_f1_from_hand_counts() {
        let mut c = Confusion::default();
        for _ in 0..8 {
            c.add(true, Some("spike"));
        }
        for _ in 0..2 {
            c.add(false, Some("burst"));
        }
        for _ in 0..2 {
            c.add(true, None);
        }
        for _ in 0..88 {
            c.add(false, None);
        }
        assert_eq!(c.labeled(), 100);
        assert!((c.precision() - 0.8).abs() < 1e-12);
        assert!((c.recall() - 0.8).abs() < 1e-12);
        assert!((c.f1() - 0.8).abs() < 1e-12);
        assert_eq!(c.by_kind["spike"], (8, 8));
        assert_eq!(c.by_kind["burst"], (0, 2));
        assert!((c.false_positive_rate() - 2.0 / 90.0).abs() < 1e-12);
    }
}
