//! Error types shared by every part of the pipeline.
//!
//! Handlers map [`Error`] to one of the four stable Lambda error types of the
//! state machine contract ([`ErrorType`]); `Retry`/`Catch` in the ASL match on those names.

use std::fmt;

/// The stable error names used in the state machine's `Retry` and `Catch` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// A transient failure (throttling, a store that is briefly unavailable): try again.
    Retryable,
    /// The job document or the data is wrong: retrying cannot help.
    InvalidInput,
    /// An optimistic-lock conflict that was reported instead of overwriting a concurrent change.
    VersionConflict,
    /// The migration ran but its result is not acceptable (verification, tolerance).
    MigrationFailed,
}

impl ErrorType {
    pub const ALL: [ErrorType; 4] = [
        ErrorType::Retryable,
        ErrorType::InvalidInput,
        ErrorType::VersionConflict,
        ErrorType::MigrationFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::Retryable => "Retryable",
            ErrorType::InvalidInput => "InvalidInput",
            ErrorType::VersionConflict => "VersionConflict",
            ErrorType::MigrationFailed => "MigrationFailed",
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure of a table or object store call.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttling, a timeout, a dropped connection, a locked database: the same call may succeed later.
    #[error("store temporarily unavailable: {0}")]
    Transient(String),
    /// The request itself is wrong (too many items, two operations on one item, a bad key...).
    #[error("invalid store request: {0}")]
    InvalidRequest(String),
    /// The object or table does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller is not allowed to make the call (IAM): a deployment problem, not a transient one.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// Anything else (I/O errors, unexpected service errors).
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    /// The one place that decides whether a store failure is worth retrying.
    pub fn is_retriable(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            NotFound => StoreError::NotFound(e.to_string()),
            Interrupted | TimedOut | WouldBlock => StoreError::Transient(e.to_string()),
            _ => StoreError::Other(e.to_string()),
        }
    }
}

/// The pipeline's error: every handler returns it, and it knows its stable [`ErrorType`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    VersionConflict(String),
    #[error("{0}")]
    MigrationFailed(String),
    #[error("{0}")]
    Retryable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    pub fn error_type(&self) -> ErrorType {
        match self {
            Error::InvalidInput(_) => ErrorType::InvalidInput,
            Error::VersionConflict(_) => ErrorType::VersionConflict,
            Error::MigrationFailed(_) => ErrorType::MigrationFailed,
            Error::Retryable(_) => ErrorType::Retryable,
            Error::Store(StoreError::Transient(_)) => ErrorType::Retryable,
            // Retrying cannot help: a wrong request, a missing table or object, a permission the
            // function lacks (the message names the call), data that does not decode.
            Error::Store(StoreError::InvalidRequest(_))
            | Error::Store(StoreError::NotFound(_))
            | Error::Store(StoreError::AccessDenied(_)) => ErrorType::InvalidInput,
            Error::Store(StoreError::Corrupt(_)) => ErrorType::MigrationFailed,
            // An unexpected store failure may well be transient (a Lambda that lost its
            // connection); the state machine bounds retries, so err on the side of retrying.
            Error::Store(StoreError::Other(_)) => ErrorType::Retryable,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_stable_types() {
        assert_eq!(
            Error::from(StoreError::Transient("x".into())).error_type(),
            ErrorType::Retryable
        );
        assert_eq!(
            Error::from(StoreError::InvalidRequest("x".into())).error_type(),
            ErrorType::InvalidInput
        );
        assert!(!StoreError::Corrupt("x".into()).is_retriable());
        assert_eq!(
            Error::from(StoreError::AccessDenied("s3:GetObject".into())).error_type(),
            ErrorType::InvalidInput,
            "a missing permission is not retried"
        );
        assert_eq!(
            Error::from(StoreError::Other("connection reset".into())).error_type(),
            ErrorType::Retryable
        );
        assert_eq!(Error::invalid("bad").to_string(), "bad");
        assert_eq!(ErrorType::VersionConflict.as_str(), "VersionConflict");
    }
}
