//! State `Prepare`: validates the job document before anything is written, fixes the job id
//! and records the job as RUNNING.

use serde::Deserialize;

use super::{Deps, PreparedJob, job_record, parse_input, to_output};
use crate::error::Error;
use crate::job::{JobDocument, Mode, check_job_id};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrepareInput {
    document: serde_json::Value,
    execution_name: String,
}

/// Default Distributed Map concurrency locally (one SQLite writer); in AWS the template's
/// `MaxConcurrency` parameter sets it (`MAX_CONCURRENCY`). The job document cannot.
pub const MAX_CONCURRENCY: u32 = 4;

pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<serde_json::Value, Error> {
    let input: PrepareInput = parse_input("Prepare", input)?;
    let mut document = JobDocument::parse(input.document)?;
    document.validate()?;
    let job_id = match &document.job_id {
        Some(id) => id.clone(),
        None => {
            // Default: derived from the trigger, i.e. the (deterministic) execution name.
            let id: String = input
                .execution_name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .take(80)
                .collect();
            check_job_id(&id)?;
            id
        }
    };
    document.job_id = Some(job_id.clone());
    // The app's framework version: the job's, else the stack's (`AppFrameworkVersion`).
    if document.app_framework_version.is_none() {
        document.app_framework_version = deps.app.framework_version.clone();
    }
    crate::job::check_publish_mode(
        document.publish_mode(),
        document.app_framework_version.as_deref(),
    )?;
    if document.mode == Mode::Rollback && document.rollback_of.as_deref() == Some(job_id.as_str()) {
        return Err(Error::invalid(
            "job document: a rollback job cannot roll back itself",
        ));
    }
    if document.mode == Mode::Rollback {
        let target = document.rollback_of.clone().unwrap_or_default();
        if job_record::get(deps, &target).await?.is_none() {
            return Err(Error::invalid(format!(
                "job document: rollbackOf {target:?}: no such job"
            )));
        }
    }
    let prepared = PreparedJob {
        mode: document.mode,
        bucket: deps.bucket.clone(),
        has_source_table: document.mode.has_source_table(),
        max_concurrency: deps.max_concurrency,
        tolerated_failure_percentage: document.tolerated_failure_percentage(),
        results_prefix: format!("{}results/map", super::job_prefix(&job_id)),
        job_id: job_id.clone(),
        document,
    };
    job_record::put(
        deps,
        &job_id,
        "RUNNING",
        &serde_json::json!({ "jobId": job_id, "mode": prepared.mode.as_str(), "status": "RUNNING", "startedAt": super::now(), "document": prepared.document }),
    )
    .await?;
    // The source of Transform: the uploaded CSV for import; Export sets it for the other modes.
    let source = prepared.document.source.as_ref().map(|s| {
        serde_json::json!({ "bucket": s.bucket.clone().unwrap_or_else(|| deps.bucket.clone()), "key": s.key })
    });
    Ok(serde_json::json!({ "job": to_output(&prepared)?, "source": source }))
}
