//! OASIS against the reference implementation (oasis-deconv) on the same simulated traces
//! (fixtures/signal/oasis_reference.json, written by fixtures/signal/make_oasis_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use neuroforge_signal::{constrained_oasis_ar1, estimate_ar1, noise_level, oasis_ar1, pearson};

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

/// Rows of a 2-D NPY fixture as f64.
fn npy_rows(name: &str) -> Vec<Vec<f64>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/signal")
        .join(name);
    let a = neuroforge_io::npy::parse(&std::fs::read(path).unwrap()).unwrap();
    let (rows, cols) = (a.shape[0], a.shape[1]);
    (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| a.data.get_f64(r * cols + c).unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn spike_recovery_is_at_least_the_reference_deconvolve() {
    // The peer's comparison: g known, noise and baseline unknown. oasis-deconv's
    // noise-constrained L1 `deconvolve(y, g=(g,), penalty=1)` against ours, on the same traces.
    let r = reference();
    let g = r["g"].as_f64().unwrap();
    let reference_corr: Vec<f64> =
        serde_json::from_value(r["reference_deconvolve_correlation"].clone()).unwrap();
    let traces = npy_rows("oasis_traces.npy");
    let spikes = npy_rows("oasis_spikes.npy");
    assert_eq!(traces.len(), reference_corr.len());
    let noise: Vec<f64> = serde_json::from_value(r["reference_noise"].clone()).unwrap();
    let lam_ref: Vec<f64> = serde_json::from_value(r["reference_deconvolve_lam"].clone()).unwrap();
    let base_ref: Vec<f64> =
        serde_json::from_value(r["reference_deconvolve_baseline"].clone()).unwrap();
    let mut ours = Vec::new();
    for (i, (y, truth)) in traces.iter().zip(&spikes).enumerate() {
        let sn = noise_level(y).unwrap();
        assert!((sn - noise[i]).abs() < 1e-10);
        let d = constrained_oasis_ar1(y, g, sn).unwrap();
        // The constraint holds: residual energy = sn^2 T.
        let rss: f64 = y
            .iter()
            .zip(&d.fit.calcium)
            .map(|(v, c)| (v - d.baseline - c).powi(2))
            .sum();
        let target = sn * sn * y.len() as f64;
        assert!(
            (rss - target).abs() <= 1e-3 * target,
            "neuron {i}: rss {rss} vs {target}"
        );
        // Same problem, same optimum as oasis-deconv: penalty and baseline agree.
        assert!(
            (d.lam - lam_ref[i]).abs() <= 1e-3 * (1.0 + lam_ref[i]),
            "neuron {i}: lam {} vs {}",
            d.lam,
            lam_ref[i]
        );
        assert!(
            (d.baseline - base_ref[i]).abs() <= 1e-3,
            "neuron {i}: b {} vs {}",
            d.baseline,
            base_ref[i]
        );
        ours.push(pearson(&d.fit.spikes, truth));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    eprintln!(
        "mean correlation: neuroforge {:.8}, oasis-deconv {:.8}",
        mean(&ours),
        mean(&reference_corr)
    );
    // Both solve the same convex problem and stop once the residual is within 1e-4 (relative)
    // of its target, so per neuron they agree to about 1e-5; on average ours is not worse.
    for (i, (a, b)) in ours.iter().zip(&reference_corr).enumerate() {
        assert!(*a >= b - 1e-4, "neuron {i}: {a} < {b}");
    }
    assert!(
        mean(&ours) >= mean(&reference_corr) - 1e-6,
        "{} < {}",
        mean(&ours),
        mean(&reference_corr)
    );
}
