//! Classical models of population activity, fitted to binned data and sampled:
//!
//! - [`Independent`]: each neuron draws its count per bin from its own empirical distribution
//!   (independent Bernoulli for binary data);
//! - [`DichotomizedGaussian`]: thresholded latent Gaussian with the data's rates (optionally
//!   locked to a repeated stimulus), same-bin pairwise and lag-1 moments;
//! - [`KPairwise`]: the k-pairwise maximum-entropy model of single-bin words.

mod dg;
mod kpairwise;

pub use dg::{DgConfig, DgFit, DichotomizedGaussian};
pub use kpairwise::{KPairwise, KPairwiseConfig, KPairwiseFit};

use ndarray::{Array2, ArrayView2};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use crate::error::{Result, data};

/// Refuse data that is not 0/1.
pub(crate) fn check_binary(x: ArrayView2<'_, f64>) -> Result<()> {
    if let Some(v) = x.iter().find(|&&v| v != 0.0 && v != 1.0) {
        return Err(data(format!(
            "the model describes binary spike words, but the data hold the value {v}; \
             binarise the counts first"
        )));
    }
    Ok(())
}

/// Independent neurons, each with its own distribution of counts per bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Independent {
    /// Per neuron, the probability of a count of 0, 1, 2, ... per bin.
    pub count_probabilities: Vec<Vec<f64>>,
}

impl Independent {
    /// The empirical count distribution of each neuron of `x` (neurons x bins, non-negative
    /// whole counts).
    pub fn fit(x: ArrayView2<'_, f64>) -> Result<Self> {
        let bins = x.ncols();
        if bins == 0 {
            return Err(data("no bins to fit"));
        }
        let mut count_probabilities = Vec::with_capacity(x.nrows());
        for row in x.rows() {
            let mut hist: Vec<f64> = Vec::new();
            for &v in row {
                if !(v >= 0.0 && v.fract() == 0.0 && v.is_finite()) {
                    return Err(data(format!(
                        "counts must be whole and non-negative, got {v}"
                    )));
                }
                let k = v as usize;
                if hist.len() <= k {
                    hist.resize(k + 1, 0.0);
                }
                hist[k] += 1.0;
            }
            count_probabilities.push(hist.iter().map(|c| c / bins as f64).collect());
        }
        Ok(Self {
            count_probabilities,
        })
    }

    /// Draw `bins` bins (neurons x bins).
    pub fn sample(&self, bins: usize, rng: &mut impl Rng) -> Array2<f64> {
        let n = self.count_probabilities.len();
        let mut x = Array2::<f64>::zeros((n, bins));
        for (i, probs) in self.count_probabilities.iter().enumerate() {
            for t in 0..bins {
                let u: f64 = rng.random();
                let mut acc = 0.0;
                let mut k = probs.len().saturating_sub(1);
                for (c, p) in probs.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        k = c;
                        break;
                    }
                }
                x[[i, t]] = k as f64;
            }
        }
        x
    }
}
