//! Decoding a behavioural variable from population activity or an embedding of it, with
//! k-fold cross-validation over contiguous blocks of time (so that neighbouring, correlated
//! bins never sit on both sides of a split).
//!
//! - [`Decoder::Knn`]: k-nearest-neighbour regression (mean of the neighbours' targets), with
//!   Euclidean or cosine distance; CEBRA's and MARBLE's hippocampus benchmark uses 36
//!   neighbours and the cosine metric.
//! - [`Decoder::Linear`]: ridge regression with an intercept.
//!
//! Scores: R² over all held-out predictions (1 - SS_res / SS_tot, per target column, averaged)
//! and the median absolute error.

// Index loops over several parallel arrays (costs, potentials, labels) read as the
// algorithms are written.
#![allow(clippy::needless_range_loop)]
use nalgebra::{DMatrix, DVector};
use ndarray::{Array2, ArrayView2, s};
use serde::{Deserialize, Serialize};

use crate::error::{Result, data, parameter};

/// Distance used by the kNN decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Metric {
    /// Euclidean distance.
    Euclidean,
    /// 1 - cosine similarity.
    Cosine,
}

/// A decoder from features to targets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Decoder {
    /// k-nearest-neighbour regression.
    Knn {
        /// Neighbours averaged.
        neighbours: usize,
        /// Distance.
        metric: Metric,
    },
    /// Ridge regression with an unpenalised intercept.
    Linear {
        /// L2 penalty on the weights (features are used as given).
        ridge: f64,
    },
}

/// Cross-validated decoding scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodingScores {
    /// R² of all held-out predictions, averaged over target columns.
    pub r2: f64,
    /// Median absolute error over all held-out predictions and target columns.
    pub median_absolute_error: f64,
    /// Held-out predictions (n x targets), in the original row order.
    #[serde(skip)]
    pub predictions: Array2<f64>,
}

fn fit_predict(
    decoder: Decoder,
    train_x: ArrayView2<'_, f64>,
    train_y: ArrayView2<'_, f64>,
    test_x: ArrayView2<'_, f64>,
) -> Result<Array2<f64>> {
    let targets = train_y.ncols();
    match decoder {
        Decoder::Knn { neighbours, metric } => {
            if neighbours == 0 || neighbours > train_x.nrows() {
                return Err(parameter(format!(
                    "kNN needs 1..={} neighbours, got {neighbours}",
                    train_x.nrows()
                )));
            }
            let norms = |x: ArrayView2<'_, f64>| -> Vec<f64> {
                x.rows()
                    .into_iter()
                    .map(|r| r.dot(&r).sqrt().max(1e-12))
                    .collect()
            };
            let (train_norms, test_norms) = (norms(train_x), norms(test_x));
            let mut out = Array2::zeros((test_x.nrows(), targets));
            let mut distances: Vec<(f64, usize)> = Vec::with_capacity(train_x.nrows());
            for i in 0..test_x.nrows() {
                distances.clear();
                let q = test_x.row(i);
                for j in 0..train_x.nrows() {
                    let r = train_x.row(j);
                    let d = match metric {
                        Metric::Euclidean => {
                            q.iter().zip(r.iter()).map(|(a, b)| (a - b) * (a - b)).sum()
                        }
                        Metric::Cosine => 1.0 - q.dot(&r) / (test_norms[i] * train_norms[j]),
                    };
                    distances.push((d, j));
                }
                distances.select_nth_unstable_by(neighbours - 1, |a, b| a.0.total_cmp(&b.0));
                for &(_, j) in &distances[..neighbours] {
                    out.row_mut(i)
                        .scaled_add(1.0 / neighbours as f64, &train_y.row(j));
                }
            }
            Ok(out)
        }
        Decoder::Linear { ridge } => {
            if !(ridge >= 0.0 && ridge.is_finite()) {
                return Err(parameter(format!("ridge must be >= 0, got {ridge}")));
            }
            let (n, d) = train_x.dim();
            let design =
                DMatrix::from_fn(n, d + 1, |i, j| if j == d { 1.0 } else { train_x[[i, j]] });
            let mut gram = design.transpose() * &design;
            for j in 0..d {
                gram[(j, j)] += ridge;
            }
            let mut out = Array2::zeros((test_x.nrows(), targets));
            let Some(cholesky) = gram.clone().cholesky() else {
                return Err(data(
                    "the linear decoder's normal equations are singular (constant or collinear \
                     features); use a positive ridge",
                ));
            };
            for t in 0..targets {
                let rhs = design.transpose() * DVector::from_fn(n, |i, _| train_y[[i, t]]);
                let w = cholesky.solve(&rhs);
                for i in 0..test_x.nrows() {
                    out[[i, t]] = (0..d).map(|j| w[j] * test_x[[i, j]]).sum::<f64>() + w[d];
                }
            }
            Ok(out)
        }
    }
}

/// Decodes `targets` (n x t) from `features` (n x d) with `folds`-fold cross-validation over
/// contiguous blocks of rows.
pub fn cross_validate(
    features: ArrayView2<'_, f64>,
    targets: ArrayView2<'_, f64>,
    decoder: Decoder,
    folds: usize,
) -> Result<DecodingScores> {
    let n = features.nrows();
    if targets.nrows() != n {
        return Err(data(format!(
            "{n} feature rows but {} target rows",
            targets.nrows()
        )));
    }
    if folds < 2 || folds > n {
        return Err(parameter(format!("need 2..={n} folds, got {folds}")));
    }
    if features
        .iter()
        .chain(targets.iter())
        .any(|v| !v.is_finite())
    {
        return Err(data("features and targets must be finite"));
    }
    let mut predictions = Array2::zeros(targets.dim());
    for fold in 0..folds {
        let (start, end) = (fold * n / folds, (fold + 1) * n / folds);
        let train_rows: Vec<usize> = (0..start).chain(end..n).collect();
        let train_x = features.select(ndarray::Axis(0), &train_rows);
        let train_y = targets.select(ndarray::Axis(0), &train_rows);
        let predicted = fit_predict(
            decoder,
            train_x.view(),
            train_y.view(),
            features.slice(s![start..end, ..]),
        )?;
        predictions.slice_mut(s![start..end, ..]).assign(&predicted);
    }
    let mut r2_total = 0.0;
    for t in 0..targets.ncols() {
        let column = targets.column(t);
        let mean = column.sum() / n as f64;
        let total: f64 = column.iter().map(|y| (y - mean) * (y - mean)).sum();
        let residual: f64 = column
            .iter()
            .zip(predictions.column(t).iter())
            .map(|(y, p)| (y - p) * (y - p))
            .sum();
        r2_total += if total > 0.0 {
            1.0 - residual / total
        } else {
            0.0
        };
    }
    let mut errors: Vec<f64> = targets
        .iter()
        .zip(predictions.iter())
        .map(|(y, p)| (y - p).abs())
        .collect();
    errors.sort_by(f64::total_cmp);
    let median = if errors.len() % 2 == 1 {
        errors[errors.len() / 2]
    } else {
        0.5 * (errors[errors.len() / 2 - 1] + errors[errors.len() / 2])
    };
    Ok(DecodingScores {
        r2: r2_total / targets.ncols() as f64,
        median_absolute_error: median,
        predictions,
    })
}

/// A cross-validated decoding score, as `neuroforge decode` writes it (NaN as `null`, read
/// back as NaN).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecodingReport {
    /// Feature block decoded from.
    pub features: String,
    /// Target block decoded.
    pub targets: String,
    /// The decoder.
    pub decoder: Decoder,
    /// Folds (contiguous blocks of rows).
    pub folds: usize,
    /// Cross-validated R².
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub r2: f64,
    /// Median absolute error, in the targets' units.
    #[serde(deserialize_with = "crate::serde_nan::number")]
    pub median_absolute_error: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn linear_decoder_recovers_a_linear_map_exactly() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let x = Array2::from_shape_fn((200, 3), |_| rng.random_range(-1.0..1.0));
        let y = Array2::from_shape_fn((200, 1), |(i, _)| 2.0 * x[[i, 0]] - x[[i, 2]] + 0.5);
        let scores = cross_validate(x.view(), y.view(), Decoder::Linear { ridge: 0.0 }, 5)?;
        assert!((scores.r2 - 1.0).abs() < 1e-10);
        assert!(scores.median_absolute_error < 1e-10);
        Ok(())
    }

    #[test]
    fn knn_predicts_by_neighbour_means_and_r2_is_standard() -> Result<()> {
        // Features equal the target on a fine grid: 1 neighbour predicts a neighbouring value.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let y = x.clone();
        let knn = Decoder::Knn {
            neighbours: 1,
            metric: Metric::Euclidean,
        };
        let scores = cross_validate(x.view(), y.view(), knn, 4)?;
        // Each held-out block's rows are predicted by the nearest training row: the block edge.
        let errors: Vec<f64> = (0..100)
            .map(|i| (scores.predictions[[i, 0]] - i as f64).abs())
            .collect();
        let max = errors.iter().copied().fold(0.0, f64::max);
        assert!(max <= 25.0);
        let mean = 49.5;
        let ss_tot: f64 = (0..100).map(|i| (i as f64 - mean).powi(2)).sum();
        let ss_res: f64 = errors.iter().map(|e| e * e).sum();
        assert!((scores.r2 - (1.0 - ss_res / ss_tot)).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn cosine_metric_ignores_scale() -> Result<()> {
        let train_x = ndarray::array![[1.0, 0.0], [0.0, 1.0]];
        let train_y = ndarray::array![[1.0], [2.0]];
        let test_x = ndarray::array![[10.0, 1.0], [0.1, 3.0]];
        let knn = Decoder::Knn {
            neighbours: 1,
            metric: Metric::Cosine,
        };
        let predicted = fit_predict(knn, train_x.view(), train_y.view(), test_x.view())?;
        assert_eq!(predicted, ndarray::array![[1.0], [2.0]]);
        Ok(())
    }
}
