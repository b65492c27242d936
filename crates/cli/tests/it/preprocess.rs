//! `neuroforge preprocess` end to end: OASIS on simulated calcium (against the reference
//! traces), binarisation, neuron sorting with ids that map back, and refusals.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};

use crate::common::{fixtures, run};
use neuroforge_io::{Activity, NumericData, read_recording};
use neuroforge_signal::pearson;

/// The simulated traces and true spikes of fixtures/signal/oasis_reference.json, the traces
/// written as a neurons-by-time NPY file in `dir`.
fn simulated_calcium(dir: &Path) -> (PathBuf, Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(fixtures().join("signal/oasis_reference.json")).unwrap();
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let traces: Vec<Vec<f64>> = serde_json::from_value(r["traces"].clone()).unwrap();
    let spikes: Vec<Vec<f64>> = serde_json::from_value(r["spikes"].clone()).unwrap();
    let path = dir.join("calcium.npy");
    let mut f = std::fs::File::create(&path).unwrap();
    let flat: Vec<f64> = traces.iter().flatten().copied().collect();
    neuroforge_io::npy::write(
        &mut f,
        &[traces.len(), traces[0].len()],
        &NumericData::F64(flat),
    )
    .unwrap();
    (path, traces, spikes)
}

#[test]
fn deconvolution_recovers_the_simulated_spikes() {
    let dir = tempfile::tempdir().unwrap();
    let (input, traces, spikes) = simulated_calcium(dir.path());
    let out = dir.path().join("spikes.parquet");
    let o = run(&[
        "preprocess",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--deconvolve",
        "--g",
        "0.95",
        "--lam",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = read_recording(&out).unwrap();
    let Activity::Traces(t) = rec.activity() else {
        panic!("inferred spikes are traces")
    };
    for (n, truth) in spikes.iter().enumerate() {
        let inferred: Vec<f64> = t.values.row(n).iter().map(|&v| f64::from(v)).collect();
        // The same numbers as the library call (stored as float32).
        let direct = neuroforge_signal::oasis_ar1(&traces[n], 0.95, 0.3, 0.0).unwrap();
        assert!(
            inferred
                .iter()
                .zip(&direct.spikes)
                .all(|(a, b)| (a - b).abs() < 1e-5)
        );
        let corr = pearson(&inferred, truth);
        assert!(corr > 0.8, "neuron {n}: correlation {corr}");
    }
    assert!(
        rec.provenance()
            .steps
            .iter()
            .any(|s| s.contains("OASIS AR(1)"))
    );

    // Binarised spike words: mostly where the true spikes are.
    let words = dir.path().join("words.parquet");
    let o = run(&[
        "preprocess",
        input.to_str().unwrap(),
        "--out",
        words.to_str().unwrap(),
        "--deconvolve",
        "--g",
        "0.95",
        "--s-min",
        "0.5",
        "--binarize",
        "0.5",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = read_recording(&words).unwrap();
    let Activity::Binned(b) = rec.activity() else {
        panic!("binarised spikes are binned")
    };
    assert!(b.counts.iter().all(|&c| c <= 1));
    let (mut hits, mut detected) = (0usize, 0usize);
    for (n, truth) in spikes.iter().enumerate() {
        for (t, &c) in b.counts.row(n).iter().enumerate() {
            if c == 1 {
                detected += 1;
                hits += usize::from(truth[t] > 0.0);
            }
        }
    }
    assert!(
        detected > 0 && hits as f64 / detected as f64 > 0.8,
        "precision {hits}/{detected}"
    );
}

#[test]
fn ar2_deconvolution_runs_the_library_and_checks_its_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    let (input, traces, _) = simulated_calcium(dir.path());
    let out = dir.path().join("ar2.parquet");
    let o = run(&[
        "preprocess",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--deconvolve",
        "--g",
        "1.55,-0.57",
        "--lam",
        "0.3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = read_recording(&out).unwrap();
    let Activity::Traces(t) = rec.activity() else {
        panic!("inferred spikes are traces")
    };
    for (n, y) in traces.iter().enumerate() {
        let direct = neuroforge_signal::oasis_ar2(y, 1.55, -0.57, 0.3, 0.0).unwrap();
        for (a, b) in t.values.row(n).iter().zip(&direct.spikes) {
            assert!((f64::from(*a) - b).abs() < 1e-5);
        }
    }
    assert!(
        rec.provenance()
            .steps
            .iter()
            .any(|s| s.contains("OASIS AR(2)") && s.contains("1.5500, -0.5700")),
        "{:?}",
        rec.provenance().steps
    );
    // A coefficient count that does not fit the order, and a kernel without two real roots in
    // (0, 1), are one-line errors with no output.
    let bad = dir.path().join("bad.parquet");
    for (extra, problem) in [
        (
            vec!["--g", "0.9", "--ar-order", "2"],
            "1 AR coefficient(s) given for an AR(2)",
        ),
        (vec!["--g", "1.0,-0.5"], "two distinct real roots"),
    ] {
        let mut args = vec![
            "preprocess",
            input.to_str().unwrap(),
            "--out",
            bad.to_str().unwrap(),
            "--deconvolve",
        ];
        args.extend(extra);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(problem), "{err}");
        assert!(!bad.exists());
    }
}

#[test]
fn sorted_neurons_keep_their_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (input, traces, _) = simulated_calcium(dir.path());
    let out = dir.path().join("sorted.parquet");
    let o = run(&[
        "preprocess",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--sort-neurons",
        "spectral",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = read_recording(&out).unwrap();
    let Activity::Traces(t) = rec.activity() else {
        panic!()
    };
    for (row, id) in rec.neuron_ids().iter().enumerate() {
        let original: usize = id.parse().unwrap();
        let first = f64::from(t.values[(row, 0)]);
        assert!(
            (first - traces[original][0]).abs() < 1e-5,
            "row {row} is not neuron {id}"
        );
    }
}

#[test]
fn unsuitable_steps_are_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.parquet");
    let counts = fixtures().join("formats/mat/counts_uint8_compressed.mat");
    for (extra, problem) in [
        ("--dff", "applies to fluorescence traces"),
        ("--deconvolve", "applies to calcium traces"),
    ] {
        let o = run(&[
            "preprocess",
            counts.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            extra,
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(
            err.contains("counts_uint8_compressed.mat") && err.contains(problem),
            "{err}"
        );
    }
    let spikes = dir.path().join("spikes.parquet");
    let csv = fixtures().join("formats/csv/spikes.csv");
    assert!(
        run(&[
            "import",
            csv.to_str().unwrap(),
            "--out",
            spikes.to_str().unwrap()
        ])
        .status
        .success()
    );
    let o = run(&[
        "preprocess",
        spikes.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bin-ms"));
    assert!(!out.exists());
    let o = run(&[
        "preprocess",
        spikes.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--bin-ms",
        "50",
    ]);
    assert!(o.status.success());
}

/// A suite2p output folder straight into `preprocess`: neuropil subtraction and the frame rate
/// of ops.npy on import, then dF/F and OASIS recover the simulated spikes (truth.npy, written
/// by fixtures/formats/make_lab_fixtures.py) of the ROIs marked as cells.
#[test]
fn a_suite2p_folder_preprocesses_to_its_true_spikes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = fixtures().join("formats/suite2p_calcium");
    let out = tmp.path().join("spikes.parquet");
    let o = run(&[
        "preprocess",
        dir.to_str().unwrap(),
        "--dff",
        "--dff-window",
        "101",
        "--deconvolve",
        "--strict",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rec = read_recording(&out).unwrap();
    assert_eq!(rec.neuron_ids(), ["0", "2", "3", "4", "5", "7"]);
    let Activity::Traces(t) = rec.activity() else {
        panic!("traces")
    };
    assert_eq!(t.frame_rate_hz, Some(30.0));
    let truth = neuroforge_io::npy::parse(&std::fs::read(dir.join("truth.npy")).unwrap()).unwrap();
    let frames = t.values.ncols();
    for (row, id) in rec.neuron_ids().iter().enumerate() {
        let roi: usize = id.parse().unwrap();
        let want: Vec<f64> = (0..frames)
            .map(|j| truth.data.get_f64(roi * frames + j).unwrap())
            .collect();
        let got: Vec<f64> = t.values.row(row).iter().map(|&v| f64::from(v)).collect();
        let r = pearson(&got, &want);
        assert!(r > 0.9, "ROI {roi}: correlation {r}");
    }
    let steps = &rec.provenance().steps;
    assert!(
        steps.iter().any(|s| s.starts_with("neuropil subtracted"))
            && steps.iter().any(|s| s.contains("from ops.npy")),
        "{steps:?}"
    );
    // The file says what its values are: the last step's quantity and units.
    let summary: serde_json::Value = serde_json::from_str(&crate::common::ok(&[
        "inspect",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(summary["quantity"], "inferred spikes (OASIS)", "{summary}");
    assert_eq!(summary["units"], "a.u. (spike amplitude)", "{summary}");
}

/// A step that leaves every neuron all zero: a warning recorded in the provenance, and with
/// --strict a refusal that writes nothing.
#[test]
fn an_all_zero_output_is_a_warning_or_with_strict_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let noise = fixtures().join("formats/suite2p/plane0");
    let out = tmp.path().join("zeros.parquet");
    let args = |strict: bool| {
        let mut a = vec![
            "preprocess".to_string(),
            noise.to_str().unwrap().to_string(),
            "--dff".into(),
            "--dff-window".into(),
            "5".into(),
            "--deconvolve".into(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ];
        if strict {
            a.push("--strict".into());
        }
        a
    };
    let strict: Vec<String> = args(true);
    let o = run(&strict.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("OASIS deconvolution left every neuron all zero")
            && stderr.contains("--strict"),
        "{stderr}"
    );
    assert!(!out.exists());
    let lenient: Vec<String> = args(false);
    let o = run(&lenient.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("WARN"));
    let rec = read_recording(&out).unwrap();
    assert!(
        rec.provenance()
            .steps
            .iter()
            .any(|s| s == "warning: OASIS deconvolution left every neuron all zero: the output carries no activity"),
        "{:?}",
        rec.provenance().steps
    );
}
