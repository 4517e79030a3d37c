//! What a running command prints at the end: the execution's typed result ([`JobResult`]) —
//! the contract's JSON with `--json`, a summary table otherwise — and the exit code.

use std::process::ExitCode;

use shared::artifacts::Artifact;
use shared::asl::ExecutionStatus;
use shared::handlers::start::Started;
use shared::job::{JobResult, JobStatus};
use shared::local::LocalPipeline;

use super::{Outcome, failed};
use crate::output;

/// Prints the outcome of the execution `started` and maps it to the exit code.
pub async fn print(pipeline: &LocalPipeline, started: Started, json: bool) -> Outcome {
    let job_id = started
        .input
        .get("jobId")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| started.execution_name.clone());
    let last = pipeline.last_result.lock().ok().and_then(|l| l.clone());
    let record = pipeline
        .deps
        .job_records()
        .get(&job_id)
        .await
        .map_err(failed)?
        .map(|r| r.result);
    let fresh = last.as_ref().filter(|_| !started.already_existed);
    let (result, error, cause) = match fresh {
        Some((_, execution)) => {
            let output: Option<JobResult> = execution
                .output
                .clone()
                .and_then(|o| serde_json::from_value(o).ok());
            let mut result = output.or(record).unwrap_or_else(|| unrecorded(&job_id));
            // The execution is the judge: a record can lag behind a failure it did not see.
            if execution.status == ExecutionStatus::Failed {
                result.status = JobStatus::Failed;
            }
            (result, execution.error.clone(), execution.cause.clone())
        }
        None => {
            if !json {
                eprintln!(
                    "execution {} exists already: nothing new was started",
                    started.execution_name
                );
            }
            let result = record.unwrap_or_else(|| unrecorded(&job_id));
            let (error, cause) = (result.error.clone(), result.cause.clone());
            (result, error, cause)
        }
    };
    if json {
        output::json(&result.contract(), false);
    } else {
        summary(&result);
    }
    if result.succeeded() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "execution failed: {}: {}",
        error.unwrap_or_else(|| "States.Unknown".into()),
        cause.unwrap_or_default()
    );
    if let (Some((_, execution)), false) = (fresh, json) {
        eprintln!("execution history (last events):");
        let events = &execution.history;
        for e in &events[events.len().saturating_sub(12)..] {
            eprintln!(
                "  {:?} {} {}",
                e.kind,
                e.state.clone().unwrap_or_default(),
                e.detail
            );
        }
    }
    Ok(ExitCode::from(1))
}

/// A job that left no record (its id was not even valid): failed, with the keys it would have.
fn unrecorded(job_id: &str) -> JobResult {
    JobResult {
        job_id: job_id.to_string(),
        status: JobStatus::Failed,
        report_key: Artifact::ReportJson.key(job_id),
        rejected_key: Artifact::Rejected.key(job_id),
        ..JobResult::default()
    }
}

fn summary(r: &JobResult) {
    let c = &r.counts;
    let v = &r.verification;
    eprintln!();
    eprintln!(
        "job {}  mode {}  status {}",
        r.job_id,
        r.mode.map_or("unknown", |m| m.as_str()),
        r.status
    );
    eprintln!("  ┌────────────┬───────────┐");
    for (label, n) in c.labeled() {
        eprintln!("  │ {label:<10} │ {n:>9} │");
    }
    eprintln!("  └────────────┴───────────┘");
    eprintln!(
        "  verification: {}  source {}  target {}  missing {}  extra {}  different {}",
        if v.success { "passed" } else { "FAILED" },
        v.source_count,
        v.target_count,
        v.missing_count,
        v.extra_count,
        v.difference_count
    );
    eprintln!(
        "  report: migrate report {}   rejected rows: migrate cat {}",
        r.job_id, r.rejected_key
    );
}
