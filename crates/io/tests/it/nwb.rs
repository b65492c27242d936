//! NWB files written by pynwb (fixtures/formats/nwb, made by make_nwb_fixtures.py with the
//! values importing them must give in expected.json), and NWB files we write, read back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::Path;

use neuroforge_io::{Activity, CovariateValues, ImportOptions, Recording, import};

use crate::common::format_fixture;

fn nwb(name: &str) -> std::path::PathBuf {
    format_fixture(&format!("nwb/{name}"))
}

fn expected(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format_fixture("nwb/expected.json")).unwrap();
    let all: serde_json::Value = serde_json::from_str(&text).unwrap();
    all[file].clone()
}

fn error(r: neuroforge_io::Result<Recording>) -> String {
    match r {
        Ok(_) => panic!("imported"),
        Err(e) => e.to_string(),
    }
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// The Units table: good units by default (with their ids and exact spike times), every unit
/// with --all-clusters.
#[test]
fn units_import_with_their_ids_times_and_quality() {
    let want = expected("units_position.nwb");
    let rec = import(&nwb("units_position.nwb"), &ImportOptions::default()).unwrap();
    let good: Vec<String> = want["good_units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(rec.neuron_ids(), good.as_slice());
    let Activity::SpikeTimes(trains) = rec.activity() else {
        panic!("not spike times")
    };
    for (id, times) in good.iter().zip(&trains.times_s) {
        assert_eq!(times, &floats(&want["spike_times"][id]), "unit {id}");
    }
    assert_eq!(rec.provenance().source_format.as_deref(), Some("nwb"));
    assert_eq!(rec.provenance().variable.as_deref(), Some("/units"));
    assert!(
        rec.provenance()
            .steps
            .iter()
            .any(|s| s.contains("kept the 4 of 6 units labelled good in the quality column")),
        "{:?}",
        rec.provenance().steps
    );
    let all = ImportOptions {
        all_clusters: true,
        ..Default::default()
    };
    let rec = import(&nwb("units_position.nwb"), &all).unwrap();
    let ids: Vec<String> = want["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    assert_eq!(rec.neuron_ids(), ids.as_slice());
}

/// Binned spikes with position: counts equal binning the expected times, and the position at
/// each bin centre equals numpy's interp of the SpatialSeries (timestamps); the speed series
/// (starting_time + rate) comes through too.
#[test]
fn binned_units_take_behaviour_interpolated_at_bin_centres() {
    let want = expected("units_position.nwb");
    let options = ImportOptions {
        bin_ms: Some(want["bin_ms"].as_f64().unwrap()),
        behaviour: vec!["Position/xy".into(), "speed".into()],
        ..Default::default()
    };
    let rec = import(&nwb("units_position.nwb"), &options).unwrap();
    let Activity::Binned(binned) = rec.activity() else {
        panic!("not binned")
    };
    assert_eq!(binned.bin_width_s, Some(0.1));
    for (row, id) in rec.neuron_ids().iter().enumerate() {
        let times = floats(&want["spike_times"][id]);
        for bin in [0usize, 7, 123, binned.counts.ncols() - 1] {
            let (lo, hi) = (bin as f64 * 0.1, (bin + 1) as f64 * 0.1);
            let n = times.iter().filter(|&&t| t >= lo && t < hi).count() as u32;
            assert_eq!(binned.counts[[row, bin]], n, "unit {id} bin {bin}");
        }
    }
    let names: Vec<&str> = rec.covariates().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["xy_0", "xy_1", "speed"]);
    for (j, covariate) in rec.covariates()[..2].iter().enumerate() {
        let CovariateValues::Float(values) = &covariate.values else {
            panic!("not float")
        };
        let reference = floats(&want["xy_at_bin_centres"][j]);
        for (bin, (got, want)) in values.iter().zip(&reference).enumerate() {
            assert!(
                (got - want).abs() < 1e-12,
                "xy_{j} bin {bin}: {got} vs {want}"
            );
        }
    }
    let CovariateValues::Float(speed) = &rec.covariates()[2].values else {
        panic!("not float")
    };
    let v = want["speed"].as_f64().unwrap();
    // The series ends at its last sample (39.98 s), before the last bin centre (39.95 s is
    // inside; nothing is past it), so every bin has a speed.
    assert!(speed.iter().all(|s| (s - v).abs() < 1e-12), "{speed:?}");
}

/// Two RoiResponseSeries: the import names both and asks for --var; each reads with its rate
/// and values (gzip-compressed chunks), ROI indices as ids.
#[test]
fn roi_response_series_are_chosen_by_name() {
    let want = expected("ophys.nwb");
    let e = error(import(&nwb("ophys.nwb"), &ImportOptions::default()));
    for series in want["series"].as_array().unwrap() {
        assert!(e.contains(series.as_str().unwrap()), "{e}");
    }
    assert!(e.contains("choose one with --var"), "{e}");
    let read = |var: &str| {
        let options = ImportOptions {
            variable: Some(var.into()),
            ..Default::default()
        };
        import(&nwb("ophys.nwb"), &options).unwrap()
    };
    let raw = read("raw");
    let Activity::Traces(t) = raw.activity() else {
        panic!("not traces")
    };
    assert_eq!(
        t.values.dim(),
        (5, want["frames"].as_u64().unwrap() as usize)
    );
    assert_eq!(t.frame_rate_hz, want["rate_hz"].as_f64());
    let first: Vec<f64> = t.values.column(0).iter().map(|&v| f64::from(v)).collect();
    assert_eq!(first, floats(&want["raw_first_frame"]));
    assert_eq!(raw.neuron_ids(), ["0", "1", "2", "3", "4"]);
    // What the values are, from the series' container and its data's unit.
    assert_eq!(raw.quantity(), ("fluorescence".into(), "a.u.".into()));
    let dff = read("DfOverF/dff");
    let Activity::Traces(t) = dff.activity() else {
        panic!("not traces")
    };
    let last: Vec<f64> = t
        .values
        .column(t.values.ncols() - 1)
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    assert_eq!(last, floats(&want["dff_last_frame"]));
    assert_eq!(dff.quantity(), ("dF/F".into(), "dF/F".into()));
}

/// Files without what was asked for, and damaged files, are refused with one line naming the
/// file; nothing panics.
#[test]
fn missing_tables_and_damaged_files_are_refused() {
    let e = error(import(
        &nwb("behaviour_only.nwb"),
        &ImportOptions::default(),
    ));
    assert!(
        e.contains("behaviour_only.nwb: holds no neural data"),
        "{e}"
    );
    let units = ImportOptions {
        variable: Some("units".into()),
        ..Default::default()
    };
    let e = error(import(&nwb("ophys.nwb"), &units));
    assert!(
        e.contains("ophys.nwb: no neural data") && e.contains("named 'units'"),
        "{e}"
    );
    let behaviour = ImportOptions {
        variable: Some("raw".into()),
        behaviour: vec!["xy".into()],
        ..Default::default()
    };
    let e = error(import(&nwb("ophys.nwb"), &behaviour));
    assert!(
        e.contains("holds no behaviour series (asked for 'xy'"),
        "{e}"
    );
    let spikes_with_behaviour = ImportOptions {
        behaviour: vec!["xy".into()],
        ..Default::default()
    };
    let e = error(import(&nwb("units_position.nwb"), &spikes_with_behaviour));
    assert!(e.contains("pass --bin-ms"), "{e}");
    let not_nwb = ImportOptions {
        behaviour: vec!["xy".into()],
        ..Default::default()
    };
    let e = error(import(&format_fixture("kilosort"), &not_nwb));
    assert!(e.contains("--behaviour names series of an NWB file"), "{e}");

    let bytes = std::fs::read(nwb("units_position.nwb")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.nwb");
    for cut in [
        0usize,
        8,
        100,
        1000,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 10,
    ] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = error(import(&path, &ImportOptions::default()));
        assert!(
            e.starts_with(&format!("{}: ", path.display())),
            "cut {cut}: {e}"
        );
        assert_eq!(e.lines().count(), 1, "cut {cut}: {e}");
    }
    // An HDF5 file that is not NWB.
    let plain = dir.path().join("plain.nwb");
    let file = rust_hdf5::H5File::create(&plain).unwrap();
    let ds = file.new_dataset::<f64>().shape([3]).create("x").unwrap();
    ds.write_raw(&[1.0, 2.0, 3.0]).unwrap();
    file.close().unwrap();
    let e = error(import(&plain, &ImportOptions::default()));
    assert_eq!(
        e,
        format!(
            "{}: an HDF5 file, but not NWB (its root has no neurodata_type NWBFile)",
            plain.display()
        )
    );
}

fn export_and_reimport(rec: &Recording, options: &ImportOptions) -> Recording {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.nwb");
    neuroforge_io::export(rec, &path, None).unwrap();
    let back = import(&path, options).unwrap();
    assert_no_partial_files(dir.path());
    back
}

fn assert_no_partial_files(dir: &Path) {
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["out.nwb"]);
}

/// What we write, we read back the same: spike times (as a Units table), binned counts with
/// covariates (as a TimeSeries with its neuron table and behaviour series), traces.
#[test]
fn exports_read_back_unchanged() {
    let spikes = import(&nwb("units_position.nwb"), &ImportOptions::default()).unwrap();
    let back = export_and_reimport(&spikes, &ImportOptions::default());
    assert_eq!(back.neuron_ids(), spikes.neuron_ids());
    assert_eq!(back.activity(), spikes.activity());

    let options = ImportOptions {
        bin_ms: Some(100.0),
        behaviour: vec!["xy".into()],
        ..Default::default()
    };
    let binned = import(&nwb("units_position.nwb"), &options).unwrap();
    let reread = ImportOptions {
        behaviour: vec!["xy_0".into(), "xy_1".into()],
        ..Default::default()
    };
    let back = export_and_reimport(&binned, &reread);
    assert_eq!(back.neuron_ids(), binned.neuron_ids());
    assert_eq!(back.activity(), binned.activity());
    assert_eq!(back.covariates(), binned.covariates());

    let traces = import(
        &nwb("ophys.nwb"),
        &ImportOptions {
            variable: Some("raw".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let back = export_and_reimport(&traces, &ImportOptions::default());
    assert_eq!(back.activity(), traces.activity());
    // The units travel in the series' data; the container is ours, so the name is generic.
    assert_eq!(back.quantity().1, "a.u.");
    assert_eq!(back.neuron_ids(), traces.neuron_ids());
}

/// An export that cannot be written leaves nothing behind.
#[test]
fn a_failed_export_leaves_no_file() {
    let spikes = import(&nwb("units_position.nwb"), &ImportOptions::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("missing-folder").join("out.nwb");
    assert!(neuroforge_io::export(&spikes, &target, None).is_err());
    assert!(!target.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
