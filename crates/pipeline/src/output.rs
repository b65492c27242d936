//! Files the pipeline writes besides recordings: text and JSON, each written atomically (a
//! temporary file renamed into place, so a failure leaves no partial file).

use std::path::Path;

use neuroforge_io::{IoError, write_atomically};
use serde::Serialize;

use crate::error::PipelineError;

/// Write a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), PipelineError> {
    write_atomically(path, |f| {
        use std::io::Write;
        f.write_all(text.as_bytes())
            .map_err(|source| IoError::Write {
                path: path.to_path_buf(),
                source,
            })
    })?;
    Ok(())
}

/// Write `report` as the Markdown file `path`, its plots in the folder the report names beside
/// it, and the same report as one self-contained HTML page at `path` with the extension `html`
/// (each file atomically). A `path` that already ends in `.html` names the page, and the
/// Markdown goes beside it as `.md`.
pub fn write_report(path: &Path, report: &neuroforge_report::Report) -> Result<(), PipelineError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(&report.plots_dir);
    std::fs::create_dir_all(&dir).map_err(|source| IoError::Write {
        path: dir.clone(),
        source,
    })?;
    for (file, text) in &report.plots {
        write_text(&dir.join(file), text)?;
    }
    let markdown = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("html"))
    {
        path.with_extension("md")
    } else {
        path.to_path_buf()
    };
    write_text(&markdown, &report.markdown)?;
    write_text(&markdown.with_extension("html"), &report.html())
}

/// Write `value` as pretty-printed JSON atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), PipelineError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| PipelineError::Io(IoError::Recording(e.to_string())))?;
    write_text(path, &text)
}

/// Write the training report of the run in `run_dir` as `report.md`, `report.html` and
/// `report_plots/` inside it, from its `metrics.jsonl` (a run without one gets a report that
/// says so).
pub fn write_training_report(
    run_dir: &Path,
    model: neuroforge_report::training::Model,
    description: &str,
) -> Result<(), PipelineError> {
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    let report = neuroforge_report::training::training_report(model, description, &metrics);
    write_report(&run_dir.join("report.md"), &report)
}

/// The opening line of a run's training report.
pub fn training_description(model: &str, run_dir: &Path) -> String {
    format!(
        "Training curves of the {model} run `{}`, from its `metrics.jsonl`; the settings are in \
         `config.toml`, the data, seeds and sessions in `manifest.json`. Written again by every \
         `neuroforge resume`.",
        run_dir.display()
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests fail loudly by design

    use super::*;

    fn report() -> neuroforge_report::Report {
        let mut b = neuroforge_report::ReportBuilder::new("out", "A report");
        b.figure("f.svg", "a figure", "<svg></svg>".into());
        b.finish()
    }

    #[test]
    fn a_report_is_markdown_plots_and_a_page() {
        let dir = tempfile::tempdir().unwrap();
        write_report(&dir.path().join("out.md"), &report()).unwrap();
        let md = std::fs::read_to_string(dir.path().join("out.md")).unwrap();
        assert!(md.contains("![a figure](out_plots/f.svg)"));
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out_plots/f.svg")).unwrap(),
            "<svg></svg>"
        );
        let page = std::fs::read_to_string(dir.path().join("out.html")).unwrap();
        assert!(page.contains("<figure><svg></svg>"));
    }

    #[test]
    fn a_path_ending_in_html_names_the_page_and_the_markdown_goes_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        write_report(&dir.path().join("out.html"), &report()).unwrap();
        assert!(
            std::fs::read_to_string(dir.path().join("out.html"))
                .unwrap()
                .starts_with("<!DOCTYPE html>")
        );
        assert!(
            std::fs::read_to_string(dir.path().join("out.md"))
                .unwrap()
                .starts_with("# A report")
        );
    }
}
