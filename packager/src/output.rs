//! How results are written for people and programs: the `--output` formats every command shares, one verdict as a
//! line of text, times as RFC 3339, and a dead letter's reason.

use clap::ValueEnum;
use detector_wasm::{DeadLetter, Verdict};
use serde::Deserialize;
use std::io::Write;

/// How results are written to standard output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// One line per verdict for people.
    Text,
    /// The kernel's verdict JSON, one object per line.
    Json,
}

/// A dead letter's reason for people: the field at fault first, when there is one.
pub fn describe_dead_letter(d: &DeadLetter) -> String {
    match &d.field {
        Some(field) => format!("field `{field}`: {}", d.reason),
        None => d.reason.clone(),
    }
}

/// One verdict (the kernel's JSON) on `out` in `format`.
pub fn write_verdict(out: &mut impl Write, format: OutputFormat, json: &[u8]) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => {
            out.write_all(json)?;
            out.write_all(b"\n")
        }
        OutputFormat::Text => {
            let v: Verdict = serde_json::from_slice(json).map_err(std::io::Error::other)?;
            writeln!(out, "{}", text_line(&v))
        }
    }
}

/// One verdict as a line for people.
pub fn text_line(v: &Verdict) -> String {
    let status = match (v.status, v.severity) {
        (detector_wasm::verdict::Status::Anomaly, Some(s)) => format!("ANOMALY {}", s.as_str()),
        (detector_wasm::verdict::Status::Anomaly, None) => "ANOMALY".into(),
        (detector_wasm::verdict::Status::Normal, _) => "normal".into(),
        (detector_wasm::verdict::Status::Warmup, _) => "warmup".into(),
    };
    let score = v.score.map(|s| format!("score {s:.1}")).unwrap_or_else(|| "score -".into());
    let time = v.timestamp.map(format_time).unwrap_or_else(|| "-".into());
    format!("{time}  {status:<14} {:<12} {:<14} {score:<11} {}", v.key, v.event_id, v.reason)
}

/// RFC 3339 UTC from ms since the epoch.
pub fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_render_as_rfc3339() {
        assert_eq!(format_time(1_234_567_890_000), "2009-02-13T23:31:30Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_825_600_123), "2000-02-29T12:00:00Z");
    }
}
