//! One key's chart as inline SVG: the expected band, the values, and exactly placed markers.

use super::html::escape;
use super::{Class, KeySeries};
use crate::output::format_time;
use std::fmt::Write;

const WIDTH: f64 = 1100.0;
const HEIGHT: f64 = 230.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// Colours and shapes shared by the charts and the legend.
pub fn marker_svg(outcome: Class, x: f64, y: f64, title: &str) -> String {
    let title = if title.is_empty() { String::new() } else { format!("<title>{}</title>", escape(title)) };
    match outcome {
        Class::Flagged => format!(
            r##"<circle class="m-anomaly" cx="{x:.1}" cy="{y:.1}" r="4.5" fill="#d62728" stroke="#000" stroke-width="0.8">{title}</circle>"##
        ),
        Class::Hit => format!(
            r##"<circle class="m-hit" cx="{x:.1}" cy="{y:.1}" r="5" fill="#2ca02c" stroke="#000" stroke-width="0.8">{title}</circle>"##
        ),
        Class::FalseAlarm => format!(
            r##"<path class="m-false-alarm" d="M{:.1},{:.1}l9,9m0,-9l-9,9" stroke="#ff7f0e" stroke-width="2.6">{title}</path>"##,
            x - 4.5,
            y - 4.5
        ),
        Class::Miss => format!(
            r##"<path class="m-miss" d="M{x:.1},{:.1}l5.5,9.5h-11z" fill="none" stroke="#9467bd" stroke-width="2">{title}</path>"##,
            y - 6.0
        ),
    }
}

/// The SVG for one key. `log` plots `ln(1 + value)` (as the detector sees money) with ticks in the value's unit.
pub fn render(series: &KeySeries, log: bool, time_axis: bool) -> String {
    let scale = |v: f64| if log { v.max(0.0).ln_1p() } else { v };
    let unscale = |y: f64| if log { y.exp_m1() } else { y };
    let finite = |v: f32| v.is_finite().then_some(v as f64);
    let mut xs = series.points.iter().map(|p| p.x).chain(series.markers.iter().map(|m| m.x));
    let first = xs.next().unwrap_or(0.0);
    let (x0, x1) = xs.fold((first, first), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let ys = series
        .points
        .iter()
        .flat_map(|p| [finite(p.min), finite(p.max), finite(p.low), finite(p.high)])
        .flatten()
        .chain(series.markers.iter().map(|m| m.value))
        .map(scale);
    let (mut y0, mut y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| (lo.min(y), hi.max(y)));
    if !y0.is_finite() {
        (y0, y1) = (0.0, 1.0);
    }
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    let pad = (y1 - y0) * 0.05;
    // ln(1 + v) of a non-negative value is never below 0: padding must not invent negative ticks.
    let (y0, y1) = (if log { (y0 - pad).max(0.0) } else { y0 - pad }, y1 + pad);
    let span_x = if x1 > x0 { x1 - x0 } else { 1.0 };
    let px = |x: f64| LEFT + (x - x0) / span_x * (WIDTH - LEFT - RIGHT);
    let py = |v: f64| TOP + (1.0 - (scale(v) - y0) / (y1 - y0)) * (HEIGHT - TOP - BOTTOM);

    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">"#
    );
    // Axes and ticks.
    for i in 0..=4 {
        let y = y0 + (y1 - y0) * i as f64 / 4.0;
        let v = unscale(y);
        let yy = py(v);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{yy:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            short_number(v)
        );
    }
    for i in 0..=4 {
        let x = x0 + span_x * i as f64 / 4.0;
        let label = if time_axis { format_time(x as i64)[5..16].replace('T', " ") } else { format!("line {}", x as u64) };
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(svg, r##"<text x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="#555">{label}</text>"##, px(x), HEIGHT - 8.0);
    }
    // The expected band: one polygon per run of points that have a band.
    let mut run: Vec<(f64, f64, f64)> = Vec::new();
    let flush = |run: &mut Vec<(f64, f64, f64)>, svg: &mut String| {
        if run.len() > 1 {
            let upper = run.iter().map(|(x, _, h)| format!("{:.1},{:.1}", px(*x), py(*h)));
            let lower = run.iter().rev().map(|(x, l, _)| format!("{:.1},{:.1}", px(*x), py(*l)));
            let pts: Vec<String> = upper.chain(lower).collect();
            let _ = write!(svg, r##"<polygon class="band" points="{}" fill="#1f77b4" fill-opacity="0.15" stroke="none"/>"##, pts.join(" "));
        }
        run.clear();
    };
    for p in &series.points {
        match (finite(p.low), finite(p.high)) {
            (Some(l), Some(h)) => run.push((p.x, l, h)),
            _ => flush(&mut run, &mut svg),
        }
    }
    flush(&mut run, &mut svg);
    // Merged points also show their min..max range.
    let mut range = String::new();
    for p in series.points.iter().filter(|p| p.events > 1 && p.max > p.min) {
        let _ = write!(range, "M{:.1},{:.1}V{:.1}", px(p.x), py(p.min as f64), py(p.max as f64));
    }
    if !range.is_empty() {
        let _ = write!(svg, r##"<path class="range" d="{range}" stroke="#1f77b4" stroke-opacity="0.35" stroke-width="1"/>"##);
    }
    let line: Vec<String> = series.points.iter().map(|p| format!("{:.1},{:.1}", px(p.x), py(p.mean as f64))).collect();
    let _ = write!(svg, r##"<polyline class="values" points="{}" fill="none" stroke="#1f77b4" stroke-width="1.2"/>"##, line.join(" "));
    for m in &series.markers {
        svg.push_str(&marker_svg(m.outcome, px(m.x), py(m.value), ""));
    }
    svg.push_str("</svg>");
    svg
}

/// A compact tick label: 1234.5 → 1.23k.
fn short_number(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::report::{Marker, Point};

    #[test]
    fn chart_has_band_values_and_one_marker_per_marked_event() {
        let p = |x: f64, v: f32, band: bool| Point {
            x,
            mean: v,
            min: v,
            max: v,
            low: if band { 5.0 } else { f32::NAN },
            high: if band { 20.0 } else { f32::NAN },
            events: 1,
        };
        let series = KeySeries {
            events: 4,
            anomalies: 1,
            points: vec![p(0.0, 0.0, false), p(1.0, 11.0, true), p(2.0, 12.0, true), p(3.0, 90.0, true)],
            markers: vec![Marker { x: 3.0, value: 90.0, outcome: Class::Hit }, Marker { x: 2.0, value: 12.0, outcome: Class::Miss }],
        };
        let svg = render(&series, true, false);
        assert_eq!(svg.matches("<polygon class=\"band\"").count(), 1, "warm-up points have no band");
        assert_eq!(svg.matches("class=\"m-hit\"").count(), 1);
        assert_eq!(svg.matches("class=\"m-miss\"").count(), 1);
        assert!(svg.contains("line 3"), "x axis falls back to input lines: {svg}");
        assert!(!svg.contains("NaN"), "no NaN coordinates: {svg}");
        assert!(!svg.contains(">-"), "no negative ticks on a log axis: {svg}");
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short_number(1_234_567.0), "1.23M");
        assert_eq!(short_number(12_345.0), "12.3k");
        assert_eq!(short_number(250.4), "250");
        assert_eq!(short_number(2.71), "2.7");
    }
}
