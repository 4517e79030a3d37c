//! The `RecordFailure` Task state of `infra/statemachine.asl.json` (`${RecordFailureFunctionArn}`):
//! the logic is `shared::handlers::record_failure`, shared with `migrate`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::handlers::record_failure;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps = shared::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        shared::lambda::task("RecordFailure", record_failure::handle(event.payload, deps)).await
    }))
    .await
}
