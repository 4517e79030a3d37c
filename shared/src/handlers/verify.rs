//! State `Verify`: adds up the chunk results, checks the tables against what the job meant to
//! write, applies the job's failure tolerance, writes `jobs/<jobId>/report.json` and the job
//! record, and returns the execution's final output (DESIGN §7). The Choice after it fails the
//! execution with `MigrationFailed` when `status` is not `SUCCEEDED`.
//!
//! Verification, chunk by chunk (never the whole job in memory):
//! * every row the job created, updated or found unchanged must exist in the data table, and
//!   each of `verify.compareFields` (default: code, name and the row's attributes) must equal
//!   what the row says;
//! * copy-tenant / reconcile also count *extra* live entities in the target tenant that the
//!   source tenant does not have (drift; it fails only a reconcile);
//! * a dry run or a reconcile without `repair` writes nothing: its differences are the rows
//!   that would change.

use serde::{Deserialize, Serialize};

use super::job_record::{self, JobResult, Verification};
use super::process_chunk::{ChunkResult, load_result};
use super::transform::{ChunkEntry, TransformSummary, chunk_key, load_summary, read_chunk};
use super::{Deps, PreparedJob, parse_input, to_output};
use crate::error::Error;
use crate::job::Mode;
use crate::keys::{self, Key};
use crate::migration_csv::MigrationRow;
use crate::model::EntityRow;
use crate::ports::objects::get_bytes;
use crate::process::{Counts, read_data_rows};
use crate::publish::Outcome;
use crate::value::AttributeValue;

#[derive(Deserialize)]
struct VerifyInput {
    job: PreparedJob,
    transform: TransformSummary,
}

/// Up to this many example keys per problem go into report.json.
const SAMPLES: usize = 100;

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Samples {
    missing: Vec<String>,
    differences: Vec<String>,
    extra: Vec<String>,
    conflicts: Vec<String>,
    failed: Vec<String>,
}

fn push(list: &mut Vec<String>, item: String) {
    if list.len() < SAMPLES {
        list.push(item);
    }
}

pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<serde_json::Value, Error> {
    let VerifyInput { job, transform } = parse_input("Verify", input)?;
    let mut samples = Samples::default();
    let mut verification = Verification::default();
    // One pass over the chunks: count their outcomes and check the rows they wrote.
    let check_rows = job.document.writes().then_some(&mut verification);
    let counts = aggregate(deps, &job, &transform, Some(&mut samples), check_rows).await?;
    verification.source_count = transform.valid;
    let drift_only = !job.document.writes();
    if matches!(job.mode, Mode::CopyTenant | Mode::Reconcile) {
        verification.extra_count = count_extra(deps, &job, &mut samples).await?;
    }
    if drift_only {
        verification.difference_count = counts.created + counts.updated;
    }
    verification.success = verification.missing_count == 0
        && verification.difference_count == 0
        && (job.mode != Mode::Reconcile || verification.extra_count == 0);
    if drift_only && job.mode != Mode::Reconcile {
        verification.success = true; // a dry run reports; it does not fail on what it would change
    }

    let bad = counts.rejected + counts.conflicts + counts.failed;
    let share = bad as f64 * 100.0 / counts.total.max(1) as f64;
    let mut causes = Vec::new();
    if bad > 0 && share > job.tolerated_failure_percentage {
        causes.push(format!(
            "{} rejected, {} conflicts, {} failed of {} rows ({share:.2}%), more than the tolerated {}%",
            counts.rejected, counts.conflicts, counts.failed, counts.total, job.tolerated_failure_percentage
        ));
    }
    if !verification.success {
        causes.push(format!(
            "verification failed: {} missing, {} different, {} extra (see {}report.json)",
            verification.missing_count,
            verification.difference_count,
            verification.extra_count,
            job.prefix()
        ));
    }
    let status = if causes.is_empty() {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    let result = JobResult {
        job_id: job.job_id.clone(),
        mode: job.mode.as_str().into(),
        status: status.into(),
        counts,
        verification,
        report_key: format!("{}report.json", job.prefix()),
        rejected_key: transform.rejected_key.clone(),
        error: (!causes.is_empty()).then(|| "MigrationFailed".to_string()),
        cause: (!causes.is_empty()).then(|| causes.join("; ")),
    };
    finish(
        deps,
        &job.job_id,
        &result,
        Some(serde_json::to_value(&samples).unwrap_or_default()),
    )
    .await?;
    to_output(&result)
}

/// Writes report.json and the job record; used by Verify and RecordFailure.
pub(super) async fn finish(
    deps: &Deps,
    job_id: &str,
    result: &JobResult,
    samples: Option<serde_json::Value>,
) -> Result<(), Error> {
    let mut report = to_output(result)?;
    if let (Some(obj), Some(s)) = (report.as_object_mut(), samples) {
        obj.insert("samples".into(), s);
        obj.insert("finishedAt".into(), super::now().into());
    }
    let bytes =
        serde_json::to_vec_pretty(&report).map_err(|e| Error::MigrationFailed(e.to_string()))?;
    // The job record first: if the report cannot be written, the record still tells the status.
    let mut record = to_output(result)?;
    if let (Some(obj), Some(existing)) =
        (record.as_object_mut(), job_record::get(deps, job_id).await?)
    {
        for k in ["startedAt", "document"] {
            if let Some(v) = existing.get(k) {
                obj.insert(k.into(), v.clone());
            }
        }
        obj.insert("finishedAt".into(), super::now().into());
    }
    job_record::put(deps, job_id, &result.status, &record).await?;
    deps.objects
        .put_object(&deps.bucket, &result.report_key, bytes)
        .await?;
    Ok(())
}

/// Adds up counts of all chunk results; rows of chunks that have no result count as failed.
pub(super) async fn aggregate(
    deps: &Deps,
    job: &PreparedJob,
    transform: &TransformSummary,
    mut samples: Option<&mut Samples>,
    mut verification: Option<&mut Verification>,
) -> Result<Counts, Error> {
    let mut counts = Counts {
        rejected: transform.rejected,
        total: transform.rejected,
        ..Counts::default()
    };
    let manifest = get_bytes(deps.objects.as_ref(), &deps.bucket, &transform.manifest_key).await?;
    let entries: Vec<ChunkEntry> = serde_json::from_slice(&manifest)
        .map_err(|e| Error::MigrationFailed(format!("{}: {e}", transform.manifest_key)))?;
    for entry in entries {
        let Some(result) = load_result(deps, &job.job_id, entry.index).await? else {
            counts.total += entry.rows;
            counts.failed += entry.rows;
            if let Some(s) = samples.as_deref_mut() {
                push(
                    &mut s.failed,
                    format!("chunk {} ({} rows): not processed", entry.index, entry.rows),
                );
            }
            continue;
        };
        counts.add(&result.counts);
        if let Some(s) = samples.as_deref_mut() {
            for o in &result.rows {
                let what = format!(
                    "line {}: {} / {}: {}",
                    o.line,
                    o.pk,
                    o.sk,
                    o.reason.clone().unwrap_or_default()
                );
                match o.outcome {
                    Outcome::Conflict => push(&mut s.conflicts, what),
                    Outcome::Failed => push(&mut s.failed, what),
                    _ => {}
                }
            }
            if let Some(v) = verification.as_deref_mut() {
                verify_chunk(deps, job, &result, v, s).await?;
            }
        }
    }
    Ok(counts)
}

fn field_value(entity: &EntityRow, field: &str) -> Option<AttributeValue> {
    match field {
        "code" => Some(AttributeValue::S(entity.code.clone())),
        "name" => Some(AttributeValue::S(entity.name.clone())),
        "isDeleted" => Some(AttributeValue::Bool(entity.is_deleted)),
        other => entity.attributes.get(other).cloned(),
    }
}

fn row_value(row: &MigrationRow, field: &str) -> Option<AttributeValue> {
    match field {
        "code" => Some(AttributeValue::S(row.code.clone())),
        "name" => Some(AttributeValue::S(row.name.clone())),
        "isDeleted" => Some(AttributeValue::Bool(row.is_deleted.unwrap_or(false))),
        other => row.attributes.get(other).cloned(),
    }
}

/// Checks the rows one chunk created, updated or left unchanged against the data table.
async fn verify_chunk(
    deps: &Deps,
    job: &PreparedJob,
    result: &ChunkResult,
    v: &mut Verification,
    samples: &mut Samples,
) -> Result<(), Error> {
    let compare_fields = job
        .document
        .verify
        .as_ref()
        .map(|v| v.compare_fields.clone())
        .unwrap_or_default();
    let written: std::collections::HashSet<u64> = result
        .rows
        .iter()
        .filter(|o| {
            matches!(
                o.outcome,
                Outcome::Created | Outcome::Updated | Outcome::Unchanged
            )
        })
        .map(|o| o.line)
        .collect();
    let rows = read_chunk(deps, &chunk_key(&job.job_id, result.chunk)).await?;
    let rows: Vec<MigrationRow> = rows
        .into_iter()
        .filter(|r| written.contains(&r.line))
        .collect();
    let keys: Vec<Key> = rows.iter().map(MigrationRow::target_key).collect();
    let found = read_data_rows(deps.tables.as_ref(), &deps.table_names.data, &keys).await?;
    for row in &rows {
        let key = row.target_key();
        let Some(entity) = found.get(&key) else {
            v.missing_count += 1;
            push(&mut samples.missing, format!("line {}: {key}", row.line));
            continue;
        };
        v.target_count += 1;
        let fields: Vec<String> = if compare_fields.is_empty() {
            ["code", "name"]
                .iter()
                .map(|s| s.to_string())
                .chain(row.attributes.keys().cloned())
                .collect()
        } else {
            compare_fields.clone()
        };
        if let Some(field) = fields.iter().find(|f| {
            !crate::model::is_metadata(f)
                && row_value(row, f).is_some()
                && row_value(row, f) != field_value(entity, f)
        }) {
            v.difference_count += 1;
            push(
                &mut samples.differences,
                format!("line {}: {key}: {field} differs", row.line),
            );
        }
    }
    Ok(())
}

/// Live entities in the target tenant without a live counterpart in the source tenant.
async fn count_extra(deps: &Deps, job: &PreparedJob, samples: &mut Samples) -> Result<u64, Error> {
    let doc = &job.document;
    let (Some(ty), Some(src), Some(dst)) =
        (&doc.entity_type, &doc.source_tenant, &doc.target_tenant)
    else {
        return Ok(0);
    };
    let target_pk = keys::pk(ty, dst);
    let source_pk = keys::pk(ty, src);
    let mut extra = 0;
    let mut start: Option<Key> = None;
    loop {
        let page = deps
            .tables
            .query(
                &deps.table_names.data,
                &target_pk,
                None,
                start.as_ref(),
                100,
            )
            .await?;
        let live: Vec<EntityRow> = page
            .items
            .iter()
            .filter_map(|i| EntityRow::from_data_item(i).ok())
            .filter(|e| !e.is_deleted)
            .collect();
        let source_keys: Vec<Key> = live.iter().map(|e| Key::new(&source_pk, &e.sk)).collect();
        let sources =
            read_data_rows(deps.tables.as_ref(), &deps.table_names.data, &source_keys).await?;
        for e in &live {
            if sources
                .get(&Key::new(&source_pk, &e.sk))
                .is_none_or(|s| s.is_deleted)
            {
                extra += 1;
                push(&mut samples.extra, format!("{} / {}", e.pk, e.sk));
            }
        }
        match page.next {
            Some(n) => start = Some(n),
            None => return Ok(extra),
        }
    }
}

/// Counts for a job that failed before Verify (used by RecordFailure).
pub(super) async fn counts_so_far(
    deps: &Deps,
    job: &PreparedJob,
) -> Result<(Counts, Option<TransformSummary>), Error> {
    match load_summary(deps, &job.job_id).await? {
        Some(summary) => Ok((
            aggregate(deps, job, &summary, None, None).await?,
            Some(summary),
        )),
        None => Ok((Counts::default(), None)),
    }
}
