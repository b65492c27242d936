//! One training session loop for every model.
//!
//! A model's trainer implements [`Trainer`] (one step, a metrics line, its checkpoint files);
//! [`run_session`] drives it from its current iteration to its total: it averages the losses
//! between log lines, appends the lines to `metrics.jsonl`, writes checkpoints by the trainer's
//! [`CheckpointPolicy`], stops after a checkpoint when a [`StopHandle`] is raised (Ctrl-C),
//! records the session in the manifest and closes it with the run's status. Spike-GAN,
//! CycleGAN and MARBLE all train through it, so each gains the same checkpoints, resume and
//! interruption, and a fix to one is a fix to all.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::error::{Result, TrainError};
use crate::rundir::{BestCheckpoint, RunContext, RunDir};

/// When checkpoints are written and which are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckpointPolicy {
    /// Write a checkpoint after every this many iterations (and after the last one, and when
    /// stopped).
    pub every: u64,
    /// Keep the newest this many checkpoints (at least one); the untrained checkpoint 0 is
    /// always kept.
    pub keep_last: usize,
    /// Also write a checkpoint whenever a logged line has the lowest score so far
    /// ([`Trainer::score`]), and keep it however old it gets; the manifest names it
    /// (`best_checkpoint`).
    pub keep_best: bool,
}

/// A request to stop training, shared between whoever asks (a signal handler, a test, a
/// user interface) and the session loop, which stops after the current iteration, writes a
/// checkpoint of it and ends with [`TrainError::Interrupted`].
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// A handle nobody has raised yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the loop to stop after its current iteration.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// The flag itself, for a signal handler to set (e.g. `signal_hook::flag::register`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// Losses that the loop can average over the iterations between two log lines.
pub trait StepLosses: Default + Clone {
    /// `self += weight * other`, field by field.
    fn accumulate(&mut self, other: &Self, weight: f64);
}

/// A model's training state, as the session loop drives it.
pub trait Trainer {
    /// The data one step trains on.
    type Data: ?Sized;
    /// What one step reports.
    type Losses: StepLosses;
    /// One line of `metrics.jsonl`.
    type Line: Serialize + Clone;

    /// Iterations (steps) completed.
    fn iteration(&self) -> u64;
    /// The iteration training ends after.
    fn total_iterations(&self) -> u64;
    /// Log a metrics line after every this many iterations (and after the last one).
    fn log_every(&self) -> u64;
    /// When checkpoints are written and which are kept.
    fn checkpoint_policy(&self) -> CheckpointPolicy;
    /// One training step on `data`.
    fn step(&mut self, data: &Self::Data) -> Result<Self::Losses>;
    /// The metrics line after `iteration`, from the losses `averaged` since the previous line
    /// and the throughput since then (it may evaluate the model; it also logs the line).
    fn metrics_line(
        &mut self,
        data: &Self::Data,
        iteration: u64,
        averaged: Self::Losses,
        iterations_per_s: f64,
    ) -> Result<Self::Line>;
    /// The figure a line is judged by for [`CheckpointPolicy::keep_best`] (lower is better);
    /// `None` for trainers without one.
    fn score(_line: &Self::Line) -> Option<f64> {
        None
    }
    /// `true` once the trainer has decided to end before its total (early stopping).
    fn finished_early(&self) -> bool {
        false
    }
    /// Write everything a resumed run needs into the (empty) checkpoint directory `dir`.
    fn save_into(&self, dir: &Path) -> Result<()>;
}

/// What a training session reports as it goes (a progress bar, a test's probe).
pub trait SessionObserver<T: Trainer + ?Sized> {
    /// Training starts after `start` of `total` iterations.
    fn on_start(&mut self, _start: u64, _total: u64) {}
    /// Iteration `iteration` finished with these losses.
    fn on_iteration(&mut self, _iteration: u64, _losses: &T::Losses) {}
    /// A metrics line was logged.
    fn on_log(&mut self, _line: &T::Line) {}
    /// A checkpoint was written.
    fn on_checkpoint(&mut self, _iteration: u64, _path: &Path) {}
}

/// An observer that reports nothing.
pub struct Silent;
impl<T: Trainer + ?Sized> SessionObserver<T> for Silent {}

/// Train until the trainer's total (or its early stop, or `stop`), logging and checkpointing
/// into `run`; the manifest records the session and the run's status. Returns the last logged
/// line, or [`TrainError::Interrupted`] after a checkpoint when `stop` was raised.
pub fn run_session<T: Trainer>(
    run: &RunDir,
    trainer: &mut T,
    data: &T::Data,
    context: &RunContext,
    observer: &mut dyn SessionObserver<T>,
    stop: &StopHandle,
) -> Result<Option<T::Line>> {
    let total = trainer.total_iterations();
    let log_every = trainer.log_every().max(1);
    let policy = trainer.checkpoint_policy();
    let every = policy.every.max(1);
    let start = trainer.iteration();
    let mut session = run.begin_session(context, start)?;
    let mut best = session.best_checkpoint().cloned();
    observer.on_start(start, total);
    let session_start = Instant::now();
    let mut window_start = Instant::now();
    let mut window = T::Losses::default();
    let mut window_len = 0u64;
    let mut last_line: Option<T::Line> = None;
    // Every way out of the loop (the end, a stop request, divergence, a file that cannot be
    // written) comes back here, so the manifest always records how the session ended.
    let mut train = || -> Result<()> {
        while trainer.iteration() < total {
            let losses = trainer.step(data)?;
            let iteration = trainer.iteration();
            window.accumulate(&losses, 1.0);
            window_len += 1;
            observer.on_iteration(iteration, &losses);
            let last = iteration >= total || trainer.finished_early();
            let mut improved = None;
            if iteration.is_multiple_of(log_every) || last {
                let mut averaged = T::Losses::default();
                averaged.accumulate(&window, 1.0 / window_len as f64);
                let iterations_per_s = window_len as f64 / window_start.elapsed().as_secs_f64();
                let line = trainer.metrics_line(data, iteration, averaged, iterations_per_s)?;
                run.append_metrics(&line)?;
                observer.on_log(&line);
                if policy.keep_best
                    && let Some(score) = T::score(&line).filter(|s| s.is_finite())
                    && best.as_ref().is_none_or(|b| score < b.score)
                {
                    improved = Some(BestCheckpoint { iteration, score });
                }
                last_line = Some(line);
                window = T::Losses::default();
                window_len = 0;
                window_start = Instant::now();
            }
            let stop_now = !last && stop.is_requested();
            if iteration.is_multiple_of(every) || last || stop_now || improved.is_some() {
                if let Some(new_best) = improved {
                    best = Some(new_best);
                }
                let path = run.checkpoint_session(
                    &mut session,
                    iteration,
                    policy.keep_last,
                    best.clone(),
                    session_start.elapsed().as_secs_f64(),
                    |partial| trainer.save_into(partial),
                )?;
                observer.on_checkpoint(iteration, &path);
            }
            if stop_now {
                tracing::info!(iteration, "training interrupted on request");
                return Err(TrainError::Interrupted { iteration });
            }
            if last {
                break;
            }
        }
        Ok(())
    };
    let outcome = train();
    let ended = run.end_session(
        session,
        trainer.iteration(),
        session_start.elapsed().as_secs_f64(),
        &outcome,
        last_line.as_ref(),
    );
    match (outcome, ended) {
        (Ok(()), Ok(())) => Ok(last_line),
        (Ok(()), Err(e)) => Err(e),
        // The session's own error is the one to report; a manifest that could not record it
        // (a full disk) is logged.
        (Err(e), ended) => {
            if let Err(not_recorded) = ended {
                tracing::warn!(error = %not_recorded, "the manifest could not record how the session ended");
            }
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rundir::{Manifest, ModelKind, RunStatus};

    /// A trainer that counts, and whose checkpoint write fails from iteration `fail_from`
    /// on, after it has written part of its files (a disk that fills up).
    struct Counting {
        iteration: u64,
        total: u64,
        fail_from: u64,
    }

    #[derive(Default, Clone)]
    struct Nothing;
    impl StepLosses for Nothing {
        fn accumulate(&mut self, _other: &Self, _weight: f64) {}
    }

    impl Trainer for Counting {
        type Data = ();
        type Losses = Nothing;
        type Line = serde_json::Value;
        fn iteration(&self) -> u64 {
            self.iteration
        }
        fn total_iterations(&self) -> u64 {
            self.total
        }
        fn log_every(&self) -> u64 {
            5
        }
        fn checkpoint_policy(&self) -> CheckpointPolicy {
            CheckpointPolicy {
                every: 10,
                keep_last: 2,
                keep_best: false,
            }
        }
        fn step(&mut self, _data: &()) -> Result<Nothing> {
            self.iteration += 1;
            Ok(Nothing)
        }
        fn metrics_line(
            &mut self,
            _data: &(),
            iteration: u64,
            _averaged: Nothing,
            _iterations_per_s: f64,
        ) -> Result<serde_json::Value> {
            Ok(serde_json::json!({ "iteration": iteration }))
        }
        fn save_into(&self, dir: &Path) -> Result<()> {
            let file = dir.join("state.bin");
            std::fs::write(&file, self.iteration.to_le_bytes())
                .map_err(|e| TrainError::file(&file, e))?;
            if self.iteration >= self.fail_from {
                return Err(TrainError::file(
                    dir.join("more.bin"),
                    "No space left on device (os error 28)",
                ));
            }
            Ok(())
        }
    }

    #[test]
    fn a_checkpoint_that_cannot_be_written_ends_the_session_failed_with_its_reason() -> Result<()> {
        let tmp = tempfile::tempdir().map_err(|e| TrainError::file("tmp", e))?;
        let run = RunDir::create(tmp.path())?;
        run.write_config(&serde_json::json!({}))?;
        run.write_manifest(&Manifest {
            model: ModelKind::Spikegan,
            seed: 0,
            context: RunContext::default(),
            data: None,
            more_data: vec![],
            config: serde_json::Value::Null,
            sessions: vec![],
            status: RunStatus::Created,
            results: serde_json::Map::new(),
            best_checkpoint: None,
            checkpoint_checksums: Default::default(),
        })?;
        let mut trainer = Counting {
            iteration: 0,
            total: 50,
            fail_from: 30,
        };
        let outcome = run_session(
            &run,
            &mut trainer,
            &(),
            &RunContext::default(),
            &mut Silent,
            &StopHandle::new(),
        );
        let error = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("No space left"), "{error}");
        let manifest = run.read_manifest()?;
        assert_eq!(manifest.status, RunStatus::Failed);
        let session = &manifest.sessions[0];
        assert_eq!(session.end_iteration, 30);
        assert!(
            session
                .reason
                .as_deref()
                .is_some_and(|r| r.contains("more.bin: No space left")),
            "{:?}",
            session.reason
        );
        // The checkpoints before the failure stay; nothing half-written is left.
        let kept: Vec<u64> = run.checkpoints()?.into_iter().map(|(i, _)| i).collect();
        assert_eq!(kept, vec![10, 20]);
        let leftovers = std::fs::read_dir(tmp.path().join("checkpoints"))
            .map_err(|e| TrainError::file("checkpoints", e))?
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(leftovers, 0);
        Ok(())
    }
}
