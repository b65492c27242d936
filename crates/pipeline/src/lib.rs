//! neuroforge's pipelines as a library: one module per model, each with the same verbs on
//! [`Recording`](neuroforge_io::Recording)s and typed options — prepare the data, resolve the
//! configuration, train and resume, infer back to a recording (sample, translate, embed),
//! explain, report — plus the steps they share (preprocessing, simulation, statistics against a
//! recording, classical baselines, point tables).
//!
//! The `neuroforge` program is a thin layer over this crate (flags, progress bars, signals,
//! printing); `cargo xtask reproduce` and any other Rust program call it the same way. With the
//! `clap` feature the option structs also derive `clap::Args`, so a program can flatten them
//! into its own command line.

use burn::tensor::Device;
use neuroforge_train::{RunContext, SessionObserver, StopHandle, Trainer};

pub mod config;
pub mod cyclegan;
pub mod error;
pub mod marble;
pub mod output;
pub mod points;
pub mod preprocess;
pub mod recording;
pub mod simulate;
pub mod spikegan;
pub mod stats;

pub use error::{PipelineError, one_line};
/// Plots and Markdown reports (the `neuroforge-report` crate).
pub use neuroforge_report as report;

/// What a training verb (train, resume) needs besides its data and options: where it runs,
/// what the manifest records, who watches and what stops it.
pub struct TrainingSession<'a, T: Trainer> {
    /// The device the networks live on.
    pub device: &'a Device,
    /// The program, version and device recorded in the run's manifest.
    pub context: &'a RunContext,
    /// Told of every step, log line and checkpoint (progress bars, logs).
    pub observer: &'a mut dyn SessionObserver<T>,
    /// Called once, when the run directory is ready and the first step is next: returns the
    /// handle that stops the session after a checkpoint. A program installs its Ctrl-C handler
    /// here, so that a signal while the data are still being read ends it at once.
    pub stop: &'a dyn Fn() -> StopHandle,
}
