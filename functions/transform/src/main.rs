//! The `Transform` Task state of `infra/statemachine.asl.json` (`${TransformFunctionArn}`):
//! the logic is `shared::handlers::transform`, shared with `migrate`.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::handlers::transform;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let deps = shared::aws::deps_from_env().await?;
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        shared::lambda::task("Transform", transform::handle(event.payload, deps)).await
    }))
    .await
}
