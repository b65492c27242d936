//! Recording readers (Parquet and Arrow IPC): any bytes give a result, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use neuroforge_io::columnar;

fuzz_target!(|data: &[u8]| {
    let _ = columnar::parse_parquet(data.to_vec());
    let _ = columnar::parse_ipc(data);
});
