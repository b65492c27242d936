//! `cargo xtask fuzz`: run each importer's libFuzzer target for a bounded time.
//!
//! The targets live in `fuzz/` (a cargo-fuzz project outside the workspace). cargo-fuzz needs
//! the nightly toolchain; this task installs cargo-fuzz from crates.io when it is missing and
//! seeds each target's corpus with the format fixtures.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{root, run_in_root};

/// Every fuzz target and the fixture folders that seed its corpus.
const TARGETS: &[(&str, &[&str])] = &[
    ("mat", &["fixtures/formats/mat"]),
    (
        "npy",
        &["fixtures/formats/npy", "fixtures/formats/suite2p/plane0"],
    ),
    ("npz", &["fixtures/formats/npz"]),
    ("recording", &[]),
    ("csv", &["fixtures/formats/csv"]),
    ("nwb", &["fixtures/formats/nwb"]),
    // The first byte picks the file of the folder that the rest replaces.
    ("kilosort", &[]),
    ("suite2p_ops", &["fixtures/formats/suite2p/plane0"]),
];

pub fn run(args: &[String]) -> Result<()> {
    let mut seconds = 60u64;
    let mut chosen: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds takes a whole number")?;
            }
            t => chosen.push(t.to_string()),
        }
    }
    for t in &chosen {
        if !TARGETS.iter().any(|(name, _)| name == t) {
            bail!(
                "unknown fuzz target '{t}'; targets: {}",
                TARGETS
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    ensure_cargo_fuzz()?;
    let root = root();
    for (target, seeds) in TARGETS {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == target) {
            continue;
        }
        let corpus = root.join("fuzz/corpus").join(target);
        std::fs::create_dir_all(&corpus)?;
        for seed_dir in *seeds {
            copy_seeds(&root.join(seed_dir), &corpus)?;
        }
        let max_time = format!("-max_total_time={seconds}");
        let corpus_str = corpus.to_string_lossy().to_string();
        run_in_root(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                target,
                &corpus_str,
                "--",
                &max_time,
                "-rss_limit_mb=4096",
                "-max_len=65536",
            ],
        )
        .with_context(|| {
            format!("fuzz target {target} found a failure (see fuzz/artifacts/{target})")
        })?;
    }
    eprintln!("fuzzing finished clean ({seconds} s per target)");
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!("installing cargo-fuzz from crates.io");
        run_in_root("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    Ok(())
}

fn copy_seeds(from: &Path, to: &Path) -> Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let path = entry?.path();
        if path.is_file()
            && path.metadata()?.len() <= 65_536
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, to.join(name))?;
        }
    }
    Ok(())
}
