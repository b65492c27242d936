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
    Runner, fresh_run_dir, peer_python, read_json, read_result, run_peer, s, write_file,
    write_manifest, write_report,
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
    let mut durations = serde_json::Map::new();
    let t = Instant::now();
    let data = dir.join("running.parquet");
    let points_line = points(&runner, "50", "20", &data)?;
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
    let (paper, paper_md) = paper_comparison(&runner, &dir, options, &mut durations)?;
    let (validated, validated_md) = validated_choice(&runner, &dir, options, &mut durations)?;
    let paper_last = |label: &str, key: &str| {
        paper["scores"][label]["last"][key]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let results = json!({
        "experiment": name,
        "mode": format!("{:?}", options.mode).to_lowercase(),
        "r2_marble": r2_marble,
        "r2_pca": r2_pca,
        "median_abs_error_marble": mae_marble,
        "median_abs_error_pca": mae_pca,
        "winner_by_r2": winner,
        "r2_paper_marble_last": paper_last("marble", "r2"),
        "r2_paper_pca_last": paper_last("pca", "r2"),
        "median_abs_error_paper_marble_last": paper_last("marble", "median_abs_error"),
        "median_abs_error_paper_pca_last": paper_last("pca", "median_abs_error"),
        "paper": paper,
        "validated": validated,
        "r2_validated_marble_last": validated["marble"]["test_r2"],
        "r2_validated_pca_last": validated["pca"]["test_r2"],
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
    report.push_str(&paper_md);
    report.push_str(&validated_md);
    write_report(&dir, &report)?;
    println!(
        "{name}: R2 marble {r2_marble:.3} vs pca {r2_pca:.3}; median abs error {mae_marble:.1} vs {mae_pca:.1} px ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(results)
}

/// `neuroforge points` on the bundled recording: 25 ms bins on the grid of the recorded
/// expectations (xtask/expected/marble-hippocampus.json; it starts at the first spike, where
/// `points` started it before it took a start), rates smoothed over `smooth_ms`, bins moving at
/// `min_speed` px/s or more (over +-100 ms), tracking dropouts removed.
fn points(runner: &Runner, smooth_ms: &str, min_speed: &str, out: &Path) -> Result<String> {
    let fixtures = root().join("fixtures/hc-linear-track");
    runner.run(&[
        "points".into(),
        "--spikes".into(),
        s(&fixtures.join("spikes.csv")),
        "--behaviour".into(),
        s(&fixtures.join("position.csv")),
        "--bin-ms".into(),
        "25".into(),
        "--start-s".into(),
        "4397.0023".into(),
        "--smooth-ms".into(),
        smooth_ms.into(),
        "--min-speed".into(),
        min_speed.into(),
        "--speed-window".into(),
        "4".into(),
        "--invalid".into(),
        "x_px=522&y_px=8".into(),
        "--invalid".into(),
        "y_px=479".into(),
        "--out".into(),
        s(out),
    ])
}

/// MARBLE's rat-hippocampus settings (its example notebook): rates from a Gaussian kernel of
/// 10 bins, PCA to 10, k 15, delta 1.5, first-order gradient filters without diffusion, the
/// positions fed beside the features, MLP [64] to 32 normalised outputs, 100 epochs.
const PAPER_PRESET: &str = "\
# MARBLE's rat-hippocampus settings (examples/rat_hippocampus of the authors' code):\n\
# order 1, hidden [64], 32 outputs, emb_norm, include_positions, diffusion off, k 15,\n\
# delta 1.5, 100 epochs. Everything else is MARBLE's default.\n\
[geometry.graph]\nk = 15\ndelta = 1.5\n\
[features]\norder = 1\ndiffusion = false\n\
[model]\nhidden = [64]\nout_channels = 32\nnormalize_output = true\ninclude_positions = true\n\
[training]\nepochs = 100\n";

/// The decoding protocols of the comparison, by name: k-fold over contiguous blocks (ours),
/// the notebooks' last 20%, and a random 20%.
const PROTOCOLS: [(&str, &[&str]); 3] = [
    ("blocks", &["--split", "blocks", "--folds", "5"]),
    ("last", &["--split", "last", "--test-fraction", "0.2"]),
    (
        "random",
        &["--split", "random", "--test-fraction", "0.2", "--seed", "0"],
    ),
];

/// One embedding of the comparison: a label, its point table, and whether it was trained
/// with the behaviour (then only the `last` protocol keeps its test rows unseen).
struct Embedding {
    label: String,
    text: String,
    table: std::path::PathBuf,
    features: &'static str,
    supervised: bool,
}

/// The paper's settings and protocol beside ours: MARBLE with the authors' hippocampus preset
/// trained on the first 80% of the usable bins, PCA of the same rates, and CEBRA when the
/// Python environment has it; each decoded under the three protocols. Returns the results
/// (JSON) and the report's section (Markdown).
fn paper_comparison(
    runner: &Runner,
    dir: &Path,
    options: &Options,
    durations: &mut serde_json::Map<String, Value>,
) -> Result<(Value, String)> {
    let running = |smooth_ms: &str, out: &Path| points(runner, smooth_ms, "20", out);
    let t = Instant::now();
    let rates = dir.join("paper-rates.parquet");
    // The notebooks' kernel of width 10 bins: 250 ms at 25 ms bins.
    running("250", &rates)?;
    let config = dir.join("marble-paper.toml");
    write_file(&config, PAPER_PRESET)?;
    let run_dir = dir.join("run-paper");
    let embedded = dir.join("paper-embedding.parquet");
    let train_line = train_and_embed(
        runner, options, &rates, &config, &run_dir, "10", "0.8", &embedded,
    )?;
    durations.insert("paper_train_s".into(), json!(t.elapsed().as_secs_f64()));
    let mut embeddings = vec![
        Embedding {
            label: "marble".into(),
            text: "MARBLE, the authors' preset (32-D)".into(),
            table: embedded.clone(),
            features: "z",
            supervised: false,
        },
        Embedding {
            label: "pca".into(),
            text: "PCA of the same rates (10-D, MARBLE's states)".into(),
            table: embedded.clone(),
            features: "x",
            supervised: false,
        },
    ];
    let mut peers = Vec::new();
    let mut peer_failures: Vec<String> = Vec::new();
    let cebra = if options.peers {
        peer_python("cebra, pyarrow")
    } else {
        None
    };
    // CEBRA's recommended 10,000 iterations take about 20 minutes per CEBRA-behaviour model on
    // two cores; --quick trains 2,000.
    let iterations = match options.mode {
        Mode::Quick => 2000,
        Mode::Standard | Mode::Full => 10000,
    };
    if let Some(python) = &cebra {
        let t = Instant::now();
        let counts = dir.join("paper-counts.parquet");
        // CEBRA's input: the binned spike counts of the same bins, unsmoothed. Training on
        // the continuous session instead (`cebra_embed.py --context`) decoded no better and
        // took ten times as long (docs/RESULTS.md), so the running bins are its data.
        running("0", &counts)?;
        for (mode, dim) in [
            ("behaviour", 32),
            ("time", 32),
            ("behaviour", 8),
            ("time", 8),
        ] {
            let out = dir.join(format!("cebra-{mode}-{dim}.parquet"));
            let info = run_peer(
                python,
                "cebra_embed.py",
                &[
                    "--data".into(),
                    s(&counts),
                    "--out".into(),
                    s(&out),
                    "--mode".into(),
                    mode.into(),
                    "--dim".into(),
                    dim.to_string(),
                    "--iterations".into(),
                    iterations.to_string(),
                    "--train-fraction".into(),
                    "0.8".into(),
                    "--drop-trajectory-ends".into(),
                    "--seed".into(),
                    SEED.to_string(),
                ],
            );
            // A peer that fails is reported, and the comparison goes on without it.
            let info = match info {
                Ok(info) => info,
                Err(e) => {
                    eprintln!("marble-hippocampus: CEBRA-{mode} {dim}-D failed: {e:#}");
                    peer_failures.push(format!("CEBRA-{mode} {dim}-D: {e:#}"));
                    continue;
                }
            };
            peers.push(info);
            embeddings.push(Embedding {
                label: format!("cebra_{mode}_{dim}"),
                text: format!("CEBRA-{mode} ({dim}-D, {iterations} iterations)"),
                table: out,
                features: "z",
                supervised: mode == "behaviour",
            });
        }
        durations.insert("cebra_s".into(), json!(t.elapsed().as_secs_f64()));
    } else {
        eprintln!(
            "marble-hippocampus: CEBRA skipped ({})",
            if options.peers {
                "the Python environment cannot import cebra and pyarrow; docs/MARBLE.md"
            } else {
                "--no-peers"
            }
        );
    }
    // The authors' MARBLE on the same rates, split and settings; not under --quick (its 100
    // epochs take about an hour here: docs/RESULTS.md).
    let reference = if options.peers && options.mode != Mode::Quick {
        peer_python("MARBLE, torch_geometric, pyarrow, sklearn")
    } else {
        if options.peers {
            eprintln!(
                "marble-hippocampus: the authors' MARBLE skipped under --quick (about an hour \
                 for its 100 epochs on two cores; --standard runs it)"
            );
        }
        None
    };
    let mut reference_info = Value::Null;
    if let Some(python) = &reference {
        let out = dir.join("reference-embedding.parquet");
        let outcome = run_peer(
            python,
            "marble_reference.py",
            &[
                "hippocampus".into(),
                "--data".into(),
                s(&rates),
                "--out".into(),
                s(&out),
                "--epochs".into(),
                "100".into(),
                "--pca".into(),
                "10".into(),
                "--train-fraction".into(),
                "0.8".into(),
                "--seed".into(),
                SEED.to_string(),
            ],
        );
        match outcome {
            Ok(info) => {
                reference_info = info;
                embeddings.insert(
                    1,
                    Embedding {
                        label: "marble_reference".into(),
                        text: "the authors' MARBLE, the same preset (32-D)".into(),
                        table: out,
                        features: "z",
                        supervised: false,
                    },
                );
            }
            Err(e) => {
                eprintln!("marble-hippocampus: the authors' MARBLE failed: {e:#}");
                peer_failures.push(format!("the authors' MARBLE: {e:#}"));
            }
        }
    } else if options.peers && options.mode != Mode::Quick {
        eprintln!(
            "marble-hippocampus: the authors' MARBLE skipped (the Python environment cannot \
             import MARBLE; docs/MARBLE.md)"
        );
    }
    let mut scores = serde_json::Map::new();
    for e in &embeddings {
        let mut by_protocol = serde_json::Map::new();
        for (protocol, flags) in PROTOCOLS {
            if e.supervised && protocol != "last" {
                // Trained with the labels of the first 80% of the rows: any other protocol
                // would test on rows whose labels trained the embedding.
                continue;
            }
            let out = dir.join(format!("decode-paper-{}-{protocol}.json", e.label));
            let mut args = vec![
                "decode".to_string(),
                s(&e.table),
                "--features".into(),
                e.features.into(),
                "--targets".into(),
                "pos".into(),
                "--columns".into(),
                "0".into(),
                "--neighbours".into(),
                "36".into(),
                "--metric".into(),
                "cosine".into(),
                "--out".into(),
                s(&out),
            ];
            args.extend(flags.iter().map(|f| f.to_string()));
            runner.run(&args)?;
            let score: DecodingReport = read_result(&out)?;
            by_protocol.insert(
                protocol.into(),
                json!({ "r2": score.r2, "median_abs_error": score.median_absolute_error,
                        "held_out_rows": score.held_out_rows }),
            );
        }
        scores.insert(e.label.clone(), Value::Object(by_protocol));
    }
    let mut md = String::new();
    writeln!(
        md,
        "## The paper's settings and protocols\n\nMARBLE with the authors' hippocampus preset \
         (rates from a 250 ms Gaussian kernel, PCA to 10 fitted on the training bins, k 15, \
         delta 1.5, order 1, no diffusion, positions fed, MLP [64] to 32 normalised outputs, \
         100 epochs), trained on the first 80% of the usable bins: {}\n",
        train_line.trim()
    )?;
    writeln!(
        md,
        "x position (px), kNN decoder (36 neighbours, cosine). Protocols: **blocks** = 5-fold \
         over contiguous blocks; **last** = decoder fitted on the first 80% of the bins, tested \
         on the last 20% (the notebooks' protocol; no embedding saw those bins); **random** = a \
         random 20% of the bins (seed 0), whose neighbours in time are in the training part. \
         CEBRA-behaviour is trained with the labels of the first 80%, so only **last** applies \
         to it.\n"
    )?;
    writeln!(
        md,
        "| features | blocks R² | blocks error | last R² | last error | random R² | random error |\n\
         | --- | --- | --- | --- | --- | --- | --- |"
    )?;
    for e in &embeddings {
        let mut row = format!("| {} |", e.text);
        for (protocol, _) in PROTOCOLS {
            match scores[&e.label].get(protocol) {
                Some(v) => write!(
                    row,
                    " {:.3} | {:.1} |",
                    v["r2"].as_f64().unwrap_or(f64::NAN),
                    v["median_abs_error"].as_f64().unwrap_or(f64::NAN)
                )?,
                None => row.push_str(" n/a | n/a |"),
            }
        }
        writeln!(md, "{row}")?;
    }
    let manifest = read_json(&run_dir.join("manifest.json"))?;
    let session = &manifest["sessions"][0];
    let ours = json!({
        "train_s": session["ended_unix_s"].as_f64().unwrap_or(f64::NAN)
            - session["started_unix_s"].as_f64().unwrap_or(f64::NAN),
        "peak_rss_mib": session["peak_memory_mib"],
    });
    if !reference_info.is_null() {
        writeln!(
            md,
            "\nThe two implementations, the same preset, rates, split and seed (the authors' \
             builds the test bins' graph on its own, as their notebook; `neuroforge embed` \
             builds one graph of all bins):\n\n\
             | implementation | last R² | last error (px) | training (s) | peak memory (MiB) |\n\
             | --- | --- | --- | --- | --- |"
        )?;
        for (label, text, info) in [
            ("marble", "neuroforge", &ours),
            (
                "marble_reference",
                "the authors' (PyTorch, CPU)",
                &reference_info,
            ),
        ] {
            let last = &scores[label]["last"];
            writeln!(
                md,
                "| {text} | {:.3} | {:.1} | {:.0} | {:.0} |",
                last["r2"].as_f64().unwrap_or(f64::NAN),
                last["median_abs_error"].as_f64().unwrap_or(f64::NAN),
                info["train_s"].as_f64().unwrap_or(f64::NAN),
                info["peak_rss_mib"].as_f64().unwrap_or(f64::NAN)
            )?;
        }
    }
    for failure in &peer_failures {
        writeln!(md, "\n**A peer failed** and is missing above: {failure}")?;
    }
    if !peers.is_empty() {
        writeln!(md, "\nCEBRA runs (training seconds, peak memory):\n")?;
        for p in &peers {
            writeln!(
                md,
                "- CEBRA-{} {}-D: {:.0} s, {:.0} MiB (cebra {}, torch {})",
                p["mode"].as_str().unwrap_or("?"),
                p["dimension"],
                p["train_s"].as_f64().unwrap_or(f64::NAN),
                p["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
                p["cebra"].as_str().unwrap_or("?"),
                p["torch"].as_str().unwrap_or("?")
            )?;
        }
    }
    let results = json!({
        "scores": scores,
        "cebra": peers,
        "cebra_iterations": if cebra.is_some() { json!(iterations) } else { Value::Null },
        "reference": reference_info,
        "peer_failures": peer_failures,
        "neuroforge": ours,
        "training": manifest["results"],
        "settings": {
            "smooth_ms": 250, "pca": 10, "train_fraction": 0.8, "preset": PAPER_PRESET,
        },
    });
    Ok((results, md))
}

/// One candidate of the validation choice: the rates' kernel, the PCA dimension and MARBLE's
/// graph and feature settings (everything else is the authors' preset).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Candidate {
    smooth_ms: u32,
    pca: usize,
    k: usize,
    order: usize,
    diffusion: bool,
}

impl Candidate {
    fn label(&self) -> String {
        format!(
            "s{}-pca{}-k{}-o{}{}",
            self.smooth_ms,
            self.pca,
            self.k,
            self.order,
            if self.diffusion { "-diffusion" } else { "" }
        )
    }

    /// The preset with this candidate's graph and features.
    fn config(&self) -> String {
        format!(
            "# The authors' hippocampus preset with k {}, order {}, diffusion {}.\n\
             [geometry.graph]\nk = {}\ndelta = 1.5\n\
             [features]\norder = {}\ndiffusion = {}\n\
             [model]\nhidden = [64]\nout_channels = 32\nnormalize_output = true\n\
             include_positions = true\n[training]\nepochs = 100\n",
            self.k, self.order, self.diffusion, self.k, self.order, self.diffusion
        )
    }

    /// The PCA's part of the label (PCA depends only on the kernel and the dimension).
    fn pca_label(&self) -> String {
        format!("s{}-pca{}", self.smooth_ms, self.pca)
    }

    fn json(&self) -> Value {
        json!({"smooth_ms": self.smooth_ms, "pca": self.pca, "k": self.k, "order": self.order,
               "diffusion": self.diffusion})
    }
}

/// The settings tried: the rates' kernel (250 ms is the notebooks', 500 ms wider; at 100 ms
/// the proximity graph falls apart into isolated points even at k 30), the PCA
/// dimension (10 is the notebooks', 5 ours), and MARBLE's preset against a wider graph, a
/// second-order gradient, and learned diffusion. --quick tries two.
fn candidates(mode: Mode) -> Vec<Candidate> {
    let preset = Candidate {
        smooth_ms: 250,
        pca: 10,
        k: 15,
        order: 1,
        diffusion: false,
    };
    if mode == Mode::Quick {
        return vec![preset, Candidate { k: 30, ..preset }];
    }
    let mut all = Vec::new();
    for smooth_ms in [250, 500] {
        for pca in [10, 5] {
            let base = Candidate {
                smooth_ms,
                pca,
                ..preset
            };
            all.extend([
                base,
                Candidate { k: 30, ..base },
                Candidate { order: 2, ..base },
                Candidate {
                    diffusion: true,
                    ..base
                },
            ]);
        }
    }
    all
}

/// Trains MARBLE with `candidate` on the first `train_fraction` of the running bins into
/// `dir/<name>` and embeds all bins; returns the embedding's point table.
fn train_candidate(
    runner: &Runner,
    dir: &Path,
    options: &Options,
    candidate: &Candidate,
    name: &str,
    train_fraction: &str,
) -> Result<std::path::PathBuf> {
    let rates = dir.join(format!("validation-rates-{}.parquet", candidate.smooth_ms));
    if !rates.exists() {
        points(runner, &candidate.smooth_ms.to_string(), "20", &rates)?;
    }
    let config = dir.join(format!("{name}.toml"));
    write_file(&config, &candidate.config())?;
    let embedded = dir.join(format!("{name}-embedding.parquet"));
    train_and_embed(
        runner,
        options,
        &rates,
        &config,
        &dir.join(name),
        &candidate.pca.to_string(),
        train_fraction,
        &embedded,
    )?;
    Ok(embedded)
}

/// `train marble` on `rates` with `config`, PCA `pca` and the first `train_fraction` of the
/// bins into `run_dir`, then `embed` every bin into `embedded`; returns the training line.
#[allow(clippy::too_many_arguments)]
fn train_and_embed(
    runner: &Runner,
    options: &Options,
    rates: &Path,
    config: &Path,
    run_dir: &Path,
    pca: &str,
    train_fraction: &str,
    embedded: &Path,
) -> Result<String> {
    let mut train = vec![
        "train".to_string(),
        "marble".into(),
        "--data".into(),
        s(rates),
        "--run-dir".into(),
        s(run_dir),
        "--config".into(),
        s(config),
        "--pca".into(),
        pca.into(),
        "--train-fraction".into(),
        train_fraction.into(),
        "--seed".into(),
        SEED.to_string(),
    ];
    if let Some(device) = &options.device {
        train.extend(["--device".into(), device.clone()]);
    }
    let line = runner.run(&train)?;
    runner.run(&[
        "embed".into(),
        "--run-dir".into(),
        s(run_dir),
        "--data".into(),
        s(rates),
        "--out".into(),
        s(embedded),
    ])?;
    Ok(line)
}

/// kNN decoding of x from `features` of `table`, the last 20% of the first `rows_fraction`
/// of the rows held out; returns (R², median absolute error).
fn decode_last(
    runner: &Runner,
    table: &Path,
    features: &str,
    rows_fraction: Option<&str>,
    out: &Path,
) -> Result<(f64, f64)> {
    let mut args = vec![
        "decode".to_string(),
        s(table),
        "--features".into(),
        features.into(),
        "--targets".into(),
        "pos".into(),
        "--columns".into(),
        "0".into(),
        "--neighbours".into(),
        "36".into(),
        "--metric".into(),
        "cosine".into(),
        "--split".into(),
        "last".into(),
        "--test-fraction".into(),
        "0.2".into(),
        "--out".into(),
        s(out),
    ];
    if let Some(f) = rows_fraction {
        args.extend(["--rows-fraction".into(), f.into()]);
    }
    runner.run(&args)?;
    let score: DecodingReport = read_result(out)?;
    Ok((score.r2, score.median_absolute_error))
}

/// A candidate with its validation (R², error) of MARBLE and of PCA.
type Tried = (Candidate, (f64, f64), (f64, f64));

/// Settings chosen without the test bins: every candidate is trained on the first 64% of the
/// running bins and decoded on bins 64-80% (the last 20% of the training part); the best
/// MARBLE candidate and the best PCA (kernel and dimension) by that validation R² are then
/// trained on the first 80% and tested once on the last 20%, as the preset was. Returns the
/// results (JSON) and the report's section (Markdown).
fn validated_choice(
    runner: &Runner,
    dir: &Path,
    options: &Options,
    durations: &mut serde_json::Map<String, Value>,
) -> Result<(Value, String)> {
    let t = Instant::now();
    let dir = dir.join("validation");
    std::fs::create_dir_all(&dir)?;
    let mut tried: Vec<Tried> = Vec::new();
    let mut failed: Vec<(Candidate, String)> = Vec::new();
    let mut pca_scores: Vec<(Candidate, f64, f64)> = Vec::new();
    for candidate in candidates(options.mode) {
        let name = format!("val-{}", candidate.label());
        // A candidate MARBLE cannot train on (a disconnected graph) drops out of the choice.
        let embedded = match train_candidate(runner, &dir, options, &candidate, &name, "0.64") {
            Ok(embedded) => embedded,
            Err(e) => {
                eprintln!(
                    "marble-hippocampus: candidate {} failed: {e:#}",
                    candidate.label()
                );
                failed.push((candidate, format!("{e:#}")));
                continue;
            }
        };
        let marble = decode_last(
            runner,
            &embedded,
            "z",
            Some("0.8"),
            &dir.join(format!("{name}-z.json")),
        )?;
        // PCA depends only on the kernel and the dimension: scored once per pair.
        let pca_key = (candidate.smooth_ms, candidate.pca);
        let pca = match pca_scores
            .iter()
            .find(|(c, _, _)| (c.smooth_ms, c.pca) == pca_key)
        {
            Some(&(_, r2, error)) => (r2, error),
            None => {
                let score = decode_last(
                    runner,
                    &embedded,
                    "x",
                    Some("0.8"),
                    &dir.join(format!("{name}-x.json")),
                )?;
                pca_scores.push((candidate, score.0, score.1));
                score
            }
        };
        tried.push((candidate, marble, pca));
    }
    let best = |score: &dyn Fn(&Tried) -> f64| {
        tried
            .iter()
            .filter(|c| score(c).is_finite())
            .max_by(|a, b| score(a).total_cmp(&score(b)))
            .map(|c| c.0)
    };
    let (Some(marble_choice), Some(pca_choice)) = (best(&|c| c.1.0), best(&|c| c.2.0)) else {
        anyhow::bail!("no validation candidate gave a finite R²");
    };
    // The chosen settings, trained on the first 80% and tested once on the last 20%.
    let embedded = train_candidate(runner, &dir, options, &marble_choice, "test-marble", "0.8")?;
    let marble_test = decode_last(
        runner,
        &embedded,
        "z",
        None,
        &dir.join("test-marble-z.json"),
    )?;
    let pca_table =
        if (pca_choice.smooth_ms, pca_choice.pca) == (marble_choice.smooth_ms, marble_choice.pca) {
            embedded
        } else {
            train_candidate(runner, &dir, options, &pca_choice, "test-pca", "0.8")?
        };
    let pca_test = decode_last(runner, &pca_table, "x", None, &dir.join("test-pca-x.json"))?;
    durations.insert("validation_s".into(), json!(t.elapsed().as_secs_f64()));

    let mut md = String::new();
    writeln!(
        md,
        "\n## Settings chosen on a validation split\n\nEach candidate is trained on the first \
         64% of the running bins and decoded (kNN, 36, cosine) on bins 64-80%, the last fifth \
         of the training part; the test bins (last 20%) are not touched. The best MARBLE and \
         the best PCA (kernel and dimension) by validation R² are then trained on the first \
         80% and tested once on the last 20%.\n\n\
         | candidate | MARBLE validation R² / error | PCA validation R² / error |\n\
         | --- | --- | --- |"
    )?;
    for (c, m, p) in &tried {
        writeln!(
            md,
            "| {} | {:.3} / {:.1} | {:.3} / {:.1} |",
            c.label(),
            m.0,
            m.1,
            p.0,
            p.1
        )?;
    }
    for (c, _) in &failed {
        writeln!(md, "| {} | failed (below) | - |", c.label())?;
    }
    for (c, e) in &failed {
        writeln!(md, "\n{}: {}", c.label(), e.replace('\n', " "))?;
    }
    writeln!(
        md,
        "\n| chosen on validation | test (last 20%) R² | test error (px) |\n| --- | --- | --- |\n\
         | MARBLE {} | {:.3} | {:.1} |\n| PCA {} | {:.3} | {:.1} |",
        marble_choice.label(),
        marble_test.0,
        marble_test.1,
        pca_choice.pca_label(),
        pca_test.0,
        pca_test.1
    )?;
    let results = json!({
        "candidates": tried.iter().map(|(c, m, p)| json!({
            "settings": c.json(), "label": c.label(),
            "marble_validation_r2": m.0, "marble_validation_error": m.1,
            "pca_validation_r2": p.0, "pca_validation_error": p.1,
        })).collect::<Vec<_>>(),
        "marble": {"settings": marble_choice.json(), "label": marble_choice.label(),
                   "test_r2": marble_test.0, "test_error": marble_test.1},
        "pca": {"settings": {"smooth_ms": pca_choice.smooth_ms, "pca": pca_choice.pca},
                "label": pca_choice.pca_label(),
                "test_r2": pca_test.0, "test_error": pca_test.1},
        "failed": failed.iter().map(|(c, e)| json!({"label": c.label(), "error": e}))
            .collect::<Vec<_>>(),
        "train_fraction": 0.64, "validation_rows": "64-80%",
    });
    Ok((results, md))
}
