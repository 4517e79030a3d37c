//! S3 `ObjectCreated` under `incoming/` and the nightly schedule → StartExecution with a
//! deterministic name (`shared::handlers::start`).

// Every function's allocator: jemalloc (`shared::allocator` says why).
shared::use_jemalloc!(shared::allocator::LAMBDA_MALLOC_CONF);

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use shared::aws::config::{RECONCILE_JOB, STATE_MACHINE_ARN, required};
use shared::aws::{AwsClients, S3Objects, StepFunctionsStarter};
use shared::handlers::start::{self, StartDeps};

#[tokio::main(flavor = "current_thread")] // one event at a time: see `shared::lambda`
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::lambda::init_tracing();
    let env = |name: &str| std::env::var(name).ok();
    let state_machine_arn = required(&env, STATE_MACHINE_ARN)?;
    // A broken RECONCILE_JOB must not stop uploads from starting jobs: the scheduled event alone
    // fails (naming the variable), and this says why at init.
    let reconcile_job = match start::reconcile_job_from(env(RECONCILE_JOB).as_deref()) {
        Ok(job) => job,
        Err(e) => {
            tracing::error!(error = %e, "RECONCILE_JOB is not valid JSON; the schedule will fail");
            None
        }
    };
    let clients = AwsClients::from_env().await;
    let starter = StepFunctionsStarter::new(clients.sfn.clone(), state_machine_arn);
    let objects = S3Objects::new(clients.s3.clone());
    let deps = StartDeps {
        starter: &starter,
        objects: &objects,
        reconcile_job,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        shared::lambda::task("start", start::handle_event(event.payload, deps)).await
    }))
    .await
}
