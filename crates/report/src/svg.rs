//! Self-contained SVG figures for reports, laid out the way a reader of a neuroscience paper
//! expects them: "nice" ticks (steps of 1, 2 or 5 times a power of ten), axes that start at zero
//! for quantities that cannot be negative, labelled axes (units in the label), log scales marked
//! as such, legends outside the data, and margins measured from the text so nothing is clipped.
//!
//! Every function returns plain SVG 1.1 text with its own white background, readable in any
//! browser, in Markdown viewers, and inlined into an HTML report.

use std::fmt::Write as _;

/// Font size of tick labels and legends, in pixels.
const FONT: f64 = 11.0;
/// Font size of titles, in pixels.
const TITLE_FONT: f64 = 13.0;
/// Width of the data area of a plot, in pixels.
const PLOT_W: f64 = 340.0;
/// Height of the data area of a plot, in pixels.
const PLOT_H: f64 = 240.0;
/// Categorical colours (the "tab10" palette), assigned in order.
pub const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Width of `text` at `size` pixels in a sans-serif font: a generous estimate (0.62 em per
/// character) so that margins built from it never clip.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.62
}

/// `text` with the characters XML reserves escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether an axis is linear or logarithmic (base 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Linear.
    Linear,
    /// Base-10 logarithmic; non-positive values are left out.
    Log,
}

/// One axis of a plot: its label (with units) and how it maps values.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Label, with units in parentheses where the quantity has them.
    pub label: String,
    /// Linear or log.
    pub scale: Scale,
    /// The quantity cannot be negative: the axis never extends below zero.
    pub non_negative: bool,
    /// Fixed limits instead of the data's (still rounded out to ticks).
    pub limits: Option<(f64, f64)>,
}

impl Axis {
    /// A linear axis that may take any sign.
    pub fn linear(label: &str) -> Self {
        Self {
            label: label.to_string(),
            scale: Scale::Linear,
            non_negative: false,
            limits: None,
        }
    }

    /// A linear axis of a quantity that cannot be negative (rates, counts, probabilities).
    pub fn non_negative(label: &str) -> Self {
        Self {
            non_negative: true,
            ..Self::linear(label)
        }
    }

    /// A base-10 log axis (its label says "log scale").
    pub fn log(label: &str) -> Self {
        Self {
            scale: Scale::Log,
            non_negative: true,
            ..Self::linear(label)
        }
    }

    /// The same axis with fixed limits.
    pub fn with_limits(mut self, lo: f64, hi: f64) -> Self {
        self.limits = Some((lo, hi));
        self
    }

    fn title(&self) -> String {
        match self.scale {
            Scale::Linear => self.label.clone(),
            Scale::Log => format!("{} (log scale)", self.label),
        }
    }
}

/// A laid-out axis: limits rounded out to ticks and the ticks' values and labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    /// Lower limit of the axis (a tick).
    pub lo: f64,
    /// Upper limit of the axis (a tick).
    pub hi: f64,
    /// Tick positions, in data units, ascending.
    pub values: Vec<f64>,
    /// Tick labels, one per position.
    pub labels: Vec<String>,
    /// The axis is logarithmic (limits and values are in data units, not exponents).
    pub log: bool,
}

/// A step of 1, 2 or 5 times a power of ten near `span / target`.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let factor = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    factor * magnitude
}

/// Decimals needed to print multiples of `step` exactly.
fn decimals(step: f64) -> usize {
    let mut d = 0;
    while d < 12 {
        let scaled = step * 10f64.powi(d as i32);
        if (scaled - scaled.round()).abs() < 1e-6 * scaled.abs().max(1.0) {
            break;
        }
        d += 1;
    }
    d
}

/// A tick label: `value` printed with the decimals of `step`, in scientific notation for very
/// large or very small magnitudes; zero is always "0".
fn tick_label(value: f64, step: f64) -> String {
    if value == 0.0 || value.abs() < step * 1e-9 {
        return "0".into();
    }
    let largest = value.abs().max(step);
    if largest >= 1e5 || step < 1e-4 {
        let exponent = step.log10().floor() as i32;
        let mantissa_step = step / 10f64.powi(exponent);
        let d = decimals(mantissa_step);
        return format!("{:.*}e{exponent}", d, value / 10f64.powi(exponent));
    }
    format!("{:.*}", decimals(step), value)
}

/// Linear ticks inside `[lo, hi]` (the axis' limits) at multiples of a 1-2-5 step, about
/// `target` intervals apart; a degenerate range is widened around its value.
pub fn linear_ticks(lo: f64, hi: f64, target: usize) -> Ticks {
    let (lo, hi) = if hi > lo && (hi - lo) > 1e-12 * hi.abs().max(lo.abs()) {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        let half = 0.5 * lo.abs();
        (lo - half, hi + half)
    };
    let mut step = nice_step(hi - lo, target);
    // At least two ticks inside the limits.
    while ((hi / step + 1e-9).floor() - (lo / step - 1e-9).ceil()) < 1.0 {
        step /= 2.0;
    }
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    let values: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
    let labels = values.iter().map(|&v| tick_label(v, step)).collect();
    Ticks {
        lo,
        hi,
        values,
        labels,
        log: false,
    }
}

/// Log ticks at powers of ten covering `[lo, hi]` (both positive).
pub fn log_ticks(lo: f64, hi: f64) -> Ticks {
    let (lo, hi) = if lo > 0.0 && hi > 0.0 {
        (lo.min(hi), hi.max(lo))
    } else {
        (0.1, 1.0)
    };
    let first = (lo.log10() + 1e-9).floor() as i32;
    let mut last = (hi.log10() - 1e-9).ceil() as i32;
    if last <= first {
        last = first + 1;
    }
    let every = ((last - first) as f64 / 6.0).ceil().max(1.0) as i32;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut k = first;
    while k <= last {
        values.push(10f64.powi(k));
        labels.push(match k {
            0 => "1".to_string(),
            1..=4 => format!("{}", 10i64.pow(k as u32)),
            -3..=-1 => format!("{:.*}", (-k) as usize, 10f64.powi(k)),
            _ => format!("1e{k}"),
        });
        k += every;
    }
    Ticks {
        lo: 10f64.powi(first),
        hi: 10f64.powi(last),
        values,
        labels,
        log: true,
    }
}

/// The ticks of `axis` over the finite `data` (positive values only on a log axis).
fn ticks_for(axis: &Axis, data: impl Iterator<Item = f64>) -> Ticks {
    let values: Vec<f64> = data
        .filter(|v| v.is_finite() && (axis.scale == Scale::Linear || *v > 0.0))
        .collect();
    let (mut lo, mut hi) = axis.limits.unwrap_or_else(|| {
        values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            })
    });
    if !lo.is_finite() || !hi.is_finite() {
        (lo, hi) = match axis.scale {
            Scale::Linear => (0.0, 1.0),
            Scale::Log => (0.1, 1.0),
        };
    }
    match axis.scale {
        Scale::Log => log_ticks(lo, hi),
        Scale::Linear => {
            if axis.limits.is_none() {
                // A margin of 3% of the range on each side, so no mark sits on an axis line.
                let pad = 0.03 * (hi - lo);
                if axis.non_negative && lo >= 0.0 && lo <= 0.25 * hi {
                    // A range that starts near zero starts at zero.
                    lo = 0.0;
                } else {
                    lo -= pad;
                }
                hi += pad;
            }
            if axis.non_negative {
                lo = lo.max(0.0);
                hi = hi.max(lo);
            }
            linear_ticks(lo, hi, 5)
        }
    }
}

/// Where values land on screen along one axis.
struct Map {
    ticks: Ticks,
    from: f64,
    to: f64,
}

impl Map {
    fn at(&self, v: f64) -> f64 {
        let (v, lo, hi) = if self.ticks.log {
            (
                v.max(self.ticks.lo * 1e-3).log10(),
                self.ticks.lo.log10(),
                self.ticks.hi.log10(),
            )
        } else {
            (v, self.ticks.lo, self.ticks.hi)
        };
        self.from + (v - lo) / (hi - lo).max(1e-300) * (self.to - self.from)
    }
}

/// An entry of a legend: a colour and its text.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    /// CSS colour.
    pub colour: String,
    /// Text.
    pub label: String,
    /// Drawn as a line (series) rather than a dot (points).
    pub line: bool,
    /// The line is dashed (a reference curve).
    pub dashed: bool,
}

/// A plot's frame: canvas size, data area, axes and title, with margins measured from the text.
struct Frame {
    x: Map,
    y: Map,
    width: f64,
    out: String,
}

impl Frame {
    /// Lay out a plot of `plot_w` x `plot_h` with the given ticks, axis titles, title lines and
    /// legend (placed right of the data), and draw everything but the data.
    #[allow(clippy::too_many_arguments)]
    fn new(
        title: &str,
        x_axis: &Axis,
        x_ticks: Ticks,
        y_axis: &Axis,
        y_ticks: Ticks,
        legend: &[LegendEntry],
        extra_right: f64,
        plot_w: f64,
        plot_h: f64,
    ) -> Self {
        let y_label_w = y_ticks
            .labels
            .iter()
            .map(|l| text_width(l, FONT))
            .fold(0.0, f64::max);
        let left = 14.0 + FONT + 8.0 + y_label_w + 8.0;
        let legend_w = if legend.is_empty() {
            0.0
        } else {
            legend
                .iter()
                .map(|e| text_width(&e.label, FONT))
                .fold(0.0, f64::max)
                + 34.0
        };
        // The last x tick label may stick out right of the data area by half its width.
        let last_x_half = x_ticks
            .labels
            .last()
            .map_or(0.0, |l| 0.5 * text_width(l, FONT));
        let right = (12.0 + legend_w + extra_right).max(last_x_half + 6.0);
        let title_lines = wrap(
            title,
            ((plot_w + left + right) / (TITLE_FONT * 0.62)) as usize,
        );
        let top = 12.0 + title_lines.len() as f64 * (TITLE_FONT + 4.0) + 6.0;
        let bottom = 8.0 + FONT + 8.0 + FONT + 12.0;
        let width = (left + plot_w + right).ceil();
        let height = (top + plot_h + bottom).ceil();
        let x = Map {
            ticks: x_ticks,
            from: left,
            to: left + plot_w,
        };
        let y = Map {
            ticks: y_ticks,
            from: top + plot_h,
            to: top,
        };
        let mut out = open_svg(width, height, &title_lines);
        // Gridlines and ticks.
        for (v, label) in x.ticks.values.iter().zip(&x.ticks.labels) {
            let px = x.at(*v);
            let _ = write!(
                out,
                r##"<line x1="{px:.1}" y1="{top:.1}" x2="{px:.1}" y2="{:.1}" stroke="#e5e5e5"/><line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="black"/><text x="{px:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                top + plot_h,
                top + plot_h,
                top + plot_h + 4.0,
                top + plot_h + 8.0 + FONT,
                escape(label)
            );
        }
        for (v, label) in y.ticks.values.iter().zip(&y.ticks.labels) {
            let py = y.at(*v);
            let _ = write!(
                out,
                r##"<line x1="{left:.1}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#e5e5e5"/><line x1="{:.1}" y1="{py:.1}" x2="{left:.1}" y2="{py:.1}" stroke="black"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                left + plot_w,
                left - 4.0,
                left - 6.0,
                py + FONT * 0.35,
                escape(label)
            );
        }
        let _ = write!(
            out,
            r#"<path d="M{left:.1},{top:.1} L{left:.1},{:.1} L{:.1},{:.1}" fill="none" stroke="black"/>"#,
            top + plot_h,
            left + plot_w,
            top + plot_h
        );
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text><text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
            left + plot_w / 2.0,
            height - 10.0,
            escape(&x_axis.title()),
            14.0 + FONT * 0.5,
            top + plot_h / 2.0,
            escape(&y_axis.title())
        );
        for (k, entry) in legend.iter().enumerate() {
            let lx = left + plot_w + 14.0;
            let ly = top + 8.0 + k as f64 * (FONT + 6.0);
            if entry.line {
                let _ = write!(
                    out,
                    r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{}" stroke-width="2"{}/>"#,
                    lx + 16.0,
                    entry.colour,
                    if entry.dashed {
                        r#" stroke-dasharray="4 2""#
                    } else {
                        ""
                    }
                );
            } else {
                let _ = write!(
                    out,
                    r#"<circle cx="{:.1}" cy="{ly:.1}" r="4" fill="{}"/>"#,
                    lx + 8.0,
                    entry.colour
                );
            }
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                lx + 20.0,
                ly + FONT * 0.35,
                escape(&entry.label)
            );
        }
        Self { x, y, width, out }
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }
}

/// The opening of a figure `width` x `height` pixels: the `<svg>` element with its fonts, a white
/// background, and the title's lines centred at the top (the caller closes the element).
fn open_svg(width: f64, height: f64, title_lines: &[String]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="{FONT}"><rect width="{width}" height="{height}" fill="white"/>"#
    );
    for (k, line) in title_lines.iter().enumerate() {
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="{TITLE_FONT}">{}</text>"#,
            width / 2.0,
            12.0 + TITLE_FONT + k as f64 * (TITLE_FONT + 4.0),
            escape(line)
        );
    }
    out
}

/// `text` broken into lines of at most about `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width.max(10) {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// One series of a line plot.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Stroke colour (CSS).
    pub colour: String,
    /// Points, in data units.
    pub points: Vec<(f64, f64)>,
    /// Dashed (reference curves such as floors and baselines).
    pub dashed: bool,
}

impl Series {
    /// A solid series.
    pub fn new(label: &str, colour: &str, points: Vec<(f64, f64)>) -> Self {
        Self {
            label: label.to_string(),
            colour: colour.to_string(),
            points,
            dashed: false,
        }
    }

    /// The same series, dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// Line plot of several series with a legend right of the data; points outside a log axis'
/// domain (non-positive) are left out.
pub fn lines(title: &str, x_axis: &Axis, y_axis: &Axis, series: &[Series]) -> String {
    let usable = |s: &Series| -> Vec<(f64, f64)> {
        s.points
            .iter()
            .copied()
            .filter(|(x, y)| {
                x.is_finite()
                    && y.is_finite()
                    && (x_axis.scale == Scale::Linear || *x > 0.0)
                    && (y_axis.scale == Scale::Linear || *y > 0.0)
            })
            .collect()
    };
    let kept: Vec<Vec<(f64, f64)>> = series.iter().map(usable).collect();
    let x_ticks = ticks_for(x_axis, kept.iter().flatten().map(|p| p.0));
    let y_ticks = ticks_for(y_axis, kept.iter().flatten().map(|p| p.1));
    // Series with nothing to draw (a figure the run did not log) are left out, legend and
    // all; one series needs no legend: the title and axis say what it is.
    let drawn: Vec<(&Series, &Vec<(f64, f64)>)> = series
        .iter()
        .zip(&kept)
        .filter(|(_, points)| !points.is_empty())
        .collect();
    let legend: Vec<LegendEntry> = drawn
        .iter()
        .filter(|_| drawn.len() > 1)
        .map(|(s, _)| LegendEntry {
            colour: s.colour.clone(),
            label: s.label.clone(),
            line: true,
            dashed: s.dashed,
        })
        .collect();
    let mut frame = Frame::new(
        title, x_axis, x_ticks, y_axis, y_ticks, &legend, 0.0, PLOT_W, PLOT_H,
    );
    for (s, points) in drawn {
        let mut d = String::new();
        for (x, y) in points {
            let _ = write!(
                d,
                "{}{:.2},{:.2} ",
                if d.is_empty() { "M" } else { "L" },
                frame.x.at(*x),
                frame.y.at(*y)
            );
        }
        let dash = if s.dashed {
            r#" stroke-dasharray="5 3""#
        } else {
            ""
        };
        let _ = write!(
            frame.out,
            r#"<path class="mark" d="{}" fill="none" stroke="{}" stroke-width="1.8"{dash}/>"#,
            d.trim_end(),
            s.colour
        );
        if points.len() <= 40 {
            for (x, y) in points {
                let _ = write!(
                    frame.out,
                    r#"<circle cx="{:.2}" cy="{:.2}" r="2.2" fill="{}"/>"#,
                    frame.x.at(*x),
                    frame.y.at(*y),
                    s.colour
                );
            }
        }
    }
    frame.finish()
}

/// Scatter of generated (y) against real (x) values of one statistic, on equal axes with the
/// identity line; the axes start at zero when no value is negative.
pub fn scatter(title: &str, quantity: &str, real: &[f64], generated: &[f64]) -> String {
    paired_scatter(
        title,
        (quantity, "real"),
        (quantity, "generated"),
        real,
        generated,
    )
}

/// Scatter of `y` against `x` on equal axes with the identity line, the axes labelled
/// "<quantity>, <whose>" (e.g. "r0, true" and "r0, decoded").
pub fn paired_scatter(
    title: &str,
    x_label: (&str, &str),
    y_label: (&str, &str),
    real: &[f64],
    generated: &[f64],
) -> String {
    let non_negative = real
        .iter()
        .chain(generated)
        .all(|v| *v >= 0.0 || !v.is_finite());
    let axis = |(quantity, who): (&str, &str)| {
        let label = format!("{quantity}, {who}");
        if non_negative {
            Axis::non_negative(&label)
        } else {
            Axis::linear(&label)
        }
    };
    let (x_axis, y_axis) = (axis(x_label), axis(y_label));
    let ticks = ticks_for(&x_axis, real.iter().chain(generated).copied());
    let mut frame = Frame::new(
        title,
        &x_axis,
        ticks.clone(),
        &y_axis,
        ticks,
        &[],
        0.0,
        PLOT_H,
        PLOT_H,
    );
    let (lo, hi) = (frame.x.ticks.lo, frame.x.ticks.hi);
    let _ = write!(
        frame.out,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#888" stroke-dasharray="4 3"/>"##,
        frame.x.at(lo),
        frame.y.at(lo),
        frame.x.at(hi),
        frame.y.at(hi)
    );
    let radius = if real.len() > 2000 { 1.2 } else { 2.2 };
    for (x, y) in real.iter().zip(generated) {
        if x.is_finite() && y.is_finite() {
            let _ = write!(
                frame.out,
                r##"<circle class="mark" cx="{:.2}" cy="{:.2}" r="{radius}" fill="#1f77b4" fill-opacity="0.6"/>"##,
                frame.x.at(*x),
                frame.y.at(*y)
            );
        }
    }
    frame.finish()
}

/// A point of a scatter coloured by category.
#[derive(Debug, Clone)]
pub struct CategoryPoint {
    /// Horizontal coordinate.
    pub x: f64,
    /// Vertical coordinate.
    pub y: f64,
    /// Index into the category names.
    pub category: usize,
    /// Text drawn beside the point.
    pub label: Option<String>,
}

/// The colour of category `k` of `n`: the categorical palette for up to ten, else a ramp in the
/// categories' order (for ordered conditions such as a parameter sweep).
pub fn category_colour(k: usize, n: usize) -> String {
    if n <= PALETTE.len() {
        PALETTE[k % PALETTE.len()].to_string()
    } else {
        ramp(k as f64 / (n - 1).max(1) as f64)
    }
}

/// Scatter of points coloured by category, with a legend of the category names right of the
/// data (more than ten categories are coloured along a ramp in their order, and the legend
/// names about twelve of them, evenly spaced).
pub fn category_scatter(
    title: &str,
    x_axis: &Axis,
    y_axis: &Axis,
    points: &[CategoryPoint],
    categories: &[String],
) -> String {
    let x_ticks = ticks_for(x_axis, points.iter().map(|p| p.x));
    let y_ticks = ticks_for(y_axis, points.iter().map(|p| p.y));
    let n = categories.len();
    let every = n.div_ceil(12).max(1);
    let legend: Vec<LegendEntry> = categories
        .iter()
        .enumerate()
        .filter(|(k, _)| k % every == 0 || *k + 1 == n)
        .map(|(k, name)| LegendEntry {
            colour: category_colour(k, n),
            label: name.clone(),
            line: false,
            dashed: false,
        })
        .collect();
    let mut frame = Frame::new(
        title, x_axis, x_ticks, y_axis, y_ticks, &legend, 0.0, PLOT_W, PLOT_H,
    );
    let radius = if points.len() > 2000 { 1.3 } else { 3.0 };
    for p in points {
        if !(p.x.is_finite() && p.y.is_finite()) {
            continue;
        }
        let (px, py) = (frame.x.at(p.x), frame.y.at(p.y));
        let _ = write!(
            frame.out,
            r#"<circle class="mark" cx="{px:.2}" cy="{py:.2}" r="{radius}" fill="{}" fill-opacity="0.75"/>"#,
            category_colour(p.category, n)
        );
        if let Some(label) = &p.label {
            let _ = write!(
                frame.out,
                r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
                px + 5.0,
                py - 5.0,
                escape(label)
            );
        }
    }
    frame.finish()
}

/// Bar chart of `values` with one label per bar; `highlighted` bars (e.g. the neurons known to
/// change) are drawn in the second colour and named in the legend as `highlight_label`.
pub fn bars(
    title: &str,
    x_label: &str,
    y_axis: &Axis,
    labels: &[String],
    values: &[f64],
    highlighted: &[bool],
    highlight_label: &str,
) -> String {
    let n = values.len().max(1);
    let x_axis = Axis::linear(x_label);
    let mut x_ticks = linear_ticks(0.0, n as f64, 5);
    // Ticks name the bars: at most ~12 of them, evenly spaced.
    let every = n.div_ceil(12).max(1);
    x_ticks.lo = 0.0;
    x_ticks.hi = n as f64;
    x_ticks.values = (0..n).step_by(every).map(|i| i as f64 + 0.5).collect();
    x_ticks.labels = (0..n)
        .step_by(every)
        .map(|i| labels.get(i).cloned().unwrap_or_else(|| i.to_string()))
        .collect();
    let y_ticks = ticks_for(y_axis, values.iter().copied().chain([0.0]));
    let legend = if highlighted.iter().any(|h| *h) {
        vec![
            LegendEntry {
                colour: PALETTE[0].into(),
                label: "other".into(),
                line: false,
                dashed: false,
            },
            LegendEntry {
                colour: PALETTE[3].into(),
                label: highlight_label.into(),
                line: false,
                dashed: false,
            },
        ]
    } else {
        Vec::new()
    };
    let mut frame = Frame::new(
        title, &x_axis, x_ticks, y_axis, y_ticks, &legend, 0.0, PLOT_W, PLOT_H,
    );
    let base = frame.y.at(frame.y.ticks.lo.max(0.0).min(frame.y.ticks.hi));
    let width = (frame.x.at(1.0) - frame.x.at(0.0)) * 0.8;
    for (i, v) in values.iter().enumerate() {
        if !v.is_finite() {
            continue;
        }
        let top = frame.y.at(*v);
        let colour = if highlighted.get(i).copied().unwrap_or(false) {
            PALETTE[3]
        } else {
            PALETTE[0]
        };
        let _ = write!(
            frame.out,
            r#"<rect class="mark" x="{:.2}" y="{:.2}" width="{width:.2}" height="{:.2}" fill="{colour}"/>"#,
            frame.x.at(i as f64 + 0.1),
            top.min(base),
            (top - base).abs().max(0.5)
        );
    }
    frame.finish()
}

/// A colour on the "viridis"-like ramp from dark blue (0) through teal to yellow (1).
pub fn ramp(value: f64) -> String {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let v = if value.is_finite() {
        value.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let pos = v * (STOPS.len() - 1) as f64;
    let k = (pos.floor() as usize).min(STOPS.len() - 2);
    let f = pos - k as f64;
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    format!(
        "rgb({},{},{})",
        (a.0 + f * (b.0 - a.0)).round() as u8,
        (a.1 + f * (b.1 - a.1)).round() as u8,
        (a.2 + f * (b.2 - a.2)).round() as u8
    )
}

/// A heatmap of `values` (rows x columns, row-major) with a colour bar labelled `value_label`;
/// `row_labels` name the rows (at most ~16 are written), `marks` (same shape) draws a white dot
/// on each marked cell, e.g. the spikes of the sample an importance map explains.
#[allow(clippy::too_many_arguments)]
pub fn heatmap(
    title: &str,
    x_label: &str,
    y_label: &str,
    value_label: &str,
    rows: usize,
    columns: usize,
    values: &[f64],
    row_labels: Option<&[String]>,
    marks: Option<&[bool]>,
) -> String {
    let (rows, columns) = (rows.max(1), columns.max(1));
    let colour_ticks = colour_scale(values.iter().copied());
    let x_axis = Axis::linear(x_label);
    let y_axis = Axis::linear(y_label);
    let mut x_ticks = linear_ticks(0.0, columns as f64, 5);
    x_ticks.values.retain(|v| *v <= columns as f64);
    x_ticks.labels.truncate(x_ticks.values.len());
    x_ticks.lo = 0.0;
    x_ticks.hi = columns as f64;
    // Row 0 at the top, as in a raster: row r spans [rows - r - 1, rows - r] on the axis.
    let every = rows.div_ceil(16).max(1);
    let named: Vec<usize> = (0..rows).step_by(every).collect();
    let y_ticks = Ticks {
        lo: 0.0,
        hi: rows as f64,
        values: named
            .iter()
            .rev()
            .map(|&r| (rows - r) as f64 - 0.5)
            .collect(),
        labels: named
            .iter()
            .rev()
            .map(|&r| {
                row_labels
                    .and_then(|names| names.get(r).cloned())
                    .unwrap_or_else(|| r.to_string())
            })
            .collect(),
        log: false,
    };
    let colour_bar_w = colour_bar_width(&colour_ticks);
    let mut frame = Frame::new(
        title,
        &x_axis,
        x_ticks,
        &y_axis,
        y_ticks,
        &[],
        colour_bar_w,
        PLOT_W,
        PLOT_H,
    );
    let cell_w = (frame.x.at(1.0) - frame.x.at(0.0)).abs();
    let cell_h = (frame.y.at(0.0) - frame.y.at(1.0)).abs();
    let span = (colour_ticks.hi - colour_ticks.lo).max(1e-300);
    for r in 0..rows {
        for c in 0..columns {
            let v = values.get(r * columns + c).copied().unwrap_or(f64::NAN);
            let fill = if v.is_finite() {
                ramp((v - colour_ticks.lo) / span)
            } else {
                "#cccccc".into()
            };
            let _ = write!(
                frame.out,
                r#"<rect class="mark" x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{fill}"/>"#,
                frame.x.at(c as f64),
                frame.y.at((rows - r) as f64),
                cell_w + 0.3,
                cell_h + 0.3
            );
        }
    }
    if let Some(marks) = marks {
        let radius = (0.3 * cell_w.min(cell_h)).clamp(0.6, 3.0);
        for (i, _) in marks.iter().enumerate().filter(|(_, m)| **m) {
            let (r, c) = (i / columns, i % columns);
            if r < rows {
                let _ = write!(
                    frame.out,
                    r##"<circle cx="{:.2}" cy="{:.2}" r="{radius:.2}" fill="white" stroke="#222" stroke-width="0.4"/>"##,
                    frame.x.at(c as f64 + 0.5),
                    frame.y.at((rows - r) as f64 - 0.5)
                );
            }
        }
    }
    colour_bar(&mut frame, &colour_ticks, value_label);
    frame.finish()
}

/// The ticks of a colour bar over the finite `values` (0 to 1 when there are none).
fn colour_scale(values: impl Iterator<Item = f64>) -> Ticks {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() {
        linear_ticks(lo, hi, 4)
    } else {
        linear_ticks(0.0, 1.0, 4)
    }
}

/// Width of a colour bar with `ticks` and its label, right of a plot's data area.
fn colour_bar_width(ticks: &Ticks) -> f64 {
    14.0 + 6.0
        + ticks
            .labels
            .iter()
            .map(|l| text_width(l, FONT))
            .fold(0.0, f64::max)
        + 10.0
        + FONT
        + 8.0
}

/// Draw a colour bar of the ramp with `ticks` (limits and labels) and `label`, right of the
/// data area of `frame` (which reserved [`colour_bar_width`] for it).
fn colour_bar(frame: &mut Frame, ticks: &Ticks, label: &str) {
    let bx = frame.x.to + 16.0;
    let (top, bottom) = (frame.y.to, frame.y.from);
    let span = (ticks.hi - ticks.lo).max(1e-300);
    let steps = 32;
    for k in 0..steps {
        let f0 = k as f64 / steps as f64;
        let y = bottom - (f0 + 1.0 / steps as f64) * (bottom - top);
        let _ = write!(
            frame.out,
            r#"<rect x="{bx:.1}" y="{y:.2}" width="14" height="{:.2}" fill="{}"/>"#,
            (bottom - top) / steps as f64 + 0.3,
            ramp(f0 + 0.5 / steps as f64)
        );
    }
    for (v, text) in ticks.values.iter().zip(&ticks.labels) {
        let y = bottom - (v - ticks.lo) / span * (bottom - top);
        let _ = write!(
            frame.out,
            r#"<line x1="{:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="black"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            bx + 14.0,
            bx + 18.0,
            bx + 20.0,
            y + FONT * 0.35,
            escape(text)
        );
    }
    let _ = write!(
        frame.out,
        r#"<text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        frame.width - 8.0,
        (top + bottom) / 2.0,
        escape(label)
    );
}

/// Scatter of `(x, y, value)` points coloured by the value along the ramp, with a colour bar
/// labelled `value_label` (e.g. an embedding coloured by the animal's position).
pub fn value_scatter(
    title: &str,
    x_axis: &Axis,
    y_axis: &Axis,
    points: &[(f64, f64, f64)],
    value_label: &str,
) -> String {
    let x_ticks = ticks_for(x_axis, points.iter().map(|p| p.0));
    let y_ticks = ticks_for(y_axis, points.iter().map(|p| p.1));
    let colour_ticks = colour_scale(points.iter().map(|p| p.2));
    let mut frame = Frame::new(
        title,
        x_axis,
        x_ticks,
        y_axis,
        y_ticks,
        &[],
        colour_bar_width(&colour_ticks),
        PLOT_W,
        PLOT_H,
    );
    let radius = if points.len() > 2000 { 1.3 } else { 3.0 };
    let span = (colour_ticks.hi - colour_ticks.lo).max(1e-300);
    for (x, y, v) in points {
        if !(x.is_finite() && y.is_finite() && v.is_finite()) {
            continue;
        }
        let _ = write!(
            frame.out,
            r#"<circle class="mark" cx="{:.2}" cy="{:.2}" r="{radius}" fill="{}" fill-opacity="0.8"/>"#,
            frame.x.at(*x),
            frame.y.at(*y),
            ramp((v - colour_ticks.lo) / span)
        );
    }
    colour_bar(&mut frame, &colour_ticks, value_label);
    frame.finish()
}

/// A grid of spike rasters on one scale: each row of the grid is a group (e.g. "real",
/// "generated"), each column one window (neurons x bins, nonzero bins drawn as ticks).
pub fn raster_grid(title: &str, groups: &[(String, Vec<Vec<Vec<f64>>>)]) -> String {
    let columns = groups
        .iter()
        .map(|(_, w)| w.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let neurons = groups
        .iter()
        .flat_map(|(_, w)| w.iter().map(Vec::len))
        .max()
        .unwrap_or(1)
        .max(1);
    let bins = groups
        .iter()
        .flat_map(|(_, w)| w.iter().flat_map(|n| n.iter().map(Vec::len)))
        .max()
        .unwrap_or(1)
        .max(1);
    let (panel_w, panel_h, gap) = (210.0, 150.0, 14.0);
    let label_w = groups
        .iter()
        .map(|(name, _)| text_width(name, FONT))
        .fold(0.0, f64::max)
        + 40.0;
    let title_lines = wrap(title, 90);
    let top = 12.0 + title_lines.len() as f64 * (TITLE_FONT + 4.0) + 8.0;
    let width = (label_w + columns as f64 * (panel_w + gap) + 10.0).ceil();
    let height = (top + groups.len() as f64 * (panel_h + gap) + 2.0 * FONT + 16.0).ceil();
    let mut out = open_svg(width, height, &title_lines);
    let tick_w = (panel_w / bins as f64).max(0.7);
    let tick_h = (panel_h / neurons as f64 * 0.8).max(0.6);
    for (g, (name, windows)) in groups.iter().enumerate() {
        let y0 = top + g as f64 * (panel_h + gap);
        let _ = write!(
            out,
            r#"<text x="{:.1}" y="{:.1}">{}</text><text transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" font-size="10">neuron</text>"#,
            4.0,
            y0 + panel_h / 2.0,
            escape(name),
            label_w - 8.0,
            y0 + panel_h / 2.0
        );
        for (c, window) in windows.iter().enumerate() {
            let x0 = label_w + c as f64 * (panel_w + gap);
            let _ = write!(
                out,
                r##"<rect x="{x0:.1}" y="{y0:.1}" width="{panel_w}" height="{panel_h}" fill="none" stroke="#999"/>"##
            );
            for (n, row) in window.iter().enumerate() {
                for (t, &v) in row.iter().enumerate() {
                    if v > 0.0 {
                        let _ = write!(
                            out,
                            r#"<rect class="mark" x="{:.2}" y="{:.2}" width="{tick_w:.2}" height="{tick_h:.2}" fill="black"/>"#,
                            x0 + t as f64 * panel_w / bins as f64,
                            y0 + n as f64 * panel_h / neurons as f64
                        );
                    }
                }
            }
        }
    }
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (bins; each panel {bins} bins, {neurons} neurons, neuron 0 at the top)</text>"#,
        label_w + (columns as f64 * (panel_w + gap)) / 2.0,
        height - 10.0
    );
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_one_two_five_multiples_that_cover_the_data() {
        let t = linear_ticks(0.0578, 0.0894, 5);
        assert_eq!((t.lo, t.hi), (0.0578, 0.0894), "the limits are the data's");
        assert!(t.values.iter().all(|v| (0.0578..=0.0894).contains(v)));
        let step = t.values[1] - t.values[0];
        let mantissa = step / 10f64.powf(step.log10().floor());
        assert!(
            [1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9),
            "{step}"
        );
        assert_eq!(t.labels, ["0.06", "0.07", "0.08"]);
    }

    #[test]
    fn zero_is_printed_as_zero_and_small_values_in_scientific_notation() {
        let t = linear_ticks(-4.8e-5, 1.2e-4, 4);
        assert!(t.labels.contains(&"0".to_string()), "{:?}", t.labels);
        assert!(
            t.labels.iter().all(|l| l == "0" || l.contains('e')),
            "{:?}",
            t.labels
        );
        let t = linear_ticks(0.0, 12.5, 5);
        assert_eq!(t.labels, ["0", "5", "10"]);
        let t = linear_ticks(0.0, 1524.0, 5);
        assert_eq!(t.labels, ["0", "500", "1000", "1500"]);
        assert_eq!(t.hi, 1524.0);
    }

    #[test]
    fn non_negative_axes_start_at_zero_and_log_axes_at_decades() {
        let t = ticks_for(&Axis::non_negative("rate"), [0.01, 0.2, 0.05].into_iter());
        assert_eq!(t.lo, 0.0);
        let t = ticks_for(&Axis::log("P(k)"), [3e-4, 0.2, 0.0, -1.0].into_iter());
        assert_eq!(t.lo, 1e-4);
        assert_eq!(t.hi, 1.0);
        assert_eq!(t.labels, ["1e-4", "0.001", "0.01", "0.1", "1"]);
        assert_eq!(Axis::log("P(k)").title(), "P(k) (log scale)");
    }

    #[test]
    fn a_constant_series_still_gets_an_axis() {
        let t = linear_ticks(3.0, 3.0, 5);
        assert!(t.lo < 3.0 && t.hi > 3.0);
        let t = linear_ticks(0.0, 0.0, 5);
        assert_eq!((t.lo, t.hi), (0.0, 1.0));
    }

    #[test]
    fn long_titles_wrap() {
        let lines = wrap("one two three four five six seven", 10);
        assert!(lines.iter().all(|l| l.len() <= 12), "{lines:?}");
        assert_eq!(lines.join(" "), "one two three four five six seven");
    }

    /// The y coordinate of the first element of `svg` that contains `needle`.
    fn y_of(svg: &str, needle: &str) -> f64 {
        let at = svg.find(needle).unwrap();
        let element = &svg[svg[..at].rfind('<').unwrap()..];
        let y = element.split(" y=\"").nth(1).unwrap();
        y[..y.find('"').unwrap()].parse().unwrap()
    }

    #[test]
    fn heatmap_rows_run_down_from_the_first_with_their_labels() {
        let names = vec!["first".to_string(), "second".to_string()];
        let svg = heatmap("t", "x", "y", "v", 2, 1, &[1.0, 0.0], Some(&names), None);
        // The first row holds the largest value (the top of the ramp) and is drawn on top.
        assert!(y_of(&svg, "fill=\"rgb(253,231,37)\"") < y_of(&svg, "fill=\"rgb(68,1,84)\""));
        assert!(y_of(&svg, ">first<") < y_of(&svg, ">second<"));
    }

    #[test]
    fn series_without_points_get_no_legend_and_dashed_ones_a_dashed_key() {
        let svg = lines(
            "t",
            &Axis::linear("x"),
            &Axis::log("y"),
            &[
                Series::new("kept", PALETTE[0], vec![(0.0, 1.0), (1.0, 2.0)]),
                Series::new("floor", PALETTE[1], vec![(0.0, 0.5), (1.0, 0.5)]).dashed(),
                Series::new("never logged", PALETTE[2], vec![]),
                Series::new(
                    "not on a log axis",
                    PALETTE[3],
                    vec![(0.0, 0.0), (1.0, -1.0)],
                ),
            ],
        );
        assert!(svg.contains(">kept<") && svg.contains(">floor<"));
        assert!(!svg.contains("never logged") && !svg.contains("not on a log axis"));
        assert_eq!(
            svg.matches("stroke-dasharray").count(),
            2,
            "the line and its key"
        );
    }

    #[test]
    fn ramp_runs_from_dark_to_yellow() {
        assert_eq!(ramp(0.0), "rgb(68,1,84)");
        assert_eq!(ramp(1.0), "rgb(253,231,37)");
        assert_eq!(ramp(f64::NAN), "rgb(68,1,84)");
    }
}
