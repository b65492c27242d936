//! Run directories: what a training run writes, so that it can be inspected, resumed and
//! reproduced.
//!
//! ```text
//! DIR/manifest.json     command, seed, git commit, features, device, sessions, status, results
//! DIR/config.toml       the complete, resolved configuration (every default filled in)
//! DIR/metrics.jsonl     one JSON object per logged iteration
//! DIR/checkpoints/iter-0000001000/   model and optimiser state after that iteration, with
//!                                    checksums.sha256 (verified whenever it is loaded)
//! DIR/.lock             locked by the one process that writes the run; holds its pid
//! ```
//!
//! A process that writes a run (`train`, `resume`) holds an exclusive OS advisory lock on
//! `DIR/.lock` for as long as its [`RunDir`] lives; a second writer is refused with the
//! holder's pid. The OS releases the lock when the process ends, however it ends (kill -9
//! included), so a stale `.lock` file never blocks a later `resume`.
//!
//! Every file is written to a temporary name and renamed, and a checkpoint directory is
//! assembled under a temporary name and renamed when complete, so a run killed at any moment
//! leaves only whole files and whole checkpoints.
//!
//! Every checkpoint carries the SHA-256 of its files, and the manifest the SHA-256 of that
//! list. [`RunDir::latest_checkpoint`] and [`RunDir::best_checkpoint`] verify what they return:
//! a damaged checkpoint (a flipped byte, a truncated or deleted file) is passed over for the
//! newest intact one, with one warning line naming it and what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{Result, TrainError};
use crate::integrity::{self, CheckpointState};

const MANIFEST: &str = "manifest.json";
const CONFIG: &str = "config.toml";
const METRICS: &str = "metrics.jsonl";
const CHECKPOINTS: &str = "checkpoints";
const CHECKPOINT_PREFIX: &str = "iter-";
const PARTIAL_PREFIX: &str = ".partial-";
const LOCK: &str = ".lock";

/// Seconds since the Unix epoch, now.
pub fn unix_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Who started a run and where: recorded in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunContext {
    /// The command line that started (or resumed) the run.
    pub command: Vec<String>,
    /// The git commit the program was built from, when known.
    pub git_commit: Option<String>,
    /// The program's version.
    pub version: String,
    /// The cargo features (backends) compiled into the program.
    pub features: Vec<String>,
    /// The device the run executes on (`flex`, `ndarray`, `tch`, `cuda:0`, ...).
    pub device: String,
}

/// One stretch of training by one process (a run resumed twice has three sessions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The command line of this session.
    pub command: Vec<String>,
    /// The device of this session.
    pub device: String,
    /// The git commit of the program that ran this session, when known (a run resumed by a
    /// newer build records both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The generator iteration this session started after (0 for a new run).
    pub start_iteration: u64,
    /// The last generator iteration it completed; while it runs, the last one checkpointed
    /// (so a killed session still shows how far it got).
    pub end_iteration: u64,
    /// Start time, seconds since the Unix epoch.
    pub started_unix_s: f64,
    /// End time, seconds since the Unix epoch (`None` while running or if killed).
    pub ended_unix_s: Option<f64>,
    /// Generator iterations per second of wall time in this session (while it runs: up to its
    /// last checkpoint).
    pub iterations_per_s: Option<f64>,
    /// Why the session ended before the run's end (interrupted, diverged, failed), in one
    /// line; `None` while it runs, when it finished, or when it was killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The process's peak resident memory when the session ended, in MiB (Linux's
    /// `VmHWM`; absent elsewhere, while running, or if killed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_memory_mib: Option<f64>,
}

/// This process's peak resident memory in MiB, from `/proc/self/status` (Linux only).
fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The data a run was trained on: enough to find it again and to label what it generates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataDescription {
    /// The data file, as an absolute path when it could be resolved.
    pub path: String,
    /// Ids of the neurons, in the order of the model's channels.
    pub neuron_ids: Vec<String>,
    /// Width of one bin in seconds, when known.
    pub bin_width_s: Option<f64>,
    /// Samples in the training set.
    pub train_samples: usize,
    /// Samples in the held-out set.
    pub heldout_samples: usize,
}

/// The model a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Spike-GAN (`neuroforge train spikegan`).
    Spikegan,
    /// CycleGAN between pre- and post-learning activity (`neuroforge train cyclegan`).
    Cyclegan,
    /// MARBLE embeddings of dynamics on manifolds (`neuroforge train marble`).
    Marble,
}

impl ModelKind {
    /// The name used in manifests, file names and commands.
    pub fn name(self) -> &'static str {
        match self {
            Self::Spikegan => "spikegan",
            Self::Cyclegan => "cyclegan",
            Self::Marble => "marble",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Configured, not trained yet.
    Created,
    /// A session is training it (or was killed while it did).
    Running,
    /// Trained to its configured end.
    Finished,
    /// Stopped because a loss became non-finite or too large.
    Diverged,
    /// Stopped on request (Ctrl-C) after a checkpoint; `resume` continues it.
    Interrupted,
    /// Stopped by an error (a file that could not be written, ...).
    Failed,
}

/// The checkpoint with the lowest score of a run that keeps its best one (MARBLE: the
/// validation loss).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestCheckpoint {
    /// Its iteration.
    pub iteration: u64,
    /// Its score (lower is better).
    pub score: f64,
}

/// The manifest of a run: everything needed to say what ran and to run it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// What is trained.
    pub model: ModelKind,
    /// The seed every random draw derives from.
    pub seed: u64,
    /// Program version, commit, features and device of the session that created the run.
    pub context: RunContext,
    /// The data the run trains on.
    pub data: Option<DataDescription>,
    /// Further data files (CycleGAN's post-learning recording; `data` is the pre one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more_data: Vec<DataDescription>,
    /// The resolved configuration (also in config.toml).
    pub config: serde_json::Value,
    /// Every session of the run, oldest first.
    pub sessions: Vec<Session>,
    /// `running`, `finished`, `diverged` or `interrupted`.
    pub status: RunStatus,
    /// Key results (final losses, throughput), filled in when a session ends.
    #[serde(default)]
    pub results: serde_json::Map<String, serde_json::Value>,
    /// The best checkpoint so far, for runs that keep one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_checkpoint: Option<BestCheckpoint>,
    /// Per kept checkpoint (by iteration), the SHA-256 of its `checksums.sha256`: a list
    /// damaged or deleted together with a file is caught against it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checkpoint_checksums: BTreeMap<u64, String>,
}

/// What [`RunDir::verify`] found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunCheck {
    /// Every checkpoint, oldest first, with its iteration and state.
    pub checkpoints: Vec<(u64, PathBuf, CheckpointState)>,
    /// Half-written checkpoints of a killed process (removed by the next `resume`).
    pub partial: Vec<PathBuf>,
    /// Problems of the run itself (an unreadable config, a best checkpoint that is missing).
    pub problems: Vec<String>,
    /// The checkpoint `resume` and `sample` would use: the newest usable one.
    pub latest_usable: Option<u64>,
}

impl RunCheck {
    /// Whether nothing is damaged.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty() && self.checkpoints.iter().all(|(_, _, s)| s.is_usable())
    }
}

/// The session this process trains, as last written to its manifest: what
/// [`record_abrupt_end`] records. Its lock is held while a session's manifest or a checkpoint's
/// publication is written, so the two never interleave.
struct ActiveSession {
    run: RunDir,
    manifest: Manifest,
    index: usize,
}

static ACTIVE_SESSION: Mutex<Option<ActiveSession>> = Mutex::new(None);

/// The lock of [`ACTIVE_SESSION`] (a panic while it was held leaves nothing half-done: every
/// write under it is atomic).
fn active_session() -> std::sync::MutexGuard<'static, Option<ActiveSession>> {
    ACTIVE_SESSION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Record the session this process trains as `interrupted` (with `reason`, ended now, at its
/// last checkpoint) and remove its half-written checkpoints, for a process about to end at once
/// (a second Ctrl-C). Afterwards no manifest or checkpoint of the run is written by this process
/// again: the lock stays held until it exits. Returns the run directory and its last checkpoint
/// (`iteration 20`, `epoch 12`), or `None` when no session is open.
pub fn record_abrupt_end(reason: &str) -> Option<(PathBuf, String)> {
    let mut active = active_session();
    let ActiveSession {
        run,
        mut manifest,
        index,
    } = active.take()?;
    let entry = &mut manifest.sessions[index];
    entry.ended_unix_s = Some(unix_seconds());
    entry.reason = Some(reason.to_string());
    let unit = if manifest.model == ModelKind::Marble {
        "epoch"
    } else {
        "iteration"
    };
    let last = format!("{unit} {}", entry.end_iteration);
    manifest.status = RunStatus::Interrupted;
    // Best effort: the process ends next, whatever happens here.
    let _ = run.remove_partial_checkpoints();
    let _ = run.write_manifest(&manifest);
    std::mem::forget(active);
    Some((run.root.clone(), last))
}

/// A session recorded by [`RunDir::begin_session`] and not yet closed: the manifest as written
/// and the session's index in it.
pub(crate) struct OpenSession {
    manifest: Manifest,
    index: usize,
}

impl OpenSession {
    /// The best checkpoint recorded so far.
    pub(crate) fn best_checkpoint(&self) -> Option<&BestCheckpoint> {
        self.manifest.best_checkpoint.as_ref()
    }
}

/// A run directory on disk. One made by [`RunDir::create`] or [`RunDir::open_for_writing`]
/// holds the directory's writer lock until it and all its clones are dropped.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
    writer_lock: Option<Arc<WriterLock>>,
}

/// The exclusive advisory lock on `DIR/.lock` held by the process that writes a run.
#[derive(Debug)]
struct WriterLock {
    _file: fs::File,
}

impl WriterLock {
    /// Take the writer lock of the run directory `root`, or say which process holds it.
    fn acquire(root: &Path) -> Result<Self> {
        let path = root.join(LOCK);
        let mut file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TrainError::file(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // The pid is only for the message: an unreadable one is left out.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("another process (pid {holder})")
                };
                return Err(TrainError::file(
                    root,
                    format!(
                        "is being written by {who}, a `train` or `resume` of this run: wait for \
                         it to end, or stop it, then try again"
                    ),
                ));
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(TrainError::file(&path, format!("cannot lock: {e}")));
            }
        }
        let pid = format!("{}\n", std::process::id());
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(pid.as_bytes()))
            .map_err(|e| TrainError::file(&path, e))?;
        Ok(Self { _file: file })
    }
}

fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    neuroforge_io::write_atomically(path, |file| {
        file.write_all(text.as_bytes())
            .map_err(|source| neuroforge_io::IoError::Write {
                path: path.to_path_buf(),
                source,
            })
    })
    .map_err(|e| TrainError::file(path, e))
}

impl RunDir {
    /// Prepare a new run in `root`, creating it if needed. Refuses a directory that already
    /// holds a run (resume it instead) or other files.
    pub fn create(root: &Path) -> Result<Self> {
        if root.join(MANIFEST).exists() {
            return Err(TrainError::file(
                root,
                "already holds a run: continue it with `neuroforge resume --run-dir`, or choose \
                 a new directory",
            ));
        }
        if root.exists() {
            let mut entries = fs::read_dir(root).map_err(|e| TrainError::file(root, e))?;
            if entries.next().is_some() {
                return Err(TrainError::file(
                    root,
                    "is not empty: a run directory must be new or empty",
                ));
            }
        }
        fs::create_dir_all(root.join(CHECKPOINTS)).map_err(|e| TrainError::file(root, e))?;
        Ok(Self {
            root: root.to_path_buf(),
            writer_lock: Some(Arc::new(WriterLock::acquire(root)?)),
        })
    }

    /// Open an existing run directory to read it (sample, explain, translate, embed).
    pub fn open(root: &Path) -> Result<Self> {
        for name in [MANIFEST, CONFIG] {
            if !root.join(name).is_file() {
                return Err(TrainError::file(
                    root,
                    format!(
                        "is not a run directory (no {name}); start one with `neuroforge train`"
                    ),
                ));
            }
        }
        fs::create_dir_all(root.join(CHECKPOINTS)).map_err(|e| TrainError::file(root, e))?;
        Ok(Self {
            root: root.to_path_buf(),
            writer_lock: None,
        })
    }

    /// Open an existing run directory to continue it, taking its writer lock: refused while
    /// another process (or another writer in this one) holds it.
    /// Checkpoints that a killed writer left half-assembled are removed once the lock is held.
    pub fn open_for_writing(root: &Path) -> Result<Self> {
        let mut run = Self::open(root)?;
        run.writer_lock = Some(Arc::new(WriterLock::acquire(root)?));
        run.remove_partial_checkpoints()?;
        Ok(run)
    }

    /// Remove every half-assembled checkpoint (`checkpoints/.partial-*`). Only the lock holder
    /// may call it: another writer's checkpoint in progress looks the same.
    fn remove_partial_checkpoints(&self) -> Result<()> {
        for path in self.partial_checkpoints()? {
            fs::remove_dir_all(&path).map_err(|e| TrainError::file(&path, e))?;
            tracing::info!(path = %path.display(), "removed a half-written checkpoint");
        }
        Ok(())
    }

    /// The half-assembled checkpoints (`checkpoints/.partial-*`) in the directory.
    fn partial_checkpoints(&self) -> Result<Vec<PathBuf>> {
        Ok(self
            .checkpoint_entries(PARTIAL_PREFIX)?
            .into_iter()
            .map(|(_, path)| path)
            .collect())
    }

    /// The entries of `DIR/checkpoints` whose names start with `prefix`, sorted, each with the
    /// rest of its name.
    fn checkpoint_entries(&self, prefix: &str) -> Result<Vec<(String, PathBuf)>> {
        let dir = self.root.join(CHECKPOINTS);
        let mut found = Vec::new();
        for entry in fs::read_dir(&dir).map_err(|e| TrainError::file(&dir, e))? {
            let path = entry.map_err(|e| TrainError::file(&dir, e))?.path();
            let rest = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix(prefix))
                .map(str::to_string);
            if let Some(rest) = rest {
                found.push((rest, path));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// Write the resolved configuration as TOML.
    pub fn write_config<T: Serialize>(&self, config: &T) -> Result<()> {
        let path = self.root.join(CONFIG);
        let text = toml::to_string_pretty(config).map_err(|e| TrainError::file(&path, e))?;
        write_text_atomically(&path, &text)
    }

    /// Read the configuration.
    pub fn read_config<T: DeserializeOwned>(&self) -> Result<T> {
        let path = self.root.join(CONFIG);
        let text = fs::read_to_string(&path).map_err(|e| TrainError::file(&path, e))?;
        toml::from_str(&text).map_err(|e| TrainError::file(&path, one_line(&e.to_string())))
    }

    /// Write the manifest.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let path = self.root.join(MANIFEST);
        let text =
            serde_json::to_string_pretty(manifest).map_err(|e| TrainError::file(&path, e))?;
        write_text_atomically(&path, &(text + "\n"))
    }

    /// Read the manifest.
    pub fn read_manifest(&self) -> Result<Manifest> {
        let path = self.root.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|e| TrainError::file(&path, e))?;
        serde_json::from_str(&text).map_err(|e| TrainError::file(&path, e))
    }

    /// Append one line to metrics.jsonl.
    pub fn append_metrics<T: Serialize>(&self, line: &T) -> Result<()> {
        let path = self.root.join(METRICS);
        let mut text = serde_json::to_string(line).map_err(|e| TrainError::file(&path, e))?;
        text.push('\n');
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::file(&path, e))?;
        file.write_all(text.as_bytes())
            .map_err(|e| TrainError::file(&path, e))
    }

    /// The logged metrics, one JSON value per line (a torn last line of a killed run is
    /// skipped).
    pub fn read_metrics(&self) -> Result<Vec<serde_json::Value>> {
        let path = self.root.join(METRICS);
        if !path.exists() {
            return Ok(Vec::new());
        }
        let text = fs::read_to_string(&path).map_err(|e| TrainError::file(&path, e))?;
        Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect())
    }

    /// Keep only the metric lines of iterations up to `iteration` (those a resumed run will not
    /// log again), dropping a torn last line.
    pub fn truncate_metrics_after(&self, iteration: u64) -> Result<()> {
        let path = self.root.join(METRICS);
        let kept: Vec<String> = self
            .read_metrics()?
            .into_iter()
            .filter(|v| {
                // A line's step is its `iteration` (MARBLE's lines call it `epoch`).
                v.get("iteration")
                    .or_else(|| v.get("epoch"))
                    .and_then(serde_json::Value::as_u64)
                    .is_some_and(|i| i <= iteration)
            })
            .map(|v| v.to_string() + "\n")
            .collect();
        write_text_atomically(&path, &kept.concat())
    }

    /// A fresh, empty directory to assemble the checkpoint of `iteration` in; publish it with
    /// [`RunDir::commit_checkpoint`].
    pub fn begin_checkpoint(&self, iteration: u64) -> Result<PathBuf> {
        let path = self
            .root
            .join(CHECKPOINTS)
            .join(format!("{PARTIAL_PREFIX}{iteration:010}"));
        if path.exists() {
            fs::remove_dir_all(&path).map_err(|e| TrainError::file(&path, e))?;
        }
        fs::create_dir_all(&path).map_err(|e| TrainError::file(&path, e))?;
        Ok(path)
    }

    /// Make the checkpoint assembled in `partial` the checkpoint of `iteration` (its files are
    /// synced first), then delete all but the newest `keep` checkpoints and the untrained one
    /// (iteration 0, the baseline every evaluation compares with).
    pub fn commit_checkpoint(
        &self,
        partial: &Path,
        iteration: u64,
        keep: usize,
    ) -> Result<PathBuf> {
        self.commit_checkpoint_sparing(partial, iteration, keep, None)
    }

    /// [`RunDir::commit_checkpoint`] that also keeps the checkpoint of iteration `spare`
    /// (a run's best), however old.
    pub fn commit_checkpoint_sparing(
        &self,
        partial: &Path,
        iteration: u64,
        keep: usize,
        spare: Option<u64>,
    ) -> Result<PathBuf> {
        integrity::write_checksums(partial)?;
        let entries = fs::read_dir(partial).map_err(|e| TrainError::file(partial, e))?;
        for entry in entries {
            let file = entry.map_err(|e| TrainError::file(partial, e))?.path();
            fs::File::open(&file)
                .and_then(|f| f.sync_all())
                .map_err(|e| TrainError::file(&file, e))?;
        }
        let target = self.checkpoint_path(iteration);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(|e| TrainError::file(&target, e))?;
        }
        // Published and pruned under the session lock, so that a process ending at once never
        // removes a partial directory while it becomes a checkpoint.
        let _active = active_session();
        fs::rename(partial, &target).map_err(|e| TrainError::file(&target, e))?;
        let all = self.checkpoints()?;
        for (_, old) in all
            .iter()
            .rev()
            .skip(keep.max(1))
            .filter(|(iteration, _)| *iteration != 0 && Some(*iteration) != spare)
        {
            fs::remove_dir_all(old).map_err(|e| TrainError::file(old, e))?;
        }
        Ok(target)
    }

    /// Assemble the checkpoint of `iteration` (`save` fills the directory it is given) and
    /// publish it as [`RunDir::commit_checkpoint_sparing`] does. When `save` or the publishing
    /// fails, the half-written directory is removed before the error is returned.
    pub fn write_checkpoint(
        &self,
        iteration: u64,
        keep: usize,
        spare: Option<u64>,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let partial = self.begin_checkpoint(iteration)?;
        let written = save(&partial)
            .inspect(|()| fault_injection_pause())
            .and_then(|()| self.commit_checkpoint_sparing(&partial, iteration, keep, spare));
        if written.is_err() && partial.exists() {
            // The error that matters is the one returned; a directory that cannot be removed
            // now is removed by the next writer that opens the run.
            let _ = fs::remove_dir_all(&partial);
        }
        written
    }

    /// The length a resumed session trains to: `requested` (a new total) or `configured`. A
    /// total below `progress`, the iteration (or epoch) of the checkpoint resumed from, is
    /// refused: training cannot end before where it already is.
    pub fn resumed_length(
        &self,
        configured: u64,
        requested: Option<u64>,
        progress: u64,
        unit: &str,
    ) -> Result<u64> {
        let total = requested.unwrap_or(configured);
        if total < progress {
            return Err(TrainError::file(
                &self.root,
                format!(
                    "the run is already at {unit} {progress}: a total of {total} {unit}s would \
                     end before it (give a total of at least {progress})"
                ),
            ));
        }
        Ok(total)
    }

    /// Write `config` as the run's configuration when a resume changed its length
    /// (`requested`, from `resume --iterations` or `--epochs`) from `configured`. Called only
    /// after the checkpoint has been loaded, so a resume that fails changes nothing.
    pub fn record_resumed_length<T: Serialize>(
        &self,
        config: &T,
        configured: u64,
        requested: Option<u64>,
    ) -> Result<()> {
        match requested {
            Some(total) if total != configured => self.write_config(config),
            _ => Ok(()),
        }
    }

    /// The directory of the checkpoint of `iteration`.
    pub fn checkpoint_path(&self, iteration: u64) -> PathBuf {
        self.root
            .join(CHECKPOINTS)
            .join(format!("{CHECKPOINT_PREFIX}{iteration:010}"))
    }

    /// Every complete checkpoint, oldest first (damaged ones included: see
    /// [`RunDir::latest_checkpoint`]).
    pub fn checkpoints(&self) -> Result<Vec<(u64, PathBuf)>> {
        let mut found: Vec<(u64, PathBuf)> = self
            .checkpoint_entries(CHECKPOINT_PREFIX)?
            .into_iter()
            .filter_map(|(rest, path)| Some((rest.parse::<u64>().ok()?, path)))
            .filter(|(_, path)| path.is_dir())
            .collect();
        found.sort();
        Ok(found)
    }

    /// The checkpoint the manifest names as the run's best, for runs that keep one; else the
    /// newest intact one. A best checkpoint that is missing or damaged is passed over for the
    /// newest intact one, with a warning.
    pub fn best_checkpoint(&self) -> Result<(u64, PathBuf)> {
        let manifest = self.read_manifest()?;
        let Some(best) = manifest.best_checkpoint else {
            return self.latest_checkpoint();
        };
        let path = self.checkpoint_path(best.iteration);
        let state = if path.is_dir() {
            integrity::check_checkpoint(
                &path,
                manifest
                    .checkpoint_checksums
                    .get(&best.iteration)
                    .map(String::as_str),
            )
        } else {
            CheckpointState::Damaged {
                problem: "it is missing".into(),
            }
        };
        if let CheckpointState::Damaged { problem } = state {
            let (iteration, latest) = self.latest_checkpoint()?;
            warn_once(
                &path,
                format!(
                    "{}: the run's best checkpoint is damaged ({problem}); using {}, the newest \
                     intact checkpoint",
                    path.display(),
                    checkpoint_name(&latest)
                ),
            );
            return Ok((iteration, latest));
        }
        Ok((best.iteration, path))
    }

    /// The newest intact checkpoint (verified against its checksums). Newer damaged ones are
    /// passed over, with one warning line naming them and what is wrong.
    pub fn latest_checkpoint(&self) -> Result<(u64, PathBuf)> {
        let all = self.checkpoints()?;
        if all.is_empty() {
            return Err(TrainError::Checkpoint {
                path: self.root.clone(),
                message: "holds no checkpoint (was the run started by `neuroforge train`?)".into(),
            });
        }
        let recorded = self.recorded_checksums();
        let mut damaged = Vec::new();
        for (iteration, path) in all.into_iter().rev() {
            let state =
                integrity::check_checkpoint(&path, recorded.get(&iteration).map(String::as_str));
            if let CheckpointState::Damaged { problem } = state {
                damaged.push(format!("{} ({problem})", checkpoint_name(&path)));
                continue;
            }
            if !damaged.is_empty() {
                warn_once(
                    &path,
                    format!(
                        "{}: damaged checkpoint {}; using {}, the newest intact checkpoint",
                        self.root.display(),
                        damaged.join(", "),
                        checkpoint_name(&path)
                    ),
                );
            }
            return Ok((iteration, path));
        }
        Err(TrainError::Checkpoint {
            path: self.root.clone(),
            message: format!(
                "holds no intact checkpoint: {} (`neuroforge verify --run-dir` lists them)",
                damaged.join(", ")
            ),
        })
    }

    /// The checksums the manifest recorded, by iteration (none when it cannot be read: the
    /// checkpoints' own lists still apply).
    fn recorded_checksums(&self) -> BTreeMap<u64, String> {
        self.read_manifest()
            .map(|m| m.checkpoint_checksums)
            .unwrap_or_default()
    }

    /// Check the whole run: its manifest and configuration are readable, every checkpoint
    /// against its checksums, the best checkpoint the manifest names is there, and any
    /// half-written checkpoint a killed process left.
    pub fn verify(&self) -> Result<RunCheck> {
        let mut problems = Vec::new();
        let manifest = match self.read_manifest() {
            Ok(manifest) => Some(manifest),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        if let Err(e) = self.read_config::<toml::Table>() {
            problems.push(e.to_string());
        }
        let recorded = manifest
            .as_ref()
            .map(|m| m.checkpoint_checksums.clone())
            .unwrap_or_default();
        let checkpoints: Vec<(u64, PathBuf, CheckpointState)> = self
            .checkpoints()?
            .into_iter()
            .map(|(iteration, path)| {
                let state = integrity::check_checkpoint(
                    &path,
                    recorded.get(&iteration).map(String::as_str),
                );
                (iteration, path, state)
            })
            .collect();
        if let Some(best) = manifest.as_ref().and_then(|m| m.best_checkpoint.as_ref())
            && !checkpoints.iter().any(|(i, _, _)| *i == best.iteration)
        {
            problems.push(format!(
                "{}: the manifest names it as the run's best checkpoint, but it is missing",
                self.checkpoint_path(best.iteration).display()
            ));
        }
        let latest_usable = checkpoints
            .iter()
            .rev()
            .find(|(_, _, state)| state.is_usable())
            .map(|(iteration, _, _)| *iteration);
        Ok(RunCheck {
            checkpoints,
            partial: self.partial_checkpoints()?,
            problems,
            latest_usable,
        })
    }

    /// Record a new training session, starting after iteration `start`, in the manifest and
    /// mark the run `running`.
    pub(crate) fn begin_session(&self, context: &RunContext, start: u64) -> Result<OpenSession> {
        let mut manifest = self.read_manifest()?;
        let index = manifest.sessions.len();
        manifest.sessions.push(Session {
            command: context.command.clone(),
            device: context.device.clone(),
            git_commit: context.git_commit.clone(),
            start_iteration: start,
            end_iteration: start,
            started_unix_s: unix_seconds(),
            ended_unix_s: None,
            iterations_per_s: None,
            reason: None,
            peak_memory_mib: None,
        });
        manifest.status = RunStatus::Running;
        self.record_checksums(&mut manifest, None)?;
        self.write_session_manifest(&manifest, Some(index))?;
        Ok(OpenSession { manifest, index })
    }

    /// Write the checkpoint of `iteration` of a running `session` (`save` fills the partial
    /// directory it is given), keep the `keep` newest and the `best` one, and record in the manifest that the
    /// session got this far after `seconds` of wall time (the run stays `running`). Returns the
    /// checkpoint's directory.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn checkpoint_session(
        &self,
        session: &mut OpenSession,
        iteration: u64,
        keep: usize,
        best: Option<BestCheckpoint>,
        seconds: f64,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let spare = best.as_ref().map(|b| b.iteration);
        let path = self.write_checkpoint(iteration, keep, spare, save)?;
        self.record_checksums(&mut session.manifest, Some(iteration))?;
        session.manifest.best_checkpoint = best;
        let entry = &mut session.manifest.sessions[session.index];
        let done = iteration.saturating_sub(entry.start_iteration);
        entry.end_iteration = iteration;
        entry.iterations_per_s = (seconds > 0.0 && done > 0).then(|| done as f64 / seconds);
        self.write_session_manifest(&session.manifest, Some(session.index))?;
        Ok(path)
    }

    /// Close `session` after iteration `end` and `seconds` of wall time: its end and
    /// throughput, the run's status from `outcome` (`finished`, `diverged`, `interrupted` or
    /// `failed`), the last metrics line and the iterations done.
    pub(crate) fn end_session<L: Serialize>(
        &self,
        session: OpenSession,
        end: u64,
        seconds: f64,
        outcome: &Result<()>,
        last_line: Option<&L>,
    ) -> Result<()> {
        let OpenSession {
            mut manifest,
            index,
        } = session;
        let entry = &mut manifest.sessions[index];
        let done = end - entry.start_iteration;
        entry.end_iteration = end;
        entry.ended_unix_s = Some(unix_seconds());
        entry.iterations_per_s = (seconds > 0.0).then(|| done as f64 / seconds);
        entry.reason = outcome.as_ref().err().map(|e| one_line(&e.to_string()));
        entry.peak_memory_mib = peak_resident_mib();
        manifest.status = match outcome {
            Ok(()) => RunStatus::Finished,
            Err(TrainError::Diverged { .. }) => RunStatus::Diverged,
            Err(TrainError::Interrupted { .. }) => RunStatus::Interrupted,
            Err(_) => RunStatus::Failed,
        };
        if let Some(line) = last_line {
            manifest.results.insert(
                "last_metrics".into(),
                serde_json::to_value(line).unwrap_or_default(),
            );
        }
        manifest
            .results
            .insert("iterations".into(), serde_json::Value::from(end));
        self.record_checksums(&mut manifest, None)?;
        self.write_session_manifest(&manifest, None)
    }

    /// Write the manifest of a session, open (`index`: the session's) or closed (`None`), and
    /// keep it as the [`ActiveSession`] while open.
    fn write_session_manifest(&self, manifest: &Manifest, index: Option<usize>) -> Result<()> {
        let mut active = active_session();
        let written = self.write_manifest(manifest);
        // Cleared even when the write failed: a closed session must not keep the run (and its
        // writer lock) registered for the rest of the process.
        *active = index.map(|index| ActiveSession {
            run: self.clone(),
            manifest: manifest.clone(),
            index,
        });
        written
    }

    /// Bring the manifest's record of checkpoint checksums up to date: drop the checkpoints
    /// that are gone, add those not recorded yet (the untrained one, written before the first
    /// session), and replace the record of `written`, the checkpoint just written.
    fn record_checksums(&self, manifest: &mut Manifest, written: Option<u64>) -> Result<()> {
        let present = self.checkpoints()?;
        let kept: BTreeSet<u64> = present.iter().map(|(i, _)| *i).collect();
        manifest
            .checkpoint_checksums
            .retain(|iteration, _| kept.contains(iteration));
        for (iteration, path) in present {
            let unrecorded = !manifest.checkpoint_checksums.contains_key(&iteration);
            if (unrecorded || Some(iteration) == written)
                && let Some(digest) = integrity::list_digest(&path)
            {
                manifest.checkpoint_checksums.insert(iteration, digest);
            }
        }
        Ok(())
    }

    /// Write a text file of the run (a report, a summary) atomically.
    pub fn write_text(&self, name: &str, text: &str) -> Result<PathBuf> {
        let path = self.root.join(name);
        write_text_atomically(&path, text)?;
        Ok(path)
    }
}

/// For fault-injection tests: the environment variable holding a pause, in milliseconds,
/// between writing a checkpoint's files and publishing it, so that a test's kill or second
/// signal lands inside a checkpoint write. Unset (the default): no pause.
pub const FAULT_PAUSE_ENV: &str = "NEUROFORGE_FAULT_CHECKPOINT_PAUSE_MS";

fn fault_injection_pause() {
    let pause = std::env::var(FAULT_PAUSE_ENV)
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok());
    if let Some(ms) = pause {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

/// A checkpoint directory's name (`iter-0000000020`).
fn checkpoint_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Log `message` as a warning the first time this process falls back from `chosen` (a run
/// selects its checkpoint more than once: to load it, then to name it).
fn warn_once(chosen: &Path, message: String) {
    static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let first = WARNED
        .lock()
        .map(|mut warned| warned.insert(chosen.to_path_buf()))
        .unwrap_or(true);
    if first {
        tracing::warn!("{message}");
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_are_published_whole_and_pruned() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let run = RunDir::create(&tmp.path().join("run"))?;
        for iteration in [0, 10, 20, 30] {
            let partial = run.begin_checkpoint(iteration)?;
            fs::write(partial.join("a.bin"), [1u8, 2]).map_err(|e| TrainError::file("a", e))?;
            run.commit_checkpoint(&partial, iteration, 2)?;
        }
        // A half-written checkpoint of a killed run is ignored.
        run.begin_checkpoint(40)?;
        let found: Vec<u64> = run.checkpoints()?.into_iter().map(|(i, _)| i).collect();
        assert_eq!(found, vec![0, 20, 30], "the untrained checkpoint is kept");
        assert_eq!(run.latest_checkpoint()?.0, 30);
        Ok(())
    }

    #[test]
    fn metrics_after_the_checkpoint_are_dropped_with_a_torn_line() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let run = RunDir::create(tmp.path())?;
        for i in [10u64, 20, 30] {
            run.append_metrics(&serde_json::json!({ "iteration": i }))?;
        }
        let path = tmp.path().join(METRICS);
        let mut f = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| TrainError::file(&path, e))?;
        f.write_all(b"{\"iterat")
            .map_err(|e| TrainError::file(&path, e))?;
        run.truncate_metrics_after(20)?;
        let left: Vec<u64> = run
            .read_metrics()?
            .iter()
            .filter_map(|v| v["iteration"].as_u64())
            .collect();
        assert_eq!(left, vec![10, 20]);
        Ok(())
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid_until_the_first_is_dropped() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let run = RunDir::create(tmp.path())?;
        run.write_text(MANIFEST, "{}")?;
        run.write_text(CONFIG, "")?;
        let pid = format!("pid {}", std::process::id());
        let refused = RunDir::open_for_writing(tmp.path()).map(|_| ());
        assert!(
            matches!(&refused, Err(TrainError::File { message, .. }) if message.contains(&pid)),
            "{refused:?}"
        );
        // A reader is not refused, and a clone keeps the lock.
        let reader = RunDir::open(tmp.path())?;
        let clone = run.clone();
        drop(run);
        assert!(RunDir::open_for_writing(tmp.path()).is_err());
        drop(clone);
        let second = RunDir::open_for_writing(tmp.path())?;
        drop((reader, second));
        Ok(())
    }

    #[test]
    fn half_written_checkpoints_are_removed_on_failure_and_by_the_next_writer() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let partials = |dir: &Path| -> Vec<String> {
            fs::read_dir(dir.join(CHECKPOINTS))
                .map(|entries| {
                    entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with(PARTIAL_PREFIX))
                        .collect()
                })
                .unwrap_or_default()
        };
        let run = RunDir::create(tmp.path())?;
        run.write_text(MANIFEST, "{}")?;
        run.write_text(CONFIG, "")?;
        // A save that fails half-way (a full disk, say) leaves no partial directory.
        let failed = run.write_checkpoint(10, 2, None, |dir| {
            fs::write(dir.join("a.bin"), [1u8]).map_err(|e| TrainError::file("a", e))?;
            Err(TrainError::file(dir, "No space left on device"))
        });
        assert!(failed.is_err());
        assert_eq!(partials(tmp.path()), Vec::<String>::new());
        assert!(run.checkpoints()?.is_empty());
        // A writer killed while it assembled a checkpoint leaves one; the next writer removes
        // it, and the complete checkpoints stay.
        run.write_checkpoint(20, 2, None, |dir| {
            fs::write(dir.join("a.bin"), [2u8]).map_err(|e| TrainError::file("a", e))
        })?;
        run.begin_checkpoint(30)?;
        assert_eq!(
            partials(tmp.path()),
            vec![format!("{PARTIAL_PREFIX}0000000030")]
        );
        drop(run);
        let next = RunDir::open_for_writing(tmp.path())?;
        assert_eq!(partials(tmp.path()), Vec::<String>::new());
        assert_eq!(next.latest_checkpoint()?.0, 20);
        Ok(())
    }

    #[test]
    fn a_directory_with_a_run_is_not_overwritten() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let run = RunDir::create(tmp.path())?;
        run.write_text(MANIFEST, "{}")?;
        let again = RunDir::create(tmp.path());
        assert!(
            matches!(again, Err(TrainError::File { message, .. }) if message.contains("resume"))
        );
        Ok(())
    }
}
