//! The `Verify` Task state of `infra/statemachine.asl.json` (`${VerifyFunctionArn}`):
//! the logic is `shared::handlers::verify`, shared with `migrate`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::handlers::verify;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps = shared::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        shared::lambda::task("Verify", verify::handle(event.payload, deps)).await
    }))
    .await
}
