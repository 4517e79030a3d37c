//! `migrate jobs` / `migrate job JOB_ID`: job records as JSON.

use std::process::ExitCode;

use shared::local::LocalPipeline;

use super::{Outcome, failed};
use crate::output;

pub async fn list(pipeline: &LocalPipeline) -> Outcome {
    let jobs = pipeline.deps.job_records().list().await.map_err(failed)?;
    output::json(&jobs, true);
    Ok(ExitCode::SUCCESS)
}

pub async fn show(pipeline: &LocalPipeline, job_id: &str) -> Outcome {
    match pipeline
        .deps
        .job_records()
        .get(job_id)
        .await
        .map_err(failed)?
    {
        Some(job) => {
            output::json(&job, true);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("error: no job {job_id:?}");
            Ok(ExitCode::from(1))
        }
    }
}
