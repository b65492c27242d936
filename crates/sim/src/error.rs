//! The one error type of `neuroforge-sim`.

/// A simulation setting out of its valid range; the message names it and says why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid simulation setting: {0}")]
pub struct SimError(pub String);

/// The result type of this crate.
pub type Result<T, E = SimError> = std::result::Result<T, E>;

pub(crate) fn invalid(message: impl Into<String>) -> SimError {
    SimError(message.into())
}
