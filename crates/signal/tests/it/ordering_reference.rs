//! Neuron orderings against SciPy / NumPy on block-correlated activity with shuffled rows
//! (fixtures/signal/ordering_reference.json, written by fixtures/signal/make_signal_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use ndarray::Array2;
use neuroforge_signal::ordering::average_linkage;
use neuroforge_signal::{OrderingMethod, correlation_matrix, order_neurons};

fn reference() -> serde_json::Value {
    let path = manifest_dir().join("../../fixtures/signal/ordering_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn activity(r: &serde_json::Value) -> Array2<f64> {
    let rows: Vec<Vec<f64>> = serde_json::from_value(r["activity"].clone()).unwrap();
    let (n, t) = (rows.len(), rows[0].len());
    Array2::from_shape_vec((n, t), rows.into_iter().flatten().collect()).unwrap()
}

/// Whether every group occupies consecutive positions of `order`.
fn groups_contiguous(order: &[usize], groups: &[usize]) -> bool {
    let labels: Vec<usize> = order.iter().map(|&i| groups[i]).collect();
    let changes = labels.windows(2).filter(|w| w[0] != w[1]).count();
    let distinct = {
        let mut g = groups.to_vec();
        g.sort_unstable();
        g.dedup();
        g.len()
    };
    changes == distinct - 1
}

#[test]
fn hierarchical_order_matches_scipy_linkage() {
    let r = reference();
    let x = activity(&r);
    let linkage: Vec<Vec<f64>> = serde_json::from_value(r["linkage"].clone()).unwrap();
    let dg = average_linkage(&correlation_matrix(x.view()).mapv(|v| 1.0 - v));
    for (m, want) in dg.merges.iter().zip(&linkage) {
        assert_eq!(
            (m.left as f64, m.right as f64, m.size as f64),
            (want[0], want[1], want[3])
        );
        assert!(
            (m.distance - want[2]).abs() < 1e-12,
            "{} vs {}",
            m.distance,
            want[2]
        );
    }
    let leaves: Vec<usize> = serde_json::from_value(r["hierarchical_leaves"].clone()).unwrap();
    let order = order_neurons(x.view(), OrderingMethod::Hierarchical).unwrap();
    assert_eq!(order.order, leaves);
    let groups: Vec<usize> = serde_json::from_value(r["groups"].clone()).unwrap();
    assert!(groups_contiguous(&order.order, &groups));
}

#[test]
fn spectral_order_matches_the_numpy_fiedler_vector() {
    let r = reference();
    let x = activity(&r);
    let want: Vec<usize> = serde_json::from_value(r["fiedler_order"].clone()).unwrap();
    let order = order_neurons(x.view(), OrderingMethod::Spectral).unwrap();
    let reversed: Vec<usize> = want.iter().rev().copied().collect();
    assert!(
        order.order == want || order.order == reversed,
        "{:?} vs {want:?}",
        order.order
    );
    let groups: Vec<usize> = serde_json::from_value(r["groups"].clone()).unwrap();
    assert!(groups_contiguous(&order.order, &groups));
}

/// The crate folder, read when the test runs (not when it was compiled: a shared target folder
/// may hold a test binary built from another checkout of the same sources).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}
