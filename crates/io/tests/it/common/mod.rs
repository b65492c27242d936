//! Helpers shared by the integration tests of neuroforge-io.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates; tests fail loudly by design

use std::path::PathBuf;

use neuroforge_io::{NumericArray, Order, Recording};

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    manifest_dir().join("../../fixtures")
}

/// `fixtures/formats/<rel>`.
pub fn format_fixture(rel: &str) -> PathBuf {
    fixtures().join("formats").join(rel)
}

/// A copy of the fixture folder `fixtures/formats/<rel>` in a temporary directory, without the
/// file named `without` (if any), for tests that damage or remove one of its files.
pub fn copy_fixture_folder(rel: &str, without: Option<&str>) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(format_fixture(rel)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if Some(name) != without.map(std::ffi::OsStr::new) {
            std::fs::copy(&path, tmp.path().join(name)).unwrap();
        }
    }
    tmp
}

/// What NumPy / SciPy read from each format fixture (written by make_fixtures.py).
pub fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("formats/expected.json"))
        .expect("fixtures/formats/expected.json is readable");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

/// The elements of `a` in row-major order, as f64.
pub fn row_major(a: &NumericArray) -> Vec<f64> {
    let n: usize = a.shape.iter().product();
    let mut out = Vec::with_capacity(n);
    // Walk the multi-index in C order and map it to the storage offset.
    let mut index = vec![0usize; a.shape.len()];
    for _ in 0..n {
        let offset = match a.order {
            Order::RowMajor => index
                .iter()
                .zip(&a.shape)
                .fold(0, |acc, (&i, &d)| acc * d + i),
            Order::ColumnMajor => index
                .iter()
                .zip(&a.shape)
                .rev()
                .fold(0, |acc, (&i, &d)| acc * d + i),
        };
        out.push(a.data.get_f64(offset).expect("offset inside the array"));
        for axis in (0..index.len()).rev() {
            index[axis] += 1;
            if index[axis] < a.shape[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    out
}

/// Whether two recordings are identical bit for bit (NaN covariates compared by their bits).
pub fn bit_identical(a: &Recording, b: &Recording) -> bool {
    use neuroforge_io::CovariateValues;
    if a.neuron_ids() != b.neuron_ids()
        || a.activity() != b.activity()
        || a.provenance() != b.provenance()
        || a.covariates().len() != b.covariates().len()
    {
        return false;
    }
    a.covariates().iter().zip(b.covariates()).all(|(x, y)| {
        x.name == y.name
            && match (&x.values, &y.values) {
                (CovariateValues::Float(u), CovariateValues::Float(v)) => {
                    u.len() == v.len() && u.iter().zip(v).all(|(p, q)| p.to_bits() == q.to_bits())
                }
                (u, v) => u == v,
            }
    })
}

/// The crate folder, read when the test runs (not when it was compiled: a shared target folder
/// may hold a test binary built from another checkout of the same sources).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}
