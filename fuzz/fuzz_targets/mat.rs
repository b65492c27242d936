//! MAT v5 parser and array conversion: any bytes give a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::{Layout, mat};

fuzz_target!(|data: &[u8]| {
    if let Ok(vars) = mat::parse(data) {
        for v in vars {
            if let Ok(a) = v.content {
                let _ = a.to_counts(Layout::TimeByNeurons);
                let _ = a.to_traces(Layout::NeuronsByTime);
            }
        }
    }
});
