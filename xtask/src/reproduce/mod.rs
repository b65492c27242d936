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

mod cyclegan;
mod hippocampus;
mod runner;
mod spikegan;
mod vanderpol;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::root;
use runner::{build_cli, catch_stop_signals, ensure_replaceable, read_json, resumable_run_dir};
use spikegan::{SpikeGanExperiment, experiment, run_spikegan};

/// Every experiment, in the order `all` runs them.
const EXPERIMENTS: [&str; 7] = [
    "spikegan-uniform",
    "spikegan-retina",
    "spikegan-packets",
    "marble-vanderpol",
    "marble-hippocampus",
    "cyclegan-synthetic",
    "cyclegan-counts",
];

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
    pub(crate) fn recipe(self) -> &'static str {
        match self {
            Mode::Quick | Mode::Standard => "fast",
            Mode::Full => "paper",
        }
    }

    /// The `neuroforge train spikegan --model-preset` of the mode: `--quick` trains the
    /// half-width model, which reaches lower errors than the authors' within its minutes
    /// (docs/RESULTS.md); the longer modes train the authors' model.
    pub(crate) fn model_preset(self) -> &'static str {
        match self {
            Mode::Quick => "half-width",
            Mode::Standard | Mode::Full => "paper",
        }
    }

    /// Whether a run of this mode is too long to be deleted unasked.
    pub(crate) fn is_long(self) -> bool {
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
    /// Run the peers side by side (CEBRA for marble-hippocampus) when their virtual
    /// environment has them.
    pub(crate) peers: bool,
}

/// `cargo xtask reproduce`'s command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "cargo xtask reproduce",
    about = "Run the published experiments end to end into runs/<experiment>/",
    max_term_width = 100
)]
struct ReproduceArgs {
    /// The experiments to run (`all`: every one).
    #[arg(required = true, value_name = "EXPERIMENT", value_parser = experiment_name)]
    experiments: Vec<String>,
    /// Minutes per experiment with neuroforge's recipe (the default).
    #[arg(long, group = "mode")]
    quick: bool,
    /// The authors' Spike-GAN model with neuroforge's recipe, at most about 90 minutes each.
    #[arg(long, group = "mode")]
    standard: bool,
    /// The papers' models and schedules (Spike-GAN: 300,000 iterations, hours to days).
    #[arg(long, group = "mode")]
    full: bool,
    /// The device every command runs on [default: BURN_DEVICE, else flex].
    #[arg(long)]
    device: Option<String>,
    /// Compare the key figures with xtask/expected/<experiment>.json; fail on a regression
    /// (--quick only).
    #[arg(long)]
    check: bool,
    /// Cargo features of the release binary (e.g. tch).
    #[arg(long)]
    features: Option<String>,
    /// Delete a --standard or --full run in runs/<experiment>/ to start anew.
    #[arg(long, conflicts_with = "resume")]
    overwrite: bool,
    /// Continue the interrupted Spike-GAN run in runs/<experiment>/ from its newest checkpoint.
    #[arg(long)]
    resume: bool,
    /// Skip the peers run side by side when their virtual environment has them
    /// (marble-hippocampus: CEBRA, from $NEUROFORGE_VENV).
    #[arg(long)]
    no_peers: bool,
}

/// An experiment's name, or `all`.
fn experiment_name(name: &str) -> std::result::Result<String, String> {
    if name == "all" || EXPERIMENTS.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(format!("use one of {}, or all", EXPERIMENTS.join(", ")))
    }
}

/// Run `cargo xtask reproduce` with the arguments after `reproduce`.
pub fn run(args: &[String]) -> Result<()> {
    use clap::Parser as _;
    let parsed = match ReproduceArgs::try_parse_from(
        std::iter::once("cargo xtask reproduce".to_string()).chain(args.iter().cloned()),
    ) {
        Ok(parsed) => parsed,
        Err(e) if !e.use_stderr() => {
            // --help
            let _ = e.print();
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            bail!("{}", text.trim_start_matches("error: ").trim_end())
        }
    };
    let options = Options {
        mode: if parsed.full {
            Mode::Full
        } else if parsed.standard {
            Mode::Standard
        } else {
            Mode::Quick
        },
        device: parsed.device,
        check: parsed.check,
        features: parsed.features,
        overwrite: parsed.overwrite,
        resume: parsed.resume,
        peers: !parsed.no_peers,
    };
    let mut names = Vec::new();
    for name in parsed.experiments {
        if name == "all" {
            names.extend(EXPERIMENTS.iter().map(|s| s.to_string()));
        } else if !names.contains(&name) {
            names.push(name);
        }
    }
    catch_stop_signals();
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
    let binary = build_cli(&options)?;
    let mut failures = Vec::new();
    for name in &marble {
        let results = match name.as_str() {
            "marble-vanderpol" => vanderpol::run_vanderpol(&binary, &options),
            "cyclegan-synthetic" => cyclegan::run_synthetic(&binary, &options),
            "cyclegan-counts" => cyclegan::run_counts(&binary, &options),
            _ => hippocampus::run_hippocampus(&binary, &options),
        }
        .with_context(|| format!("{name} failed"))?;
        if options.check {
            failures.extend(check(name, &results)?);
        }
    }
    // Experiments run side by side, one core each, the longest first: two runs on a core each
    // finish sooner than one after the other on both (a second thread makes one run 1.4-1.5x
    // faster, docs/BENCHMARKS.md). A single experiment gets every core.
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
    write_index()?;
    if !failures.is_empty() {
        bail!("regression check failed:\n  {}", failures.join("\n  "));
    }
    Ok(())
}

/// Write `runs/index.html`: one entry per experiment with a report in `runs/`, linking its
/// `report.html`, with its title, mode and verdict (the report's first block quote).
fn write_index() -> Result<()> {
    let runs = root().join("runs");
    let mut body = String::from(
        "<h1>neuroforge: the published experiments</h1>\n<p>Each experiment's report, \
         written by <code>cargo xtask reproduce</code>. Settings, seeds and durations are in \
         each folder's <code>manifest.json</code>, the key figures in <code>results.json</code>.\
         </p>\n<table>\n<tr><th>experiment</th><th>report</th><th>verdict</th></tr>\n",
    );
    let mut listed = 0;
    for name in EXPERIMENTS {
        let Ok(markdown) = std::fs::read_to_string(runs.join(name).join("report.md")) else {
            continue;
        };
        let title = neuroforge_report::html::title_of(&markdown, name);
        let verdict: Vec<&str> = markdown
            .lines()
            .skip_while(|l| !l.starts_with('>'))
            .take_while(|l| l.starts_with('>'))
            .map(|l| l.trim_start_matches('>').trim())
            .collect();
        let verdict = neuroforge_report::html::markdown_to_html(&verdict.join(" "), &|_| None);
        body.push_str(&format!(
            "<tr><td><code>{name}</code></td><td><a href=\"{name}/report.html\">{}</a></td>\
             <td>{}</td></tr>\n",
            neuroforge_report::svg::escape(&title),
            verdict
                .trim()
                .trim_start_matches("<p>")
                .trim_end_matches("</p>")
        ));
        listed += 1;
    }
    body.push_str("</table>\n");
    if listed > 0 {
        runner::write_file(
            &runs.join("index.html"),
            &neuroforge_report::html::page("neuroforge experiments", &body),
        )?;
        println!("reports: {}", runs.join("index.html").display());
    }
    Ok(())
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
