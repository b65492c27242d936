//! The integration tests of this crate, gathered in one test binary (one link instead of
//! one per file); run one area alone with `cargo test --test it <module>::`.

mod baselines;
mod common;
mod reference;
mod retina;
