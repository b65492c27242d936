//! The one error type of the pipeline.

use std::path::{Path, PathBuf};

/// What can stop a pipeline step. Every variant is bad input or unusable options: a program
/// reports it in one line and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Reading, importing or writing a recording or another file failed.
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
    /// A setting is unusable on its own (a count of zero, an unknown method name).
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

impl PipelineError {
    /// The options do not fit the data of `path`, for the reason `message`.
    pub fn unsuitable(path: &Path, message: impl Into<String>) -> Self {
        Self::Unsuitable {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    /// Whether training stopped on request (Ctrl-C, SIGTERM) after writing a checkpoint.
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            Self::Train(neuroforge_train::TrainError::Interrupted { .. })
        )
    }
}

/// `text` on one line: runs of whitespace (newlines included) become one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
