//! `neuroforge train marble`, `embed`, `compare` and `decode` end to end on van der Pol fields,
//! and their one-line errors on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use crate::common::{browser, fails, ok};
use neuroforge_io::{PointTable, read_points, write_points};

#[test]
fn marble_orders_van_der_pol_conditions_by_mu_and_decodes_a_carried_block() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "vanderpol",
        "--mu=-1,-0.5,0,0.5,1",
        "--initial-conditions",
        "36",
        "--extent",
        "1",
        "--steps",
        "40",
        "--points",
        "--out",
        &p("vdp.parquet"),
    ]);
    // Carry a block to decode: the state's radius (a function of the states).
    let mut table = read_points(dir.path().join("vdp.parquet").as_path()).unwrap();
    let x = table.block("x").unwrap().clone();
    let radius = ndarray::Array2::from_shape_fn((x.nrows(), 1), |(i, _)| {
        (x[[i, 0]].powi(2) + x[[i, 1]].powi(2)).sqrt()
    });
    table.blocks.push(("r".into(), radius));
    write_points(dir.path().join("vdp.parquet").as_path(), &table).unwrap();
    let line = ok(&[
        "train",
        "marble",
        "--data",
        &p("vdp.parquet"),
        "--run-dir",
        &p("run"),
        "--epochs",
        "20",
        "--k",
        "15",
        "--delta",
        "1.5",
        "--spacing",
        "0.02",
        "--seed",
        "1",
    ]);
    assert!(line.contains("5 conditions"), "{line}");
    ok(&[
        "embed",
        "--run-dir",
        &p("run"),
        "--data",
        &p("vdp.parquet"),
        "--out",
        &p("z.parquet"),
        "--plot",
        &p("z.svg"),
        "--report",
        &p("embed.md"),
    ]);
    // z0 against z1, and a PCA of the three coordinates, with the five conditions named; the
    // embedding coloured by the carried block r.
    assert_eq!(
        browser::check_report(&dir.path().join("embed.html"), "marble-embed"),
        3
    );
    assert!(
        std::fs::read_to_string(p("embed.md"))
            .unwrap()
            .contains("embedding-by-r0.svg")
    );
    let embed_page = std::fs::read_to_string(p("embed.html")).unwrap();
    for mu in ["mu=-1", "mu=-0.5", "mu=0", "mu=0.5", "mu=1"] {
        assert!(embed_page.contains(&format!(">{mu}<")), "legend names {mu}");
    }
    let embedded: PointTable = read_points(dir.path().join("z.parquet").as_path()).unwrap();
    assert_eq!(embedded.block("z").unwrap().ncols(), 3);
    assert!(
        embedded.block("r").is_some(),
        "other blocks are carried along"
    );
    ok(&[
        "compare",
        &p("z.parquet"),
        "--out",
        &p("cmp.json"),
        "--plot",
        &p("mds.svg"),
        "--report",
        &p("compare.md"),
    ]);
    assert!(dir.path().join("mds-distances.svg").is_file());
    assert_eq!(
        browser::check_report(&dir.path().join("compare.html"), "marble-compare"),
        2
    );
    let cmp: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("cmp.json")).unwrap()).unwrap();
    let first: Vec<f64> = cmp["mds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_f64().unwrap())
        .collect();
    // The condition layout follows mu: at most one adjacent pair of the five swapped (the
    // negative-mu fields differ least: their trajectories all decay to the fixed point).
    let mu = [-1.0, -0.5, 0.0, 0.5, 1.0];
    let rho = neuroforge_stats::transport::spearman(&first, &mu).unwrap();
    assert!(rho.abs() >= 0.85, "MDS 1 {first:?}, Spearman {rho}");
    let d = &cmp["distances"];
    assert!(d[0][4].as_f64().unwrap() > d[0][1].as_f64().unwrap(), "{d}");
    ok(&[
        "decode",
        &p("z.parquet"),
        "--features",
        "x",
        "--targets",
        "r",
        "--decoder",
        "knn",
        "--neighbours",
        "5",
        "--metric",
        "euclidean",
        "--out",
        &p("dec.json"),
        "--report",
        &p("decode.md"),
    ]);
    // One target column: decoded and true over rows, and decoded against true.
    assert_eq!(
        browser::check_report(&dir.path().join("decode.html"), "marble-decode"),
        2
    );
    let dec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec.json")).unwrap()).unwrap();
    assert!(dec["r2"].as_f64().unwrap() > 0.8, "{dec}");
    // The notebooks' protocol: train on the first 75% of the rows, predict the last 25%.
    ok(&[
        "decode",
        &p("z.parquet"),
        "--features",
        "x",
        "--targets",
        "r",
        "--neighbours",
        "5",
        "--split",
        "last",
        "--test-fraction",
        "0.25",
        "--out",
        &p("dec-last.json"),
    ]);
    let last: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec-last.json")).unwrap()).unwrap();
    let rows = dec["held_out_rows"].as_u64().unwrap() as f64;
    assert_eq!(
        last["held_out_rows"].as_u64().unwrap(),
        (rows * 0.25).round() as u64,
        "{last}"
    );
    assert_eq!(last["split"]["kind"], "last", "{last}");
    assert!(last["r2"].as_f64().unwrap().is_finite(), "{last}");
    // A validation split inside the training part: the first 75% of the rows, of which the
    // last 25% are predicted; no row of the test part (the last 25%) is used.
    let within = |fraction: &str, out: &str| {
        vec![
            "decode".to_string(),
            p("z.parquet"),
            "--features".into(),
            "x".into(),
            "--targets".into(),
            "r".into(),
            "--neighbours".into(),
            "5".into(),
            "--split".into(),
            "last".into(),
            "--test-fraction".into(),
            "0.25".into(),
            "--rows-fraction".into(),
            fraction.into(),
            "--out".into(),
            p(out),
        ]
    };
    let args = within("0.75", "dec-val.json");
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let val: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec-val.json")).unwrap()).unwrap();
    let used = (rows * 0.75).round();
    assert_eq!(val["rows_used"].as_u64().unwrap(), used as u64, "{val}");
    assert_eq!(
        val["held_out_rows"].as_u64().unwrap(),
        (used * 0.25).round() as u64,
        "{val}"
    );
    assert_ne!(val["r2"], last["r2"], "{val}");
    let args = within("1.5", "dec-val-bad.json");
    let message = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(message.contains("--rows-fraction 1.5"), "{message}");
    assert!(!dir.path().join("dec-val-bad.json").exists());
    let message = fails(&[
        "decode",
        &p("z.parquet"),
        "--targets",
        "r",
        "--split",
        "sideways",
        "--out",
        &p("dec-bad.json"),
    ]);
    assert!(message.contains("unknown split 'sideways'"), "{message}");
    assert!(!dir.path().join("dec-bad.json").exists());
    assert!(
        std::fs::read_to_string(p("mds.svg"))
            .unwrap()
            .contains("mu=0.5")
    );
}

/// Ctrl-C (SIGINT) during `train marble`: a checkpoint of the last epoch, status
/// `interrupted`, exit status 130; `resume` then ends with the uninterrupted run's network
/// (the same embedding, value for value) and every epoch logged once.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_marble_after_a_checkpoint_and_resume_ends_like_the_uninterrupted_run() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "vanderpol",
        "--mu=-0.5,1",
        "--initial-conditions",
        "16",
        "--extent",
        "1",
        "--steps",
        "30",
        "--points",
        "--out",
        &p("vdp.parquet"),
    ]);
    let train = |run: &str| {
        vec![
            "train".to_string(),
            "marble".into(),
            "--data".into(),
            p("vdp.parquet"),
            "--run-dir".into(),
            p(run),
            "--epochs".into(),
            "80".into(),
            "--k".into(),
            "15".into(),
            "--delta".into(),
            "1.5".into(),
            "--seed".into(),
            "3".into(),
        ]
    };
    let whole: Vec<String> = train("whole");
    ok(&whole.iter().map(String::as_str).collect::<Vec<_>>());

    let stopped_dir = dir.path().join("stopped");
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("neuroforge"))
        .args(train("stopped"))
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stopped_dir.join("checkpoints/iter-0000000010").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let manifest = |run: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(run).join("manifest.json")).unwrap(),
        )
        .unwrap()
    };
    let stopped = manifest("stopped");
    assert_eq!(stopped["status"], "interrupted");
    let stopped_at = stopped["sessions"][0]["end_iteration"].as_u64().unwrap();
    assert!((10..80).contains(&stopped_at), "stopped at {stopped_at}");

    let line = ok(&["resume", "--run-dir", &p("stopped")]);
    assert!(line.contains("of 80"), "{line}");
    let resumed = manifest("stopped");
    assert_eq!(resumed["status"], "finished");
    assert_eq!(resumed["model"], "marble");
    assert_eq!(resumed["sessions"][1]["start_iteration"], stopped_at);
    assert_eq!(
        resumed["best_checkpoint"],
        manifest("whole")["best_checkpoint"]
    );
    let epochs = |run: &str| -> Vec<u64> {
        std::fs::read_to_string(dir.path().join(run).join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["epoch"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    assert_eq!(epochs("stopped"), (1..=80).collect::<Vec<u64>>());
    for run in ["whole", "stopped"] {
        ok(&[
            "embed",
            "--run-dir",
            &p(run),
            "--data",
            &p("vdp.parquet"),
            "--out",
            &p(&format!("{run}.parquet")),
        ]);
    }
    let z = |run: &str| {
        read_points(dir.path().join(format!("{run}.parquet")).as_path())
            .unwrap()
            .block("z")
            .unwrap()
            .clone()
    };
    assert_eq!(z("whole"), z("stopped"));
}

#[test]
fn bad_marble_inputs_give_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::write(p("junk.parquet"), b"not parquet").unwrap();
    let e = fails(&[
        "train",
        "marble",
        "--data",
        &p("junk.parquet"),
        "--run-dir",
        &p("r"),
    ]);
    assert!(e.contains("junk.parquet"), "{e}");
    assert!(
        !dir.path().join("r").exists(),
        "no run directory for bad input"
    );
    // Two far-apart clusters: the graph is disconnected.
    let x = ndarray::Array2::from_shape_fn((60, 2), |(i, c)| {
        (i as f64 * 0.37).sin() * 0.1
            + if i < 30 { 0.0 } else { 100.0 }
            + c as f64 * 0.01 * i as f64
    });
    let table = PointTable {
        condition: vec!["a".into(); 60],
        trajectory: None,
        blocks: vec![("x".into(), x.clone()), ("v".into(), x)],
    };
    write_points(dir.path().join("split.parquet").as_path(), &table).unwrap();
    let e = fails(&[
        "train",
        "marble",
        "--data",
        &p("split.parquet"),
        "--run-dir",
        &p("r2"),
        "--k",
        "5",
    ]);
    assert!(
        e.contains("split.parquet") && e.contains("not connected") && e.contains("raise graph.k"),
        "{e}"
    );
    // Five points are too few for a proximity graph: the file is named.
    let x = ndarray::Array2::from_shape_fn((5, 2), |(i, c)| (i * 2 + c) as f64 * 0.1);
    let tiny = PointTable {
        condition: vec!["a".into(); 5],
        trajectory: None,
        blocks: vec![("x".into(), x.clone()), ("v".into(), x)],
    };
    write_points(dir.path().join("tiny.parquet").as_path(), &tiny).unwrap();
    let e = fails(&[
        "train",
        "marble",
        "--data",
        &p("tiny.parquet"),
        "--run-dir",
        &p("r3"),
    ]);
    assert!(e.contains("tiny.parquet"), "{e}");
    assert!(
        !dir.path().join("r3").exists(),
        "no run directory for bad input"
    );
    let e = fails(&["compare", &p("split.parquet"), "--out", &p("c.json")]);
    assert!(e.contains("split.parquet") && e.contains("z0"), "{e}");
    assert!(!dir.path().join("c.json").exists());
}

#[test]
fn points_keep_the_moving_bins_with_their_rates_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // Units 0 and 1 fire at 40 Hz (one spike per 25 ms bin), unit 1 only in the first 10 s. The animal moves at
    // 30 px/s for 10 s, then sits still for 10 s; the tracker loses it (y = 479) at 4-5 s.
    // Unit 2's single spike at t = 0 fixes the bins' origin; the others fire mid-bin.
    let mut spikes = String::from("unit,time_s\n2,0.0\n");
    for k in 0..800 {
        spikes.push_str(&format!("0,{:.4}\n", 0.0125 + k as f64 * 0.025));
    }
    for k in 0..400 {
        spikes.push_str(&format!("1,{:.4}\n", 0.0125 + k as f64 * 0.025));
    }
    std::fs::write(p("spikes.csv"), spikes).unwrap();
    let mut behaviour = String::from("time_s,x_px,y_px\n");
    for k in 0..1200 {
        let t = k as f64 / 60.0;
        let x = 30.0 * t.min(10.0);
        let y = if (4.0..5.0).contains(&t) {
            479.0
        } else {
            100.0
        };
        behaviour.push_str(&format!("{t:.5},{x:.3},{y}\n"));
    }
    std::fs::write(p("behaviour.csv"), behaviour).unwrap();
    let line = ok(&[
        "points",
        "--spikes",
        &p("spikes.csv"),
        "--behaviour",
        &p("behaviour.csv"),
        "--bin-ms",
        "25",
        "--smooth-ms",
        "0",
        "--min-speed",
        "20",
        "--invalid",
        "y_px=479",
        "--out",
        &p("points.parquet"),
    ]);
    assert!(line.contains("3 units"), "{line}");
    let table = read_points(dir.path().join("points.parquet").as_path()).unwrap();
    let t = table.block("t").unwrap();
    let pos = table.block("pos").unwrap();
    let x = table.block("x").unwrap();
    // Only moving, validly tracked bins: inside (0, 10) s and outside the dropout (with the
    // +-100 ms speed window).
    for r in 0..table.rows() {
        let time = t[[r, 0]];
        assert!(time > 0.0 && time < 10.2, "bin at {time} s kept");
        assert!(!(4.0..5.0).contains(&time), "dropout bin at {time} s kept");
        // Position is the bin's mean of 30 t.
        assert!(
            (pos[[r, 0]] - 30.0 * time).abs() < 0.6,
            "{} at {time}",
            pos[[r, 0]]
        );
        // One spike of each unit per 25 ms bin: 40 spikes/s.
        assert!((x[[r, 0]] - 40.0).abs() < 1e-9 && (x[[r, 1]] - 40.0).abs() < 1e-9);
    }
    assert!(table.rows() > 300, "{} bins", table.rows());
    // The dropout splits the run into two stretches.
    let trajectories = table.trajectory.as_ref().unwrap();
    assert_eq!(trajectories.iter().max(), Some(&1));
    let e = fails(&[
        "points",
        "--spikes",
        &p("spikes.csv"),
        "--behaviour",
        &p("behaviour.csv"),
        "--invalid",
        "z_px=1",
        "--out",
        &p("bad.parquet"),
    ]);
    assert!(e.contains("behaviour.csv") && e.contains("z_px"), "{e}");
}

/// Binned counts with a behaviour per bin (the form shared data sets take) reach MARBLE's point
/// table: `import --covariates` attaches the behaviour, `points --data` keeps every moving bin
/// with its exact counts; a behaviour of the wrong length is refused, naming both files.
#[test]
fn counts_with_a_behaviour_become_a_point_table_bin_for_bin() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // 2 units x 400 bins of 25 ms: unit 0 counts b % 3, unit 1 counts 1 in even bins.
    let bins: usize = 400;
    let counts: Vec<u8> = (0..2 * bins)
        .map(|i| {
            let (u, b) = (i / bins, i % bins);
            if u == 0 {
                (b % 3) as u8
            } else {
                u8::from(b.is_multiple_of(2))
            }
        })
        .collect();
    let mut f = std::fs::File::create(p("counts.npy")).unwrap();
    neuroforge_io::npy::write(&mut f, &[2, bins], &neuroforge_io::NumericData::U8(counts)).unwrap();
    drop(f);
    // Hand position along a line at 20 units/s for the first 300 bins, then still; bins
    // 100-119 lost (empty cells: NaN).
    let mut behaviour = String::from("time_s,hand_x,hand_y\n");
    for b in 0..bins {
        let t = b as f64 * 0.025;
        if (100..120).contains(&b) {
            behaviour.push_str(&format!("{t},,\n"));
        } else {
            let x = 20.0 * t.min(7.5);
            behaviour.push_str(&format!("{t},{x},0\n"));
        }
    }
    std::fs::write(p("hand.csv"), &behaviour).unwrap();
    ok(&[
        "import",
        &p("counts.npy"),
        "--bin-ms",
        "25",
        "--covariates",
        &p("hand.csv"),
        "--out",
        &p("reach.parquet"),
    ]);
    let line = ok(&[
        "points",
        "--data",
        &p("reach.parquet"),
        "--smooth-ms",
        "0",
        "--min-speed",
        "10",
        "--prefix",
        "hand",
        "--out",
        &p("points.parquet"),
    ]);
    assert!(
        line.contains("2 units") && line.contains("hand_x, hand_y"),
        "{line}"
    );
    let table = read_points(dir.path().join("points.parquet").as_path()).unwrap();
    let t = table.block("t").unwrap();
    let x = table.block("x").unwrap();
    let hand = table.block("hand").unwrap();
    for r in 0..table.rows() {
        let b = (t[[r, 0]] / 0.025 - 0.5).round() as usize;
        assert!(!(96..124).contains(&b), "bin {b} near the dropout kept");
        // The speed is measured over +-4 bins, so the 4 bins after the hand stops still move.
        assert!(b < 304, "still bin {b} kept");
        assert_eq!(x[[r, 0]], (b % 3) as f64 / 0.025, "bin {b}");
        assert_eq!(
            x[[r, 1]],
            f64::from(u8::from(b.is_multiple_of(2))) / 0.025,
            "bin {b}"
        );
        assert!((hand[[r, 0]] - 20.0 * b as f64 * 0.025).abs() < 1e-9);
    }
    assert!(table.rows() > 250, "{} rows", table.rows());

    // A behaviour one row short: refused, naming the table and the recording.
    let short: String = behaviour.lines().take(bins).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(p("short.csv"), short).unwrap();
    let e = fails(&[
        "import",
        &p("counts.npy"),
        "--bin-ms",
        "25",
        "--covariates",
        &p("short.csv"),
        "--out",
        &p("bad.parquet"),
    ]);
    assert!(
        e.contains("short.csv: holds 399 rows, but") && e.contains("has 400 time points"),
        "{e}"
    );
    assert!(!dir.path().join("bad.parquet").exists());
}

/// Spike times are binned on a grid anchored at 0 (or --start-s), not at the first spike: a
/// first spike at 12.5 ms lands in bin [0, 25) ms.
#[test]
fn points_bin_spike_times_from_time_zero() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let mut spikes = String::from("unit,time_s\n");
    for k in 0..400 {
        spikes.push_str(&format!("0,{:.4}\n", 0.0125 + k as f64 * 0.025));
    }
    std::fs::write(p("spikes.csv"), spikes).unwrap();
    let mut behaviour = String::from("time_s,x_px,y_px\n");
    for k in 0..600 {
        let t = k as f64 / 60.0;
        behaviour.push_str(&format!("{t:.5},{:.3},0\n", 30.0 * t));
    }
    std::fs::write(p("behaviour.csv"), behaviour).unwrap();
    ok(&[
        "points",
        "--spikes",
        &p("spikes.csv"),
        "--behaviour",
        &p("behaviour.csv"),
        "--smooth-ms",
        "0",
        "--out",
        &p("points.parquet"),
    ]);
    let table = read_points(dir.path().join("points.parquet").as_path()).unwrap();
    let t = table.block("t").unwrap();
    // Bin centres on the grid from 0: 12.5 ms + k 25 ms.
    for r in 0..table.rows() {
        let k = (t[[r, 0]] - 0.0125) / 0.025;
        assert!(
            (k - k.round()).abs() < 1e-9,
            "bin centre {} off the grid",
            t[[r, 0]]
        );
    }
    let x = table.block("x").unwrap();
    assert!(x.iter().all(|&r| (r - 40.0).abs() < 1e-9));
}

/// `--train-fraction`: the network and the PCA see only the first rows of each condition;
/// `embed` embeds every usable row, and `decode --split last` then tests on exactly the rest.
/// The authors' preset (positions fed beside the features, no diffusion, normalised output)
/// runs end to end.
#[test]
fn training_on_the_first_rows_leaves_the_rest_for_a_held_out_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ok(&[
        "simulate",
        "vanderpol",
        "--mu=1",
        "--initial-conditions",
        "16",
        "--extent",
        "1",
        "--steps",
        "25",
        "--points",
        "--out",
        &p("vdp.parquet"),
    ]);
    // Vectors from the differences of the states, so that --pca applies.
    let mut table = read_points(dir.path().join("vdp.parquet").as_path()).unwrap();
    table.blocks.retain(|(prefix, _)| prefix != "v");
    write_points(dir.path().join("vdp.parquet").as_path(), &table).unwrap();
    std::fs::write(
        p("preset.toml"),
        "[geometry.graph]\nk = 10\ndelta = 1.5\n[features]\norder = 1\ndiffusion = false\n\
         [model]\nhidden = [16]\nout_channels = 4\nnormalize_output = true\n\
         include_positions = true\n",
    )
    .unwrap();
    let train = |fraction: &str| {
        vec![
            "train".to_string(),
            "marble".into(),
            "--data".into(),
            p("vdp.parquet"),
            "--run-dir".into(),
            p(&format!("run-{fraction}")),
            "--config".into(),
            p("preset.toml"),
            "--pca".into(),
            "2".into(),
            "--epochs".into(),
            "3".into(),
            "--train-fraction".into(),
            fraction.into(),
        ]
    };
    let args = train("0.75");
    let line = ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    ok(&[
        "embed",
        "--run-dir",
        &p("run-0.75"),
        "--data",
        &p("vdp.parquet"),
        "--out",
        &p("z.parquet"),
    ]);
    let embedded = read_points(dir.path().join("z.parquet").as_path()).unwrap();
    let usable = embedded.rows();
    // 16 trajectories of 26 states (the start and 25 steps): 25 usable points each (the last
    // has no vector).
    assert_eq!(usable, 16 * 25);
    let trained = (usable as f64 * 0.75).round() as usize;
    assert!(
        line.contains(&format!("{trained} nodes in 1 conditions")),
        "{line}"
    );
    assert_eq!(embedded.block("z").unwrap().ncols(), 4);
    let z = embedded.block("z").unwrap();
    for row in z.rows() {
        assert!(
            (row.dot(&row).sqrt() - 1.0).abs() < 1e-4,
            "normalised output"
        );
    }
    let preprocessing: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("run-0.75/preprocessing.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(preprocessing["train_fraction"], 0.75, "{preprocessing}");
    // Resuming rebuilds the same training points.
    let resumed = ok(&["resume", "--run-dir", &p("run-0.75"), "--iterations", "5"]);
    assert!(
        resumed.contains(&format!("{trained} nodes in 1 conditions")) && resumed.contains("of 5"),
        "{resumed}"
    );
    // The PCA is fitted on the training points only: the first 12 trajectories' first 25
    // states (rows 26 t .. 26 t + 25 of the table).
    let x = table.block("x").unwrap();
    let rows: Vec<usize> = (0..12).flat_map(|t| 26 * t..26 * t + 25).collect();
    assert_eq!(rows.len(), trained);
    for (j, mean) in preprocessing["pca"]["mean"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let expected = rows.iter().map(|&r| x[[r, j]]).sum::<f64>() / rows.len() as f64;
        assert!(
            (mean.as_f64().unwrap() - expected).abs() < 1e-9,
            "PCA mean {j}"
        );
    }
    ok(&[
        "decode",
        &p("z.parquet"),
        "--features",
        "x",
        "--targets",
        "x",
        "--split",
        "last",
        "--test-fraction",
        "0.25",
        "--out",
        &p("dec.json"),
    ]);
    let dec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec.json")).unwrap()).unwrap();
    assert_eq!(
        dec["held_out_rows"].as_u64().unwrap() as usize,
        usable - trained
    );
    for bad in ["0", "1.5", "nan"] {
        let args = train(bad);
        let message = fails(&args.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(message.contains("--train-fraction"), "{message}");
        assert!(!dir.path().join(format!("run-{bad}")).exists());
    }
}
