//! Error types shared by every part of the pipeline.
//!
//! Handlers map [`Error`] to one of the four stable Lambda error types of the
//! state machine contract ([`ErrorType`]); `Retry`/`Catch` in the ASL match on those names.

use std::fmt;

use crate::ports::table::WriteError;

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
#[derive(Debug, Clone, thiserror::Error)]
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
    /// Whether the same call may succeed later: exactly when [`Error::error_type`] says
    /// `Retryable` for it (one classification, never two that disagree).
    pub fn is_retriable(&self) -> bool {
        store_error_type(self) == ErrorType::Retryable
    }
}

/// The classification of a store failure (used by [`Error::error_type`]).
fn store_error_type(e: &StoreError) -> ErrorType {
    match e {
        StoreError::Transient(_) => ErrorType::Retryable,
        // Retrying cannot help: a wrong request, a missing table or object, a permission the
        // function lacks (the message names the call).
        StoreError::InvalidRequest(_) | StoreError::NotFound(_) | StoreError::AccessDenied(_) => {
            ErrorType::InvalidInput
        }
        // Stored data that does not decode (a job's own artifact, a row): the migration cannot
        // go on, and it is not the input's fault.
        StoreError::Corrupt(_) => ErrorType::MigrationFailed,
        // An unexpected store failure may well be transient (a Lambda that lost its
        // connection); the state machine bounds retries, so err on the side of retrying.
        StoreError::Other(_) => ErrorType::Retryable,
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
/// The first four are the pipeline's own verdicts; the others carry their cause as `source`.
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
    /// A table or object store call failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A conditional write failed where no recheck was planned: someone else changed the item.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A local file (temporary export, rejected rows) could not be written or read.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The one classification: which stable Lambda error type the ASL's Retry/Catch see.
    pub fn error_type(&self) -> ErrorType {
        match self {
            Error::InvalidInput(_) => ErrorType::InvalidInput,
            Error::VersionConflict(_) => ErrorType::VersionConflict,
            Error::MigrationFailed(_) => ErrorType::MigrationFailed,
            Error::Retryable(_) => ErrorType::Retryable,
            Error::Store(e) | Error::Write(WriteError::Store(e)) => store_error_type(e),
            Error::Write(WriteError::ConditionFailed | WriteError::Cancelled(_)) => {
                ErrorType::VersionConflict
            }
            Error::Io { .. } => ErrorType::Retryable,
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
        // One classification: is_retriable never disagrees with error_type.
        for e in [
            StoreError::Transient("t".into()),
            StoreError::InvalidRequest("i".into()),
            StoreError::NotFound("n".into()),
            StoreError::AccessDenied("a".into()),
            StoreError::Corrupt("c".into()),
            StoreError::Other("o".into()),
        ] {
            let retriable = e.is_retriable();
            assert_eq!(
                Error::from(e).error_type() == ErrorType::Retryable,
                retriable
            );
        }
        assert_eq!(
            Error::from(WriteError::ConditionFailed).error_type(),
            ErrorType::VersionConflict
        );
        let io = Error::io("writing rejected.csv", std::io::Error::other("disk full"));
        assert_eq!(io.error_type(), ErrorType::Retryable);
        assert!(std::error::Error::source(&io).is_some());
        assert_eq!(ErrorType::VersionConflict.as_str(), "VersionConflict");
    }
}
