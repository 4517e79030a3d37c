//! The `NormalizeUsers` Task state of `infra/statemachine.asl.json` (`${NormalizeUsersFunctionArn}`):
//! the logic is `shared::handlers::normalize_users`, shared with `migrate`.

// Every function's allocator: jemalloc (`shared::allocator` says why).
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);

#[tokio::main(flavor = "current_thread")] // one event at a time: see `shared::lambda`
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_task(shared::handlers::TaskFunction::NormalizeUsers).await
}
