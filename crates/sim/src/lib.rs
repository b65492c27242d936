//! # neuroforge-sim
//!
//! Simulated neural activity with known ground truth, seeded and reproducible:
//!
//! - [`spikegan`]: Spike-GAN's `uniform` and `packets` populations (with the paper's presets);
//! - [`calcium`]: the calcium-imaging forward model (spikes -> AR(1)/AR(2) calcium ->
//!   fluorescence);
//! - [`prepost`]: paired pre -> post learning data with a known change of chosen neurons;
//! - [`dynamics`]: van der Pol (optionally on a curved surface) and Lorenz flows for MARBLE.
//!
//! Every random draw comes from a `ChaCha8` generator seeded by the caller, so a seed fixes the
//! output on every platform.

pub mod calcium;
pub mod dynamics;
mod error;
pub mod prepost;
pub mod spikegan;

pub use calcium::{CalciumConfig, calcium, fluorescence};
pub use dynamics::{
    Trajectory, VanDerPolConfig, integrate, lorenz_field, van_der_pol, van_der_pol_field,
};
pub use error::{Result, SimError};
pub use prepost::{
    PrePostCalciumConfig, PrePostConfig, PrePostCounts, PrePostCountsConfig, PrePostImaging,
    PrePostTruth, SimulatedImaging, prepost, prepost_counts, prepost_imaging,
};
pub use spikegan::{PacketsConfig, PacketsTruth, UniformConfig, UniformTruth, packets, uniform};
