//! Decoding a behavioural variable from population activity or an embedding of it, under one
//! of three protocols ([`Split`]):
//!
//! - k-fold cross-validation over contiguous blocks of time (the default: neighbouring,
//!   correlated bins never sit on both sides of a split, and every row is predicted once);
//! - a held-out last part (train on the first 80% of the rows, test on the last 20%: the
//!   protocol of MARBLE's and CEBRA's rat-hippocampus notebooks);
//! - a random held-out part of the rows, drawn from a seed (neighbouring bins fall on both
//!   sides, which flatters any decoder on smooth data: reported for comparison with papers
//!   that use it).
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
use ndarray::{Array2, ArrayView2, Axis};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
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

/// Which rows train the decoder and which are predicted.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Split {
    /// k-fold cross-validation over contiguous blocks of rows: every row is predicted once,
    /// by a decoder fitted on the other blocks.
    Blocks {
        /// Number of blocks (at least 2).
        folds: usize,
    },
    /// Train on the first rows, predict the last `test_fraction` of them.
    Last {
        /// Fraction of the rows held out at the end, in (0, 1).
        test_fraction: f64,
    },
    /// Predict a random `test_fraction` of the rows (drawn without replacement from `seed`),
    /// train on the rest.
    Random {
        /// Fraction of the rows held out, in (0, 1).
        test_fraction: f64,
        /// Seed of the draw.
        seed: u64,
    },
}

impl Split {
    /// One line for reports: what was held out.
    pub fn describe(&self) -> String {
        match *self {
            Split::Blocks { folds } => {
                format!("{folds}-fold cross-validation over contiguous blocks of rows")
            }
            Split::Last { test_fraction } => format!(
                "trained on the first {:.0}% of the rows, tested on the last {:.0}%",
                100.0 * (1.0 - test_fraction),
                100.0 * test_fraction
            ),
            Split::Random {
                test_fraction,
                seed,
            } => format!(
                "tested on a random {:.0}% of the rows (seed {seed}), trained on the rest",
                100.0 * test_fraction
            ),
        }
    }

    /// The (train, test) row sets of each round, for `n` rows.
    fn rounds(&self, n: usize) -> Result<Vec<(Vec<usize>, Vec<usize>)>> {
        match *self {
            Split::Blocks { folds } => {
                if folds < 2 || folds > n {
                    return Err(parameter(format!("need 2..={n} folds, got {folds}")));
                }
                Ok((0..folds)
                    .map(|fold| {
                        let (start, end) = (fold * n / folds, (fold + 1) * n / folds);
                        ((0..start).chain(end..n).collect(), (start..end).collect())
                    })
                    .collect())
            }
            Split::Last { test_fraction } | Split::Random { test_fraction, .. } => {
                if !(test_fraction > 0.0 && test_fraction < 1.0) {
                    return Err(parameter(format!(
                        "the test fraction must be in (0, 1), got {test_fraction}"
                    )));
                }
                let test = ((n as f64) * test_fraction).round() as usize;
                if test == 0 || test >= n {
                    return Err(parameter(format!(
                        "a test fraction of {test_fraction} of {n} rows leaves no rows on one side"
                    )));
                }
                let mut order: Vec<usize> = (0..n).collect();
                if let Split::Random { seed, .. } = *self {
                    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
                    let (test_rows, train_rows) = order.split_at_mut(test);
                    test_rows.sort_unstable();
                    train_rows.sort_unstable();
                    Ok(vec![(train_rows.to_vec(), test_rows.to_vec())])
                } else {
                    let (train_rows, test_rows) = order.split_at(n - test);
                    Ok(vec![(train_rows.to_vec(), test_rows.to_vec())])
                }
            }
        }
    }
}

/// Held-out decoding scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodingScores {
    /// R² of all held-out predictions, averaged over target columns.
    pub r2: f64,
    /// Median absolute error over all held-out predictions and target columns.
    pub median_absolute_error: f64,
    /// The rows that were predicted, ascending (every row under [`Split::Blocks`]).
    #[serde(skip)]
    pub rows: Vec<usize>,
    /// Held-out predictions (`rows.len()` x targets), in the order of `rows`.
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
    evaluate(features, targets, decoder, Split::Blocks { folds })
}

/// Decodes `targets` (n x t) from `features` (n x d), fitting on the training rows of `split`
/// and scoring the predictions of its held-out rows.
pub fn evaluate(
    features: ArrayView2<'_, f64>,
    targets: ArrayView2<'_, f64>,
    decoder: Decoder,
    split: Split,
) -> Result<DecodingScores> {
    let n = features.nrows();
    if targets.nrows() != n {
        return Err(data(format!(
            "{n} feature rows but {} target rows",
            targets.nrows()
        )));
    }
    if features
        .iter()
        .chain(targets.iter())
        .any(|v| !v.is_finite())
    {
        return Err(data("features and targets must be finite"));
    }
    let rounds = split.rounds(n)?;
    let mut rows: Vec<usize> = rounds.iter().flat_map(|(_, test)| test.clone()).collect();
    let mut predicted_rows = Vec::with_capacity(rows.len());
    for (train_rows, test_rows) in &rounds {
        let predicted = fit_predict(
            decoder,
            features.select(Axis(0), train_rows).view(),
            targets.select(Axis(0), train_rows).view(),
            features.select(Axis(0), test_rows).view(),
        )?;
        predicted_rows.extend(
            test_rows
                .iter()
                .copied()
                .zip(predicted.rows().into_iter().map(|r| r.to_vec())),
        );
    }
    predicted_rows.sort_by_key(|(row, _)| *row);
    rows.sort_unstable();
    let held = rows.len();
    let mut predictions = Array2::zeros((held, targets.ncols()));
    for (i, (_, values)) in predicted_rows.iter().enumerate() {
        for (t, v) in values.iter().enumerate() {
            predictions[[i, t]] = *v;
        }
    }
    let truth = targets.select(Axis(0), &rows);
    let mut r2_total = 0.0;
    for t in 0..truth.ncols() {
        let column = truth.column(t);
        let mean = column.sum() / held as f64;
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
    let mut errors: Vec<f64> = truth
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
        rows,
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
    /// Folds (contiguous blocks of rows) under [`Split::Blocks`]; 0 under the other splits.
    pub folds: usize,
    /// The protocol (absent in reports written before it existed: contiguous blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// Rows predicted (absent in reports written before it existed: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_out_rows: Option<usize>,
    /// The first rows of the table the split was made in, when not all of them (a
    /// validation split inside a training part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows_used: Option<usize>,
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

    #[test]
    fn the_last_split_fits_on_the_first_rows_and_scores_the_last() -> Result<()> {
        // Features equal the row index; the target is 0 on the first 80 rows and 1 after.
        // A 1-neighbour decoder fitted on rows 0..80 predicts 0 everywhere on rows 80..100:
        // every held-out error is 1, and R² is 0 - n * 1 / 0 guarded (constant truth) -> 0.
        let x = Array2::from_shape_fn((100, 1), |(i, _)| i as f64);
        let y = Array2::from_shape_fn((100, 1), |(i, _)| if i < 80 { 0.0 } else { 1.0 + i as f64 });
        let knn = Decoder::Knn {
            neighbours: 1,
            metric: Metric::Euclidean,
        };
        let scores = evaluate(x.view(), y.view(), knn, Split::Last { test_fraction: 0.2 })?;
        assert_eq!(scores.rows, (80..100).collect::<Vec<_>>());
        assert!(scores.predictions.iter().all(|&p| p == 0.0));
        // Truth 81..=100, prediction 0: median error 90.5; R² against the held-out mean.
        assert!((scores.median_absolute_error - 90.5).abs() < 1e-12);
        let mean = 90.5;
        let ss_tot: f64 = (81..=100).map(|v| (v as f64 - mean).powi(2)).sum();
        let ss_res: f64 = (81..=100).map(|v| (v as f64).powi(2)).sum();
        assert!((scores.r2 - (1.0 - ss_res / ss_tot)).abs() < 1e-12);
        Ok(())
    }

    #[test]
    fn the_random_split_holds_out_the_fraction_from_the_seed() -> Result<()> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = Array2::from_shape_fn((250, 2), |_| rng.random_range(-1.0..1.0));
        let y = Array2::from_shape_fn((250, 1), |(i, _)| x[[i, 0]] - 3.0 * x[[i, 1]]);
        let split = |seed| Split::Random {
            test_fraction: 0.2,
            seed,
        };
        let linear = Decoder::Linear { ridge: 0.0 };
        let a = evaluate(x.view(), y.view(), linear, split(1))?;
        let b = evaluate(x.view(), y.view(), linear, split(1))?;
        let c = evaluate(x.view(), y.view(), linear, split(2))?;
        assert_eq!(a.rows.len(), 50);
        assert_eq!(a.rows, b.rows);
        assert_ne!(a.rows, c.rows);
        assert!(a.rows.windows(2).all(|w| w[0] < w[1]));
        // Not a contiguous block: the held-out rows are spread over the table.
        assert!(a.rows[49] - a.rows[0] > 150);
        // An exact linear map is recovered on the held-out rows.
        assert!((a.r2 - 1.0).abs() < 1e-10);
        for (i, &row) in a.rows.iter().enumerate() {
            assert!((a.predictions[[i, 0]] - y[[row, 0]]).abs() < 1e-9);
        }
        Ok(())
    }

    #[test]
    fn splits_that_leave_a_side_empty_are_refused() {
        let x = Array2::<f64>::zeros((4, 1));
        let linear = Decoder::Linear { ridge: 1.0 };
        for split in [
            Split::Last { test_fraction: 0.0 },
            Split::Last { test_fraction: 1.0 },
            Split::Last {
                test_fraction: 0.05,
            },
            Split::Random {
                test_fraction: f64::NAN,
                seed: 0,
            },
            Split::Blocks { folds: 1 },
            Split::Blocks { folds: 5 },
        ] {
            assert!(
                evaluate(x.view(), x.view(), linear, split).is_err(),
                "{split:?}"
            );
        }
    }
}
