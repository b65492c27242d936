//! `neuroforge stats` (real against generated, with a JSON summary and a Markdown report with
//! SVG plots) and `neuroforge fit-baseline` (classical models fitted and sampled).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use ndarray::Array2;
use neuroforge_io::{
    Activity, BinnedActivity, IoError, Provenance, Recording, write_atomically, write_recording,
};
use neuroforge_stats::baselines::{
    DgConfig, DichotomizedGaussian, Independent, KPairwise, KPairwiseConfig,
};
use neuroforge_stats::{CompareConfig, Comparison, compare};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::CliError;
use crate::svg;

/// Options of `neuroforge stats`.
#[derive(Debug, Args)]
pub struct StatsFlags {
    /// Bins per sample for the per-sample statistics (mean time course, whole-sample patterns,
    /// nearest-sample distances, autocorrelogram inside windows); default: whole recordings.
    #[arg(long, value_name = "T")]
    pub window: Option<usize>,
    /// Write every statistic (values, l1_error, bootstrap interval, ...) as JSON here.
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
    /// Write a Markdown report here, its SVG plots in a folder beside it.
    #[arg(long, value_name = "OUT.md")]
    pub report: Option<PathBuf>,
    /// Bootstrap resamples (0: none).
    #[arg(long, default_value_t = 200)]
    pub bootstrap: usize,
    /// Blocks per recording for the bootstrap.
    #[arg(long, default_value_t = 100)]
    pub blocks: usize,
    /// Seed of the bootstrap and of sample subsets.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Bins summed per count for the spike-count correlation (default: 500 ms when the bin
    /// width is known, else 25 bins).
    #[arg(long = "count-bin", value_name = "BINS")]
    pub count_bin: Option<usize>,
}

/// The binned counts of a recording as `f64` (neurons x bins), and the bin width.
fn counts(path: &Path, recording: &Recording) -> Result<(Array2<f64>, Option<f64>), CliError> {
    match recording.activity() {
        Activity::Binned(b) => Ok((b.counts.mapv(f64::from), b.bin_width_s)),
        Activity::SpikeTimes(_) => Err(CliError::Unsuitable {
            path: path.to_path_buf(),
            message: "statistics need binned spike counts: give --bin-ms to bin the spike times"
                .into(),
        }),
        Activity::Traces(_) => Err(CliError::Unsuitable {
            path: path.to_path_buf(),
            message: "statistics need binned spike counts, not traces (neuroforge preprocess \
                      --deconvolve --binarize T makes spike words)"
                .into(),
        }),
    }
}

/// Bin spike-time recordings when a bin width is given.
fn binned(recording: Recording, bin_ms: Option<f64>, path: &Path) -> Result<Recording, CliError> {
    match (recording.activity(), bin_ms) {
        (Activity::SpikeTimes(trains), Some(ms)) => {
            let binned = trains.bin(ms / 1000.0).map_err(|e| e.at(path))?;
            let (ids, _, covariates, provenance) = recording.into_parts();
            Ok(
                Recording::new(ids, Activity::Binned(binned), covariates, provenance)
                    .map_err(|e| e.at(path))?,
            )
        }
        _ => Ok(recording),
    }
}

fn stats_error(path: &Path, e: neuroforge_stats::StatsError) -> CliError {
    CliError::Unsuitable {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn json_error(e: serde_json::Error) -> CliError {
    CliError::Io(IoError::Recording(e.to_string()))
}

/// Run `neuroforge stats`; returns the lines to print.
pub fn run_stats(
    real_path: &Path,
    real: Recording,
    generated_path: &Path,
    generated: Recording,
    bin_ms: Option<f64>,
    flags: &StatsFlags,
) -> Result<Vec<String>, CliError> {
    let real = binned(real, bin_ms, real_path)?;
    let generated = binned(generated, bin_ms, generated_path)?;
    let (x, bin_s) = counts(real_path, &real)?;
    let (y, _) = counts(generated_path, &generated)?;
    if x.nrows() != y.nrows() {
        return Err(CliError::Unsuitable {
            path: generated_path.to_path_buf(),
            message: format!(
                "has {} neurons, the real recording {} has {}",
                y.nrows(),
                real_path.display(),
                x.nrows()
            ),
        });
    }
    let mut notes = Vec::new();
    if real.neuron_ids() != generated.neuron_ids() {
        let note = "the two recordings name their neurons differently; rows are compared in order";
        tracing::warn!("{note}");
        notes.push(note.to_string());
    }
    let count_bin = flags.count_bin.unwrap_or_else(|| match bin_s {
        Some(w) if w > 0.0 => ((0.5 / w).round() as usize).max(1),
        _ => 25,
    });
    let config = CompareConfig {
        window: flags.window,
        bootstrap: flags.bootstrap,
        blocks: flags.blocks,
        seed: flags.seed,
        count_bin,
        ..CompareConfig::default()
    };
    let comparison =
        compare(x.view(), y.view(), &config).map_err(|e| stats_error(generated_path, e))?;
    if let Some(path) = &flags.json {
        let text = serde_json::to_string_pretty(&comparison).map_err(json_error)?;
        write_text(path, &text)?;
    }
    if let Some(path) = &flags.report {
        write_report(path, real_path, generated_path, &comparison, &x, &y, &notes)?;
    }
    Ok(summary_lines(&comparison))
}

fn summary_lines(c: &Comparison) -> Vec<String> {
    let mut lines = vec![format!(
        "{:<26} {:>12} {:>25} {:>12} {:>7}",
        "statistic", "l1_error", "95% interval (bootstrap)", "real vs real", "noise"
    )];
    for (name, s) in &c.statistics {
        let interval = s
            .ci95
            .map(|[a, b]| format!("[{a:.4e}, {b:.4e}]"))
            .unwrap_or_else(|| "-".into());
        let noise = s
            .real_vs_real
            .map(|v| format!("{v:.4e}"))
            .unwrap_or_else(|| "-".into());
        let fraction = s
            .noise_fraction
            .map(|v| format!("{v:.2}"))
            .unwrap_or_else(|| "-".into());
        lines.push(format!(
            "{name:<26} {:>12.4e} {interval:>25} {noise:>12} {fraction:>7}",
            s.l1_error
        ));
    }
    lines
}

/// Write a text file atomically.
pub fn write_text(path: &Path, text: &str) -> Result<(), CliError> {
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

/// The Markdown report with its plots in `<stem>_plots/` beside it.
fn write_report(
    path: &Path,
    real_path: &Path,
    generated_path: &Path,
    c: &Comparison,
    x: &Array2<f64>,
    y: &Array2<f64>,
    notes: &[String],
) -> Result<(), CliError> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "report".into());
    let dir_name = format!("{stem}_plots");
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
        .join(&dir_name);
    std::fs::create_dir_all(&dir).map_err(|source| IoError::Write {
        path: dir.clone(),
        source,
    })?;
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
    for (file, _, text) in &plots {
        write_text(&dir.join(file), text)?;
    }
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
    write_text(path, &md)
}

/// Which classical model `fit-baseline` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BaselineKind {
    /// Dichotomized Gaussian (rates, same-bin and lag-1 correlations).
    Dg,
    /// k-pairwise maximum entropy (rates, pairwise coincidences, P(k)).
    Kpairwise,
    /// Independent neurons (each its own count distribution).
    Independent,
}

/// Options of `neuroforge fit-baseline`.
#[derive(Debug, Args)]
pub struct BaselineFlags {
    /// Bins to sample (default: as many as the data).
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Seed of the fit and the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// DG: bins per stimulus repeat, for rates that follow the stimulus (e.g. 953 for the
    /// retina movie).
    #[arg(long, value_name = "BINS")]
    pub period: Option<usize>,
    /// DG: leave out the lag-1 correlations.
    #[arg(long = "no-temporal")]
    pub no_temporal: bool,
    /// k-pairwise: learning iterations.
    #[arg(long, value_name = "N")]
    pub iterations: Option<usize>,
}

/// Run `neuroforge fit-baseline`; returns what to print.
pub fn run_baseline(
    kind: BaselineKind,
    path: &Path,
    recording: Recording,
    bin_ms: Option<f64>,
    flags: &BaselineFlags,
    out: &Path,
) -> Result<String, CliError> {
    let recording = binned(recording, bin_ms, path)?;
    let (x, bin_s) = counts(path, &recording)?;
    let bins = flags.samples.unwrap_or(x.ncols());
    if bins == 0 {
        return Err(CliError::Unsuitable {
            path: path.to_path_buf(),
            message: "--samples must be at least 1".into(),
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(flags.seed);
    let err = |e| stats_error(path, e);
    let (samples, model, description) = match kind {
        BaselineKind::Independent => {
            let model = Independent::fit(x.view()).map_err(err)?;
            let samples = model.sample(bins, &mut rng);
            (
                samples,
                serde_json::to_value(&model).map_err(json_error)?,
                "independent neurons",
            )
        }
        BaselineKind::Dg => {
            let config = DgConfig {
                temporal: !flags.no_temporal,
                period: flags.period,
            };
            let model = DichotomizedGaussian::fit(x.view(), &config).map_err(err)?;
            let samples = model.sample(bins, &mut rng).map_err(err)?;
            (
                samples,
                serde_json::to_value(&model).map_err(json_error)?,
                "dichotomized Gaussian",
            )
        }
        BaselineKind::Kpairwise => {
            let mut config = KPairwiseConfig {
                seed: flags.seed,
                ..KPairwiseConfig::default()
            };
            if let Some(n) = flags.iterations {
                config.iterations = n;
            }
            let model = KPairwise::fit(x.view(), &config).map_err(err)?;
            let samples = model.sample(bins, flags.seed).map_err(err)?;
            (
                samples,
                serde_json::to_value(&model).map_err(json_error)?,
                "k-pairwise maximum-entropy model",
            )
        }
    };
    let counts = samples.mapv(|v| v.max(0.0) as u32);
    let provenance = Provenance {
        source_file: Some(path.display().to_string()),
        source_format: Some("baseline".into()),
        variable: Some(format!("{kind:?}").to_lowercase()),
        steps: vec![format!(
            "{bins} bins sampled from a {description} fitted to {}, seed {}",
            path.display(),
            flags.seed
        )],
        written_by: Some(concat!("neuroforge ", env!("CARGO_PKG_VERSION")).into()),
        ground_truth: Some(serde_json::json!({ "model": model, "seed": flags.seed })),
        ..Provenance::default()
    };
    let rec = Recording::new(
        recording.neuron_ids().to_vec(),
        Activity::Binned(BinnedActivity {
            counts,
            bin_width_s: bin_s,
        }),
        Vec::new(),
        provenance,
    )?;
    write_recording(out, &rec)?;
    Ok(format!(
        "wrote {}: {bins} bins of {} neurons from a {description}",
        out.display(),
        x.nrows()
    ))
}
