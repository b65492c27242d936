//! `cargo xtask reproduce cyclegan-synthetic`: CycleGAN between simulated pre- and
//! post-learning calcium imaging with a known change (METHODS.md section 2).
//!
//! Simulate the four recordings (unpaired pre and post training recordings; a held-out pre
//! recording and its true post). Train the main CycleGAN (neurons as channels), translate the
//! held-out pre recording, compare it with the true post (KL divergences of the per-neuron rate,
//! pairwise-correlation and van Rossum distributions; paired per-sample rate errors) beside the
//! untranslated pre, and score the explanation: the ROC AUC of the per-neuron attribution
//! against the changed neurons. Then, in the image layout (neurons x time, where neighbouring
//! neurons share kernels and the order matters), train with pre-sorted neurons and with a random
//! order (same seed, same schedule) and report both side by side.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use neuroforge_stats::translation::{PairedComparison, TranslationEvaluation};

use super::runner::{
    Runner, fresh_run_dir, git_commit, read_json, read_result, s, write_file, write_report,
};
use super::{Mode, Options};

/// The settings of one mode.
struct Settings {
    train_samples: usize,
    heldout_samples: usize,
    /// Iterations of the main (neuron-channel) model.
    iterations: u64,
    /// Iterations of each image-layout model of the sorting comparison.
    sorting_iterations: u64,
}

fn settings(mode: Mode) -> Settings {
    match mode {
        // About 2 minutes for the main model and 5 for each image-layout model on one core.
        // --standard changes only the Spike-GAN schedules.
        Mode::Quick | Mode::Standard => Settings {
            train_samples: 400,
            heldout_samples: 300,
            iterations: 3000,
            sorting_iterations: 1500,
        },
        Mode::Full => Settings {
            train_samples: 1200,
            heldout_samples: 600,
            iterations: 12000,
            sorting_iterations: 6000,
        },
    }
}

/// The image-layout networks of the sorting comparison: half the default widths and batch, and
/// Adam at 1e-3 instead of the published 2e-4, so that two of them learn within the quick
/// budget (an image-layout iteration costs about 25 times a neuron-channel one on flex).
const IMAGE_CONFIG: &str = "[model]\nlayout = \"image\"\ngenerator_channels = 8\n\
                            residual_blocks = 1\ndiscriminator_channels = [8, 16]\n\
                            [training]\nbatch_size = 8\nlearning_rate = 1e-3\n";

const DATA_SEED: u64 = 11;
const TRAIN_SEED: u64 = 5;

/// One model of the experiment.
struct Model {
    /// Its directory under the run.
    name: &'static str,
    /// `--sorting`.
    sorting: &'static str,
    /// Extra training flags.
    flags: Vec<String>,
    iterations: u64,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The key figures of one trained model: its evaluation (`translate --against ... --paired`)
/// and the AUCs of its attribution summary (`explain saliency --json`).
fn figures(evaluation: &TranslationEvaluation, attribution: &Value) -> Value {
    let (spikes, calcium) = (&evaluation.spikes, &evaluation.calcium);
    let paired =
        |pick: fn(&PairedComparison) -> f64| evaluation.paired.as_ref().map_or(f64::NAN, pick);
    json!({
        "changed_neuron_auc": num(&attribution["change"]["auc"]),
        "saliency_auc": num(&attribution["saliency"]["auc"]),
        "grad_cam_auc": num(&attribution["grad_cam"]["auc"]),
        "kl_translated_vs_post": spikes.translated_vs_real.rate_kl,
        "kl_pre_vs_post": spikes.input_vs_real.rate_kl,
        "correlation_kl_translated_vs_post": spikes.translated_vs_real.correlation_kl,
        "correlation_kl_pre_vs_post": spikes.input_vs_real.correlation_kl,
        "van_rossum_kl_translated_vs_post": spikes.translated_vs_real.van_rossum_kl,
        "van_rossum_kl_pre_vs_post": spikes.input_vs_real.van_rossum_kl,
        "calcium_rate_kl_translated_vs_post": calcium.translated_vs_real.rate_kl,
        "calcium_rate_kl_pre_vs_post": calcium.input_vs_real.rate_kl,
        "calcium_correlation_kl_translated_vs_post": calcium.translated_vs_real.correlation_kl,
        "calcium_correlation_kl_pre_vs_post": calcium.input_vs_real.correlation_kl,
        "l1_translated_vs_true_post": paired(|p| p.translated.rate_mae),
        "l1_pre_vs_true_post": paired(|p| p.input.rate_mae),
        "signal_mae_translated_vs_true_post": paired(|p| p.translated.signal_mae),
        "signal_mae_pre_vs_true_post": paired(|p| p.input.signal_mae),
    })
}

/// The ids of the changed neurons in a simulation's `truth.json`.
fn changed_neurons(data: &Path) -> Result<Vec<String>> {
    let truth = read_json(&data.join("truth.json"))?;
    Ok(truth["changed_neuron_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect())
}

/// `neuroforge explain saliency` of a run on the held-out pre recording of `data`, scored
/// against the `changed` neurons, with its report; returns the attribution JSON.
fn attribution(runner: &Runner, run_dir: &Path, data: &Path, changed: &[String]) -> Result<Value> {
    let json_path = run_dir.join("attribution.json");
    runner.run(&[
        "explain".into(),
        "saliency".into(),
        "--run-dir".into(),
        s(run_dir),
        "--data".into(),
        s(&data.join("heldout-pre.parquet")),
        "--out".into(),
        s(&run_dir.join("change.parquet")),
        "--changed".into(),
        changed.join(","),
        "--json".into(),
        s(&json_path),
        "--report".into(),
        s(&run_dir.join("attribution.md")),
    ])?;
    read_json(&json_path)
}

/// Runs the experiment into `runs/cyclegan-synthetic/` and returns its results.
pub fn run_synthetic(binary: &Path, options: &Options) -> Result<Value> {
    let name = "cyclegan-synthetic";
    let started = Instant::now();
    let dir = fresh_run_dir(name, options)?;
    let runner = Runner::new(binary, None);
    let settings = settings(options.mode);
    let mut durations = serde_json::Map::new();

    let t = Instant::now();
    let data = dir.join("data");
    runner.run(&[
        "simulate".into(),
        "prepost-imaging".into(),
        "--train-samples".into(),
        settings.train_samples.to_string(),
        "--heldout-samples".into(),
        settings.heldout_samples.to_string(),
        "--shift-neurons".into(),
        "0".into(),
        "--seed".into(),
        DATA_SEED.to_string(),
        "--out-dir".into(),
        s(&data),
    ])?;
    durations.insert("simulate_s".into(), json!(t.elapsed().as_secs_f64()));
    let changed = changed_neurons(&data)?;

    let image_config = dir.join("image.toml");
    write_file(&image_config, IMAGE_CONFIG)?;
    let models = [
        Model {
            name: "main",
            sorting: "hierarchical",
            flags: vec!["--network-layout".into(), "neuron-channels".into()],
            iterations: settings.iterations,
        },
        Model {
            name: "image-sorted",
            sorting: "hierarchical",
            flags: vec!["--config".into(), s(&image_config)],
            iterations: settings.sorting_iterations,
        },
        Model {
            name: "image-random",
            sorting: "random",
            flags: vec!["--config".into(), s(&image_config)],
            iterations: settings.sorting_iterations,
        },
    ];
    let mut per_model = serde_json::Map::new();
    for model in &models {
        let run_dir = dir.join(model.name);
        let t = Instant::now();
        let mut train = vec![
            "train".to_string(),
            "cyclegan".into(),
            "--pre".into(),
            s(&data.join("pre.parquet")),
            "--post".into(),
            s(&data.join("post.parquet")),
            "--run-dir".into(),
            s(&run_dir),
            "--sorting".into(),
            model.sorting.into(),
            "--seed".into(),
            TRAIN_SEED.to_string(),
            "--iterations".into(),
            model.iterations.to_string(),
        ];
        train.extend(model.flags.iter().cloned());
        if let Some(device) = &options.device {
            train.extend(["--device".into(), device.clone()]);
        }
        let train_line = runner.run(&train)?;
        durations.insert(
            format!("train_{}_s", model.name),
            json!(t.elapsed().as_secs_f64()),
        );
        let t = Instant::now();
        let evaluation = run_dir.join("evaluation.json");
        runner.run(&[
            "translate".into(),
            "--run-dir".into(),
            s(&run_dir),
            "--data".into(),
            s(&data.join("heldout-pre.parquet")),
            "--out".into(),
            s(&run_dir.join("translated.parquet")),
            "--against".into(),
            s(&data.join("heldout-post.parquet")),
            "--paired".into(),
            "--json".into(),
            s(&evaluation),
            "--report".into(),
            s(&run_dir.join("translation.md")),
        ])?;
        let attribution = attribution(&runner, &run_dir, &data, &changed)?;
        durations.insert(
            format!("evaluate_{}_s", model.name),
            json!(t.elapsed().as_secs_f64()),
        );
        let mut f = figures(&read_result(&evaluation)?, &attribution);
        f["training"] = read_json(&run_dir.join("manifest.json"))?["results"].clone();
        f["train_line"] = json!(train_line.trim());
        per_model.insert(model.name.into(), f);
    }
    let main = &per_model["main"];
    let sorted = &per_model["image-sorted"];
    let random = &per_model["image-random"];
    let keys = [
        "changed_neuron_auc",
        "kl_translated_vs_post",
        "kl_pre_vs_post",
        "l1_translated_vs_true_post",
        "l1_pre_vs_true_post",
    ];
    let mut results = json!({
        "experiment": name,
        "mode": format!("{:?}", options.mode).to_lowercase(),
        "changed_neurons": changed,
        "main": main,
        "sorting": {"hierarchical": sorted, "random": random},
    });
    for key in keys {
        results[key] = main[key].clone();
    }
    let closer = |f: &Value| {
        num(&f["kl_translated_vs_post"]) < num(&f["kl_pre_vs_post"])
            && num(&f["l1_translated_vs_true_post"]) < num(&f["l1_pre_vs_true_post"])
    };
    results["translated_closer_to_post"] = json!(closer(main));
    // The sorting's effect: the relative change of the paired rate error, and a verdict that
    // only calls a difference of more than 5% (the two models differ in nothing but the order).
    let (e_sorted, e_random) = (
        num(&sorted["l1_translated_vs_true_post"]),
        num(&random["l1_translated_vs_true_post"]),
    );
    let gain = (e_random - e_sorted) / e_random;
    results["sorting_error_reduction"] = json!(gain);
    results["sorting_verdict"] = json!(if gain > 0.05 {
        "helped"
    } else if gain < -0.05 {
        "hurt"
    } else {
        "no clear difference"
    });
    write_file(
        &dir.join("results.json"),
        &serde_json::to_string_pretty(&results)?,
    )?;
    write_report(&dir, &report(&results, options))?;
    let manifest = json!({
        "experiment": name,
        "commit": git_commit(),
        "features": options.features.clone().unwrap_or_else(|| "flex (default)".into()),
        "device": options.device.clone().unwrap_or_else(|| "flex (default)".into()),
        "seeds": {"data": DATA_SEED, "training": TRAIN_SEED},
        "settings": {
            "train_samples": settings.train_samples,
            "heldout_samples": settings.heldout_samples,
            "iterations": settings.iterations,
            "sorting_iterations": settings.sorting_iterations,
            "image_config": IMAGE_CONFIG,
        },
        "durations": durations,
        "total_s": started.elapsed().as_secs_f64(),
        "results": results.clone(),
    });
    write_file(
        &dir.join("manifest.json"),
        &serde_json::to_string_pretty(&manifest)?,
    )
    .context("writing the manifest")?;
    Ok(results)
}

/// The rows of the report's tables: label, key of the translated figure, key of the
/// untranslated one (empty when there is none).
const ROWS: [(&str, &str, &str); 8] = [
    (
        "rate KL (inferred spikes)",
        "kl_translated_vs_post",
        "kl_pre_vs_post",
    ),
    (
        "pairwise-correlation KL",
        "correlation_kl_translated_vs_post",
        "correlation_kl_pre_vs_post",
    ),
    (
        "van Rossum KL",
        "van_rossum_kl_translated_vs_post",
        "van_rossum_kl_pre_vs_post",
    ),
    (
        "rate KL (calcium)",
        "calcium_rate_kl_translated_vs_post",
        "calcium_rate_kl_pre_vs_post",
    ),
    (
        "correlation KL (calcium)",
        "calcium_correlation_kl_translated_vs_post",
        "calcium_correlation_kl_pre_vs_post",
    ),
    (
        "paired rate error (spikes/frame)",
        "l1_translated_vs_true_post",
        "l1_pre_vs_true_post",
    ),
    (
        "paired frame-by-frame error",
        "signal_mae_translated_vs_true_post",
        "signal_mae_pre_vs_true_post",
    ),
    (
        "ROC AUC: \\|G(x) - x\\|, saliency, Grad-CAM",
        "changed_neuron_auc",
        "",
    ),
];

fn report(results: &Value, options: &Options) -> String {
    let mut md = String::new();
    let f = |v: &Value| format!("{:.4}", num(v));
    let changed = results["changed_neurons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "# cyclegan-synthetic ({:?})\n\nCycleGAN between simulated pre- and post-learning calcium \
         imaging of 32 neurons (24 Hz, AR(1) calcium with a 0.5 s decay, noise 0.1). Post = pre \
         with a known change of neurons {changed}: doubled spike rates for four, a new \
         correlated assembly for four. The training recordings are unpaired; the held-out pre \
         recording is translated and compared with its true post. Device: {}.\n",
        options.mode,
        options.device.as_deref().unwrap_or("flex")
    );
    let main_auc = num(&results["main"]["changed_neuron_auc"]);
    let _ = writeln!(
        md,
        "> **The changed neurons were {}recovered** by |G(x) - x| of the main model (ROC AUC \
         {main_auc:.3}; the bar is 0.9). Translated statistics closer to the true post than the \
         untranslated pre: {}.\n",
        if main_auc >= 0.9 { "" } else { "not " },
        if results["translated_closer_to_post"] == json!(true) {
            "yes"
        } else {
            "no"
        }
    );
    let _ = writeln!(
        md,
        "![Main model, held-out window 0: pre, translated, true post](main/translation_plots/window-0.svg)\n\n\
         ![Main model: |G(x) - x| per neuron, the changed neurons in red](main/attribution_plots/change-neurons.svg)\n\n\
         ![Main model: saliency per neuron](main/attribution_plots/saliency-neurons.svg)\n\n\
         ![Main model: generators' losses while training](main/report_plots/training-generators.svg)\n\n\
         The main model's full reports: [translation](main/translation.md), \
         [attributions](main/attribution.md), [training](main/report.md).\n"
    );
    let auc = |m: &Value| {
        format!(
            "{} / {} / {}",
            f(&m["changed_neuron_auc"]),
            f(&m["saliency_auc"]),
            f(&m["grad_cam_auc"])
        )
    };
    let table = |md: &mut String, title: &str, models: &[(&str, &Value)]| {
        let _ = writeln!(md, "## {title}\n");
        let mut head = "| | untranslated pre |".to_string();
        let mut rule = "|---|---|".to_string();
        for (name, _) in models {
            head.push_str(&format!(" {name} |"));
            rule.push_str("---|");
        }
        let _ = writeln!(md, "{head}\n{rule}");
        for (label, key, baseline) in ROWS {
            let mut row = format!("| {label} |");
            row.push_str(&if baseline.is_empty() {
                " |".to_string()
            } else {
                format!(" {} |", f(&models[0].1[baseline]))
            });
            for (_, m) in models {
                let cell = if key == "changed_neuron_auc" {
                    auc(m)
                } else {
                    f(&m[key])
                };
                row.push_str(&format!(" {cell} |"));
            }
            let _ = writeln!(md, "{row}");
        }
        let _ = writeln!(md);
    };
    table(
        &mut md,
        "Main model (neurons as channels)",
        &[("translated", &results["main"])],
    );
    table(
        &mut md,
        "Neuron pre-sorting (image layout)",
        &[
            ("hierarchical order", &results["sorting"]["hierarchical"]),
            ("random order", &results["sorting"]["random"]),
        ],
    );
    let _ = writeln!(
        md,
        "Translated statistics closer to the true post than the untranslated pre (rate KL and \
         paired rate error, main model): **{}**. Pre-sorting against a random order in the \
         image layout: **{}** (paired rate error {:+.1}% of the random order's; a difference \
         is only called beyond 5%).\n\n\
         KL divergences are CalciumGAN's (30 shared bins, empty bins at 1e-10), averaged over \
         neurons for rates and van Rossum distances, over neuron pairs for correlations; a rate \
         is the mean inferred spike signal per frame of one neuron in one 64-frame window. The \
         paired errors compare each translated window with its true post: the rate error per \
         neuron and window, and the frame-by-frame error of the inferred spikes. Where the true \
         post adds spikes at random frames (the rate gain, the assembly's shared train), no \
         translation can place them, so the frame-by-frame error need not fall below the \
         untranslated one. In the neuron-channel layout the Grad-CAM map has no neuron axis \
         (its AUC is 0.5 by construction).",
        results["translated_closer_to_post"],
        results["sorting_verdict"].as_str().unwrap_or("?"),
        -100.0 * num(&results["sorting_error_reduction"])
    );
    md
}

/// The settings of `cyclegan-counts` in one mode: the main model's training samples (64 bins
/// each), its iterations, and the training sizes of the data-size curve.
struct CountSettings {
    train_samples: usize,
    heldout_samples: usize,
    iterations: u64,
    curve: &'static [usize],
}

fn count_settings(mode: Mode) -> CountSettings {
    match mode {
        // Seven models of about a minute each on two cores.
        Mode::Quick | Mode::Standard => CountSettings {
            train_samples: 100,
            heldout_samples: 100,
            iterations: 3000,
            curve: &[1, 2, 5, 10, 25, 50],
        },
        Mode::Full => CountSettings {
            train_samples: 400,
            heldout_samples: 100,
            iterations: 12000,
            curve: &[1, 2, 5, 10, 25, 50, 100, 200],
        },
    }
}

/// The key figures of a counts model: the change and saliency AUCs, and the translated and
/// untranslated held-out pre against the true post (distributions: mean rates, pairwise
/// correlations; paired: rate error per neuron and window).
fn count_figures(evaluation: &TranslationEvaluation, attribution: &Value) -> Value {
    let counts = &evaluation.spikes;
    let paired =
        |pick: fn(&PairedComparison) -> f64| evaluation.paired.as_ref().map_or(f64::NAN, pick);
    json!({
        "changed_neuron_auc": num(&attribution["change"]["auc"]),
        "saliency_auc": num(&attribution["saliency"]["auc"]),
        "rate_l1_translated_vs_post": counts.translated_vs_real.mean_rate_l1,
        "rate_l1_pre_vs_post": counts.input_vs_real.mean_rate_l1,
        "correlation_l1_translated_vs_post": counts.translated_vs_real.correlation_l1,
        "correlation_l1_pre_vs_post": counts.input_vs_real.correlation_l1,
        "correlation_kl_translated_vs_post": counts.translated_vs_real.correlation_kl,
        "correlation_kl_pre_vs_post": counts.input_vs_real.correlation_kl,
        "covariance_l1_translated_vs_post": counts.translated_vs_real.covariance_l1,
        "covariance_l1_pre_vs_post": counts.input_vs_real.covariance_l1,
        "bin_covariance_l1_translated_vs_post": counts.translated_vs_real.frame_covariance_l1,
        "bin_covariance_l1_pre_vs_post": counts.input_vs_real.frame_covariance_l1,
        "paired_rate_error_translated": paired(|p| p.translated.rate_mae),
        "paired_rate_error_pre": paired(|p| p.input.rate_mae),
        "paired_bin_error_translated": paired(|p| p.translated.signal_mae),
        "paired_bin_error_pre": paired(|p| p.input.signal_mae),
    })
}

/// Simulate counts with `train_samples` training samples per condition into `data`, train a
/// neuron-channel CycleGAN in `run_dir`, translate the held-out pre (real-valued and as
/// integer counts) and score it. Returns the figures and the training line.
fn counts_model(
    runner: &Runner,
    options: &Options,
    data: &Path,
    run_dir: &Path,
    train_samples: usize,
    settings: &CountSettings,
) -> Result<(Value, String)> {
    runner.run(&[
        "simulate".into(),
        "prepost-counts".into(),
        "--train-samples".into(),
        train_samples.to_string(),
        "--heldout-samples".into(),
        settings.heldout_samples.to_string(),
        "--shift-neurons".into(),
        "0".into(),
        "--seed".into(),
        DATA_SEED.to_string(),
        "--out-dir".into(),
        s(data),
    ])?;
    let changed = changed_neurons(data)?;
    let mut train = vec![
        "train".to_string(),
        "cyclegan".into(),
        "--pre".into(),
        s(&data.join("pre.parquet")),
        "--post".into(),
        s(&data.join("post.parquet")),
        "--run-dir".into(),
        s(run_dir),
        "--network-layout".into(),
        "neuron-channels".into(),
        "--seed".into(),
        TRAIN_SEED.to_string(),
        "--iterations".into(),
        settings.iterations.to_string(),
    ];
    if let Some(device) = &options.device {
        train.extend(["--device".into(), device.clone()]);
    }
    let train_line = runner.run(&train)?;
    let evaluation = run_dir.join("evaluation.json");
    let translate = |out: &str, json_path: &Path, extra: &[&str]| -> Result<String> {
        let mut args = vec![
            "translate".to_string(),
            "--run-dir".into(),
            s(run_dir),
            "--data".into(),
            s(&data.join("heldout-pre.parquet")),
            "--out".into(),
            s(&run_dir.join(out)),
            "--against".into(),
            s(&data.join("heldout-post.parquet")),
            "--paired".into(),
            "--json".into(),
            s(json_path),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        runner.run(&args)
    };
    let report = run_dir.join("translation.md");
    translate(
        "translated.parquet",
        &evaluation,
        &["--report", &s(&report)],
    )?;
    let integer = run_dir.join("evaluation-integer.json");
    translate(
        "translated-counts.parquet",
        &integer,
        &["--integer-counts", "--seed", "1"],
    )?;
    let attribution = attribution(runner, run_dir, data, &changed)?;
    let mut f = count_figures(&read_result(&evaluation)?, &attribution);
    f["integer_counts"] = count_figures(&read_result(&integer)?, &attribution);
    f["training_bins"] = json!(train_samples * 64);
    f["changed_neurons"] = json!(changed);
    Ok((f, train_line))
}

/// `cargo xtask reproduce cyclegan-counts`: CycleGAN on simulated binned spike counts before
/// and after learning (32 neurons, 20 ms bins, about 13 Hz; post = pre with doubled rates for
/// four neurons and a new assembly of four), the held-out pre translated and compared with its
/// true post, and the same at smaller training sizes (the data-size curve).
pub fn run_counts(binary: &Path, options: &Options) -> Result<Value> {
    let name = "cyclegan-counts";
    let started = Instant::now();
    let dir = fresh_run_dir(name, options)?;
    // One model at a time: both cores for each.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runner = Runner::new(binary, None).with_threads(threads);
    let settings = count_settings(options.mode);
    let mut durations = serde_json::Map::new();
    let t = Instant::now();
    let (main, train_line) = counts_model(
        &runner,
        options,
        &dir.join("data"),
        &dir.join("main"),
        settings.train_samples,
        &settings,
    )?;
    durations.insert("main_s".into(), json!(t.elapsed().as_secs_f64()));
    let mut curve = vec![main.clone()];
    for &samples in settings.curve {
        let t = Instant::now();
        let (f, _) = counts_model(
            &runner,
            options,
            &dir.join(format!("data-{samples}")),
            &dir.join(format!("size-{samples}")),
            samples,
            &settings,
        )?;
        durations.insert(
            format!("size_{samples}_s"),
            json!(t.elapsed().as_secs_f64()),
        );
        curve.push(f);
    }
    curve.sort_by_key(|f| f["training_bins"].as_u64().unwrap_or(0));
    // Rates, distributional and paired, are the bar. The correlations and covariances are
    // reported beside it: only the changed pairs differ between the paired pre and post, so
    // any imprecision of the translation on the unchanged neurons counts against it.
    let closer = |f: &Value| {
        num(&f["rate_l1_translated_vs_post"]) < num(&f["rate_l1_pre_vs_post"])
            && num(&f["paired_rate_error_translated"]) < num(&f["paired_rate_error_pre"])
    };
    let closer_in = |translated: &str, pre: &str| num(&main[translated]) < num(&main[pre]);
    // The smallest training size from which every size of the curve passes both bars.
    let passes = |f: &Value| num(&f["changed_neuron_auc"]) >= 0.9 && closer(f);
    let trustworthy_from = curve
        .iter()
        .rposition(|f| !passes(f))
        .map_or(curve.first(), |i| curve.get(i + 1))
        .and_then(|f| f["training_bins"].as_u64());
    let correlations_closer = closer_in(
        "correlation_l1_translated_vs_post",
        "correlation_l1_pre_vs_post",
    );
    let results = json!({
        "experiment": name,
        "mode": options.mode.name(),
        "changed_neuron_auc": main["changed_neuron_auc"],
        "rate_l1_translated_vs_post": main["rate_l1_translated_vs_post"],
        "rate_l1_pre_vs_post": main["rate_l1_pre_vs_post"],
        "correlation_l1_translated_vs_post": main["correlation_l1_translated_vs_post"],
        "correlation_l1_pre_vs_post": main["correlation_l1_pre_vs_post"],
        "paired_rate_error_translated": main["paired_rate_error_translated"],
        "paired_rate_error_pre": main["paired_rate_error_pre"],
        "translated_closer_to_post": closer(&main),
        "trustworthy_from_bins": trustworthy_from,
        "correlations_closer_to_post": correlations_closer,
        "covariance_l1_translated_vs_post": main["covariance_l1_translated_vs_post"],
        "covariance_l1_pre_vs_post": main["covariance_l1_pre_vs_post"],
        "bin_covariance_l1_translated_vs_post": main["bin_covariance_l1_translated_vs_post"],
        "bin_covariance_l1_pre_vs_post": main["bin_covariance_l1_pre_vs_post"],
        "covariances_closer_to_post": closer_in(
            "covariance_l1_translated_vs_post",
            "covariance_l1_pre_vs_post",
        ),
        "bin_covariances_closer_to_post": closer_in(
            "bin_covariance_l1_translated_vs_post",
            "bin_covariance_l1_pre_vs_post",
        ),
        "main": main,
        "curve": curve,
        "train_line": train_line.trim(),
    });
    write_file(
        &dir.join("results.json"),
        &serde_json::to_string_pretty(&results)?,
    )?;
    write_report(&dir, &counts_report(&results, &settings, options))?;
    let manifest = json!({
        "experiment": name,
        "commit": git_commit(),
        "features": options.features.clone().unwrap_or_else(|| "flex (default)".into()),
        "device": options.device.clone().unwrap_or_else(|| "flex (default)".into()),
        "seeds": {"data": DATA_SEED, "training": TRAIN_SEED, "integer_counts": 1},
        "settings": {
            "train_samples": settings.train_samples,
            "heldout_samples": settings.heldout_samples,
            "bins_per_sample": 64,
            "iterations": settings.iterations,
            "curve_train_samples": settings.curve,
        },
        "durations": durations,
        "total_s": started.elapsed().as_secs_f64(),
        "results": results.clone(),
    });
    write_file(
        &dir.join("manifest.json"),
        &serde_json::to_string_pretty(&manifest)?,
    )
    .context("writing the manifest")?;
    println!(
        "{name}: change AUC {:.3}; rate L1 {:.4} translated vs {:.4} untranslated; {:.0} s",
        num(&results["changed_neuron_auc"]),
        num(&results["rate_l1_translated_vs_post"]),
        num(&results["rate_l1_pre_vs_post"]),
        started.elapsed().as_secs_f64()
    );
    Ok(results)
}

fn yes_no(v: &Value) -> &'static str {
    if v == &json!(true) { "yes" } else { "no" }
}

fn counts_report(results: &Value, settings: &CountSettings, options: &Options) -> String {
    let mut md = String::new();
    let main = &results["main"];
    let auc = num(&main["changed_neuron_auc"]);
    let _ = writeln!(
        md,
        "# cyclegan-counts ({:?})\n\nCycleGAN between simulated binned spike counts before and \
         after learning: 32 neurons, 20 ms bins (4 frames of the `uniform` population summed), \
         about 0.26 spikes per bin. Post = pre with doubled rates for four neurons and a new \
         correlated assembly of four ({}). The two training recordings ({} bins each) are \
         unpaired; the held-out pre ({} bins) is translated and compared with its true post. \
         Pipeline: counts, square root, z-scoring fitted on both conditions, hierarchical \
         sorting, 64-bin windows every 16; neuron-channel networks, instance noise 1 (the \
         default for counts), {} iterations, seed {}. \
         Device: {}.\n",
        options.mode,
        main["changed_neurons"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default(),
        settings.train_samples * 64,
        settings.heldout_samples * 64,
        settings.iterations,
        TRAIN_SEED,
        options.device.as_deref().unwrap_or("flex")
    );
    let _ = writeln!(
        md,
        "> **The changed neurons were {}recovered** by |G(x) - x| (ROC AUC {auc:.3}; the bar is \
         0.9). Translated rates closer to the true post than the untranslated pre (mean rates \
         and paired rate errors): **{}**. Covariances closer (L1, variances included): **{}** \
         at the 20 ms bin, **{}** over 240 ms; pairwise correlations closer (L1 over 240 ms): \
         **{}**.\n",
        if auc >= 0.9 { "" } else { "not " },
        yes_no(&results["translated_closer_to_post"]),
        yes_no(&results["bin_covariances_closer_to_post"]),
        yes_no(&results["covariances_closer_to_post"]),
        yes_no(&results["correlations_closer_to_post"]),
    );
    let rows: [(&str, &str, &str); 7] = [
        (
            "mean rate L1 (spikes/bin)",
            "rate_l1_translated_vs_post",
            "rate_l1_pre_vs_post",
        ),
        (
            "pairwise correlation L1",
            "correlation_l1_translated_vs_post",
            "correlation_l1_pre_vs_post",
        ),
        (
            "pairwise correlation KL",
            "correlation_kl_translated_vs_post",
            "correlation_kl_pre_vs_post",
        ),
        (
            "covariance L1, 20 ms bins (spikes²)",
            "bin_covariance_l1_translated_vs_post",
            "bin_covariance_l1_pre_vs_post",
        ),
        (
            "covariance L1, 240 ms bins (spikes²)",
            "covariance_l1_translated_vs_post",
            "covariance_l1_pre_vs_post",
        ),
        (
            "paired rate error per neuron and window (spikes/bin)",
            "paired_rate_error_translated",
            "paired_rate_error_pre",
        ),
        (
            "paired bin-by-bin error (spikes)",
            "paired_bin_error_translated",
            "paired_bin_error_pre",
        ),
    ];
    let _ = writeln!(
        md,
        "| held-out pre vs true post | untranslated pre | translated | translated, integer counts |\n\
         | --- | --- | --- | --- |"
    );
    for (label, translated, untranslated) in rows {
        let _ = writeln!(
            md,
            "| {label} | {:.4} | {:.4} | {:.4} |",
            num(&main[untranslated]),
            num(&main[translated]),
            num(&main["integer_counts"][translated])
        );
    }
    let _ = writeln!(
        md,
        "| ROC AUC: \\|G(x) - x\\| / saliency | - | {:.3} / {:.3} | |\n",
        auc,
        num(&main["saliency_auc"])
    );
    let _ = writeln!(
        md,
        "## Data-size curve\n\nThe same simulation, settings and seeds with fewer training \
         bins per condition (each size simulated afresh from the data seed, so its held-out \
         recording is a new draw of the same size). Every size from **{}** training bins on \
         finds the changed neurons (AUC >= 0.9) and brings the rates closer to the post:\n\n\
         | training bins per condition | change AUC | rate L1 translated / pre | correlation L1 \
         translated / pre | covariance L1 (20 ms) translated / pre | paired rate error \
         translated / pre |\n| --- | --- | --- | --- | --- | --- |",
        results["trustworthy_from_bins"]
            .as_u64()
            .map_or("no size".to_string(), |b| b.to_string())
    );
    if let Some(curve) = results["curve"].as_array() {
        for f in curve {
            let _ = writeln!(
                md,
                "| {} | {:.3} | {:.4} / {:.4} | {:.4} / {:.4} | {:.4} / {:.4} | {:.4} / {:.4} |",
                f["training_bins"],
                num(&f["changed_neuron_auc"]),
                num(&f["rate_l1_translated_vs_post"]),
                num(&f["rate_l1_pre_vs_post"]),
                num(&f["correlation_l1_translated_vs_post"]),
                num(&f["correlation_l1_pre_vs_post"]),
                num(&f["bin_covariance_l1_translated_vs_post"]),
                num(&f["bin_covariance_l1_pre_vs_post"]),
                num(&f["paired_rate_error_translated"]),
                num(&f["paired_rate_error_pre"])
            );
        }
    }
    let _ = writeln!(
        md,
        "\n![Held-out window 0: pre, translated, true post](main/translation_plots/window-0.svg)\n\n\
         ![|G(x) - x| per neuron, the changed neurons in red](main/attribution_plots/change-neurons.svg)\n\n\
         Full reports: [translation](main/translation.md), [attributions](main/attribution.md), \
         [training](main/report.md)."
    );
    md
}
