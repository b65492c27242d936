//! `neuroforge stats` and `neuroforge fit-baseline` on the retina fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::PathBuf;

use crate::common::{browser, fixtures, run};
use neuroforge_io::{Activity, read_recording};

/// The statistics METHODS.md publishes for the retina baselines, and the published errors of
/// the shipped k-pairwise and DG samples, in that order.
const PUBLISHED_KEYS: [&str; 4] = [
    "firing_rate",
    "covariance",
    "population_count",
    "lag1_covariance",
];
const PUBLISHED_KPAIRWISE: [f64; 4] = [0.0121, 0.0745, 0.0046, 4.364];
const PUBLISHED_DG: [f64; 4] = [0.0117, 0.0708, 0.0078, 0.356];

fn retina(name: &str) -> PathBuf {
    fixtures().join("retina-marre2014").join(name)
}

fn stats_json(real: &str, generated: &std::path::Path, dir: &std::path::Path) -> serde_json::Value {
    let json = dir.join(format!(
        "{}.json",
        generated.file_stem().unwrap().to_string_lossy()
    ));
    let o = run(&[
        "stats",
        real,
        generated.to_str().unwrap(),
        "--bootstrap",
        "10",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn stats_of_the_shipped_samples_reproduce_the_published_errors() {
    let dir = tempfile::tempdir().unwrap();
    let real = retina("original_data_num_neurons_50_1.mat");
    for (file, published) in [
        ("k_pairwise_num_neurons_50_1.mat", PUBLISHED_KPAIRWISE),
        ("DG_num_neurons_50_1.mat", PUBLISHED_DG),
    ] {
        let c = stats_json(real.to_str().unwrap(), &retina(file), dir.path());
        for (key, want) in PUBLISHED_KEYS.iter().zip(published) {
            let got = c[key]["l1_error"].as_f64().unwrap();
            assert!(
                (got - want).abs() <= 0.01 * want,
                "{file} {key}: {got} vs {want}"
            );
            assert!(c[key]["ci95"].as_array().unwrap().len() == 2);
        }
        for key in [
            "autocorrelogram",
            "correlation",
            "isi_distribution",
            "spike_count_correlation",
            "van_rossum",
            "patterns",
        ] {
            assert!(c[key]["l1_error"].as_f64().unwrap().is_finite(), "{key}");
        }
    }
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn report_holds_a_table_and_its_plots() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.md");
    let o = run(&[
        "stats",
        retina("original_data_num_neurons_50_1.mat")
            .to_str()
            .unwrap(),
        retina("DG_num_neurons_50_1.mat").to_str().unwrap(),
        "--window",
        "32",
        "--bootstrap",
        "5",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("lag1_covariance") && stdout.contains("nearest_sample"));
    let md = std::fs::read_to_string(&report).unwrap();
    assert!(md.contains("| firing_rate |") && md.contains("| mean_time_course |"));
    let mut plots = 0;
    for line in md.lines().filter(|l| l.starts_with("![")) {
        let target = line.split("](").nth(1).unwrap().trim_end_matches(')');
        let svg = std::fs::read_to_string(dir.path().join(target)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{target}"
        );
        plots += 1;
    }
    // Scatter of rates, covariances, lag-1 covariances; P(k); autocorrelogram; rasters; ...
    assert!(plots >= 10, "{plots} plots");
    for name in [
        "firing_rate",
        "covariance",
        "lag1_covariance",
        "population_count",
        "autocorrelogram",
        "rasters",
    ] {
        assert!(md.contains(&format!("report_plots/{name}.svg")), "{name}");
    }
    // The verdict speaks for the headline statistics against the sampling noise.
    let verdict = md.lines().find(|l| l.starts_with("> **")).unwrap();
    for words in ["firing rates:", "covariances:", "P(k):", "sampling noise"] {
        assert!(verdict.contains(words), "{verdict}");
    }
    // The same report as one page, every plot inlined, checked in a browser.
    let figures = browser::check_report(&report.with_extension("html"), "stats-retina-dg");
    assert_eq!(figures, plots);
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn baselines_fitted_by_the_cli_reach_the_published_errors() {
    let dir = tempfile::tempdir().unwrap();
    let real = retina("original_data_num_neurons_50_1.mat");
    // The k-pairwise model has no temporal structure: its lag-1 error is not bounded.
    let kpairwise = [
        PUBLISHED_KPAIRWISE[0],
        PUBLISHED_KPAIRWISE[1],
        PUBLISHED_KPAIRWISE[2],
        f64::INFINITY,
    ];
    for (model, extra, published) in [
        ("dg", vec!["--period", "953"], PUBLISHED_DG),
        ("kpairwise", vec![], kpairwise),
    ] {
        let out = dir.path().join(format!("{model}.parquet"));
        let mut args = vec![
            "fit-baseline",
            model,
            real.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--seed",
            "3",
        ];
        args.extend(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let rec = read_recording(&out).unwrap();
        assert_eq!(rec.neurons(), 50);
        assert!(matches!(rec.activity(), Activity::Binned(_)));
        let truth = rec.provenance().ground_truth.as_ref().unwrap();
        assert_eq!(truth["seed"], 3);
        let c = stats_json(real.to_str().unwrap(), &out, dir.path());
        for (key, want) in PUBLISHED_KEYS.iter().zip(published) {
            let got = c[key]["l1_error"].as_f64().unwrap();
            assert!(
                got <= 1.5 * want,
                "{model} {key}: {got} vs published {want}"
            );
        }
    }
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn mismatched_or_unsuitable_inputs_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("s.json");
    let real = retina("original_data_num_neurons_50_1.mat");
    // 3 neurons against 50.
    let small = fixtures().join("formats/mat/counts_uint8_compressed.mat");
    let traces = fixtures().join("signal/oasis_traces.npy");
    for (generated, problem) in [
        (small.to_str().unwrap(), "neurons"),
        (traces.to_str().unwrap(), "not traces"),
    ] {
        let o = run(&[
            "stats",
            real.to_str().unwrap(),
            generated,
            "--json",
            json.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(problem), "{err}");
        assert!(!json.exists());
    }
    // Non-binary counts for the DG.
    let counts = fixtures().join("formats/npy/i4_fortran.npy");
    let out = dir.path().join("dg.parquet");
    let o = run(&[
        "fit-baseline",
        "dg",
        counts.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("binary"), "{err}");
    assert!(!out.exists());
}
