//! State `RecordFailure` (the target of every Catch): records the job as FAILED with the error
//! and cause that stopped it, and with the counts of whatever was already done, so a failed
//! execution still leaves a job record and `report.json` that say exactly what was written.

use serde::Deserialize;

use super::job_record::{JobResult, Verification};
use super::verify::{counts_so_far, finish};
use super::{Deps, PreparedJob, to_output};
use crate::error::Error;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordFailureInput {
    /// The state's input when the error was caught: `job` (if Prepare succeeded) and `error`.
    state: serde_json::Value,
    execution_input: serde_json::Value,
    execution_name: String,
}

pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<serde_json::Value, Error> {
    let input: RecordFailureInput = super::parse_input("RecordFailure", input)?;
    let error = input
        .state
        .pointer("/error/Error")
        .and_then(|v| v.as_str())
        .unwrap_or("States.Unknown")
        .to_string();
    let cause = input
        .state
        .pointer("/error/Cause")
        .and_then(|v| v.as_str())
        .unwrap_or("")
        .to_string();
    let job: Option<PreparedJob> = input
        .state
        .get("job")
        .cloned()
        .and_then(|j| serde_json::from_value(j).ok());
    let job_id = match &job {
        Some(j) => j.job_id.clone(),
        None => input
            .execution_input
            .get("jobId")
            .and_then(|v| v.as_str())
            .filter(|id| crate::job::check_job_id(id).is_ok())
            .map(str::to_string)
            .unwrap_or_else(|| input.execution_name.clone()),
    };
    let mode = job
        .as_ref()
        .map(|j| j.mode.as_str().to_string())
        .unwrap_or_else(|| {
            input
                .execution_input
                .get("mode")
                .and_then(|m| m.as_str())
                .unwrap_or("unknown")
                .to_string()
        });
    let (counts, summary) = match &job {
        Some(j) => counts_so_far(deps, j).await?,
        None => Default::default(),
    };
    let prefix = super::job_prefix(&job_id);
    let result = JobResult {
        job_id: job_id.clone(),
        mode,
        status: "FAILED".into(),
        counts,
        verification: Verification::default(),
        report_key: format!("{prefix}report.json"),
        rejected_key: summary
            .map(|s| s.rejected_key)
            .unwrap_or_else(|| format!("{prefix}rejected.csv")),
        error: Some(error.clone()),
        cause: Some(cause.clone()),
    };
    if crate::job::check_job_id(&job_id).is_ok() {
        finish(deps, &job_id, &result, None).await?;
    }
    Ok(serde_json::json!({ "error": error, "cause": cause, "result": to_output(&result)? }))
}
