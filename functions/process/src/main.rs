//! The `Process` Task state of `infra/statemachine.asl.json` (`${ProcessFunctionArn}`):
//! the logic is `shared::handlers::process_chunk`, shared with `migrate`.

// Items are built and dropped by the thousand: jemalloc (see `shared::allocator`).
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);

#[tokio::main(flavor = "current_thread")] // one event at a time: see `shared::lambda`
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_task(shared::handlers::TaskFunction::Process).await
}
