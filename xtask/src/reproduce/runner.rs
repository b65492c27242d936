//! How the experiments run the `neuroforge` binary and keep their directories: the release
//! build, the runner (one compute thread per process, logs when experiments run side by side,
//! what an interrupted command means), `runs/<experiment>/` and its mode marker, Ctrl-C, and the
//! small file helpers every experiment uses.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::{Mode, Options};
use crate::{root, run_in_root};

/// Build the release binary (with `--features`) and return its path.
pub(crate) fn build_cli(options: &Options) -> Result<PathBuf> {
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

/// How experiments run the binary: its path, its compute threads, and, when several
/// experiments run side by side, the commands' progress in a log file per experiment.
pub(crate) struct Runner {
    binary: PathBuf,
    /// Where the commands' stderr goes (`None`: the terminal).
    log: Option<PathBuf>,
    /// flex's compute threads (rayon's), unless the user set `RAYON_NUM_THREADS`.
    threads: usize,
}

impl Runner {
    /// A runner of `binary` with one compute thread, whose commands' stderr goes to `log` (or
    /// the terminal).
    pub(crate) fn new(binary: &Path, log: Option<PathBuf>) -> Self {
        Self {
            binary: binary.to_path_buf(),
            log,
            threads: 1,
        }
    }

    /// The same runner with `threads` compute threads for flex.
    pub(crate) fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Run the binary with `args`, echoing the command; fails naming the command.
    pub(crate) fn run(&self, args: &[String]) -> Result<String> {
        let line = format!("$ neuroforge {}", args.join(" "));
        let mut command = Command::new(&self.binary);
        command.args(args).current_dir(root());
        // A rayon worker whose core is busy (another experiment, a build) makes flex several
        // times slower: the runner's threads (one per experiment side by side) unless the user
        // chose otherwise.
        if std::env::var_os("RAYON_NUM_THREADS").is_none() {
            command.env("RAYON_NUM_THREADS", self.threads.to_string());
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
static STOP_REQUESTED: std::sync::LazyLock<std::sync::Arc<AtomicBool>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(AtomicBool::new(false)));

/// Ctrl-C reaches the whole process group: the training child stops after a checkpoint of the
/// iteration in progress and exits with 130, which [`Runner::run`] turns into how to resume; so
/// the first signal only marks that no further command may start, and a second one ends xtask
/// at once (130 for SIGINT, 143 for SIGTERM), as `neuroforge-stop` does for the binary.
pub(crate) fn catch_stop_signals() {
    for neuroforge_stop::NotCaught { signal, error } in
        neuroforge_stop::on_stop_signals(&STOP_REQUESTED, || {})
    {
        eprintln!("warning: cannot catch signal {signal} ({error}): it ends xtask at once");
    }
}

/// Whether a stop signal has arrived since [`catch_stop_signals`].
fn stop_requested() -> bool {
    STOP_REQUESTED.load(Ordering::Relaxed)
}

/// `runs/<name>/`, holding a run of `options.mode` with a training run directory to resume.
pub(crate) fn resumable_run_dir(name: &str, options: &Options) -> Result<PathBuf> {
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

/// Fails if `dir` holds a `--full` run and `--overwrite` was not given.
pub(crate) fn ensure_replaceable(dir: &Path, options: &Options) -> Result<()> {
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
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Write an experiment's report as `dir/report.md` and as the self-contained page
/// `dir/report.html`, with every SVG figure the Markdown links (inside `dir`) inlined; the
/// `stats-*.md` reports it links are rendered the same way, by `neuroforge stats --report`.
pub(crate) fn write_report(dir: &Path, markdown: &str) -> Result<()> {
    write_file(&dir.join("report.md"), markdown)?;
    let figure = |target: &str| -> Option<String> {
        let relative = Path::new(target);
        let inside = relative
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside || relative.extension().and_then(|e| e.to_str()) != Some("svg") {
            return None;
        }
        std::fs::read_to_string(dir.join(relative)).ok()
    };
    let body = neuroforge_report::html::markdown_to_html(markdown, &figure);
    let title = neuroforge_report::html::title_of(markdown, "neuroforge experiment");
    write_file(
        &dir.join("report.html"),
        &neuroforge_report::html::page(&title, &body),
    )
}

/// Generator iterations per second over every session of a run manifest (a resumed run has
/// several; sessions killed before their first checkpoint report no throughput and are left
/// out), or `null` when none reports one.
pub(crate) fn overall_iterations_per_s(run_manifest: &Value) -> Value {
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

/// Reads a result file a `neuroforge` command wrote into its type (shared with the pipeline
/// through `neuroforge-stats`), so that a renamed or missing field is an error here rather than
/// a silent NaN.
pub(crate) fn read_result<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: unexpected content", path.display()))
}

/// Compare `real` with `generated` through `neuroforge stats` and return the JSON.
/// `bootstrap` resamples give the errors their intervals (0: none).
#[allow(clippy::too_many_arguments)]
pub(crate) fn compare(
    runner: &Runner,
    dir: &Path,
    real: &Path,
    generated: &Path,
    label: &str,
    window: usize,
    report: bool,
    bootstrap: usize,
) -> Result<neuroforge_stats::compare::Comparison> {
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
    read_result(&json_path)
}

/// The Python of the peers' virtual environment (`$NEUROFORGE_VENV`), when it can import
/// every module of `modules` (comma-separated); `None` otherwise.
pub(crate) fn peer_python(modules: &str) -> Option<PathBuf> {
    let python = crate::venv().join("bin/python");
    Command::new(&python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
        .then_some(python)
}

/// Run a peer script of `xtask/peers/` with `python` and parse the JSON object on the last
/// line of its output; fails with its stderr.
pub(crate) fn run_peer(python: &Path, script: &str, args: &[String]) -> Result<Value> {
    let path = root().join("xtask/peers").join(script);
    eprintln!(
        "$ {} {} {}",
        python.display(),
        path.display(),
        args.join(" ")
    );
    let output = Command::new(python)
        .arg(&path)
        .args(args)
        .current_dir(root())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.trim().lines().rev().take(5).collect();
        bail!(
            "{script} failed: {}",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.trim().lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{script} printed {last:?}"))
}

/// The commit the repository is at, when git can tell.
pub(crate) fn git_commit() -> Option<String> {
    Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Writes `manifest.json`: commit, features, device, seeds, settings, durations, key results.
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_manifest(
    dir: &Path,
    name: &str,
    options: &Options,
    seeds: Value,
    settings: &Value,
    durations: serde_json::Map<String, Value>,
    started: Instant,
    results: Value,
) -> Result<()> {
    let manifest = json!({
        "experiment": name,
        "commit": git_commit(),
        "features": options.features.clone().unwrap_or_else(|| "flex (default)".into()),
        "device": options.device.clone().unwrap_or_else(|| "flex (default)".into()),
        "seeds": seeds,
        "settings": settings,
        "durations": durations,
        "total_s": started.elapsed().as_secs_f64(),
        "results": results,
    });
    write_file(
        &dir.join("manifest.json"),
        &serde_json::to_string_pretty(&manifest)?,
    )
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
            peers: false,
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
