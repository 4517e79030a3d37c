//! What the Lambda functions' `main`s share: logging, and the mapping of the pipeline's errors
//! to the stable Lambda error types the state machine's Retry/Catch match on.
//!
//! Every function's `main` runs on tokio's current-thread runtime. A Lambda instance handles
//! one event at a time and its handlers wait on DynamoDB and S3 almost all the time; the CPU
//! work that can use a second core (Transform's parsing and checking) runs on the blocking
//! pool, which the current-thread runtime has too. The multi-threaded runtime hands every
//! request between threads (the task, hyper's connection task, the I/O driver), and each
//! hand-off is a futex wake-up and a context switch: measured against moto on the 2-core
//! machine (an SDK GetItem in a loop), 210-230 µs of client CPU per request on two worker
//! threads, 130-140 µs on one (the parity test, `tests/pipeline_moto.rs`, runs the handlers the
//! same way; there the difference is within its run-to-run noise). At the template's 512 MB a
//! function has about a third of a vCPU, so a second worker thread had no CPU to run on anyway.
//! `migrate`, whose embedded store is CPU-bound, keeps two workers.

use std::future::Future;

use lambda_runtime::Diagnostic;

use crate::error::Error;
use crate::handlers::TaskFunction;

/// `errorType` is one of `Retryable`, `InvalidInput`, `VersionConflict`, `MigrationFailed`: the
/// names `ErrorEquals` uses in `infra/statemachine.asl.json`.
impl From<Error> for Diagnostic {
    fn from(e: Error) -> Diagnostic {
        Diagnostic {
            error_type: e.error_type().as_str().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// Structured logs: JSON when the function's log format is JSON (the template sets it), level
/// from `AWS_LAMBDA_LOG_LEVEL` / `RUST_LOG`. Handlers log keys, counts and error types, never
/// attribute values.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// A Task function's whole `main`: the AWS dependencies from the environment, then every event
/// through [`TaskFunction::invoke`] (the one serde edge of the handlers).
pub async fn run_task(function: TaskFunction) -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let deps = crate::wiring::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
            task(function.state(), function.invoke(event.payload, deps)).await
        },
    ))
    .await
}

/// Runs one handler, logging a failure with its stable error type.
pub async fn task(
    state: &'static str,
    handler: impl Future<Output = Result<serde_json::Value, Error>>,
) -> Result<serde_json::Value, Diagnostic> {
    match handler.await {
        Ok(output) => Ok(output),
        Err(e) => {
            // The message goes to Step Functions (the execution's cause), not to the log: a
            // parse error may quote a value from the data.
            tracing::error!(state, error_type = e.error_type().as_str(), "task failed");
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn errors_become_the_stable_lambda_error_types() {
        let cases = [
            (Error::invalid("bad row"), "InvalidInput"),
            (Error::VersionConflict("v".into()), "VersionConflict"),
            (Error::MigrationFailed("m".into()), "MigrationFailed"),
            (
                Error::Store(StoreError::Transient("throttled".into())),
                "Retryable",
            ),
        ];
        for (error, expected) in cases {
            let message = error.to_string();
            let d: Diagnostic = error.into();
            assert_eq!(d.error_type, expected);
            assert_eq!(d.error_message, message);
        }
    }
}
