//! Helpers shared by the CLI's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates; tests fail loudly by design

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Run the `neuroforge` binary with `args` (RUST_LOG unset) and collect its output.
pub fn run(args: &[&str]) -> Output {
    Command::cargo_bin("neuroforge")
        .unwrap()
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap()
}
