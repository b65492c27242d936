//! The one error type of neuroforge-train.

use std::path::PathBuf;

/// What can stop a training run or a run-directory operation.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The model configuration is invalid.
    #[error(transparent)]
    Model(#[from] neuroforge_models::ModelError),
    /// The geometry of the data could not be built (MARBLE).
    #[error(transparent)]
    Geometry(#[from] neuroforge_manifold::ManifoldError),
    /// A training setting is invalid (named in the message).
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// The training data cannot be used (named in the message).
    #[error("unusable training data: {0}")]
    Data(String),
    /// A file of the run directory could not be read or written.
    #[error("{}: {message}", path.display())]
    File {
        /// The file or directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The run directory holds no usable checkpoint, or one that does not fit its config.
    #[error("{}: {message}", path.display())]
    Checkpoint {
        /// The run directory or checkpoint.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Training stopped because a loss became non-finite or exceeded the divergence limit.
    #[error(
        "training diverged at iteration {iteration}: {what}; the last good checkpoint is kept \
         (lower the learning rate or raise the gradient-penalty weight, then resume or restart)"
    )]
    Diverged {
        /// The generator iteration at which it was detected.
        iteration: u64,
        /// Which quantity and its value.
        what: String,
    },
    /// Training stopped on request (the observer asked, e.g. after Ctrl-C) after writing a
    /// checkpoint of the last completed iteration.
    #[error(
        "training interrupted after iteration {iteration}; a checkpoint of it was written, so \
         resuming the run continues from there"
    )]
    Interrupted {
        /// The last completed generator iteration (the one checkpointed).
        iteration: u64,
    },
}

impl TrainError {
    /// A file error with its path.
    pub(crate) fn file(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self::File {
            path: path.into(),
            message: message.to_string(),
        }
    }
}

/// Result with [`TrainError`].
pub type Result<T, E = TrainError> = std::result::Result<T, E>;
