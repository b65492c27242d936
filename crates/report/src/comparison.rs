//! The Markdown report of a comparison of generated with real activity (`neuroforge stats
//! --report`): every statistic's error and interval, and SVG plots in a folder beside it.

use std::path::Path;

use ndarray::Array2;
use neuroforge_stats::Comparison;

use crate::{Report, svg};

/// The Markdown report of comparison `c` of `y` (generated, neurons x bins, read from
/// `generated_path`) with `x` (real, from `real_path`), to be written as `<stem>.md` with its
/// plots in `<stem>_plots/` beside it; `notes` are listed under the settings.
pub fn comparison_report(
    stem: &str,
    real_path: &Path,
    generated_path: &Path,
    c: &Comparison,
    x: &Array2<f64>,
    y: &Array2<f64>,
    notes: &[String],
) -> Report {
    let dir_name = format!("{stem}_plots");
    let mut plots: Vec<(String, String, String)> = Vec::new();
    for (name, title) in [
        ("firing_rate", "Firing rate per neuron (per bin)"),
        ("covariance", "Pairwise covariance"),
        ("lag1_covariance", "Lag-1 covariance"),
        ("spike_count_correlation", "Spike-count correlation"),
        ("van_rossum", "van Rossum distance per neuron"),
    ] {
        if let Some(s) = c.statistics.get(name) {
            plots.push((
                format!("{name}.svg"),
                title.into(),
                svg::scatter(title, &s.real, &s.generated),
            ));
        }
    }
    type Points = Vec<(f64, f64)>;
    let pair = |name: &str, x0: f64| -> Option<(Points, Points)> {
        c.statistics.get(name).map(|s| {
            let pts = |v: &[f64]| {
                v.iter()
                    .enumerate()
                    .map(|(i, &y)| (x0 + i as f64, y))
                    .collect()
            };
            (pts(&s.real), pts(&s.generated))
        })
    };
    for (name, title, x_label, log_y, x0) in [
        ("population_count", "P(k): spikes per bin", "k", true, 0.0),
        (
            "isi_distribution",
            "Inter-spike intervals",
            "interval (bins)",
            true,
            0.0,
        ),
        (
            "mean_time_course",
            "Mean time course",
            "bin in window",
            false,
            0.0,
        ),
        (
            "nearest_sample",
            "Distance to the nearest real sample",
            "distance",
            false,
            0.0,
        ),
    ] {
        if let Some((r, g)) = pair(name, x0) {
            plots.push((
                format!("{name}.svg"),
                title.into(),
                svg::lines(
                    title,
                    x_label,
                    "fraction",
                    &[
                        svg::Series {
                            label: "real",
                            colour: "#1f77b4",
                            points: r,
                        },
                        svg::Series {
                            label: "generated",
                            colour: "#d62728",
                            points: g,
                        },
                    ],
                    log_y,
                ),
            ));
        }
    }
    if let Some(s) = c.statistics.get("autocorrelogram") {
        let lags: Vec<f64> = (-10..=-1).chain(1..=10).map(f64::from).collect();
        let pts = |v: &[f64]| lags.iter().copied().zip(v.iter().copied()).collect();
        plots.push((
            "autocorrelogram.svg".into(),
            "Autocorrelogram".into(),
            svg::lines(
                "Autocorrelogram (normalised, zero lag removed)",
                "lag (bins)",
                "relative coincidences",
                &[
                    svg::Series {
                        label: "real",
                        colour: "#1f77b4",
                        points: pts(&s.real),
                    },
                    svg::Series {
                        label: "generated",
                        colour: "#d62728",
                        points: pts(&s.generated),
                    },
                ],
                false,
            ),
        ));
    }
    let span = c
        .settings
        .window
        .unwrap_or(100)
        .min(x.ncols())
        .min(y.ncols());
    let rows = |a: &Array2<f64>| -> Vec<Vec<f64>> {
        a.rows()
            .into_iter()
            .map(|r| r.iter().take(span).copied().collect())
            .collect()
    };
    plots.push((
        "raster_real.svg".into(),
        "Raster, real".into(),
        svg::raster(&format!("Real: first {span} bins"), &rows(x)),
    ));
    plots.push((
        "raster_generated.svg".into(),
        "Raster, generated".into(),
        svg::raster(&format!("Generated: first {span} bins"), &rows(y)),
    ));
    let mut md = String::new();
    md.push_str("# Statistics: real against generated\n\n");
    md.push_str(&format!(
        "- real: `{}` ({} neurons x {} bins)\n- generated: `{}` ({} bins)\n",
        real_path.display(),
        x.nrows(),
        x.ncols(),
        generated_path.display(),
        y.ncols()
    ));
    md.push_str(&format!(
        "- window: {}; bootstrap: {} resamples of {} blocks, seed {}; spike counts summed over {} bins\n",
        c.settings
            .window
            .map_or("whole recordings".to_string(), |w| format!("{w} bins")),
        c.settings.bootstrap,
        c.settings.blocks,
        c.settings.seed,
        c.settings.count_bin
    ));
    for note in notes {
        md.push_str(&format!("- note: {note}\n"));
    }
    md.push_str(
        "\n`l1_error` is the sum of absolute differences of the statistic's values. The bootstrap \
         columns compare resampled real against resampled generated data (`95% interval`) with \
         two resamples of the real data (`real vs real`); `noise fraction` near 0.5 means the \
         difference is within sampling noise, near 0 that it is real.\n\n",
    );
    md.push_str("| statistic | l1_error | 95% interval | real vs real | noise fraction | KL |\n");
    md.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for (name, s) in &c.statistics {
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.4}"));
        md.push_str(&format!(
            "| {name} | {:.4} | {} | {} | {} | {} |\n",
            s.l1_error,
            s.ci95
                .map_or("-".to_string(), |[a, b]| format!("{a:.4} - {b:.4}")),
            fmt(s.real_vs_real),
            s.noise_fraction
                .map_or("-".to_string(), |v| format!("{v:.2}")),
            fmt(s.kl)
        ));
    }
    md.push_str("\n## Definitions\n\n");
    for (name, s) in &c.statistics {
        md.push_str(&format!("- `{name}`: {}", s.description));
        for (key, value) in &s.extra {
            md.push_str(&format!("; {key} = {value:.4}"));
        }
        md.push('\n');
    }
    md.push_str("\n## Plots\n\n");
    for (file, title, _) in &plots {
        md.push_str(&format!("### {title}\n\n![{title}]({dir_name}/{file})\n\n"));
    }
    Report {
        markdown: md,
        plots_dir: dir_name,
        plots: plots
            .into_iter()
            .map(|(file, _, text)| (file, text))
            .collect(),
    }
}
