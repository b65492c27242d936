//! The dichotomized Gaussian (Macke, Berens, Ecker, Tolias & Bethge, Neural Comput 2009;
//! temporal extension as in Lyamzin et al. 2010): binary spikes `x_i(t) = 1[u_i(t) + g_i > 0]`
//! of a latent Gaussian `u` with unit variances, whose means `g_i = Phi^-1(r_i)` give the firing
//! probabilities `r_i` and whose correlations are chosen pair by pair so that the thresholded
//! variables have the data's pairwise moments: `Phi2(g_i, g_j; l_ij) = E[x_i x_j]` (same bin) and,
//! with temporal structure, `Phi2(g_i, g_j; m_ij) = E[x_i(t) x_j(t + 1)]` (lag 1, every `i, j`).
//!
//! Sampling with temporal structure runs the latent as a first-order vector autoregression
//! `u(t + 1) = A u(t) + e(t)` with stationary covariance `L` (the same-bin latent correlations)
//! and lag-1 covariance `M`: `A = M^T L^-1`, `Cov e = L - M^T L^-1 M`. Latent correlation matrices
//! found pair by pair need not be positive definite; `L` is then replaced by the nearest
//! correlation matrix by eigenvalue clipping (eigenvalues at least 1e-6, unit diagonal restored)
//! and `M` is shrunk by the largest factor in [0, 1] (bisection) that keeps `Cov e` positive
//! definite; both corrections are reported in [`DgFit`].

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use ndarray::{Array2, ArrayView2};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use crate::error::{Result, data, parameter};
use crate::moments::Moments;
use crate::normal::{bivariate_normal_cdf, bivariate_normal_pdf, normal_quantile};

/// A fitted dichotomized Gaussian.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DichotomizedGaussian {
    /// Latent means per neuron and stimulus phase, `g_i(p) = Phi^-1(r_i(p))` (one phase without
    /// a period; `-inf` / `+inf` where a neuron never / always fires).
    pub means: Vec<Vec<f64>>,
    /// Latent same-bin correlations (row-major `neurons x neurons`, unit diagonal), after the
    /// positive-definite correction.
    pub latent_correlation: Vec<f64>,
    /// Latent lag-1 covariances `Cov(u_i(t), u_j(t + 1))` (row-major), after shrinking; absent
    /// for a model without temporal structure.
    pub latent_lag1: Option<Vec<f64>>,
    /// How the fit went.
    pub fit: DgFit,
}

/// Diagnostics of a dichotomized-Gaussian fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DgFit {
    /// Pairs (same bin or lag 1) that never fire together in the data; their target is half a
    /// coincidence (`0.5 / T`) rather than 0, which only a latent correlation of -1 attains.
    pub zero_coincidence_pairs: usize,
    /// Pairs whose target moment lay outside what a bivariate Gaussian can produce (clamped to
    /// the attainable range).
    pub unattainable_pairs: usize,
    /// Smallest eigenvalue of the latent correlation matrix before correction.
    pub min_eigenvalue_before: f64,
    /// Largest change of a latent correlation made by the positive-definite correction.
    pub max_correlation_change: f64,
    /// Factor applied to the latent lag-1 covariances so the autoregression is valid (1: none).
    pub lag1_shrink: f64,
}

/// Mean over phases of `Phi2(h_p, k_p; rho)` and of its derivative in `rho`; phases where either
/// neuron never fires contribute 0.
fn mean_cdf_and_density(phases: &[(f64, f64)], rho: f64, count: f64) -> (f64, f64) {
    let (mut value, mut slope) = (0.0, 0.0);
    for &(h, k) in phases {
        value += bivariate_normal_cdf(h, k, rho);
        if rho.abs() < 1.0 {
            slope += bivariate_normal_pdf(h, k, rho);
        }
    }
    (value / count, slope / count)
}

/// Solve `mean_p Phi2(h_p, k_p; rho) = target` for `rho` in [-1, 1] (bisection-safeguarded
/// Newton steps), over `count` phases of which `phases` are those where both neurons can fire.
/// Returns the solution and whether the target had to be clamped to the attainable range.
fn latent_correlation(phases: &[(f64, f64)], count: f64, target: f64) -> (f64, bool) {
    if phases.is_empty() {
        return (0.0, false);
    }
    let (low_value, _) = mean_cdf_and_density(phases, -1.0, count);
    let (high_value, _) = mean_cdf_and_density(phases, 1.0, count);
    if target <= low_value {
        return (-1.0, true);
    }
    if target >= high_value {
        return (1.0, true);
    }
    let (mut lo, mut hi) = (-1.0, 1.0);
    let mut rho: f64 = 0.0;
    for _ in 0..100 {
        let (value, slope) = mean_cdf_and_density(phases, rho, count);
        let value = value - target;
        if value.abs() < 1e-14 {
            break;
        }
        if value > 0.0 {
            hi = rho;
        } else {
            lo = rho;
        }
        let newton = rho - value / slope;
        rho = if slope > 0.0 && newton > lo && newton < hi {
            newton
        } else {
            0.5 * (lo + hi)
        };
        if hi - lo < 1e-13 {
            break;
        }
    }
    (rho, false)
}

fn smallest_eigenvalue(m: &DMatrix<f64>) -> f64 {
    SymmetricEigen::new(m.clone())
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
}

/// The nearest correlation matrix by eigenvalue clipping at `floor` and diagonal rescaling.
fn nearest_correlation(m: &DMatrix<f64>, floor: f64) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new(m.clone());
    let clipped = eigen.eigenvalues.map(|v| v.max(floor));
    let rebuilt =
        &eigen.eigenvectors * DMatrix::from_diagonal(&clipped) * eigen.eigenvectors.transpose();
    let n = m.nrows();
    let d: Vec<f64> = (0..n).map(|i| rebuilt[(i, i)].sqrt()).collect();
    DMatrix::from_fn(n, n, |i, j| {
        if i == j {
            1.0
        } else {
            rebuilt[(i, j)] / (d[i] * d[j])
        }
    })
}

/// Settings of a dichotomized-Gaussian fit. Defaults in brackets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DgConfig {
    /// Fit lag-1 latent covariances too [true].
    pub temporal: bool,
    /// Bins per stimulus repeat: the latent means then follow each neuron's peri-stimulus time
    /// histogram (spike probability at each phase of the repeat, Lyamzin et al. 2010), and the
    /// latent correlations describe the noise correlations around it [none: stationary means].
    pub period: Option<usize>,
}

impl Default for DgConfig {
    fn default() -> Self {
        Self {
            temporal: true,
            period: None,
        }
    }
}

impl DichotomizedGaussian {
    /// Fit to binary data `x` (neurons x bins).
    pub fn fit(x: ArrayView2<'_, f64>, config: &DgConfig) -> Result<Self> {
        super::check_binary(x)?;
        let (neurons, bins) = x.dim();
        if bins < 2 {
            return Err(data("a dichotomized Gaussian needs at least 2 bins"));
        }
        let period = config.period.unwrap_or(1);
        if period == 0 || period > bins {
            return Err(parameter(format!(
                "the stimulus period ({period} bins) must be between 1 and the recording's {bins} bins"
            )));
        }
        // Spike probability of each neuron at each phase (whole repeats only).
        let repeats = bins / period;
        let mut psth = vec![vec![0.0; period]; neurons];
        for (i, row) in x.rows().into_iter().enumerate() {
            for t in 0..repeats * period {
                psth[i][t % period] += row[t];
            }
        }
        let means: Vec<Vec<f64>> = psth
            .iter()
            .map(|p| {
                p.iter()
                    .map(|c| normal_quantile(c / repeats as f64))
                    .collect()
            })
            .collect();
        let m = Moments::of(x);
        let zero_pairs = std::sync::atomic::AtomicUsize::new(0);
        let unattainable = std::sync::atomic::AtomicUsize::new(0);
        // A pair never seen together: half a coincidence, not an impossible -1 correlation.
        let moment = |sum: f64, count: f64| -> f64 {
            if sum > 0.0 {
                sum / count
            } else {
                zero_pairs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                0.5 / count
            }
        };
        // Phases where both neurons can fire (lag: neuron j one bin later).
        let phases = |i: usize, j: usize, lag: usize| -> Vec<(f64, f64)> {
            (0..period)
                .map(|p| (means[i][p], means[j][(p + lag) % period]))
                .filter(|(h, k)| h.is_finite() && k.is_finite())
                .collect()
        };
        let solve = |i: usize, j: usize, lag: usize, target: f64| -> f64 {
            let (rho, clamped) = latent_correlation(&phases(i, j, lag), period as f64, target);
            if clamped {
                unattainable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            rho
        };
        let pairs: Vec<(usize, usize)> = (0..neurons)
            .flat_map(|i| (i + 1..neurons).map(move |j| (i, j)))
            .collect();
        let same_bin: Vec<f64> = pairs
            .par_iter()
            .map(|&(i, j)| solve(i, j, 0, moment(m.cross[[i, j]], m.bins)))
            .collect();
        let mut latent = DMatrix::<f64>::identity(neurons, neurons);
        for (&(i, j), &rho) in pairs.iter().zip(&same_bin) {
            latent[(i, j)] = rho;
            latent[(j, i)] = rho;
        }
        let min_eigenvalue_before = smallest_eigenvalue(&latent);
        let corrected = if min_eigenvalue_before < 1e-6 {
            nearest_correlation(&latent, 1e-6)
        } else {
            latent.clone()
        };
        let max_correlation_change = (&corrected - &latent).amax();
        let mut lag1 = None;
        let mut lag1_shrink = 1.0;
        if config.temporal {
            let all: Vec<(usize, usize)> = (0..neurons)
                .flat_map(|i| (0..neurons).map(move |j| (i, j)))
                .collect();
            let lagged_values: Vec<f64> = all
                .par_iter()
                .map(|&(i, j)| solve(i, j, 1, moment(m.lag_cross[[i, j]], m.lag_pairs)))
                .collect();
            let lagged = DMatrix::from_row_slice(neurons, neurons, &lagged_values);
            let inverse = corrected
                .clone()
                .try_inverse()
                .ok_or_else(|| data("the latent correlation matrix is singular"))?;
            let innovation = |s: f64| -> DMatrix<f64> {
                let shrunk = &lagged * s;
                &corrected - shrunk.transpose() * &inverse * &shrunk
            };
            if smallest_eigenvalue(&innovation(1.0)) < 1e-8 {
                let (mut lo, mut hi) = (0.0, 1.0);
                for _ in 0..40 {
                    let mid = 0.5 * (lo + hi);
                    if smallest_eigenvalue(&innovation(mid)) >= 1e-8 {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                lag1_shrink = lo;
            }
            lag1 = Some(
                (&lagged * lag1_shrink)
                    .transpose()
                    .iter()
                    .copied()
                    .collect::<Vec<f64>>(),
            );
        }
        Ok(Self {
            means,
            latent_correlation: corrected.transpose().iter().copied().collect(),
            latent_lag1: lag1,
            fit: DgFit {
                zero_coincidence_pairs: zero_pairs.into_inner(),
                unattainable_pairs: unattainable.into_inner(),
                min_eigenvalue_before,
                max_correlation_change,
                lag1_shrink,
            },
        })
    }

    /// Draw `bins` bins of spikes (neurons x bins, 0/1).
    pub fn sample(&self, bins: usize, rng: &mut impl Rng) -> Result<Array2<f64>> {
        let n = self.means.len();
        let correlation = DMatrix::from_row_slice(n, n, &self.latent_correlation);
        let stationary = correlation
            .clone()
            .cholesky()
            .ok_or_else(|| data("the latent correlation matrix is not positive definite"))?
            .l();
        let autoregression = match &self.latent_lag1 {
            Some(lag) => {
                let lagged = DMatrix::from_row_slice(n, n, lag);
                let inverse = correlation
                    .clone()
                    .try_inverse()
                    .ok_or_else(|| data("the latent correlation matrix is singular"))?;
                let transition = lagged.transpose() * &inverse;
                let innovation = &correlation - lagged.transpose() * &inverse * &lagged;
                let chol = innovation
                    .cholesky()
                    .ok_or_else(|| {
                        data("the latent innovation covariance is not positive definite")
                    })?
                    .l();
                Some((transition, chol))
            }
            None => None,
        };
        let mut out = Array2::<f64>::zeros((n, bins));
        let mut u = &stationary * standard_normal(n, rng);
        for t in 0..bins {
            if t > 0 {
                u = match &autoregression {
                    Some((transition, chol)) => transition * &u + chol * standard_normal(n, rng),
                    None => &stationary * standard_normal(n, rng),
                };
            }
            for i in 0..n {
                let phases = &self.means[i];
                let mean = phases
                    .get(t % phases.len().max(1))
                    .copied()
                    .unwrap_or(f64::NEG_INFINITY);
                out[[i, t]] = if u[i] + mean > 0.0 { 1.0 } else { 0.0 };
            }
        }
        Ok(out)
    }
}

fn standard_normal(n: usize, rng: &mut impl Rng) -> DVector<f64> {
    DVector::from_fn(n, |_, _| StandardNormal.sample(rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normal::normal_cdf;

    #[test]
    fn latent_correlation_inverts_the_bivariate_cdf() {
        let (h, k) = (normal_quantile(0.1), normal_quantile(0.3));
        for &rho in &[-0.4, 0.0, 0.25, 0.8] {
            let target = bivariate_normal_cdf(h, k, rho);
            let (found, clamped) = latent_correlation(&[(h, k)], 1.0, target);
            assert!(!clamped);
            assert!((found - rho).abs() < 1e-9, "{rho}: {found}");
        }
        // Beyond the attainable range (more coincidences than the rarer neuron's spikes).
        assert_eq!(latent_correlation(&[(h, k)], 1.0, 0.2), (1.0, true));
        // Averaged over phases: the mean of the phase-wise CDFs is matched.
        let phases = [(h, k), (normal_quantile(0.4), normal_quantile(0.05))];
        let target = 0.5
            * (bivariate_normal_cdf(phases[0].0, phases[0].1, 0.3)
                + bivariate_normal_cdf(phases[1].0, phases[1].1, 0.3));
        let (found, _) = latent_correlation(&phases, 2.0, target);
        assert!((found - 0.3).abs() < 1e-9);
        assert!((normal_cdf(h) - 0.1).abs() < 1e-15);
    }
}
