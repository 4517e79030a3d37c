//! State `ProcessChunk` (the Distributed Map's item processor): compare, map and publish the
//! rows of one chunk, and record every row's outcome in `jobs/<jobId>/results/chunks/`.
//!
//! A chunk whose result exists is skipped, so re-running a job resumes it; a chunk interrupted
//! half-way is processed again, which is safe: rows already written by this job compare EQUAL
//! and are reported as this job's writes (`recovered`).

use serde::{Deserialize, Serialize};

use super::transform::ChunkEntry;
use super::{Deps, PreparedJob, parse_input, to_output};
use crate::error::Error;
use crate::ports::objects::{get_bytes, get_bytes_if_exists, list_all};
use crate::process::{Counts, process_rows};
use crate::publish::RowOutcome;

#[derive(Deserialize)]
struct ChunkInput {
    job: PreparedJob,
    chunk: ChunkEntry,
}

/// `jobs/<jobId>/results/chunks/<index>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkResult {
    pub job_id: String,
    pub chunk: u32,
    pub dry_run: bool,
    pub counts: Counts,
    pub rows: Vec<RowOutcome>,
}

pub fn result_key(job_id: &str, chunk: u32) -> String {
    format!(
        "{}results/chunks/{chunk:05}.json",
        super::job_prefix(job_id)
    )
}

fn parse_result(key: &str, bytes: &[u8]) -> Result<ChunkResult, Error> {
    serde_json::from_slice(bytes)
        .map_err(|e| Error::MigrationFailed(format!("{key}: unreadable chunk result: {e}")))
}

/// The result of chunk `chunk` of job `job_id`, if it was processed.
pub(super) async fn load_result(
    deps: &Deps,
    job_id: &str,
    chunk: u32,
) -> Result<Option<ChunkResult>, Error> {
    let key = result_key(job_id, chunk);
    match get_bytes_if_exists(deps.objects.as_ref(), &deps.bucket, &key).await? {
        Some(bytes) => parse_result(&key, &bytes).map(Some),
        None => Ok(None),
    }
}

/// The keys of the result files of job `job_id` (one small object per chunk).
pub(super) async fn result_keys(deps: &Deps, job_id: &str) -> Result<Vec<String>, Error> {
    let prefix = format!("{}results/chunks/", super::job_prefix(job_id));
    Ok(list_all(deps.objects.as_ref(), &deps.bucket, &prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect())
}

pub(super) async fn load_result_at(deps: &Deps, key: &str) -> Result<ChunkResult, Error> {
    parse_result(
        key,
        &get_bytes(deps.objects.as_ref(), &deps.bucket, key).await?,
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ChunkOutput {
    chunk: u32,
    skipped: bool,
    counts: Counts,
}

pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<serde_json::Value, Error> {
    let ChunkInput { job, chunk } = parse_input("ProcessChunk", input)?;
    let key = result_key(&job.job_id, chunk.index);
    if let Some(done) = load_result(deps, &job.job_id, chunk.index).await? {
        return to_output(&ChunkOutput {
            chunk: chunk.index,
            skipped: true,
            counts: done.counts,
        });
    }
    let rows = super::transform::read_chunk(deps, &chunk.key).await?;
    let ctx = job.publish_context(deps);
    let dry_run = !job.document.writes();
    let outcomes = process_rows(
        deps.tables.as_ref(),
        deps.objects.as_ref(),
        rows,
        &ctx,
        dry_run,
    )
    .await?;
    let counts = Counts::of(&outcomes);
    let result = ChunkResult {
        job_id: job.job_id.clone(),
        chunk: chunk.index,
        dry_run,
        counts,
        rows: outcomes,
    };
    deps.objects
        .put_object(
            &deps.bucket,
            &key,
            to_output(&result)?.to_string().into_bytes(),
        )
        .await?;
    tracing::info!(job_id = %job.job_id, chunk = chunk.index, created = counts.created, updated = counts.updated,
        unchanged = counts.unchanged, conflicts = counts.conflicts, failed = counts.failed, "chunk processed");
    to_output(&ChunkOutput {
        chunk: chunk.index,
        skipped: false,
        counts,
    })
}
