//! An [`Anomaly`] → the SNS message a person reads: subject, plain-text body, and attributes for filter policies.
//!
//! Every field copied from the record is bounded here, so no record (a 1 MB key, thousands of attributes) can make a
//! message SNS refuses as too long; such a refusal would otherwise drop the alert.

use crate::config::Config;
use crate::decode::Anomaly;
use detector_wasm::verdict::{AttributeValue, Pattern, Trigger};
use std::fmt::Write;

/// SNS subjects: at most 100 printable ASCII characters, no line breaks.
pub const MAX_SUBJECT_CHARS: usize = 100;
/// SNS's limit for a whole message: body, subject and attributes together.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

/// How much of the key the subject shows, so the value and band still fit.
const SUBJECT_KEY_CHARS: usize = 40;
/// Bounds for text copied from the record into the body.
const BODY_KEY_CHARS: usize = 256;
const BODY_TEXT_CHARS: usize = 2000;
const BODY_NAME_CHARS: usize = 100;
const BODY_VALUE_CHARS: usize = 256;
const BODY_MAX_ATTRIBUTES: usize = 50;
/// Longer keys are not sent as the `key` attribute (no filter policy names such a key; it would only cost bytes).
const MAX_KEY_ATTRIBUTE_BYTES: usize = 1024;

/// One SNS message, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The verdict's deterministic id: in-batch dedupe key, FIFO deduplication id, and an attribute.
    pub anomaly_id: String,
    /// Printable ASCII, at most [`MAX_SUBJECT_CHARS`].
    pub subject: String,
    /// Plain text for email and chat subscribers.
    pub message: String,
    /// String message attributes, for subscription filter policies.
    pub attributes: Vec<(&'static str, String)>,
}

impl Alert {
    /// The size SNS counts against [`MAX_MESSAGE_BYTES`]: body, subject, and each attribute's name, type and value.
    pub fn size_bytes(&self) -> usize {
        self.message.len() + self.subject.len() + self.attributes.iter().map(|(n, v)| n.len() + "String".len() + v.len()).sum::<usize>()
    }
}

/// Renders the alert for `anomaly`.
pub fn render(anomaly: &Anomaly, config: &Config) -> Alert {
    let v = &anomaly.verdict;
    let severity = anomaly.severity.as_str();
    let mut attributes = vec![("severity", severity.to_string()), ("anomalyId", v.anomaly_id.clone())];
    // SNS refuses an empty attribute value, and an altered key would silently defeat an exact-match filter policy:
    // the attribute carries the exact key or is left out.
    if !v.key.is_empty() && v.key.len() <= MAX_KEY_ATTRIBUTE_BYTES && v.key.chars().all(is_xml_char) {
        attributes.push(("key", v.key.clone()));
    }
    Alert { anomaly_id: v.anomaly_id.clone(), subject: subject(anomaly, &config.application), message: body(anomaly, config), attributes }
}

fn subject(anomaly: &Anomaly, application: &str) -> String {
    let v = &anomaly.verdict;
    let value = match (v.expected_low, v.expected_high) {
        (Some(lo), Some(hi)) => format!("{} {} outside {}-{}", v.value_field, num(v.value), num(lo), num(hi)),
        _ => format!("{} {}", v.value_field, num(v.value)),
    };
    let events = v.velocity.as_ref().map(|b| format!("{} events in {}", b.events_in_window, duration(b.window_secs)));
    let what = match (anomaly.trigger, events) {
        (Trigger::Value, _) => value,
        (Trigger::Velocity, Some(events)) => format!("burst of {events}"),
        (Trigger::Velocity, None) => "burst of events".to_string(),
        (Trigger::Both, Some(events)) => format!("{value} + {events}"),
        (Trigger::Both, None) => format!("{value} + burst"),
    };
    let key = shorten(&v.key, SUBJECT_KEY_CHARS, "...");
    ascii_subject(&format!("[{}] {application}: {} {key} {what}", anomaly.severity.as_str().to_uppercase(), v.key_field))
}

/// Makes `text` a valid SNS subject: printable ASCII only, whitespace runs collapsed to one space, at most
/// [`MAX_SUBJECT_CHARS`] characters.
pub fn ascii_subject(text: &str) -> String {
    let mut out = String::with_capacity(MAX_SUBJECT_CHARS);
    for c in text.chars() {
        let c = if c.is_whitespace() || c.is_control() {
            ' '
        } else if c.is_ascii_graphic() {
            c
        } else {
            '?'
        };
        if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            out.push(c);
        }
    }
    let out = out.trim_end();
    if out.is_empty() {
        "Anomaly".to_string()
    } else if out.len() > MAX_SUBJECT_CHARS {
        // All ASCII by now, so byte offsets are character offsets.
        format!("{}...", out[..MAX_SUBJECT_CHARS - 3].trim_end())
    } else {
        out.to_string()
    }
}

fn body(anomaly: &Anomaly, config: &Config) -> String {
    let v = &anomaly.verdict;
    let k = v.detector.threshold_multiplier;
    let mut b = String::new();
    // `write!` into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(b, "{} anomaly in {}", anomaly.severity.as_str().to_uppercase(), config.application);
    let _ = writeln!(b);
    let _ = writeln!(b, "Who:        {} {}", bounded(&v.key_field, BODY_NAME_CHARS), bounded(&v.key, BODY_KEY_CHARS));
    let _ = writeln!(b, "How much:   {} {}", bounded(&v.value_field, BODY_NAME_CHARS), num(v.value));
    match (v.expected_low, v.expected_high) {
        (Some(lo), Some(hi)) => {
            let _ = writeln!(
                b,
                "Expected:   {} to {} (typical {}, learned from {} events)",
                num(lo),
                num(hi),
                num(v.baseline.typical),
                v.baseline.count
            );
        }
        _ => {
            let _ = writeln!(b, "Expected:   no band yet ({} events learned)", v.baseline.count);
        }
    }
    let score = v.score.map(|s| format!("{s:.1}")).unwrap_or_else(|| "n/a".into());
    let _ = writeln!(b, "Score:      {score} (threshold {k:.1}), severity {}", anomaly.severity.as_str());
    let trigger = match anomaly.trigger {
        Trigger::Value => "value (outside its expected band)",
        Trigger::Velocity => "velocity (too many events in a short window)",
        Trigger::Both => "both (value outside its band, and a burst of events)",
    };
    let _ = writeln!(b, "Trigger:    {trigger}");
    if let Some(pattern) = v.pattern {
        let what = match pattern {
            Pattern::Spike => "spike (one value far from the key's history)",
            Pattern::LevelShift => "level shift (reported once; the baseline now follows the new level)",
            Pattern::NewRange => "new range (outside every value the key has shown)",
            Pattern::Flatline => "flat line (stuck at one value)",
            Pattern::Burst => "burst (too many events in the window)",
            Pattern::StreamOutlier => "stream outlier (far above the stream's values while the key is too new to judge by its own)",
        };
        let _ = writeln!(b, "Pattern:    {what}");
    }
    // The kernel fills `velocity` for every event when its velocity check is on; for a value anomaly the event
    // count (often 1) is noise next to the band, so the line is shown only when the burst is part of the alert.
    if let (Some(burst), Trigger::Velocity | Trigger::Both) = (&v.velocity, anomaly.trigger) {
        let _ = writeln!(
            b,
            "Burst:      {} events within {}, about {:.1} expected (usual gap {})",
            burst.events_in_window,
            duration(burst.window_secs),
            burst.expected_in_window,
            duration(burst.usual_gap_secs)
        );
    }
    let _ = writeln!(b, "Reason:     {}", bounded(&v.reason, BODY_TEXT_CHARS));
    if !v.attributes.is_empty() {
        let _ = writeln!(b, "Attributes:");
        for (name, value) in v.attributes.iter().take(BODY_MAX_ATTRIBUTES) {
            let value = match value {
                AttributeValue::Str(s) => bounded(s, BODY_VALUE_CHARS),
                AttributeValue::Num(x) => attribute_num(*x),
                AttributeValue::Bool(x) => x.to_string(),
            };
            let _ = writeln!(b, "  {} = {value}", bounded(name, BODY_NAME_CHARS));
        }
        if v.attributes.len() > BODY_MAX_ATTRIBUTES {
            let _ = writeln!(b, "  … and {} more", v.attributes.len() - BODY_MAX_ATTRIBUTES);
        }
    }
    let _ = writeln!(b, "When:       {}", time(v.timestamp));
    let _ = writeln!(b, "Event id:   {}", bounded(&v.event_id, BODY_VALUE_CHARS));
    let _ = writeln!(b, "Anomaly id: {}", bounded(&v.anomaly_id, BODY_VALUE_CHARS));
    if let Some(url) = &config.dashboard_url {
        let _ = writeln!(b, "Dashboard:  {url}");
    }
    let _ = writeln!(b);
    let d = &v.detector;
    let _ = writeln!(
        b,
        "Detector {} (threshold {k:.1}, direction {}, {} scale, min {} events).",
        bounded(&d.name, BODY_NAME_CHARS),
        bounded(&d.direction, BODY_NAME_CHARS),
        bounded(&v.baseline.scale, BODY_NAME_CHARS),
        d.min_events
    );
    let _ = writeln!(b, "The stream is at-least-once: the same anomaly id may be alerted twice.");
    b
}

/// The event time as RFC 3339 UTC with milliseconds.
fn time(timestamp_ms: Option<i64>) -> String {
    match timestamp_ms {
        None => "unknown (the event had no timestamp)".to_string(),
        Some(ms) => match chrono::DateTime::from_timestamp_millis(ms) {
            Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            None => format!("invalid timestamp {ms} ms"),
        },
    }
}

/// Two decimals for the values people compare with the band; scientific notation where two decimals mislead.
fn num(x: f64) -> String {
    if x.abs() >= 1e9 || (x != 0.0 && x.abs() < 0.01) { format!("{x:.3e}") } else { format!("{x:.2}") }
}

/// Attribute numbers are identifiers as often as amounts (`mcc = 5411`): no forced decimals.
fn attribute_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{x:.0}") } else { x.to_string() }
}

fn duration(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else if secs < 7200.0 {
        format!("{:.0} min", secs / 60.0)
    } else {
        format!("{:.1} h", secs / 3600.0)
    }
}

/// `text` cut to `max` characters (saying how long it was) with characters XML cannot carry replaced: SNS's API and
/// SQS subscribers reject them.
fn bounded(text: &str, max: usize) -> String {
    let clean: String = text.chars().map(|c| if is_xml_char(c) { c } else { char::REPLACEMENT_CHARACTER }).collect();
    if clean.chars().count() <= max { clean } else { format!("{} … ({} bytes in all)", shorten(&clean, max, ""), text.len()) }
}

fn shorten(text: &str, max: usize, ellipsis: &str) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}{ellipsis}", &text[..cut]),
        None => text.to_string(),
    }
}

/// The characters XML 1.0 allows.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tests::{burst, verdict};
    use detector_wasm::verdict::{Severity, Verdict};

    fn config() -> Config {
        Config {
            dashboard_url: Some("https://console.aws.amazon.com/cloudwatch/home#dashboards:name=frauddet-prod".into()),
            ..crate::config::tests::example()
        }
    }

    fn anomaly(verdict: Verdict) -> Anomaly {
        let (severity, trigger) = (verdict.severity.unwrap(), verdict.trigger.unwrap());
        Anomaly { sequence_number: "1".into(), verdict, severity, trigger }
    }

    fn assert_valid_subject(subject: &str) {
        assert!(subject.len() <= MAX_SUBJECT_CHARS, "{} chars: {subject}", subject.len());
        assert!(subject.chars().all(|c| c == ' ' || c.is_ascii_graphic()), "not printable ASCII: {subject:?}");
        assert!(!subject.starts_with(' ') && !subject.is_empty(), "{subject:?}");
    }

    #[test]
    fn subject_names_severity_application_key_value_and_band() {
        let alert = render(&anomaly(verdict("user-42", "txn-1", Severity::High)), &config());
        assert_eq!(alert.subject, "[HIGH] frauddet-prod: userId user-42 amount 4999.00 outside 3.10-182.00");
        assert_valid_subject(&alert.subject);
    }

    #[test]
    fn subject_describes_a_burst_for_velocity_triggers() {
        let mut v = verdict("user-42", "txn-1", Severity::Medium);
        v.trigger = Some(Trigger::Velocity);
        v.velocity = Some(burst());
        assert_eq!(render(&anomaly(v.clone()), &config()).subject, "[MEDIUM] frauddet-prod: userId user-42 burst of 12 events in 60 s");
        v.trigger = Some(Trigger::Both);
        let subject = render(&anomaly(v), &config()).subject;
        assert_eq!(subject, "[MEDIUM] frauddet-prod: userId user-42 amount 4999.00 outside 3.10-182.00 + 12 events in 60 s");
    }

    #[test]
    fn subject_is_printable_ascii_of_at_most_100_chars_whatever_the_key() {
        let keys = [
            "Zoë Ünïcödé-Kunde 😀".to_string(),
            "line\nbreak\r\nand\ttab\u{0}nul".to_string(),
            "k".repeat(10_000),
            "\u{7f}\u{85}\u{2028}".to_string(),
            String::new(),
        ];
        for key in keys {
            let mut v = verdict(&key, "txn-1", Severity::Low);
            v.key_field = "kündenNummer".into();
            let subject = render(&anomaly(v), &config()).subject;
            assert_valid_subject(&subject);
        }
        let subject = render(&anomaly(verdict("line\nbreak", "t", Severity::Low)), &config()).subject;
        assert!(subject.contains("userId line break amount"), "{subject}");
    }

    #[test]
    fn ascii_subject_truncates_and_never_returns_an_empty_subject() {
        assert_eq!(ascii_subject(&"x".repeat(150)), format!("{}...", "x".repeat(97)));
        assert_eq!(ascii_subject(" \n\t "), "Anomaly");
        assert_eq!(ascii_subject("a  \n b"), "a b");
    }

    #[test]
    fn body_says_who_how_much_band_score_trigger_reason_attributes_time_id_and_link() {
        let v = verdict("user-42", "txn-000123", Severity::High);
        let alert = render(&anomaly(v.clone()), &config());
        let body = &alert.message;
        for want in [
            "HIGH anomaly in frauddet-prod",
            "Who:        userId user-42",
            "How much:   amount 4999.00",
            "Expected:   3.10 to 182.00 (typical 24.00, learned from 1200 events)",
            "Score:      9.4 (threshold 3.0), severity high",
            "Trigger:    value (outside its expected band)",
            "Reason:     amount 4999.00 is 9.4σ above userId user-42's baseline (expected 3.10–182.00 from 1200 events, typical 24.00)",
            "  merchantId = m-981",
            "  country = DE",
            "  cardPresent = false",
            "When:       2025-01-01T12:34:56.789Z",
            "Event id:   txn-000123",
            &format!("Anomaly id: {}", v.anomaly_id),
            "Dashboard:  https://console.aws.amazon.com/cloudwatch/home#dashboards:name=frauddet-prod",
        ] {
            assert!(body.contains(want), "missing {want:?} in\n{body}");
        }
        assert!(!body.contains("Burst:"), "{body}");
        // A value anomaly whose verdict also carries the velocity part (as the kernel writes it) shows no burst.
        let mut with_velocity = v.clone();
        with_velocity.velocity = Some(burst());
        let body = render(&anomaly(with_velocity), &config()).message;
        assert!(!body.contains("Burst:"), "{body}");
        assert!(!body.contains("Pattern:"), "zscore verdicts carry no pattern: {body}");
    }

    #[test]
    fn body_names_the_pattern_the_adaptive_detector_reports() {
        let mut v = verdict("user-42", "txn-1", Severity::High);
        v.pattern = Some(Pattern::LevelShift);
        let body = render(&anomaly(v), &config()).message;
        assert!(body.contains("Pattern:    level shift (reported once; the baseline now follows the new level)\n"), "{body}");
    }

    #[test]
    fn body_shows_the_burst_and_handles_missing_band_time_and_dashboard() {
        let mut v = verdict("user-42", "txn-1", Severity::Medium);
        v.trigger = Some(Trigger::Velocity);
        v.velocity = Some(burst());
        v.expected_low = None;
        v.expected_high = None;
        v.timestamp = None;
        let mut config = config();
        config.dashboard_url = None;
        let body = render(&anomaly(v), &config).message;
        assert!(body.contains("Burst:      12 events within 60 s, about 0.2 expected (usual gap 5 min)"), "{body}");
        assert!(body.contains("Expected:   no band yet (1200 events learned)"), "{body}");
        assert!(body.contains("When:       unknown"), "{body}");
        assert!(!body.contains("Dashboard"), "{body}");
    }

    #[test]
    fn attributes_carry_severity_anomaly_id_and_the_exact_key() {
        let v = verdict("user-42", "txn-1", Severity::Medium);
        let alert = render(&anomaly(v.clone()), &config());
        assert_eq!(
            alert.attributes,
            vec![("severity", "medium".to_string()), ("anomalyId", v.anomaly_id.clone()), ("key", "user-42".to_string())]
        );
        assert_eq!(alert.anomaly_id, v.anomaly_id);
    }

    #[test]
    fn the_key_attribute_is_left_out_rather_than_sent_empty_altered_or_huge() {
        for key in [String::new(), "a\u{1}b".to_string(), "k".repeat(MAX_KEY_ATTRIBUTE_BYTES + 1)] {
            let alert = render(&anomaly(verdict(&key, "txn-1", Severity::Low)), &config());
            assert!(alert.attributes.iter().all(|(name, value)| *name != "key" && !value.is_empty()), "{:?}", alert.attributes);
        }
    }

    #[test]
    fn a_huge_record_still_renders_a_message_sns_accepts() {
        let huge = "€".repeat(400_000);
        let mut v = verdict(&huge, &huge, Severity::High);
        v.reason = huge.clone();
        v.key_field = huge.clone();
        v.value_field = huge.clone();
        v.attributes = (0..5000).map(|i| (format!("{i:05}{}", "n".repeat(1000)), AttributeValue::Str("v".repeat(10_000)))).collect();
        let alert = render(&anomaly(v), &config());
        assert!(alert.size_bytes() < 64 * 1024, "{} bytes", alert.size_bytes());
        assert!(alert.size_bytes() <= MAX_MESSAGE_BYTES);
        assert!(alert.message.contains("… and 4950 more"));
        assert!(alert.message.contains(&format!("({} bytes in all)", huge.len())));
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_in_the_body() {
        let alert = render(&anomaly(verdict("a\u{1}b\u{FFFF}c", "t", Severity::Low)), &config());
        assert!(alert.message.contains("Who:        userId a\u{FFFD}b\u{FFFD}c"), "{}", alert.message);
        assert!(alert.message.chars().all(is_xml_char));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(num(4999.0), "4999.00");
        assert_eq!(num(0.001), "1.000e-3");
        assert_eq!(attribute_num(5411.0), "5411");
        assert_eq!(attribute_num(0.25), "0.25");
        assert_eq!(time(Some(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(Some(i64::MAX)), format!("invalid timestamp {} ms", i64::MAX));
    }
}
