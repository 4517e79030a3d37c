//! `migrate reconcile [JOB.json]`: delivers the scheduled (nightly) event to `start`, with this
//! reconcile job document (as the template's `RECONCILE_JOB`).

use std::path::Path;

use serde_json::json;
use shared::handlers::start::{self, Started};
use shared::local::LocalPipeline;

use super::{Failure, not_started, usage};

pub async fn run(pipeline: &LocalPipeline, job: Option<&Path>) -> Result<Started, Failure> {
    let Some(path) = job else {
        return Err(usage(
            "no reconcile job: pass JOB.json or set MIGRATE_RECONCILE_JOB",
        ));
    };
    let (doc, _) = super::start::read_job(path)?;
    let now = shared::handlers::now();
    let event: start::EventBridgeEvent = serde_json::from_value(json!({
        "version": "0", "id": format!("local-{}", start::content_hash(now.as_bytes())),
        "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "000000000000", "time": now, "region": "local",
        "resources": ["arn:aws:events:local:000000000000:rule/migration-nightly-reconcile"], "detail": {}
    }))
    .map_err(usage)?;
    let deps = start::StartDeps {
        starter: pipeline,
        objects: pipeline.objects.as_ref(),
        reconcile_job: Some(doc),
    };
    start::handle_schedule(event, &deps)
        .await
        .map_err(not_started)
}
