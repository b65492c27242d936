//! Importers checked against what NumPy and SciPy read from the same files
//! (fixtures/formats/expected.json, written by fixtures/formats/make_fixtures.py).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::{expected, format_fixture, row_major};
use neuroforge_io::{
    Activity, ActivityKind, ImportOptions, Layout, NumericArray, SourceFormat, import, mat, npy,
};

fn dtype_name(numpy: &str) -> &str {
    match numpy.trim_start_matches(['<', '>', '|', '=']) {
        "u2" => "uint16",
        other => match other {
            "bool" | "uint8" | "uint16" | "uint32" | "int8" | "int16" | "int32" | "int64"
            | "float32" | "float64" => other,
            _ => panic!("dtype {numpy} not mapped in the test"),
        },
    }
}

fn check_against(key: &str, a: &NumericArray) {
    let e = &expected()[key];
    let shape: Vec<usize> = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(a.shape, shape, "{key}: shape");
    let want_dtype = dtype_name(e["dtype"].as_str().unwrap());
    // SciPy returns MATLAB logical arrays as uint8; they are stored as uint8 with the logical
    // flag, which neuroforge keeps as bool.
    let scipy_logical = key.ends_with("logical.mat") && want_dtype == "uint8";
    let ours = if scipy_logical {
        "uint8"
    } else {
        a.dtype().name()
    };
    if scipy_logical {
        assert_eq!(a.dtype().name(), "bool", "{key}: logical flag");
    }
    assert_eq!(ours, want_dtype, "{key}: dtype");
    let want: Vec<f64> = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            v.as_f64()
                .or_else(|| v.as_bool().map(|b| f64::from(u8::from(b))))
                .unwrap()
        })
        .collect();
    assert_eq!(row_major(a), want, "{key}: values");
}

#[test]
fn mat_arrays_match_scipy() {
    for (file, var) in [
        ("mat/counts_uint8_compressed.mat", "data"),
        ("mat/counts_double_plain.mat", "spikes"),
        ("mat/traces_single.mat", "dff"),
        ("mat/logical.mat", "words"),
        ("mat/int16_negative.mat", "x"),
        ("mat/fraction.mat", "x"),
    ] {
        let bytes = std::fs::read(format_fixture(file)).unwrap();
        let vars = mat::parse(&bytes).unwrap();
        let v = vars.iter().find(|v| v.name == var).unwrap();
        check_against(file, v.content.as_ref().unwrap());
    }
    let bytes = std::fs::read(format_fixture("mat/multi.mat")).unwrap();
    let vars = mat::parse(&bytes).unwrap();
    let names: Vec<&str> = vars.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "label", "c", "s"]);
    let classes: Vec<&str> = vars.iter().map(|v| v.class.as_str()).collect();
    assert_eq!(classes, ["double", "int32", "char", "cell", "struct"]);
    check_against("mat/multi.mat#a", vars[0].content.as_ref().unwrap());
}

#[test]
fn npy_and_npz_arrays_match_numpy() {
    for file in [
        "npy/f8_c.npy",
        "npy/i4_fortran.npy",
        "npy/u2_big.npy",
        "npy/bool.npy",
        "npy/i8_vector.npy",
    ] {
        let a = npy::parse(&std::fs::read(format_fixture(file)).unwrap()).unwrap();
        check_against(file, &a);
    }
    let two = npy::parse_npz(&std::fs::read(format_fixture("npz/two.npz")).unwrap()).unwrap();
    for (name, a) in &two {
        check_against(&format!("npz/two.npz#{name}"), a.as_ref().unwrap());
    }
    let single = npy::parse_npz(&std::fs::read(format_fixture("npz/single.npz")).unwrap()).unwrap();
    check_against("npz/single.npz#x", single[0].1.as_ref().unwrap());
}

/// The expected spike counts per neuron and bin of a MAT fixture laid out time-by-neurons.
fn expected_matrix(key: &str) -> (usize, usize, Vec<f64>) {
    let e = &expected()[key];
    let rows = e["shape"][0].as_u64().unwrap() as usize;
    let cols = e["shape"][1].as_u64().unwrap() as usize;
    let values = e["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    (rows, cols, values)
}

#[test]
fn mat_import_reads_time_by_neurons_and_honours_layout() {
    let file = format_fixture("mat/counts_uint8_compressed.mat");
    let (bins, neurons, values) = expected_matrix("mat/counts_uint8_compressed.mat");
    let rec = import(&file, &ImportOptions::default()).unwrap();
    let Activity::Binned(b) = rec.activity() else {
        panic!("uint8 must import as binned")
    };
    assert_eq!(b.counts.dim(), (neurons, bins));
    for t in 0..bins {
        for n in 0..neurons {
            assert_eq!(f64::from(b.counts[(n, t)]), values[t * neurons + n]);
        }
    }
    assert!(rec.provenance().layout_assumed);
    assert_eq!(rec.provenance().variable.as_deref(), Some("data"));

    let opts = ImportOptions {
        layout: Some(Layout::NeuronsByTime),
        ..Default::default()
    };
    let rec = import(&file, &opts).unwrap();
    let Activity::Binned(b) = rec.activity() else {
        panic!()
    };
    assert_eq!(b.counts.dim(), (bins, neurons));
    assert_eq!(f64::from(b.counts[(1, 2)]), values[neurons + 2]);
    assert!(!rec.provenance().layout_assumed);
}

#[test]
fn kind_follows_dtype_and_values_unless_asked() {
    let kind = |file: &str, opts: ImportOptions| {
        import(&format_fixture(file), &opts)
            .unwrap()
            .activity()
            .kind()
    };
    assert_eq!(
        kind("mat/counts_double_plain.mat", ImportOptions::default()),
        ActivityKind::Binned
    );
    assert_eq!(
        kind("mat/traces_single.mat", ImportOptions::default()),
        ActivityKind::Traces
    );
    assert_eq!(
        kind("mat/fraction.mat", ImportOptions::default()),
        ActivityKind::Traces
    );
    assert_eq!(
        kind("mat/logical.mat", ImportOptions::default()),
        ActivityKind::Binned
    );
    let traces = ImportOptions {
        kind: Some(ActivityKind::Traces),
        ..Default::default()
    };
    assert_eq!(
        kind("mat/counts_uint8_compressed.mat", traces),
        ActivityKind::Traces
    );
    let rec = import(
        &format_fixture("mat/counts_double_plain.mat"),
        &Default::default(),
    )
    .unwrap();
    assert!(rec.provenance().steps[0].contains("inferred as binned"));
}

#[test]
fn npz_import_needs_a_choice_between_several_arrays() {
    let file = format_fixture("npz/two.npz");
    let err = import(&file, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("several arrays") && err.contains("spikes") && err.contains("traces"),
        "{err}"
    );
    let opts = ImportOptions {
        variable: Some("spikes".into()),
        ..Default::default()
    };
    let rec = import(&file, &opts).unwrap();
    assert_eq!(rec.activity().kind(), ActivityKind::Binned);
    assert_eq!((rec.neurons(), rec.activity().time_points()), (3, Some(8)));
    let opts = ImportOptions {
        variable: Some("traces".into()),
        ..Default::default()
    };
    assert_eq!(
        import(&file, &opts).unwrap().activity().kind(),
        ActivityKind::Traces
    );
}

#[test]
fn suite2p_folder_keeps_the_cells_with_their_roi_ids() {
    let dir = format_fixture("suite2p/plane0");
    let f = &expected()["suite2p/plane0/F.npy"];
    let frames = f["shape"][1].as_u64().unwrap() as usize;
    let values: Vec<f64> = f["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // F as it is (no neuropil subtraction).
    let raw = ImportOptions {
        neuropil_coefficient: Some(0.0),
        ..Default::default()
    };
    let rec = import(&dir, &raw).unwrap();
    assert_eq!(rec.neuron_ids(), ["0", "2", "3"]);
    let Activity::Traces(t) = rec.activity() else {
        panic!("suite2p F must import as traces")
    };
    for (row, roi) in [0usize, 2, 3].iter().enumerate() {
        for j in 0..frames {
            assert_eq!(f64::from(t.values[(row, j)]), values[roi * frames + j]);
        }
    }
    assert_eq!(rec.provenance().source_format.as_deref(), Some("suite2p"));
    // By default suite2p's own F - 0.7 Fneu, at the frame rate of ops.npy (15.49 Hz, pickled
    // by NumPy as a numpy.float64).
    let fneu = npy::parse(&std::fs::read(dir.join("Fneu.npy")).unwrap()).unwrap();
    let corrected = import(&dir, &ImportOptions::default()).unwrap();
    let Activity::Traces(c) = corrected.activity() else {
        panic!("suite2p F must import as traces")
    };
    assert_eq!(c.frame_rate_hz, Some(15.49));
    for (row, roi) in [0usize, 2, 3].iter().enumerate() {
        for j in 0..frames {
            let want =
                values[roi * frames + j] - 0.7 * fneu.data.get_f64(roi * frames + j).unwrap();
            let got = f64::from(c.values[(row, j)]);
            assert!((got - want).abs() <= 1e-4 * want.abs(), "{got} vs {want}");
        }
    }
    let steps = &corrected.provenance().steps;
    assert!(
        steps
            .iter()
            .any(|s| s == "frame rate 15.49 Hz from ops.npy (fs)")
            && steps
                .iter()
                .any(|s| s.starts_with("neuropil subtracted: F - 0.7 Fneu")),
        "{steps:?}"
    );
    assert_eq!(
        corrected.quantity(),
        ("fluorescence (neuropil subtracted)".into(), "a.u.".into())
    );
    // suite2p's output folder with one plane imports that plane.
    let root = import(&format_fixture("suite2p"), &ImportOptions::default()).unwrap();
    assert_eq!(root.activity(), corrected.activity());
    assert_eq!(root.neuron_ids(), corrected.neuron_ids());
    let all = ImportOptions {
        all_rois: true,
        ..Default::default()
    };
    assert_eq!(import(&dir, &all).unwrap().neurons(), 5);
    let spks = ImportOptions {
        variable: Some("spks".into()),
        ..Default::default()
    };
    assert_eq!(import(&dir, &spks).unwrap().neurons(), 3);
    // The same selection applied to a plain NPY with --iscell.
    let plain = ImportOptions {
        iscell: Some(dir.join("iscell.npy")),
        ..Default::default()
    };
    let rec2 = import(&dir.join("F.npy"), &plain).unwrap();
    let (Activity::Traces(plain_traces), Activity::Traces(folder_traces)) =
        (rec2.activity(), rec.activity())
    else {
        panic!("traces");
    };
    assert_eq!(plain_traces.values, folder_traces.values);
    assert_eq!(SourceFormat::detect(&dir).unwrap(), SourceFormat::Suite2p);

    // A Fneu.npy with another number of ROIs than iscell.npy: the error names Fneu.npy first.
    let tmp = tempfile::tempdir().unwrap();
    for name in ["F.npy", "iscell.npy", "spks.npy"] {
        std::fs::copy(dir.join(name), tmp.path().join(name)).unwrap();
    }
    std::fs::copy(format_fixture("npy/f8_c.npy"), tmp.path().join("Fneu.npy")).unwrap();
    let fneu = ImportOptions {
        variable: Some("Fneu".into()),
        ..Default::default()
    };
    let e = import(tmp.path(), &fneu).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("{}:", tmp.path().join("Fneu.npy").display()))
            && e.contains("holds 3 ROIs, but ")
            && e.contains("iscell.npy describes 5"),
        "{e}"
    );
    // The same Fneu.npy spoils the neuropil subtraction of the default F import, and is named.
    let e = import(tmp.path(), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("Fneu.npy") && e.contains("holds 3 ROIs"), "{e}");
    std::fs::remove_file(tmp.path().join("Fneu.npy")).unwrap();
    let e = import(tmp.path(), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no Fneu.npy for the neuropil subtraction F - 0.7 Fneu")
            && e.contains("--neuropil 0"),
        "{e}"
    );
    // A damaged ops.npy is named, unless the frame rate is given.
    std::fs::write(tmp.path().join("ops.npy"), b"\x93NUMPY\x01\x00junk").unwrap();
    let raw = ImportOptions {
        neuropil_coefficient: Some(0.0),
        ..Default::default()
    };
    let e = import(tmp.path(), &raw).unwrap_err().to_string();
    assert!(e.contains("ops.npy"), "{e}");
    let given = ImportOptions {
        frame_rate_hz: Some(30.0),
        ..raw.clone()
    };
    assert!(import(tmp.path(), &given).is_ok());
    // A suite2p folder with two planes asks for one.
    let two = tempfile::tempdir().unwrap();
    for plane in ["plane0", "plane1"] {
        std::fs::create_dir(two.path().join(plane)).unwrap();
        std::fs::copy(dir.join("F.npy"), two.path().join(plane).join("F.npy")).unwrap();
    }
    let e = import(two.path(), &raw).unwrap_err().to_string();
    assert!(
        e.contains("holds 2 planes (plane0, plane1): import one of them"),
        "{e}"
    );
}

#[test]
fn csv_spike_times_are_grouped_sorted_and_binned() {
    let rec = import(&format_fixture("csv/spikes.csv"), &ImportOptions::default()).unwrap();
    assert_eq!(rec.neuron_ids(), ["0", "2", "10"]);
    let Activity::SpikeTimes(s) = rec.activity() else {
        panic!("CSV imports spike times")
    };
    assert_eq!(
        s.times_s,
        vec![vec![0.010, 0.011, 0.250], vec![0.019, 0.105], vec![0.020]]
    );
    assert_eq!((s.t_start_s, s.t_stop_s), (0.010, 0.250));
    let binned = ImportOptions {
        bin_ms: Some(100.0),
        ..Default::default()
    };
    let rec = import(&format_fixture("csv/spikes.csv"), &binned).unwrap();
    let Activity::Binned(b) = rec.activity() else {
        panic!()
    };
    // Bins of 100 ms from 10 ms: [10, 110), [110, 210), [210, 310).
    assert_eq!(b.counts, ndarray::array![[2, 0, 1], [2, 0, 0], [1, 0, 0]]);
    let ms = import(
        &format_fixture("csv/spikes_ms.csv"),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(ms.neuron_ids(), ["A", "B"]);
    let Activity::SpikeTimes(s) = ms.activity() else {
        panic!()
    };
    assert_eq!(s.times_s, vec![vec![0.001, 0.0105], vec![0.003]]);
}

#[test]
fn csv_quoting_byte_order_marks_and_tabs_are_read_as_rfc_4180_says() {
    let dir = tempfile::tempdir().unwrap();
    // A byte-order mark (Excel's habit), ids holding the separator and a doubled quote, spaces
    // around fields.
    let quoted = dir.path().join("quoted.csv");
    std::fs::write(
        &quoted,
        "\u{feff}unit,time_s\n\"a,1\", 0.5\n\"b \"\"x\"\"\",0.25\n\"a,1\",0.125\n",
    )
    .unwrap();
    let rec = import(&quoted, &ImportOptions::default()).unwrap();
    assert_eq!(rec.neuron_ids(), ["a,1", "b \"x\""]);
    let Activity::SpikeTimes(s) = rec.activity() else {
        panic!("CSV imports spike times")
    };
    assert_eq!(s.times_s, vec![vec![0.125, 0.5], vec![0.25]]);

    // A .tsv file is split at tabs; time_ms is read as milliseconds; numeric ids sort as numbers.
    let tsv = dir.path().join("spikes.tsv");
    std::fs::write(&tsv, "cluster\ttime_ms\n10\t1.5\n9\t2\n").unwrap();
    let rec = import(&tsv, &ImportOptions::default()).unwrap();
    assert_eq!(rec.neuron_ids(), ["9", "10"]);
    let Activity::SpikeTimes(s) = rec.activity() else {
        panic!("CSV imports spike times")
    };
    assert_eq!(s.times_s, vec![vec![0.002], vec![0.0015]]);

    // A row with a missing field, and a ragged row, are named by their line.
    let missing = dir.path().join("missing.csv");
    std::fs::write(&missing, "unit,time_s\n0,0.1\n,0.2\n").unwrap();
    let e = import(&missing, &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("missing.csv") && e.contains("line 3: missing unit"),
        "{e}"
    );
    let e = import(&format_fixture("csv/ragged.csv"), &ImportOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 3: 3 fields where the header has 2"), "{e}");
}

#[test]
fn csv_export_is_one_row_per_bin_and_spike_times_read_back_exactly() {
    use neuroforge_io::{
        BinnedActivity, Covariate, CovariateValues, Provenance, Recording, SpikeTrains,
        tables::write_csv,
    };
    let binned = Recording::new(
        vec!["n0".into(), "n1".into()],
        Activity::Binned(BinnedActivity {
            counts: ndarray::array![[0u32, 1, 2], [3, 0, 1]],
            bin_width_s: Some(0.02),
        }),
        vec![
            Covariate {
                name: "x".into(),
                values: CovariateValues::Float(vec![0.5, -1.0, 1e-3]),
            },
            Covariate {
                name: "label".into(),
                values: CovariateValues::Text(vec!["a".into(), "b,c".into(), "d".into()]),
            },
        ],
        Provenance::default(),
    )
    .unwrap();
    let mut text = Vec::new();
    write_csv(&binned, &mut text).unwrap();
    assert_eq!(
        String::from_utf8(text).unwrap(),
        "n0,n1,x,label\n0,3,0.5,a\n1,0,-1,\"b,c\"\n2,1,0.001,d\n"
    );

    // Spike times whose shortest decimal form is long, and an id that needs quoting: the
    // importer reads the export back to the same ids and the same f64 values.
    let times = vec![vec![0.1 + 0.2, 1.0 / 3.0], vec![2.0f64.sqrt()]];
    let trains = Recording::new(
        vec!["a,b".into(), "c".into()],
        Activity::SpikeTimes(SpikeTrains {
            times_s: times.clone(),
            t_start_s: 0.0,
            t_stop_s: 2.0,
        }),
        vec![],
        Provenance::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trains.csv");
    let mut text = Vec::new();
    write_csv(&trains, &mut text).unwrap();
    std::fs::write(&path, &text).unwrap();
    let back = import(&path, &ImportOptions::default()).unwrap();
    assert_eq!(back.neuron_ids(), ["a,b", "c"]);
    let Activity::SpikeTimes(s) = back.activity() else {
        panic!("CSV imports spike times")
    };
    assert_eq!(s.times_s, times);
}

#[test]
#[ignore = "slow (over 5 s in a debug build): .ci/run runs it; so does cargo test --workspace -- --ignored"]
fn retina_recordings_import_as_scipy_reads_them() {
    let e = expected();
    for name in [
        "original_data_num_neurons_50_1.mat",
        "k_pairwise_num_neurons_50_1.mat",
        "DG_num_neurons_50_1.mat",
    ] {
        let want = &e[format!("retina/{name}")];
        let file = crate::common::fixtures()
            .join("retina-marre2014")
            .join(name);
        let rec = import(&file, &ImportOptions::default()).unwrap();
        assert_eq!(
            rec.provenance().variable.as_deref(),
            want["variable"].as_str()
        );
        let Activity::Binned(b) = rec.activity() else {
            panic!("{name}: binned")
        };
        let bins = want["shape"][0].as_u64().unwrap() as usize;
        assert_eq!(b.counts.dim(), (50, bins), "{name}");
        let sums: Vec<u64> = b
            .counts
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|&c| u64::from(c)).sum())
            .collect();
        let want_sums: Vec<u64> = want["spikes_per_neuron"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(sums, want_sums, "{name}: spikes per neuron");
        let first: Vec<u64> = b.counts.column(0).iter().map(|&c| u64::from(c)).collect();
        let last: Vec<u64> = b
            .counts
            .column(bins - 1)
            .iter()
            .map(|&c| u64::from(c))
            .collect();
        let row = |k: &str| -> Vec<u64> {
            want[k]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect()
        };
        assert_eq!(first, row("first_row"), "{name}: first bin");
        assert_eq!(last, row("last_row"), "{name}: last bin");
        let mean = rec.summary().mean_rate.unwrap();
        assert!(
            (mean - want["mean_rate"].as_f64().unwrap()).abs() < 1e-12,
            "{name}: mean rate {mean}"
        );
    }
}

/// MARBLE point tables as pandas 3 writes them (text as `large_string`, and a Categorical as a
/// dictionary-encoded column; fixtures/formats/make_pandas_fixtures.py) read like the CSV of the
/// same table.
#[test]
fn point_tables_written_by_pandas_read_with_every_string_encoding() {
    let csv = std::fs::read_to_string(format_fixture("pandas/points.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("condition,trajectory,x0,x1"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for name in ["pandas/points.parquet", "pandas/points_categorical.parquet"] {
        let table = neuroforge_io::points::read_points(&format_fixture(name)).unwrap();
        assert_eq!(table.rows(), rows.len(), "{name}");
        let x = table.block("x").unwrap();
        for (r, row) in rows.iter().enumerate() {
            assert_eq!(table.condition[r], row[0], "{name} row {r}");
            assert_eq!(
                table.trajectory.as_ref().unwrap()[r],
                row[1].parse::<i64>().unwrap()
            );
            assert_eq!(x[[r, 0]], row[2].parse::<f64>().unwrap(), "{name} row {r}");
            assert_eq!(x[[r, 1]], row[3].parse::<f64>().unwrap(), "{name} row {r}");
        }
    }
}

/// A Kilosort / phy folder (fixtures/formats/make_sorting_fixtures.py) imports as the spike
/// times per cluster NumPy computes: phy's curation first, Kilosort's labels without it, every
/// cluster on request; binned from the first sample.
#[test]
fn a_kilosort_phy_folder_imports_as_spike_times_per_good_cluster() {
    let dir = format_fixture("kilosort");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    assert_eq!(SourceFormat::detect(&dir).unwrap(), SourceFormat::Kilosort);
    let check = |rec: &neuroforge_io::Recording, key: &str| {
        let want = expected[key].as_object().unwrap();
        let ids: Vec<&str> = rec.neuron_ids().iter().map(String::as_str).collect();
        let mut want_ids: Vec<&str> = want.keys().map(String::as_str).collect();
        want_ids.sort_by_key(|id| id.parse::<u64>().unwrap());
        assert_eq!(ids, want_ids, "{key}");
        let Activity::SpikeTimes(trains) = rec.activity() else {
            panic!("{key}: not spike times");
        };
        assert_eq!(trains.t_start_s, 0.0);
        assert_eq!(trains.t_stop_s, expected["t_stop_s"].as_f64().unwrap());
        for (id, times) in ids.iter().zip(&trains.times_s) {
            let want: Vec<f64> = want[*id]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(times, &want, "{key}: cluster {id}");
        }
    };
    check(&import(&dir, &ImportOptions::default()).unwrap(), "curated");
    let all = ImportOptions {
        all_clusters: true,
        ..Default::default()
    };
    check(&import(&dir, &all).unwrap(), "all");

    // Without phy's curation, Kilosort's own labels decide.
    let tmp = crate::common::copy_fixture_folder("kilosort", Some("cluster_group.tsv"));
    let ks = import(tmp.path(), &ImportOptions::default()).unwrap();
    check(&ks, "kilosort_labels");
    assert!(
        ks.provenance()
            .steps
            .iter()
            .any(|s| s.contains("labelled good in cluster_KSLabel.tsv")),
        "{:?}",
        ks.provenance().steps
    );

    // Binned at 100 ms from the first sample: every kept spike is counted.
    let binned = import(
        &dir,
        &ImportOptions {
            bin_ms: Some(100.0),
            ..Default::default()
        },
    )
    .unwrap();
    let Activity::Binned(b) = binned.activity() else {
        panic!("not binned");
    };
    let t_stop = expected["t_stop_s"].as_f64().unwrap();
    assert_eq!(b.counts.ncols(), (t_stop / 0.1).ceil() as usize);
    let spikes: usize = expected["curated"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_array().unwrap().len())
        .sum();
    assert_eq!(b.counts.iter().map(|&c| c as usize).sum::<usize>(), spikes);
}

/// A per-spike array imported alone, and folders whose parts disagree, are refused with what
/// is wrong and what to pass.
#[test]
fn kilosort_arrays_alone_and_inconsistent_folders_are_refused() {
    let dir = format_fixture("kilosort");
    let message = |r: neuroforge_io::Result<neuroforge_io::Recording>| match r {
        Ok(_) => panic!("imported"),
        Err(e) => e.to_string(),
    };
    let e = message(import(
        &dir.join("spike_times.npy"),
        &ImportOptions::default(),
    ));
    assert!(
        e.contains("spike_times.npy: is a per-spike array of a Kilosort / phy output")
            && e.contains("import the folder"),
        "{e}"
    );
    let copy = |skip: &str| crate::common::copy_fixture_folder("kilosort", Some(skip));
    // spike_clusters.npy one entry short.
    let short = crate::common::copy_fixture_folder("kilosort", None);
    let clusters = npy::parse(&std::fs::read(dir.join("spike_clusters.npy")).unwrap()).unwrap();
    let n = clusters.shape[0];
    let values: Vec<i32> = (0..n - 1)
        .map(|i| clusters.data.get_f64(i).unwrap() as i32)
        .collect();
    let mut file = std::fs::File::create(short.path().join("spike_clusters.npy")).unwrap();
    npy::write(
        &mut file,
        &[n - 1],
        &neuroforge_io::NumericData::I32(values),
    )
    .unwrap();
    drop(file);
    let e = message(import(short.path(), &ImportOptions::default()));
    assert!(
        e.contains(&format!(
            "spike_clusters.npy: holds {} entries, but spike_times.npy holds {n} spikes",
            n - 1
        )),
        "{e}"
    );
    let no_params = copy("params.py");
    let e = message(import(no_params.path(), &ImportOptions::default()));
    assert!(e.contains("no params.py"), "{e}");
    // Without spike_clusters.npy, the templates are the clusters.
    let uncurated = copy("spike_clusters.npy");
    let rec = import(
        uncurated.path(),
        &ImportOptions {
            all_clusters: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rec.neuron_ids(), ["0", "1", "2", "3", "4"]);
}

/// Counts and behaviour in one MAT or NPZ file (fixtures/formats/covariates): the covariate
/// arrays attach by name, a time x 2 matrix as two covariates, and every value equals the
/// formula the fixture script used for its bin; a Parquet table written by pandas attaches the
/// same way. Wrong lengths and unknown names are refused naming the file.
#[test]
fn covariates_come_from_the_same_mat_or_npz_file_or_a_parquet_table() {
    use neuroforge_io::CovariateValues;
    let check = |rec: &neuroforge_io::Recording, names: &[&str]| {
        let got: Vec<&str> = rec.covariates().iter().map(|c| c.name.as_str()).collect();
        assert_eq!(got, names);
        for c in rec.covariates() {
            for t in 0..200usize {
                let tf = t as f64;
                match (c.name.as_str(), &c.values) {
                    ("position_0" | "x", CovariateValues::Float(v)) => assert_eq!(v[t], 0.5 * tf),
                    ("position_1" | "y", CovariateValues::Float(v)) => {
                        assert!((v[t] - (tf / 10.0).sin()).abs() < 1e-15)
                    }
                    ("trial", CovariateValues::Int(v)) => assert_eq!(v[t], (t / 50) as i64),
                    ("trial", CovariateValues::Float(v)) => assert_eq!(v[t], (t / 50) as f64),
                    ("speed", CovariateValues::Float(v)) => {
                        assert!((v[t] - (0.25 + tf / 1000.0)).abs() < 1e-15)
                    }
                    (name, values) => panic!("unexpected covariate {name}: {values:?}"),
                }
            }
        }
    };
    let options = |vars: &[&str]| ImportOptions {
        variable: Some("counts".into()),
        covariate_vars: vars.iter().map(|v| v.to_string()).collect(),
        bin_ms: Some(20.0),
        ..Default::default()
    };
    let mat = import(
        &format_fixture("covariates/counts_behaviour.mat"),
        &options(&["position", "trial", "speed"]),
    )
    .unwrap();
    assert_eq!(mat.neurons(), 6);
    check(&mat, &["position_0", "position_1", "trial", "speed"]);
    let npz = import(
        &format_fixture("covariates/counts_behaviour.npz"),
        &options(&["position", "trial", "speed"]),
    )
    .unwrap();
    check(&npz, &["position_0", "position_1", "trial", "speed"]);
    // The same counts either way (MAT time x neurons, NPZ neurons x time).
    assert_eq!(mat.activity(), npz.activity());

    let with_table = ImportOptions {
        covariates: Some(format_fixture("covariates/position.parquet")),
        ..options(&[])
    };
    let rec = import(
        &format_fixture("covariates/counts_behaviour.npz"),
        &with_table,
    )
    .unwrap();
    check(&rec, &["x", "y", "trial"]);

    let e = import(
        &format_fixture("covariates/counts_behaviour.npz"),
        &options(&["heading"]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("counts_behaviour.npz: no array 'heading'") && e.contains("position"),
        "{e}"
    );
    // A covariate of the wrong length: the 6 x 200 counts asked for as a covariate of the
    // 200-bin trial vector's recording works, but `position` of a 6-bin recording does not.
    let short = ImportOptions {
        variable: Some("trial".into()),
        covariate_vars: vec!["counts".into()],
        layout: Some(neuroforge_io::Layout::NeuronsByTime),
        ..Default::default()
    };
    let rec = import(&format_fixture("covariates/counts_behaviour.npz"), &short).unwrap();
    assert_eq!(
        rec.covariates().len(),
        6,
        "counts as 6 covariates of 200 bins"
    );
    let bad = ImportOptions {
        variable: Some("counts".into()),
        layout: Some(neuroforge_io::Layout::TimeByNeurons),
        covariate_vars: vec!["position".into()],
        ..Default::default()
    };
    let e = import(&format_fixture("covariates/counts_behaviour.npz"), &bad)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("position has shape (200, 2), but the recording has 6 time points"),
        "{e}"
    );
    let csv_source = ImportOptions {
        covariate_vars: vec!["x".into()],
        bin_ms: Some(25.0),
        ..Default::default()
    };
    let e = import(&format_fixture("csv/spikes.csv"), &csv_source)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--covariate-var names arrays of a MAT or NPZ file"),
        "{e}"
    );
}
