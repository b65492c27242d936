//! The published retina errors (METHODS.md, Spike-GAN section): the shipped k-pairwise and
//! dichotomized-Gaussian samples against the recording, whole recordings.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::Array2;
use neuroforge_io::{Activity, ImportOptions, open};
use neuroforge_stats::{CompareConfig, compare};

fn retina(name: &str) -> Array2<f64> {
    let path = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../fixtures/retina-marre2014")
        .join(name);
    let recording = open(&path, &ImportOptions::default()).unwrap();
    match recording.activity() {
        Activity::Binned(b) => b.counts.mapv(f64::from),
        _ => panic!("binned"),
    }
}

#[test]
fn shipped_baseline_samples_reproduce_the_published_errors() {
    let real = retina("original_data_num_neurons_50_1.mat");
    let config = CompareConfig {
        bootstrap: 20,
        ..CompareConfig::default()
    };
    for (file, published) in [
        (
            "k_pairwise_num_neurons_50_1.mat",
            [0.0121, 0.0745, 0.0046, 4.364],
        ),
        ("DG_num_neurons_50_1.mat", [0.0117, 0.0708, 0.0078, 0.356]),
    ] {
        let model = retina(file);
        let c = compare(real.view(), model.view(), &config).unwrap();
        for (key, want) in [
            "firing_rate",
            "covariance",
            "population_count",
            "lag1_covariance",
        ]
        .iter()
        .zip(published)
        {
            let s = &c.statistics[*key];
            eprintln!(
                "{file} {key}: {:.6} (published {want}), ci95 {:?}, real vs real {:?}",
                s.l1_error, s.ci95, s.real_vs_real
            );
            // Published to 3 significant figures: within 1%.
            assert!(
                (s.l1_error - want).abs() <= 0.01 * want,
                "{file} {key}: {} vs {want}",
                s.l1_error
            );
        }
    }
}
