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

use serde::Deserialize;

use super::{Deps, PreparedJob};
use crate::artifacts::{Artifact, ChunkResult, JobArtifacts, TransformSummary, WrittenLog};
use crate::error::Error;
use crate::hashing::{FastMap, FastSet};
use crate::job::{AttributesMode, JobResult, JobSpec, PublishMode, Verification};
use crate::keys::Key;
use crate::migration_csv::MigrationRow;
use crate::model::EntityRow;
use crate::process::{COMPARED_FIELDS, Counts, STATE_FIELDS, read_data_rows, resolve_rows};
use crate::publish::Outcome;
use crate::report::{ReportDetails, Samples, finish};

#[derive(Debug, Deserialize)]
pub struct VerifyInput {
    pub job: PreparedJob,
    pub transform: TransformSummary,
}

fn push(list: &mut Vec<String>, item: String) {
    Samples::push(list, item);
}

/// The chunks' writes, added up.
#[derive(Debug, Default)]
struct Metered {
    units: u64,
    requests: u64,
    first_start_ms: Option<u64>,
    last_finish_ms: u64,
}

impl Metered {
    fn add(&mut self, r: &ChunkResult) {
        self.units += r.write_units;
        self.requests += r.write_requests;
        if r.started_ms > 0 {
            self.first_start_ms = Some(
                self.first_start_ms
                    .map_or(r.started_ms, |s| s.min(r.started_ms)),
            );
        }
        self.last_finish_ms = self.last_finish_ms.max(r.finished_ms);
    }

    fn summary(&self, budget: Option<f64>) -> crate::report::WriteSummary {
        let seconds = self.first_start_ms.map_or(0.0, |s| {
            self.last_finish_ms.saturating_sub(s) as f64 / 1000.0
        });
        crate::report::WriteSummary {
            write_units: self.units,
            write_requests: self.requests,
            seconds,
            units_per_second: if seconds > 0.0 {
                self.units as f64 / seconds
            } else {
                0.0
            },
            max_write_units_per_second: budget,
        }
    }
}

/// How long Verify still waits for the app's saga (`publishMode: app`), for the whole job.
struct SagaWait {
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

pub async fn handle(input: VerifyInput, deps: &Deps) -> Result<JobResult, Error> {
    let VerifyInput { job, transform } = input;
    crate::kill_points::reached("verify:start");
    let artifacts = job.artifacts(deps);
    let mut samples = Samples::default();
    let mut verification = Verification::default();
    let publish_mode = job.options.publish_mode;
    let writes = job.options.writes;
    let mut written = match (writes, publish_mode) {
        (true, PublishMode::Direct) => Some(WrittenLog::new()?),
        _ => None,
    };
    let saga =
        (writes && publish_mode == PublishMode::App).then(|| SagaWait::new(deps.app.saga_wait));
    // One pass over the chunks: count their outcomes and check the rows they wrote.
    let mut counts = Counts::of_transform(&transform);
    let mut metered = Metered::default();
    let mut results = artifacts.chunk_results().await?;
    // The next chunks' rows are read while this one is compared (on the other core where the
    // runtime has two workers, as in `migrate`; in a Lambda's one thread, while this one waits):
    // reading back (chunk file, data rows) is most of Verify's work. Only a direct publish reads
    // ahead; `app` mode waits for the saga and reads again.
    let read_ahead = writes && saga.is_none();
    let mut ahead = std::collections::VecDeque::new();
    let mut exhausted = false;
    loop {
        while !exhausted && ahead.len() < VERIFY_AHEAD {
            match results.next().await? {
                Some((entry, result)) => {
                    let fetch = result.as_ref().filter(|_| read_ahead).map(|r| {
                        tokio::spawn(read_written(
                            deps.tables.clone(),
                            deps.table_names.data.clone(),
                            artifacts.clone(),
                            r.chunk,
                            written_lines(r),
                        ))
                    });
                    ahead.push_back((entry, result, fetch));
                }
                None => exhausted = true,
            }
        }
        let Some((entry, result, fetch)) = ahead.pop_front() else {
            break;
        };
        counts.add_chunk(&entry, result.as_ref());
        if let Some(r) = &result {
            metered.add(r);
        }
        let Some(result) = result else {
            push(
                &mut samples.failed,
                format!("chunk {} ({} rows): not processed", entry.index, entry.rows),
            );
            continue;
        };
        if let Some(w) = written.as_mut() {
            for o in &result.rows {
                w.record(o)?;
            }
        }
        for o in &result.rows {
            let list = match o.outcome {
                Outcome::Conflict => &mut samples.conflicts,
                Outcome::Failed => &mut samples.failed,
                _ => continue,
            };
            let what = format!(
                "line {}: {} / {}: {}",
                o.line,
                o.pk,
                o.sk,
                o.reason.as_deref().unwrap_or_default()
            );
            push(list, what);
        }
        if writes {
            let read = match fetch {
                Some(task) => Some(task.await.map_err(|e| {
                    Error::Retryable(format!("reading chunk {} back failed: {e}", entry.index))
                })??),
                None => None,
            };
            let unfinished = verify_chunk(
                deps,
                &job,
                &artifacts,
                &result,
                read,
                &mut verification,
                &mut samples,
                saga.as_ref(),
            )
            .await?;
            // Rows the app's saga did not finish were not written: they failed.
            counts.created -= unfinished.created;
            counts.updated -= unfinished.updated;
            counts.failed += unfinished.created + unfinished.updated;
        }
    }
    let written_key = match written {
        Some(log) => Some(log.upload(&artifacts).await?),
        None => None,
    };
    if transform.rejected > 0 {
        samples.rejected = crate::report::rejected_samples(&artifacts).await?;
    }
    verification.source_count = transform.valid;
    let drift_only = !writes;
    let reconcile = matches!(job.spec, JobSpec::Reconcile { .. });
    if let JobSpec::CopyTenant {
        from,
        target_tenant,
        ..
    }
    | JobSpec::Reconcile {
        from,
        target_tenant,
        ..
    } = &job.spec
    {
        let target_pk = crate::keys::pk(&from.entity_type, target_tenant);
        verification.extra_count = count_extra(deps, &from.pk(), &target_pk, &mut samples).await?;
    }
    // A normalize job proves, with the dual read, that no live item remains under a legacy
    // (uppercase) key in its scope: each one is an extra.
    let normalizes = matches!(
        job.spec,
        JobSpec::NormalizeTenant { .. } | JobSpec::NormalizeTable { .. }
    );
    // The partitions in scope: the job's one, or every legacy one the table-wide scan found.
    let partitions = match &job.spec {
        JobSpec::NormalizeTenant { from, .. } => vec![from.pk()],
        JobSpec::NormalizeTable { .. } => artifacts.load_partitions().await?,
        _ => Vec::new(),
    };
    if writes {
        // Every legacy spelling of every partition, each queried once.
        let legacy: std::collections::BTreeSet<String> = partitions
            .iter()
            .flat_map(|pk| crate::dual_read::tenant_spellings(pk))
            .filter(|pk| crate::dual_read::is_legacy_pk(pk))
            .collect();
        for pk in &legacy {
            verification.extra_count += count_live(deps, pk, &mut samples).await?;
        }
    }
    if drift_only {
        verification.difference_count = counts.created + counts.updated;
    }
    verification.success = verification.missing_count == 0
        && verification.difference_count == 0
        && (!(reconcile || normalizes) || verification.extra_count == 0);
    if drift_only && !reconcile {
        verification.success = true; // a dry run reports; it does not fail on what it would change
    }

    let bad = counts.rejected + counts.conflicts + counts.failed;
    let share = bad as f64 * 100.0 / counts.total.max(1) as f64;
    let tolerated = job.options.tolerated_failure_percentage;
    let mut causes = Vec::new();
    if bad > 0 && share > tolerated {
        causes.push(format!(
            "{} rejected, {} conflicts, {} failed of {} rows ({share:.2}%), more than the tolerated {tolerated}%",
            counts.rejected, counts.conflicts, counts.failed, counts.total
        ));
    }
    if !verification.success {
        causes.push(format!(
            "verification failed: {} missing, {} different, {} extra (see {})",
            verification.missing_count,
            verification.difference_count,
            verification.extra_count,
            artifacts.key(Artifact::ReportMarkdown)
        ));
    }
    let result = JobResult::concluded(
        &artifacts,
        job.mode(),
        counts,
        verification,
        transform.rejected_key.clone(),
        &causes,
    );
    let rds_sql = match &job.spec {
        JobSpec::NormalizeTenant { rds_tables, .. }
        | JobSpec::NormalizeTable { rds_tables, .. } => {
            let tenants: Vec<String> = partitions
                .iter()
                .filter_map(|pk| pk.rsplit_once(crate::keys::KEY_SEPARATOR))
                .map(|(_, tenant)| tenant.to_string())
                .collect();
            crate::rds_sql::statements(rds_tables, &tenants)
        }
        _ => Vec::new(),
    };
    let cost_estimate = if job.options.dry_run {
        let exported = artifacts.load_export().await?.map_or(0, |e| e.rows);
        Some(crate::cost::estimate(crate::cost::Measured {
            rows: counts.total,
            chunks: u64::from(transform.chunks),
            written_rows: counts.created + counts.updated,
            write_units: metered.units,
            write_requests: metered.requests,
            exported_rows: exported,
            scan_segments: u64::from(job.scan_segments),
        }))
    } else {
        None
    };
    let details = ReportDetails {
        publish_mode: Some(publish_mode.as_str()),
        written_key,
        samples,
        writes: Some(metered.summary(job.options.max_write_units_per_second)),
        cost_estimate,
        rds_sql,
    };
    crate::kill_points::reached("verify:done");
    finish(
        &artifacts,
        &deps.job_records(),
        &result,
        &details,
        &super::now(),
    )
    .await?;
    Ok(result)
}

/// Whether the stored entity does not hold `field` as the row sets it (`false` for a field the
/// row leaves unset). `code`, `name` and `isDeleted` are compared where they lie, with no value
/// built for them (for a string or a flag, containment is equality); an attribute by value, or,
/// when the job merges attributes, by containment (the framework's deep merge keeps the stored
/// siblings).
fn field_differs(row: &MigrationRow, entity: &EntityRow, field: &str, merged: bool) -> bool {
    match field {
        "code" => row.code != entity.code,
        "name" => row.name != entity.name,
        "isDeleted" => row.is_deleted.unwrap_or(false) != entity.is_deleted,
        other => match (row.attributes.get(other), entity.attributes.get(other)) {
            (None, _) => false,
            (Some(r), Some(e)) if merged => !crate::merge::is_merged_into(r, e),
            (r, e) => r != e,
        },
    }
}

/// How many chunks' reads are under way when Verify takes the next one to compare: while it
/// compares that one, the next ones are read and decoded (on the other core where there is a
/// second worker thread; four chunks' rows
/// in memory at most, ≈4 MB for chunks of 500 reference rows).
const VERIFY_AHEAD: usize = 4;

/// The lines of a chunk that were written or found unchanged: the rows Verify checks.
fn written_lines(result: &ChunkResult) -> FastSet<u64> {
    result
        .rows
        .iter()
        .filter(|o| {
            matches!(
                o.outcome,
                Outcome::Created | Outcome::Updated | Outcome::Unchanged
            )
        })
        .map(|o| o.line)
        .collect()
}

/// A chunk's checked rows and their data rows as they are now.
struct ReadBack {
    rows: Vec<MigrationRow>,
    found: FastMap<Key, EntityRow>,
}

/// Reads back chunk `chunk`'s rows at `lines` and their data rows (owned handles: it runs as a
/// task of its own while the previous chunk is compared).
async fn read_written(
    tables: std::sync::Arc<dyn crate::ports::table::Table>,
    data_table: String,
    artifacts: JobArtifacts,
    chunk: u32,
    lines: FastSet<u64>,
) -> Result<ReadBack, Error> {
    let rows: Vec<MigrationRow> = artifacts
        .load_chunk(chunk)
        .await?
        .into_iter()
        .filter(|r| lines.contains(&r.line))
        .collect();
    let keys: Vec<Key> = rows.iter().map(MigrationRow::target_key).collect();
    let found = read_data_rows(tables.as_ref(), &data_table, &keys, Some(COMPARED_FIELDS)).await?;
    Ok(ReadBack { rows, found })
}

/// Rows of a chunk whose command the app's saga did not bring into the data table in time.
#[derive(Debug, Default)]
struct Unfinished {
    created: u64,
    updated: u64,
}

/// Checks the rows one chunk created, updated or left unchanged against the data table
/// (waiting first for the app's saga in `app` mode).
#[allow(clippy::too_many_arguments)] // the chunk, what was read for it, and where results go
async fn verify_chunk(
    deps: &Deps,
    job: &PreparedJob,
    artifacts: &JobArtifacts,
    result: &ChunkResult,
    read: Option<ReadBack>,
    v: &mut Verification,
    samples: &mut Samples,
    saga: Option<&SagaWait>,
) -> Result<Unfinished, Error> {
    let compare_fields = &job.options.compare_fields;
    let merged = job.options.attributes_mode == AttributesMode::Merge;
    let mut written: FastMap<u64, &crate::publish::RowOutcome> = result
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
    let ReadBack { rows, mut found } = match read {
        Some(read) => read,
        None => {
            read_written(
                deps.tables.clone(),
                deps.table_names.data.clone(),
                artifacts.clone(),
                result.chunk,
                written.keys().copied().collect(),
            )
            .await?
        }
    };
    let mut unfinished = Unfinished::default();
    if let Some(saga) = saga {
        // The version each written row's command carries; the saga must bring the data row there.
        let behind = |found: &FastMap<Key, EntityRow>| -> Vec<(u64, Key, u64)> {
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
                read_data_rows(
                    deps.tables.as_ref(),
                    &deps.table_names.data,
                    &again,
                    Some(COMPARED_FIELDS),
                )
                .await?,
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
        // A field differs when the row sets it and the stored entity does not hold it.
        let differs =
            |f: &&str| !crate::model::is_metadata(f) && field_differs(row, entity, f, merged);
        let differing = if compare_fields.is_empty() {
            ["code", "name"]
                .into_iter()
                .chain(row.attributes.keys().map(|name| name.as_str()))
                .find(differs)
        } else {
            compare_fields.iter().map(String::as_str).find(differs)
        };
        if let Some(field) = differing {
            v.difference_count += 1;
            push(
                &mut samples.differences,
                format!("line {}: {key}: {field} differs", row.line),
            );
        }
    }
    // Freeing a chunk's decoded rows costs about as much as comparing them: it is done on the
    // blocking pool, off the task that compares the next chunk.
    tokio::task::spawn_blocking(move || drop((rows, found)));
    Ok(unfinished)
}

/// Live items still under the legacy (uppercase) partition `legacy`, page by page (never the
/// whole partition in memory).
async fn count_live(deps: &Deps, legacy: &str, samples: &mut Samples) -> Result<u64, Error> {
    let mut left = 0;
    let mut pages = deps.data_partition(legacy, 500);
    while let Some(items) = pages.next().await? {
        for item in &items {
            if crate::value::get_bool(item, "isDeleted") == Some(true) {
                continue;
            }
            left += 1;
            push(
                &mut samples.extra,
                format!(
                    "{legacy} / {}: still live under a legacy uppercase tenant key",
                    crate::value::get_s(item, "sk").unwrap_or_default()
                ),
            );
        }
    }
    Ok(left)
}

/// Live entities in the target partition without a live counterpart in the source partition.
async fn count_extra(
    deps: &Deps,
    source_pk: &str,
    target_pk: &str,
    samples: &mut Samples,
) -> Result<u64, Error> {
    let mut extra = 0;
    let mut pages = deps.data_partition(target_pk, 100);
    while let Some(items) = pages.next().await? {
        let live: Vec<EntityRow> = items
            .into_iter()
            .filter_map(|i| EntityRow::from_data_item_owned(i).ok())
            .filter(|e| !e.is_deleted)
            .collect();
        let source_keys: Vec<Key> = live.iter().map(|e| Key::new(source_pk, &e.sk)).collect();
        let sources = read_data_rows(
            deps.tables.as_ref(),
            &deps.table_names.data,
            &source_keys,
            Some(STATE_FIELDS),
        )
        .await?;
        for e in &live {
            if sources
                .get(&Key::new(source_pk, &e.sk))
                .is_none_or(|s| s.is_deleted)
            {
                extra += 1;
                push(&mut samples.extra, format!("{} / {}", e.pk, e.sk));
            }
        }
    }
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::field_differs;
    use crate::migration_csv::MigrationRow;
    use crate::model::EntityRow;
    use crate::value::attributes_from_json_str;

    fn row(code: &str, attributes: &str, is_deleted: Option<bool>) -> MigrationRow {
        MigrationRow {
            code: code.into(),
            name: "n".into(),
            attributes: attributes_from_json_str(attributes).unwrap(),
            is_deleted,
            ..MigrationRow::default()
        }
    }

    fn stored(code: &str, attributes: &str, is_deleted: bool) -> EntityRow {
        EntityRow {
            code: code.into(),
            name: "n".into(),
            attributes: attributes_from_json_str(attributes).unwrap(),
            is_deleted,
            ..EntityRow::default()
        }
    }

    #[test]
    fn a_field_differs_when_the_stored_entity_does_not_hold_it_as_the_row_sets_it() {
        let entity = stored("c1", r#"{"price":1.5,"dims":{"w":1,"h":2}}"#, false);
        let same = row("c1", r#"{"price":1.5,"dims":{"w":1}}"#, None);
        for (field, merged, expected) in [
            ("code", false, false),
            ("name", false, false),
            ("isDeleted", false, false),
            ("price", false, false),
            // `dims` as the row sets it is contained in the stored one, not equal to it.
            ("dims", true, false),
            ("dims", false, true),
            // A field the row leaves unset never differs.
            ("colour", false, false),
        ] {
            assert_eq!(
                field_differs(&same, &entity, field, merged),
                expected,
                "{field} (merged: {merged})"
            );
        }
        let other = row(
            "c2",
            r#"{"price":2,"colour":"red","dims":{"w":3}}"#,
            Some(true),
        );
        for field in ["code", "isDeleted", "price", "colour", "dims"] {
            for merged in [false, true] {
                assert!(
                    field_differs(&other, &entity, field, merged),
                    "{field} (merged: {merged})"
                );
            }
        }
        // A row that does not say whether it is deleted means live.
        let deleted = stored("c1", r#"{"price":1.5}"#, true);
        assert!(field_differs(&same, &deleted, "isDeleted", false));
        assert!(!field_differs(
            &row("c1", "{}", Some(true)),
            &deleted,
            "isDeleted",
            false
        ));
    }
}
