//! The one error type of the `neuroforge` binary.

use std::path::{Path, PathBuf};

/// What can stop a command. Every variant is bad input or bad usage (exit code 2); internal
/// failures are panics, caught and reported by `main` (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading, importing or writing a recording failed.
    #[error(transparent)]
    Io(#[from] neuroforge_io::IoError),
    /// A processing step refused the data of a file.
    #[error("{}: {source}", path.display())]
    Signal {
        /// The input file.
        path: PathBuf,
        /// What the step refused.
        source: neuroforge_signal::SignalError,
    },
    /// A command-line setting is unusable (an unknown device, a backend not compiled in).
    #[error("{0}")]
    Usage(String),
    /// Training, sampling or loading a run failed.
    #[error(transparent)]
    Train(#[from] neuroforge_train::TrainError),
    /// An explanation could not be computed.
    #[error(transparent)]
    Explain(#[from] neuroforge_explain::ExplainError),
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
    /// The options do not fit the data of `path`, for the reason `message`.
    pub fn unsuitable(path: &Path, message: impl Into<String>) -> Self {
        Self::Unsuitable {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}
