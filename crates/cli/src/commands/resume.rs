//! `resume`: continue any model's run from its newest checkpoint.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::{cyclegan, marble, spikegan};
use neuroforge_train::ModelKind;

use crate::args::{ImportFlags, RunArgs};
use crate::error::CliError;
use crate::training::{EPOCHS, ITERATIONS, with_session_bar};

/// `neuroforge resume`.
#[derive(Debug, Args)]
pub struct Resume {
    #[command(flatten)]
    run: RunArgs,
    /// The data file, if it moved since the run started [default: the manifest's].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Train to this many iterations (MARBLE: epochs) in total (extends or shortens the
    /// configured schedule).
    #[arg(long)]
    iterations: Option<u64>,
}

impl Resume {
    /// Resumes the run with the model its manifest names and prints its summary line.
    pub fn run(self) -> Result<(), CliError> {
        let Self {
            run,
            data,
            iterations,
        } = self;
        let run_dir = &run.run_dir;
        let flags = ImportFlags::default();
        let model = neuroforge_train::RunDir::open(run_dir)
            .and_then(|run| run.read_manifest())?
            .model;
        if model == ModelKind::Cyclegan && data.is_some() {
            return Err(CliError::Usage(
                "a CycleGAN run resumes on the pre and post recordings its manifest names; \
                 --data does not apply"
                    .into(),
            ));
        }
        let (device, context) = run.device.with_context()?;
        let reader = |path: &std::path::Path| Ok(flags.open(path)?);
        let line = match model {
            ModelKind::Cyclegan => with_session_bar(&device, &context, ITERATIONS, |session| {
                cyclegan::resume(run_dir, iterations, reader, session)
            })?
            .to_string(),
            ModelKind::Marble => with_session_bar(&device, &context, EPOCHS, |session| {
                marble::resume(run_dir, data.as_deref(), iterations, session)
            })?
            .to_string(),
            ModelKind::Spikegan => with_session_bar(&device, &context, ITERATIONS, |session| {
                spikegan::resume(run_dir, data.as_deref(), iterations, reader, session)
            })?
            .to_string(),
        };
        println!("{line}");
        Ok(())
    }
}
