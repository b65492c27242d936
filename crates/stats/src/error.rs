//! The one error type of `neuroforge-stats`.

/// A setting or input a statistic or baseline cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatsError {
    /// A parameter is out of its valid range; the message says which and why.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// The data cannot be used as given (too short, mismatched neurons, not binary, ...).
    #[error("invalid data: {0}")]
    Data(String),
}

/// The result type of this crate.
pub type Result<T, E = StatsError> = std::result::Result<T, E>;

pub(crate) fn parameter(message: impl Into<String>) -> StatsError {
    StatsError::Parameter(message.into())
}

pub(crate) fn data(message: impl Into<String>) -> StatsError {
    StatsError::Data(message.into())
}
