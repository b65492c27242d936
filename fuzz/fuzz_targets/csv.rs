//! CSV spike-time importer (through polars, which reads from a path): any bytes give a
//! result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{ImportOptions, import};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("spikes.csv");
    if std::fs::write(&path, data).is_ok() {
        let _ = import(&path, &ImportOptions::default());
        let binned = ImportOptions { bin_ms: Some(25.0), ..Default::default() };
        let _ = import(&path, &binned);
    }
});
