//! The explicit "is this AWS error worth retrying" decision, and the mapping of SDK errors to
//! [`StoreError`]. Error messages carry the service's code and message, never item contents.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::error::StoreError;

/// Error codes that mean "the same request may succeed later": throttling, capacity, internal
/// errors, a transaction that collided with another one.
pub fn is_retriable_code(code: &str) -> bool {
    matches!(
        code,
        "ThrottlingException"
            | "Throttling"
            | "ThrottledException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException"
            | "InternalServerError"
            | "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "SlowDown"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "TransactionInProgressException"
            | "TransactionConflict"
            | "TransactionConflictException"
            | "LimitExceededException"
    )
}

/// The one "worth retrying?" decision for a service's answer, like vector's
/// `is_retriable_error`: a retriable code (throttling, capacity, transaction collisions), or
/// any HTTP 5xx or 429 whatever its code says (a proxy or moto may answer with no code at all).
pub fn is_retriable_error(code: Option<&str>, status: u16) -> bool {
    code.is_some_and(is_retriable_code) || status == 429 || (500..600).contains(&status)
}

/// Codes that mean "the table, bucket or object is not there".
fn is_not_found_code(code: &str) -> bool {
    matches!(
        code,
        "ResourceNotFoundException"
            | "UserNotFoundException"
            | "NoSuchKey"
            | "NoSuchBucket"
            | "NotFound"
            | "StateMachineDoesNotExist"
    )
}

/// Codes that mean "this role may not make the call".
fn is_access_denied_code(code: &str) -> bool {
    matches!(
        code,
        "AccessDenied"
            | "AccessDeniedException"
            | "Forbidden"
            | "UnauthorizedOperation"
            | "KMS.AccessDeniedException"
    )
}

/// Codes that mean "the request is wrong": retrying cannot help.
fn is_invalid_code(code: &str) -> bool {
    matches!(
        code,
        "ValidationException"
            | "InvalidParameterValue"
            | "InvalidArgument"
            | "InvalidRequest"
            | "InvalidName"
            | "InvalidExecutionInput"
            | "ItemCollectionSizeLimitExceededException"
            | "IdempotentParameterMismatchException"
    )
}

/// Maps any SDK error to a [`StoreError`], naming the operation.
pub fn store_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = format!("{operation}: {}", DisplayErrorContext(&err));
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Transient(message)
        }
        SdkError::ConstructionFailure(_) => StoreError::InvalidRequest(message),
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            match service.err().code() {
                Some(code) if is_access_denied_code(code) => StoreError::AccessDenied(message),
                code if is_retriable_error(code, status) => StoreError::Transient(message),
                // HEAD responses have no body, so no code: the status says it.
                None if status == 403 => StoreError::AccessDenied(message),
                None if status == 404 => StoreError::NotFound(message),
                Some(code) if is_not_found_code(code) => StoreError::NotFound(message),
                Some(code) if is_invalid_code(code) => StoreError::InvalidRequest(message),
                _ => StoreError::Other(message),
            }
        }
        _ => StoreError::Other(message),
    }
}

/// A request we could not even build (a missing required field: a bug, not bad input).
pub fn build_error(operation: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidRequest(format!("{operation}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_conflicts_are_retriable_validation_is_not() {
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "TransactionConflict",
            "SlowDown",
            "InternalServerError",
        ] {
            assert!(is_retriable_code(code), "{code}");
        }
        for code in [
            "ValidationException",
            "ConditionalCheckFailed",
            "AccessDeniedException",
            "NoSuchKey",
        ] {
            assert!(!is_retriable_code(code), "{code}");
        }
        assert!(is_not_found_code("NoSuchKey"));
        assert!(is_invalid_code("ValidationException"));
        assert!(is_access_denied_code("AccessDeniedException"));
        assert!(!is_retriable_code("AccessDenied"));
        // HTTP says it too: any 5xx and 429, whatever the code.
        assert!(is_retriable_error(None, 503));
        assert!(is_retriable_error(Some("SomethingNew"), 500));
        assert!(is_retriable_error(None, 429));
        assert!(!is_retriable_error(Some("ValidationException"), 400));
        assert!(!is_retriable_error(None, 404));
    }
}
