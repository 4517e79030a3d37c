//! State `Transform`: the migration CSV on S3 → validated chunks under `jobs/<jobId>/chunks/`,
//! a manifest for the Distributed Map, and `jobs/<jobId>/rejected.csv`.
//!
//! The CSV is streamed: a blocking task parses it (the csv crate is synchronous) and hands rows
//! over a bounded channel; at most one chunk of rows is in memory. Each row gets the job's
//! operations, the `_schemaVersion` chain, the JSON Schema and reference checks; a row that
//! fails any of them is rejected with its line, column and reason.
//!
//! The whole file is read before any table is written (only Process writes tables). If the
//! share of rejected rows exceeds `toleratedFailurePercentage` the state fails with
//! `InvalidInput`, and `rejected.csv` still lists every bad row.

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use serde::Deserialize;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use super::{Deps, PROGRESS_EVERY, PreparedJob};
use crate::artifacts::{Artifact, ChunkEntry, JobArtifacts, SourceRef, TransformSummary};
use crate::error::{Error, StoreError};
use crate::job::JobOptions;
use crate::keys::{self, Key};
use crate::migration_csv::{CsvItem, MigrationCsvReader, MigrationRow, Rejection, RejectionWriter};
use crate::operations::{self, SCHEMA_VERSION_ATTRIBUTE};
use crate::ports::objects::{ObjectInfo, ObjectReader};
use crate::process::read_data_rows;
use crate::publish::{PublishContext, map_row};
use crate::value::AttributeValue;

#[derive(Debug, Deserialize)]
pub struct TransformInput {
    pub job: PreparedJob,
    pub source: SourceRef,
}

fn check_tolerance(summary: &TransformSummary, job: &PreparedJob) -> Result<(), Error> {
    if summary.rejected == 0 {
        return Ok(());
    }
    let share = summary.rejected as f64 * 100.0 / summary.total.max(1) as f64;
    let tolerated = job.options.tolerated_failure_percentage;
    if share > tolerated {
        return Err(Error::invalid(format!(
            "{} of {} rows rejected ({share:.2}%), more than the tolerated {tolerated}%; nothing was written. See {}",
            summary.rejected, summary.total, summary.rejected_key
        )));
    }
    Ok(())
}

pub async fn handle(input: TransformInput, deps: &Deps) -> Result<TransformSummary, Error> {
    let TransformInput { job, source } = input;
    let head = match deps
        .objects
        .head_object(&source.bucket, &source.key)
        .await?
    {
        Some(h) => h,
        None => {
            return Err(Error::invalid(format!(
                "source s3://{}/{} does not exist",
                source.bucket, source.key
            )));
        }
    };
    let artifacts = job.artifacts(deps);
    if let Some(summary) = artifacts.load_transform().await? {
        // Resume: the chunks exist already. They must come from the same source object.
        if summary.source_etag != head.etag {
            return Err(Error::invalid(format!(
                "job {} was transformed from another version of s3://{}/{}; start a new job id",
                job.job_id, source.bucket, source.key
            )));
        }
        check_tolerance(&summary, &job)?;
        return Ok(summary);
    }
    let summary = transform(&job, &artifacts, &source, &head, deps).await?;
    artifacts.save_transform(&summary).await?;
    crate::kill_points::reached("transform:done");
    check_tolerance(&summary, &job)?;
    Ok(summary)
}

/// The per-row checks and changes of a job.
struct RowRules {
    options: JobOptions,
    /// Rollback rows are restored exactly as they were: no operation or check changes them.
    restores: bool,
    schema: Option<jsonschema::Validator>,
    /// What the rows will be written as (to check them against DynamoDB's and S3's limits).
    publish: PublishContext,
}

impl RowRules {
    fn new(job: &PreparedJob, deps: &Deps) -> Result<Self, Error> {
        let schema = match &job.options.validation.attributes_schema {
            Some(s) => Some(operations::compile_schema(s)?),
            None => None,
        };
        Ok(RowRules {
            options: job.options.clone(),
            restores: job.spec.restores_rows(),
            schema,
            publish: job.publish_context(deps),
        })
    }

    /// The command and data items the row becomes must fit DynamoDB's limits (key lengths,
    /// 400 KB, 32 levels), taking the framework's S3 offload of large attributes into account,
    /// and an offloaded object's key must fit S3's 1,024 bytes.
    ///
    /// The items are built from the row *without* its attributes (only the pipeline's metadata
    /// attributes go in); the row's own attributes are added by arithmetic
    /// ([`crate::limits::check_item_with_attributes`], [`crate::value::overlaid_json_len`]). The
    /// answer is the one of building the whole items (a property test holds the two together),
    /// without cloning every row's attributes three times.
    fn check_limits(&self, row: &mut MigrationRow) -> Result<(), (String, String)> {
        check_limits(&self.publish, row)
    }

    /// Operations, schema version, JSON Schema, numbers, limits, uniqueness. Rollback rows are
    /// restored exactly as they were.
    fn apply(&mut self, row: &mut MigrationRow) -> Result<(), (String, String)> {
        if self.restores {
            return Ok(());
        }
        let upgrade = match self.options.schema_version {
            Some(target) => {
                operations::schema_version_of(&row.attributes).is_none_or(|v| v < target)
            }
            None => true,
        };
        if upgrade {
            operations::apply(&self.options.operations, &mut row.attributes)
                .map_err(|e| ("attributes".into(), e))?;
            if let Some(target) = self.options.schema_version {
                row.attributes.insert(
                    SCHEMA_VERSION_ATTRIBUTE.into(),
                    AttributeValue::N(target.to_string()),
                );
            }
        }
        if let Some(schema) = &self.schema {
            operations::check_schema(schema, &row.attributes)
                .map_err(|e| ("attributes".into(), e))?;
        }
        // Last, on what will be written: numbers the app's JavaScript cannot read exactly,
        // DynamoDB's and S3's limits, one row per entity.
        crate::js_numbers::apply(&mut row.attributes, self.options.unsafe_numbers)
            .map_err(|e| ("attributes".into(), e))?;
        for (field, value) in [("seq", &row.seq), ("ttl", &row.ttl)] {
            if let Some(v) = value {
                crate::js_numbers::check_field(field, v).map_err(|e| (field.to_string(), e))?;
            }
        }
        self.check_limits(row)
    }
}

/// The column and reason of a row whose `table` item breaks a limit (`why`, from
/// [`crate::limits`]): the key lengths come from the tenant and the sk, the rest from attributes.
fn limit_rejection(table: &str, why: String) -> (String, String) {
    let column = if why.starts_with("pk") {
        "targetTenantCode"
    } else if why.starts_with("sk") {
        "sourceSk"
    } else {
        "attributes"
    };
    (column.to_string(), format!("as a {table} item: {why}"))
}

/// See [`RowRules::check_limits`].
fn check_limits(publish: &PublishContext, row: &mut MigrationRow) -> Result<(), (String, String)> {
    let attributes = std::mem::take(&mut row.attributes);
    let checked = check_limits_of(publish, row, &attributes);
    row.attributes = attributes;
    checked
}

fn check_limits_of(
    publish: &PublishContext,
    skeleton: &MigrationRow,
    attributes: &crate::value::Attributes,
) -> Result<(), (String, String)> {
    let mut next = map_row(skeleton, None, publish, None);
    // The longest versioned sk a command can get.
    next.version = 9_999_999_999;
    let large = &publish.large_attributes;
    // What the pipeline adds replaces the row's entry of the same name.
    let metadata = &next.attributes;
    let offloaded = crate::value::overlaid_json_len(attributes, metadata) > large.limit;
    for (table, mut item) in [
        (&publish.tables.command, next.to_command_item()),
        (&publish.tables.data, next.to_data_item()),
    ] {
        if offloaded {
            let key = crate::large_attributes::object_key(
                table,
                &next.pk,
                crate::value::get_s(&item, "sk").unwrap_or_default(),
                "01J0000000000000000000000Z",
            );
            if key.len() > 1024 {
                return Err((
                    "sourceSk".into(),
                    format!(
                        "its attributes go to S3 (over {} bytes), and the object key would be {} bytes, more than S3's 1,024",
                        large.limit,
                        key.len()
                    ),
                ));
            }
            item.insert(
                "attributes".into(),
                AttributeValue::S(format!("s3://{}/{key}", large.bucket)),
            );
        }
        let rest = attributes
            .iter()
            .filter(|(name, _)| !metadata.contains_key(*name));
        crate::limits::check_item_with_attributes(&item, rest)
            .map_err(|why| limit_rejection(table, why))?;
    }
    Ok(())
}

/// Target keys seen so far in the file: a second row for the same target key would publish two
/// versions in one job (and two source rows may map to one target key), so the later one is
/// rejected, naming the first.
///
/// Memory stays small at any file size: a 64-bit hash per key in a hash set (≈10 bytes per row;
/// 1M rows ≈ 19 MB at the set's largest). A hit is confirmed by finding the earlier row among the
/// rows buffered and the chunks written so far, which names its line and rules out a hash
/// collision. The lookup reads back at most 200 chunks per file in all (a file full of late
/// duplicates must not turn Transform into thousands of GETs); once they are spent, a hit is
/// rejected without the line (two of 1M keys share a 64-bit hash with a chance of about 3 in
/// 100 million).
struct SeenKeys {
    hashes: HashSet<u64>,
    hasher: RandomState,
    /// Chunks read back so far to confirm hits.
    chunk_reads: u32,
}

const MAX_CHUNK_READS: u32 = 200;

impl SeenKeys {
    fn new() -> Self {
        SeenKeys {
            hashes: HashSet::new(),
            hasher: RandomState::new(),
            chunk_reads: 0,
        }
    }

    /// `None` if no earlier row targets `key` (it is recorded now); else the earlier row's line,
    /// when looked up.
    async fn earlier(
        &mut self,
        key: &Key,
        writer: &ChunkWriter<'_>,
    ) -> Result<Option<Option<u64>>, Error> {
        if self.hashes.insert(self.hasher.hash_one((&key.pk, &key.sk))) {
            return Ok(None);
        }
        if let Some((row, _)) = writer.rows.iter().find(|(r, _)| &r.target_key() == key) {
            return Ok(Some(Some(row.line)));
        }
        // The most recent chunks first: a duplicate is most often near its first row.
        for index in (1..=writer.entries.len() as u32).rev() {
            if self.chunk_reads >= MAX_CHUNK_READS {
                return Ok(Some(None));
            }
            self.chunk_reads += 1;
            let rows = writer.artifacts.load_chunk(index).await?;
            if let Some(row) = rows.iter().find(|r| &r.target_key() == key) {
                return Ok(Some(Some(row.line)));
            }
        }
        Ok(None) // two keys with one hash: this one is new
    }
}

struct ChunkWriter<'a> {
    deps: &'a Deps,
    job: &'a PreparedJob,
    artifacts: &'a JobArtifacts,
    rows: Vec<(MigrationRow, String)>,
    entries: Vec<ChunkEntry>,
}

impl ChunkWriter<'_> {
    /// Checks references of the buffered rows, writes the good ones as a chunk, returns the rejected.
    async fn flush(&mut self) -> Result<Vec<Rejection>, Error> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = std::mem::take(&mut self.rows);
        let (good, rejected) = check_references(self.deps, self.job, rows).await?;
        if good.is_empty() {
            return Ok(rejected);
        }
        let index = self.entries.len() as u32 + 1;
        let entry = self.artifacts.save_chunk(index, &good).await?;
        self.entries.push(entry);
        crate::kill_points::reached("transform:chunk");
        Ok(rejected)
    }
}

async fn check_references(
    deps: &Deps,
    job: &PreparedJob,
    rows: Vec<(MigrationRow, String)>,
) -> Result<(Vec<MigrationRow>, Vec<Rejection>), Error> {
    let references = &job.options.validation.references;
    if references.is_empty() || job.spec.restores_rows() {
        return Ok((rows.into_iter().map(|(r, _)| r).collect(), Vec::new()));
    }
    let wanted = |row: &MigrationRow| -> Vec<(String, Key)> {
        references
            .iter()
            .filter_map(|r| {
                let id = match row.attributes.get(&r.field) {
                    Some(AttributeValue::S(s)) => s.clone(),
                    Some(AttributeValue::N(n)) => n.clone(),
                    _ => return None,
                };
                Some((
                    r.field.clone(),
                    Key::new(keys::pk(&r.entity_type, row.target_tenant()), id),
                ))
            })
            .collect()
    };
    let keys: Vec<Key> = rows
        .iter()
        .flat_map(|(r, _)| wanted(r))
        .map(|(_, k)| k)
        .collect();
    let found = read_data_rows(deps.tables.as_ref(), &deps.table_names.data, &keys).await?;
    let mut good = Vec::with_capacity(rows.len());
    let mut rejected = Vec::new();
    for (row, record) in rows {
        let missing = wanted(&row)
            .into_iter()
            .find(|(_, k)| found.get(k).is_none_or(|e| e.is_deleted));
        match missing {
            None => good.push(row),
            Some((field, key)) => rejected.push(Rejection {
                line: row.line,
                column: Some("attributes".into()),
                reason: format!(
                    "attributes.{field}: referenced entity {} / {} does not exist",
                    key.pk, key.sk
                ),
                record,
            }),
        }
    }
    Ok((good, rejected))
}

/// A row of the file after the row rules: rejected by the parser, or parsed with the rules'
/// verdict (the column and reason when they reject it). Nearly every message is a `Row`, so
/// boxing it would add an allocation per row to save space on the rare rejection.
#[allow(clippy::large_enum_variant)]
enum Checked {
    Rejected(Rejection),
    Row {
        row: MigrationRow,
        record: String,
        verdict: Result<(), (String, String)>,
    },
}

/// Counts the bytes read from the source object, for progress.
struct CountingReader {
    inner: ObjectReader,
    count: Arc<AtomicU64>,
}

impl AsyncRead for CountingReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let poll = self.inner.as_mut().poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before) as u64;
        self.count.fetch_add(read, Ordering::Relaxed);
        poll
    }
}

async fn transform(
    job: &PreparedJob,
    artifacts: &JobArtifacts,
    source: &SourceRef,
    head: &ObjectInfo,
    deps: &Deps,
) -> Result<TransformSummary, Error> {
    let (etag, size) = (head.etag.clone(), head.size);
    let mut rules = RowRules::new(job, deps)?;
    let mut seen = SeenKeys::new();
    let body = deps.objects.get_object(&source.bucket, &source.key).await?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let body = CountingReader {
        inner: body,
        count: bytes_read.clone(),
    };
    // Each item travels with its raw record, so a row rejected by a later check (operations,
    // schema, references) is reported in rejected.csv exactly as it was in the file.
    let (tx, mut rx) = mpsc::channel::<Result<(CsvItem, String), Error>>(256);
    let location = format!("s3://{}/{}", source.bucket, source.key);
    let parser = tokio::task::spawn_blocking(move || {
        let input = tokio_util::io::SyncIoBridge::new(body);
        let mut reader = match MigrationCsvReader::new(input) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(Error::invalid(format!("{location}: {e}"))));
                return;
            }
        };
        while let Some(item) = reader.next() {
            let item = item
                .map(|i| (i, reader.last_record().to_string()))
                .map_err(|e| Error::Retryable(format!("{location}: reading failed: {e}")));
            if tx.blocking_send(item).is_err() {
                return; // the receiver gave up (an error): stop reading
            }
        }
    });
    // The row rules (operations, schema, numbers, limits) run on a thread of their own, between
    // the parser and the chunk writer: the three stages overlap on the machine's cores. Each
    // row comes out in file order with its verdict.
    let (checked_tx, mut checked_rx) = mpsc::channel::<Result<Checked, Error>>(256);
    let checker = tokio::task::spawn_blocking(move || {
        while let Some(item) = rx.blocking_recv() {
            let checked = item.map(|(item, record)| match item {
                CsvItem::Rejected(r) => Checked::Rejected(r),
                CsvItem::Row(mut row) => {
                    let verdict = rules.apply(&mut row);
                    Checked::Row {
                        row,
                        record,
                        verdict,
                    }
                }
            });
            if checked_tx.blocking_send(checked).is_err() {
                return; // the chunk writer gave up (an error): stop
            }
        }
    });

    let rejected_file =
        tempfile::NamedTempFile::new().map_err(|e| Error::Retryable(format!("temp file: {e}")))?;
    let mut rejected_out = RejectionWriter::new(std::io::BufWriter::new(
        rejected_file.reopen().map_err(StoreError::from)?,
    ))
    .map_err(|e| Error::Retryable(e.to_string()))?;
    let mut writer = ChunkWriter {
        deps,
        job,
        artifacts,
        rows: Vec::with_capacity(deps.chunk_rows),
        entries: Vec::new(),
    };
    let (mut total, mut rejected) = (0u64, 0u64);
    let mut reject = |r: &Rejection, rejected: &mut u64| -> Result<(), Error> {
        *rejected += 1;
        rejected_out
            .write(r)
            .map_err(|e| Error::Retryable(format!("writing rejected.csv: {e}")))
    };
    while let Some(item) = checked_rx.recv().await {
        if total % PROGRESS_EVERY == 0 {
            let read = bytes_read.load(Ordering::Relaxed);
            deps.progress.rows("Transform", total, Some((read, size)));
        }
        match item? {
            Checked::Rejected(r) => {
                total += 1;
                reject(&r, &mut rejected)?;
            }
            Checked::Row {
                row,
                record,
                verdict,
            } => {
                total += 1;
                let checked = match verdict {
                    Ok(()) => {
                        let key = row.target_key();
                        match seen.earlier(&key, &writer).await? {
                            None => Ok(()),
                            Some(first) => Err((
                                "sourceSk".to_string(),
                                format!(
                                    "targets {} / {}, like {}: one job writes each entity once",
                                    key.pk,
                                    key.sk,
                                    first.map_or("an earlier row".to_string(), |l| format!(
                                        "line {l}"
                                    ))
                                ),
                            )),
                        }
                    }
                    Err(e) => Err(e),
                };
                match checked {
                    Ok(()) => writer.rows.push((row, record)),
                    Err((column, reason)) => reject(
                        &Rejection {
                            line: row.line,
                            column: Some(column),
                            reason,
                            record,
                        },
                        &mut rejected,
                    )?,
                }
                if writer.rows.len() >= deps.chunk_rows {
                    for r in writer.flush().await? {
                        reject(&r, &mut rejected)?;
                    }
                }
            }
        }
    }
    parser
        .await
        .map_err(|e| Error::Retryable(format!("CSV parser task failed: {e}")))?;
    checker
        .await
        .map_err(|e| Error::Retryable(format!("row rules task failed: {e}")))?;
    for r in writer.flush().await? {
        reject(&r, &mut rejected)?;
    }
    deps.progress.rows("Transform", total, Some((size, size)));
    let mut out = rejected_out.into_inner().map_err(StoreError::from)?;
    out.flush().map_err(StoreError::from)?;
    drop(out);
    let rejected_key = artifacts
        .put_file(Artifact::Rejected, rejected_file.path())
        .await?;
    let manifest_key = artifacts.save_manifest(&writer.entries).await?;
    let valid = writer.entries.iter().map(|e| e.rows).sum();
    Ok(TransformSummary {
        bucket: deps.bucket.clone(),
        manifest_key,
        rejected_key,
        chunks: writer.entries.len() as u32,
        total,
        valid,
        rejected,
        source_etag: etag,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::job::{AttributesMode, Mode, PublishMode};
    use crate::large_attributes::LargeAttributes;
    use crate::publish::TableNames;
    use crate::value::Attributes;

    /// The check as it was first written: build both whole items, then check them. The fast
    /// check must give the same answer for every row.
    fn built_check(publish: &PublishContext, row: &MigrationRow) -> Result<(), (String, String)> {
        let mut next = map_row(row, None, publish, None);
        next.version = 9_999_999_999;
        let large = &publish.large_attributes;
        let offloaded =
            crate::value::attributes_to_json_string(&next.attributes).len() > large.limit;
        for (table, mut item) in [
            (&publish.tables.command, next.to_command_item()),
            (&publish.tables.data, next.to_data_item()),
        ] {
            if offloaded {
                let key = crate::large_attributes::object_key(
                    table,
                    &next.pk,
                    crate::value::get_s(&item, "sk").unwrap_or_default(),
                    "01J0000000000000000000000Z",
                );
                if key.len() > 1024 {
                    return Err(("sourceSk".into(), format!("S3 key {}", key.len())));
                }
                item.insert(
                    "attributes".into(),
                    AttributeValue::S(format!("s3://{}/{key}", large.bucket)),
                );
            }
            crate::limits::check_item(&item).map_err(|why| limit_rejection(table, why))?;
        }
        Ok(())
    }

    fn context(limit: usize) -> PublishContext {
        PublishContext {
            job_id: "job-1".into(),
            mode: Mode::Import,
            moves_entities: false,
            attributes_mode: AttributesMode::Replace,
            publish_mode: PublishMode::Direct,
            now: "2026-11-25T10:00:00+00:00".into(),
            actor: "migrate".into(),
            tables: TableNames {
                command: "command".into(),
                data: "data".into(),
                history: "history".into(),
                jobs: "jobs".into(),
            },
            rollback_of: None,
            large_attributes: LargeAttributes {
                bucket: "bucket".into(),
                limit,
            },
            master_data_table: None,
            writes: Arc::new(crate::write_budget::WriteMeter::new(None)),
        }
    }

    /// Names that collide with the pipeline's own metadata half of the time.
    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "a",
            "b",
            "_migrationId",
            "_migrated",
            "_sourceKey",
            "_migratedFrom",
        ])
        .prop_map(str::to_string)
    }

    /// Scalars of every size class: tiny, around the offload limit, around 400 KB.
    fn scalar() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            prop::sample::select(vec![0usize, 7, 1_500, 3_000, 200_000, 409_000])
                .prop_map(|n| AttributeValue::S("x".repeat(n))),
            (0u64..u64::MAX).prop_map(|n| AttributeValue::N(n.to_string())),
            any::<bool>().prop_map(AttributeValue::Bool),
        ]
    }

    /// Values up to 40 levels deep (DynamoDB allows 32).
    fn value() -> impl Strategy<Value = AttributeValue> {
        (scalar(), 0usize..40, any::<bool>()).prop_map(|(mut v, levels, maps)| {
            for _ in 0..levels {
                v = if maps {
                    AttributeValue::M(HashMap::from([("k".to_string(), v)]))
                } else {
                    AttributeValue::L(vec![v])
                };
            }
            v
        })
    }

    fn row() -> impl Strategy<Value = MigrationRow> {
        (
            prop::collection::btree_map(name(), value(), 0..4),
            prop::sample::select(vec![1usize, 900, 1_000, 1_020]),
            prop::sample::select(vec!["", "other", "T"]),
        )
            .prop_map(|(attributes, sk_len, tenant): (Attributes, usize, &str)| {
                MigrationRow {
                    line: 2,
                    source_pk: "PRODUCT#T".into(),
                    source_sk: "s".repeat(sk_len),
                    code: "c".into(),
                    name: "n".into(),
                    attributes,
                    target_tenant_code: tenant.into(),
                    entity_type: None,
                    version: Some(3),
                    is_deleted: None,
                    seq: None,
                    ttl: None,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The arithmetic check answers as building the items would, and gives the row back.
        #[test]
        fn limits_by_arithmetic_answer_as_built_items(
            row in row(),
            limit in prop::sample::select(vec![2_000usize, 389_120, 10_000_000]),
        ) {
            let publish = context(limit);
            let expected = built_check(&publish, &row);
            let mut checked = row.clone();
            let got = check_limits(&publish, &mut checked);
            prop_assert_eq!(&checked, &row);
            match (&got, &expected) {
                // The S3-key message is worded in full only by the real check.
                (Err((c, _)), Err((e, why))) if why.starts_with("S3 key") => prop_assert_eq!(c, e),
                _ => prop_assert_eq!(got, expected),
            }
        }
    }
}
