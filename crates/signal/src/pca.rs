//! Principal component analysis of samples x variables data (for example time bins x neurons
//! of smoothed rates, the input MARBLE embeds).
//!
//! Definition as in scikit-learn's `PCA`: centre each variable, eigendecompose the covariance
//! (ddof = 1); components are the unit eigenvectors in decreasing order of eigenvalue (the
//! explained variance). Each component's sign is fixed so that its largest-magnitude loading
//! is positive, so results are reproducible.

use nalgebra::{DMatrix, SymmetricEigen};
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};

/// A fitted PCA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// Mean of each variable (subtracted before projecting).
    pub mean: Vec<f64>,
    /// Components, one per row (k x variables), unit length.
    pub components: Vec<Vec<f64>>,
    /// Variance along each kept component (eigenvalues of the covariance).
    pub explained_variance: Vec<f64>,
    /// Fraction of the total variance along each kept component.
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// Fit `k` components to `x` (samples x variables).
    pub fn fit(x: ArrayView2<'_, f64>, k: usize) -> Result<Self> {
        let (samples, vars) = x.dim();
        if samples < 2 {
            return Err(data(format!("PCA needs at least 2 samples, got {samples}")));
        }
        if k == 0 || k > vars {
            return Err(parameter(format!(
                "cannot keep {k} components of {vars} variables"
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(data("PCA input holds NaN or infinite values"));
        }
        let mean: Array1<f64> = x
            .mean_axis(ndarray::Axis(0))
            .unwrap_or_else(|| Array1::zeros(vars));
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / (samples as f64 - 1.0);
        let m = DMatrix::from_fn(vars, vars, |r, c| cov[(r, c)]);
        let eig = SymmetricEigen::new(m);
        let mut order: Vec<usize> = (0..vars).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let total: f64 = eig.eigenvalues.iter().map(|v| v.max(0.0)).sum();
        let mut components = Vec::with_capacity(k);
        let mut explained_variance = Vec::with_capacity(k);
        for &i in order.iter().take(k) {
            let mut v: Vec<f64> = eig.eigenvectors.column(i).iter().copied().collect();
            let largest = v
                .iter()
                .copied()
                .max_by(|a, b| a.abs().total_cmp(&b.abs()))
                .unwrap_or(1.0);
            if largest < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            components.push(v);
            explained_variance.push(eig.eigenvalues[i].max(0.0));
        }
        let explained_variance_ratio = explained_variance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Self {
            mean: mean.to_vec(),
            components,
            explained_variance,
            explained_variance_ratio,
        })
    }

    /// Project `x` (samples x variables) onto the components: samples x k scores.
    pub fn transform(&self, x: ArrayView2<'_, f64>) -> Result<Array2<f64>> {
        let vars = self.mean.len();
        if x.ncols() != vars {
            return Err(data(format!(
                "PCA was fitted on {vars} variables, got {}",
                x.ncols()
            )));
        }
        let k = self.components.len();
        let mut out = Array2::<f64>::zeros((x.nrows(), k));
        for (row, mut o) in x.rows().into_iter().zip(out.rows_mut()) {
            for (j, comp) in self.components.iter().enumerate() {
                o[j] = row
                    .iter()
                    .zip(&self.mean)
                    .zip(comp)
                    .map(|((v, m), c)| (v - m) * c)
                    .sum();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_axis_of_a_line() {
        // Points on the line y = 2x: one component along (1, 2)/sqrt(5) with all the variance.
        let x = ndarray::Array2::from_shape_fn((5, 2), |(i, j)| {
            (i as f64) * if j == 0 { 1.0 } else { 2.0 }
        });
        let p = Pca::fit(x.view(), 2).unwrap();
        let s5 = 5f64.sqrt();
        assert!(
            (p.components[0][0] - 1.0 / s5).abs() < 1e-12
                && (p.components[0][1] - 2.0 / s5).abs() < 1e-12
        );
        assert!((p.explained_variance_ratio[0] - 1.0).abs() < 1e-12);
        // Variance along the line: var(i) * 5 with var(0..5) = 2.5 (ddof 1).
        assert!((p.explained_variance[0] - 12.5).abs() < 1e-9);
        assert!(Pca::fit(x.view(), 3).is_err());
    }
}
