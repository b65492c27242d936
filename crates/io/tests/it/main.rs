//! The integration tests of this crate, gathered in one test binary (one link instead of
//! one per file); run one area alone with `cargo test --test it <module>::`.

mod common;
mod formats;
#[cfg(feature = "nwb")]
mod nwb;
mod robustness;
mod roundtrip;
