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
    let error_text = |name: &str| -> String {
        c.statistics.get(name).map_or_else(String::new, |s| {
            let interval = s.ci95.map_or(String::new(), |[a, b]| {
                format!(
                    " [{}, {}]",
                    crate::significant(a, 3),
                    crate::significant(b, 3)
                )
            });
            format!(": L1 error {}{interval}", crate::significant(s.l1_error, 3))
        })
    };
    for (name, title, quantity) in [
        (
            "firing_rate",
            "Firing rate per neuron",
            "spike probability per bin",
        ),
        ("covariance", "Pairwise covariance", "covariance"),
        ("lag1_covariance", "Lag-1 covariance", "lag-1 covariance"),
        (
            "spike_count_correlation",
            "Spike-count correlation",
            "correlation",
        ),
        ("van_rossum", "van Rossum distance per neuron", "distance"),
    ] {
        if let Some(s) = c.statistics.get(name) {
            let full = format!("{title}{}", error_text(name));
            plots.push((
                format!("{name}.svg"),
                full.clone(),
                svg::scatter(&full, quantity, &s.real, &s.generated),
            ));
        }
    }
    let two = |name: &str, x: &dyn Fn(usize) -> f64| -> Option<Vec<svg::Series>> {
        c.statistics.get(name).map(|s| {
            let pts = |v: &[f64]| v.iter().enumerate().map(|(i, &y)| (x(i), y)).collect();
            vec![
                svg::Series::new("real", svg::PALETTE[0], pts(&s.real)),
                svg::Series::new("generated", svg::PALETTE[3], pts(&s.generated)),
            ]
        })
    };
    let index = |i: usize| i as f64;
    for (name, title, x_axis, y_axis) in [
        (
            "population_count",
            "P(k): fraction of bins with k spikes in the population",
            svg::Axis::non_negative("k (spikes in a bin)"),
            svg::Axis::log("fraction of bins"),
        ),
        (
            "isi_distribution",
            "Inter-spike intervals",
            svg::Axis::non_negative("interval (bins)"),
            svg::Axis::log("fraction of intervals"),
        ),
        (
            "mean_time_course",
            "Mean population activity over the window",
            svg::Axis::non_negative("bin in window"),
            svg::Axis::non_negative("mean spike probability"),
        ),
        (
            "nearest_sample",
            "Distance to the nearest real sample",
            svg::Axis::non_negative("distance (bins)"),
            svg::Axis::non_negative("fraction of samples"),
        ),
    ] {
        if let Some(series) = two(name, &index) {
            let full = format!("{title}{}", error_text(name));
            plots.push((
                format!("{name}.svg"),
                full.clone(),
                svg::lines(&full, &x_axis, &y_axis, &series),
            ));
        }
    }
    let lags: Vec<f64> = (-10..=-1).chain(1..=10).map(f64::from).collect();
    let lag = |i: usize| lags.get(i).copied().unwrap_or(f64::NAN);
    if let Some(series) = two("autocorrelogram", &lag) {
        let full = format!(
            "Autocorrelogram (zero lag removed){}",
            error_text("autocorrelogram")
        );
        plots.push((
            "autocorrelogram.svg".into(),
            full.clone(),
            svg::lines(
                &full,
                &svg::Axis::linear("lag (bins)"),
                &svg::Axis::non_negative("coincidences relative to chance"),
                &series,
            ),
        ));
    }
    let span = c
        .settings
        .window
        .unwrap_or(64)
        .min(x.ncols())
        .min(y.ncols())
        .max(1);
    let windows = |a: &Array2<f64>| -> Vec<Vec<Vec<f64>>> {
        let count = (a.ncols() / span).clamp(1, 4);
        (0..count)
            .map(|w| {
                // Spread the windows over the recording.
                let start = if count > 1 {
                    w * ((a.ncols() - span) / (count - 1)) / span * span
                } else {
                    0
                };
                a.rows()
                    .into_iter()
                    .map(|r| r.iter().skip(start).take(span).copied().collect())
                    .collect()
            })
            .collect()
    };
    plots.push((
        "rasters.svg".into(),
        "Real and generated windows".into(),
        svg::raster_grid(
            &format!("Real and generated activity: windows of {span} bins, same scale"),
            &[
                ("real".to_string(), windows(x)),
                ("generated".to_string(), windows(y)),
            ],
        ),
    ));
    let mut md = String::new();
    md.push_str("# Statistics: real against generated\n\n");
    md.push_str(&verdict(c));
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
        md.push_str(&format!("![{title}]({dir_name}/{file})\n\n"));
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

/// The statistics the verdict speaks for, with their names in words.
const HEADLINE: [(&str, &str); 4] = [
    ("firing_rate", "firing rates"),
    ("covariance", "covariances"),
    ("population_count", "P(k)"),
    ("lag1_covariance", "lag-1 covariances"),
];

/// A block quote that says, for each headline statistic, whether the generated data are within
/// the sampling noise of the real data (the real-vs-real distance of the bootstrap), and by how
/// much they are not; without a bootstrap it says there is no reference to judge by.
pub fn verdict(c: &Comparison) -> String {
    let mut parts = Vec::new();
    let mut all_within = true;
    for (name, words) in HEADLINE {
        let Some(s) = c.statistics.get(name) else {
            continue;
        };
        match s.real_vs_real {
            Some(floor) => {
                all_within &= s.l1_error <= floor;
                parts.push(format!(
                    "{words}: {}",
                    crate::relative_words(s.l1_error, floor, "sampling noise")
                ));
            }
            None => {
                return "> **No verdict:** this comparison ran without bootstrap resamples, so \
                        there is no sampling noise to judge the errors by (run `neuroforge stats` \
                        with `--bootstrap 200`).\n\n"
                    .to_string();
            }
        }
    }
    if parts.is_empty() {
        return String::new();
    }
    format!(
        "> **{}** {}. (Sampling noise: the median L1 distance between two bootstrap resamples \
         of the real data.)\n\n",
        if all_within {
            "Within sampling noise on every headline statistic:"
        } else {
            "Not within sampling noise:"
        },
        parts.join("; ")
    )
}
