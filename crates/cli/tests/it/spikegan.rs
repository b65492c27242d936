//! `neuroforge train spikegan`, `resume`, `sample`, `explain importance` and `info` as a user
//! runs them: the run directory's contents, samples in the data's layout, a run killed with
//! SIGKILL and resumed ending where the uninterrupted run ends, and the bad-input contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use crate::common::{browser, run};

/// A small model so that the binary trains in a second or two.
const SMALL: &str = r#"
seed = 5
[model]
latent_dim = 8
critic_widths = [8, 8]
generator_widths = [8, 8]
[training]
batch_size = 16
log_every = 5
checkpoint_every = 10
keep_checkpoints = 2
heldout_samples = 32
"#;

fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// One line on stderr, exit code 2.
fn bad(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert_eq!(output.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "stderr: {stderr}");
    stderr
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Simulated packets of 8 neurons x 16 bins (a group of 4), and the small config file.
fn setup(dir: &Path) -> (PathBuf, PathBuf) {
    let data = dir.join("data.parquet");
    ok(&run(&[
        "simulate",
        "packets",
        "--neurons",
        "8",
        "--bins",
        "16",
        "--group-size",
        "4",
        "--samples",
        "200",
        "--seed",
        "1",
        "--out",
        p(&data),
    ]));
    let config = dir.join("small.toml");
    std::fs::write(&config, SMALL).unwrap();
    (data, config)
}

fn inspect(path: &Path) -> serde_json::Value {
    serde_json::from_str(&ok(&run(&["inspect", p(path), "--json"]))).unwrap()
}

/// The arguments of `train spikegan` on `data` with `config` into `run_dir`.
fn train_args<'a>(
    data: &'a Path,
    config: &'a Path,
    run_dir: &'a Path,
    iterations: &'a str,
) -> Vec<&'a str> {
    vec![
        "train",
        "spikegan",
        "--data",
        p(data),
        "--run-dir",
        p(run_dir),
        "--config",
        p(config),
        "--iterations",
        iterations,
    ]
}

/// Start `neuroforge` with `args` in the background (stdout discarded, stderr piped), and wait
/// until it has written the checkpoint of iteration 20 in `run_dir` (or two minutes passed).
fn spawn_until_checkpoint_20(args: &[&str], run_dir: &Path) -> std::process::Child {
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("neuroforge"))
        .args(args)
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !run_dir.join("checkpoints/iter-0000000020").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

fn manifest(run_dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run_dir.join("manifest.json")).unwrap()).unwrap()
}

/// The iterations of a run's metrics log, in the order they were written.
fn logged_iterations(run_dir: &Path) -> Vec<u64> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["iteration"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[test]
fn train_sample_and_explain_write_what_they_promise() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let run_dir = tmp.path().join("run");
    let trained = run(&train_args(&data, &config, &run_dir, "20"));
    let out = ok(&trained);
    assert!(out.contains("20 iterations"), "{out}");
    // stderr is a pipe here, as in a batch job: one plain progress line per logged iteration,
    // no bar and no colour codes.
    let stderr = String::from_utf8_lossy(&trained.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("iteration "))
        .collect();
    assert_eq!(progress.len(), 4, "{stderr}");
    for (line, at) in
        progress
            .iter()
            .zip(["5/20 (25%)", "10/20 (50%)", "15/20 (75%)", "20/20 (100%)"])
    {
        assert!(
            line.starts_with(&format!("iteration {at}, ")) && line.contains(" left: W "),
            "{line}"
        );
    }
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");

    let manifest = manifest(&run_dir);
    assert_eq!(manifest["status"], "finished");
    assert_eq!(manifest["seed"], 5);
    // `cargo xtask check-backends` runs these tests again with BURN_DEVICE=tch.
    let expected_device = std::env::var("BURN_DEVICE").unwrap_or_else(|_| "flex".into());
    assert_eq!(manifest["context"]["device"], expected_device.as_str());
    assert!(
        manifest["context"]["features"]
            .as_array()
            .unwrap()
            .contains(&"flex".into())
    );
    assert_eq!(manifest["data"]["train_samples"], 160);
    assert_eq!(manifest["data"]["heldout_samples"], 40);
    assert_eq!(manifest["config"]["model"]["neurons"], 8);
    assert_eq!(manifest["config"]["model"]["bins"], 16);
    // The default (fast) recipe's settings, and the paper's where it keeps them, survive into
    // the resolved config.
    assert_eq!(manifest["config"]["training"]["critic_steps"], 1);
    assert_eq!(
        manifest["config"]["training"]["critic_learning_rate"],
        0.004
    );
    assert_eq!(manifest["config"]["training"]["beta1"], 0.0);
    let toml = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(toml.contains("gradient_penalty = 10.0"), "{toml}");
    assert_eq!(logged_iterations(&run_dir), vec![5, 10, 15, 20]);
    // Training writes its curves into the run: the critic's estimate and penalty, the
    // generator's loss, and the errors of fresh samples when the run monitors them.
    let training = std::fs::read_to_string(run_dir.join("report.md")).unwrap();
    assert!(
        training.contains("report_plots/training-critic.svg"),
        "{training}"
    );
    assert!(browser::check_report(&run_dir.join("report.html"), "spikegan-training") >= 2);
    let kept: Vec<String> = std::fs::read_dir(run_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    // keep_checkpoints = 2: the two newest, and the untrained one.
    let mut kept = kept;
    kept.sort();
    assert_eq!(
        kept,
        ["iter-0000000000", "iter-0000000010", "iter-0000000020"],
        "{kept:?}"
    );

    // A total below the run's progress is refused before anything changes.
    let config_before = std::fs::read(run_dir.join("config.toml")).unwrap();
    let manifest_before = std::fs::read(run_dir.join("manifest.json")).unwrap();
    let e = bad(&run(&[
        "resume",
        "--run-dir",
        p(&run_dir),
        "--iterations",
        "5",
    ]));
    assert!(e.contains("already at iteration 20"), "{e}");
    assert_eq!(
        std::fs::read(run_dir.join("config.toml")).unwrap(),
        config_before
    );
    assert_eq!(
        std::fs::read(run_dir.join("manifest.json")).unwrap(),
        manifest_before
    );

    let samples = tmp.path().join("samples.parquet");
    let probabilities = tmp.path().join("p.parquet");
    ok(&run(&[
        "sample",
        "--run-dir",
        p(&run_dir),
        "--count",
        "30",
        "--seed",
        "2",
        "--out",
        p(&samples),
        "--probabilities",
        p(&probabilities),
    ]));
    let summary = inspect(&samples);
    assert_eq!(summary["neurons"], 8);
    assert_eq!(summary["bins"], 30 * 16);
    assert_eq!(summary["binary"], true);
    assert!(
        summary["covariates"]
            .as_array()
            .unwrap()
            .contains(&"sample".into())
    );
    let p_summary = inspect(&probabilities);
    assert_eq!(p_summary["kind"], "traces");
    // The samples are Bernoulli draws of the probabilities: their means agree within the
    // binomial error of 3,840 draws.
    let spike_mean = summary["mean_rate"].as_f64().unwrap();
    let p_mean = p_summary["mean_value"].as_f64().unwrap();
    assert!(
        (spike_mean - p_mean).abs() < 0.05,
        "{spike_mean} vs {p_mean}"
    );
    // The same seed gives the same samples.
    let again = tmp.path().join("again.parquet");
    ok(&run(&[
        "sample",
        "--run-dir",
        p(&run_dir),
        "--count",
        "30",
        "--seed",
        "2",
        "--out",
        p(&again),
    ]));
    assert_eq!(inspect(&again)["total_spikes"], summary["total_spikes"]);

    let maps = tmp.path().join("maps.parquet");
    let json = tmp.path().join("maps.json");
    let line = ok(&run(&[
        "explain",
        "importance",
        "--run-dir",
        p(&run_dir),
        "--data",
        p(&data),
        "--out",
        p(&maps),
        "--samples",
        "6",
        "--json",
        p(&json),
        "--report",
        p(&tmp.path().join("importance.md")),
    ]));
    assert!(line.contains("most important neurons"), "{line}");
    let maps_summary = inspect(&maps);
    assert_eq!(maps_summary["neurons"], 8);
    assert_eq!(maps_summary["frames"], 6 * 16);
    let explained: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(explained["neuron_importance"].as_array().unwrap().len(), 8);
    assert_eq!(explained["true_sequence"], serde_json::json!([0, 1, 2, 3]));
    // The printed read-out says what the JSON says.
    let recovered = explained["sequence_recovered"].as_bool().unwrap();
    assert_eq!(line.contains("was not recovered"), !recovered, "{line}");
    assert_eq!(
        line.contains("(the true sequence: recovered)"),
        recovered,
        "{line}"
    );
    let report = std::fs::read_to_string(tmp.path().join("importance.md")).unwrap();
    assert_eq!(
        report.contains("The true packet sequence was recovered."),
        recovered
    );
    // Three sample maps, neuron and time importance.
    assert_eq!(
        browser::check_report(&tmp.path().join("importance.html"), "spikegan-importance"),
        5
    );
}

/// Read the final generator's probabilities of a run (seeded), as the summary numbers of the
/// written recording and the raw file bytes of its values.
fn final_probabilities(run_dir: &Path, out: &Path) -> serde_json::Value {
    ok(&run(&[
        "sample",
        "--run-dir",
        p(run_dir),
        "--count",
        "40",
        "--seed",
        "9",
        "--out",
        p(&out.with_extension("spikes.parquet")),
        "--probabilities",
        p(out),
    ]));
    ok(&run(&[
        "export",
        p(out),
        "--out",
        p(&out.with_extension("csv")),
    ]));
    serde_json::Value::String(std::fs::read_to_string(out.with_extension("csv")).unwrap())
}

#[test]
fn a_run_killed_with_sigkill_and_resumed_ends_like_the_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let total = "300";

    let whole = tmp.path().join("whole");
    ok(&run(&train_args(&data, &config, &whole, total)));

    // Kill it once it has written a checkpoint past iteration 0 (and well before the end).
    let killed = tmp.path().join("killed");
    let mut child = spawn_until_checkpoint_20(&train_args(&data, &config, &killed, total), &killed);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run finished before it could be killed: raise its iterations"
    );
    // A second writer is refused while the first runs, naming its pid, and changes nothing.
    let config_before = std::fs::read(killed.join("config.toml")).unwrap();
    let e = bad(&run(&["resume", "--run-dir", p(&killed)]));
    assert!(
        e.contains("is being written by") && e.contains(&format!("pid {}", child.id())),
        "{e}"
    );
    assert_eq!(
        std::fs::read(killed.join("config.toml")).unwrap(),
        config_before
    );
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    assert_eq!(manifest(&killed)["status"], "running");

    let out = ok(&run(&["resume", "--run-dir", p(&killed)]));
    assert!(out.contains(&format!("{total} iterations")), "{out}");
    let manifest = manifest(&killed);
    assert_eq!(manifest["status"], "finished");
    assert_eq!(manifest["sessions"].as_array().unwrap().len(), 2);
    // Every iteration logged once, in order, across the kill.
    let expected: Vec<u64> = (1..=60).map(|k| 5 * k).collect();
    assert_eq!(logged_iterations(&killed), expected);

    let a = final_probabilities(&whole, &tmp.path().join("whole-p.parquet"));
    let b = final_probabilities(&killed, &tmp.path().join("killed-p.parquet"));
    assert!(
        a == b,
        "the resumed run's generator differs from the uninterrupted run's"
    );
}

/// Ctrl-C (SIGINT) during training: a checkpoint of the last iteration, status
/// `interrupted`, exit status 130 and one line saying so; `resume` then finishes the run.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_training_after_a_checkpoint_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let run_dir = tmp.path().join("run");
    let child = spawn_until_checkpoint_20(&train_args(&data, &config, &run_dir, "300"), &run_dir);
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("interrupted: training interrupted after iteration "),
        "{stderr}"
    );

    let stopped = manifest(&run_dir);
    assert_eq!(stopped["status"], "interrupted");
    let stopped_at = stopped["sessions"][0]["end_iteration"].as_u64().unwrap();
    assert!((20..300).contains(&stopped_at), "stopped at {stopped_at}");
    assert!(
        last.contains(&format!("after iteration {stopped_at};")),
        "{last}"
    );
    let checkpoint = format!("checkpoints/iter-{stopped_at:010}");
    assert!(run_dir.join(&checkpoint).is_dir(), "no {checkpoint}");

    let out = ok(&run(&["resume", "--run-dir", p(&run_dir)]));
    assert!(out.contains("300 iterations"), "{out}");
    let resumed = manifest(&run_dir);
    assert_eq!(resumed["status"], "finished");
    assert_eq!(resumed["sessions"][1]["start_iteration"], stopped_at);
    assert_eq!(
        logged_iterations(&run_dir),
        (1..=60).map(|k| 5 * k).collect::<Vec<u64>>()
    );
}

#[test]
fn bad_runs_and_devices_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let run_dir = tmp.path().join("run");
    let train = |extra: &[&str]| {
        let mut args = train_args(&data, &config, &run_dir, "2");
        args.extend_from_slice(extra);
        run(&args)
    };
    assert!(bad(&train(&["--device", "gpu"])).contains("unknown device"));
    if !cfg!(feature = "cuda") {
        assert!(bad(&train(&["--device", "cuda:0"])).contains("--features cuda"));
    }
    // A config with a key the model does not have names the table and the key.
    let typo = tmp.path().join("typo.toml");
    std::fs::write(&typo, "[model]\nlatent_dims = 3\n").unwrap();
    let err = bad(&run(&[
        "train",
        "spikegan",
        "--data",
        p(&data),
        "--run-dir",
        p(&run_dir),
        "--config",
        p(&typo),
    ]));
    assert!(
        err.contains("typo.toml") && err.contains("latent_dims"),
        "{err}"
    );
    // Bins come from the data.
    std::fs::write(&typo, "[model]\nbins = 3\n").unwrap();
    assert!(
        bad(&run(&[
            "train",
            "spikegan",
            "--data",
            p(&data),
            "--run-dir",
            p(&run_dir),
            "--config",
            p(&typo),
        ]))
        .contains("comes from the data")
    );
    // Traces are not spikes.
    let traces = tmp.path().join("traces.parquet");
    ok(&run(&[
        "simulate",
        "calcium",
        "--neurons",
        "3",
        "--frames",
        "200",
        "--seed",
        "1",
        "--out",
        p(&traces),
    ]));
    let err = bad(&run(&[
        "train",
        "spikegan",
        "--data",
        p(&traces),
        "--run-dir",
        p(&tmp.path().join("r2")),
    ]));
    assert!(err.contains("binned"), "{err}");

    // A run directory is never overwritten.
    ok(&train(&[]));
    assert!(bad(&train(&[])).contains("resume"));
    // Sampling from something that is not a run, or zero samples, writes nothing.
    let out = tmp.path().join("s.parquet");
    assert!(
        bad(&run(&[
            "sample",
            "--run-dir",
            p(tmp.path()),
            "--count",
            "3",
            "--out",
            p(&out)
        ]))
        .contains("not a run directory")
    );
    bad(&run(&[
        "sample",
        "--run-dir",
        p(&run_dir),
        "--count",
        "0",
        "--out",
        p(&out),
    ]));
    assert!(!out.exists());
    // The info command lists the compiled backends.
    let info = ok(&run(&["info"]));
    assert!(info.contains("flex"), "{info}");
}

/// The files of the newest checkpoint of a run and their bytes.
fn newest_checkpoint_bytes(run_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let checkpoints = run_dir.join("checkpoints");
    let mut names: Vec<String> = std::fs::read_dir(&checkpoints)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("iter-"))
        .collect();
    names.sort();
    let newest = checkpoints.join(names.last().unwrap());
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&newest)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Half-written checkpoints left in a run directory.
fn partial_checkpoints(run_dir: &Path) -> Vec<String> {
    std::fs::read_dir(run_dir.join("checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".partial-"))
        .collect()
}

/// Start `neuroforge` with `args` in the background, with every checkpoint write paused for
/// `pause_ms` between its files and its publication.
fn spawn_pausing(args: &[&str], pause_ms: u64) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("neuroforge"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("NEUROFORGE_FAULT_CHECKPOINT_PAUSE_MS", pause_ms.to_string())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Wait up to two minutes for `path` to exist.
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(path.exists(), "{} did not appear", path.display());
}

/// The fault-injection test: training killed with SIGKILL at 20 random moments (checkpoint
/// writes are slowed so that many kills land inside one), resumed after each, ends with the
/// uninterrupted run's checkpoint bytes, its metrics logged once each, no half-written
/// checkpoint left, and `verify` content.
#[cfg(unix)]
#[test]
fn twenty_kills_at_random_moments_end_with_the_uninterrupted_runs_checkpoint_bytes() {
    use rand::{RngExt, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    // Enough iterations that 20 kills land before the end on a fast machine (19 of 20 did at
    // 600 once the native convolutions came in).
    let total = "1200"; // metrics every 5 iterations: 240 lines
    let whole = tmp.path().join("whole");
    ok(&run(&train_args(&data, &config, &whole, total)));

    let killed = tmp.path().join("killed");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
    let mut kills = 0;
    let mut inside_a_write = 0;
    for attempt in 0..20 {
        let args: Vec<&str> = if attempt == 0 {
            train_args(&data, &config, &killed, total)
        } else {
            vec!["resume", "--run-dir", p(&killed)]
        };
        let mut child = spawn_pausing(&args, 40);
        if attempt == 0 {
            wait_for(&killed.join("checkpoints/iter-0000000000"));
        }
        std::thread::sleep(Duration::from_millis(rng.random_range(50..700)));
        if child.try_wait().unwrap().is_some() {
            break; // finished before the kill: too few iterations for this machine
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        inside_a_write += usize::from(!partial_checkpoints(&killed).is_empty());
        eprintln!(
            "kill {kills}: at {} inside {inside_a_write}",
            manifest(&killed)["sessions"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()["end_iteration"]
        );
    }
    assert_eq!(
        kills, 20,
        "the run finished before 20 kills: raise its iterations"
    );
    assert!(
        inside_a_write >= 2,
        "only {inside_a_write} kills landed inside a checkpoint write"
    );

    ok(&run(&["resume", "--run-dir", p(&killed)]));
    assert_eq!(manifest(&killed)["status"], "finished");
    assert_eq!(partial_checkpoints(&killed), Vec::<String>::new());
    let expected: Vec<u64> = (1..=240).map(|k| 5 * k).collect();
    assert_eq!(logged_iterations(&killed), expected);
    let a = newest_checkpoint_bytes(&whole);
    let b = newest_checkpoint_bytes(&killed);
    assert_eq!(
        a.iter().map(|(n, _)| n).collect::<Vec<_>>(),
        b.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        assert!(x == y, "{name} differs from the uninterrupted run's");
    }
    let out = ok(&run(&["verify", "--run-dir", p(&killed)]));
    assert!(out.contains("checkpoints intact"), "{out}");
}

/// A second Ctrl-C ends training at once, inside a checkpoint write, yet records the run as
/// `interrupted` with its reason, leaves no half-written checkpoint, says so in one line, and
/// the run resumes to the end.
#[cfg(unix)]
#[test]
fn a_second_signal_exits_at_once_but_records_the_interruption_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let run_dir = tmp.path().join("run");
    // Each checkpoint write takes 2 s, so both signals land inside the one the first begins.
    let child = spawn_pausing(&train_args(&data, &config, &run_dir, "300"), 2000);
    wait_for(&run_dir.join("checkpoints/iter-0000000010"));
    let kill = |signal: &str| {
        let sent = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    kill("-INT");
    std::thread::sleep(Duration::from_millis(300));
    kill("-INT");
    let started = Instant::now();
    let output = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "did not exit at once"
    );
    assert_eq!(output.status.code(), Some(130), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("interrupted: stopped at once by a second signal;")
            && last.contains("keeps its checkpoint of iteration 10"),
        "{stderr}"
    );
    let stopped = manifest(&run_dir);
    assert_eq!(stopped["status"], "interrupted");
    assert_eq!(
        stopped["sessions"][0]["reason"],
        "stopped at once by a second signal"
    );
    assert!(stopped["sessions"][0]["ended_unix_s"].is_f64());
    assert_eq!(partial_checkpoints(&run_dir), Vec::<String>::new());
    let out = ok(&run(&["resume", "--run-dir", p(&run_dir)]));
    assert!(out.contains("300 iterations"), "{out}");
    assert_eq!(manifest(&run_dir)["status"], "finished");
}

/// `verify` names a damaged checkpoint and fails; `sample` falls back to the newest intact one
/// with one warning line naming the damage.
#[test]
fn a_damaged_checkpoint_is_reported_by_verify_and_passed_over_by_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = setup(tmp.path());
    let run_dir = tmp.path().join("run");
    ok(&run(&train_args(&data, &config, &run_dir, "20")));
    let out = ok(&run(&["verify", "--run-dir", p(&run_dir)]));
    assert!(
        out.contains("checkpoints/iter-0000000020  intact")
            && out.contains("3 checkpoints intact; `resume` and `sample` use iter-0000000020"),
        "{out}"
    );
    // 64 flipped bytes in the generator's weights.
    let generator = run_dir.join("checkpoints/iter-0000000020/generator.bpk");
    let mut bytes = std::fs::read(&generator).unwrap();
    let end = bytes.len();
    for b in &mut bytes[end - 64..] {
        *b ^= 0xff;
    }
    std::fs::write(&generator, &bytes).unwrap();
    let e = bad(&run(&["verify", "--run-dir", p(&run_dir)]));
    assert!(
        e.contains("1 of 3 checkpoints damaged; `resume` and `sample` use iter-0000000010"),
        "{e}"
    );
    let listed = run(&["verify", "--run-dir", p(&run_dir)]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(
            "checkpoints/iter-0000000020  damaged: generator.bpk does not match its checksum"
        ),
        "{listed:?}"
    );
    let out = tmp.path().join("s.parquet");
    let sampled = run(&[
        "sample",
        "--run-dir",
        p(&run_dir),
        "--count",
        "4",
        "--out",
        p(&out),
    ]);
    ok(&sampled);
    let stderr = String::from_utf8_lossy(&sampled.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("damaged checkpoint iter-0000000020 (generator.bpk does not match")
            && stderr.contains("using iter-0000000010, the newest intact checkpoint"),
        "{stderr}"
    );
}
