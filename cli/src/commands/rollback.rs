//! `migrate rollback JOB_ID`: runs a rollback job of JOB_ID (`rollback-<JOB_ID>`).

use serde_json::json;
use shared::handlers::start::Started;
use shared::local::LocalPipeline;

use super::{Failure, usage};

pub async fn run(pipeline: &LocalPipeline, job_id: &str) -> Result<Started, Failure> {
    shared::job::check_job_id(job_id).map_err(usage)?;
    let id: String = format!("rollback-{job_id}").chars().take(80).collect();
    let doc = json!({ "mode": "rollback", "rollbackOf": job_id, "jobId": id });
    super::start::start_named(pipeline, id, doc).await
}
