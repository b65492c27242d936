//! OASIS against the reference implementation (oasis-deconv) on the same simulated traces
//! (fixtures/signal/oasis_reference.json, written by fixtures/signal/make_oasis_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use neuroforge_signal::{estimate_ar1, noise_level, oasis_ar1};

fn reference() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/signal/oasis_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn rows(v: &serde_json::Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn pool_algorithm_matches_oasis_deconv() {
    let r = reference();
    let g = r["g"].as_f64().unwrap();
    let traces = rows(&r["traces"]);
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for run in runs {
        let lam = run["lam"].as_f64().unwrap();
        let s_min = run["s_min"].as_f64().unwrap();
        for (n, y) in traces.iter().enumerate() {
            let d = oasis_ar1(y, g, lam, s_min).unwrap();
            for (what, got, want) in [
                ("c", &d.calcium, &rows(&run["c"])[n]),
                ("s", &d.spikes, &rows(&run["s"])[n]),
            ] {
                let worst = got
                    .iter()
                    .zip(want)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(
                    worst < 1e-9,
                    "lam {lam} s_min {s_min} neuron {n} {what}: max |diff| {worst}"
                );
            }
        }
    }
}

#[test]
fn noise_and_decay_estimates_match_oasis_deconv() {
    let r = reference();
    let traces = rows(&r["traces"]);
    let noise: Vec<f64> = serde_json::from_value(r["noise"].clone()).unwrap();
    let decay: Vec<f64> = serde_json::from_value(r["g_estimate"].clone()).unwrap();
    for (n, y) in traces.iter().enumerate() {
        let sn = noise_level(y).unwrap();
        assert!(
            (sn - noise[n]).abs() < 1e-10,
            "neuron {n}: sn {sn} vs {}",
            noise[n]
        );
        let g = estimate_ar1(y, sn).unwrap();
        assert!(
            (g - decay[n]).abs() < 1e-10,
            "neuron {n}: g {g} vs {}",
            decay[n]
        );
    }
    let short = noise_level(&traces[0][..200]).unwrap();
    assert!(
        (short - r["noise_short"].as_f64().unwrap()).abs() < 1e-10,
        "short trace: {short}"
    );
}

#[test]
fn inferred_spikes_track_the_true_spikes() {
    // With the true g and a penalty near the noise level, OASIS recovers the simulated spikes.
    let r = reference();
    let g = r["g"].as_f64().unwrap();
    let spikes = rows(&r["spikes"]);
    for (y, truth) in rows(&r["traces"]).iter().zip(&spikes) {
        let sn = noise_level(y).unwrap();
        let d = oasis_ar1(y, g, sn, 0.0).unwrap();
        let corr = pearson(&d.spikes, truth);
        assert!(corr > 0.8, "correlation with true spikes {corr}");
    }
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}
