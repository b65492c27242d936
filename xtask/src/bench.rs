//! `cargo xtask bench`: the criterion benchmarks, next to the peers they are compared with.
//!
//! - OASIS AR(1), 100 neurons x 20,000 frames: `cargo bench -p neuroforge-signal --bench oasis`,
//!   then, when a Python with oasis-deconv is available, the peer script
//!   `../shared/peers/oasis_python.py` on the same setting, and `xtask/peers/oasis_ar2_python.py`
//!   (one 20,000-frame AR(2) trace, oasis-deconv's exact solver) beside the AR(2) benchmarks.
//! - All statistics of the 50 x 283,041 retina recording against the shipped DG samples:
//!   `cargo bench -p neuroforge-stats --bench stats`, then, when a Python with NumPy, SciPy and
//!   elephant is available, `xtask/peers/stats_numpy.py` computing the same set on the same
//!   files.
//!
//! - One Spike-GAN training iteration (5 critic steps with the exact gradient penalty + 1
//!   generator step, batch 64, the authors' widths) at 16x128, 50x32 and 32x64 on flex with
//!   one thread and with two, and the machine's matrix-product rate on the same threads:
//!   `cargo bench -p neuroforge-train --bench iteration`, then, when a Python with torch is
//!   available, `../shared/peers/spikegan_torch.py N T` (PyTorch eager, same model) at the same
//!   sizes with one and two threads (`OMP_NUM_THREADS`), the ratios, and the fraction of the
//!   physical limit (the iteration's FLOPs, as the peer counts them, at the matrix-product
//!   rate) each reaches. When the virtual environment holds the PyTorch
//!   torch-sys expects, the benchmark also runs on burn's libtorch backend (`--features
//!   bench-tch`, group `spikegan_iteration_tch`). Then the paper's convolutions layer by layer
//!   on flex (`cargo bench -p neuroforge-models --bench conv`: forward, autodiff backward, input
//!   and weight gradients).
//!
//! - MARBLE at scale: `cargo bench -p neuroforge-manifold --bench geometry` (40,000 points in 8
//!   dimensions: CkNN graph, whole geometry with local frames), the same job's peak memory
//!   (`--example scale`), and the embedding of 100,000 points with a trained network
//!   (`neuroforge-train --example marble_embed_scale`). The reference implementation is not run
//!   (it needs PyTorch Geometric and a Cython extension; docs/BENCHMARKS.md).
//!
//! `cargo xtask bench spikegan` (or `oasis`, `stats`, `marble`, several allowed) runs only those
//! parts; without a name it runs all four.
//!
//! The Python is `$NEUROFORGE_VENV/bin/python` (default `~/.cache/neuroforge/venv`); install
//! with `python3 -m venv <dir> && <dir>/bin/pip install oasis-deconv elephant scipy`. Results go
//! to the terminal; the figures in docs/BENCHMARKS.md come from this command.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use crate::{check_backends, root, run_in_root, venv};

/// Whether `python` can import every module of `modules`.
fn has_modules(python: &Path, modules: &str) -> bool {
    python.exists()
        && Command::new(python)
            .args(["-c", &format!("import {modules}")])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// The benchmark parts `cargo xtask bench` knows, in the order it runs them.
const PARTS: [&str; 4] = ["oasis", "stats", "spikegan", "marble"];

pub fn run(args: &[String]) -> Result<()> {
    if let Some(unknown) = args.iter().find(|a| !PARTS.contains(&a.as_str())) {
        anyhow::bail!(
            "unknown benchmark '{unknown}': choose among {}",
            PARTS.join(", ")
        );
    }
    let wanted = |part: &str| args.is_empty() || args.iter().any(|a| a == part);
    let python = venv().join("bin/python");
    if wanted("oasis") {
        oasis(&python)?;
    }
    if wanted("stats") {
        stats(&python)?;
    }
    if wanted("spikegan") {
        spikegan(&python)?;
    }
    if wanted("marble") {
        marble()?;
    }
    Ok(())
}

/// OASIS AR(1) and AR(2) beside oasis-deconv.
fn oasis(python: &Path) -> Result<()> {
    run_in_root(
        "cargo",
        &["bench", "-p", "neuroforge-signal", "--bench", "oasis"],
    )?;
    let peer = root().join("../shared/peers/oasis_python.py");
    if peer.exists() && has_modules(python, "oasis") {
        run_in_root(
            &python.to_string_lossy(),
            &[&peer.to_string_lossy(), "100", "20000"],
        )?;
        let ar2 = root().join("xtask/peers/oasis_ar2_python.py");
        run_in_root(&python.to_string_lossy(), &[&ar2.to_string_lossy()])?;
    } else {
        eprintln!(
            "OASIS peer skipped: needs {} and oasis-deconv in {}",
            peer.display(),
            venv().display()
        );
    }
    Ok(())
}

/// The retina's statistics beside NumPy, SciPy and elephant.
fn stats(python: &Path) -> Result<()> {
    run_in_root(
        "cargo",
        &["bench", "-p", "neuroforge-stats", "--bench", "stats"],
    )?;
    let script = root().join("xtask/peers/stats_numpy.py");
    let retina = root().join("fixtures/retina-marre2014");
    if has_modules(python, "numpy, scipy, elephant, neo, quantities") {
        run_in_root(
            &python.to_string_lossy(),
            &[
                &script.to_string_lossy(),
                &retina
                    .join("original_data_num_neurons_50_1.mat")
                    .to_string_lossy(),
                &retina.join("DG_num_neurons_50_1.mat").to_string_lossy(),
            ],
        )?;
    } else {
        eprintln!(
            "statistics peer skipped: needs numpy, scipy and elephant in {}",
            venv().display()
        );
    }
    Ok(())
}

/// The Spike-GAN iteration beside PyTorch, with the ratio of the medians.
fn spikegan(python: &Path) -> Result<()> {
    let libtorch = check_backends::expected_torch(&venv());
    let mut bench = Command::new("cargo");
    bench.args(["bench", "-p", "neuroforge-train", "--bench", "iteration"]);
    match &libtorch {
        Some(lib) => {
            bench.args(["--features", "bench-tch"]);
            check_backends::libtorch_env(&mut bench, &venv(), lib);
        }
        None => eprintln!(
            "libtorch iteration skipped: needs torch {} in {} (cargo xtask check-backends \
             installs it)",
            check_backends::TORCH_VERSION,
            venv().display()
        ),
    }
    check_backends::run(&mut bench)?;
    // Where the iteration's time goes: the convolutions layer by layer.
    run_in_root(
        "cargo",
        &["bench", "-p", "neuroforge-models", "--bench", "conv"],
    )?;
    let peer = root().join("../shared/peers/spikegan_torch.py");
    if !(peer.exists() && has_modules(python, "torch")) {
        eprintln!(
            "Spike-GAN peer skipped: needs {} and torch in {}",
            peer.display(),
            venv().display()
        );
        return Ok(());
    }
    // One core's matrix-product rate; two cores are taken as twice it (MKL measured 159 and
    // 319 GFLOP/s on one and two threads of this machine, docs/BENCHMARKS.md).
    let sgemm_gflops = |threads: f64| {
        criterion_median_ms("sgemm_1024/1thread")
            .map(|ms| threads * 2.0 * 1024f64.powi(3) / ms / 1e6)
    };
    for (neurons, bins) in [(16, 128), (50, 32), (32, 64)] {
        let mut flex_ms = [None, None];
        for (slot, threads, label) in [(0, 1, "1thread"), (1, 2, "2threads")] {
            let output = Command::new(python)
                .args([
                    &*peer.to_string_lossy(),
                    &neurons.to_string(),
                    &bins.to_string(),
                    "20",
                ])
                .env("OMP_NUM_THREADS", threads.to_string())
                .env("MKL_NUM_THREADS", threads.to_string())
                .current_dir(root())
                .output()?;
            let text = String::from_utf8_lossy(&output.stdout);
            print!("{text}");
            let words: Vec<&str> = text.split_whitespace().collect();
            let number_before = |unit: &str| {
                words
                    .windows(2)
                    .find(|w| w[1] == unit)
                    .and_then(|w| w[0].trim_start_matches('~').parse::<f64>().ok())
            };
            let torch_ms = number_before("ms/iteration,");
            let gflop = number_before("GFLOP/iteration,");
            let ours_ms =
                criterion_median_ms(&format!("spikegan_iteration_{label}/{neurons}x{bins}"));
            flex_ms[slot] = ours_ms;
            if let (Some(t), Some(o)) = (torch_ms, ours_ms) {
                println!(
                    "{neurons}x{bins}, {threads} thread(s): neuroforge (flex) {o:.1} ms, PyTorch \
                     {t:.1} ms per iteration: {:.2}x PyTorch's time",
                    o / t
                );
            }
            if let (Some(flop), Some(rate)) = (gflop, sgemm_gflops(f64::from(threads))) {
                let fraction = |ms: f64| flop / (ms / 1e3) / rate;
                println!(
                    "  physical limit: {flop:.2} GFLOP at the machine's {rate:.0} GFLOP/s matrix \
                     product = {:.1} ms; neuroforge reaches {}, PyTorch {}",
                    flop / rate * 1e3,
                    ours_ms.map_or("-".into(), |ms| format!("{:.0}%", 100.0 * fraction(ms))),
                    torch_ms.map_or("-".into(), |ms| format!("{:.0}%", 100.0 * fraction(ms))),
                );
                // neuroforge's generator stages do 3/5 of the peer's multiply-adds there.
                let own = flop - polyphase_gflop_saved(neurons, bins);
                println!(
                    "  neuroforge's own count: {own:.2} GFLOP (its generator stages are polyphase \
                     convolutions); at that count it reaches {} of the limit",
                    ours_ms.map_or("-".into(), |ms| format!(
                        "{:.0}%",
                        100.0 * own / (ms / 1e3) / rate
                    )),
                );
            }
            if threads == 2 && libtorch.is_some() {
                let tch = criterion_median_ms(&format!("spikegan_iteration_tch/{neurons}x{bins}"));
                if let (Some(t), Some(o)) = (torch_ms, tch) {
                    println!(
                        "{neurons}x{bins}: neuroforge (tch) {o:.1} ms, PyTorch {t:.1} ms per \
                         iteration: {:.2}x PyTorch's time",
                        o / t
                    );
                }
            }
        }
        if let [Some(one), Some(two)] = flex_ms {
            println!(
                "{neurons}x{bins}: flex on two threads is {:.2}x as fast as on one",
                one / two
            );
        }
    }
    Ok(())
}

/// MARBLE's geometry at scale, its peak memory and the embedding of 100,000 points.
fn marble() -> Result<()> {
    run_in_root(
        "cargo",
        &["bench", "-p", "neuroforge-manifold", "--bench", "geometry"],
    )?;
    for (package, example, args) in [
        ("neuroforge-manifold", "scale", ["40000", "8"].as_slice()),
        (
            "neuroforge-train",
            "marble_embed_scale",
            ["100000"].as_slice(),
        ),
    ] {
        let mut command = vec![
            "run",
            "--release",
            "-p",
            package,
            "--example",
            example,
            "--",
        ];
        command.extend(args);
        run_in_root("cargo", &command)?;
    }
    Ok(())
}

/// The median of a criterion benchmark's last run, in milliseconds.
fn criterion_median_ms(id: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let path = target.join("criterion").join(id).join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value["median"]["point_estimate"]
        .as_f64()
        .map(|ns| ns / 1e6)
}

/// GFLOP per iteration the polyphase generator stages save against the peer's count
/// (`spikegan_torch.py`: batch 64, widths 128/256, 5 critic steps + 1 generator step, each
/// generator pass counted 8 times per sample, 3 of them forward + backward): each upsample +
/// 5-tap convolution stage costs 3/5 of its multiply-adds (docs/TRAINING.md).
fn polyphase_gflop_saved(neurons: usize, bins: usize) -> f64 {
    let (batch, width) = (64.0, 128.0);
    let (neurons, bins) = (neurons as f64, bins as f64);
    let conv = |inputs: f64, outputs: f64, length: f64| 2.0 * inputs * outputs * length;
    let stages = conv(2.0 * width * 5.0, width, bins / 2.0) + conv(width * 5.0, neurons, bins);
    8.0 * batch * stages * (2.0 / 5.0) / 1e9
}
