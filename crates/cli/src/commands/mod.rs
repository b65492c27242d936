//! One module per group of subcommands; each subcommand is an `Args` struct with its own
//! `run()`. No command module imports another: what they share is in `args`, `training` and
//! `progress`, and the work itself in `neuroforge-pipeline`.

pub mod cyclegan;
pub mod data;
pub mod info;
pub mod marble;
pub mod resume;
pub mod spikegan;
pub mod stats;
