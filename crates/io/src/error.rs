//! The one error type of `neuroforge-io`.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while reading, validating or writing a recording.
///
/// Every variant that concerns a file names it, so that the message alone (one line) tells a
/// user which file is wrong and why.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The file could not be opened or read (missing, unreadable, a directory, ...).
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The output could not be written (missing directory, no space, permissions).
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file's content is not what its format promises, or not valid as a recording.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, in one line.
        problem: String,
    },
    /// A recording built in memory breaks an invariant of the data model.
    #[error("invalid recording: {0}")]
    Recording(String),
    /// The options asked for something that cannot be done (bad flag combination or value).
    #[error("{0}")]
    Usage(String),
}

impl IoError {
    /// An `Invalid` error for `path`.
    pub fn invalid(path: &Path, problem: impl Into<String>) -> Self {
        Self::Invalid {
            path: path.to_path_buf(),
            problem: problem.into(),
        }
    }

    /// Attach a file to an error raised without one (a `Recording` error found while importing
    /// `path` becomes an `Invalid` error naming it).
    pub fn at(self, path: &Path) -> Self {
        match self {
            Self::Recording(problem) => Self::invalid(path, problem),
            other => other,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = IoError> = std::result::Result<T, E>;
