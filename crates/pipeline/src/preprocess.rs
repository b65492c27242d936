//! `neuroforge preprocess`: the signal-processing pipeline over a recording, each step
//! optional, applied in this order: binning of spike times, dF/F, OASIS deconvolution (and
//! binarisation), Gaussian smoothing, per-neuron normalisation, neuron ordering. Every step is
//! recorded in the output's provenance.

use std::path::Path;

use ndarray::Array2;
use neuroforge_io::{
    Activity, BinnedActivity, Covariate, Recording, TraceActivity, write_recording,
};
use neuroforge_signal::{DffConfig, OrderingMethod, SignalError};
use serde::Serialize;

use crate::error::PipelineError;

/// Parse a `ar2_solver` name as written on the command line (the error says which names exist).
pub fn parse_ar2_solver(s: &str) -> Result<neuroforge_signal::Ar2Solver, String> {
    match s {
        "exact" => Ok(neuroforge_signal::Ar2Solver::Exact),
        "greedy" => Ok(neuroforge_signal::Ar2Solver::Greedy),
        other => Err(format!(
            "unknown AR(2) solver '{other}': use exact or greedy"
        )),
    }
}

/// Per-neuron normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum NormKind {
    /// Scale each neuron to [0, 1].
    MinMax,
    /// Subtract each neuron's mean and divide by its standard deviation.
    ZScore,
}

/// Steps of `neuroforge preprocess` (spike times are binned with the shared `--bin-ms`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct PreprocessFlags {
    /// dF/F with a running low-percentile baseline (fluorescence traces).
    #[cfg_attr(feature = "clap", arg(long))]
    pub dff: bool,
    /// dF/F baseline window in frames (odd).
    #[cfg_attr(
        feature = "clap",
        arg(long = "dff-window", default_value_t = 301, value_name = "FRAMES")
    )]
    pub dff_window: usize,
    /// dF/F baseline percentile.
    #[cfg_attr(
        feature = "clap",
        arg(long = "dff-percentile", default_value_t = 8.0, value_name = "P")
    )]
    pub dff_percentile: f64,
    /// OASIS spike inference on each trace (AR(1) unless --ar-order 2 or two --g values).
    #[cfg_attr(feature = "clap", arg(long))]
    pub deconvolve: bool,
    /// Order of the calcium model: 1 (decay) or 2 (rise and decay). Default: 1, or the number
    /// of --g values.
    #[cfg_attr(feature = "clap", arg(long = "ar-order", value_name = "P", value_parser = clap::value_parser!(u8).range(1..=2)))]
    pub ar_order: Option<u8>,
    /// AR coefficients per frame: G for AR(1), or G1,G2 for AR(2) (default: estimated per neuron
    /// from its autocovariance).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "G[,G2]", value_delimiter = ',', num_args = 1)
    )]
    pub g: Option<Vec<f64>>,
    /// Solver of the noise-constrained AR(2) fit: exact (the convex problem, better spike
    /// recovery) or greedy (the OASIS pool approximation, much faster).
    #[cfg_attr(feature = "clap", arg(long = "ar2-solver", value_name = "exact|greedy", default_value = "exact", value_parser = parse_ar2_solver))]
    pub ar2_solver: neuroforge_signal::Ar2Solver,
    /// L1 sparsity penalty (default: chosen per neuron so that the residual energy equals the
    /// estimated noise, or 0 when --s-min is given).
    #[cfg_attr(feature = "clap", arg(long, value_name = "LAMBDA"))]
    pub lam: Option<f64>,
    /// Minimum spike size: smaller events are merged away (CalciumGAN used 0.55).
    #[cfg_attr(
        feature = "clap",
        arg(long = "s-min", default_value_t = 0.0, value_name = "S")
    )]
    pub s_min: f64,
    /// Turn inferred spikes into binary spike words: 1 where the spike exceeds this threshold.
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "THRESHOLD", requires = "deconvolve")
    )]
    pub binarize: Option<f64>,
    /// Gaussian smoothing along time, standard deviation in time points.
    #[cfg_attr(feature = "clap", arg(long = "smooth", value_name = "SIGMA"))]
    pub smooth_sigma: Option<f64>,
    /// Per-neuron normalisation.
    #[cfg_attr(feature = "clap", arg(long, value_enum))]
    pub normalize: Option<NormKind>,
    /// Refuse (exit 2, nothing written) when a step leaves a neuron all zero or constant that was
    /// not before; without it that is a warning, also recorded in the provenance.
    #[cfg_attr(feature = "clap", arg(long))]
    pub strict: bool,
    /// Reorder neurons so that similar ones are adjacent (hierarchical or spectral); ids move
    /// with their rows, so results map back to the original neurons.
    #[cfg_attr(
        feature = "clap",
        arg(long = "sort-neurons", value_name = "hierarchical|spectral")
    )]
    pub sort_neurons: Option<OrderingMethod>,
}

/// Values being processed: a neurons x time matrix and whether it still holds whole counts.
struct Working {
    values: Array2<f64>,
    counts: bool,
    /// Seconds per time point, when known.
    step_s: Option<f64>,
    /// The frame rate of the input traces as given (kept exact, not as 1 / step).
    frame_rate_hz: Option<f64>,
}

/// The neurons whose values are all equal (all zero included).
fn constant_rows(values: &Array2<f64>) -> Vec<bool> {
    values
        .rows()
        .into_iter()
        .map(|row| row.iter().all(|v| Some(v) == row.first()))
        .collect()
}

/// After `step`: warn about the neurons it left constant that were not before (all of them:
/// the output carries no activity), record the warning in `steps`, and with `strict` refuse.
fn check_step(
    step: &str,
    w: &Working,
    before: &[bool],
    ids: &[String],
    strict: bool,
    input: &Path,
    steps: &mut Vec<String>,
) -> Result<(), PipelineError> {
    let after = constant_rows(&w.values);
    let emptied: Vec<usize> = (0..after.len())
        .filter(|&i| after[i] && !before.get(i).copied().unwrap_or(false))
        .collect();
    if emptied.is_empty() {
        return Ok(());
    }
    let zero = emptied
        .iter()
        .all(|&i| w.values.row(i).iter().all(|&v| v == 0.0));
    let what = if zero { "all zero" } else { "constant" };
    let message = if emptied.len() == after.len() {
        format!("{step} left every neuron {what}: the output carries no activity")
    } else {
        let named: Vec<&str> = emptied.iter().take(5).map(|&i| ids[i].as_str()).collect();
        format!(
            "{step} left {} of {} neurons {what} ({}{})",
            emptied.len(),
            after.len(),
            named.join(", "),
            if emptied.len() > 5 { ", ..." } else { "" }
        )
    };
    if strict {
        return Err(PipelineError::Unsuitable {
            path: input.to_path_buf(),
            message: format!("{message} (--strict)"),
        });
    }
    tracing::warn!("{}: {message}", input.display());
    steps.push(format!("warning: {message}"));
    Ok(())
}

/// Run the steps on `recording` (read from `input`), write `out`, return the step log.
pub fn run(
    input: &Path,
    recording: Recording,
    bin_ms: Option<f64>,
    flags: &PreprocessFlags,
    out: &Path,
) -> Result<Vec<String>, PipelineError> {
    let signal = |source: SignalError| PipelineError::Signal {
        path: input.to_path_buf(),
        source,
    };
    let unsuitable = |message: &str| PipelineError::Unsuitable {
        path: input.to_path_buf(),
        message: message.into(),
    };
    let (mut ids, activity, covariates, mut provenance) = recording.into_parts();
    let mut steps = Vec::new();
    let mut w = match activity {
        Activity::SpikeTimes(trains) => {
            let ms = bin_ms
                .ok_or_else(|| unsuitable("spike times must be binned first: pass --bin-ms"))?;
            let binned = trains.bin(ms / 1000.0)?;
            steps.push(format!("binned spike times at {ms} ms"));
            Working {
                values: binned.counts.mapv(f64::from),
                counts: true,
                step_s: binned.bin_width_s,
                frame_rate_hz: None,
            }
        }
        Activity::Binned(b) => Working {
            values: b.counts.mapv(f64::from),
            counts: true,
            step_s: b.bin_width_s,
            frame_rate_hz: None,
        },
        Activity::Traces(t) => Working {
            values: t.values.mapv(f64::from),
            counts: false,
            step_s: t.frame_rate_hz.map(|f| 1.0 / f),
            frame_rate_hz: t.frame_rate_hz,
        },
    };
    let strict = flags.strict;
    if flags.dff {
        if w.counts {
            return Err(unsuitable(
                "--dff applies to fluorescence traces, not spike counts",
            ));
        }
        let config = DffConfig {
            window: flags.dff_window,
            percentile: flags.dff_percentile,
        };
        let before = constant_rows(&w.values);
        w.values = neuroforge_signal::dff(w.values.view(), &config).map_err(signal)?;
        provenance.quantity = Some("dF/F".into());
        provenance.units = Some("dF/F".into());
        steps.push(format!(
            "dF/F with a running {}th-percentile baseline over {} frames",
            flags.dff_percentile, flags.dff_window
        ));
        check_step("dF/F", &w, &before, &ids, strict, input, &mut steps)?;
    }
    if flags.deconvolve {
        if w.counts {
            return Err(unsuitable(
                "--deconvolve applies to calcium traces, not spike counts",
            ));
        }
        let order = flags.ar_order.unwrap_or_else(|| {
            flags
                .g
                .as_ref()
                .map_or(1, |g| u8::try_from(g.len()).unwrap_or(u8::MAX))
        });
        let config = neuroforge_signal::OasisConfig {
            order,
            g: flags.g.clone(),
            lam: flags.lam,
            s_min: flags.s_min,
            binarize: flags.binarize,
            ar2_solver: flags.ar2_solver,
        };
        let before = constant_rows(&w.values);
        let result =
            neuroforge_signal::deconvolve_population(w.values.view(), &config).map_err(signal)?;
        w.values = result.spikes;
        provenance.quantity = Some("inferred spikes (OASIS)".into());
        provenance.units = Some("a.u. (spike amplitude)".into());
        let medians: Vec<String> = (0..usize::from(order))
            .map(|k| {
                let mut column: Vec<f64> =
                    result.g.iter().filter_map(|g| g.get(k)).copied().collect();
                column.sort_by(f64::total_cmp);
                column
                    .get(column.len() / 2)
                    .map_or_else(|| "-".to_string(), |m| format!("{m:.4}"))
            })
            .collect();
        steps.push(format!(
            "OASIS AR({order}) deconvolution: g {} (median {}), penalty {}, s_min {}",
            if flags.g.is_some() {
                "given"
            } else {
                "estimated per neuron"
            },
            medians.join(", "),
            match (flags.lam, flags.s_min > 0.0) {
                (Some(l), _) => l.to_string(),
                (None, false) => format!(
                    "chosen per neuron so that the residual matches the noise{}",
                    match (order, flags.ar2_solver) {
                        (1, _) => "",
                        (_, neuroforge_signal::Ar2Solver::Exact) => " (exact convex solver)",
                        (_, neuroforge_signal::Ar2Solver::Greedy) => " (greedy pool solver)",
                    }
                ),
                (None, true) => "0".to_string(),
            },
            flags.s_min
        ));
        check_step(
            "OASIS deconvolution",
            &w,
            &before,
            &ids,
            strict,
            input,
            &mut steps,
        )?;
        if let Some(threshold) = flags.binarize {
            w.counts = true;
            provenance.quantity = Some("inferred spikes (binarised)".into());
            provenance.units = Some("spikes per bin".into());
            steps.push(format!("spikes binarised at {threshold}"));
        }
    }
    if let Some(sigma) = flags.smooth_sigma {
        let before = constant_rows(&w.values);
        w.values = neuroforge_signal::gaussian_smooth(w.values.view(), sigma).map_err(signal)?;
        if w.counts {
            // Smoothed counts are a rate per bin, no longer counts.
            provenance.quantity = Some("smoothed spike counts".into());
            provenance.units = Some("spikes per bin".into());
        }
        w.counts = false;
        steps.push(format!("Gaussian smoothing, sigma {sigma} time points"));
        check_step("smoothing", &w, &before, &ids, strict, input, &mut steps)?;
    }
    if let Some(kind) = flags.normalize {
        let (values, _) = match kind {
            NormKind::MinMax => neuroforge_signal::min_max(w.values.view()),
            NormKind::ZScore => neuroforge_signal::z_score(w.values.view()),
        };
        w.values = values;
        w.counts = false;
        let before = provenance
            .quantity
            .clone()
            .unwrap_or_else(|| "activity".to_string());
        provenance.quantity = Some(format!("normalised {before}"));
        provenance.units = Some(
            match kind {
                NormKind::MinMax => "min-max (0 to 1 per neuron)",
                NormKind::ZScore => "z-score per neuron",
            }
            .into(),
        );
        steps.push(format!(
            "per-neuron {} normalisation",
            if kind == NormKind::MinMax {
                "min-max"
            } else {
                "z-score"
            }
        ));
    }
    if let Some(method) = flags.sort_neurons {
        let order = neuroforge_signal::order_neurons(w.values.view(), method).map_err(signal)?;
        w.values = order.apply(w.values.view());
        let original: Vec<String> = order.order.iter().map(|&i| ids[i].clone()).collect();
        let how = match method {
            OrderingMethod::Hierarchical => "average-linkage clustering of their correlations",
            OrderingMethod::Spectral => "the Fiedler vector of their correlation graph",
        };
        steps.push(format!(
            "neurons ordered by {how}; original ids in the new order: {}",
            original.join(",")
        ));
        ids = original;
    }
    let activity = if w.counts {
        Activity::Binned(BinnedActivity {
            counts: w.values.mapv(|v| v as u32),
            bin_width_s: w.step_s,
        })
    } else {
        Activity::Traces(TraceActivity {
            values: w.values.mapv(|v| v as f32),
            frame_rate_hz: w.frame_rate_hz.or(w.step_s.map(|s| 1.0 / s)),
        })
    };
    provenance.steps.extend(steps.iter().cloned());
    let covariates: Vec<Covariate> = covariates;
    let recording =
        Recording::new(ids, activity, covariates, provenance).map_err(|e| e.at(input))?;
    write_recording(out, &recording)?;
    Ok(steps)
}
