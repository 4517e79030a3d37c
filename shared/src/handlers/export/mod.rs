//! State `Export`: writes the rows a table-sourced job works on to `jobs/<jobId>/export.csv`
//! in the migration CSV format, streaming page by page through a temporary file.
//!
//! * copy-tenant / reconcile: the live entities of `entityType` in `sourceTenant`, targeted at
//!   `targetTenant`;
//! * normalize-tenant: the same, targeted at the lowercased tenant code (or `targetTenant`);
//! * transform: the same, in place;
//! * rollback of job J: for each row J created, its current content marked deleted; for each row J
//!   updated, the pre-J version from history. The `version` column carries J's version, so
//!   Process only touches rows that are still exactly as J left them.

use std::io::Write;

use serde::Deserialize;

use super::{Deps, PreparedJob};
use crate::artifacts::{Artifact, ChunkResult, ExportSummary, JobArtifacts};
use crate::error::{Error, StoreError};
use crate::job::{JobSpec, TenantScope};
use crate::keys::{self, Key};
use crate::migration_csv::{MigrationCsvWriter, MigrationRow};
use crate::model::EntityRow;
use crate::ports::table::MAX_BATCH_GET;
use crate::publish::{Outcome, RowOutcome};

#[derive(Debug, Deserialize)]
pub struct ExportInput {
    pub job: PreparedJob,
    /// State `ExportSegment` (inside the `ExportSegments` Map): the one scan segment to export.
    /// Absent in state `Export`.
    #[serde(default)]
    pub segment: Option<u32>,
}

const PAGE: usize = 500;

mod segment;

pub async fn handle(input: ExportInput, deps: &Deps) -> Result<ExportSummary, Error> {
    let ExportInput { job, segment } = input;
    let artifacts = job.artifacts(deps);
    if let Some(segment) = segment {
        return segment::export_segment(&job, &artifacts, segment, deps).await;
    }
    // A job's export is its snapshot: a re-run (resume) works on the same rows.
    if let Some(summary) = artifacts.load_export().await? {
        return Ok(summary);
    }
    let file =
        tempfile::NamedTempFile::new().map_err(|e| Error::Retryable(format!("temp file: {e}")))?;
    let mut writer = MigrationCsvWriter::new(std::io::BufWriter::new(
        file.reopen().map_err(StoreError::from)?,
    ))
    .map_err(|e| Error::Retryable(e.to_string()))?;
    let rows = match &job.spec {
        JobSpec::Import { .. } | JobSpec::NormalizeUsers { .. } => {
            return Err(Error::invalid(format!(
                "Export: mode {} has no source table",
                job.mode().as_str()
            )));
        }
        JobSpec::Rollback { of_job } => {
            export_rollback(deps, &deps.artifacts(of_job), &mut writer).await?
        }
        JobSpec::RollbackEntities { keys, to_version } => {
            export_entity_versions(deps, keys, *to_version, &mut writer).await?
        }
        JobSpec::CopyTenant {
            from,
            target_tenant,
            ..
        }
        | JobSpec::Reconcile {
            from,
            target_tenant,
            ..
        } => export_partition(deps, from, target_tenant, &mut writer).await?,
        JobSpec::NormalizeTenant {
            from,
            target_tenant,
            ..
        } => {
            if *target_tenant == from.tenant {
                tracing::info!(job_id = %job.job_id, "tenant code is already lowercase; nothing to normalize");
            }
            export_partition(deps, from, target_tenant, &mut writer).await?
        }
        JobSpec::NormalizeTable { .. } => {
            // The segments' rows, appended after the header as they are.
            let mut out = writer.into_inner().map_err(StoreError::from)?;
            let rows = segment::merge_segments(&job, &artifacts, &mut out).await?;
            return finish(deps, &artifacts, out, &file, rows).await;
        }
        // In place: an empty targetTenantCode keeps each row's tenant.
        JobSpec::Transform { scope } => export_partition(deps, scope, "", &mut writer).await?,
    };
    let out = writer.into_inner().map_err(StoreError::from)?;
    finish(deps, &artifacts, out, &file, rows).await
}

/// Uploads the written export.csv and its summary (the job's snapshot).
async fn finish(
    deps: &Deps,
    artifacts: &JobArtifacts,
    mut out: std::io::BufWriter<std::fs::File>,
    file: &tempfile::NamedTempFile,
    rows: u64,
) -> Result<ExportSummary, Error> {
    out.flush().map_err(StoreError::from)?;
    drop(out);
    let key = artifacts.put_file(Artifact::ExportCsv, file.path()).await?;
    let summary = ExportSummary {
        bucket: deps.bucket.clone(),
        key,
        rows,
    };
    artifacts.save_export(&summary).await?;
    crate::kill_points::reached("export:done");
    Ok(summary)
}

type Writer = MigrationCsvWriter<std::io::BufWriter<std::fs::File>>;

fn write(writer: &mut Writer, row: &MigrationRow) -> Result<(), Error> {
    writer
        .write(row)
        .map_err(|e| Error::Retryable(format!("writing export.csv: {e}")))
}

/// Writes the row of an entity whose `s3://` attributes are read first. One whose object cannot
/// be read is written with the pointer as its attributes: Transform rejects that row alone.
pub(crate) async fn write_resolved(
    deps: &Deps,
    writer: &mut Writer,
    entity: &mut EntityRow,
    to_row: impl FnOnce(&EntityRow) -> MigrationRow,
) -> Result<(), Error> {
    let pointer = entity.attributes_pointer.clone();
    match crate::large_attributes::resolve(entity, deps.objects.as_ref()).await {
        Ok(()) => write(writer, &to_row(entity)),
        Err(_) => {
            tracing::warn!("attributes kept in S3 could not be read; the row will be rejected");
            writer
                .write_with_attributes(&to_row(entity), pointer.as_deref().unwrap_or_default())
                .map_err(|e| Error::Retryable(format!("writing export.csv: {e}")))
        }
    }
}

pub(crate) fn row_from(entity: &EntityRow, target_tenant: &str) -> MigrationRow {
    MigrationRow {
        line: 0,
        source_pk: entity.pk.clone(),
        source_sk: entity.sk.clone(),
        code: entity.code.clone(),
        name: entity.name.clone(),
        attributes: entity.attributes.clone(),
        target_tenant_code: target_tenant.into(),
        entity_type: None,
        version: Some(entity.version),
        is_deleted: Some(entity.is_deleted),
        seq: entity.seq.clone(),
        ttl: entity.ttl.clone(),
    }
}

/// The live entities of one partition, targeted at `target_tenant` (empty: in place).
async fn export_partition(
    deps: &Deps,
    from: &TenantScope,
    target_tenant: &str,
    writer: &mut Writer,
) -> Result<u64, Error> {
    let mut pages = deps.data_partition(&from.pk(), PAGE);
    let mut rows = 0;
    while let Some(items) = pages.next().await? {
        for item in &items {
            let mut entity =
                EntityRow::from_data_item(item).map_err(|e| Error::invalid(e.to_string()))?;
            if entity.is_deleted {
                continue; // deleted entities are not copied, moved or upgraded
            }
            write_resolved(deps, writer, &mut entity, |e| row_from(e, target_tenant)).await?;
            rows += 1;
        }
        deps.progress.rows("Export", rows, None);
        crate::kill_points::reached("export:page");
    }
    Ok(rows)
}

/// What job J (`undone`) changed, restored: one chunk result of J at a time.
async fn export_rollback(
    deps: &Deps,
    undone: &JobArtifacts,
    writer: &mut Writer,
) -> Result<u64, Error> {
    let of = undone.job_id();
    let mut rows = 0;
    for index in undone.result_indexes().await? {
        let Some(result): Option<ChunkResult> = undone.load_result(index).await? else {
            continue;
        };
        if result.dry_run {
            continue;
        }
        let mut changes: Vec<(Key, u64, Option<u64>)> = Vec::new(); // key, J's version, pre-J version
        for o in &result.rows {
            collect(o, &mut changes);
        }
        // Resolved 100 keys at a time: one BatchGetItem on data (rows J created) and one on
        // history (the versions before J) per group, instead of a GetItem per row.
        for group in changes.chunks(MAX_BATCH_GET) {
            let created: Vec<Key> = group
                .iter()
                .filter(|(_, _, before)| before.is_none())
                .map(|(key, _, _)| key.clone())
                .collect();
            let earlier: Vec<Key> = group
                .iter()
                .filter_map(|(key, _, before)| {
                    before.map(|b| Key::new(&key.pk, keys::versioned_sk(&key.sk, b)))
                })
                .collect();
            let current = batch_by_key(deps, &deps.table_names.data, &created).await?;
            let history = batch_by_key(deps, &deps.table_names.history, &earlier).await?;
            for (key, j_version, before) in group {
                match before {
                    // J created it: delete it (its current content, marked deleted).
                    None => {
                        let Some(item) = current.get(key) else {
                            continue;
                        };
                        let mut entity = EntityRow::from_data_item(item)
                            .map_err(|e| Error::invalid(e.to_string()))?;
                        entity.is_deleted = true;
                        write_resolved(deps, writer, &mut entity, |e| MigrationRow {
                            version: Some(*j_version),
                            ..row_from(e, "")
                        })
                        .await?;
                        rows += 1;
                    }
                    // J updated it: restore the version before J from history.
                    Some(before) => {
                        let hkey = Key::new(&key.pk, keys::versioned_sk(&key.sk, *before));
                        let Some(item) = history.get(&hkey) else {
                            return Err(Error::Retryable(format!(
                                "rollback of {of}: history has no version {before} of {key} yet (the history function may be behind)"
                            )));
                        };
                        let mut entity = EntityRow::from_versioned_item(item)
                            .map_err(|e| Error::invalid(e.to_string()))?;
                        write_resolved(deps, writer, &mut entity, |e| MigrationRow {
                            version: Some(*j_version),
                            ..row_from(e, "")
                        })
                        .await?;
                        rows += 1;
                    }
                };
            }
        }
        deps.progress.rows("Export", rows, None);
    }
    Ok(rows)
}

/// Entity rollback: for each key, its version `to_version` (from history; the data row itself
/// when it is still at that version) with the entity's *current* version in the `version`
/// column, so Process publishes it only if nobody changed the entity since this export (the
/// optimistic lock of the guide's `rollbackToVersion`). A key without that version stops the job
/// here, before anything is written.
async fn export_entity_versions(
    deps: &Deps,
    keys: &[Key],
    to_version: u64,
    writer: &mut Writer,
) -> Result<u64, Error> {
    let names = &deps.table_names;
    let mut rows = 0;
    for group in keys.chunks(MAX_BATCH_GET) {
        let current = batch_by_key(deps, &names.data, group).await?;
        let wanted: Vec<Key> = group
            .iter()
            .map(|k| Key::new(&k.pk, keys::versioned_sk(&k.sk, to_version)))
            .collect();
        let history = batch_by_key(deps, &names.history, &wanted).await?;
        for (key, versioned) in group.iter().zip(&wanted) {
            let Some(item) = current.get(key) else {
                return Err(Error::invalid(format!(
                    "rollback: no entity {key} in the data table"
                )));
            };
            let now = EntityRow::from_data_item(item).map_err(|e| Error::invalid(e.to_string()))?;
            let mut restored = match now.version {
                v if v == to_version => now.clone(),
                v if v < to_version => {
                    return Err(Error::invalid(format!(
                        "rollback: {key} has no version {to_version}: it is at version {v}"
                    )));
                }
                _ => match history.get(versioned) {
                    Some(item) => EntityRow::from_versioned_item(item)
                        .map_err(|e| Error::invalid(e.to_string()))?,
                    None => {
                        // The command table keeps every version: if it has this one, the
                        // history function is only behind (retry); otherwise it is gone.
                        let command = deps.tables.get_item(&names.command, versioned).await?;
                        return Err(match command {
                            Some(_) => Error::Retryable(format!(
                                "rollback: history has no version {to_version} of {key} yet (the history function may be behind)"
                            )),
                            None => Error::invalid(format!(
                                "rollback: {key} has no version {to_version} in history (expired or never written)"
                            )),
                        });
                    }
                },
            };
            restored.attributes.insert(
                "_rolledBackFrom".into(),
                crate::value::s(keys::versioned_sk(&keys::id(&key.pk, &key.sk), now.version)),
            );
            write_resolved(deps, writer, &mut restored, |e| MigrationRow {
                version: Some(now.version),
                ..row_from(e, "")
            })
            .await?;
            rows += 1;
        }
        deps.progress.rows("Export", rows, None);
    }
    Ok(rows)
}

/// Batch-gets up to 100 keys of `table` (none: no call), by key.
async fn batch_by_key(
    deps: &Deps,
    table: &str,
    keys: &[Key],
) -> Result<std::collections::HashMap<Key, crate::value::Item>, Error> {
    if keys.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let items = deps.tables.batch_get(table, keys).await?;
    Ok(items
        .into_iter()
        .filter_map(|item| {
            let key = Key::new(
                crate::value::get_s(&item, "pk")?,
                crate::value::get_s(&item, "sk")?,
            );
            Some((key, item))
        })
        .collect())
}

fn collect(o: &RowOutcome, out: &mut Vec<(Key, u64, Option<u64>)>) {
    let written = matches!(o.outcome, Outcome::Created | Outcome::Updated);
    if let (true, Some(new)) = (written, o.new_version) {
        let before = if o.outcome == Outcome::Created {
            None
        } else {
            o.previous_version
        };
        out.push((Key::new(&o.pk, &o.sk), new, before));
    }
    if let Some(side) = &o.side_change {
        out.push((
            Key::new(&side.pk, &side.sk),
            side.new_version,
            Some(side.previous_version),
        ));
    }
}
