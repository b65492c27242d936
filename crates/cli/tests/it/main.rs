//! The integration tests of this crate, gathered in one test binary (one link instead of
//! one per file); run one area alone with `cargo test --test it <module>::`.

mod backends;
mod cli;
mod common;
mod cyclegan;
mod marble;
mod preprocess;
mod reports;
mod simulate;
mod spikegan;
mod stats;
