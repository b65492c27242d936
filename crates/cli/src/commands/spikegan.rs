//! `train spikegan`, `sample` and `explain importance`.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::spikegan;

use crate::args::{ImportFlags, RunArgs};
use crate::error::CliError;
use crate::progress::with_spinner;
use crate::training::{ITERATIONS, with_session_bar};

/// `neuroforge train spikegan`.
#[derive(Debug, Args)]
pub struct TrainSpikeGan {
    /// The data: a binned recording of 0/1 spike words (or any input `import` accepts).
    #[arg(long)]
    data: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    options: spikegan::SpikeGanFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl TrainSpikeGan {
    /// Trains a new run and prints its summary line.
    pub fn run(self) -> Result<(), CliError> {
        let recording = self.flags.open(&self.data)?;
        let (device, context) = self.run.device.with_context()?;
        let trained = with_session_bar(&device, &context, ITERATIONS, |session| {
            spikegan::train(
                &self.data,
                &recording,
                &self.run.run_dir,
                &self.options,
                session,
            )
        })?;
        println!("{trained}");
        Ok(())
    }
}

/// `neuroforge sample`.
#[derive(Debug, Args)]
pub struct Sample {
    #[command(flatten)]
    run: RunArgs,
    /// Number of samples.
    #[arg(long)]
    count: usize,
    /// The samples to write: .parquet or .arrow.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: spikegan::SampleFlags,
}

impl Sample {
    /// Draws the samples and writes them.
    pub fn run(self) -> Result<(), CliError> {
        let device = self.run.device.select()?;
        let line = with_spinner(format!("sampling {}", self.count), || {
            spikegan::sample(
                &self.run.run_dir,
                self.count,
                &self.out,
                &device,
                &self.options,
            )
        })?;
        println!("{line}");
        Ok(())
    }
}

/// `neuroforge explain importance`.
#[derive(Debug, Args)]
pub struct Importance {
    #[command(flatten)]
    run: RunArgs,
    /// The data to explain (usually the training data; its held-out samples are used).
    #[arg(long)]
    data: PathBuf,
    /// The maps to write: a traces recording, one value per neuron and bin of each sample.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: spikegan::ImportanceFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Importance {
    /// Computes the importance maps and writes them.
    pub fn run(self) -> Result<(), CliError> {
        let recording = self.flags.open(&self.data)?;
        let device = self.run.device.select()?;
        let line = with_spinner("computing importance maps".to_string(), || {
            spikegan::explain_importance(
                &self.run.run_dir,
                &self.data,
                recording,
                &self.out,
                &device,
                &self.options,
            )
        })?;
        println!("{line}");
        Ok(())
    }
}
