//! Kilosort / phy folder importer: any bytes as spike_times.npy, spike_clusters.npy,
//! params.py or cluster_group.tsv (the others valid) give a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{ImportOptions, import};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let Ok(dir) = tempfile::tempdir() else { return };
    let seed = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/formats/kilosort");
    let Ok(entries) = std::fs::read_dir(&seed) else { return };
    for entry in entries.flatten() {
        let _ = std::fs::copy(entry.path(), dir.path().join(entry.file_name()));
    }
    let names = ["spike_times.npy", "spike_clusters.npy", "params.py", "cluster_group.tsv"];
    let name = names[usize::from(which) % names.len()];
    if std::fs::write(dir.path().join(name), body).is_ok() {
        let _ = import(dir.path(), &ImportOptions::default());
        let binned = ImportOptions { bin_ms: Some(25.0), all_clusters: true, ..Default::default() };
        let _ = import(dir.path(), &binned);
    }
});
