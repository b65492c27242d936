//! NPZ (zip of NPY) reader: any bytes give a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::npy;

fuzz_target!(|data: &[u8]| {
    let _ = npy::parse_npz(data);
});
