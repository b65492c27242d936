//! NPY parser and array conversion: any bytes give a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{Layout, npy};

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = npy::parse(data) {
        let _ = a.to_counts(Layout::NeuronsByTime);
        let _ = a.to_traces(Layout::TimeByNeurons);
    }
});
