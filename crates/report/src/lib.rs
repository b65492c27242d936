//! Reports and plots, for the `neuroforge` program and `cargo xtask reproduce` alike:
//! self-contained SVG figures ([`svg`]), the Markdown reports built from them ([`comparison`]:
//! generated against real activity, statistic by statistic; [`ReportBuilder`] for the other
//! commands' reports), and one self-contained HTML page per report ([`html`]) with every figure
//! inlined.
//!
//! Everything here returns text; the caller writes it (the pipeline writes each file
//! atomically), so this crate needs neither a file system nor the recording format.

pub mod comparison;
pub mod html;
pub mod svg;
pub mod training;

pub use comparison::comparison_report;

/// A Markdown report and the SVG plots it links to, as text to be written as `<stem>.md` and,
/// beside it, `<plots_dir>/<file>` for each plot, and `<stem>.html` ([`Report::html`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The Markdown text.
    pub markdown: String,
    /// The folder of the plots, relative to the Markdown file (`<stem>_plots`).
    pub plots_dir: String,
    /// Each plot's file name and SVG text.
    pub plots: Vec<(String, String)>,
}

impl Report {
    /// The report as one self-contained HTML page, every plot inlined.
    pub fn html(&self) -> String {
        let body = html::markdown_to_html(&self.markdown, &|target| {
            let file = target.strip_prefix(&format!("{}/", self.plots_dir))?;
            self.plots
                .iter()
                .find(|(name, _)| name == file)
                .map(|(_, svg)| svg.clone())
        });
        html::page(&html::title_of(&self.markdown, "neuroforge report"), &body)
    }
}

/// The stem of a report file's name (`OUT` of `OUT.md`), which names its plots folder
/// (`OUT_plots`) and its HTML page (`OUT.html`); "report" for a path without one.
pub fn report_stem(path: &std::path::Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "report".into())
}

/// Builds a [`Report`]: Markdown text with figures appended in order, each figure's SVG kept for
/// the plots folder and the HTML page.
#[derive(Debug, Clone)]
pub struct ReportBuilder {
    markdown: String,
    plots_dir: String,
    plots: Vec<(String, String)>,
}

impl ReportBuilder {
    /// A report to be written as `<stem>.md` (plots in `<stem>_plots/`), headed `title`.
    pub fn new(stem: &str, title: &str) -> Self {
        Self {
            markdown: format!("# {title}\n\n"),
            plots_dir: format!("{stem}_plots"),
            plots: Vec::new(),
        }
    }

    /// Append Markdown text (a paragraph, list, table or block quote) and a blank line.
    pub fn text(&mut self, markdown: &str) -> &mut Self {
        self.markdown.push_str(markdown.trim_end());
        self.markdown.push_str("\n\n");
        self
    }

    /// Append the figure `svg`, saved as `<plots_dir>/<file>` and captioned `caption`.
    pub fn figure(&mut self, file: &str, caption: &str, svg: String) -> &mut Self {
        self.markdown.push_str(&format!(
            "![{}]({}/{file})\n\n",
            caption.replace(['[', ']'], ""),
            self.plots_dir
        ));
        self.plots.push((file.to_string(), svg));
        self
    }

    /// The finished report.
    pub fn finish(self) -> Report {
        Report {
            markdown: self.markdown,
            plots_dir: self.plots_dir,
            plots: self.plots,
        }
    }
}

/// `value` with `digits` significant digits, without trailing zeros ("0.0123", "26.4", "1.2e-5").
pub fn significant(value: f64, digits: usize) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i32;
    if !(-4..6).contains(&magnitude) {
        return format!("{:.*e}", digits.saturating_sub(1), value);
    }
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Whether a figure is within, near or far from a reference (a baseline's error or the sampling
/// floor), in words a reader takes in at a glance: "within the DG's error", "3.2x the DG's
/// error".
pub fn relative_words(value: f64, reference: f64, reference_name: &str) -> String {
    if !(value.is_finite() && reference.is_finite()) || reference <= 0.0 {
        return format!("not comparable with {reference_name}");
    }
    let ratio = value / reference;
    if ratio <= 1.0 {
        format!("within {reference_name}")
    } else if ratio < 10.0 {
        format!("{ratio:.1}x {reference_name}")
    } else {
        format!("{ratio:.0}x {reference_name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_words_follow_the_ratio() {
        assert_eq!(
            relative_words(0.5, 1.0, "the DG's error"),
            "within the DG's error"
        );
        assert_eq!(
            relative_words(3.21, 1.0, "the DG's error"),
            "3.2x the DG's error"
        );
        assert_eq!(
            relative_words(26.4, 1.0, "the DG's error"),
            "26x the DG's error"
        );
        assert_eq!(
            relative_words(1.0, 0.0, "the floor"),
            "not comparable with the floor"
        );
    }

    #[test]
    fn significant_digits() {
        assert_eq!(significant(0.012345, 3), "0.0123");
        assert_eq!(significant(26.44, 3), "26.4");
        assert_eq!(significant(1234.6, 3), "1235");
        assert_eq!(significant(0.5, 3), "0.5");
        assert_eq!(significant(1.2e-5, 2), "1.2e-5");
        assert_eq!(significant(f64::NAN, 3), "-");
    }

    #[test]
    fn the_html_page_inlines_the_plots() {
        let report = Report {
            markdown: "# A report\n\n![f](r_plots/f.svg)\n".into(),
            plots_dir: "r_plots".into(),
            plots: vec![("f.svg".into(), "<svg id=\"f\"></svg>".into())],
        };
        let page = report.html();
        assert!(page.contains("<title>A report</title>"));
        assert!(page.contains("<figure><svg id=\"f\"></svg>"));
    }
}
