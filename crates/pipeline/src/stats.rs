//! `neuroforge stats` (real against generated, with a JSON summary and a Markdown report with
//! SVG plots) and `neuroforge fit-baseline` (classical models fitted and sampled).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use neuroforge_io::{Activity, BinnedActivity, IoError, Provenance, Recording, write_recording};
use neuroforge_stats::baselines::{
    DgConfig, DichotomizedGaussian, Independent, KPairwise, KPairwiseConfig,
};
use neuroforge_stats::{CompareConfig, Comparison, compare};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::PipelineError;
use crate::output::{write_report, write_text};

/// Options of `neuroforge stats`.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct StatsFlags {
    /// Bins per sample for the per-sample statistics (mean time course, whole-sample patterns,
    /// nearest-sample distances, autocorrelogram inside windows); default: whole recordings.
    #[cfg_attr(feature = "clap", arg(long, value_name = "T"))]
    pub window: Option<usize>,
    /// Write every statistic (values, l1_error, bootstrap interval, ...) as JSON here.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.json"))]
    pub json: Option<PathBuf>,
    /// Write a Markdown report here, its SVG plots in a folder beside it.
    #[cfg_attr(feature = "clap", arg(long, value_name = "OUT.md"))]
    pub report: Option<PathBuf>,
    /// Bootstrap resamples (0: none).
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 200))]
    pub bootstrap: usize,
    /// Blocks per recording for the bootstrap.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 100))]
    pub blocks: usize,
    /// Seed of the bootstrap and of sample subsets.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// Bins summed per count for the spike-count correlation (default: 500 ms when the bin
    /// width is known, else 25 bins).
    #[cfg_attr(feature = "clap", arg(long = "count-bin", value_name = "BINS"))]
    pub count_bin: Option<usize>,
}

/// The binned counts of a recording as `f64` (neurons x bins), and the bin width.
fn counts(path: &Path, recording: &Recording) -> Result<(Array2<f64>, Option<f64>), PipelineError> {
    match recording.activity() {
        Activity::Binned(b) => Ok((b.counts.mapv(f64::from), b.bin_width_s)),
        Activity::SpikeTimes(_) => Err(PipelineError::Unsuitable {
            path: path.to_path_buf(),
            message: "statistics need binned spike counts: give --bin-ms to bin the spike times"
                .into(),
        }),
        Activity::Traces(_) => Err(PipelineError::Unsuitable {
            path: path.to_path_buf(),
            message: "statistics need binned spike counts, not traces (neuroforge preprocess \
                      --deconvolve --binarize T makes spike words)"
                .into(),
        }),
    }
}

/// Bin spike-time recordings when a bin width is given.
fn binned(
    recording: Recording,
    bin_ms: Option<f64>,
    path: &Path,
) -> Result<Recording, PipelineError> {
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

fn stats_error(path: &Path, e: neuroforge_stats::StatsError) -> PipelineError {
    PipelineError::Unsuitable {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn json_error(e: serde_json::Error) -> PipelineError {
    PipelineError::Io(IoError::Recording(e.to_string()))
}

/// Run `neuroforge stats`; returns the lines to print.
pub fn run_stats(
    real_path: &Path,
    real: Recording,
    generated_path: &Path,
    generated: Recording,
    bin_ms: Option<f64>,
    flags: &StatsFlags,
) -> Result<Vec<String>, PipelineError> {
    let real = binned(real, bin_ms, real_path)?;
    let generated = binned(generated, bin_ms, generated_path)?;
    let (x, bin_s) = counts(real_path, &real)?;
    let (y, _) = counts(generated_path, &generated)?;
    if x.nrows() != y.nrows() {
        return Err(PipelineError::Unsuitable {
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
        let stem = neuroforge_report::report_stem(path);
        let report = neuroforge_report::comparison_report(
            &stem,
            real_path,
            generated_path,
            &comparison,
            &x,
            &y,
            &notes,
        );
        write_report(path, &report)?;
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

/// Which classical model `fit-baseline` fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum BaselineKind {
    /// Dichotomized Gaussian (rates, same-bin and lag-1 correlations).
    Dg,
    /// k-pairwise maximum entropy (rates, pairwise coincidences, P(k)).
    Kpairwise,
    /// Independent neurons (each its own count distribution).
    Independent,
}

/// Options of `neuroforge fit-baseline`.
#[derive(Debug)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct BaselineFlags {
    /// Bins to sample (default: as many as the data).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub samples: Option<usize>,
    /// Seed of the fit and the sampler.
    #[cfg_attr(feature = "clap", arg(long, default_value_t = 0))]
    pub seed: u64,
    /// DG: bins per stimulus repeat, for rates that follow the stimulus (e.g. 953 for the
    /// retina movie).
    #[cfg_attr(feature = "clap", arg(long, value_name = "BINS"))]
    pub period: Option<usize>,
    /// DG: leave out the lag-1 correlations.
    #[cfg_attr(feature = "clap", arg(long = "no-temporal"))]
    pub no_temporal: bool,
    /// k-pairwise: learning iterations.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
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
) -> Result<String, PipelineError> {
    let recording = binned(recording, bin_ms, path)?;
    let (x, bin_s) = counts(path, &recording)?;
    let bins = flags.samples.unwrap_or(x.ncols());
    if bins == 0 {
        return Err(PipelineError::Unsuitable {
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
