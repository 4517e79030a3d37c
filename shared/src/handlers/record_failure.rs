//! State `RecordFailure` (the target of every Catch): records the job as FAILED with the error
//! and cause that stopped it, and with the counts of whatever was already done, so a failed
//! execution still leaves a job record and `report.json` that say exactly what was written.

use serde::{Deserialize, Serialize};

use super::{Deps, PreparedJob};
use crate::artifacts::Artifact;
use crate::error::Error;
use crate::job::{JobResult, JobStatus, Mode, check_job_id};
use crate::report::{ReportDetails, finish};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordFailureInput {
    /// The state's input when the error was caught: `job` (if Prepare succeeded) and `error`.
    pub state: serde_json::Value,
    pub execution_input: serde_json::Value,
    pub execution_name: String,
}

#[derive(Debug, Serialize)]
pub struct RecordFailureOutput {
    pub error: String,
    pub cause: String,
    pub result: JobResult,
}

pub async fn handle(input: RecordFailureInput, deps: &Deps) -> Result<RecordFailureOutput, Error> {
    let text = |pointer: &str| {
        input
            .state
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let error = text("/error/Error").unwrap_or_else(|| "States.Unknown".into());
    let cause = text("/error/Cause").unwrap_or_default();
    // The job, if Prepare got that far (a job that fails validation here has none).
    let job: Option<PreparedJob> = input
        .state
        .get("job")
        .and_then(|j| serde_json::from_value(j.clone()).ok());
    let from_input = |field: &str| input.execution_input.get(field).and_then(|v| v.as_str());
    let job_id = match &job {
        Some(j) => j.job_id.clone(),
        None => from_input("jobId")
            .filter(|id| check_job_id(id).is_ok())
            .map(str::to_string)
            .unwrap_or_else(|| input.execution_name.clone()),
    };
    let mode = match &job {
        Some(j) => Some(j.mode()),
        None => from_input("mode")
            .and_then(|m| serde_json::from_value::<Mode>(serde_json::Value::String(m.into())).ok()),
    };
    let artifacts = deps.artifacts(&job_id);
    let transform = match &job {
        Some(_) => artifacts.load_transform().await?,
        None => None,
    };
    // A normalize-users job carries its counts in `$.users`: what it wrote before it stopped.
    let users: Option<crate::users::UsersProgress> = input
        .state
        .get("users")
        .and_then(|u| serde_json::from_value(u.clone()).ok());
    let counts = match (&transform, users) {
        (Some(t), _) => artifacts.counts_so_far(t).await?,
        (None, Some(u)) => u.written,
        (None, None) => Default::default(),
    };
    let rejected_key = transform
        .as_ref()
        .map(|t| t.rejected_key.clone())
        .unwrap_or_else(|| artifacts.key(Artifact::Rejected));
    let result = JobResult {
        job_id: job_id.clone(),
        mode,
        status: JobStatus::Failed,
        counts,
        verification: Default::default(),
        report_key: artifacts.key(Artifact::ReportJson),
        rejected_key,
        error: Some(error.clone()),
        cause: Some(cause.clone()),
    };
    if check_job_id(&job_id).is_ok() {
        // Every key the output names exists (DESIGN §7): a job stopped before Transform has
        // rejected nothing, and says so with an empty rejected.csv.
        if transform.is_none() {
            artifacts.ensure_rejected().await?;
        }
        let details = ReportDetails {
            samples: crate::report::Samples {
                rejected: crate::report::rejected_samples(&artifacts).await?,
                ..Default::default()
            },
            ..Default::default()
        };
        finish(
            &artifacts,
            &deps.job_records(),
            &result,
            &details,
            &super::now(),
        )
        .await?;
    }
    Ok(RecordFailureOutput {
        error,
        cause,
        result,
    })
}
