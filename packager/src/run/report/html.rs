//! The report page: one HTML file with inline CSS and SVG, no scripts and nothing fetched.

use super::{Class, Report, Row, chart};
use crate::output::format_time;
use std::fmt::Write;

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1160px}h1{font-size:22px}h2{font-size:18px;margin-top:28px}\
h3{font-size:14px;margin:16px 0 4px}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}.note{background:#fff8dc;border:1px solid #e6d8a0;padding:6px 10px;font-size:13px}\
.stats span{display:inline-block;margin-right:18px}.legend svg{vertical-align:middle}.o-hit{color:#2ca02c}.o-miss{color:#9467bd}\
.o-false-alarm{color:#ff7f0e}.o-anomaly{color:#d62728}code{font-size:12px}";

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page.
pub fn render(r: &Report) -> String {
    let s = &r.summary;
    let log = r.meta.config.get("log_transform").and_then(serde_json::Value::as_bool).unwrap_or(false);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>anomaly report: {}</title><style>{STYLE}</style></head><body>",
        escape(&r.meta.input)
    );
    let _ = write!(h, "<h1>Anomaly report: {}</h1>", escape(&r.meta.input));
    let _ = write!(
        h,
        "<p class=\"stats\" id=\"totals\"><span>{} events</span><span>{} keys</span><span><b>{} anomalies</b></span><span>{} invalid records</span><span>{} in warm-up</span><span>{}</span><span>replayed in {:.2} s</span></p>",
        s.events,
        s.keys,
        s.anomalies,
        s.invalid,
        s.warmup,
        escape(&r.meta.kernel),
        r.meta.seconds
    );
    if let Some(c) = &s.labels {
        let _ = write!(
            h,
            "<h2>Against the labels</h2><p class=\"stats\" id=\"scores\"><span>precision <b>{:.3}</b></span><span>recall <b>{:.3}</b></span><span>F1 <b>{:.3}</b></span>\
             <span class=\"o-hit\">{} hits</span><span class=\"o-false-alarm\">{} false alarms</span><span class=\"o-miss\">{} misses</span><span>{} true negatives</span></p>",
            c.precision(),
            c.recall(),
            c.f1(),
            c.true_positives,
            c.false_positives,
            c.false_negatives,
            c.true_negatives
        );
        if !c.by_kind.is_empty() {
            h.push_str("<table><tr><th>labeled kind</th><th>flagged</th><th>labeled</th><th>recall</th></tr>");
            for (kind, (hit, all)) in &c.by_kind {
                let recall = if *all == 0 { 1.0 } else { *hit as f64 / *all as f64 };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td class=\"num\">{hit}</td><td class=\"num\">{all}</td><td class=\"num\">{recall:.3}</td></tr>",
                    escape(kind)
                );
            }
            h.push_str("</table>");
        }
    }
    if r.unreadable > 0 {
        let _ =
            write!(h, "<p class=\"note\">{} verdicts from the kernel could not be read and are missing from this page.</p>", r.unreadable);
    }

    h.push_str("<h2>Keys over time</h2>");
    h.push_str(&legend(s.labels.is_some(), log));
    if !r.missing_keys.is_empty() {
        let keys: Vec<String> = r.missing_keys.iter().map(|k| format!("<code>{}</code>", escape(k))).collect();
        let _ = write!(h, "<p class=\"note\">--report-key asked for keys that are not in the input: {}.</p>", keys.join(", "));
    }
    let aggregated: Vec<String> = r
        .charts
        .iter()
        .filter_map(|(k, series)| {
            let most = series.points.iter().map(|p| p.events).max().unwrap_or(1);
            (most > 1).then(|| {
                format!("<code>{}</code> ({} events in {} points, up to {most} per point)", escape(k), series.events, series.points.len())
            })
        })
        .collect();
    if !aggregated.is_empty() {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"sampling\">Aggregated: charts hold at most {} points per key, so long series merge neighbouring events \
             (the line is their mean, the thin bars their min–max, the band the widest expected band). Anomalies, hits, misses and \
             false alarms are always drawn exactly. {}.</p>",
            r.max_points,
            aggregated.join("; ")
        );
    }
    for (key, series) in &r.charts {
        let _ = write!(
            h,
            "<h3 class=\"key\">{} <small>— {} events, {} anomalies</small></h3>{}",
            escape(key),
            series.events,
            series.anomalies,
            chart::render(series, log, r.time_axis)
        );
    }

    let _ = write!(h, "<h2>Top {} anomalies by score</h2>", r.top.len());
    if r.top.is_empty() {
        h.push_str("<p>No anomalies were flagged.</p>");
    } else {
        rows_table(&mut h, "top", &r.top);
    }

    let flagged_or_labeled = if s.labels.is_some() { "Every flagged anomaly and every labeled anomaly" } else { "Every flagged anomaly" };
    let _ = write!(h, "<h2>{flagged_or_labeled} ({} rows)</h2>", r.rows.len() as u64 + r.rows_left_out);
    if r.rows_left_out > 0 {
        let _ = write!(
            h,
            "<p class=\"note\" id=\"rows-left-out\">Only the first {} rows are listed; {} more were left out (raise --report-max-rows, or \
             see them all with <code>packager run --output json</code>).</p>",
            r.rows.len(),
            r.rows_left_out
        );
    }
    rows_table(&mut h, "all", &r.rows);

    h.push_str("<h2>Configuration used</h2><table id=\"config\"><tr><th>key</th><th>value</th></tr>");
    for (key, value) in &r.meta.config {
        let shown = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(h, "<tr><td><code>{}</code></td><td><code>{}</code></td></tr>", escape(key), escape(&shown));
    }
    h.push_str("</table></body></html>\n");
    h
}

fn legend(labeled: bool, log: bool) -> String {
    let item =
        |o: Class, text: &str| format!("<span><svg width=\"16\" height=\"16\">{}</svg> {text}</span> ", chart::marker_svg(o, 8.0, 8.0, ""));
    let mut l = String::from("<p class=\"legend stats\">");
    l.push_str("<span><svg width=\"22\" height=\"12\"><rect width=\"22\" height=\"12\" fill=\"#1f77b4\" fill-opacity=\"0.15\"/><line x1=\"0\" x2=\"22\" y1=\"6\" y2=\"6\" stroke=\"#1f77b4\"/></svg> value and expected band</span> ");
    if labeled {
        l.push_str(&item(Class::Hit, "hit (flagged, labeled anomaly)"));
        l.push_str(&item(Class::FalseAlarm, "false alarm (flagged, labeled normal)"));
        l.push_str(&item(Class::Miss, "miss (labeled anomaly, not flagged)"));
    } else {
        l.push_str(&item(Class::Flagged, "flagged anomaly"));
    }
    if log {
        l.push_str("<span>y axis: ln(1 + value), as the detector sees it (log_transform)</span>");
    }
    l.push_str("</p>");
    l
}

fn rows_table(h: &mut String, id: &str, rows: &[Row]) {
    let _ = write!(
        h,
        "<table id=\"{id}\"><tr><th>outcome</th><th>anomaly id</th><th>event id</th><th>key</th><th>time</th><th>line</th><th>value</th><th>score</th><th>severity</th><th>label</th><th>reason</th></tr>"
    );
    for row in rows {
        let class = row.outcome.as_str().replace(' ', "-");
        let _ = write!(
            h,
            "<tr class=\"o-{class}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            row.outcome.as_str(),
            escape(&row.anomaly_id),
            escape(&row.event_id),
            escape(&row.key),
            row.timestamp.map(format_time).unwrap_or_default(),
            row.line,
            row.value,
            row.score.map(|s| format!("{s:.2}")).unwrap_or_else(|| "–".into()),
            row.severity.unwrap_or(""),
            escape(row.label.as_deref().unwrap_or("")),
            escape(&row.reason)
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
