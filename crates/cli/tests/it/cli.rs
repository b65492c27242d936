//! The `neuroforge` binary end to end: the foundation's acceptance run on the bundled retina
//! data, and every kind of bad input (one error line naming the file, exit code 2, no output).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;
use std::process::Output;

use crate::common::{fixtures, run};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn expected_retina_mean() -> f64 {
    let text = std::fs::read_to_string(fixtures().join("formats/expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["retina/original_data_num_neurons_50_1.mat"]["mean_rate"]
        .as_f64()
        .unwrap()
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn retina_import_then_inspect_reports_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.parquet");
    let input = fixtures().join("retina-marre2014/original_data_num_neurons_50_1.mat");
    let o = run(&[
        "import",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "import failed: {}", stderr(&o));
    let o = run(&["inspect", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "inspect failed: {}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["neurons"], 50);
    assert_eq!(j["bins"], 283041);
    assert_eq!(j["kind"], "binned");
    assert_eq!(j["binary"], true);
    let mean = j["mean_rate"].as_f64().unwrap();
    // SciPy's mean of the same matrix; 0.03845 to four significant digits.
    assert!(
        (mean - expected_retina_mean()).abs() < 1e-12,
        "mean_rate {mean}"
    );
    assert_eq!(format!("{mean:.4e}"), "3.8445e-2");
    assert_eq!(j["layout"], "time-by-neurons");
    assert_eq!(j["layout_assumed"], true);

    let o = run(&["inspect", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("283041") && text.contains("binary spike words") && text.contains("assumed"),
        "{text}"
    );
}

#[test]
fn export_to_npy_and_back_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixtures().join("formats/mat/counts_uint8_compressed.mat");
    let rec = dir.path().join("r.arrow");
    let npy = dir.path().join("r.npy");
    let csv = dir.path().join("r.csv");
    assert!(
        run(&[
            "import",
            input.to_str().unwrap(),
            "--out",
            rec.to_str().unwrap(),
            "--bin-ms",
            "20"
        ])
        .status
        .success()
    );
    assert!(
        run(&[
            "export",
            rec.to_str().unwrap(),
            "--out",
            npy.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert!(
        run(&[
            "export",
            rec.to_str().unwrap(),
            "--out",
            csv.to_str().unwrap()
        ])
        .status
        .success()
    );
    let a = run(&["inspect", rec.to_str().unwrap(), "--json"]);
    let b = run(&["inspect", npy.to_str().unwrap(), "--json"]);
    let ja: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let jb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    for key in ["neurons", "bins", "total_spikes", "mean_rate", "max_count"] {
        assert_eq!(ja[key], jb[key], "{key}");
    }
    assert_eq!(ja["bin_width_s"], 0.02);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(lines[0], "0,1,2");
    assert_eq!(lines.len(), 1 + ja["bins"].as_u64().unwrap() as usize);
}

/// Run a command that must fail on bad input and check the contract: exit code 2, one line on
/// stderr naming `names` and containing `problem`, no output file and no temporary file.
fn assert_bad_input(args: &[&str], names: &str, problem: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out_name = if args[0] == "export" {
        "out.npy"
    } else {
        "out.parquet"
    };
    let out = dir.path().join(out_name);
    let mut full: Vec<&str> = args.to_vec();
    let out_str = out.to_str().unwrap().to_string();
    full.extend(["--out", &out_str]);
    let o = run(&full);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?}: exit code; stderr: {err}"
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {err}"
    );
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert!(
        err.contains(names),
        "{args:?}: does not name {names}: {err}"
    );
    assert!(
        err.to_lowercase().contains(&problem.to_lowercase()),
        "{args:?}: lacks '{problem}': {err}"
    );
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{args:?}: left files behind: {left:?}");
}

fn f(rel: &str) -> String {
    fixtures()
        .join("formats")
        .join(rel)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn non_finite_negative_and_fractional_counts_are_refused() {
    assert_bad_input(
        &["import", &f("mat/nan.mat")],
        "nan.mat",
        "NaN at frame 1, neuron 0",
    );
    assert_bad_input(
        &["import", &f("mat/nan.mat"), "--kind", "binned"],
        "nan.mat",
        "NaN where a spike count is expected",
    );
    assert_bad_input(
        &["import", &f("mat/inf.mat"), "--bin-ms", "10"],
        "inf.mat",
        "inf where a spike count is expected",
    );
    assert_bad_input(&["import", &f("npy/inf.npy")], "inf.npy", "-inf at frame 1");
    assert_bad_input(
        &["import", &f("npy/nan.npy"), "--kind", "binned"],
        "nan.npy",
        "NaN",
    );
    assert_bad_input(
        &["import", &f("mat/int16_negative.mat")],
        "int16_negative.mat",
        "negative count -2 at bin 1, neuron 0",
    );
    assert_bad_input(
        &["import", &f("npy/negative_i8.npy")],
        "negative_i8.npy",
        "negative count -1",
    );
    assert_bad_input(
        &["import", &f("mat/fraction.mat"), "--bin-ms", "20"],
        "fraction.mat",
        "non-integer count 0.5",
    );
    assert_bad_input(
        &["import", &f("csv/nan_time.csv")],
        "nan_time.csv",
        "line 3: spike time NaN is not finite",
    );
}

#[test]
fn ragged_and_empty_inputs_are_refused() {
    assert_bad_input(
        &["import", &f("npy/object_ragged.npy")],
        "object_ragged.npy",
        "ragged",
    );
    assert_bad_input(
        &["import", &f("csv/ragged.csv")],
        "ragged.csv",
        "not a readable CSV table",
    );
    assert_bad_input(&["import", &f("mat/empty.mat")], "empty.mat", "empty");
    assert_bad_input(&["import", &f("npy/empty.npy")], "empty.npy", "empty");
    assert_bad_input(&["import", &f("csv/empty.csv")], "empty.csv", "no rows");
    assert_bad_input(
        &["import", &f("npy/three_d.npy")],
        "three_d.npy",
        "(2, 3, 4)",
    );
}

#[test]
fn wrong_dtypes_and_unknown_variables_are_refused() {
    assert_bad_input(&["import", &f("npy/c16.npy")], "c16.npy", "complex");
    assert_bad_input(
        &["import", &f("npy/f2.npy")],
        "f2.npy",
        "'<f2' is not supported",
    );
    assert_bad_input(&["import", &f("npy/str.npy")], "str.npy", "string");
    // Without --var the one variable's problem is named, not only "nothing to import".
    assert_bad_input(
        &["import", &f("mat/complex.mat")],
        "complex.mat",
        "'z' is complex; only real arrays",
    );
    assert_bad_input(
        &["import", &f("mat/multi.mat"), "--var", "label"],
        "multi.mat",
        "char array",
    );
    assert_bad_input(
        &["import", &f("mat/multi.mat"), "--var", "c"],
        "multi.mat",
        "cell array",
    );
    assert_bad_input(
        &["import", &f("mat/multi.mat"), "--var", "nope"],
        "multi.mat",
        "no variable 'nope'; the file holds: a (double 3x2), b (int32 2x2)",
    );
    assert_bad_input(
        &["import", &f("mat/multi.mat")],
        "multi.mat",
        "several variables",
    );
    assert_bad_input(
        &["import", &f("npz/two.npz"), "--var", "nope"],
        "two.npz",
        "no array 'nope'",
    );
    assert_bad_input(
        &["import", &f("csv/text_time.csv")],
        "text_time.csv",
        "not numbers",
    );
    assert_bad_input(
        &["import", &f("csv/spikes.csv"), "--unit-col", "cell"],
        "spikes.csv",
        "no column 'cell'",
    );
}

#[test]
fn absurd_dimensions_are_refused_without_allocating() {
    assert_bad_input(
        &["import", &f("mat/absurd_dims.mat")],
        "absurd_dims.mat",
        "(1000000, 1000000) that claim 1000000000000 elements",
    );
    assert_bad_input(
        &["import", &f("npy/absurd_shape.npy")],
        "absurd_shape.npy",
        "truncated: shape (1000000, 1000000)",
    );
}

#[test]
fn truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cut = |src: &Path, name: &str, keep: f64| -> String {
        let bytes = std::fs::read(src).unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes[..(bytes.len() as f64 * keep) as usize]).unwrap();
        path.to_str().unwrap().to_string()
    };
    let retina = fixtures().join("retina-marre2014/original_data_num_neurons_50_1.mat");
    assert_bad_input(
        &["import", &cut(&retina, "retina_cut.mat", 0.5)],
        "retina_cut.mat",
        "truncated",
    );
    assert_bad_input(
        &["import", &cut(&retina, "retina_head.mat", 0.0001)],
        "retina_head.mat",
        "not a MAT-file",
    );
    let npy = fixtures().join("formats/npy/f8_c.npy");
    assert_bad_input(
        &["import", &cut(&npy, "f8_cut.npy", 0.8)],
        "f8_cut.npy",
        "truncated",
    );
    let rec = dir.path().join("whole.parquet");
    let src = fixtures().join("formats/mat/counts_uint8_compressed.mat");
    assert!(
        run(&[
            "import",
            src.to_str().unwrap(),
            "--out",
            rec.to_str().unwrap()
        ])
        .status
        .success()
    );
    assert_bad_input(
        &["export", &cut(&rec, "cut.parquet", 0.7)],
        "cut.parquet",
        "not a readable Parquet file",
    );
    let o = run(&["inspect", &cut(&rec, "cut2.parquet", 0.9)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cut2.parquet"));
}

#[test]
fn a_failed_import_leaves_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.parquet");
    std::fs::write(&out, b"previous content").unwrap();
    let o = run(&["import", &f("mat/nan.mat"), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&out).unwrap(), b"previous content");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn usage_errors_exit_2_and_missing_files_are_named() {
    let o = run(&["import", &f("mat/logical.mat"), "--out", "x.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("x.txt") && stderr(&o).contains("extension"));
    let o = run(&["import", "/no/such/file.mat", "--out", "x.parquet"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/no/such/file.mat"));
    let o = run(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--version"]);
    assert!(o.status.success());
}

#[test]
fn a_file_that_crashes_the_arrow_decoder_is_reported_as_corrupt() {
    // Find a byte flip of an Arrow IPC recording that makes arrow-rs' decoder panic (neuroforge
    // contains the panic); the CLI must report it as bad input in one line, not crash.
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.arrow");
    let src = fixtures().join("formats/mat/counts_uint8_compressed.mat");
    assert!(
        run(&[
            "import",
            src.to_str().unwrap(),
            "--out",
            good.to_str().unwrap()
        ])
        .status
        .success()
    );
    let bytes = std::fs::read(&good).unwrap();
    let crashing = (0..bytes.len())
        .flat_map(|i| [0u8, 0xff].map(move |v| (i, v)))
        .map(|(i, v)| {
            let mut b = bytes.clone();
            b[i] = v;
            b
        })
        .find(|b| {
            neuroforge_io::columnar::parse_ipc(b).is_err_and(|e| e.contains("decoder failed"))
        })
        .expect("some byte flip trips the arrow decoder");
    let bad = dir.path().join("bad.arrow");
    std::fs::write(&bad, crashing).unwrap();
    let o = run(&["inspect", bad.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.arrow") && err.contains("corrupt Arrow IPC file"),
        "{err}"
    );
}

/// A Kilosort / phy folder imports by its path alone, its curated clusters reach `inspect`, and
/// a per-spike array on its own is refused, saying what to import instead.
#[test]
fn a_kilosort_folder_imports_and_its_spike_times_file_alone_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sorted.parquet");
    crate::common::ok(&[
        "import",
        &f("kilosort"),
        "--bin-ms",
        "50",
        "--out",
        out.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&crate::common::ok(&[
        "inspect",
        out.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    // Clusters 0, 7 and 15 are labelled good in cluster_group.tsv.
    assert_eq!(summary["neurons"], 3, "{summary}");
    assert_bad_input(
        &["import", &f("kilosort/spike_times.npy")],
        "spike_times.npy",
        "import the folder",
    );
}

/// An NWB file written by pynwb imports with its good units and the tracked position, goes out
/// again as NWB, and comes back the same; NWB files without what was asked for are refused.
#[test]
fn an_nwb_file_imports_with_behaviour_and_exports_back() {
    let tmp = tempfile::tempdir().unwrap();
    let counts = tmp.path().join("counts.parquet");
    crate::common::ok(&[
        "import",
        &f("nwb/units_position.nwb"),
        "--bin-ms",
        "100",
        "--behaviour",
        "Position/xy",
        "--out",
        counts.to_str().unwrap(),
    ]);
    let summary: serde_json::Value = serde_json::from_str(&crate::common::ok(&[
        "inspect",
        counts.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(summary["neurons"], 4, "{summary}");
    assert_eq!(summary["bins"], 400, "{summary}");
    let exported = tmp.path().join("counts.nwb");
    crate::common::ok(&[
        "export",
        counts.to_str().unwrap(),
        "--out",
        exported.to_str().unwrap(),
    ]);
    let back = tmp.path().join("back.parquet");
    crate::common::ok(&[
        "import",
        exported.to_str().unwrap(),
        "--behaviour",
        "xy_0",
        "--behaviour",
        "xy_1",
        "--out",
        back.to_str().unwrap(),
    ]);
    let read = |p: &std::path::Path| neuroforge_io::read_recording(p).unwrap();
    let (a, b) = (read(&counts), read(&back));
    assert_eq!(a.neuron_ids(), b.neuron_ids());
    assert_eq!(a.activity(), b.activity());
    assert_eq!(a.covariates(), b.covariates());
    assert_bad_input(
        &["import", &f("nwb/behaviour_only.nwb")],
        "behaviour_only.nwb",
        "holds no neural data",
    );
    assert_bad_input(
        &["import", &f("nwb/ophys.nwb")],
        "ophys.nwb",
        "choose one with --var",
    );
    let cut = tmp.path().join("cut.nwb");
    let bytes = std::fs::read(f("nwb/ophys.nwb")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert_bad_input(&["import", cut.to_str().unwrap()], "cut.nwb", "");
}
