//! The one error type of `neuroforge-signal`.

/// A setting or input a signal-processing step cannot work with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignalError {
    /// A parameter is out of its valid range; the message says which and why.
    #[error("invalid parameter: {0}")]
    Parameter(String),
    /// The data cannot be processed as given (too short, empty, non-finite, ...).
    #[error("invalid data: {0}")]
    Data(String),
}

/// The result type of this crate.
pub type Result<T, E = SignalError> = std::result::Result<T, E>;

pub(crate) fn parameter(message: impl Into<String>) -> SignalError {
    SignalError::Parameter(message.into())
}

pub(crate) fn data(message: impl Into<String>) -> SignalError {
    SignalError::Data(message.into())
}
