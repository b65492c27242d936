//! Spike inference by OASIS, the Online Active Set method to Infer Spikes (Friedrich, Zhou &
//! Paninski, PLoS Comput Biol 2017), for calcium traces `y_t = b + c_t + noise` with AR(1)
//! (`c_t = g c_{t-1} + s_t`) or AR(2) (`c_t = g1 c_{t-1} + g2 c_{t-2} + s_t`) calcium:
//!
//! - [`oasis_ar1`], [`oasis_ar2`]: the fit for a given L1 penalty and minimum spike size;
//! - [`constrained_oasis_ar1`], [`constrained_oasis_ar2`]: the penalty and baseline chosen so
//!   that the residual matches the noise (oasis-deconv's `deconvolve(..., penalty=1)`);
//! - [`noise_level`], [`estimate_ar1`], [`estimate_ar2`]: the noise and the decays estimated
//!   from the trace when they are not known, as OASIS does;
//! - [`deconvolve_population`]: all of it over the neurons of a recording, in parallel.

mod ar1;
mod ar2;
mod estimate;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError, data, parameter};

pub use ar1::{constrained_oasis_ar1, oasis_ar1};
pub use ar2::{constrained_exact_ar2, constrained_oasis_ar2, exact_ar2, oasis_ar2};
pub use estimate::{estimate_ar1, estimate_ar2, noise_level};

/// Denoised calcium `c` and inferred spikes `s` of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Deconvolution {
    /// Denoised calcium, one value per frame.
    pub calcium: Vec<f64>,
    /// Inferred spike amplitudes (`c_t - g c_{t-1}`, or `c_t - g1 c_{t-1} - g2 c_{t-2}`), one per
    /// frame; 0 on the first frame (AR(1)) or two frames (AR(2)), which hold initial calcium.
    pub spikes: Vec<f64>,
}

/// The result of noise-constrained deconvolution: the fit, and the penalty and baseline that
/// produced it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstrainedDeconvolution {
    /// Calcium (without the baseline) and spikes.
    pub fit: Deconvolution,
    /// The L1 penalty at which the residual matches the noise.
    pub lam: f64,
    /// The fluorescence baseline `b` (`y ~ c + b`).
    pub baseline: f64,
}

fn check_trace(y: &[f64]) -> Result<()> {
    if y.is_empty() {
        return Err(data("empty trace"));
    }
    if let Some(t) = y.iter().position(|v| !v.is_finite()) {
        return Err(data(format!(
            "trace value {} at frame {t} is not finite",
            y[t]
        )));
    }
    Ok(())
}

/// Refuse a negative or non-finite penalty or minimum spike size.
fn check_penalty(lam: f64, s_min: f64) -> Result<()> {
    if !(lam.is_finite() && lam >= 0.0) {
        return Err(parameter(format!(
            "sparsity penalty must be >= 0, got {lam}"
        )));
    }
    if !(s_min.is_finite() && s_min >= 0.0) {
        return Err(parameter(format!(
            "minimum spike size must be >= 0, got {s_min}"
        )));
    }
    Ok(())
}

/// Refuse a noise level that is not positive and finite.
fn check_noise(sn: f64) -> Result<()> {
    if !(sn.is_finite() && sn > 0.0) {
        return Err(parameter(format!("noise level must be positive, got {sn}")));
    }
    Ok(())
}

/// Starting baseline of the noise-constrained fits: the 15th percentile of the trace (below
/// the baseline of any transient-laden trace), at least 0, as OASIS starts.
fn initial_baseline(y: &[f64]) -> f64 {
    let mut sorted = y.to_vec();
    let (_, low, _) = sorted.select_nth_unstable_by(y.len() * 15 / 100, f64::total_cmp);
    low.max(0.0)
}

/// Settings of OASIS spike inference over many neurons. Defaults: AR(1), decay, noise and
/// penalty estimated per neuron; no minimum spike size; no binarisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OasisConfig {
    /// Order of the calcium model: 1 (a decay) or 2 (a rise and a decay). Default 1.
    pub order: u8,
    /// The AR coefficients (`[g]` or `[g1, g2]`, as many as `order`); `None` estimates them
    /// from each trace's autocovariance.
    pub g: Option<Vec<f64>>,
    /// L1 penalty; `None` chooses it per neuron so that the residual matches the estimated
    /// noise (or 0 when `s_min > 0`, CalciumGAN's thresholded OASIS).
    pub lam: Option<f64>,
    /// Minimum spike size (0: none).
    pub s_min: f64,
    /// Turn spikes into 0/1: 1 where the inferred spike exceeds this threshold.
    pub binarize: Option<f64>,
    /// Solver of the noise-constrained AR(2) problem. Default `exact`.
    pub ar2_solver: Ar2Solver,
}

/// How the noise-constrained AR(2) problem is solved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ar2Solver {
    /// The exact convex problem ([`constrained_exact_ar2`]): better spike recovery, slower.
    #[default]
    Exact,
    /// The greedy pool algorithm ([`constrained_oasis_ar2`]): fast, an approximation.
    Greedy,
}

impl Default for OasisConfig {
    fn default() -> Self {
        Self {
            order: 1,
            g: None,
            lam: None,
            s_min: 0.0,
            binarize: None,
            ar2_solver: Ar2Solver::Exact,
        }
    }
}

impl OasisConfig {
    /// Check the settings before any trace is touched.
    pub fn validate(&self) -> Result<()> {
        if !matches!(self.order, 1 | 2) {
            return Err(parameter(format!(
                "the AR order must be 1 or 2, got {}",
                self.order
            )));
        }
        if let Some(g) = &self.g
            && g.len() != usize::from(self.order)
        {
            return Err(parameter(format!(
                "{} AR coefficient(s) given for an AR({}) model",
                g.len(),
                self.order
            )));
        }
        Ok(())
    }
}

/// Spikes inferred from every trace of a population, and the model used for each.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationDeconvolution {
    /// Inferred spikes (or 0/1 when binarised), neurons x frames.
    pub spikes: Array2<f64>,
    /// The AR coefficients used for each neuron (`[g]` or `[g1, g2]`).
    pub g: Vec<Vec<f64>>,
    /// The L1 penalty used for each neuron.
    pub lam: Vec<f64>,
}

/// One neuron's inferred spikes and the model that produced them.
struct NeuronFit {
    spikes: Vec<f64>,
    g: Vec<f64>,
    lam: f64,
}

/// One neuron's inference under `config`.
fn deconvolve_trace(y: &[f64], config: &OasisConfig) -> Result<NeuronFit> {
    let sn = noise_level(y)?;
    let g = match &config.g {
        Some(g) => g.clone(),
        None if config.order == 2 => {
            let (g1, g2) = estimate_ar2(y, sn)?;
            vec![g1, g2]
        }
        None => vec![estimate_ar1(y, sn)?],
    };
    let (spikes, lam) = match (config.lam, config.s_min > 0.0, g.as_slice()) {
        (None, false, [g]) => {
            let d = constrained_oasis_ar1(y, *g, sn)?;
            (d.fit.spikes, d.lam)
        }
        (None, false, [g1, g2]) => {
            let d = match config.ar2_solver {
                Ar2Solver::Exact => constrained_exact_ar2(y, *g1, *g2, sn)?,
                Ar2Solver::Greedy => constrained_oasis_ar2(y, *g1, *g2, sn)?,
            };
            (d.fit.spikes, d.lam)
        }
        (lam, _, g) => {
            let lam = lam.unwrap_or(0.0);
            let fit = match g {
                [g] => oasis_ar1(y, *g, lam, config.s_min)?,
                [g1, g2] => oasis_ar2(y, *g1, *g2, lam, config.s_min)?,
                _ => return Err(parameter("the AR order must be 1 or 2")),
            };
            (fit.spikes, lam)
        }
    };
    let spikes = match config.binarize {
        Some(t) => spikes
            .into_iter()
            .map(|s| if s > t { 1.0 } else { 0.0 })
            .collect(),
        None => spikes,
    };
    Ok(NeuronFit { spikes, g, lam })
}

/// OASIS on each row (neuron) of `traces` (neurons x frames), neurons in parallel (rayon's
/// global pool; `RAYON_NUM_THREADS` sets its size). Results do not depend on the thread count.
pub fn deconvolve_population(
    traces: ArrayView2<'_, f64>,
    config: &OasisConfig,
) -> Result<PopulationDeconvolution> {
    config.validate()?;
    let (neurons, frames) = traces.dim();
    let rows: Vec<Vec<f64>> = traces.outer_iter().map(|r| r.to_vec()).collect();
    let per_neuron: Vec<Result<NeuronFit>> = rows
        .par_iter()
        .enumerate()
        .map(|(n, y)| {
            deconvolve_trace(y, config).map_err(|e: SignalError| data(format!("neuron {n}: {e}")))
        })
        .collect();
    let mut spikes = Array2::<f64>::zeros((neurons, frames));
    let mut gs = Vec::with_capacity(neurons);
    let mut lams = Vec::with_capacity(neurons);
    for (n, r) in per_neuron.into_iter().enumerate() {
        let NeuronFit { spikes: s, g, lam } = r?;
        spikes.row_mut(n).assign(&ndarray::ArrayView1::from(&s));
        gs.push(g);
        lams.push(lam);
    }
    Ok(PopulationDeconvolution {
        spikes,
        g: gs,
        lam: lams,
    })
}
