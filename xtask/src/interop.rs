//! `cargo xtask interop`: pyarrow, pandas and pynwb read what neuroforge writes.
//!
//! Builds the neuroforge binary, imports the bundled retina recording to Parquet and Arrow
//! IPC, and runs `scripts/check_interop.py`; imports the NWB fixtures, exports spike times,
//! binned counts with behaviour, traces and a point table as NWB, and runs
//! `scripts/check_nwb.py` (pynwb reads and validates them, values compared with the fixtures'
//! expected.json). Python runs in a virtual environment kept outside the repository
//! (`$NEUROFORGE_VENV`, default `~/.cache/neuroforge/venv`); pyarrow, pandas and pynwb are
//! installed from PyPI when missing.

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
        .args(["-c", "import pyarrow, pandas, pynwb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_packages {
        run_in_root(
            &python.to_string_lossy(),
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "pyarrow",
                "pandas",
                "pynwb==4.2.0",
            ],
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
    check_nwb(&python, &out)
}

/// Export NWB files from the NWB fixtures and check them with pynwb.
fn check_nwb(python: &std::path::Path, out: &std::path::Path) -> Result<()> {
    let fixtures = root().join("fixtures/formats/nwb");
    let path = |name: &str| out.join(name).to_string_lossy().into_owned();
    let units = fixtures
        .join("units_position.nwb")
        .to_string_lossy()
        .into_owned();
    let ophys = fixtures.join("ophys.nwb").to_string_lossy().into_owned();
    let steps: [Vec<String>; 8] = [
        vec![
            "import".into(),
            units.clone(),
            "--out".into(),
            path("spikes.parquet"),
        ],
        vec![
            "export".into(),
            path("spikes.parquet"),
            "--out".into(),
            path("spikes.nwb"),
        ],
        vec![
            "import".into(),
            units,
            "--bin-ms".into(),
            "100".into(),
            "--behaviour".into(),
            "Position/xy".into(),
            "--out".into(),
            path("binned.parquet"),
        ],
        vec![
            "export".into(),
            path("binned.parquet"),
            "--out".into(),
            path("binned.nwb"),
        ],
        vec![
            "import".into(),
            ophys,
            "--var".into(),
            "Fluorescence/raw".into(),
            "--out".into(),
            path("raw.parquet"),
        ],
        vec![
            "export".into(),
            path("raw.parquet"),
            "--out".into(),
            path("raw.nwb"),
        ],
        vec![
            "points".into(),
            "--data".into(),
            path("binned.parquet"),
            "--out".into(),
            path("points.parquet"),
        ],
        vec![
            "export".into(),
            path("points.parquet"),
            "--out".into(),
            path("points.nwb"),
        ],
    ];
    for step in &steps {
        let mut args: Vec<&str> = vec!["run", "--quiet", "-p", "neuroforge", "--"];
        args.extend(step.iter().map(String::as_str));
        run_in_root("cargo", &args)?;
    }
    let status = Command::new(python)
        .arg(root().join("scripts/check_nwb.py"))
        .arg(out)
        .arg(fixtures.join("expected.json"))
        .status()
        .context("cannot run the NWB check script")?;
    if !status.success() {
        bail!("pynwb could not read neuroforge's NWB files as written ({status})");
    }
    Ok(())
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("neuroforge-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
