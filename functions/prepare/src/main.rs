//! The `Prepare` Task state of `infra/statemachine.asl.json` (`${PrepareFunctionArn}`):
//! the logic is `shared::handlers::prepare`, shared with `migrate`.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::run_task(shared::handlers::TaskFunction::Prepare).await
}
