//! Helpers shared by the CLI's integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // shared by several test crates; tests fail loudly by design

pub mod browser;

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    manifest_dir().join("../../fixtures")
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

/// Run the binary, assert success, return its stdout.
pub fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Run the binary, assert exit code 2 with exactly one line on stderr, return that line.
pub fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?} should fail with exit code 2"
    );
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

/// The crate folder, read when the test runs (not when it was compiled: a shared target folder
/// may hold a test binary built from another checkout of the same sources).
fn manifest_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR"),
    )
}
