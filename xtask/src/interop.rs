//! `cargo xtask interop`: pyarrow and pandas read what neuroforge writes.
//!
//! Builds the neuroforge binary, imports the bundled retina recording to Parquet and Arrow
//! IPC, and runs `scripts/check_interop.py` with a Python virtual environment kept outside the
//! repository (`$NEUROFORGE_VENV`, default `~/.cache/neuroforge/venv`), installing pyarrow and
//! pandas from PyPI when they are missing.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run_in_root, venv};

pub fn run() -> Result<()> {
    let venv = venv();
    let python = venv.join("bin/python");
    if !python.exists() {
        run_in_root("python3", &["-m", "venv", &venv.to_string_lossy()])?;
    }
    let has_packages = Command::new(&python)
        .args(["-c", "import pyarrow, pandas"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_packages {
        run_in_root(
            &python.to_string_lossy(),
            &["-m", "pip", "install", "--quiet", "pyarrow", "pandas"],
        )?;
    }
    let out = tempfile_dir()?;
    let input = root().join("fixtures/retina-marre2014/original_data_num_neurons_50_1.mat");
    for ext in ["parquet", "arrow"] {
        let target = out.join(format!("retina.{ext}"));
        run_in_root(
            "cargo",
            &[
                "run",
                "--quiet",
                "-p",
                "neuroforge",
                "--",
                "import",
                &input.to_string_lossy(),
                "--out",
                &target.to_string_lossy(),
                "--bin-ms",
                "20",
            ],
        )?;
    }
    let script = root().join("scripts/check_interop.py");
    let status = Command::new(&python)
        .arg(&script)
        .arg(out.join("retina.parquet"))
        .arg(out.join("retina.arrow"))
        .status()
        .context("cannot run the interop script")?;
    if !status.success() {
        bail!("pyarrow/pandas could not read neuroforge's files ({status})");
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("neuroforge-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
