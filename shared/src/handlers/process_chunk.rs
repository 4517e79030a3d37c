//! State `ProcessChunk` (the Distributed Map's item processor): compare, map and publish the
//! rows of one chunk, and record every row's outcome in `jobs/<jobId>/results/chunks/`.
//!
//! A chunk whose result exists is skipped, so re-running a job resumes it; a chunk interrupted
//! half-way is processed again, which is safe: rows already written by this job compare EQUAL
//! and are reported as this job's writes (`recovered`).

use serde::{Deserialize, Serialize};

use super::{Deps, PreparedJob};
use crate::artifacts::{ChunkEntry, ChunkResult};
use crate::error::Error;
use crate::process::{Counts, process_rows};

#[derive(Debug, Deserialize)]
pub struct ChunkInput {
    pub job: PreparedJob,
    /// One item of the manifest (the Distributed Map's ItemReader).
    pub chunk: ChunkEntry,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkOutput {
    pub chunk: u32,
    /// The chunk had a result already (a resumed job): nothing was done.
    pub skipped: bool,
    pub counts: Counts,
}

pub async fn handle(input: ChunkInput, deps: &Deps) -> Result<ChunkOutput, Error> {
    let ChunkInput { job, chunk } = input;
    let artifacts = job.artifacts(deps);
    if let Some(done) = artifacts.load_result(chunk.index).await? {
        return Ok(ChunkOutput {
            chunk: chunk.index,
            skipped: true,
            counts: done.counts,
        });
    }
    let rows = artifacts.load_chunk(chunk.index).await?;
    let started_ms = unix_ms();
    let ctx = job.publish_context(deps);
    let dry_run = !job.options.writes;
    let outcomes = process_rows(
        deps.tables.as_ref(),
        deps.objects.as_ref(),
        rows,
        &ctx,
        dry_run,
    )
    .await?;
    let counts = Counts::of(&outcomes);
    artifacts
        .save_result(&ChunkResult {
            job_id: job.job_id.clone(),
            chunk: chunk.index,
            dry_run,
            counts,
            write_units: ctx.writes.units(),
            write_requests: ctx.writes.requests(),
            started_ms,
            finished_ms: unix_ms(),
            rows: outcomes,
        })
        .await?;
    crate::kill_points::reached("process:chunk-done");
    tracing::info!(job_id = %job.job_id, chunk = chunk.index, created = counts.created, updated = counts.updated,
        unchanged = counts.unchanged, conflicts = counts.conflicts, failed = counts.failed, "chunk processed");
    Ok(ChunkOutput {
        chunk: chunk.index,
        skipped: false,
        counts,
    })
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
