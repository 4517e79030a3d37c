//! `migrate report JOB_ID`: the job's readable report (`jobs/<jobId>/report.md`).

use std::process::ExitCode;

use shared::artifacts::Artifact;
use shared::local::LocalPipeline;

use super::{Outcome, failed, usage};
use crate::output;

pub async fn run(pipeline: &LocalPipeline, job_id: &str) -> Outcome {
    shared::job::check_job_id(job_id).map_err(usage)?;
    let report = pipeline
        .deps
        .artifacts(job_id)
        .read(Artifact::ReportMarkdown)
        .await
        .map_err(failed)?;
    match report {
        Some(bytes) => {
            output::bytes(&bytes);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let running = pipeline
                .deps
                .job_records()
                .get(job_id)
                .await
                .map_err(failed)?;
            match running {
                Some(_) => eprintln!(
                    "error: job {job_id:?} has no report yet (still running, or killed: start it again to resume)"
                ),
                None => eprintln!("error: no job {job_id:?}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}
