//! Statistics against elephant, NumPy and SciPy on the same spike trains
//! (fixtures/stats/reference.json, written by fixtures/stats/make_stats_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::Array2;
use neuroforge_stats::Moments;
use neuroforge_stats::histogram::kl_divergence;
use neuroforge_stats::trains::{inter_spike_intervals, spike_times, van_rossum_distance};

fn reference() -> serde_json::Value {
    let path = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
        .join("../../fixtures/stats/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Vec<Vec<f64>> {
    serde_json::from_value(v.clone()).unwrap()
}

fn counts(r: &serde_json::Value) -> Array2<f64> {
    let rows = matrix(&r["counts"]);
    let (n, t) = (rows.len(), rows[0].len());
    Array2::from_shape_fn((n, t), |(i, j)| rows[i][j])
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

#[test]
fn rates_and_correlations_match_elephant() {
    let r = reference();
    let x = counts(&r);
    let bin = r["bin_s"].as_f64().unwrap();
    let m = Moments::of(x.view());
    let rates: Vec<f64> = serde_json::from_value(r["rate_hz"].clone()).unwrap();
    for (i, (ours, theirs)) in m.firing_rate().iter().zip(&rates).enumerate() {
        close(ours / bin, *theirs, 1e-9, &format!("rate {i}"));
    }
    let corr = matrix(&r["correlation"]);
    let ours = m.correlation();
    for i in 0..corr.len() {
        for j in 0..corr.len() {
            close(
                ours[[i, j]],
                corr[i][j],
                1e-12,
                &format!("correlation {i},{j}"),
            );
        }
    }
}

#[test]
fn covariances_and_population_count_match_numpy() {
    let r = reference();
    let x = counts(&r);
    let m = Moments::of(x.view());
    for (name, ours) in [
        ("covariance", m.covariance()),
        ("lag1_covariance", m.lag1_covariance()),
    ] {
        let want = matrix(&r[name]);
        for i in 0..want.len() {
            for j in 0..want.len() {
                close(ours[[i, j]], want[i][j], 1e-14, &format!("{name} {i},{j}"));
            }
        }
    }
    let lag3 = neuroforge_stats::moments::lag_covariance(x.view(), 3).unwrap();
    let lag1 = neuroforge_stats::moments::lag_covariance(x.view(), 1).unwrap();
    for (name, ours) in [("lag3_covariance", lag3), ("lag1_covariance", lag1)] {
        let want = matrix(&r[name]);
        for i in 0..want.len() {
            for j in 0..want.len() {
                close(ours[[i, j]], want[i][j], 1e-14, &format!("{name} {i},{j}"));
            }
        }
    }
    let pk: Vec<f64> = serde_json::from_value(r["population_count"].clone()).unwrap();
    let ours = m.population_count(pk.len());
    assert_eq!(ours.len(), pk.len());
    for (k, (a, b)) in ours.iter().zip(&pk).enumerate() {
        close(*a, *b, 1e-15, &format!("P({k})"));
    }
    // Block sums plus the edge terms equal the whole.
    let (left, right) = (
        x.slice(ndarray::s![.., ..1234]),
        x.slice(ndarray::s![.., 1234..]),
    );
    let mut joined = Moments::of(left);
    joined.add_scaled(&Moments::of(right), 1.0);
    joined.add_scaled(&neuroforge_stats::moments::boundary_terms(left, right), 1.0);
    for (a, b) in joined
        .lag1_covariance()
        .iter()
        .zip(m.lag1_covariance().iter())
    {
        close(*a, *b, 1e-15, "joined lag-1 covariance");
    }
    for (a, b) in joined.acg.iter().zip(&m.acg) {
        close(*a, *b, 1e-9, "joined autocorrelogram");
    }
}

#[test]
fn van_rossum_and_isi_match_elephant() {
    let r = reference();
    let x = counts(&r);
    let bin = r["bin_s"].as_f64().unwrap();
    let tau = r["van_rossum_tau_s"].as_f64().unwrap();
    let want = matrix(&r["van_rossum"]);
    let times: Vec<Vec<f64>> = x
        .rows()
        .into_iter()
        .map(|row| {
            spike_times(&row.to_vec())
                .iter()
                .map(|t| (t + 0.5) * bin)
                .collect()
        })
        .collect();
    for i in 0..times.len() {
        for j in 0..times.len() {
            let d = van_rossum_distance(&times[i], &times[j], tau).unwrap();
            close(
                d,
                want[i][j],
                1e-9 * (1.0 + want[i][j]),
                &format!("van Rossum {i},{j}"),
            );
        }
    }
    let isi_want = matrix(&r["isi_s"]);
    for (row, want) in x.rows().into_iter().zip(&isi_want) {
        let ours: Vec<f64> = inter_spike_intervals(&row.to_vec())
            .iter()
            .map(|d| d * bin)
            .collect();
        assert_eq!(ours.len(), want.len());
        for (a, b) in ours.iter().zip(want) {
            close(*a, *b, 1e-12, "isi");
        }
    }
}

#[test]
fn kl_divergence_matches_scipy() {
    let r = reference();
    let p: Vec<f64> = serde_json::from_value(r["kl_values"]["p"].clone()).unwrap();
    let q: Vec<f64> = serde_json::from_value(r["kl_values"]["q"].clone()).unwrap();
    let want = r["kl_values"]["kl"].as_f64().unwrap();
    close(kl_divergence(&p, &q).unwrap(), want, 1e-12, "KL");
}

#[test]
fn bivariate_normal_cdf_matches_scipy() {
    let r = reference();
    let cases: Vec<[f64; 4]> = serde_json::from_value(r["bivariate_normal_cdf"].clone()).unwrap();
    for [h, k, rho, want] in cases {
        let got = neuroforge_stats::normal::bivariate_normal_cdf(h, k, rho);
        assert!(
            (got - want).abs() <= 1e-10 * want.max(1e-3),
            "Phi2({h}, {k}; {rho}) = {got}, SciPy {want}"
        );
    }
}
