//! `stats` and `fit-baseline`: population statistics side by side, and the classical models
//! Spike-GAN is compared with.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::stats;

use crate::args::ImportFlags;
use crate::error::CliError;
use crate::progress::with_spinner;

/// `neuroforge stats`.
#[derive(Debug, Args)]
pub struct Stats {
    /// The real (recorded) activity: a recording file or any input `import` accepts.
    real: PathBuf,
    /// The generated (model) activity, same neurons.
    generated: PathBuf,
    #[command(flatten)]
    options: stats::StatsFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl Stats {
    /// Compares the two recordings and prints the table (and writes JSON and report if asked).
    pub fn run(self) -> Result<(), CliError> {
        let Self {
            real,
            generated,
            options,
            flags,
        } = self;
        for path in options.json.iter().chain(&options.report) {
            if path.is_dir() {
                return Err(CliError::Unsuitable {
                    path: path.clone(),
                    message: "is a directory, not an output file".into(),
                });
            }
        }
        let a = flags.open(&real)?;
        let b = flags.open(&generated)?;
        let lines = with_spinner("computing statistics".to_string(), || {
            stats::run_stats(&real, a, &generated, b, flags.bin_ms, &options)
        })?;
        for line in lines {
            println!("{line}");
        }
        Ok(())
    }
}

/// `neuroforge fit-baseline`.
#[derive(Debug, Args)]
pub struct FitBaseline {
    /// The model to fit.
    #[arg(value_enum)]
    model: stats::BaselineKind,
    /// The data: a recording file or any input `import` accepts.
    real: PathBuf,
    /// The samples to write: .parquet or .arrow.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    options: stats::BaselineFlags,
    #[command(flatten)]
    flags: ImportFlags,
}

impl FitBaseline {
    /// Fits the model and writes samples from it.
    pub fn run(self) -> Result<(), CliError> {
        let Self {
            model,
            real,
            out,
            options,
            flags,
        } = self;
        neuroforge_io::Container::from_path(&out)?;
        let recording = flags.open(&real)?;
        let line = with_spinner(format!("fitting {model:?} to {}", real.display()), || {
            stats::run_baseline(model, &real, recording, flags.bin_ms, &options, &out)
        })?;
        println!("{line}");
        Ok(())
    }
}
