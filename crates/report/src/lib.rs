//! Reports and plots, for the `neuroforge` program and `cargo xtask reproduce` alike: small
//! self-contained SVG figures ([`svg`]) and the Markdown reports built from them
//! ([`comparison`]: generated against real activity, statistic by statistic).
//!
//! Everything here returns text; the caller writes it (the pipeline writes each file
//! atomically), so this crate needs neither a file system nor the recording format.

pub mod comparison;
pub mod svg;

pub use comparison::comparison_report;

/// A Markdown report and the SVG plots it links to, as text to be written as `<stem>.md` and,
/// beside it, `<plots_dir>/<file>` for each plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The Markdown text.
    pub markdown: String,
    /// The folder of the plots, relative to the Markdown file (`<stem>_plots`).
    pub plots_dir: String,
    /// Each plot's file name and SVG text.
    pub plots: Vec<(String, String)>,
}
