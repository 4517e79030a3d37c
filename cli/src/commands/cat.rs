//! `migrate cat KEY`: prints a local object (reports, rejected rows); exit 1 if absent.

use std::process::ExitCode;

use shared::local::LocalPipeline;

use super::{Outcome, failed};
use crate::output;

pub async fn run(pipeline: &LocalPipeline, key: &str) -> Outcome {
    let bytes = pipeline.read_object(key).await.map_err(failed)?;
    output::bytes(&bytes);
    Ok(ExitCode::SUCCESS)
}
