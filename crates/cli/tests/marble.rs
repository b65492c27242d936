//! `neuroforge train marble`, `embed`, `compare` and `decode` end to end on van der Pol fields,
//! and their one-line errors on bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::run;
use neuroforge_io::{PointTable, read_points, write_points};

fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn fails(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{args:?} should fail with exit code 2"
    );
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

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
    ]);
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
    ]);
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
    ]);
    let dec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("dec.json")).unwrap()).unwrap();
    assert!(dec["r2"].as_f64().unwrap() > 0.8, "{dec}");
    assert!(
        std::fs::read_to_string(p("mds.svg"))
            .unwrap()
            .contains("mu=0.5")
    );
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
        e.contains("not connected") && e.contains("raise graph.k"),
        "{e}"
    );
    let e = fails(&["compare", &p("split.parquet"), "--out", &p("c.json")]);
    assert!(e.contains("split.parquet") && e.contains("z0"), "{e}");
    assert!(!dir.path().join("c.json").exists());
}
