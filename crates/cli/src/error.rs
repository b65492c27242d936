//! The one error type of the `neuroforge` binary.

use std::path::PathBuf;

/// What can stop a command. Every variant is bad input or bad usage (exit code 2); internal
/// failures are panics, caught and reported by `main` (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A pipeline step failed on its input or options.
    #[error(transparent)]
    Pipeline(#[from] neuroforge_pipeline::PipelineError),
    /// Reading, importing or writing a recording failed.
    #[error(transparent)]
    Io(#[from] neuroforge_io::IoError),
    /// A command-line setting is unusable (an unknown device, a backend not compiled in).
    #[error("{0}")]
    Usage(String),
    /// Training, sampling or loading a run failed.
    #[error(transparent)]
    Train(#[from] neuroforge_train::TrainError),
    /// The options do not fit the data (for example dF/F asked of spike counts).
    #[error("{}: {message}", path.display())]
    Unsuitable {
        /// The input file.
        path: PathBuf,
        /// Why the options do not apply.
        message: String,
    },
}

impl CliError {
    /// Whether training stopped on request (Ctrl-C, SIGTERM) after writing a checkpoint.
    pub fn is_interrupted(&self) -> bool {
        match self {
            Self::Train(neuroforge_train::TrainError::Interrupted { .. }) => true,
            Self::Pipeline(e) => e.is_interrupted(),
            _ => false,
        }
    }
}
