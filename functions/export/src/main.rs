//! The `Export` Task state of `infra/statemachine.asl.json` (`${ExportFunctionArn}`):
//! the logic is `shared::handlers::export`, shared with `migrate`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::handlers::export;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps = shared::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        shared::lambda::task("Export", export::handle(event.payload, deps)).await
    }))
    .await
}
