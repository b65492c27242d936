//! Small self-contained SVG plots for reports: scatter of model against data, line plots and
//! rasters. Plain SVG 1.1 text, readable in any browser and in Markdown viewers.

use std::fmt::Write as _;

const WIDTH: f64 = 420.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 46.0;

/// One series of a line plot.
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Stroke colour (CSS).
    pub colour: &'a str,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log_y: bool,
}

impl Frame {
    fn px(&self, x: f64) -> f64 {
        let (lo, hi) = self.x;
        LEFT + (x - lo) / (hi - lo).max(1e-300) * (WIDTH - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let (lo, hi) = self.y;
        let (y, lo, hi) = if self.log_y {
            (y.max(1e-300).log10(), lo.log10(), hi.log10())
        } else {
            (y, lo, hi)
        };
        HEIGHT - BOTTOM - (y - lo) / (hi - lo).max(1e-300) * (HEIGHT - TOP - BOTTOM)
    }
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi > lo {
        let pad = 0.04 * (hi - lo);
        (lo - pad, hi + pad)
    } else {
        (lo - 0.5, hi + 0.5)
    }
}

fn tick_text(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-3 {
        format!("{v:.1e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn axes(out: &mut String, frame: &Frame, title: &str, x_label: &str, y_label: &str) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
    );
    let _ = write!(
        out,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{}" y="18" text-anchor="middle" font-size="13">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let (x0, x1) = (LEFT, WIDTH - RIGHT);
    let (y0, y1) = (HEIGHT - BOTTOM, TOP);
    let _ = write!(
        out,
        r#"<path d="M{x0},{y1} L{x0},{y0} L{x1},{y0}" fill="none" stroke="black"/>"#
    );
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let xv = frame.x.0 + f * (frame.x.1 - frame.x.0);
        let xp = frame.px(xv);
        let _ = write!(
            out,
            r#"<line x1="{xp}" y1="{y0}" x2="{xp}" y2="{}" stroke="black"/><text x="{xp}" y="{}" text-anchor="middle">{}</text>"#,
            y0 + 4.0,
            y0 + 16.0,
            tick_text(xv)
        );
        let yv = if frame.log_y {
            10f64.powf(frame.y.0.log10() + f * (frame.y.1.log10() - frame.y.0.log10()))
        } else {
            frame.y.0 + f * (frame.y.1 - frame.y.0)
        };
        let yp = frame.py(yv);
        let _ = write!(
            out,
            r#"<line x1="{}" y1="{yp}" x2="{x0}" y2="{yp}" stroke="black"/><text x="{}" y="{}" text-anchor="end">{}</text>"#,
            x0 - 4.0,
            x0 - 6.0,
            yp + 4.0,
            tick_text(yv)
        );
    }
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text transform="translate(14,{}) rotate(-90)" text-anchor="middle">{}</text>"#,
        (x0 + x1) / 2.0,
        HEIGHT - 8.0,
        escape(x_label),
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// Scatter of generated (y) against real (x) values, with the identity line.
pub fn scatter(title: &str, real: &[f64], generated: &[f64]) -> String {
    let (lo, hi) = range(real.iter().chain(generated).copied());
    let frame = Frame {
        x: (lo, hi),
        y: (lo, hi),
        log_y: false,
    };
    let mut out = String::new();
    axes(&mut out, &frame, title, "real", "generated");
    let _ = write!(
        out,
        r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 3"/>"##,
        frame.px(lo),
        frame.py(lo),
        frame.px(hi),
        frame.py(hi)
    );
    for (x, y) in real.iter().zip(generated) {
        if x.is_finite() && y.is_finite() {
            let _ = write!(
                out,
                r##"<circle cx="{:.2}" cy="{:.2}" r="2" fill="#1f77b4" fill-opacity="0.6"/>"##,
                frame.px(*x),
                frame.py(*y)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Blue (0) to red (1).
fn colour(value: f64) -> String {
    let v = value.clamp(0.0, 1.0);
    let r = (40.0 + 200.0 * v) as u8;
    let b = (240.0 - 200.0 * v) as u8;
    format!("rgb({r},60,{b})")
}

/// Scatter of `(x, y, colour in [0, 1], label)` points (blue to red), each labelled when a
/// label is given.
pub fn coloured_scatter(
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64, f64, Option<String>)],
) -> String {
    let frame = Frame {
        x: range(points.iter().map(|p| p.0)),
        y: range(points.iter().map(|p| p.1)),
        log_y: false,
    };
    let mut out = String::new();
    axes(&mut out, &frame, title, x_label, y_label);
    let radius = if points.len() > 500 { 1.5 } else { 4.0 };
    for (x, y, c, label) in points {
        if !(x.is_finite() && y.is_finite()) {
            continue;
        }
        let (px, py) = (frame.px(*x), frame.py(*y));
        let _ = write!(
            out,
            r#"<circle cx="{px:.2}" cy="{py:.2}" r="{radius}" fill="{}" fill-opacity="0.8"/>"#,
            colour(*c)
        );
        if let Some(label) = label {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                px + 5.0,
                py - 5.0,
                escape(label)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Line plot of several series (log-scaled y when `log_y`, non-positive values dropped).
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    log_y: bool,
) -> String {
    let xs = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|y| !log_y || *y > 0.0)
        .collect();
    let y = if log_y {
        let lo = ys.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = ys.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo.is_finite() && hi > lo {
            (lo / 1.5, hi * 1.5)
        } else {
            (1e-6, 1.0)
        }
    } else {
        range(ys.into_iter())
    };
    let frame = Frame { x: xs, y, log_y };
    let mut out = String::new();
    axes(&mut out, &frame, title, x_label, y_label);
    for (k, s) in series.iter().enumerate() {
        let mut d = String::new();
        for (x, y) in &s.points {
            if !(x.is_finite() && y.is_finite()) || (log_y && *y <= 0.0) {
                continue;
            }
            let _ = write!(
                d,
                "{}{:.2},{:.2} ",
                if d.is_empty() { "M" } else { "L" },
                frame.px(*x),
                frame.py(*y)
            );
        }
        let _ = write!(
            out,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.6"/><text x="{}" y="{}" fill="{}">{}</text>"#,
            d.trim_end(),
            s.colour,
            WIDTH - RIGHT - 110.0,
            TOP + 14.0 + 14.0 * k as f64,
            s.colour,
            escape(s.label)
        );
    }
    out.push_str("</svg>\n");
    out
}

/// Raster of spikes: `rows` (neurons) of 0/1 (or counts) over time, one tick per nonzero bin.
pub fn raster(title: &str, rows: &[Vec<f64>]) -> String {
    let bins = rows.iter().map(Vec::len).max().unwrap_or(1).max(1);
    let neurons = rows.len().max(1);
    let frame = Frame {
        x: (0.0, bins as f64),
        y: (0.0, neurons as f64),
        log_y: false,
    };
    let mut out = String::new();
    axes(&mut out, &frame, title, "bin", "neuron");
    let h = ((HEIGHT - TOP - BOTTOM) / neurons as f64 * 0.8).max(0.5);
    let w = ((WIDTH - LEFT - RIGHT) / bins as f64).max(0.6);
    for (n, row) in rows.iter().enumerate() {
        for (t, &v) in row.iter().enumerate() {
            if v > 0.0 {
                let _ = write!(
                    out,
                    r#"<rect x="{:.2}" y="{:.2}" width="{w:.2}" height="{h:.2}" fill="black"/>"#,
                    frame.px(t as f64),
                    frame.py(n as f64 + 0.9)
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out
}
