//! `cargo xtask reproduce marble-vanderpol`: MARBLE on van der Pol fields for a range of mu
//! (Gosztolai et al. 2025, Fig. 2): simulate, train one network on every condition, embed,
//! compare the conditions by optimal transport, lay them out by MDS and test that the layout
//! orders them by mu (Spearman correlation of the first MDS coordinate with mu).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use neuroforge_stats::transport::{ConditionComparison, spearman};

use super::runner::{
    Runner, fresh_run_dir, peer_python, read_json, read_result, run_peer, s, write_file,
    write_manifest, write_report,
};
use super::{Mode, Options};

/// The settings of the van der Pol experiment in one mode.
struct VanDerPolSettings {
    mu_values: usize,
    initial_conditions: usize,
    steps: usize,
    epochs: usize,
}

fn settings(mode: Mode) -> VanDerPolSettings {
    match mode {
        // 21 conditions, 64 trajectories each: about a minute on one core.
        // --standard changes only the Spike-GAN schedules.
        Mode::Quick | Mode::Standard => VanDerPolSettings {
            mu_values: 21,
            initial_conditions: 64,
            steps: 40,
            epochs: 40,
        },
        // The paper's 40 conditions and 100 initial conditions, 100 epochs.
        Mode::Full => VanDerPolSettings {
            mu_values: 40,
            initial_conditions: 100,
            steps: 40,
            epochs: 100,
        },
    }
}

const SEED: u64 = 4;

/// Runs the experiment into `runs/marble-vanderpol/` and returns its results.
pub fn run_vanderpol(binary: &Path, options: &Options) -> Result<Value> {
    let name = "marble-vanderpol";
    let started = Instant::now();
    let dir = fresh_run_dir(name, options)?;
    let runner = Runner::new(binary, None);
    let settings = settings(options.mode);
    let mu: Vec<f64> = (0..settings.mu_values)
        .map(|i| -1.0 + 2.0 * i as f64 / (settings.mu_values - 1) as f64)
        .map(|m| (m * 1e6).round() / 1e6)
        .collect();
    let mu_arg = mu
        .iter()
        .map(|m| m.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let mut durations = serde_json::Map::new();

    let t = Instant::now();
    let data = dir.join("vanderpol.parquet");
    runner.run(&[
        "simulate".into(),
        "vanderpol".into(),
        format!("--mu={mu_arg}"),
        "--initial-conditions".into(),
        settings.initial_conditions.to_string(),
        "--extent".into(),
        "1".into(),
        "--steps".into(),
        settings.steps.to_string(),
        "--points".into(),
        "--out".into(),
        s(&data),
    ])?;
    durations.insert("simulate_s".into(), json!(t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let run_dir = dir.join("run");
    let mut train = vec![
        "train".to_string(),
        "marble".into(),
        "--data".into(),
        s(&data),
        "--run-dir".into(),
        s(&run_dir),
        "--seed".into(),
        SEED.to_string(),
        "--epochs".into(),
        settings.epochs.to_string(),
        "--k".into(),
        "15".into(),
        "--delta".into(),
        "1.5".into(),
        "--spacing".into(),
        "0.02".into(),
    ];
    if let Some(device) = &options.device {
        train.extend(["--device".into(), device.clone()]);
    }
    let train_line = runner.run(&train)?;
    durations.insert("train_s".into(), json!(t.elapsed().as_secs_f64()));

    let t = Instant::now();
    let embedding = dir.join("embedding.parquet");
    runner.run(&[
        "embed".into(),
        "--run-dir".into(),
        s(&run_dir),
        "--data".into(),
        s(&data),
        "--out".into(),
        s(&embedding),
        "--plot".into(),
        s(&dir.join("embedding.svg")),
        "--report".into(),
        s(&dir.join("embedding.md")),
    ])?;
    let comparison = dir.join("comparison.json");
    runner.run(&[
        "compare".into(),
        s(&embedding),
        "--out".into(),
        s(&comparison),
        "--method".into(),
        "clustered".into(),
        "--clusters".into(),
        "50".into(),
        "--seed".into(),
        SEED.to_string(),
        "--plot".into(),
        s(&dir.join("mds.svg")),
    ])?;
    durations.insert("embed_compare_s".into(), json!(t.elapsed().as_secs_f64()));

    let compared: ConditionComparison = read_result(&comparison)?;
    let first: Vec<f64> = compared
        .mds
        .iter()
        .map(|row| row.first().copied().unwrap_or(f64::NAN))
        .collect();
    let names = compared.conditions.clone();
    let mu_of: Vec<f64> = names
        .iter()
        .map(|n| n.trim_start_matches("mu=").parse().unwrap_or(f64::NAN))
        .collect();
    // NaN when the layout is degenerate (a constant coordinate), which the check rejects.
    let rho = spearman(&first, &mu_of).unwrap_or(f64::NAN);
    let run_manifest = read_json(&run_dir.join("manifest.json"))?;
    let session = &run_manifest["sessions"][0];
    let ours = json!({
        "spearman_mds1_mu": rho.abs(),
        "train_s": session["ended_unix_s"].as_f64().unwrap_or(f64::NAN)
            - session["started_unix_s"].as_f64().unwrap_or(f64::NAN),
        "peak_rss_mib": session["peak_memory_mib"],
    });
    // The authors' MARBLE on the same table and settings, when the Python environment has it
    // and the mode is not --quick (it takes minutes per epoch here: docs/RESULTS.md).
    if options.peers && options.mode == Mode::Quick {
        eprintln!(
            "{name}: the authors' MARBLE skipped under --quick (about 30 s per epoch on two idle cores, 20 minutes for its 40; --standard runs it)"
        );
    }
    let reference = match (options.peers && options.mode != Mode::Quick)
        .then(|| peer_python("MARBLE, torch_geometric, pyarrow"))
    {
        Some(Some(python)) => {
            let t = Instant::now();
            let outcome = run_peer(
                &python,
                "marble_reference.py",
                &[
                    "vanderpol".into(),
                    "--data".into(),
                    s(&data),
                    "--out".into(),
                    s(&dir.join("reference-distances.json")),
                    "--epochs".into(),
                    settings.epochs.to_string(),
                    "--spacing".into(),
                    "0.02".into(),
                    "--seed".into(),
                    SEED.to_string(),
                ],
            );
            durations.insert("reference_s".into(), json!(t.elapsed().as_secs_f64()));
            // A peer that fails is reported, and the experiment goes on without it.
            match outcome {
                Ok(info) => info,
                Err(e) => {
                    eprintln!("{name}: the authors' MARBLE failed: {e:#}");
                    json!({ "error": format!("{e:#}") })
                }
            }
        }
        Some(None) => {
            eprintln!(
                "{name}: the authors' MARBLE skipped (the Python environment cannot import \
                 MARBLE; docs/MARBLE.md)"
            );
            Value::Null
        }
        None => Value::Null,
    };
    let results = json!({
        "experiment": name,
        "mode": format!("{:?}", options.mode).to_lowercase(),
        "mu_spearman": rho.abs(),
        "mu_spearman_signed": rho,
        "conditions": names,
        "mu": mu_of,
        "mds_first_coordinate": first,
        "distances": compared.distances,
        "training": run_manifest["results"],
        "neuroforge": ours,
        "reference": reference,
        "settings": {
            "mu_values": settings.mu_values,
            "initial_conditions": settings.initial_conditions,
            "steps": settings.steps,
            "dt": 0.05,
            "extent": 1.0,
            "epochs": settings.epochs,
            "k": 15,
            "delta": 1.5,
            "subsample_spacing": 0.02,
            "clusters": 50,
            "seed": SEED,
        },
    });
    write_file(
        &dir.join("results.json"),
        &serde_json::to_string_pretty(&results)?,
    )?;
    write_manifest(
        &dir,
        name,
        options,
        json!({ "training": SEED, "kmeans": SEED }),
        &results["settings"],
        durations,
        started,
        json!({ "mu_spearman": rho.abs() }),
    )?;
    let mut report = String::new();
    writeln!(
        report,
        "# MARBLE on van der Pol fields ({:?} mode)\n",
        options.mode
    )?;
    writeln!(
        report,
        "{} values of mu in [-1, 1], {} trajectories each ({} RK4 steps of 0.05 from a grid in \
         [-1, 1]^2), exact velocities as the vector field; furthest point sampling to 2% \
         spacing, CkNN graph k = 15, delta = 1.5; one MARBLE network (diffusion, 2 orders of \
         gradient filters, MLP [32] with batch norm, 3 outputs) trained for {} epochs on all \
         conditions; conditions compared by EMD between histograms over 50 k-means clusters of \
         the embeddings, then classical MDS.\n",
        settings.mu_values, settings.initial_conditions, settings.steps, settings.epochs
    )?;
    writeln!(report, "Training: {}", train_line.trim())?;
    writeln!(
        report,
        "\n> **{} Spearman correlation of the first MDS coordinate with mu: {:.3}** (the \
         paper's claim, and this repository's bar: the condition distances order the conditions \
         by mu; bar >= 0.9).\n",
        if rho.abs() >= 0.9 {
            "The paper's ordering was reached."
        } else {
            "The paper's ordering was not reached."
        },
        rho.abs()
    )?;
    writeln!(
        report,
        "![embedding coloured by mu](embedding.svg)\n\n![MDS of the conditions](mds.svg)\n\n\
         ![optimal-transport distances between the conditions](mds-distances.svg)\n\n\
         The embedding with a PCA of all its coordinates: [embedding](embedding.md).\n"
    )?;
    if let Some(error) = reference["error"].as_str() {
        writeln!(
            report,
            "**The authors' MARBLE failed** and is missing here: {error}\n"
        )?;
    } else if !reference.is_null() {
        writeln!(
            report,
            "The authors' MARBLE on the same table, settings and seed (their defaults otherwise; \
             `xtask/peers/marble_reference.py`):\n\n\
             | implementation | \\|Spearman\\| of MDS 1 with mu | training (s) | peak memory (MiB) |\n\
             | --- | --- | --- | --- |"
        )?;
        for (text, info) in [
            ("neuroforge", &ours),
            ("the authors' (PyTorch, CPU)", &reference),
        ] {
            writeln!(
                report,
                "| {text} | {:.3} | {:.1} | {:.0} |",
                info["spearman_mds1_mu"].as_f64().unwrap_or(f64::NAN),
                info["train_s"].as_f64().unwrap_or(f64::NAN),
                info["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
            )?;
        }
        writeln!(report)?;
    }
    writeln!(report, "| condition | MDS 1 |\n| --- | --- |")?;
    for (n, v) in names.iter().zip(&first) {
        writeln!(report, "| {n} | {v:.4} |")?;
    }
    write_report(&dir, &report)?;
    println!(
        "{name}: mu Spearman {:.3} ({:.0} s)",
        rho.abs(),
        started.elapsed().as_secs_f64()
    );
    Ok(results)
}
