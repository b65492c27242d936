//! `cargo xtask bench`: the criterion benchmarks, next to the peers they are compared with.
//!
//! Runs `cargo bench -p neuroforge-signal --bench oasis` (OASIS AR(1), 100 neurons x 20,000
//! frames) and, when a Python with oasis-deconv is available (`$NEUROFORGE_VENV`, default
//! `~/.cache/neuroforge/venv`; install with `pip install oasis-deconv`), the peer script
//! `../shared/peers/oasis_python.py` on the same setting. Results go to the terminal; the
//! figures recorded in docs/BENCHMARKS.md come from this command.

use std::process::Command;

use anyhow::Result;

use crate::{root, run_in_root, venv};

pub fn run() -> Result<()> {
    run_in_root(
        "cargo",
        &["bench", "-p", "neuroforge-signal", "--bench", "oasis"],
    )?;
    let peer = root().join("../shared/peers/oasis_python.py");
    let python = venv().join("bin/python");
    let has_oasis = python.exists()
        && Command::new(&python)
            .args(["-c", "import oasis"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !peer.exists() || !has_oasis {
        eprintln!(
            "peer skipped: needs {} and oasis-deconv in {} (python3 -m venv <dir> && <dir>/bin/pip install oasis-deconv)",
            peer.display(),
            venv().display()
        );
        return Ok(());
    }
    run_in_root(
        &python.to_string_lossy(),
        &[&peer.to_string_lossy(), "100", "20000"],
    )?;
    Ok(())
}
