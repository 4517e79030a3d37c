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
//!   that would change;
//! * with `attributesMode: merge` a row's nested object must be *contained* in the stored one
//!   (the framework's deep merge keeps sibling keys); attributes kept in S3 are read back;
//! * `publishMode: app`: the app's own command saga writes the data rows. Verify waits (at most
//!   `APP_MODE_WAIT_SECONDS` for the whole job) until each data row reaches its command's
//!   version; a row the saga did not finish counts as `failed`, never as written;
//! * `publishMode: direct`: every written key goes to `jobs/<jobId>/written.jsonl` (the app's
//!   data-sync handlers did not see them: that list is what a re-sync needs).

use serde::{Deserialize, Serialize};

use super::job_record::{self, JobResult, Verification};
use super::process_chunk::{ChunkResult, load_result};
use super::transform::{ChunkEntry, TransformSummary, chunk_key, load_summary, read_chunk};
use super::written_log::WrittenLog;
use super::{Deps, PreparedJob, parse_input, to_output};
use crate::error::Error;
use crate::job::{AttributesMode, Mode, PublishMode};
use crate::keys::{self, Key};
use crate::migration_csv::MigrationRow;
use crate::model::EntityRow;
use crate::ports::objects::get_bytes;
use crate::process::{Counts, read_data_rows, resolve_rows};
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

/// How long Verify still waits for the app's saga (`publishMode: app`), for the whole job.
pub(super) struct SagaWait {
    deadline: std::time::Instant,
    poll: std::time::Duration,
    waited_for: std::time::Duration,
}

impl SagaWait {
    fn new(wait: std::time::Duration) -> Self {
        SagaWait {
            deadline: std::time::Instant::now() + wait,
            poll: wait
                .min(std::time::Duration::from_secs(2))
                .max(std::time::Duration::from_millis(50)),
            waited_for: wait,
        }
    }
}

pub async fn handle(input: serde_json::Value, deps: &Deps) -> Result<serde_json::Value, Error> {
    let VerifyInput { job, transform } = parse_input("Verify", input)?;
    let mut samples = Samples::default();
    let mut verification = Verification::default();
    let publish_mode = job.document.publish_mode();
    let writes = job.document.writes();
    let mut written = match (writes, publish_mode) {
        (true, PublishMode::Direct) => Some(WrittenLog::new()?),
        _ => None,
    };
    let saga =
        (writes && publish_mode == PublishMode::App).then(|| SagaWait::new(deps.app.saga_wait));
    // One pass over the chunks: count their outcomes and check the rows they wrote.
    let check_rows = writes.then_some(&mut verification);
    let counts = aggregate(
        deps,
        &job,
        &transform,
        Some(&mut samples),
        check_rows,
        written.as_mut(),
        saga.as_ref(),
    )
    .await?;
    let written_key = match written {
        Some(log) => Some(log.upload(deps, &job.job_id).await?),
        None => None,
    };
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
    let details = serde_json::json!({
        "publishMode": publish_mode.as_str(),
        "writtenKey": written_key,
        "samples": to_output(&samples)?,
    });
    finish(deps, &job.job_id, &result, Some(details)).await?;
    to_output(&result)
}

/// Writes report.json and the job record; used by Verify and RecordFailure. `details` (an
/// object: samples, written key …) goes into the report beside the result.
pub(super) async fn finish(
    deps: &Deps,
    job_id: &str,
    result: &JobResult,
    details: Option<serde_json::Value>,
) -> Result<(), Error> {
    let mut report = to_output(result)?;
    if let (Some(obj), Some(serde_json::Value::Object(d))) = (report.as_object_mut(), details) {
        obj.extend(d);
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
    mut written: Option<&mut WrittenLog>,
    saga: Option<&SagaWait>,
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
        if let Some(w) = written.as_deref_mut() {
            for o in &result.rows {
                w.record(o)?;
            }
        }
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
                let unfinished = verify_chunk(deps, job, &result, v, s, saga).await?;
                // Rows the app's saga did not finish were not written: they failed.
                counts.created -= unfinished.created;
                counts.updated -= unfinished.updated;
                counts.failed += unfinished.created + unfinished.updated;
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

/// Rows of a chunk whose command the app's saga did not bring into the data table in time.
#[derive(Debug, Default)]
pub(super) struct Unfinished {
    created: u64,
    updated: u64,
}

/// Checks the rows one chunk created, updated or left unchanged against the data table
/// (waiting first for the app's saga in `app` mode).
async fn verify_chunk(
    deps: &Deps,
    job: &PreparedJob,
    result: &ChunkResult,
    v: &mut Verification,
    samples: &mut Samples,
    saga: Option<&SagaWait>,
) -> Result<Unfinished, Error> {
    let compare_fields = job
        .document
        .verify
        .as_ref()
        .map(|v| v.compare_fields.clone())
        .unwrap_or_default();
    let merged = job.attributes_mode() == AttributesMode::Merge;
    let mut written: std::collections::HashMap<u64, &crate::publish::RowOutcome> = result
        .rows
        .iter()
        .filter(|o| {
            matches!(
                o.outcome,
                Outcome::Created | Outcome::Updated | Outcome::Unchanged
            )
        })
        .map(|o| (o.line, o))
        .collect();
    let rows = read_chunk(deps, &chunk_key(&job.job_id, result.chunk)).await?;
    let rows: Vec<MigrationRow> = rows
        .into_iter()
        .filter(|r| written.contains_key(&r.line))
        .collect();
    let keys: Vec<Key> = rows.iter().map(MigrationRow::target_key).collect();
    let mut found = read_data_rows(deps.tables.as_ref(), &deps.table_names.data, &keys).await?;
    let mut unfinished = Unfinished::default();
    if let Some(saga) = saga {
        // The version each written row's command carries; the saga must bring the data row there.
        let behind = |found: &std::collections::HashMap<Key, EntityRow>| -> Vec<(u64, Key, u64)> {
            rows.iter()
                .filter_map(|r| {
                    let wanted = written.get(&r.line)?.new_version?;
                    let key = r.target_key();
                    let at = found.get(&key).map_or(0, |e| e.version);
                    (at < wanted).then_some((r.line, key, wanted))
                })
                .collect()
        };
        let mut pending = behind(&found);
        while !pending.is_empty() && std::time::Instant::now() < saga.deadline {
            tokio::time::sleep(saga.poll).await;
            let again: Vec<Key> = pending.iter().map(|(_, k, _)| k.clone()).collect();
            found.extend(
                read_data_rows(deps.tables.as_ref(), &deps.table_names.data, &again).await?,
            );
            pending = behind(&found);
        }
        for (line, key, wanted) in pending {
            if let Some(o) = written.remove(&line) {
                match o.outcome {
                    Outcome::Created => unfinished.created += 1,
                    _ => unfinished.updated += 1,
                }
            }
            push(
                &mut samples.failed,
                format!(
                    "line {line}: {key}: the app's command saga did not bring the data row to version {wanted} within {} s (publishMode app; timeout)",
                    saga.waited_for.as_secs()
                ),
            );
        }
    }
    let unreadable = resolve_rows(&mut found, deps.objects.as_ref()).await;
    for row in rows.iter().filter(|r| written.contains_key(&r.line)) {
        let key = row.target_key();
        let Some(entity) = found.get(&key) else {
            v.missing_count += 1;
            push(&mut samples.missing, format!("line {}: {key}", row.line));
            continue;
        };
        v.target_count += 1;
        if let Some(why) = unreadable.get(&key) {
            v.difference_count += 1;
            push(
                &mut samples.differences,
                format!("line {}: {key}: {why}", row.line),
            );
            continue;
        }
        let fields: Vec<String> = if compare_fields.is_empty() {
            ["code", "name"]
                .iter()
                .map(|s| s.to_string())
                .chain(row.attributes.keys().cloned())
                .collect()
        } else {
            compare_fields.clone()
        };
        let same = |f: &str| match (row_value(row, f), field_value(entity, f)) {
            (Some(r), Some(e)) if merged => crate::merge::is_merged_into(&r, &e),
            (r, e) => r == e,
        };
        if let Some(field) = fields
            .iter()
            .find(|f| !crate::model::is_metadata(f) && row_value(row, f).is_some() && !same(f))
        {
            v.difference_count += 1;
            push(
                &mut samples.differences,
                format!("line {}: {key}: {field} differs", row.line),
            );
        }
    }
    Ok(unfinished)
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
            aggregate(deps, job, &summary, None, None, None, None).await?,
            Some(summary),
        )),
        None => Ok((Counts::default(), None)),
    }
}
