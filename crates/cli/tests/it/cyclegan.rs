//! `neuroforge train cyclegan`, `translate`, `explain saliency` and `resume` end to end on
//! simulated pre/post imaging, and their one-line errors on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::{browser, fails, ok};
use neuroforge_io::{Activity, read_recording};

fn simulate(dir: &std::path::Path, neurons: usize) {
    let out = dir.to_str().unwrap();
    ok(&[
        "simulate",
        "prepost-imaging",
        "--neurons",
        &neurons.to_string(),
        "--bins",
        "32",
        "--gain-neurons",
        "2",
        "--assembly-neurons",
        "2",
        "--shift-neurons",
        "0",
        "--train-samples",
        "40",
        "--heldout-samples",
        "10",
        "--seed",
        "3",
        "--out-dir",
        out,
    ]);
}

#[test]
fn train_translate_explain_and_resume_a_small_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    simulate(&data, 8);
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let d = |name: &str| data.join(name).to_str().unwrap().to_string();
    let line = ok(&[
        "train",
        "cyclegan",
        "--pre",
        &d("pre.parquet"),
        "--post",
        &d("post.parquet"),
        "--run-dir",
        &p("run"),
        "--network-layout",
        "neuron-channels",
        "--window",
        "32",
        "--stride",
        "8",
        "--iterations",
        "4",
        "--batch-size",
        "4",
        "--checkpoint-every",
        "2",
    ]);
    assert!(line.contains("4 iterations"), "{line}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["model"], "cyclegan");
    assert!(
        manifest["more_data"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("post.parquet")
    );
    let steps = manifest["results"]["preprocessing_steps"]
        .as_array()
        .unwrap();
    assert!(
        steps
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("dF/F"))
    );

    let line = ok(&["resume", "--run-dir", &p("run"), "--iterations", "6"]);
    assert!(line.contains("6 iterations"), "{line}");
    // The run's training report, written again by resume: generators' and discriminators'
    // losses.
    assert_eq!(
        browser::check_report(&dir.path().join("run/report.html"), "cyclegan-training"),
        2
    );

    ok(&[
        "translate",
        "--run-dir",
        &p("run"),
        "--data",
        &d("heldout-pre.parquet"),
        "--out",
        &p("translated.parquet"),
        "--against",
        &d("heldout-post.parquet"),
        "--paired",
        "--json",
        &p("evaluation.json"),
        "--report",
        &p("translation.md"),
    ]);
    // Three windows (pre | translated | post) and the per-neuron rate KL of both.
    assert_eq!(
        browser::check_report(&dir.path().join("translation.html"), "cyclegan-translation"),
        5
    );
    let translation = std::fs::read_to_string(p("translation.md")).unwrap();
    assert!(translation.contains("| rate KL |") && translation.contains("| paired rate MAE |"));
    let translated = read_recording(dir.path().join("translated.parquet").as_path()).unwrap();
    let held = read_recording(data.join("heldout-pre.parquet").as_path()).unwrap();
    assert_eq!(translated.neuron_ids(), held.neuron_ids());
    let Activity::Traces(t) = translated.activity() else {
        panic!("traces expected")
    };
    // 10 held-out samples of 32 frames: 10 windows of 32.
    assert_eq!(t.values.dim(), (8, 320));
    let eval: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("evaluation.json")).unwrap()).unwrap();
    for key in ["rate_kl", "correlation_kl", "van_rossum_kl"] {
        assert!(
            eval["spikes"]["translated_vs_real"][key]
                .as_f64()
                .unwrap()
                .is_finite()
        );
        assert!(
            eval["calcium"]["input_vs_real"][key]
                .as_f64()
                .unwrap()
                .is_finite()
        );
    }
    assert!(eval["paired"]["input"]["rate_mae"].as_f64().unwrap() >= 0.0);

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("truth.json")).unwrap()).unwrap();
    let changed: Vec<&str> = truth["changed_neuron_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let line = ok(&[
        "explain",
        "saliency",
        "--run-dir",
        &p("run"),
        "--data",
        &d("heldout-pre.parquet"),
        "--out",
        &p("change.parquet"),
        "--changed",
        &changed.join(","),
        "--json",
        &p("attribution.json"),
        "--report",
        &p("attribution.md"),
    ]);
    assert!(line.contains("change AUC"), "{line}");
    let attr: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("attribution.json")).unwrap()).unwrap();
    let report = std::fs::read_to_string(p("attribution.md")).unwrap();
    for map in ["change", "saliency", "grad_cam"] {
        let per_neuron: Vec<f64> = attr[map]["per_neuron"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(per_neuron.len(), 8);
        let auc = attr[map]["auc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&auc));
        // A map that gives every neuron the same value is flagged in the JSON, the printed line
        // and the report; one that does not is not.
        let equal = per_neuron
            .iter()
            .all(|v| (v - per_neuron[0]).abs() <= 1e-6 * v.abs());
        assert_eq!(attr[map]["degenerate"], serde_json::json!(equal), "{map}");
        assert_eq!(
            line.contains(&format!("{map} AUC {auc:.3}, degenerate")),
            equal,
            "{map}: {line}"
        );
        assert_eq!(
            report.contains(&format!("`{map}` is degenerate")),
            equal,
            "{map}"
        );
        assert!(report.contains(&format!("attribution_plots/{map}-neurons.svg")));
    }
    // Bars and mean map of each of the three attributions.
    assert_eq!(
        browser::check_report(&dir.path().join("attribution.html"), "cyclegan-attribution"),
        6
    );
    let change = read_recording(dir.path().join("change.parquet").as_path()).unwrap();
    assert_eq!(change.neuron_ids(), held.neuron_ids());
}

#[test]
fn mismatched_neurons_and_spike_counts_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (eight, ten) = (dir.path().join("eight"), dir.path().join("ten"));
    simulate(&eight, 8);
    simulate(&ten, 10);
    let run_dir = dir.path().join("run");
    let (run_str, pre) = (run_dir.to_str().unwrap(), eight.join("pre.parquet"));
    let train = |pre: &std::path::Path, post: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "train",
            "cyclegan",
            "--pre",
            pre.to_str().unwrap(),
            "--post",
            post.to_str().unwrap(),
            "--run-dir",
            run_str,
        ];
        args.extend_from_slice(extra);
        fails(&args)
    };
    let stderr = train(&pre, &ten.join("post.parquet"), &["--window", "32"]);
    assert!(
        stderr.contains("post.parquet") && stderr.contains("same neurons"),
        "{stderr}"
    );
    assert!(!run_dir.exists(), "no run directory after a refused start");

    // Spike counts are not calcium traces.
    let counts = dir.path().join("counts.parquet");
    ok(&[
        "simulate",
        "uniform",
        "--samples",
        "4",
        "--seed",
        "1",
        "--out",
        counts.to_str().unwrap(),
    ]);
    let stderr = train(&counts, &eight.join("post.parquet"), &[]);
    assert!(
        stderr.contains("counts.parquet") && stderr.contains("traces"),
        "{stderr}"
    );

    // A config key that does not exist.
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[training]\nlearning_rat = 1e-3\n").unwrap();
    let stderr = train(
        &pre,
        &eight.join("post.parquet"),
        &["--config", config.to_str().unwrap()],
    );
    assert!(
        stderr.contains("bad.toml") && stderr.contains("learning_rat"),
        "{stderr}"
    );
}

/// Binned spike counts train CycleGAN without dF/F or spike inference (the run's config says
/// so), translate back to the same neurons, and a translation of traces by that run is
/// refused; pre counts against post traces are refused before a run exists.
#[test]
fn binned_counts_train_and_translate_and_must_match_the_run() {
    use neuroforge_io::{BinnedActivity, Provenance, Recording, default_neuron_ids};
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let counts = |seed: u64, gain: u32| {
        // A small deterministic pattern: neuron n fires in bin t when (t * (n + 3) + seed) % 7
        // < 2, neuron 0 `gain` times as often in post.
        let values = ndarray::Array2::from_shape_fn((6, 320), |(n, t)| {
            let base = u32::from((t as u64 * (n as u64 + 3) + seed) % 7 < 2);
            if n == 0 { base * gain } else { base }
        });
        Recording::new(
            default_neuron_ids(6),
            Activity::Binned(BinnedActivity {
                counts: values,
                bin_width_s: Some(0.05),
            }),
            vec![],
            Provenance::default(),
        )
        .unwrap()
    };
    neuroforge_io::write_recording(dir.path().join("pre.parquet").as_path(), &counts(1, 1))
        .unwrap();
    neuroforge_io::write_recording(dir.path().join("post.parquet").as_path(), &counts(1, 2))
        .unwrap();
    ok(&[
        "train",
        "cyclegan",
        "--pre",
        &p("pre.parquet"),
        "--post",
        &p("post.parquet"),
        "--run-dir",
        &p("run"),
        "--window",
        "32",
        "--stride",
        "16",
        "--iterations",
        "2",
        "--batch-size",
        "4",
    ]);
    let config = std::fs::read_to_string(dir.path().join("run/config.toml")).unwrap();
    assert!(config.contains("input = \"counts\""), "{config}");
    ok(&[
        "translate",
        "--run-dir",
        &p("run"),
        "--data",
        &p("pre.parquet"),
        "--out",
        &p("translated.parquet"),
    ]);
    let translated = read_recording(dir.path().join("translated.parquet").as_path()).unwrap();
    assert_eq!(translated.neuron_ids(), default_neuron_ids(6).as_slice());
    assert_eq!(translated.quantity().0, "translated spike counts");
    let Activity::Traces(t) = translated.activity() else {
        panic!("translations are real-valued")
    };
    assert_eq!(t.frame_rate_hz, Some(20.0), "one value per 50 ms bin");
    // Counts are square-rooted before the normalisation, and come back never negative.
    let preprocessing = std::fs::read_to_string(dir.path().join("run/preprocessing.json")).unwrap();
    assert!(
        preprocessing.contains("\"transform\": \"sqrt\""),
        "{preprocessing}"
    );
    assert!(t.values.iter().all(|&v| v >= 0.0 && v.is_finite()));
    // Integer counts: a binned recording whose mean per neuron is the real-valued one's within
    // the rounding's noise (each draw adds at most 1/4 of variance).
    ok(&[
        "translate",
        "--run-dir",
        &p("run"),
        "--data",
        &p("pre.parquet"),
        "--out",
        &p("integer.parquet"),
        "--integer-counts",
        "--seed",
        "3",
    ]);
    let integer = read_recording(dir.path().join("integer.parquet").as_path()).unwrap();
    let Activity::Binned(b) = integer.activity() else {
        panic!("--integer-counts writes binned counts")
    };
    assert_eq!(b.bin_width_s, Some(0.05));
    assert_eq!(b.counts.dim(), t.values.dim());
    for (counts, values) in b.counts.rows().into_iter().zip(t.values.rows()) {
        let bins = counts.len() as f64;
        let mean_counts = counts.iter().map(|&c| f64::from(c)).sum::<f64>() / bins;
        let mean_values = values.iter().map(|&v| f64::from(v)).sum::<f64>() / bins;
        assert!(
            (mean_counts - mean_values).abs() <= 4.0 * (0.25 / bins).sqrt(),
            "{mean_counts} against {mean_values}"
        );
        for (&c, &v) in counts.iter().zip(values.iter()) {
            assert!(f64::from(c) == f64::from(v).floor() || f64::from(c) == f64::from(v).ceil());
        }
    }

    // Traces given to a run trained on counts.
    let traces = dir.path().join("traces");
    simulate(&traces, 6);
    let stderr = fails(&[
        "translate",
        "--run-dir",
        &p("run"),
        "--data",
        traces.join("pre.parquet").to_str().unwrap(),
        "--out",
        &p("refused.parquet"),
    ]);
    assert!(
        stderr.contains("holds calcium traces, but the run was trained on binned spike counts"),
        "{stderr}"
    );
    assert!(!dir.path().join("refused.parquet").exists());
    // Integer counts from a run trained on calcium.
    let calcium_run = dir.path().join("calcium-run");
    ok(&[
        "train",
        "cyclegan",
        "--pre",
        traces.join("pre.parquet").to_str().unwrap(),
        "--post",
        traces.join("post.parquet").to_str().unwrap(),
        "--run-dir",
        calcium_run.to_str().unwrap(),
        "--window",
        "32",
        "--iterations",
        "1",
        "--batch-size",
        "2",
    ]);
    let stderr = fails(&[
        "translate",
        "--run-dir",
        calcium_run.to_str().unwrap(),
        "--data",
        traces.join("pre.parquet").to_str().unwrap(),
        "--out",
        &p("refused.parquet"),
        "--integer-counts",
    ]);
    assert!(stderr.contains("--integer-counts"), "{stderr}");
    assert!(!dir.path().join("refused.parquet").exists());
    // Counts against traces.
    let stderr = fails(&[
        "train",
        "cyclegan",
        "--pre",
        &p("pre.parquet"),
        "--post",
        traces.join("post.parquet").to_str().unwrap(),
        "--run-dir",
        &p("run2"),
    ]);
    assert!(
        stderr.contains("holds calcium traces, but") && stderr.contains("binned spike counts"),
        "{stderr}"
    );
    assert!(!dir.path().join("run2").exists());
}
