//! Helpers shared by the integration tests of neuroforge-stats.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates; tests fail loudly by design

use ndarray::Array2;
use neuroforge_io::{Activity, ImportOptions, open};

/// The statistics METHODS.md publishes for the retina baselines, in the order of the
/// `PUBLISHED_*` arrays.
pub const PUBLISHED_KEYS: [&str; 4] = [
    "firing_rate",
    "covariance",
    "population_count",
    "lag1_covariance",
];

/// Errors of the shipped k-pairwise samples against the retina recording (METHODS.md).
pub const PUBLISHED_KPAIRWISE: [f64; 4] = [0.0121, 0.0745, 0.0046, 4.364];

/// Errors of the shipped dichotomized-Gaussian samples against the retina recording.
pub const PUBLISHED_DG: [f64; 4] = [0.0117, 0.0708, 0.0078, 0.356];

/// A file of fixtures/retina-marre2014 as counts (neurons x bins), found from
/// `CARGO_MANIFEST_DIR` at run time.
pub fn retina(name: &str) -> Array2<f64> {
    let path = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../fixtures/retina-marre2014")
        .join(name);
    let recording = open(&path, &ImportOptions::default()).unwrap();
    match recording.activity() {
        Activity::Binned(b) => b.counts.mapv(f64::from),
        _ => panic!("{name} is binned"),
    }
}
