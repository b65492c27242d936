//! `cargo xtask reproduce marble-hippocampus`: the rat linear-track recording in
//! `fixtures/hc-linear-track` binned at 25 ms (rates smoothed with a 50 ms Gaussian), running
//! bins only (speed over +-100 ms at least 20 px/s, tracking dropouts removed), PCA to 5
//! dimensions, MARBLE on those states and their differences, and the x position decoded with
//! 5-fold cross-validation over contiguous blocks from the MARBLE embedding and, side by
//! side, from the same PCA states (kNN, 36 neighbours, cosine, as CEBRA's benchmark).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use serde_json::{Value, json};

use neuroforge_stats::decode::DecodingReport;

use super::runner::{
    Runner, fresh_run_dir, read_json, read_result, s, write_file, write_manifest, write_report,
};
use super::{Mode, Options};
use crate::root;

/// Seed of the training (the van der Pol experiment's).
const SEED: u64 = 4;

/// `cargo xtask reproduce marble-hippocampus`: the rat linear-track recording in
/// `fixtures/hc-linear-track` binned at 25 ms (rates smoothed with a 50 ms Gaussian), running
/// bins only (speed over +-100 ms at least 20 px/s, tracking dropouts removed), PCA to 5
/// dimensions, MARBLE on those states and their differences, and the x position decoded with
/// 5-fold cross-validation over contiguous blocks from the MARBLE embedding and, side by
/// side, from the same PCA states (kNN, 36 neighbours, cosine, as CEBRA's benchmark).
pub fn run_hippocampus(binary: &Path, options: &Options) -> Result<Value> {
    let name = "marble-hippocampus";
    let started = Instant::now();
    let dir = fresh_run_dir(name, options)?;
    let runner = Runner::new(binary, None);
    let epochs = match options.mode {
        Mode::Quick | Mode::Standard => 30,
        Mode::Full => 100,
    };
    let fixtures = root().join("fixtures/hc-linear-track");
    let mut durations = serde_json::Map::new();
    let t = Instant::now();
    let data = dir.join("running.parquet");
    let points_line = runner.run(&[
        "points".into(),
        "--spikes".into(),
        s(&fixtures.join("spikes.csv")),
        "--behaviour".into(),
        s(&fixtures.join("position.csv")),
        "--bin-ms".into(),
        "25".into(),
        // The bin grid of the recorded expectations (xtask/expected/marble-hippocampus.json):
        // it starts at the first spike, where `points` started it before it took a start.
        "--start-s".into(),
        "4397.0023".into(),
        "--smooth-ms".into(),
        "50".into(),
        "--min-speed".into(),
        "20".into(),
        "--speed-window".into(),
        "4".into(),
        "--invalid".into(),
        "x_px=522&y_px=8".into(),
        "--invalid".into(),
        "y_px=479".into(),
        "--out".into(),
        s(&data),
    ])?;
    durations.insert("points_s".into(), json!(t.elapsed().as_secs_f64()));
    let config = dir.join("marble.toml");
    write_file(
        &config,
        "# Wider network and embedding than MARBLE's defaults ([32], 3): with 3 outputs the\n\
         # embedding decodes position markedly worse (docs/RESULTS.md).\n\
         [model]\nhidden = [64]\nout_channels = 8\n",
    )?;
    let t = Instant::now();
    let run_dir = dir.join("run");
    let mut train = vec![
        "train".to_string(),
        "marble".into(),
        "--data".into(),
        s(&data),
        "--run-dir".into(),
        s(&run_dir),
        "--config".into(),
        s(&config),
        "--pca".into(),
        "5".into(),
        "--epochs".into(),
        epochs.to_string(),
        "--k".into(),
        "15".into(),
        "--delta".into(),
        "1.5".into(),
        "--spacing".into(),
        "0.002".into(),
        "--seed".into(),
        SEED.to_string(),
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
    let mut scores = std::collections::BTreeMap::new();
    for (features, label) in [("z", "marble"), ("x", "pca")] {
        for decoder in ["knn", "linear"] {
            let out = dir.join(format!("decode-{label}-{decoder}.json"));
            runner.run(&[
                "decode".into(),
                s(&embedding),
                "--features".into(),
                features.into(),
                "--targets".into(),
                "pos".into(),
                "--columns".into(),
                "0".into(),
                "--decoder".into(),
                decoder.into(),
                "--neighbours".into(),
                "36".into(),
                "--metric".into(),
                "cosine".into(),
                "--folds".into(),
                "5".into(),
                "--out".into(),
                s(&out),
                "--report".into(),
                s(&dir.join(format!("decode-{label}-{decoder}.md"))),
            ])?;
            let score: DecodingReport = read_result(&out)?;
            scores.insert(format!("{label}_{decoder}"), score);
        }
    }
    durations.insert("embed_decode_s".into(), json!(t.elapsed().as_secs_f64()));
    let score = |key: &str| {
        scores
            .get(key)
            .map_or((f64::NAN, f64::NAN), |s: &DecodingReport| {
                (s.r2, s.median_absolute_error)
            })
    };
    let ((r2_marble, mae_marble), (r2_pca, mae_pca)) = (score("marble_knn"), score("pca_knn"));
    let winner = if r2_marble > r2_pca { "marble" } else { "pca" };
    let results = json!({
        "experiment": name,
        "mode": format!("{:?}", options.mode).to_lowercase(),
        "r2_marble": r2_marble,
        "r2_pca": r2_pca,
        "median_abs_error_marble": mae_marble,
        "median_abs_error_pca": mae_pca,
        "winner_by_r2": winner,
        "decoders": scores,
        "training": read_json(&run_dir.join("manifest.json"))?["results"],
        "points": points_line.trim(),
        "settings": {
            "bin_ms": 25, "smooth_ms": 50, "min_speed_px_s": 20, "speed_window_bins": 4,
            "pca": 5, "k": 15, "delta": 1.5, "subsample_spacing": 0.002, "epochs": epochs,
            "hidden": [64], "out_channels": 8, "folds": 5, "knn_neighbours": 36,
            "knn_metric": "cosine", "seed": SEED,
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
        json!({ "training": SEED }),
        &results["settings"],
        durations,
        started,
        json!({ "r2_marble": r2_marble, "r2_pca": r2_pca }),
    )?;
    let mut report = String::new();
    writeln!(
        report,
        "# MARBLE on the rat hippocampus (linear track; {:?} mode)\n",
        options.mode
    )?;
    writeln!(
        report,
        "Data: {}\n\nTraining: {}\n",
        points_line.trim(),
        train_line.trim()
    )?;
    writeln!(
        report,
        "x position decoded with 5-fold cross-validation over contiguous blocks of time \
         (pixels; the track spans about 340 px):\n"
    )?;
    writeln!(
        report,
        "| features | decoder | R² | median abs. error (px) |\n| --- | --- | --- | --- |"
    )?;
    for (label, text) in [
        ("marble", "MARBLE embedding (8-D)"),
        ("pca", "PCA of the smoothed rates (5-D)"),
    ] {
        for (decoder, dtext) in [
            ("knn", "kNN, 36, cosine"),
            ("linear", "linear (ridge 1e-6)"),
        ] {
            let (r2, mae) = score(&format!("{label}_{decoder}"));
            writeln!(report, "| {text} | {dtext} | {r2:.3} | {mae:.1} |")?;
        }
    }
    writeln!(
        report,
        "\n> **By the kNN decoder's R², {} wins{}.**\n",
        winner,
        if winner == "marble" {
            ""
        } else {
            ": MARBLE is not within the paper's claim on this recording"
        }
    )?;
    writeln!(
        report,
        "![MARBLE embedding of the recording](embedding.svg)\n\nDecoded against true \
         position, every prediction held out: [MARBLE, kNN](decode-marble-knn.md), \
         [PCA, kNN](decode-pca-knn.md), [MARBLE, linear](decode-marble-linear.md), \
         [PCA, linear](decode-pca-linear.md); the embedding with a PCA of all its coordinates: \
         [embedding](embedding.md).\n"
    )?;
    write_report(&dir, &report)?;
    println!(
        "{name}: R2 marble {r2_marble:.3} vs pca {r2_pca:.3}; median abs error {mae_marble:.1} vs {mae_pca:.1} px ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(results)
}
