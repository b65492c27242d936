//! `cargo xtask`: project automation that needs nothing beyond the Rust toolchain (and, for
//! `fuzz`, the nightly toolchain and cargo-fuzz, which it installs from crates.io).
//!
//! Subcommands (one module each):
//! - `ci`: formatting check, clippy with warnings denied, the whole test suite (the slow
//!   end-to-end tests too).
//! - `fuzz [--seconds N] [TARGET...]`: run the importers' fuzz targets for a bounded time.
//! - `bench`: the criterion benchmarks beside their Python peers (docs/BENCHMARKS.md).
//! - `reproduce <experiment> [--quick|--full] [--device D] [--check] [--overwrite]`: the published
//!   experiments end to end through the release binary, into `runs/<experiment>/`.
//! - `check-backends [--skip-install]`: the cross-backend tests on ndarray and libtorch (PyTorch
//!   installed into a virtual environment outside the repository) against flex, and the CUDA
//!   type-check (docs/BACKENDS.md).
//! - `interop`: check in a Python virtual environment outside the repository that pyarrow and
//!   pandas read the recording files neuroforge writes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

mod bench;
mod check_backends;
mod fuzz;
mod interop;
mod reproduce;

const USAGE: &str = "usage: cargo xtask <ci | bench [oasis|stats|spikegan|marble]... | check-backends [--skip-install] | fuzz [--seconds N] [TARGET...] | interop | \
                     reproduce <EXPERIMENT|all> [--quick|--full] [--device D] [--check] [--overwrite]>";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    match command.as_str() {
        "ci" => ci(),
        "fuzz" => fuzz::run(rest),
        "interop" => interop::run(),
        "bench" => bench::run(rest),
        "check-backends" => check_backends::run_checks(rest),
        "reproduce" => reproduce::run(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown xtask '{other}'\n{USAGE}"),
    }
}

/// The repository root (the parent of xtask/): from `CARGO_MANIFEST_DIR` as cargo sets it when
/// the task runs (a shared target folder may hold an xtask binary built from another checkout),
/// else as it was at compile time.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The Python virtual environment for peers and interop checks, outside the repository:
/// `$NEUROFORGE_VENV`, default `~/.cache/neuroforge/venv`.
pub fn venv() -> PathBuf {
    std::env::var_os("NEUROFORGE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/tmp"));
            home.join(".cache/neuroforge/venv")
        })
}

/// Run a command in the repository root, failing with its command line if it fails.
pub fn run_in_root(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn ci() -> Result<()> {
    run_in_root("cargo", &["fmt", "--all", "--check"])?;
    run_in_root(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run_in_root("cargo", &["test", "--workspace"])?;
    // The slow end-to-end tests, marked #[ignore] so that the default run stays quick.
    run_in_root("cargo", &["test", "--workspace", "--", "--ignored"])?;
    Ok(())
}
