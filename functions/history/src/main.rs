//! The data table's stream (NEW_AND_OLD_IMAGES) → the history table, with a partial batch
//! response: only the records that failed are retried (`ReportBatchItemFailures`). The logic is
//! `shared::handlers::history`, which the embedded event source mapping of `migrate` also runs.

// Every function's allocator: jemalloc (`shared::allocator` says why).
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{LambdaEvent, service_fn};
use shared::handlers::history;

#[tokio::main(flavor = "current_thread")] // one event at a time: see `shared::lambda`
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps = shared::wiring::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<DynamoDbEventResponse, shared::Error>(history::handle(event.payload, deps).await)
    }))
    .await
}
