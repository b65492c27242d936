//! NWB importer (HDF5 through rust-hdf5, which reads from a path): any bytes give a result,
//! never a panic, whichever series is asked for.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{ImportOptions, import};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("input.nwb");
    if std::fs::write(&path, data).is_ok() {
        let _ = import(&path, &ImportOptions::default());
        let binned = ImportOptions {
            bin_ms: Some(100.0),
            behaviour: vec!["xy".into()],
            ..Default::default()
        };
        let _ = import(&path, &binned);
        let series = ImportOptions { variable: Some("raw".into()), ..Default::default() };
        let _ = import(&path, &series);
    }
});
