//! Scoring verdicts against ground-truth labels: how one verdict compares with its label ([`Class`]), and precision,
//! recall, F1 and recall per anomaly kind over many ([`Confusion`]) — used by `packager run`, its HTML report and the
//! playground, through [`crate::replay`].

use crate::abi::{FLAG_ANOMALY, FLAG_LABEL_POSITIVE, FLAG_LABELED};
use std::collections::BTreeMap;

/// How a flagged or labeled event compares with its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Flagged, input unlabeled.
    Flagged,
    /// Flagged and labeled an anomaly.
    Hit,
    /// Flagged but labeled normal.
    FalseAlarm,
    /// Labeled an anomaly but not flagged.
    Miss,
}

impl Class {
    /// The class of a verdict from its flags (the kernel's `FLAG_*`); `None` for an unflagged event that is not a miss.
    pub fn of(flags: u8) -> Option<Class> {
        let (flagged, labeled, positive) = (flags & FLAG_ANOMALY != 0, flags & FLAG_LABELED != 0, flags & FLAG_LABEL_POSITIVE != 0);
        match (flagged, labeled, positive) {
            (true, false, _) => Some(Class::Flagged),
            (true, true, true) => Some(Class::Hit),
            (true, true, false) => Some(Class::FalseAlarm),
            (false, true, true) => Some(Class::Miss),
            (false, _, _) => None,
        }
    }

    /// The word people read: `anomaly`, `hit`, `false alarm`, `miss`.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Flagged => "anomaly",
            Class::Hit => "hit",
            Class::FalseAlarm => "false alarm",
            Class::Miss => "miss",
        }
    }
}

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
    fn flags_classify_hits_false_alarms_misses_and_unlabeled_anomalies() {
        assert_eq!(Class::of(FLAG_ANOMALY), Some(Class::Flagged));
        assert_eq!(Class::of(FLAG_ANOMALY | FLAG_LABELED | FLAG_LABEL_POSITIVE), Some(Class::Hit));
        assert_eq!(Class::of(FLAG_ANOMALY | FLAG_LABELED), Some(Class::FalseAlarm));
        assert_eq!(Class::of(FLAG_LABELED | FLAG_LABEL_POSITIVE), Some(Class::Miss));
        assert_eq!(Class::of(FLAG_LABELED), None);
        assert_eq!(Class::of(0), None);
    }

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
