//! # neuroforge-signal
//!
//! Signal processing for neural population recordings, on plain `ndarray` arrays (neurons x
//! time unless stated), so that the crate is usable without the rest of neuroforge:
//!
//! - [`smooth`]: Gaussian and boxcar smoothing of rates along time;
//! - [`window`]: cutting recordings into (neurons x T) samples with a stride;
//! - [`normalize`]: per-neuron min-max and z-score normalisation, invertible;
//! - [`savgol`]: the Savitzky-Golay filter and its derivatives;
//! - [`pca`]: principal components with explained variance;
//! - [`dff`]: dF/F with a running low-percentile baseline;
//! - [`ordering`]: neuron pre-sorting (hierarchical leaf order, spectral / Fiedler order);
//! - [`oasis`]: spike inference by OASIS (AR(1) and AR(2), L1 penalty, minimum spike size,
//!   noise-constrained penalty with baseline) with noise and decay estimates.
//!
//! Each implementation follows a named reference (SciPy's conventions where SciPy has the
//! function) and is tested against that reference's outputs (fixtures/signal).

pub mod dff;
mod error;
pub mod normalize;
pub mod oasis;
pub mod ordering;
pub mod pca;
pub mod savgol;
pub mod smooth;
pub mod window;

pub use dff::{DffConfig, dff};
pub use error::{Result, SignalError};
pub use normalize::{Normalisation, min_max, z_score};
pub use oasis::{
    Ar2Solver, ConstrainedDeconvolution, Deconvolution, OasisConfig, PopulationDeconvolution,
    constrained_exact_ar2, constrained_oasis_ar1, constrained_oasis_ar2, deconvolve_population,
    estimate_ar1, estimate_ar2, exact_ar2, noise_level, oasis_ar1, oasis_ar2,
};
pub use ordering::{NeuronOrder, OrderingMethod, correlation_matrix, order_neurons, pearson};
pub use pca::Pca;
pub use savgol::{savgol_coefficients, savgol_filter};
pub use smooth::{boxcar_smooth, gaussian_smooth};
pub use window::{window_starts, windows};
