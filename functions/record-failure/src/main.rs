//! The `RecordFailure` Task state of `infra/statemachine.asl.json` (`${RecordFailureFunctionArn}`):
//! the logic is `shared::handlers::record_failure`, shared with `migrate`.

// Every function's allocator: jemalloc (`shared::allocator` says why).
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);

#[tokio::main(flavor = "current_thread")] // one event at a time: see `shared::lambda`
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_task(shared::handlers::TaskFunction::RecordFailure).await
}
