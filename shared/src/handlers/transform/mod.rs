//! State `Transform`: the migration CSV on S3 → validated chunks under `jobs/<jobId>/chunks/`,
//! a manifest for the Distributed Map, and `jobs/<jobId>/rejected.csv`.
//!
//! The CSV is streamed: a blocking task splits and parses it (`migration_csv`, synchronous)
//! and hands rows over a bounded channel; at most one chunk of rows is in memory. Each row gets
//! the job's operations, the `_schemaVersion` chain, the JSON Schema and reference checks; a
//! row that fails any of them is rejected with its line, column and reason.
//!
//! The whole file is read before any table is written (only Process writes tables). If the
//! share of rejected rows exceeds `toleratedFailurePercentage` the state fails with
//! `InvalidInput`, and `rejected.csv` still lists every bad row.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use tokio::sync::mpsc;

mod duplicate_keys;

use duplicate_keys::{Duplicate, KeyLog, RUN_ENTRIES};

use super::{Deps, PROGRESS_EVERY, PreparedJob};
use crate::artifacts::{Artifact, ChunkEntry, JobArtifacts, SourceRef, TransformSummary};
use crate::error::{Error, StoreError};
use crate::job::JobOptions;
use crate::keys::{self, Key};
use crate::migration_csv::{
    CsvItem, MigrationCsvReader, MigrationRow, Rejection, RejectionWriter, RowAttributes,
};
use crate::operations::{self, SCHEMA_VERSION_ATTRIBUTE};
use crate::ports::objects::ObjectInfo;
use crate::process::read_data_rows;
use crate::publish::PublishContext;
use crate::value::plain_json::Shape;
use crate::value::{AttributeValue, Attributes};

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

/// Rows per message between Transform's stages.
const STAGE_BATCH: usize = 256;

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
    /// No rule of the job reads or changes attribute values (no operation, schema version,
    /// JSON Schema or reference): a row whose attributes the CSV reader could take as text
    /// ([`RowAttributes::Json`]) is checked from their [`Shape`] and written as read.
    text_rows: bool,
    /// Bounds of what the job's items hold besides the row's own strings and attributes.
    skeleton: SkeletonBounds,
    /// Reads each row's attributes text (its buffers kept from row to row).
    shapes: crate::value::plain_json::ShapeReader,
}

/// What a row's command and data items hold besides the row's own strings (keys, code, name,
/// tenant, type, seq, ttl) and attributes: measured once per job on a row whose strings are
/// empty, so most rows are cleared of DynamoDB's limits by arithmetic on their lengths alone.
struct SkeletonBounds {
    /// The larger item size (command or data) of the empty row, at the longest version.
    item_size: usize,
    /// The JSON length of the pipeline's metadata attributes of the empty row.
    metadata_json: usize,
}

/// Each of a row's strings appears in an item at most this many times (the sk, for example, in
/// `sk`, `id`, `csk`, and with the source pk in `_migratedFrom` and `_sourceKey`).
const STRING_REPEATS: usize = 8;
/// Room for what the empty row lacks: `_migratedFrom`, `_sourceKey` and `_sourceVersion` with
/// their names, the line number in `requestId`, separators.
const SKELETON_SLACK: usize = 1024;

impl SkeletonBounds {
    fn of_job(publish: &PublishContext) -> Self {
        let empty = MigrationRow::<()>::default();
        let mut next = crate::publish::map_row_skeleton(&empty, publish);
        next.version = 9_999_999_999;
        let item_size = crate::limits::item_size(&next.to_command_item())
            .max(crate::limits::item_size(&next.to_data_item()));
        SkeletonBounds {
            item_size,
            metadata_json: crate::value::attributes_to_json_string(&next.attributes).len(),
        }
    }

    /// Whether a row with these strings and attributes of this shape is certain to fit every
    /// limit [`check_limits`] checks: both items well under 400 KB, attributes not offloaded to
    /// S3, keys within DynamoDB's lengths, nesting within 32 levels. `false` means "check it
    /// exactly", not "too large".
    fn clears<A>(&self, row: &MigrationRow<A>, shape: &Shape, publish: &PublishContext) -> bool {
        let strings = [
            row.source_pk.len(),
            row.source_sk.len(),
            row.code.len(),
            row.name.len(),
            row.target_tenant_code.len(),
            row.entity_type.as_ref().map_or(0, |t| t.len()),
            row.seq.as_ref().map_or(0, |s| s.len()),
            row.ttl.as_ref().map_or(0, |t| t.len()),
        ]
        .iter()
        .sum::<usize>();
        let size = self.item_size + STRING_REPEATS * strings + SKELETON_SLACK + shape.entries_size;
        let json = self.metadata_json + STRING_REPEATS * strings + SKELETON_SLACK + shape.json_len;
        let pk_len = row.target_type().len() + 1 + row.target_tenant().len();
        size <= crate::limits::MAX_ITEM_BYTES
            && json <= publish.large_attributes.limit
            && shape.depth <= crate::value::MAX_DEPTH
            // `{sk}@{version}`: ten digits at most.
            && !row.source_sk.is_empty()
            && row.source_sk.len() + 11 <= crate::limits::MAX_SK_BYTES
            && !row.target_type().is_empty()
            && !row.target_tenant().is_empty()
            && pk_len <= crate::limits::MAX_PK_BYTES
    }
}

impl RowRules {
    fn new(job: &PreparedJob, deps: &Deps) -> Result<Self, Error> {
        let schema = match &job.options.validation.attributes_schema {
            Some(s) => Some(operations::compile_schema(s)?),
            None => None,
        };
        let options = &job.options;
        let text_rows = options.operations.is_empty()
            && options.schema_version.is_none()
            && schema.is_none()
            && options.validation.references.is_empty();
        let publish = job.publish_context(deps);
        Ok(RowRules {
            options: job.options.clone(),
            restores: job.spec.restores_rows(),
            schema,
            skeleton: SkeletonBounds::of_job(&publish),
            publish,
            text_rows,
            shapes: Default::default(),
        })
    }

    /// Whether a row with attributes of this shape is checked as text: the job's rules leave
    /// its attributes alone, no name is one of the pipeline's own (`_…`), and no number needs
    /// the job's `unsafeNumbers` (which names the number, or changes it).
    fn takes_text(&self, shape: &Shape) -> bool {
        self.text_rows
            && !shape.underscore_names
            && (!shape.unsafe_numbers
                || self.options.unsafe_numbers == crate::js_numbers::UnsafeNumbers::Keep)
    }

    /// Operations, schema version, JSON Schema, numbers, limits. Rollback rows are restored
    /// exactly as they were. Returns the row (its attributes as values where a rule needed
    /// them) and the verdict.
    fn apply(
        &mut self,
        row: MigrationRow<RowAttributes>,
    ) -> (MigrationRow<RowAttributes>, Result<(), (String, String)>) {
        // The column is read here, on the rules' thread, rather than by the CSV parser: as text
        // with its shape where the row may be written as read, else straight into values.
        let (row, column) = row.with_attributes(());
        let attributes = if self.text_rows || self.restores {
            column.read(&mut self.shapes)
        } else {
            column.into_column_values().map(RowAttributes::Values)
        };
        let row = match attributes {
            Ok(attributes) => row.with_attributes(attributes).0,
            Err(reason) => {
                let row = row.with_attributes(RowAttributes::default()).0;
                return (row, Err(("attributes".to_string(), reason)));
            }
        };
        if self.restores {
            return (row, Ok(()));
        }
        if let RowAttributes::Json { shape, .. } = &row.attributes
            && self.takes_text(shape)
        {
            let shape = *shape;
            let verdict = self.check_seq_ttl(&row).and_then(|()| {
                if self.skeleton.clears(&row, &shape, &self.publish) {
                    return Ok(());
                }
                check_limits(&self.publish, &row, |metadata| {
                    AddedAttributes::of_shape(&shape, metadata)
                })
            });
            return (row, verdict);
        }
        let mut failed = None;
        let mut row = row.map_attributes(|a| {
            a.into_values().unwrap_or_else(|e| {
                failed = Some(e.to_string());
                Attributes::new()
            })
        });
        let verdict = match failed {
            Some(reason) => Err(("attributes".to_string(), reason)),
            None => self.apply_to_values(&mut row),
        };
        (row.map_attributes(RowAttributes::Values), verdict)
    }

    /// `seq` and `ttl` are read by the app's JavaScript whatever the job says.
    fn check_seq_ttl<A>(&self, row: &MigrationRow<A>) -> Result<(), (String, String)> {
        for (field, value) in [("seq", &row.seq), ("ttl", &row.ttl)] {
            if let Some(v) = value {
                crate::js_numbers::check_field(field, v).map_err(|e| (field.to_string(), e))?;
            }
        }
        Ok(())
    }

    fn apply_to_values(&mut self, row: &mut MigrationRow) -> Result<(), (String, String)> {
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
                row.attributes
                    .insert(SCHEMA_VERSION_ATTRIBUTE.into(), crate::value::n(target));
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
        self.check_seq_ttl(row)?;
        check_limits_of_values(&self.publish, row)
    }
}

/// What a row's own attributes add to an item whose `attributes` map holds the pipeline's
/// metadata (an entry of the metadata replaces the row's of the same name): DynamoDB size of
/// the added entries, their depth inside the map, and the JSON length of the whole map.
struct AddedAttributes {
    size: usize,
    depth: usize,
    json_len: usize,
}

impl AddedAttributes {
    /// From values (names the metadata also has are left out).
    fn of_values(attributes: &Attributes, metadata: &Attributes) -> Self {
        let (mut size, mut depth) = (0, 0);
        for (k, v) in attributes
            .iter()
            .filter(|(k, _)| !metadata.contains_key(*k))
        {
            size += 1 + k.len() + crate::limits::value_size(v);
            depth = depth.max(1 + crate::limits::depth(v));
        }
        AddedAttributes {
            size,
            depth,
            json_len: crate::value::overlaid_json_len(attributes, metadata),
        }
    }

    /// From the shape of attributes whose names are not the metadata's (no `_` name).
    fn of_shape(shape: &Shape, metadata: &Attributes) -> Self {
        let metadata_json = crate::value::attributes_to_json_string(metadata).len();
        let json_len = match (shape.entries, metadata.is_empty()) {
            (0, _) => metadata_json,
            (_, true) => shape.json_len,
            // `{a}` and `{m}` make `{m,a}`.
            _ => shape.json_len + metadata_json - 1,
        };
        AddedAttributes {
            size: shape.entries_size,
            depth: if shape.entries == 0 { 0 } else { shape.depth },
            json_len,
        }
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

/// [`check_limits`] of a row whose attributes are values.
fn check_limits_of_values(
    publish: &PublishContext,
    row: &mut MigrationRow,
) -> Result<(), (String, String)> {
    let attributes = std::mem::take(&mut row.attributes);
    let checked = check_limits(publish, row, |metadata| {
        AddedAttributes::of_values(&attributes, metadata)
    });
    row.attributes = attributes;
    checked
}

/// The command and data items the row becomes must fit DynamoDB's limits (key lengths,
/// 400 KB, 32 levels), taking the framework's S3 offload of large attributes into account,
/// and an offloaded object's key must fit S3's 1,024 bytes.
///
/// The items are built from the row *without* its attributes (`skeleton`'s are not read: only
/// the pipeline's metadata attributes go in); what the row's own attributes add is counted
/// (`added`, from their values or from their JSON text's [`Shape`]). The answer is the one of
/// building the whole items (property tests hold the two together), without cloning or even
/// building every row's attributes.
fn check_limits<A>(
    publish: &PublishContext,
    skeleton: &MigrationRow<A>,
    added: impl FnOnce(&Attributes) -> AddedAttributes,
) -> Result<(), (String, String)> {
    let mut next = crate::publish::map_row_skeleton(skeleton, publish);
    // The longest versioned sk a command can get.
    next.version = 9_999_999_999;
    let large = &publish.large_attributes;
    let added = added(&next.attributes);
    let offloaded = added.json_len > large.limit;
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
                AttributeValue::S(compact_str::format_compact!("s3://{}/{key}", large.bucket)),
            );
        }
        crate::limits::check_item_with_added(&item, added.size, added.depth)
            .map_err(|why| limit_rejection(table, why))?;
    }
    Ok(())
}

/// Chunks being written at once: a put of the local store syncs its file (≈2 ms), so the
/// writer does not wait for each before it fills the next.
const CHUNKS_IN_FLIGHT: usize = 4;

/// A chunk's rows as the manifest keeps them (a chunk holds at most the chunk size).
fn rows_of(entry: &ChunkEntry) -> u32 {
    u32::try_from(entry.rows).unwrap_or(u32::MAX)
}

struct ChunkWriter<'a> {
    deps: &'a Deps,
    job: &'a PreparedJob,
    artifacts: &'a JobArtifacts,
    rows: Vec<(MigrationRow<RowAttributes>, String)>,
    /// The rows of each chunk written, chunk 1 first (4 bytes a chunk: the manifest is
    /// written from them at the end).
    chunk_rows: Vec<u32>,
    /// The first line of each chunk started (a chunk's rows are the lines from its first up to
    /// the next chunk's).
    first_lines: Vec<u64>,
    /// The target keys of the rows in chunks.
    keys: KeyLog,
    /// Chunk puts under way, oldest first (each serializes and writes its rows).
    saving: std::collections::VecDeque<tokio::task::JoinHandle<Result<ChunkEntry, Error>>>,
}

impl ChunkWriter<'_> {
    /// Checks references of the buffered rows, starts writing the good ones as a chunk, returns
    /// the rejected.
    async fn flush(&mut self) -> Result<Vec<Rejection>, Error> {
        if self.rows.is_empty() {
            return Ok(Vec::new());
        }
        let rows = std::mem::take(&mut self.rows);
        let (good, rejected) = check_references(self.deps, self.job, rows).await?;
        let Some(first) = good.first() else {
            return Ok(rejected);
        };
        self.first_lines.push(first.line);
        for row in &good {
            self.keys
                .record(row)
                .map_err(|e| Error::Retryable(format!("recording target keys: {e}")))?;
        }
        while self.saving.len() >= CHUNKS_IN_FLIGHT {
            self.finish_oldest().await?;
        }
        let index = (self.chunk_rows.len() + self.saving.len()) as u32 + 1;
        let artifacts = self.artifacts.clone();
        self.saving.push_back(tokio::spawn(async move {
            artifacts.save_chunk(index, good).await
        }));
        Ok(rejected)
    }

    async fn finish_oldest(&mut self) -> Result<(), Error> {
        if let Some(saving) = self.saving.pop_front() {
            let entry = saving
                .await
                .map_err(|e| Error::Retryable(format!("writing a chunk failed: {e}")))??;
            self.chunk_rows.push(rows_of(&entry));
            crate::kill_points::reached("transform:chunk");
        }
        Ok(())
    }

    /// Waits until every chunk started is written (before one is read back, and at the end).
    async fn finish_all(&mut self) -> Result<(), Error> {
        while !self.saving.is_empty() {
            self.finish_oldest().await?;
        }
        Ok(())
    }
}

async fn check_references(
    deps: &Deps,
    job: &PreparedJob,
    rows: Vec<(MigrationRow<RowAttributes>, String)>,
) -> Result<(Vec<MigrationRow<RowAttributes>>, Vec<Rejection>), Error> {
    let references = &job.options.validation.references;
    if references.is_empty() || job.spec.restores_rows() {
        return Ok((rows.into_iter().map(|(r, _)| r).collect(), Vec::new()));
    }
    let wanted = |row: &MigrationRow<RowAttributes>| -> Vec<(String, Key)> {
        // A job with references reads attributes as values (RowRules::text_rows).
        let RowAttributes::Values(attributes) = &row.attributes else {
            return Vec::new();
        };
        references
            .iter()
            .filter_map(|r| {
                let id = match attributes.get(r.field.as_str()) {
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
    let found = read_data_rows(
        deps.tables.as_ref(),
        &deps.table_names.data,
        &keys,
        Some(crate::process::STATE_FIELDS),
    )
    .await?;
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
        row: MigrationRow<RowAttributes>,
        record: String,
        verdict: Result<(), (String, String)>,
    },
}

/// Counts the bytes read from the source object, for progress.
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}

/// The source for the parser's thread: the store's blocking reader (a local file, read
/// straight into the parser's buffer), or its stream bridged (S3).
async fn open_source(
    deps: &Deps,
    source: &SourceRef,
) -> Result<crate::ports::objects::BlockingObjectReader, Error> {
    let objects = &deps.objects;
    if let Some(reader) = objects
        .get_object_blocking(&source.bucket, &source.key)
        .await?
    {
        return Ok(reader);
    }
    let body = objects.get_object(&source.bucket, &source.key).await?;
    Ok(Box::new(tokio_util::io::SyncIoBridge::new(body)))
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
    let bytes_read = Arc::new(AtomicU64::new(0));
    let input = CountingReader {
        inner: open_source(deps, source).await?,
        count: bytes_read.clone(),
    };
    // Each item travels with its raw record, so a row rejected by a later check (operations,
    // schema, references) is reported in rejected.csv exactly as it was in the file. Rows go
    // from stage to stage in batches: one channel message per row would cost more than a row's
    // checks.
    type Batch<T> = Result<Vec<T>, Error>;
    let (tx, mut rx) = mpsc::channel::<Batch<(CsvItem<RowAttributes>, String)>>(8);
    let location = format!("s3://{}/{}", source.bucket, source.key);
    let parser = tokio::task::spawn_blocking(move || {
        // The reader reads the object in large pieces itself and splits records in its own
        // buffer.
        let mut reader = match MigrationCsvReader::new(input) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(Err(Error::invalid(format!("{location}: {e}"))));
                return;
            }
        };
        let mut batch = Vec::with_capacity(STAGE_BATCH);
        while let Some(item) = reader.next_record() {
            match item {
                Ok(item) => batch.push(item),
                Err(e) => {
                    let failed = Error::Retryable(format!("{location}: reading failed: {e}"));
                    if !batch.is_empty() {
                        let _ = tx.blocking_send(Ok(std::mem::take(&mut batch)));
                    }
                    let _ = tx.blocking_send(Err(failed));
                    return;
                }
            }
            if batch.len() == STAGE_BATCH
                && tx
                    .blocking_send(Ok(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(STAGE_BATCH),
                    )))
                    .is_err()
            {
                return; // the receiver gave up (an error): stop reading
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(Ok(batch));
        }
    });
    // The row rules (operations, schema, numbers, limits) run on a thread of their own, between
    // the parser and the chunk writer: the three stages overlap on the machine's cores. Each
    // row comes out in file order with its verdict.
    let (checked_tx, mut checked_rx) = mpsc::channel::<Batch<Checked>>(8);
    let checker = tokio::task::spawn_blocking(move || {
        while let Some(items) = rx.blocking_recv() {
            let checked = items.map(|items| {
                items
                    .into_iter()
                    .map(|(item, record)| match item {
                        CsvItem::Rejected(r) => Checked::Rejected(r),
                        CsvItem::Row(row) => {
                            let (row, verdict) = rules.apply(row);
                            Checked::Row {
                                row,
                                record,
                                verdict,
                            }
                        }
                    })
                    .collect()
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
        chunk_rows: Vec::new(),
        first_lines: Vec::new(),
        keys: KeyLog::new(RUN_ENTRIES),
        saving: Default::default(),
    };
    let (mut total, mut rejected) = (0u64, 0u64);
    let mut reject = |r: &Rejection, rejected: &mut u64| -> Result<(), Error> {
        *rejected += 1;
        rejected_out
            .write(r)
            .map_err(|e| Error::Retryable(format!("writing rejected.csv: {e}")))
    };
    while let Some(batch) = checked_rx.recv().await {
        for item in batch? {
            if total % PROGRESS_EVERY == 0 {
                let read = bytes_read.load(Ordering::Relaxed);
                deps.progress.rows("Transform", total, Some((read, size)));
            }
            match item {
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
                    match verdict {
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
    writer.finish_all().await?;
    take_out_duplicates(&mut writer, source, &etag, deps, &mut |r| {
        reject(&r, &mut rejected)
    })
    .await?;
    deps.progress.rows("Transform", total, Some((size, size)));
    let mut out = rejected_out.into_inner().map_err(StoreError::from)?;
    out.flush().map_err(StoreError::from)?;
    drop(out);
    // Both puts sync their file: side by side, the state waits for one sync instead of two.
    let (rejected_key, manifest_key) = tokio::try_join!(
        artifacts.put_file(Artifact::Rejected, rejected_file.path()),
        artifacts.save_manifest(&writer.chunk_rows),
    )?;
    let valid = writer.chunk_rows.iter().map(|r| u64::from(*r)).sum();
    Ok(TransformSummary {
        bucket: deps.bucket.clone(),
        manifest_key,
        rejected_key,
        chunks: writer.chunk_rows.len() as u32,
        total,
        valid,
        rejected,
        source_etag: etag,
    })
}

/// A duplicate, with its record as it is in the file.
type QuotedDuplicate = (Duplicate, String);

/// Takes every later row of an entity out of its chunk and rejects it, naming the first row.
/// They are found once the whole file is read ([`duplicate_keys`]); a second read of the file
/// quotes their records exactly as they are (chunks keep no raw text). Duplicates come in line
/// order, so the file and the chunks are each read once, and one chunk is in memory at a time.
/// Their rejections follow the others in `rejected.csv`.
async fn take_out_duplicates(
    writer: &mut ChunkWriter<'_>,
    source: &SourceRef,
    etag: &str,
    deps: &Deps,
    reject: &mut (dyn FnMut(Rejection) -> Result<(), Error> + Send),
) -> Result<(), Error> {
    let keys = std::mem::replace(&mut writer.keys, KeyLog::new(RUN_ENTRIES));
    let sorting = |e: std::io::Error| Error::Retryable(format!("sorting target keys: {e}"));
    let mut duplicates = tokio::task::spawn_blocking(move || keys.duplicates())
        .await
        .map_err(|e| Error::Retryable(format!("sorting target keys: {e}")))?
        .map_err(sorting)?
        .peekable();
    if duplicates.peek().is_none() {
        return Ok(());
    }
    let location = format!("s3://{}/{}", source.bucket, source.key);
    let input = open_source(deps, source).await?;
    let (tx, mut rx) = mpsc::channel::<Result<QuotedDuplicate, Error>>(64);
    let quoting = tokio::task::spawn_blocking(move || {
        let changed = |line: u64| {
            Error::invalid(format!(
                "{location} changed while Transform read it (line {line} is no longer a row); start a new job"
            ))
        };
        let quote = || -> Result<(), Error> {
            let mut reader = MigrationCsvReader::new(input)
                .map_err(|e| Error::invalid(format!("{location}: {e}")))?;
            for duplicate in duplicates {
                let duplicate = duplicate.map_err(sorting)?;
                let record = loop {
                    let (item, record) = reader
                        .next_record()
                        .ok_or_else(|| changed(duplicate.line))?
                        .map_err(|e| {
                            Error::Retryable(format!("{location}: reading failed: {e}"))
                        })?;
                    let line = match &item {
                        CsvItem::Row(row) => row.line,
                        CsvItem::Rejected(r) => r.line,
                    };
                    match line.cmp(&duplicate.line) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal => break record,
                        std::cmp::Ordering::Greater => return Err(changed(duplicate.line)),
                    }
                };
                if tx.blocking_send(Ok((duplicate, record))).is_err() {
                    return Ok(()); // the receiver gave up (an error)
                }
            }
            Ok(())
        };
        if let Err(e) = quote() {
            let _ = tx.blocking_send(Err(e));
        }
    });
    // The chunk being changed: its index and rows.
    let mut open: Option<(u32, Vec<MigrationRow>)> = None;
    while let Some(quoted) = rx.recv().await {
        let (duplicate, record) = quoted?;
        let index = writer
            .first_lines
            .partition_point(|first| *first <= duplicate.line) as u32;
        if index == 0 {
            return Err(Error::MigrationFailed(format!(
                "line {} comes before the first chunk",
                duplicate.line
            )));
        }
        if open.as_ref().is_none_or(|(i, _)| *i != index) {
            if let Some((i, rows)) = open.take() {
                writer.chunk_rows[i as usize - 1] =
                    rows_of(&writer.artifacts.save_chunk(i, rows).await?);
            }
            open = Some((index, writer.artifacts.load_chunk(index).await?));
        }
        let Some((_, rows)) = open.as_mut() else {
            continue;
        };
        let Some(at) = rows.iter().position(|r| r.line == duplicate.line) else {
            return Err(Error::MigrationFailed(format!(
                "line {} is not in chunk {index}, where Transform wrote it",
                duplicate.line
            )));
        };
        let row = rows.remove(at);
        reject(Rejection {
            line: row.line,
            column: Some("sourceSk".into()),
            reason: format!(
                "targets {} / {}, like line {}: one job writes each entity once",
                row.target_pk(),
                row.source_sk,
                duplicate.first
            ),
            record,
        })?;
    }
    if let Some((i, rows)) = open.take() {
        writer.chunk_rows[i as usize - 1] = rows_of(&writer.artifacts.save_chunk(i, rows).await?);
    }
    quoting
        .await
        .map_err(|e| Error::Retryable(format!("quoting duplicates failed: {e}")))?;
    // The records quoted must be the file's that was checked: not another one of the same shape.
    let now = deps
        .objects
        .head_object(&source.bucket, &source.key)
        .await?;
    if now.is_none_or(|h| h.etag != etag) {
        return Err(Error::invalid(format!(
            "s3://{}/{} changed while Transform read it; start a new job",
            source.bucket, source.key
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
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
        let mut next = crate::publish::map_row(row, None, publish, None);
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
                    AttributeValue::S(compact_str::format_compact!("s3://{}/{key}", large.bucket)),
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
    fn name() -> impl Strategy<Value = crate::value::Text> {
        prop::sample::select(vec![
            "a",
            "b",
            "_migrationId",
            "_migrated",
            "_sourceKey",
            "_migratedFrom",
        ])
        .prop_map(crate::value::Text::from)
    }

    /// Scalars of every size class: tiny, around the offload limit, around 400 KB.
    fn scalar() -> impl Strategy<Value = AttributeValue> {
        prop_oneof![
            prop::sample::select(vec![0usize, 7, 1_500, 3_000, 200_000, 409_000])
                .prop_map(|n| AttributeValue::S("x".repeat(n).into())),
            (0u64..u64::MAX).prop_map(|n| AttributeValue::N(n.to_string().into())),
            any::<bool>().prop_map(AttributeValue::Bool),
        ]
    }

    /// Values up to 40 levels deep (DynamoDB allows 32).
    fn value() -> impl Strategy<Value = AttributeValue> {
        (scalar(), 0usize..40, any::<bool>()).prop_map(|(mut v, levels, maps)| {
            for _ in 0..levels {
                v = if maps {
                    AttributeValue::M(std::collections::BTreeMap::from([("k".into(), v)]))
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
            prop::sample::select(vec![1usize, 1_000, 60_000, 150_000, 390_000]),
        )
            .prop_map(
                |(attributes, sk_len, tenant, name_len): (Attributes, usize, &str, usize)| {
                    MigrationRow {
                        line: 2,
                        source_pk: "PRODUCT#T".into(),
                        source_sk: "s".repeat(sk_len).into(),
                        code: "c".into(),
                        name: "n".repeat(name_len).into(),
                        attributes,
                        target_tenant_code: tenant.into(),
                        entity_type: None,
                        version: Some(3),
                        is_deleted: None,
                        seq: None,
                        ttl: None,
                    }
                },
            )
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
            let same = |got: &Result<(), (String, String)>| match (got, &expected) {
                // The S3-key message is worded in full only by the real check.
                (Err((c, _)), Err((e, why))) if why.starts_with("S3 key") => c == e,
                _ => *got == expected,
            };
            let mut checked = row.clone();
            let got = check_limits_of_values(&publish, &mut checked);
            prop_assert_eq!(&checked, &row);
            prop_assert!(same(&got), "values: {:?} vs {:?}", got, expected);
            // The same row read as JSON text: where its shape is taken (no `_` name), the
            // answer from the shape is the same too.
            let text = crate::value::attributes_to_json_string(&row.attributes);
            if let Some(shape) = Shape::of_attributes(&text).filter(|s| !s.underscore_names) {
                let got = check_limits(&publish, &row, |metadata| {
                    AddedAttributes::of_shape(&shape, metadata)
                });
                prop_assert!(same(&got), "shape: {:?} vs {:?}", got, expected);
                // A row the job's bounds clear by its lengths alone fits every limit.
                if SkeletonBounds::of_job(&publish).clears(&row, &shape, &publish) {
                    prop_assert_eq!(&expected, &Ok(()));
                }
            }
        }
    }
}
