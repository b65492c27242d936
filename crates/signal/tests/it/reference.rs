//! neuroforge-signal against SciPy / NumPy outputs on the same inputs
//! (fixtures/signal/reference.json, written by fixtures/signal/make_signal_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::Array2;
use neuroforge_signal::{DffConfig, Pca, boxcar_smooth, dff, gaussian_smooth, savgol_filter};

fn reference() -> serde_json::Value {
    let path = manifest_dir().join("../../fixtures/signal/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(v: &serde_json::Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (r, c) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((r, c), rows.into_iter().flatten().collect()).unwrap()
}

fn vector(v: &serde_json::Value) -> Vec<f64> {
    serde_json::from_value(v.clone()).unwrap()
}

fn assert_close(a: &[f64], b: &[f64], tol: f64, what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= tol * (1.0 + y.abs()),
            "{what}[{i}]: {x} vs {y}"
        );
    }
}

#[test]
fn smoothing_matches_scipy_ndimage() {
    let r = reference();
    let x = matrix(&r["smooth_input"]);
    for sigma in ["0.7", "2.0", "5.0"] {
        let got = gaussian_smooth(x.view(), sigma.parse().unwrap()).unwrap();
        let want = matrix(&r[format!("gaussian_sigma_{sigma}")]);
        assert_close(
            got.as_slice().unwrap(),
            want.as_slice().unwrap(),
            1e-12,
            &format!("gaussian {sigma}"),
        );
    }
    for width in [1usize, 3, 4, 9] {
        let got = boxcar_smooth(x.view(), width).unwrap();
        let want = matrix(&r[format!("boxcar_width_{width}")]);
        assert_close(
            got.as_slice().unwrap(),
            want.as_slice().unwrap(),
            1e-12,
            &format!("boxcar {width}"),
        );
    }
}

#[test]
fn savgol_matches_scipy_signal() {
    let r = reference();
    let y = vector(&r["savgol_input"]);
    for (w, o, d) in [(5, 2, 0), (11, 3, 0), (7, 2, 1), (9, 4, 2)] {
        let got = savgol_filter(&y, w, o, d).unwrap();
        let want = vector(&r[format!("savgol_{w}_{o}_{d}")]);
        assert_close(&got, &want, 1e-9, &format!("savgol {w} {o} {d}"));
    }
}

#[test]
fn pca_matches_numpy_eigendecomposition() {
    let r = reference();
    let x = matrix(&r["pca_input"]);
    let p = Pca::fit(x.view(), 6).unwrap();
    assert_close(
        &p.explained_variance,
        &vector(&r["pca_explained_variance"]),
        1e-10,
        "explained variance",
    );
    assert_close(
        &p.explained_variance_ratio,
        &vector(&r["pca_explained_variance_ratio"]),
        1e-10,
        "ratio",
    );
    let want = matrix(&r["pca_components"]);
    for (k, comp) in p.components.iter().enumerate() {
        // Components are defined up to sign.
        let dot: f64 = comp.iter().zip(want.row(k)).map(|(a, b)| a * b).sum();
        assert!(
            (dot.abs() - 1.0).abs() < 1e-9,
            "component {k}: |dot| = {}",
            dot.abs()
        );
    }
    let p3 = Pca::fit(x.view(), 3).unwrap();
    let scores = p3.transform(x.view()).unwrap();
    let want = matrix(&r["pca_scores_3"]);
    for k in 0..3 {
        let sign = if scores.column(k).dot(&want.column(k)) < 0.0 {
            -1.0
        } else {
            1.0
        };
        let got: Vec<f64> = scores.column(k).iter().map(|v| v * sign).collect();
        assert_close(&got, &want.column(k).to_vec(), 1e-9, &format!("scores {k}"));
    }
}

#[test]
fn dff_matches_scipy_percentile_filter() {
    let r = reference();
    let f = matrix(&r["dff_input"]);
    for (window, pct) in [(31usize, "8.0"), (101, "20.0")] {
        let config = DffConfig {
            window,
            percentile: pct.parse().unwrap(),
        };
        let base_want = matrix(&r[format!("dff_baseline_{window}_{pct}")]);
        for (n, row) in f.rows().into_iter().enumerate() {
            let got = neuroforge_signal::dff::baseline(row, &config).unwrap();
            assert_close(
                &got,
                &base_want.row(n).to_vec(),
                0.0,
                &format!("baseline {window} {pct}"),
            );
        }
        let got = dff(f.view(), &config).unwrap();
        let want = matrix(&r[format!("dff_{window}_{pct}")]);
        assert_close(
            got.as_slice().unwrap(),
            want.as_slice().unwrap(),
            1e-12,
            &format!("dF/F {window} {pct}"),
        );
    }
}

/// The crate folder, read when the test runs (not when it was compiled: a shared target folder
/// may hold a test binary built from another checkout of the same sources).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}
