//! State `Prepare`: validates the job document before anything is written, fixes the job id
//! and records the job as RUNNING.

use serde::{Deserialize, Serialize};

use super::{Deps, PreparedJob};
use crate::artifacts::SourceRef;
use crate::error::Error;
use crate::job::{JobDocument, JobResult, JobSpec, JobStatus, check_job_id};
use crate::repositories::JobRecord;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepareInput {
    /// The execution's input: the job document, validated here.
    pub document: serde_json::Value,
    pub execution_name: String,
}

#[derive(Debug, Serialize)]
pub struct PrepareOutput {
    pub job: PreparedJob,
    /// The source of Transform: the uploaded CSV for import; Export sets it for the other modes.
    pub source: Option<SourceRef>,
    /// The user loop's progress (`$.users`, mode normalize-users): none yet. Always present, so
    /// the first `NormalizeUsers` reads `null` there.
    pub users: Option<crate::users::UsersProgress>,
}

/// Default Distributed Map concurrency locally (one SQLite writer); in AWS the template's
/// `MaxConcurrency` parameter sets it (`MAX_CONCURRENCY`). The job document cannot.
pub const MAX_CONCURRENCY: u32 = 4;

/// The default job id: derived from the trigger, i.e. the (deterministic) execution name.
fn job_id_from(execution_name: &str) -> Result<String, Error> {
    let id: String = execution_name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(80)
        .collect();
    check_job_id(&id)?;
    Ok(id)
}

pub async fn handle(input: PrepareInput, deps: &Deps) -> Result<PrepareOutput, Error> {
    let mut document = JobDocument::parse(input.document)?;
    let job_id = match &document.job_id {
        Some(id) => id.clone(),
        None => job_id_from(&input.execution_name)?,
    };
    document.job_id = Some(job_id.clone());
    // The app's framework version: the job's, else the stack's (`AppFrameworkVersion`).
    if document.app_framework_version.is_none() {
        document.app_framework_version = deps.app.framework_version.clone();
    }
    let (spec, options) = document.validate()?;
    crate::job::check_publish_mode(
        options.publish_mode,
        options.app_framework_version.as_deref(),
    )?;
    if let JobSpec::Rollback { of_job } = &spec {
        if *of_job == job_id {
            return Err(Error::invalid(
                "job document: a rollback job cannot roll back itself",
            ));
        }
        if deps.job_records().get(of_job).await?.is_none() {
            return Err(Error::invalid(format!(
                "job document: rollbackOf {of_job:?}: no such job"
            )));
        }
    }
    let source = match &spec {
        JobSpec::Import { source } => Some(SourceRef {
            bucket: source.bucket.clone().unwrap_or_else(|| deps.bucket.clone()),
            key: source.key.clone(),
        }),
        _ => None,
    };
    let mut job = PreparedJob::new(
        job_id,
        spec,
        options,
        document,
        deps.bucket.clone(),
        deps.max_concurrency,
    )?;
    if job.spec.scans_table() {
        job.scan_segments = deps.scan_segments.max(1);
    }
    let artifacts = job.artifacts(deps);
    let now = super::now();
    let record = JobRecord {
        result: JobResult {
            job_id: job.job_id.clone(),
            mode: Some(job.mode()),
            status: JobStatus::Running,
            report_key: artifacts.key(crate::artifacts::Artifact::ReportJson),
            rejected_key: artifacts.key(crate::artifacts::Artifact::Rejected),
            ..JobResult::default()
        },
        started_at: Some(now.to_string()),
        finished_at: None,
        document: Some(job.document.clone()),
    };
    deps.job_records().put(&record, &now).await?;
    Ok(PrepareOutput {
        job,
        source,
        users: None,
    })
}
