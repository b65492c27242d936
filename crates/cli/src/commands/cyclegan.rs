//! `train cyclegan`, `translate` and `explain saliency`.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::cyclegan;

use crate::args::{ImportFlags, RunArgs};
use crate::error::CliError;
use crate::progress::with_spinner;
use crate::training::{ITERATIONS, with_session_bar};

/// `neuroforge train cyclegan`.
#[derive(Debug, Args)]
pub struct TrainCycleGan {
    /// The pre-learning recording (traces).
    #[arg(long)]
    pre: PathBuf,
    /// The post-learning recording (traces of the same neuron ids).
    #[arg(long)]
    post: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    options: cyclegan::CycleGanFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl TrainCycleGan {
    /// Trains a new run and prints its summary line.
    pub fn run(self) -> Result<(), CliError> {
        let pre = self.flags.open(&self.pre)?;
        let post = self.flags.open(&self.post)?;
        let (device, context) = self.run.device.with_context()?;
        let trained = with_session_bar(&device, &context, ITERATIONS, |session| {
            cyclegan::train(
                (&self.pre, &pre),
                (&self.post, &post),
                &self.run.run_dir,
                &self.options,
                session,
            )
        })?;
        println!("{trained}");
        Ok(())
    }
}

/// `neuroforge translate`.
#[derive(Debug, Args)]
pub struct Translate {
    #[command(flatten)]
    run: RunArgs,
    /// The recording to translate (traces, same neurons as the run).
    #[arg(long)]
    data: PathBuf,
    /// The translated recording to write.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: cyclegan::TranslateFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Translate {
    /// Translates the recording (and evaluates it if asked) and writes it.
    pub fn run(self) -> Result<(), CliError> {
        let recording = self.flags.open(&self.data)?;
        let device = self.run.device.select()?;
        let line = with_spinner(format!("translating {}", self.data.display()), || {
            cyclegan::translate(
                &self.run.run_dir,
                (&self.data, recording),
                &self.out,
                &device,
                &self.options,
                |path| Ok(self.flags.open(path)?),
            )
        })?;
        println!("{line}");
        Ok(())
    }
}

/// `neuroforge explain saliency`.
#[derive(Debug, Args)]
pub struct Saliency {
    #[command(flatten)]
    run: RunArgs,
    /// The recording to explain (traces of the run's neurons).
    #[arg(long)]
    data: PathBuf,
    /// The |G(x) - x| maps to write (a traces recording).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: cyclegan::SaliencyFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Saliency {
    /// Computes the attribution maps and writes them.
    pub fn run(self) -> Result<(), CliError> {
        let recording = self.flags.open(&self.data)?;
        let device = self.run.device.select()?;
        let line = with_spinner("computing attributions".to_string(), || {
            cyclegan::saliency(
                &self.run.run_dir,
                (&self.data, recording),
                &self.out,
                &device,
                &self.options,
            )
        })?;
        println!("{line}");
        Ok(())
    }
}
