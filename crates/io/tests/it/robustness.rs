//! Damaged and hostile inputs give errors, never panics: every truncation of each format, and
//! random corruption of valid files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::format_fixture;
use neuroforge_io::{
    Activity, BinnedActivity, ImportOptions, Provenance, Recording, columnar, default_neuron_ids,
    import, mat, npy, write_recording,
};
use proptest::prelude::*;

/// Cut points to try: all of them for small files, 300 spread over larger ones plus the last 64.
fn cut_points(len: usize) -> Vec<usize> {
    if len <= 4096 {
        return (0..len).collect();
    }
    let mut cuts: Vec<usize> = (0..300).map(|i| i * len / 300).collect();
    cuts.extend(len - 64..len);
    cuts
}

fn small_recording_bytes(ext: &str) -> Vec<u8> {
    let counts = ndarray::Array2::from_shape_fn((4, 50), |(n, t)| ((n + t) % 3) as u32);
    let rec = Recording::new(
        default_neuron_ids(4),
        Activity::Binned(BinnedActivity {
            counts,
            bin_width_s: Some(0.02),
        }),
        vec![],
        Provenance::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("r.{ext}"));
    write_recording(&path, &rec).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn every_truncation_of_an_importable_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    for file in [
        "mat/counts_uint8_compressed.mat",
        "mat/counts_double_plain.mat",
        "npy/f8_c.npy",
        "npy/i4_fortran.npy",
        "npz/two.npz",
    ] {
        let full = std::fs::read(format_fixture(file)).unwrap();
        let name = std::path::Path::new(file).file_name().unwrap();
        let cut_path = dir.path().join(name);
        let options = ImportOptions {
            variable: file.contains("npz").then(|| "spikes".into()),
            ..Default::default()
        };
        for cut in cut_points(full.len()) {
            std::fs::write(&cut_path, &full[..cut]).unwrap();
            let r = import(&cut_path, &options);
            assert!(r.is_err(), "{file} cut at {cut} of {} imported", full.len());
            let msg = r.unwrap_err().to_string();
            assert!(
                msg.contains(&*name.to_string_lossy()),
                "{file} cut at {cut}: error does not name the file: {msg}"
            );
        }
    }
}

#[test]
fn every_truncation_of_the_bundled_retina_file_is_an_error() {
    let full = std::fs::read(
        crate::common::fixtures().join("retina-marre2014/original_data_num_neurons_50_1.mat"),
    )
    .unwrap();
    for cut in cut_points(full.len()) {
        let r = mat::parse(&full[..cut]);
        assert!(
            !matches!(r, Ok(ref v) if !v.is_empty()),
            "cut at {cut} parsed"
        );
    }
}

#[test]
fn every_truncation_of_a_recording_file_is_an_error() {
    for ext in ["parquet", "arrow"] {
        let full = small_recording_bytes(ext);
        for cut in cut_points(full.len()) {
            let r = if ext == "parquet" {
                columnar::parse_parquet(full[..cut].to_vec())
            } else {
                columnar::parse_ipc(&full[..cut])
            };
            assert!(r.is_err(), "{ext} cut at {cut} of {} read", full.len());
        }
    }
}

fn corrupt(mut bytes: Vec<u8>, flips: &[(usize, u8)]) -> Vec<u8> {
    if bytes.is_empty() {
        return bytes;
    }
    for &(at, value) in flips {
        let i = at % bytes.len();
        bytes[i] = value;
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_files_never_panic(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mat_bytes = std::fs::read(format_fixture("mat/counts_uint8_compressed.mat")).unwrap();
        let _ = mat::parse(&corrupt(mat_bytes, &flips));
        let plain = std::fs::read(format_fixture("mat/multi.mat")).unwrap();
        let _ = mat::parse(&corrupt(plain, &flips));
        let npy_bytes = std::fs::read(format_fixture("npy/i4_fortran.npy")).unwrap();
        let _ = npy::parse(&corrupt(npy_bytes, &flips));
        let npz = std::fs::read(format_fixture("npz/two.npz")).unwrap();
        let _ = npy::parse_npz(&corrupt(npz, &flips));
        let _ = columnar::parse_parquet(corrupt(small_recording_bytes("parquet"), &flips));
        let _ = columnar::parse_ipc(&corrupt(small_recording_bytes("arrow"), &flips));
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = mat::parse(&bytes);
        let _ = npy::parse(&bytes);
        let _ = npy::parse_npz(&bytes);
        let _ = columnar::parse_parquet(bytes.clone());
        let _ = columnar::parse_ipc(&bytes);
        // Valid headers followed by random bodies reach the deeper parsers.
        let mut with_mat_header = std::fs::read(format_fixture("mat/counts_double_plain.mat")).unwrap()[..128].to_vec();
        with_mat_header.extend(&bytes);
        let _ = mat::parse(&with_mat_header);
        let mut with_npy_header = b"\x93NUMPY\x01\x00".to_vec();
        with_npy_header.extend(&bytes);
        let _ = npy::parse(&with_npy_header);
    }
}

/// A copy of the Kilosort / phy fixture folder in which `name` holds `bytes`.
fn kilosort_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let tmp = crate::common::copy_fixture_folder("kilosort", None);
    std::fs::write(tmp.path().join(name), bytes).unwrap();
    tmp
}

const KILOSORT_FILES: [&str; 5] = [
    "spike_times.npy",
    "spike_clusters.npy",
    "params.py",
    "cluster_group.tsv",
    "spike_templates.npy",
];

#[test]
fn every_truncation_of_a_kilosort_file_imports_or_is_an_error_naming_it() {
    for name in KILOSORT_FILES {
        let full = std::fs::read(format_fixture("kilosort").join(name)).unwrap();
        for cut in cut_points(full.len()) {
            let dir = kilosort_with(name, &full[..cut]);
            if let Err(e) = import(dir.path(), &ImportOptions::default()) {
                let message = e.to_string();
                assert!(
                    message.contains(name) || message.contains("cluster"),
                    "{name} cut at {cut}: {message}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_kilosort_folders_never_panic(
        which in 0..KILOSORT_FILES.len(),
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let name = KILOSORT_FILES[which];
        let bytes = std::fs::read(format_fixture("kilosort").join(name)).unwrap();
        let dir = kilosort_with(name, &corrupt(bytes, &flips));
        let _ = import(dir.path(), &ImportOptions::default());
    }
}

/// A copy of the suite2p fixture plane in which `ops.npy` holds `bytes`.
fn suite2p_with_ops(bytes: &[u8]) -> tempfile::TempDir {
    let tmp = crate::common::copy_fixture_folder("suite2p/plane0", None);
    std::fs::write(tmp.path().join("ops.npy"), bytes).unwrap();
    tmp
}

#[test]
fn every_truncation_of_suite2p_ops_is_an_error_naming_it() {
    let full = std::fs::read(format_fixture("suite2p/plane0/ops.npy")).unwrap();
    for cut in cut_points(full.len() - 1) {
        let dir = suite2p_with_ops(&full[..cut]);
        let e = import(dir.path(), &ImportOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("ops.npy"), "cut at {cut}: {e}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_suite2p_ops_never_panic(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let bytes = std::fs::read(format_fixture("suite2p/plane0/ops.npy")).unwrap();
        let dir = suite2p_with_ops(&corrupt(bytes, &flips));
        let _ = import(dir.path(), &ImportOptions::default());
    }
}

#[cfg(feature = "nwb")]
fn nwb_options() -> ImportOptions {
    ImportOptions {
        bin_ms: Some(100.0),
        behaviour: vec!["xy".into()],
        ..Default::default()
    }
}

#[cfg(feature = "nwb")]
#[test]
fn every_truncation_of_an_nwb_file_is_an_error_naming_it() {
    let full = std::fs::read(format_fixture("nwb/units_position.nwb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.nwb");
    for cut in cut_points(full.len()) {
        std::fs::write(&path, &full[..cut]).unwrap();
        // The last bytes of an HDF5 file may be free space, so a cut there can still import.
        if let Err(e) = import(&path, &nwb_options()) {
            let e = e.to_string();
            assert!(
                e.starts_with(&format!("{}: ", path.display())),
                "cut at {cut}: {e}"
            );
            assert_eq!(e.lines().count(), 1, "cut at {cut}: {e}");
        }
    }
}

#[cfg(feature = "nwb")]
proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn corrupted_nwb_files_never_panic(flips in prop::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        for fixture in ["nwb/units_position.nwb", "nwb/ophys.nwb"] {
            let bytes = std::fs::read(format_fixture(fixture)).unwrap();
            let path = dir.path().join("x.nwb");
            std::fs::write(&path, corrupt(bytes, &flips)).unwrap();
            let _ = import(&path, &nwb_options());
            let raw = ImportOptions { variable: Some("raw".into()), ..Default::default() };
            let _ = import(&path, &raw);
        }
    }
}
