//! # neuroforge-stats
//!
//! Statistics of binned neural population activity (neurons x bins, counts as `f64`), the
//! comparison of a real and a generated recording, and classical baselines that can be fitted
//! and sampled. Plain `ndarray` in and out, so the crate is usable without the rest of
//! neuroforge.
//!
//! - [`moments`]: rates, covariances, correlations, lag covariances, `P(k)`, autocorrelogram,
//!   as sufficient statistics that add up over blocks of bins;
//! - [`trains`]: inter-spike intervals, the van Rossum distance, re-binning;
//! - [`patterns`]: whole-sample pattern probabilities, entropy, nearest-sample distances;
//! - [`histogram`]: shared-bin histograms and the KL divergence CalciumGAN reports;
//! - [`translation`]: CalciumGAN's evaluation of translated activity (per-neuron rate,
//!   pairwise-correlation and van Rossum distributions compared by KL; paired errors);
//! - [`compare`]: everything side by side with L1 errors and bootstrap intervals;
//! - [`baselines`]: independent, dichotomized Gaussian (spatial and lag-1 temporal
//!   correlations) and k-pairwise maximum-entropy models;
//! - [`transport`]: optimal-transport distances (exact EMD, Sinkhorn, after k-means), MDS and
//!   Spearman correlation, for comparing conditions (MARBLE);
//! - [`decode`]: kNN and linear decoders with contiguous k-fold cross-validation;
//! - [`normal`]: the normal and bivariate normal distribution functions the DG needs.
//!
//! Each statistic's definition is in its module documentation and in docs/STATISTICS.md.

pub mod baselines;
pub mod compare;
pub mod decode;
mod error;
pub mod histogram;
pub mod moments;
pub mod normal;
pub mod patterns;
pub mod serde_nan;
pub mod trains;
pub mod translation;
pub mod transport;

pub use compare::{CompareConfig, Comparison, StatisticComparison, compare};
pub use error::{Result, StatsError};
pub use moments::Moments;
