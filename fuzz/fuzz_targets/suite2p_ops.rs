//! suite2p `ops.npy` (a pickled dict, read by our own non-executing unpickler): any bytes give
//! a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{ImportOptions, import};

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/formats/suite2p/plane0");
    let Ok(entries) = std::fs::read_dir(&seed) else { return };
    for entry in entries.flatten() {
        let _ = std::fs::copy(entry.path(), dir.path().join(entry.file_name()));
    }
    if std::fs::write(dir.path().join("ops.npy"), data).is_ok() {
        let _ = import(dir.path(), &ImportOptions::default());
    }
});
