//! `resume`: continue any model's run from its newest checkpoint; `verify`: check a run's
//! checkpoints against their checksums.

use std::path::PathBuf;

use clap::Args;
use neuroforge_pipeline::{cyclegan, marble, spikegan};
use neuroforge_train::{CheckpointState, ModelKind};

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

/// `neuroforge verify`.
#[derive(Debug, Args)]
pub struct Verify {
    /// The run directory to check.
    #[arg(long = "run-dir")]
    run_dir: PathBuf,
}

impl Verify {
    /// Prints one line per checkpoint (intact, unverified or damaged and why) and per
    /// half-written checkpoint, then a summary; fails when anything is damaged.
    pub fn run(self) -> Result<(), CliError> {
        let run = neuroforge_train::RunDir::open(&self.run_dir)?;
        let check = run.verify()?;
        for (_, path, state) in &check.checkpoints {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let state = match state {
                CheckpointState::Intact => "intact".to_string(),
                CheckpointState::Unverified => {
                    "unverified (written before checkpoints carried checksums)".to_string()
                }
                CheckpointState::Damaged { problem } => format!("damaged: {problem}"),
            };
            println!("checkpoints/{name}  {state}");
        }
        for path in &check.partial {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            println!(
                "checkpoints/{name}  half-written by a process that was killed (the next \
                 `resume` removes it)"
            );
        }
        for problem in &check.problems {
            println!("{problem}");
        }
        let total = check.checkpoints.len();
        let damaged = check
            .checkpoints
            .iter()
            .filter(|(_, _, s)| !s.is_usable())
            .count();
        let uses = match check.latest_usable {
            Some(iteration) => format!(
                "`resume` and `sample` use {}",
                checkpoint_label(&run, iteration)
            ),
            None => "no checkpoint can be used".to_string(),
        };
        if check.is_sound() {
            println!(
                "{}: {total} checkpoint{} intact; {uses}",
                self.run_dir.display(),
                if total == 1 { "" } else { "s" }
            );
            return Ok(());
        }
        let what = if damaged > 0 {
            format!("{damaged} of {total} checkpoints damaged")
        } else {
            format!("{} problem(s) with the run", check.problems.len())
        };
        Err(CliError::Unsuitable {
            path: self.run_dir,
            message: format!("{what}; {uses}"),
        })
    }
}

/// `iter-0000000020`, the directory name of a run's checkpoint.
fn checkpoint_label(run: &neuroforge_train::RunDir, iteration: u64) -> String {
    run.checkpoint_path(iteration)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
