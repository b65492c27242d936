//! `cargo xtask reproduce <experiment> [--quick|--standard|--full] [--device D] [--check]
//! [--overwrite] [--resume]`:
//! the published experiments, end to end, through the `neuroforge` binary (built in release
//! mode first).
//!
//! Each experiment writes `runs/<experiment>/`: the data it made or copied, the run directory
//! of each model trained (`run/`), `samples.parquet`, `report.md` with its plots,
//! `results.json` with the key figures and `manifest.json` (commit, features, device, seeds,
//! settings, durations). `--check` compares the key figures of a `--quick` run with the bounds
//! committed in `xtask/expected/<experiment>.json` and fails on a regression. `--quick` and
//! `--standard` train Spike-GAN with neuroforge's recipe (`--recipe fast`: minutes, and at most
//! 90 minutes on two cores), `--full` with the paper's schedule. A directory that
//! holds a `--standard` or `--full` run is never deleted by a later run unless `--overwrite` is
//! given;
//! `--resume` continues an interrupted Spike-GAN run in it (Ctrl-C, a killed machine) from its
//! newest checkpoint and then samples, evaluates and reports as an uninterrupted run would.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::{root, run_in_root};

const EXPERIMENTS: [&str; 6] = [
    "spikegan-uniform",
    "spikegan-retina",
    "spikegan-packets",
    "marble-vanderpol",
    "marble-hippocampus",
    "cyclegan-synthetic",
];

const USAGE: &str = "usage: cargo xtask reproduce <spikegan-uniform | spikegan-retina | \
                     spikegan-packets | marble-vanderpol | marble-hippocampus | cyclegan-synthetic | all> [--quick | --standard | --full] [--device D] [--check] \
                     [--features F] [--overwrite] [--resume]";

/// How long to train: `--quick` and `--standard` use neuroforge's recipe for minutes and for
/// at most 90 minutes, `--full` is the paper's schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Mode {
    Quick,
    Standard,
    Full,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Quick => "quick",
            Mode::Standard => "standard",
            Mode::Full => "full",
        }
    }

    /// The `neuroforge train spikegan --recipe` of the mode.
    fn recipe(self) -> &'static str {
        match self {
            Mode::Quick | Mode::Standard => "fast",
            Mode::Full => "paper",
        }
    }

    /// The `neuroforge train spikegan --model-preset` of the mode: `--quick` trains the
    /// half-width model, which reaches lower errors than the authors' within its minutes
    /// (docs/RESULTS.md); the longer modes train the authors' model.
    fn model_preset(self) -> &'static str {
        match self {
            Mode::Quick => "half-width",
            Mode::Standard | Mode::Full => "paper",
        }
    }

    /// Whether a run of this mode is too long to be deleted unasked.
    fn is_long(self) -> bool {
        matches!(self, Mode::Standard | Mode::Full)
    }
}

pub(crate) struct Options {
    pub(crate) mode: Mode,
    pub(crate) device: Option<String>,
    pub(crate) check: bool,
    pub(crate) features: Option<String>,
    /// Whether an existing `--full` run in `runs/<experiment>/` may be deleted.
    pub(crate) overwrite: bool,
    /// Continue the interrupted Spike-GAN run in `runs/<experiment>/` instead of starting anew.
    pub(crate) resume: bool,
}

/// The settings of one Spike-GAN experiment.
struct SpikeGanExperiment {
    name: &'static str,
    /// Generator iterations (quick, standard, full).
    iterations: (u64, u64, u64),
    /// Seed of the simulation, the weights and the sampling.
    seed: u64,
    /// Generator iterations per second on one core of the development machine (flex), to
    /// schedule the longest experiment first: the `--quick` runs' speeds of 2026-12-05 (fast
    /// recipe, half-width model, the other core busy). Only their order matters; the longer
    /// modes keep it (the uniform data's longer windows cost the most per iteration).
    iterations_per_s: f64,
}

impl SpikeGanExperiment {
    fn iterations(&self, mode: Mode) -> u64 {
        match mode {
            Mode::Quick => self.iterations.0,
            Mode::Standard => self.iterations.1,
            Mode::Full => self.iterations.2,
        }
    }

    /// Expected training seconds.
    fn cost(&self, mode: Mode) -> f64 {
        self.iterations(mode) as f64 / self.iterations_per_s
    }
}

fn experiment(name: &str) -> Result<SpikeGanExperiment> {
    Ok(match name {
        "spikegan-uniform" => SpikeGanExperiment {
            name: "spikegan-uniform",
            iterations: (7200, 18_000, 300_000),
            seed: 1,
            iterations_per_s: 5.4,
        },
        "spikegan-retina" => SpikeGanExperiment {
            name: "spikegan-retina",
            iterations: (10_000, 24_000, 300_000),
            seed: 2,
            iterations_per_s: 19.4,
        },
        "spikegan-packets" => SpikeGanExperiment {
            name: "spikegan-packets",
            iterations: (6000, 27_000, 300_000),
            seed: 3,
            iterations_per_s: 7.8,
        },
        other => bail!("unknown experiment '{other}'\n{USAGE}"),
    })
}

pub fn run(args: &[String]) -> Result<()> {
    let mut names = Vec::new();
    let mut options = Options {
        mode: Mode::Quick,
        device: None,
        check: false,
        features: None,
        overwrite: false,
        resume: false,
    };
    catch_stop_signals();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--quick" => options.mode = Mode::Quick,
            "--standard" => options.mode = Mode::Standard,
            "--full" => options.mode = Mode::Full,
            "--check" => options.check = true,
            "--overwrite" => options.overwrite = true,
            "--resume" => options.resume = true,
            "--device" => {
                options.device = Some(iter.next().context("--device needs a value")?.clone())
            }
            "--features" => {
                options.features = Some(iter.next().context("--features needs a value")?.clone())
            }
            "all" => names.extend(EXPERIMENTS.iter().map(|s| s.to_string())),
            name if !name.starts_with('-') => names.push(name.to_string()),
            other => bail!("unknown option '{other}'\n{USAGE}"),
        }
    }
    if names.is_empty() {
        bail!("{USAGE}");
    }
    if options.check && options.mode != Mode::Quick {
        bail!("--check compares --quick runs with their committed expectations");
    }
    if options.resume && options.overwrite {
        bail!("--resume continues a run and --overwrite deletes it: pass one of them");
    }
    // Before anything runs: no experiment may delete a --full run unasked, and every run to
    // resume must be there.
    for name in &names {
        let dir = root().join("runs").join(name);
        if options.resume {
            if !name.starts_with("spikegan-") {
                bail!("--resume continues Spike-GAN runs; {name} has no resumable run");
            }
            resumable_run_dir(name, &options)?;
        } else {
            ensure_replaceable(&dir, &options)?;
        }
    }
    // MARBLE and CycleGAN experiments run one after another, before the Spike-GAN ones.
    let sequential = |n: &String| n.starts_with("marble-") || n.starts_with("cyclegan-");
    let marble: Vec<String> = names.iter().filter(|n| sequential(n)).cloned().collect();
    let experiments: Vec<SpikeGanExperiment> = names
        .iter()
        .filter(|n| !sequential(n))
        .map(|n| experiment(n))
        .collect::<Result<_>>()?;
    for name in &marble {
        if ![
            "marble-vanderpol",
            "marble-hippocampus",
            "cyclegan-synthetic",
        ]
        .contains(&name.as_str())
        {
            bail!("unknown experiment '{name}'\n{USAGE}");
        }
    }
    let binary = build_cli(&options)?;
    let mut failures = Vec::new();
    for name in &marble {
        let results = match name.as_str() {
            "marble-vanderpol" => crate::reproduce_marble::run_vanderpol(&binary, &options),
            "cyclegan-synthetic" => crate::reproduce_cyclegan::run_synthetic(&binary, &options),
            _ => crate::reproduce_marble::run_hippocampus(&binary, &options),
        }
        .with_context(|| format!("{name} failed"))?;
        if options.check {
            failures.extend(check(name, &results)?);
        }
    }
    // Experiments run side by side, one core each (flex gains nothing from a second thread on
    // these models), the longest first.
    let lanes = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(experiments.len())
        .max(1);
    let parallel = lanes > 1;
    let mut queue: Vec<&SpikeGanExperiment> = experiments.iter().collect();
    queue.sort_by(|a, b| a.cost(options.mode).total_cmp(&b.cost(options.mode)));
    let queue = std::sync::Mutex::new(queue);
    let finished = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..lanes {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(exp) = next else { break };
                    if parallel {
                        eprintln!(
                            "{}: started (progress in runs/{}/log.txt)",
                            exp.name, exp.name
                        );
                    }
                    let outcome = run_spikegan(exp, &binary, &options, parallel);
                    if let Ok(mut done) = finished.lock() {
                        done.push((exp.name, outcome));
                    }
                }
            });
        }
    });
    let finished = finished
        .into_inner()
        .map_err(|_| anyhow::anyhow!("an experiment thread panicked"))?;
    for (name, outcome) in finished {
        let results = outcome.with_context(|| format!("{name} failed"))?;
        if options.check {
            failures.extend(check(name, &results)?);
        }
    }
    if !failures.is_empty() {
        bail!("regression check failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Build the release binary (with `--features`) and return its path.
fn build_cli(options: &Options) -> Result<PathBuf> {
    let mut args = vec!["build", "--release", "--locked", "-p", "neuroforge"];
    if let Some(features) = &options.features {
        args.extend(["--features", features]);
    }
    run_in_root("cargo", &args)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let binary = target.join("release/neuroforge");
    if !binary.exists() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

/// How experiments run the binary: its path, and, when several experiments run side by side,
/// one compute thread per process and the commands' progress in a log file per experiment.
pub(crate) struct Runner {
    binary: PathBuf,
    /// Where the commands' stderr goes (`None`: the terminal).
    log: Option<PathBuf>,
}

impl Runner {
    /// A runner of `binary` whose commands' stderr goes to `log` (or the terminal).
    pub(crate) fn new(binary: &Path, log: Option<PathBuf>) -> Self {
        Self {
            binary: binary.to_path_buf(),
            log,
        }
    }

    /// Run the binary with `args`, echoing the command; fails naming the command.
    pub(crate) fn run(&self, args: &[String]) -> Result<String> {
        let line = format!("$ neuroforge {}", args.join(" "));
        let mut command = Command::new(&self.binary);
        command.args(args).current_dir(root());
        // flex gains nothing from a second thread on these models, and a second rayon worker
        // whose core is busy (another experiment, a build) makes it several times slower: one
        // compute thread per experiment unless the user chose otherwise.
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            command.env("RAYON_NUM_THREADS", "1");
        }
        // The same for libtorch's OpenMP pool: at the retina's shape a second thread saved 8%
        // of an iteration (95 against 103 s per 1,000 on 2026-12-03) for a whole second core.
        if std::env::var_os("OMP_NUM_THREADS").is_none() {
            command.env("OMP_NUM_THREADS", "1");
        }
        match &self.log {
            Some(log) => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .with_context(|| format!("opening {}", log.display()))?;
                std::io::Write::write_all(&mut file, format!("{line}\n").as_bytes())?;
                command.stderr(file);
            }
            None => {
                eprintln!("{line}");
                command.stderr(std::process::Stdio::inherit());
            }
        }
        if stop_requested() {
            bail!("interrupted before `neuroforge {}`", args.join(" "));
        }
        let output = command
            .output()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        if output.status.code() == Some(130) {
            bail!(
                "`neuroforge {}` was interrupted after writing a checkpoint; the same `cargo xtask \
                 reproduce` command with --resume finishes the experiment",
                args.join(" ")
            );
        }
        if !output.status.success() && stop_requested() {
            bail!("interrupted during `neuroforge {}`", args.join(" "));
        }
        if !output.status.success() {
            let hint = self
                .log
                .as_ref()
                .map(|l| format!(" (its messages: {})", l.display()))
                .unwrap_or_default();
            bail!(
                "`neuroforge {}` failed ({}){hint}",
                args.join(" "),
                output.status
            );
        }
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        if self.log.is_none() {
            print!("{stdout}");
        }
        Ok(stdout)
    }
}

/// The file in `runs/<name>/` that records which mode (`quick` or `full`) wrote it.
const MODE_MARKER: &str = ".mode";

/// `runs/<name>/`, emptied (a previous run's files would otherwise mix with this one's).
///
/// A directory holding a `--full` run (hours of training, possibly still to be resumed) is
/// never emptied unless `--overwrite` was given: the call fails naming it instead.
pub(crate) fn fresh_run_dir(name: &str, options: &Options) -> Result<PathBuf> {
    let dir = root().join("runs").join(name);
    ensure_replaceable(&dir, options)?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    write_file(&dir.join(MODE_MARKER), options.mode.name())?;
    Ok(dir)
}

/// Set by the first SIGINT or SIGTERM after [`catch_stop_signals`].
static STOP_REQUESTED: AtomicBool = AtomicBool::new(false);

/// Ctrl-C reaches the whole process group: the training child stops after a checkpoint of the
/// iteration in progress and exits with 130, which [`Runner::run`] turns into how to resume; so
/// the first signal only marks that no further command may start, and a second one ends xtask
/// at once (130 for SIGINT, 143 for SIGTERM).
fn catch_stop_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for (signal, status) in [(SIGINT, 130), (SIGTERM, 143)] {
        // The conditional exit first, so that it sees the flag as it was before this signal.
        let installed =
            signal_hook::flag::register_conditional_shutdown(signal, status, &STOP_REQUESTED)
                .and_then(|_| signal_hook::flag::register(signal, &STOP_REQUESTED));
        if let Err(e) = installed {
            eprintln!("warning: cannot catch signal {signal} ({e}): it ends xtask at once");
        }
    }
}

/// Whether a stop signal has arrived since [`catch_stop_signals`].
fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::Relaxed)
}

/// `runs/<name>/`, holding a run of `options.mode` with a training run directory to resume.
fn resumable_run_dir(name: &str, options: &Options) -> Result<PathBuf> {
    let dir = root().join("runs").join(name);
    let mode = std::fs::read_to_string(dir.join(MODE_MARKER)).unwrap_or_default();
    let mode = mode.trim();
    if mode != options.mode.name() {
        bail!(
            "{} holds no --{} run to resume ({}); start one without --resume",
            dir.display(),
            options.mode.name(),
            if mode.is_empty() {
                "no run at all".to_string()
            } else {
                format!("it holds a --{mode} run")
            }
        );
    }
    for needed in ["data.parquet", "run/manifest.json", "run/config.toml"] {
        if !dir.join(needed).exists() {
            bail!(
                "{} has no {needed}: the run cannot be resumed; start it again with --overwrite",
                dir.display()
            );
        }
    }
    Ok(dir)
}

/// Generator iterations per second over every session of a run manifest (a resumed run has
/// several; sessions killed before their first checkpoint report no throughput and are left
/// out), or `null` when none reports one.
fn overall_iterations_per_s(run_manifest: &Value) -> Value {
    let (mut iterations, mut seconds) = (0.0, 0.0);
    for session in run_manifest["sessions"].as_array().into_iter().flatten() {
        let done = session["end_iteration"].as_f64().unwrap_or(0.0)
            - session["start_iteration"].as_f64().unwrap_or(0.0);
        if let Some(rate) = session["iterations_per_s"].as_f64().filter(|r| *r > 0.0) {
            iterations += done;
            seconds += done / rate;
        }
    }
    if seconds > 0.0 {
        json!(iterations / seconds)
    } else {
        Value::Null
    }
}

/// Fails if `dir` holds a `--full` run and `--overwrite` was not given.
fn ensure_replaceable(dir: &Path, options: &Options) -> Result<()> {
    let previous = std::fs::read_to_string(dir.join(MODE_MARKER)).unwrap_or_default();
    let previous = previous.trim();
    let long = [Mode::Standard, Mode::Full]
        .into_iter()
        .find(|m| m.is_long() && m.name() == previous);
    if let Some(mode) = long
        && !options.overwrite
    {
        bail!(
            "{} holds a --{} run; move it aside, or pass --overwrite to delete it",
            dir.display(),
            mode.name()
        );
    }
    Ok(())
}

pub(crate) fn s(p: &Path) -> String {
    p.display().to_string()
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The statistics of the headline errors: (key in `stats --json`, key in results.json).
const HEADLINE: [(&str, &str); 5] = [
    ("firing_rate", "firing_rate_l1"),
    ("covariance", "covariance_l1"),
    ("population_count", "population_count_l1"),
    ("lag1_covariance", "lag1_covariance_l1"),
    ("autocorrelogram", "autocorrelogram_l1"),
];

/// The headline errors (and the rest of the comparison) of `stats --json` output, with their
/// bootstrap intervals (`<key>_ci95`, `<key>_real_vs_real`) when the comparison ran one.
fn headline(stats: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for (name, key) in HEADLINE {
        let statistic = &stats[name];
        out.insert(
            key.into(),
            json!(statistic["l1_error"].as_f64().unwrap_or(f64::NAN)),
        );
        if !statistic["ci95"].is_null() {
            out.insert(format!("{key}_ci95"), statistic["ci95"].clone());
            out.insert(
                format!("{key}_real_vs_real"),
                statistic["real_vs_real"].clone(),
            );
        }
    }
    out.insert(
        "nearest_sample_mean_generated".into(),
        stats["nearest_sample"]["extra"]["mean_generated"].clone(),
    );
    out.insert(
        "nearest_sample_mean_real".into(),
        stats["nearest_sample"]["extra"]["mean_real"].clone(),
    );
    Value::Object(out)
}

/// The firing-rate L1 error that a perfect model shows on `bins` generated bins: the mean
/// absolute deviation of binomial proportions at the data's rates (`stats --json`'s
/// `firing_rate.real`), `sum_i sqrt(2 / pi) sqrt(r_i (1 - r_i) / bins)`.
fn rate_error_floor(stats: &Value, bins: usize) -> Value {
    let rates: Vec<f64> = stats["firing_rate"]["real"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    if rates.is_empty() || bins == 0 {
        return Value::Null;
    }
    let m = bins as f64;
    json!(
        rates
            .iter()
            .map(|r| (2.0 / std::f64::consts::PI).sqrt() * (r * (1.0 - r) / m).sqrt())
            .sum::<f64>()
    )
}

/// How the DG's level is judged (issue 23): rates, covariances and P(k) at most this multiple
/// of the DG samples' errors, lag-1 covariances at most the DG's.
const DG_LEVEL_FACTOR: f64 = 1.25;

/// Whether Spike-GAN's errors are at the dichotomized Gaussian's level: each error's ratio to
/// the DG's, and the verdict.
fn dg_level(results: &serde_json::Map<String, Value>, dg: &Value) -> Value {
    let mut ratios = serde_json::Map::new();
    let mut reached = true;
    for (key, allowed) in [
        ("firing_rate_l1", DG_LEVEL_FACTOR),
        ("covariance_l1", DG_LEVEL_FACTOR),
        ("population_count_l1", DG_LEVEL_FACTOR),
        ("lag1_covariance_l1", 1.0),
    ] {
        let ours = results.get(key).and_then(Value::as_f64);
        let theirs = dg[key].as_f64();
        match (ours, theirs) {
            (Some(a), Some(b)) if b > 0.0 => {
                ratios.insert(key.into(), json!(a / b));
                reached &= a / b <= allowed;
            }
            _ => reached = false,
        }
    }
    json!({"ratio_to_dg": ratios, "reached": reached, "allowed_ratio": DG_LEVEL_FACTOR})
}

/// Compare `real` with `generated` through `neuroforge stats` and return the JSON.
/// `bootstrap` resamples give the errors their intervals (0: none).
#[allow(clippy::too_many_arguments)]
fn compare(
    runner: &Runner,
    dir: &Path,
    real: &Path,
    generated: &Path,
    label: &str,
    window: usize,
    report: bool,
    bootstrap: usize,
) -> Result<Value> {
    let json_path = dir.join(format!("stats-{label}.json"));
    let mut args = vec![
        "stats".to_string(),
        s(real),
        s(generated),
        "--window".into(),
        window.to_string(),
        "--bootstrap".into(),
        bootstrap.to_string(),
        "--json".into(),
        s(&json_path),
    ];
    if report {
        args.extend(["--report".into(), s(&dir.join(format!("stats-{label}.md")))]);
    }
    runner.run(&args)?;
    read_json(&json_path)
}

pub(crate) fn git_commit() -> Option<String> {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// The published errors of the authors' shipped model samples on the retina (METHODS.md).
fn published_retina() -> Value {
    json!({
        "kpairwise": {"firing_rate_l1": 0.0121, "covariance_l1": 0.0745,
                      "population_count_l1": 0.0046, "lag1_covariance_l1": 4.364},
        "dg": {"firing_rate_l1": 0.0117, "covariance_l1": 0.0708,
               "population_count_l1": 0.0078, "lag1_covariance_l1": 0.356},
    })
}

fn run_spikegan(
    exp: &SpikeGanExperiment,
    binary: &Path,
    options: &Options,
    parallel: bool,
) -> Result<Value> {
    let started = Instant::now();
    let dir = if options.resume {
        resumable_run_dir(exp.name, options)?
    } else {
        fresh_run_dir(exp.name, options)?
    };
    let runner = Runner {
        binary: binary.to_path_buf(),
        log: parallel.then(|| dir.join("log.txt")),
    };
    let iterations = exp.iterations(options.mode);
    let seed = exp.seed.to_string();
    let mut durations = serde_json::Map::new();
    let mut timed = |label: &str, t: Instant| {
        durations.insert(label.to_string(), json!(t.elapsed().as_secs_f64()));
    };

    // 1. The data (a resumed run keeps the file it was trained on).
    let t = Instant::now();
    let retina = root().join("fixtures/retina-marre2014");
    let data = dir.join("data.parquet");
    let (window, count) = match exp.name {
        // As many generated 32-bin samples as the recording has non-overlapping windows.
        "spikegan-retina" => (32usize, 283_041 / 32),
        "spikegan-uniform" => (128, 10240),
        _ => (64, 10240),
    };
    if !options.resume {
        if exp.name == "spikegan-retina" {
            runner.run(&[
                "import".into(),
                s(&retina.join("original_data_num_neurons_50_1.mat")),
                "--out".into(),
                s(&data),
                "--bin-ms".into(),
                "20".into(),
            ])?;
        } else {
            let what = if exp.name == "spikegan-uniform" {
                "uniform"
            } else {
                "packets"
            };
            runner.run(&[
                "simulate".into(),
                what.into(),
                "--samples".into(),
                count.to_string(),
                "--seed".into(),
                seed.clone(),
                "--out".into(),
                s(&data),
            ])?;
        }
        timed("data_s", t);
    }

    // 2. Train.
    let t = Instant::now();
    let run_dir = dir.join("run");
    let mut train = vec![
        "train".to_string(),
        "spikegan".into(),
        "--data".into(),
        s(&data),
        "--run-dir".into(),
        s(&run_dir),
        "--seed".into(),
        seed.clone(),
        "--iterations".into(),
        iterations.to_string(),
        "--log-every".into(),
        (iterations / 30).max(1).to_string(),
    ];
    if exp.name == "spikegan-retina" {
        train.extend([
            "--window".into(),
            "32".into(),
            "--stride".into(),
            "1".into(),
            // Every window, as the authors trained (METHODS.md): the evaluation compares with
            // the whole recording, whose statistics drift (a model matching the first 80%
            // exactly would be 0.022 off in rates against the whole, 1.9x the DG's error).
            "--holdout-fraction".into(),
            "0".into(),
        ]);
    }
    // The mode says which model and how it is trained.
    train.extend([
        "--recipe".into(),
        options.mode.recipe().into(),
        "--model-preset".into(),
        options.mode.model_preset().into(),
    ]);
    if options.resume {
        // The run's own config and data; only the schedule is the experiment's.
        train = vec![
            "resume".to_string(),
            "--run-dir".into(),
            s(&run_dir),
            "--data".into(),
            s(&data),
            "--iterations".into(),
            iterations.to_string(),
        ];
    }
    if let Some(device) = &options.device {
        train.extend(["--device".into(), device.clone()]);
    }
    runner.run(&train)?;
    timed(
        if options.resume {
            "resumed_train_s"
        } else {
            "train_s"
        },
        t,
    );

    // 3. Sample: from the trained generator and, as a baseline, from the untrained one
    //    (checkpoint 0, kept in its own copy of the run).
    let t = Instant::now();
    let samples = dir.join("samples.parquet");
    let sample = |run: &Path, out: &Path| -> Result<()> {
        let mut args = vec![
            "sample".to_string(),
            "--run-dir".into(),
            s(run),
            "--count".into(),
            count.to_string(),
            "--seed".into(),
            seed.clone(),
            "--out".into(),
            s(out),
        ];
        if let Some(device) = &options.device {
            args.extend(["--device".into(), device.clone()]);
        }
        runner.run(&args).map(|_| ())
    };
    sample(&run_dir, &samples)?;
    let untrained_run = dir.join("untrained-run");
    copy_untrained(&run_dir, &untrained_run)?;
    let untrained = dir.join("untrained-samples.parquet");
    sample(&untrained_run, &untrained)?;
    let independent = dir.join("independent-samples.parquet");
    let mut fit = vec![
        "fit-baseline".to_string(),
        "independent".into(),
        s(&data),
        "--out".into(),
        s(&independent),
        "--seed".into(),
        seed.clone(),
    ];
    if exp.name == "spikegan-retina" {
        fit.extend(["--samples".into(), "283041".into()]);
    } else {
        fit.extend(["--samples".into(), (count * window).to_string()]);
    }
    runner.run(&fit)?;
    timed("sample_s", t);

    // 4. Evaluate against the data.
    let t = Instant::now();
    // Intervals for Spike-GAN and the retina's DG: the verdict compares the two.
    let bootstrap = if exp.name == "spikegan-retina" {
        200
    } else {
        0
    };
    let gan = compare(
        &runner, &dir, &data, &samples, "spikegan", window, true, bootstrap,
    )?;
    let mut baselines = serde_json::Map::new();
    baselines.insert(
        "untrained_generator".into(),
        headline(&compare(
            &runner,
            &dir,
            &data,
            &untrained,
            "untrained",
            window,
            false,
            0,
        )?),
    );
    baselines.insert(
        "independent".into(),
        headline(&compare(
            &runner,
            &dir,
            &data,
            &independent,
            "independent",
            window,
            false,
            0,
        )?),
    );
    if exp.name == "spikegan-retina" {
        for (label, file) in [
            ("dg", "DG_num_neurons_50_1.mat"),
            ("kpairwise", "k_pairwise_num_neurons_50_1.mat"),
        ] {
            let stats = compare(
                &runner,
                &dir,
                &data,
                &retina.join(file),
                label,
                window,
                false,
                if label == "dg" { bootstrap } else { 0 },
            )?;
            baselines.insert(label.into(), headline(&stats));
        }
    }
    timed("evaluate_s", t);

    // 5. Packets: the importance maps must recover the packet sequence.
    let mut packets = Value::Null;
    if exp.name == "spikegan-packets" {
        let t = Instant::now();
        let maps = dir.join("importance.parquet");
        let maps_json = dir.join("importance.json");
        let mut args = vec![
            "explain".to_string(),
            "importance".into(),
            "--run-dir".into(),
            s(&run_dir),
            "--data".into(),
            s(&data),
            "--out".into(),
            s(&maps),
            "--json".into(),
            s(&maps_json),
            "--samples".into(),
            "200".into(),
        ];
        if let Some(device) = &options.device {
            args.extend(["--device".into(), device.clone()]);
        }
        runner.run(&args)?;
        let explained = read_json(&maps_json)?;
        packets = json!({
            "true_order": explained["true_sequence"],
            "recovered_order": explained["packet"]["order"],
            "recovered_lags": explained["packet"]["lags"],
            "order_recovered": explained["sequence_recovered"],
            "neuron_importance": explained["neuron_importance"],
        });
        durations.insert("explain_s".into(), json!(t.elapsed().as_secs_f64()));
    }

    // 6. Results, report, manifest.
    let mut results = match headline(&gan) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    results.insert("experiment".into(), json!(exp.name));
    results.insert("mode".into(), json!(options.mode.name()));
    results.insert("iterations".into(), json!(iterations));
    results.insert("baselines".into(), Value::Object(baselines));
    results.insert(
        "firing_rate_floor".into(),
        rate_error_floor(&gan, count * window),
    );
    if exp.name == "spikegan-retina" {
        results.insert("published".into(), published_retina());
        let dg = results
            .get("baselines")
            .map(|b| b["dg"].clone())
            .unwrap_or(Value::Null);
        let verdict = dg_level(&results, &dg);
        results.insert("dg_level".into(), verdict);
    }
    if !packets.is_null() {
        results.insert(
            "packet_order_recovered".into(),
            packets["order_recovered"].clone(),
        );
        results.insert("packets".into(), packets);
    }
    let run_manifest = read_json(&run_dir.join("manifest.json"))?;
    results.insert(
        "learning_rate".into(),
        run_manifest["config"]["training"]["learning_rate"].clone(),
    );
    results.insert("recipe".into(), run_manifest["config"]["recipe"].clone());
    results.insert(
        "model_preset".into(),
        run_manifest["config"]["model_preset"].clone(),
    );
    results.insert(
        "train_iterations_per_s".into(),
        overall_iterations_per_s(&run_manifest),
    );
    results.insert(
        "train_sessions".into(),
        json!(run_manifest["sessions"].as_array().map_or(0, Vec::len)),
    );
    write_file(
        &dir.join("results.json"),
        &(serde_json::to_string_pretty(&Value::Object(results.clone()))? + "\n"),
    )?;
    let metrics = std::fs::read_to_string(run_dir.join("metrics.jsonl")).unwrap_or_default();
    write_training_plot(&dir.join("training.svg"), &metrics)?;
    write_error_plot(&dir.join("training-errors.svg"), &metrics)?;
    write_file(
        &dir.join("report.md"),
        &report(exp, options, &results, &gan),
    )?;
    durations.insert("total_s".into(), json!(started.elapsed().as_secs_f64()));
    let manifest = json!({
        "experiment": exp.name,
        "mode": options.mode.name(),
        "commit": git_commit(),
        "features": options.features.clone().unwrap_or_else(|| "flex (default)".into()),
        "device": options.device.clone().unwrap_or_else(|| "default (BURN_DEVICE, else flex)".into()),
        "seeds": {"data": exp.seed, "weights_and_training": exp.seed, "sampling": exp.seed,
                  "independent_baseline": exp.seed},
        "settings": {"iterations": iterations, "window": window, "generated_samples": count},
        "resumed": options.resume,
        "train_config": run_manifest["config"],
        "durations": Value::Object(durations),
        "results": Value::Object(results.clone()),
    });
    write_file(
        &dir.join("manifest.json"),
        &(serde_json::to_string_pretty(&manifest)? + "\n"),
    )?;
    println!(
        "{}: results in {}",
        exp.name,
        dir.join("results.json").display()
    );
    Ok(Value::Object(results))
}

/// A copy of `run` whose only checkpoint is the untrained iteration 0 (replacing an earlier
/// copy, as a resumed experiment finds one).
fn copy_untrained(run: &Path, copy: &Path) -> Result<()> {
    if copy.exists() {
        std::fs::remove_dir_all(copy).with_context(|| format!("clearing {}", copy.display()))?;
    }
    std::fs::create_dir_all(copy.join("checkpoints/iter-0000000000"))?;
    for name in ["manifest.json", "config.toml"] {
        std::fs::copy(run.join(name), copy.join(name))?;
    }
    let from = run.join("checkpoints/iter-0000000000");
    if !from.exists() {
        bail!(
            "{} has no untrained checkpoint: it is pruned when keep_checkpoints is small",
            from.display()
        );
    }
    for entry in std::fs::read_dir(&from)? {
        let path = entry?.path();
        if let Some(name) = path.file_name() {
            std::fs::copy(&path, copy.join("checkpoints/iter-0000000000").join(name))?;
        }
    }
    Ok(())
}

fn fmt(v: &Value) -> String {
    match v.as_f64() {
        Some(x) if x.abs() >= 1.0 => format!("{x:.3}"),
        Some(x) => format!("{x:.4}"),
        None => "-".into(),
    }
}

fn report(
    exp: &SpikeGanExperiment,
    options: &Options,
    results: &serde_json::Map<String, Value>,
    gan: &Value,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} ({})\n", exp.name, options.mode.name());
    let recipe = match results.get("recipe").and_then(Value::as_str) {
        Some("paper") => "the paper's schedule: probabilities to the critic, Adam at a \
                          constant lr"
            .to_string(),
        _ => "neuroforge's recipe (docs/RESULTS.md): binary samples to the critic with a \
              straight-through gradient, a cosine decay of Adam's lr from"
            .to_string(),
    };
    let model = match results.get("model_preset").and_then(Value::as_str) {
        Some("half-width") => "the half-width model: critic 64 -> 128, generator 128 -> 64",
        _ => "the authors' model: critic 128 -> 256, generator 256 -> 128",
    };
    let _ = writeln!(
        out,
        "Spike-GAN ({model}) trained for {} generator iterations with {recipe} {} \
         (WGAN-GP, lambda 10, 5 critic steps, betas (0, 0.9), batch 64), then sampled; every \
         statistic compared with the data by `neuroforge stats` (full comparison with plots: \
         [stats-spikegan.md](stats-spikegan.md)).\n",
        results["iterations"], results["learning_rate"]
    );
    if let Some(verdict) = results.get("dg_level") {
        let ratio = |key: &str| fmt(&verdict["ratio_to_dg"][key]);
        let _ = writeln!(
            out,
            "**{}** Spike-GAN's errors are {}x (rates), {}x (covariances), {}x (P(k)) and {}x \
             (lag-1 covariances) the dichotomized Gaussian's (the DG's level: at most {}x on the \
             first three, at most 1x on lag-1). The rate error's sampling floor at this sample \
             size is {}.\n",
            if verdict["reached"] == json!(true) {
                "This run reached the dichotomized Gaussian's level."
            } else {
                "This run did not reach the dichotomized Gaussian's level."
            },
            ratio("firing_rate_l1"),
            ratio("covariance_l1"),
            ratio("population_count_l1"),
            ratio("lag1_covariance_l1"),
            DG_LEVEL_FACTOR,
            fmt(&results["firing_rate_floor"]),
        );
    }
    let _ = writeln!(out, "![training](training.svg)\n");
    let _ = writeln!(
        out,
        "![errors while training](training-errors.svg)\n\nWhile training, each log line scored \
         512 fresh samples against the training data: their firing-rate and covariance errors \
         (log scale) and the rate error a perfect model shows on 512 samples (run/metrics.jsonl, \
         `sample_errors`).\n"
    );
    let keys = [
        ("firing_rate_l1", "firing rates (sum of abs errors)"),
        ("covariance_l1", "covariances, pairs i<j"),
        ("population_count_l1", "P(k), L1"),
        ("lag1_covariance_l1", "lag-1 covariances"),
        ("autocorrelogram_l1", "autocorrelogram"),
    ];
    let mut columns: Vec<(&str, &Value)> = vec![("Spike-GAN", &Value::Null)];
    let empty = serde_json::Map::new();
    let baselines = results
        .get("baselines")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    for (label, value) in baselines {
        columns.push((label.as_str(), value));
    }
    let _ = write!(out, "| error vs data |");
    for (label, _) in &columns {
        let _ = write!(out, " {label} |");
    }
    let published = results.get("published");
    if published.is_some() {
        let _ = write!(out, " published k-pairwise | published DG |");
    }
    let _ = writeln!(out);
    let _ = write!(out, "|---|");
    for _ in 0..columns.len() + if published.is_some() { 2 } else { 0 } {
        let _ = write!(out, "---|");
    }
    let _ = writeln!(out);
    let ours = Value::Object(results.clone());
    for (key, label) in keys {
        let _ = write!(out, "| {label} |");
        for (name, value) in &columns {
            let source = if *name == "Spike-GAN" { &ours } else { *value };
            let interval = match source[format!("{key}_ci95")].as_array() {
                Some(ci) if ci.len() == 2 => format!(" [{}, {}]", fmt(&ci[0]), fmt(&ci[1])),
                _ => String::new(),
            };
            let _ = write!(out, " {}{interval} |", fmt(&source[key]));
        }
        if let Some(p) = published {
            let _ = write!(
                out,
                " {} | {} |",
                fmt(&p["kpairwise"][key]),
                fmt(&p["dg"][key])
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "\nBrackets: bootstrap 95% intervals of the error (200 resamples of 100 blocks; they \
         include the sampling noise of both sets, so they lie above the point estimate: compare \
         intervals with intervals, docs/STATISTICS.md)."
    );
    let _ = writeln!(
        out,
        "\nNearest-sample check (mean Hamming distance to the closest training sample): \
         generated {}, held-out real {} (a generator that copied the training set would be \
         far below the real figure).\n",
        fmt(&gan["nearest_sample"]["extra"]["mean_generated"]),
        fmt(&gan["nearest_sample"]["extra"]["mean_real"])
    );
    if let Some(p) = results.get("packets") {
        let _ = writeln!(
            out,
            "Importance maps (200 held-out samples, windows of 8 bins, step 2, 5 shuffles): \
             recovered firing order {} with lags {}; true order {} -> **{}**.\n",
            p["recovered_order"],
            p["recovered_lags"],
            p["true_order"],
            if p["order_recovered"] == json!(true) {
                "recovered"
            } else {
                "not recovered"
            }
        );
    }
    let _ = writeln!(
        out,
        "Throughput: {} generator iterations per second. Settings, seeds and durations: \
         manifest.json; the training run: run/.",
        fmt(&results["train_iterations_per_s"])
    );
    out
}

/// An SVG plot of the critic's Wasserstein estimate (training and held-out) over iterations.
fn write_training_plot(path: &Path, metrics: &str) -> Result<()> {
    let lines: Vec<Value> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let series = |key: &str| -> Vec<(f64, f64)> {
        lines
            .iter()
            .filter_map(|m| Some((m["iteration"].as_f64()?, m[key].as_f64()?)))
            .collect()
    };
    let train = series("wasserstein_train_subset");
    let heldout = series("wasserstein_heldout");
    let (w, h, pad) = (640.0, 320.0, 50.0);
    let all: Vec<&(f64, f64)> = train.iter().chain(&heldout).collect();
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let y_min = all.iter().map(|p| p.1).fold(0.0, f64::min);
    let y_max = all.iter().map(|p| p.1).fold(1e-9, f64::max);
    let px = |x: f64| pad + (x / x_max) * (w - 2.0 * pad);
    let py = |y: f64| h - pad - (y - y_min) / (y_max - y_min) * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{pad}\" y=\"20\">critic Wasserstein estimate vs generator \
         iteration (blue: training samples, orange: held-out)</text>\n"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>",
        h - pad,
        w - pad,
        h - pad
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>",
        h - pad
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\">{x_max:.0}</text><text x=\"5\" y=\"{}\">{y_max:.3}</text>\
         <text x=\"5\" y=\"{}\">{y_min:.3}</text>",
        w - pad - 30.0,
        h - pad + 18.0,
        pad + 4.0,
        h - pad
    );
    for (points, colour) in [(&train, "#1f77b4"), (&heldout, "#ff7f0e")] {
        let coords: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>",
            coords.join(" ")
        );
    }
    svg.push_str("</svg>\n");
    write_file(path, &svg)
}

/// An SVG plot, on a log scale, of the firing-rate and covariance errors of the fresh samples
/// scored at each metrics line, with the rate error's sampling floor.
fn write_error_plot(path: &Path, metrics: &str) -> Result<()> {
    let lines: Vec<Value> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let series = |key: &str| -> Vec<(f64, f64)> {
        lines
            .iter()
            .filter_map(|m| {
                let y = m["sample_errors"][key].as_f64()?;
                (y > 0.0).then_some((m["iteration"].as_f64()?, y.log10()))
            })
            .collect()
    };
    let curves = [
        (series("firing_rate_l1"), "#1f77b4", "firing-rate error"),
        (series("covariance_l1"), "#ff7f0e", "covariance error"),
        (series("firing_rate_floor"), "#7f7f7f", "rate error floor"),
    ];
    let (w, h, pad) = (640.0, 320.0, 50.0);
    let all: Vec<&(f64, f64)> = curves.iter().flat_map(|c| c.0.iter()).collect();
    let x_max = all.iter().map(|p| p.0).fold(1.0, f64::max);
    let y_min = all
        .iter()
        .map(|p| p.1)
        .fold(f64::INFINITY, f64::min)
        .floor();
    let y_max = all
        .iter()
        .map(|p| p.1)
        .fold(f64::NEG_INFINITY, f64::max)
        .ceil();
    let (y_min, y_max) = if y_min.is_finite() && y_max > y_min {
        (y_min, y_max)
    } else {
        (-3.0, 1.0)
    };
    let px = |x: f64| pad + (x / x_max) * (w - 2.0 * pad);
    let py = |y: f64| h - pad - (y - y_min) / (y_max - y_min) * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"{pad}\" y=\"20\">L1 error of 512 fresh samples vs generator \
         iteration (log scale)</text>\n"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"black\"/>\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{pad}\" y2=\"{}\" stroke=\"black\"/>\
         <text x=\"{}\" y=\"{}\">{x_max:.0}</text>",
        h - pad,
        w - pad,
        h - pad,
        h - pad,
        w - pad - 30.0,
        h - pad + 18.0,
    );
    let mut decade = y_min;
    while decade <= y_max {
        let _ = writeln!(
            svg,
            "<text x=\"5\" y=\"{:.1}\">1e{decade:.0}</text><line x1=\"{pad}\" y1=\"{:.1}\" \
             x2=\"{}\" y2=\"{:.1}\" stroke=\"#dddddd\"/>",
            py(decade) + 4.0,
            py(decade),
            w - pad,
            py(decade)
        );
        decade += 1.0;
    }
    for (k, (points, colour, label)) in curves.iter().enumerate() {
        let coords: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{label}</text>",
            coords.join(" "),
            w - pad - 150.0,
            pad + 15.0 * k as f64,
        );
    }
    svg.push_str("</svg>\n");
    write_file(path, &svg)
}

/// Compare key results with the committed expectations; returns the failures.
fn check(name: &str, results: &Value) -> Result<Vec<String>> {
    let path = root().join("xtask/expected").join(format!("{name}.json"));
    let expected = read_json(&path)?;
    let mut failures = Vec::new();
    let empty = serde_json::Map::new();
    let bounds = expected["max"].as_object().unwrap_or(&empty);
    for (key, bound) in bounds {
        let value = results[key].as_f64();
        let bound = bound.as_f64().unwrap_or(f64::NAN);
        match value {
            Some(v) if v <= bound => println!("{name}: {key} = {v:.5} <= {bound} ok"),
            Some(v) => failures.push(format!("{name}: {key} = {v:.5} above the bound {bound}")),
            None => failures.push(format!("{name}: {key} missing from results.json")),
        }
    }
    if let Some(bounds) = expected["min"].as_object() {
        for (key, bound) in bounds {
            let bound = bound.as_f64().unwrap_or(f64::NAN);
            match results[key].as_f64() {
                Some(v) if v >= bound => println!("{name}: {key} = {v:.5} >= {bound} ok"),
                Some(v) => failures.push(format!("{name}: {key} = {v:.5} below the bound {bound}")),
                None => failures.push(format!("{name}: {key} missing from results.json")),
            }
        }
    }
    // Relative bounds: a statistic must stay below the same statistic of named baselines.
    if let Some(below) = expected["below"].as_object() {
        for (key, baselines) in below {
            let Some(value) = results[key].as_f64() else {
                failures.push(format!("{name}: {key} missing from results.json"));
                continue;
            };
            for baseline in baselines.as_array().into_iter().flatten() {
                let baseline = baseline.as_str().unwrap_or_default();
                match results["baselines"][baseline][key].as_f64() {
                    Some(b) if value < b => {
                        println!("{name}: {key} = {value:.5} < {baseline} {b:.5} ok")
                    }
                    Some(b) => failures.push(format!(
                        "{name}: {key} = {value:.5} not below the {baseline} baseline's {b:.5}"
                    )),
                    None => failures.push(format!(
                        "{name}: baseline {baseline} has no {key} in results.json"
                    )),
                }
            }
        }
    }
    if let Some(flags) = expected["true"].as_array() {
        for key in flags.iter().filter_map(Value::as_str) {
            if results[key] != json!(true) {
                failures.push(format!("{name}: {key} is not true"));
            }
        }
    }
    Ok(failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(mode: Mode, overwrite: bool) -> Options {
        Options {
            mode,
            device: None,
            check: false,
            features: None,
            overwrite,
            resume: false,
        }
    }

    #[test]
    fn throughput_over_sessions_weights_each_by_its_time() {
        // 1,000 iterations at 10/s (100 s) and 3,000 at 30/s (100 s): 4,000 in 200 s.
        let manifest = json!({"sessions": [
            {"start_iteration": 0, "end_iteration": 1000, "iterations_per_s": 10.0},
            {"start_iteration": 1000, "end_iteration": 1000, "iterations_per_s": null},
            {"start_iteration": 1000, "end_iteration": 4000, "iterations_per_s": 30.0},
        ]});
        let rate = overall_iterations_per_s(&manifest)
            .as_f64()
            .unwrap_or(f64::NAN);
        assert!((rate - 20.0).abs() < 1e-12, "{rate}");
        assert_eq!(
            overall_iterations_per_s(&json!({"sessions": []})),
            Value::Null
        );
    }

    #[test]
    fn only_a_run_of_the_same_mode_with_its_files_can_be_resumed() -> Result<()> {
        let name = format!("nf-xtask-resume-{}", std::process::id());
        let dir = root().join("runs").join(&name);
        std::fs::create_dir_all(dir.join("run"))?;
        let message = |r: Result<PathBuf>| r.err().map(|e| format!("{e:#}")).unwrap_or_default();
        let full = Options {
            resume: true,
            ..options(Mode::Full, false)
        };
        assert!(message(resumable_run_dir(&name, &full)).contains("no run at all"));
        write_file(&dir.join(MODE_MARKER), Mode::Quick.name())?;
        assert!(message(resumable_run_dir(&name, &full)).contains("it holds a --quick run"));
        write_file(&dir.join(MODE_MARKER), Mode::Full.name())?;
        assert!(message(resumable_run_dir(&name, &full)).contains("no data.parquet"));
        for file in ["data.parquet", "run/manifest.json", "run/config.toml"] {
            write_file(&dir.join(file), "")?;
        }
        assert_eq!(resumable_run_dir(&name, &full)?, dir);
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }

    #[test]
    fn a_full_run_is_kept_unless_overwrite_is_given() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("nf-xtask-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        // No marker (a directory from before markers, or none at all): replaceable.
        ensure_replaceable(&dir, &options(Mode::Quick, false))?;
        write_file(&dir.join(MODE_MARKER), Mode::Quick.name())?;
        ensure_replaceable(&dir, &options(Mode::Full, false))?;
        write_file(&dir.join(MODE_MARKER), Mode::Full.name())?;
        let refused = ensure_replaceable(&dir, &options(Mode::Quick, false));
        let message = format!(
            "{:#}",
            refused.err().context("a --full run was not protected")?
        );
        assert!(message.contains("--full run") && message.contains("--overwrite"));
        assert!(ensure_replaceable(&dir, &options(Mode::Full, false)).is_err());
        ensure_replaceable(&dir, &options(Mode::Quick, true))?;
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
