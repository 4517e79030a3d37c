//! A table-wide normalize's export, in two states: `ExportSegment` (one per segment of a
//! parallel scan, run side by side by the `ExportSegments` Map, so no single Lambda scans the
//! whole table) and `Export`, which joins the segments' CSVs into `export.csv`.
//!
//! A segment keeps every *live* item whose tenant code has uppercase letters (of `entityType`,
//! if the job names one), targeted at the lowercased tenant. Soft-deleted items are left alone,
//! so a re-run finds nothing: the old items are soft-deleted by the first run.

use std::collections::BTreeSet;
use std::io::Write;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::{PAGE, row_from, write_resolved};
use crate::artifacts::{Artifact, ExportSummary, JobArtifacts, SegmentSummary};
use crate::dual_read::is_legacy_pk;
use crate::error::{Error, StoreError};
use crate::handlers::{Deps, PreparedJob};
use crate::job::JobSpec;
use crate::keys::{KEY_SEPARATOR, Key};
use crate::migration_csv::MigrationCsvWriter;
use crate::model::EntityRow;
use crate::value::get_s;

/// Whether a data-table pk is in a table-wide normalize's scope.
fn in_scope(pk: &str, entity_type: Option<&str>) -> bool {
    is_legacy_pk(pk)
        && entity_type.is_none_or(|t| pk.rsplit_once(KEY_SEPARATOR).is_some_and(|(ty, _)| ty == t))
}

pub async fn export_segment(
    job: &PreparedJob,
    artifacts: &JobArtifacts,
    segment: u32,
    deps: &Deps,
) -> Result<ExportSummary, Error> {
    let JobSpec::NormalizeTable { entity_type, .. } = &job.spec else {
        return Err(Error::invalid(
            "ExportSegment: only a table-wide normalize-tenant scans the table",
        ));
    };
    let total = job.scan_segments.max(1);
    if segment >= total {
        return Err(Error::invalid(format!(
            "ExportSegment: segment {segment} of {total}"
        )));
    }
    let key = artifacts.key(Artifact::ExportSegment(segment));
    // A segment exported by an earlier attempt is this job's snapshot: keep it.
    if let Some(done) = artifacts.load_segment(segment).await? {
        return Ok(ExportSummary {
            bucket: deps.bucket.clone(),
            key,
            rows: done.rows,
        });
    }
    let file =
        tempfile::NamedTempFile::new().map_err(|e| Error::io("temporary export segment", e))?;
    let mut writer = MigrationCsvWriter::new(std::io::BufWriter::new(
        file.reopen().map_err(StoreError::from)?,
    ))
    .map_err(|e| Error::Retryable(e.to_string()))?;
    let mut partitions = BTreeSet::new();
    let mut rows = 0;
    let mut start: Option<Key> = None;
    loop {
        let page = deps
            .tables
            .scan(&deps.table_names.data, segment, total, start.as_ref(), PAGE)
            .await?;
        for item in &page.items {
            let pk = get_s(item, "pk").unwrap_or_default();
            if !in_scope(pk, entity_type.as_deref()) {
                continue;
            }
            let mut entity = EntityRow::from_data_item(item).map_err(|e| {
                Error::invalid(format!(
                    "{pk} / {}: not an entity row: {e}",
                    get_s(item, "sk").unwrap_or_default()
                ))
            })?;
            if entity.is_deleted {
                continue;
            }
            let target = entity.tenant_code.as_str().to_lowercase();
            partitions.insert(entity.pk.clone());
            write_resolved(deps, &mut writer, &mut entity, |e| row_from(e, &target)).await?;
            rows += 1;
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    let mut out = writer.into_inner().map_err(StoreError::from)?;
    out.flush().map_err(StoreError::from)?;
    drop(out);
    artifacts
        .put_file(Artifact::ExportSegment(segment), file.path())
        .await?;
    artifacts
        .save_segment(&SegmentSummary {
            segment,
            rows,
            partitions: partitions.into_iter().map(Into::into).collect(),
        })
        .await?;
    tracing::info!(job_id = %job.job_id, segment, rows, "segment exported");
    Ok(ExportSummary {
        bucket: deps.bucket.clone(),
        key,
        rows,
    })
}

/// Appends the segments' CSVs (each without its header) to `out`, streamed, and records the
/// legacy partitions they found. A missing segment fails: the Map did not finish.
pub async fn merge_segments(
    job: &PreparedJob,
    artifacts: &JobArtifacts,
    out: &mut std::io::BufWriter<std::fs::File>,
) -> Result<u64, Error> {
    let mut rows = 0;
    let mut partitions = BTreeSet::new();
    let mut block = vec![0u8; 64 * 1024];
    for segment in 0..job.scan_segments.max(1) {
        let Some(summary) = artifacts.load_segment(segment).await? else {
            return Err(Error::Retryable(format!(
                "Export: segment {segment} of the scan has not been exported"
            )));
        };
        rows += summary.rows;
        partitions.extend(summary.partitions);
        let mut body = BufReader::new(artifacts.open(Artifact::ExportSegment(segment)).await?);
        let mut header = String::new();
        body.read_line(&mut header)
            .await
            .map_err(|e| Error::io("export segment", e))?;
        loop {
            let n = body
                .read(&mut block)
                .await
                .map_err(|e| Error::io("export segment", e))?;
            if n == 0 {
                break;
            }
            out.write_all(&block[..n])
                .map_err(|e| Error::io("export.csv", e))?;
        }
    }
    let partitions: Vec<String> = partitions.into_iter().collect();
    artifacts.save_partitions(&partitions).await?;
    Ok(rows)
}
