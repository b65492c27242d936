//! Heat-kernel diffusion `exp(-t L) x` by a Chebyshev expansion, so that a signal on a large
//! graph is diffused with a handful of sparse products and O(n k) memory; no dense
//! eigendecomposition of the n x n Laplacian is ever needed (MARBLE's reference computes one).
//!
//! With the spectrum of `L` inside `[0, lambda_max]`, `y = 2 lambda / lambda_max - 1` maps it
//! to `[-1, 1]` and
//!
//! ```text
//! exp(-t lambda) = sum_k c_k T_k(y),    T_0 = 1, T_1 = y, T_{k+1} = 2 y T_k - T_{k-1},
//! ```
//!
//! with `c_k` computed by Chebyshev-Gauss quadrature of `f(y) = exp(-t lambda_max (y + 1) / 2)`
//! (these equal `(2 - [k = 0]) (-1)^k e^{-a} I_k(a)` with `a = t lambda_max / 2`). The series is
//! cut where the remaining coefficients fall below the requested tolerance, which bounds the
//! error on every eigenvalue, so the result is accurate to that tolerance for any symmetric (or
//! symmetrisable, like the random-walk Laplacian) operator. The derivative with respect to `t`
//! uses the coefficients of `-lambda exp(-t lambda)`, so `t` can be learned.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, invalid_config};
use crate::laplacian::ConnectionLaplacian;
use crate::sparse::CsrMatrix;

/// A linear operator on signals with `size()` rows (one column per channel).
pub trait SignalOperator {
    /// Number of rows of the signals it acts on.
    fn size(&self) -> usize;
    /// The operator applied to `x` (size x channels).
    fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>>;
}

impl SignalOperator for CsrMatrix {
    fn size(&self) -> usize {
        self.rows()
    }
    fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        self.mul_dense(x)
    }
}

impl SignalOperator for ConnectionLaplacian {
    fn size(&self) -> usize {
        ConnectionLaplacian::size(self)
    }
    fn apply(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        ConnectionLaplacian::apply(self, x)
    }
}

/// Settings of the Chebyshev heat kernel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeatKernelConfig {
    /// Largest coefficient left out of the series (default 1e-10), bounding the error on any
    /// eigenvalue.
    pub tolerance: f64,
    /// Most terms ever used (default 500; reached only for `t lambda_max` in the hundreds).
    pub max_terms: usize,
}

impl Default for HeatKernelConfig {
    fn default() -> Self {
        Self {
            tolerance: 1e-10,
            max_terms: 500,
        }
    }
}

/// The Chebyshev coefficients of `exp(-t lambda)` on `[0, lambda_max]` and of its derivative
/// in `t`, truncated once they fall below the tolerance.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatCoefficients {
    /// `c_k` of `exp(-t lambda)`.
    pub value: Vec<f64>,
    /// `c_k` of `d/dt exp(-t lambda) = -lambda exp(-t lambda)`.
    pub derivative: Vec<f64>,
}

/// The quadrature that turns `t` into the Chebyshev coefficients:
/// `c_k(t) = sum_j weights[k][j] exp(-t lambdas[j])`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChebyshevQuadrature {
    /// Eigenvalue nodes `lambda_j` on `[0, lambda_max]`.
    pub lambdas: Vec<f64>,
    /// `terms x nodes` weights, row-major.
    pub weights: Vec<f64>,
    /// Number of terms (rows of `weights`).
    pub terms: usize,
}

impl ChebyshevQuadrature {
    /// The quadrature for `terms` coefficients over `[0, lambda_max]` on `2 terms` nodes.
    pub fn new(terms: usize, lambda_max: f64) -> Self {
        let nodes = (2 * terms).max(16);
        let theta = |j: usize| std::f64::consts::PI * (j as f64 + 0.5) / nodes as f64;
        let lambdas = (0..nodes)
            .map(|j| lambda_max * (theta(j).cos() + 1.0) / 2.0)
            .collect();
        let mut weights = Vec::with_capacity(terms * nodes);
        for k in 0..terms {
            let scale = if k == 0 { 1.0 } else { 2.0 };
            weights.extend((0..nodes).map(|j| scale * (k as f64 * theta(j)).cos() / nodes as f64));
        }
        Self {
            lambdas,
            weights,
            terms,
        }
    }

    /// The coefficients for diffusion time `t`.
    pub fn coefficients(&self, t: f64) -> Vec<f64> {
        self.coefficients_of(|lambda| (-t * lambda).exp())
    }

    /// The Chebyshev coefficients of any function `f` of the eigenvalue.
    pub fn coefficients_of(&self, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let nodes = self.lambdas.len();
        let values: Vec<f64> = self.lambdas.iter().map(|&l| f(l)).collect();
        (0..self.terms)
            .map(|k| {
                self.weights[k * nodes..(k + 1) * nodes]
                    .iter()
                    .zip(&values)
                    .map(|(w, v)| w * v)
                    .sum()
            })
            .collect()
    }
}

/// Computes the truncated expansions for diffusion time `t >= 0`.
pub fn heat_coefficients(
    t: f64,
    lambda_max: f64,
    config: HeatKernelConfig,
) -> Result<HeatCoefficients> {
    if !(t.is_finite() && t >= 0.0) {
        return Err(invalid_config(
            "diffusion.t",
            format!("must be finite and >= 0, got {t}"),
        ));
    }
    if !(lambda_max.is_finite() && lambda_max > 0.0) {
        return Err(invalid_config(
            "diffusion.lambda_max",
            format!("must be a positive spectral bound, got {lambda_max}"),
        ));
    }
    if config.tolerance.is_nan() || config.tolerance <= 0.0 || config.max_terms < 2 {
        return Err(invalid_config(
            "diffusion.tolerance",
            "needs a positive tolerance and at least 2 terms",
        ));
    }
    // Quadrature on twice as many nodes as terms makes the aliasing error negligible.
    let quadrature = ChebyshevQuadrature::new(config.max_terms, lambda_max);
    let all_values = quadrature.coefficients(t);
    let all_derivatives = quadrature.coefficients_of(|lambda| -lambda * (-t * lambda).exp());
    let mut value = Vec::new();
    let mut derivative = Vec::new();
    let derivative_scale = lambda_max.max(1.0);
    for k in 0..config.max_terms {
        value.push(all_values[k]);
        derivative.push(all_derivatives[k]);
        // The coefficients decay super-exponentially once k exceeds about a = t lambda_max / 2;
        // stop after two consecutive negligible ones.
        if k >= 2
            && value[k].abs() < config.tolerance
            && value[k - 1].abs() < config.tolerance
            && derivative[k].abs() < config.tolerance * derivative_scale
            && derivative[k - 1].abs() < config.tolerance * derivative_scale
        {
            break;
        }
    }
    Ok(HeatCoefficients { value, derivative })
}

/// Hands `visit` the Chebyshev terms `T_k(y) x` for `k = 0..terms`, `y = 2 L / lambda_max - I`,
/// by the recurrence `T_{k+1} = 2 y T_k - T_{k-1}`: one operator application per term.
pub fn chebyshev_terms(
    operator: &dyn SignalOperator,
    lambda_max: f64,
    x: ArrayView2<'_, f64>,
    terms: usize,
    mut visit: impl FnMut(usize, &Array2<f64>) -> Result<()>,
) -> Result<()> {
    let shifted = |v: &Array2<f64>| -> Result<Array2<f64>> {
        let mut out = operator.apply(v.view())?;
        out.zip_mut_with(v, |o, &vi| *o = 2.0 / lambda_max * *o - vi);
        Ok(out)
    };
    let mut previous: Option<Array2<f64>> = None;
    let mut current = x.to_owned();
    for k in 0..terms {
        if k > 0 {
            let mut next = shifted(&current)?;
            if let Some(p) = &previous {
                next.zip_mut_with(p, |n, &pv| *n = 2.0 * *n - pv);
            }
            previous = Some(std::mem::replace(&mut current, next));
        }
        visit(k, &current)?;
    }
    Ok(())
}

/// `exp(-t L) x` and `d/dt exp(-t L) x` for an operator whose spectrum lies in
/// `[0, lambda_max]`.
pub fn heat_diffusion(
    operator: &dyn SignalOperator,
    lambda_max: f64,
    t: f64,
    x: ArrayView2<'_, f64>,
    config: HeatKernelConfig,
) -> Result<(Array2<f64>, Array2<f64>)> {
    let coefficients = heat_coefficients(t, lambda_max, config)?;
    if x.nrows() != operator.size() {
        return Err(crate::error::ManifoldError::InvalidData(format!(
            "a signal with {} rows cannot be diffused by an operator of size {}",
            x.nrows(),
            operator.size()
        )));
    }
    let mut value = Array2::zeros(x.dim());
    let mut derivative = Array2::zeros(x.dim());
    chebyshev_terms(
        operator,
        lambda_max,
        x,
        coefficients.value.len(),
        |k, term| {
            value.scaled_add(coefficients.value[k], term);
            derivative.scaled_add(coefficients.derivative[k], term);
            Ok(())
        },
    )?;
    Ok((value, derivative))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{GraphConfig, ProximityGraph};
    use crate::laplacian::{EdgeWeight, Normalization, laplacian, weighted_adjacency};
    use nalgebra::{DMatrix, SymmetricEigen};
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// exp(-t L) x and its t-derivative from a dense eigendecomposition of the symmetric
    /// normalised Laplacian, transformed to the random-walk one: L_rw = D^{-1/2} L_sym D^{1/2}.
    fn dense_reference(
        l_sym: &Array2<f64>,
        degree: &[f64],
        t: f64,
        x: &Array2<f64>,
    ) -> (Array2<f64>, Array2<f64>) {
        let n = l_sym.nrows();
        let eigen = SymmetricEigen::new(DMatrix::from_fn(n, n, |i, j| l_sym[[i, j]]));
        let v = Array2::from_shape_fn((n, n), |(i, j)| eigen.eigenvectors[(i, j)]);
        let lambda: Vec<f64> = eigen.eigenvalues.iter().copied().collect();
        let kernel = |g: &dyn Fn(f64) -> f64| {
            let diag = Array2::from_diag(&ndarray::Array1::from_iter(lambda.iter().map(|&l| g(l))));
            v.dot(&diag).dot(&v.t())
        };
        let d_half =
            Array2::from_diag(&ndarray::Array1::from_iter(degree.iter().map(|d| d.sqrt())));
        let d_minus_half = Array2::from_diag(&ndarray::Array1::from_iter(
            degree.iter().map(|d| 1.0 / d.sqrt()),
        ));
        let heat = d_minus_half.dot(&kernel(&|l| (-t * l).exp())).dot(&d_half);
        let heat_dt = d_minus_half
            .dot(&kernel(&|l| -l * (-t * l).exp()))
            .dot(&d_half);
        (heat.dot(x), heat_dt.dot(x))
    }

    #[test]
    fn chebyshev_heat_kernel_matches_the_dense_eigendecomposition() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let points = Array2::from_shape_fn((250, 2), |_| rng.random_range(-1.0..1.0));
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 10, delta: 1.0 })?;
        let w = weighted_adjacency(points.view(), &graph, EdgeWeight::InverseDistance)?;
        let l_rw = laplacian(&w, Normalization::RandomWalk)?;
        let l_sym = laplacian(&w, Normalization::Symmetric)?.to_dense();
        let degree = w.row_sums();
        let x = Array2::from_shape_fn((250, 3), |_| rng.random_range(-1.0..1.0));
        for t in [0.0, 0.1, 1.0, 7.5, 60.0] {
            let (value, dt) = heat_diffusion(&l_rw, 2.0, t, x.view(), HeatKernelConfig::default())?;
            let (want, want_dt) = dense_reference(&l_sym, &degree, t, &x);
            let err = (&value - &want).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let err_dt = (&dt - &want_dt).iter().fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-8, "t {t}: {err}");
            assert!(err_dt < 1e-7, "t {t}: d/dt {err_dt}");
        }
        Ok(())
    }

    #[test]
    fn derivative_in_t_matches_finite_differences() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let points = Array2::from_shape_fn((120, 3), |_| rng.random_range(-1.0..1.0));
        let graph = ProximityGraph::build(points.view(), GraphConfig { k: 8, delta: 1.0 })?;
        let w = weighted_adjacency(points.view(), &graph, EdgeWeight::Unit)?;
        let l = laplacian(&w, Normalization::Combinatorial)?;
        let bound = crate::laplacian::spectral_bound(&w, Normalization::Combinatorial);
        let x = Array2::from_shape_fn((120, 1), |_| rng.random_range(-1.0..1.0));
        let (t, h) = (0.3, 1e-5);
        let config = HeatKernelConfig::default();
        let (_, dt) = heat_diffusion(&l, bound, t, x.view(), config)?;
        let (plus, _) = heat_diffusion(&l, bound, t + h, x.view(), config)?;
        let (minus, _) = heat_diffusion(&l, bound, t - h, x.view(), config)?;
        let fd = (&plus - &minus) / (2.0 * h);
        let err = (&fd - &dt).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-6, "{err}");
        Ok(())
    }

    #[test]
    fn coefficients_equal_the_bessel_closed_form() -> Result<()> {
        // c_k = (2 - [k = 0]) (-1)^k e^{-a} I_k(a), a = t lambda_max / 2; I_k by its series.
        let bessel_i = |k: usize, a: f64| -> f64 {
            let mut term = (a / 2.0).powi(k as i32) / (1..=k).map(|v| v as f64).product::<f64>();
            let mut sum = term;
            for m in 1..200 {
                term *= (a / 2.0).powi(2) / (m as f64 * (m + k) as f64);
                sum += term;
            }
            sum
        };
        let (t, lambda_max) = (1.5, 2.0);
        let a = t * lambda_max / 2.0;
        let c = heat_coefficients(t, lambda_max, HeatKernelConfig::default())?;
        for (k, &ck) in c.value.iter().enumerate().take(12) {
            let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
            let scale = if k == 0 { 1.0 } else { 2.0 };
            let want = scale * sign * (-a).exp() * bessel_i(k, a);
            assert!((ck - want).abs() < 1e-13, "k {k}: {ck} vs {want}");
        }
        Ok(())
    }

    #[test]
    fn negative_time_is_an_error() {
        assert!(heat_coefficients(-1.0, 2.0, HeatKernelConfig::default()).is_err());
    }
}
