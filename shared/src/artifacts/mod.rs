//! The files of one job under `jobs/<jobId>/` in the pipeline's bucket (DESIGN §6), and the one
//! place their keys are spelled: [`Artifact::key`]. [`JobArtifacts`] loads and saves each of
//! them as its type, so no handler reads another handler's output by hand.
//!
//! ```text
//! jobs/<jobId>/export.csv, export.json          Export (table-sourced modes)
//! jobs/<jobId>/transform.json, rejected.csv     Transform
//! jobs/<jobId>/chunks/manifest.json, NNNNN.jsonl
//! jobs/<jobId>/results/chunks/NNNNN.json        ProcessChunk, one per chunk
//! jobs/<jobId>/results/map/…                    the Distributed Map's ResultWriter
//! jobs/<jobId>/report.json, report.md           Verify / RecordFailure
//! jobs/<jobId>/written.jsonl                    Verify (publishMode direct)
//! ```

mod types;
pub mod written_log;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, StoreError};
use crate::migration_csv::MigrationRow;
use crate::ports::ObjectStore;
use crate::ports::objects::{ObjectReader, copy_to_file, get_bytes, get_bytes_if_exists, list_all};
use crate::process::Counts;
use crate::value::plain_attributes::{Spliced, ToPlainJson};
use crate::value::plain_json::write_json_str;

pub use types::{
    ChunkEntry, ChunkResult, ExportSummary, SegmentSummary, SourceRef, TransformSummary,
};
pub use written_log::WrittenLog;

/// Rows per transformed chunk (one Distributed Map item), unless configured.
pub const DEFAULT_CHUNK_ROWS: usize = 500;

/// One file of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    ExportCsv,
    ExportSummary,
    /// One segment of a table-wide export's parallel scan (`ExportSegment`), and its summary.
    ExportSegment(u32),
    ExportSegmentSummary(u32),
    /// The legacy partitions a table-wide export found (what Verify re-checks).
    ExportPartitions,
    TransformSummary,
    Rejected,
    Manifest,
    Chunk(u32),
    /// The folder of the chunk results.
    ChunkResults,
    ChunkResult(u32),
    /// The Distributed Map's ResultWriter prefix (`$.job.resultsPrefix`).
    MapResults,
    ReportJson,
    ReportMarkdown,
    Written,
}

/// `jobs/<jobId>/`.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/")
}

impl Artifact {
    pub fn key(self, job_id: &str) -> String {
        let prefix = job_prefix(job_id);
        match self {
            Artifact::ExportCsv => format!("{prefix}export.csv"),
            Artifact::ExportSummary => format!("{prefix}export.json"),
            Artifact::ExportSegment(i) => format!("{prefix}export/segment-{i:04}.csv"),
            Artifact::ExportSegmentSummary(i) => format!("{prefix}export/segment-{i:04}.json"),
            Artifact::ExportPartitions => format!("{prefix}export/partitions.json"),
            Artifact::TransformSummary => format!("{prefix}transform.json"),
            Artifact::Rejected => format!("{prefix}rejected.csv"),
            Artifact::Manifest => format!("{prefix}chunks/manifest.json"),
            Artifact::Chunk(index) => format!("{prefix}chunks/{index:05}.jsonl"),
            Artifact::ChunkResults => format!("{prefix}results/chunks/"),
            Artifact::ChunkResult(index) => format!("{prefix}results/chunks/{index:05}.json"),
            Artifact::MapResults => format!("{prefix}results/map"),
            Artifact::ReportJson => format!("{prefix}report.json"),
            Artifact::ReportMarkdown => format!("{prefix}report.md"),
            Artifact::Written => format!("{prefix}written.jsonl"),
        }
    }
}

/// The files of one job, typed.
#[derive(Clone)]
pub struct JobArtifacts {
    objects: Arc<dyn ObjectStore>,
    bucket: String,
    job_id: String,
}

/// One chunk row as a JSON object. Attributes held as the text they were read as (nearly every
/// row Transform writes) go in as that text, in front of the row's other fields, which
/// [`write_spliced_fields`] writes after them ([`Spliced`]: the row without its attributes).
fn write_chunk_row<A: ToPlainJson>(
    body: &mut Vec<u8>,
    row: MigrationRow<A>,
) -> Result<(), serde_json::Error> {
    let (rest, attributes) = row.with_attributes(Spliced);
    let Some(text) = attributes.json_text() else {
        return serde_json::to_writer(body, &rest.with_attributes(attributes).0);
    };
    body.extend_from_slice(b"{\"attributesJson\":");
    body.extend_from_slice(text.as_bytes());
    write_spliced_fields(body, rest)
}

/// The fields of a row whose attributes were just written, and the closing brace: the bytes
/// serde_json writes for the row's object without its attributes, from its comma on (a test
/// holds them equal). Written here because serde_json escapes a string byte by byte through a
/// table, which was 6 % of Transform's instructions; [`write_json_str`] copies a string with
/// nothing to escape at once. Every field is named below, so a new field of the row does not
/// compile until it is written here too.
fn write_spliced_fields(
    body: &mut Vec<u8>,
    row: MigrationRow<Spliced>,
) -> Result<(), serde_json::Error> {
    let MigrationRow {
        line,
        source_pk,
        source_sk,
        code,
        name,
        attributes: Spliced,
        target_tenant_code,
        entity_type,
        version,
        is_deleted,
        seq,
        ttl,
    } = row;
    let mut number = itoa::Buffer::new();
    body.extend_from_slice(b",\"line\":");
    body.extend_from_slice(number.format(line).as_bytes());
    for (field, value) in [
        (&b",\"sourcePk\":"[..], &source_pk),
        (b",\"sourceSk\":", &source_sk),
        (b",\"code\":", &code),
        (b",\"name\":", &name),
        (b",\"targetTenantCode\":", &target_tenant_code),
    ] {
        body.extend_from_slice(field);
        write_json_str(body, value)?;
    }
    if let Some(entity_type) = &entity_type {
        body.extend_from_slice(b",\"type\":");
        write_json_str(body, entity_type)?;
    }
    if let Some(version) = version {
        body.extend_from_slice(b",\"version\":");
        body.extend_from_slice(number.format(version).as_bytes());
    }
    if let Some(is_deleted) = is_deleted {
        body.extend_from_slice(if is_deleted {
            b",\"isDeleted\":true"
        } else {
            b",\"isDeleted\":false"
        });
    }
    for (field, value) in [(&b",\"seq\":"[..], &seq), (b",\"ttl\":", &ttl)] {
        if let Some(value) = value {
            body.extend_from_slice(field);
            write_json_str(body, value)?;
        }
    }
    body.push(b'}');
    Ok(())
}

fn corrupt(key: &str, e: impl std::fmt::Display) -> Error {
    Error::from(StoreError::Corrupt(format!("{key}: {e}")))
}

impl JobArtifacts {
    pub fn new(objects: Arc<dyn ObjectStore>, bucket: &str, job_id: &str) -> Self {
        JobArtifacts {
            objects,
            bucket: bucket.to_string(),
            job_id: job_id.to_string(),
        }
    }

    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self, artifact: Artifact) -> String {
        artifact.key(&self.job_id)
    }

    /// The artifact's bytes, if it exists.
    pub async fn read(&self, artifact: Artifact) -> Result<Option<Vec<u8>>, Error> {
        Ok(get_bytes_if_exists(self.objects.as_ref(), &self.bucket, &self.key(artifact)).await?)
    }

    async fn load<T: DeserializeOwned>(&self, artifact: Artifact) -> Result<Option<T>, Error> {
        let key = self.key(artifact);
        match get_bytes_if_exists(self.objects.as_ref(), &self.bucket, &key).await? {
            Some(bytes) => crate::value::from_json_bytes(&bytes)
                .map(Some)
                .map_err(|e| corrupt(&key, e)),
            None => Ok(None),
        }
    }

    async fn save<T: Serialize>(&self, artifact: Artifact, value: &T) -> Result<String, Error> {
        let key = self.key(artifact);
        let body = serde_json::to_vec(value).map_err(|e| corrupt(&key, e))?;
        self.put(artifact, body).await?;
        Ok(key)
    }

    /// Stores a small artifact at once.
    pub async fn put(&self, artifact: Artifact, body: Vec<u8>) -> Result<(), Error> {
        self.objects
            .put_object(&self.bucket, &self.key(artifact), body)
            .await?;
        Ok(())
    }

    /// Stores a large artifact (export.csv, rejected.csv, written.jsonl), streamed.
    pub async fn put_stream(
        &self,
        artifact: Artifact,
        body: ObjectReader,
    ) -> Result<String, Error> {
        let key = self.key(artifact);
        self.objects
            .put_object_stream(&self.bucket, &key, body)
            .await?;
        Ok(key)
    }

    /// Streams a file written by a state (a temporary file) to the artifact.
    pub async fn put_file(
        &self,
        artifact: Artifact,
        path: &std::path::Path,
    ) -> Result<String, Error> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(StoreError::from)?;
        self.put_stream(artifact, Box::pin(file)).await
    }

    pub async fn load_export(&self) -> Result<Option<ExportSummary>, Error> {
        self.load(Artifact::ExportSummary).await
    }

    pub async fn save_export(&self, summary: &ExportSummary) -> Result<(), Error> {
        self.save(Artifact::ExportSummary, summary).await.map(drop)
    }

    pub async fn load_segment(&self, segment: u32) -> Result<Option<SegmentSummary>, Error> {
        self.load(Artifact::ExportSegmentSummary(segment)).await
    }

    pub async fn save_segment(&self, summary: &SegmentSummary) -> Result<(), Error> {
        self.save(Artifact::ExportSegmentSummary(summary.segment), summary)
            .await
            .map(drop)
    }

    /// The legacy partitions (`TYPE#Tenant`) a table-wide export found, sorted.
    pub async fn load_partitions(&self) -> Result<Vec<String>, Error> {
        Ok(self
            .load(Artifact::ExportPartitions)
            .await?
            .unwrap_or_default())
    }

    pub async fn save_partitions(&self, partitions: &[String]) -> Result<(), Error> {
        self.save(Artifact::ExportPartitions, &partitions)
            .await
            .map(drop)
    }

    /// A streaming read of an artifact.
    pub async fn open(&self, artifact: Artifact) -> Result<ObjectReader, Error> {
        Ok(self
            .objects
            .get_object(&self.bucket, &self.key(artifact))
            .await?)
    }

    pub async fn load_transform(&self) -> Result<Option<TransformSummary>, Error> {
        self.load(Artifact::TransformSummary).await
    }

    pub async fn save_transform(&self, summary: &TransformSummary) -> Result<(), Error> {
        self.save(Artifact::TransformSummary, summary)
            .await
            .map(drop)
    }

    /// The rows of each chunk of the manifest, chunk 1 first: 4 bytes a chunk in memory, for a
    /// manifest of any length (the object is copied to a temp file and read one entry at a
    /// time). An entry out of order, or naming another key than its chunk's, is refused.
    pub async fn load_manifest_rows(&self) -> Result<Vec<u32>, Error> {
        use std::io::Seek;
        let key = self.key(Artifact::Manifest);
        let mut file = tempfile::tempfile().map_err(StoreError::from)?;
        match copy_to_file(self.objects.as_ref(), &self.bucket, &key, &file).await {
            Ok(()) => {}
            Err(StoreError::NotFound(_)) => return Err(corrupt(&key, "missing")),
            Err(e) => return Err(e.into()),
        }
        file.rewind().map_err(StoreError::from)?;
        let mut rows = Vec::new();
        let mut bad: Option<String> = None;
        let mut each = |entry: ChunkEntry| {
            let index = rows.len() as u32 + 1;
            if entry.index != index || entry.key != self.key(Artifact::Chunk(index)) {
                bad = Some(format!(
                    "entry {index} is chunk {} at {}, not chunk {index} at {}",
                    entry.index,
                    entry.key,
                    self.key(Artifact::Chunk(index))
                ));
                return false;
            }
            match u32::try_from(entry.rows) {
                Ok(n) => {
                    rows.push(n);
                    true
                }
                Err(_) => {
                    bad = Some(format!("entry {index} has {} rows", entry.rows));
                    false
                }
            }
        };
        let read = crate::asl::json_array::for_each(std::io::BufReader::new(file), &mut each);
        if let Some(why) = bad {
            return Err(corrupt(&key, why));
        }
        match read {
            Ok(()) => Ok(rows),
            // The temp file could not be read: not the manifest's fault.
            Err(crate::asl::json_array::ArrayError::Json(e)) if e.is_io() => {
                Err(StoreError::from(std::io::Error::from(e)).into())
            }
            Err(e) => Err(corrupt(&key, e)),
        }
    }

    /// Writes the manifest of chunks 1, 2, … with these rows (streamed from a temp file).
    pub async fn save_manifest(&self, chunk_rows: &[u32]) -> Result<String, Error> {
        use std::io::Write;
        let file = tempfile::NamedTempFile::new().map_err(StoreError::from)?;
        let mut out = std::io::BufWriter::new(file.as_file());
        let mut write = || -> Result<(), std::io::Error> {
            out.write_all(b"[")?;
            for (i, rows) in chunk_rows.iter().enumerate() {
                let index = i as u32 + 1;
                if i > 0 {
                    out.write_all(b",")?;
                }
                let entry = ChunkEntry {
                    key: self.key(Artifact::Chunk(index)),
                    index,
                    rows: u64::from(*rows),
                };
                serde_json::to_writer(&mut out, &entry)?;
            }
            out.write_all(b"]")?;
            out.flush()
        };
        write().map_err(StoreError::from)?;
        drop(out);
        self.put_file(Artifact::Manifest, file.path()).await
    }

    /// Writes one chunk of validated rows (one JSON row per line) and returns its manifest entry.
    pub async fn save_chunk<A: ToPlainJson>(
        &self,
        index: u32,
        rows: Vec<MigrationRow<A>>,
    ) -> Result<ChunkEntry, Error> {
        let key = self.key(Artifact::Chunk(index));
        let count = rows.len() as u64;
        // A row is ≈0.6 KB of JSON in the reference data: room for 1 KB each, so the body is
        // rarely moved while it grows.
        let mut body = Vec::with_capacity(rows.len() * 1024);
        for row in rows {
            write_chunk_row(&mut body, row).map_err(|e| corrupt(&key, e))?;
            body.push(b'\n');
        }
        self.objects.put_object(&self.bucket, &key, body).await?;
        Ok(ChunkEntry {
            key,
            index,
            rows: count,
        })
    }

    /// The rows of chunk `index` (small: at most the chunk size).
    pub async fn load_chunk(&self, index: u32) -> Result<Vec<MigrationRow>, Error> {
        let key = &self.key(Artifact::Chunk(index));
        let bytes = get_bytes(self.objects.as_ref(), &self.bucket, key).await?;
        bytes
            .split(|b| *b == b'\n')
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(i, line)| {
                crate::value::from_json_bytes(line)
                    .map_err(|e| corrupt(key, format!("line {}: not a chunk row: {e}", i + 1)))
            })
            .collect()
    }

    /// The result of chunk `index`, if it was processed.
    pub async fn load_result(&self, index: u32) -> Result<Option<ChunkResult>, Error> {
        self.load(Artifact::ChunkResult(index)).await
    }

    pub async fn save_result(&self, result: &ChunkResult) -> Result<(), Error> {
        self.save(Artifact::ChunkResult(result.chunk), result)
            .await
            .map(drop)
    }

    /// Every chunk result of the job, in chunk order, one at a time (never all in memory).
    pub async fn result_indexes(&self) -> Result<Vec<u32>, Error> {
        let prefix = self.key(Artifact::ChunkResults);
        let objects = list_all(self.objects.as_ref(), &self.bucket, &prefix).await?;
        objects
            .iter()
            .map(|o| {
                o.key
                    .strip_prefix(&prefix)
                    .and_then(|name| name.strip_suffix(".json"))
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| corrupt(&o.key, "not a chunk result name"))
            })
            .collect()
    }

    /// The chunks of the manifest with their results, one at a time (never all in memory).
    pub async fn chunk_results(&self) -> Result<ChunkResults, Error> {
        Ok(ChunkResults {
            rows: self.load_manifest_rows().await?.into_iter(),
            index: 0,
            artifacts: self.clone(),
        })
    }

    /// The counts of a job so far: Transform's rejections plus every chunk result; rows of a
    /// chunk without a result count as failed (they were not processed).
    pub async fn counts_so_far(&self, transform: &TransformSummary) -> Result<Counts, Error> {
        let mut counts = Counts::of_transform(transform);
        let mut results = self.chunk_results().await?;
        while let Some((entry, result)) = results.next().await? {
            counts.add_chunk(&entry, result.as_ref());
        }
        Ok(counts)
    }

    /// Writes a rejected.csv with its header and no row unless the job has one: every key a
    /// job's output names exists (DESIGN §7), also for a job that rejected nothing.
    pub async fn ensure_rejected(&self) -> Result<(), Error> {
        if self.read(Artifact::Rejected).await?.is_some() {
            return Ok(());
        }
        let key = self.key(Artifact::Rejected);
        let header = crate::migration_csv::RejectionWriter::new(Vec::new())
            .map_err(|e| corrupt(&key, e))?
            .into_inner()
            .map_err(|e| corrupt(&key, e))?;
        self.put(Artifact::Rejected, header).await
    }

    /// Writes report.json (pretty) and report.md.
    pub async fn save_report(
        &self,
        json: &serde_json::Value,
        markdown: String,
    ) -> Result<(), Error> {
        let key = self.key(Artifact::ReportJson);
        let body = serde_json::to_vec_pretty(json).map_err(|e| corrupt(&key, e))?;
        self.put(Artifact::ReportJson, body).await?;
        self.put(Artifact::ReportMarkdown, markdown.into_bytes())
            .await
    }
}

/// A cursor over the chunk manifest, loading each chunk's result when asked.
pub struct ChunkResults {
    rows: std::vec::IntoIter<u32>,
    index: u32,
    artifacts: JobArtifacts,
}

impl ChunkResults {
    pub async fn next(&mut self) -> Result<Option<(ChunkEntry, Option<ChunkResult>)>, Error> {
        let Some(rows) = self.rows.next() else {
            return Ok(None);
        };
        self.index += 1;
        let entry = ChunkEntry {
            key: self.artifacts.key(Artifact::Chunk(self.index)),
            index: self.index,
            rows: u64::from(rows),
        };
        let result = self.artifacts.load_result(entry.index).await?;
        Ok(Some((entry, result)))
    }
}

impl Counts {
    /// Transform's part: its rejected rows.
    pub fn of_transform(transform: &TransformSummary) -> Counts {
        Counts {
            rejected: transform.rejected,
            total: transform.rejected,
            ..Counts::default()
        }
    }

    /// Adds one chunk: its result's counts, or all its rows as failed when it has none.
    pub fn add_chunk(&mut self, entry: &ChunkEntry, result: Option<&ChunkResult>) {
        match result {
            Some(r) => self.add(&r.counts),
            None => {
                self.total += entry.rows;
                self.failed += entry.rows;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A row written with its attributes spliced in is, byte for byte, the row's object as
        /// serde_json writes it (without attributes) behind them: what the chunk writer wrote
        /// before it wrote the fields itself.
        #[test]
        fn spliced_fields_are_serde_jsons_bytes(
            line in proptest::prelude::any::<u64>(),
            strings in proptest::collection::vec("[a-z\"\\\\\u{0}-\u{1f}\u{7f}é#/]{0,12}", 5),
            entity_type in proptest::option::of("[A-Z\"#]{0,6}"),
            version in proptest::option::of(proptest::prelude::any::<u64>()),
            is_deleted in proptest::option::of(proptest::prelude::any::<bool>()),
            seq in proptest::option::of("[0-9a-z\"]{0,6}"),
            ttl in proptest::option::of("[0-9\\\\]{0,6}"),
        ) {
            let row = MigrationRow {
                line,
                source_pk: strings[0].as_str().into(),
                source_sk: strings[1].as_str().into(),
                code: strings[2].as_str().into(),
                name: strings[3].as_str().into(),
                attributes: Spliced,
                target_tenant_code: strings[4].as_str().into(),
                entity_type: entity_type.map(Into::into),
                version,
                is_deleted,
                seq: seq.map(Into::into),
                ttl: ttl.map(Into::into),
            };
            let mut reference = serde_json::to_vec(&row).unwrap();
            reference[0] = b',';
            let mut written = Vec::new();
            write_spliced_fields(&mut written, row).unwrap();
            proptest::prop_assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&reference)
            );
        }
    }

    #[test]
    fn every_key_is_under_the_job_prefix() {
        for a in [
            Artifact::ExportCsv,
            Artifact::ExportSummary,
            Artifact::ExportSegment(3),
            Artifact::ExportSegmentSummary(3),
            Artifact::ExportPartitions,
            Artifact::TransformSummary,
            Artifact::Rejected,
            Artifact::Manifest,
            Artifact::Chunk(7),
            Artifact::ChunkResults,
            Artifact::ChunkResult(7),
            Artifact::MapResults,
            Artifact::ReportJson,
            Artifact::ReportMarkdown,
            Artifact::Written,
        ] {
            assert!(a.key("j1").starts_with("jobs/j1/"), "{a:?}");
        }
        assert_eq!(Artifact::Chunk(7).key("j"), "jobs/j/chunks/00007.jsonl");
        assert_eq!(
            Artifact::ChunkResult(7).key("j"),
            "jobs/j/results/chunks/00007.json"
        );
        assert!(
            Artifact::ChunkResult(7)
                .key("j")
                .starts_with(&Artifact::ChunkResults.key("j"))
        );
    }

    /// A chunk row is read back as it was written, whether its attributes were held as their
    /// text (spliced in front of the row's fields) or as values; and a row whose attributes are
    /// text holds exactly that text in the chunk.
    #[test]
    fn chunk_rows_read_back_as_written() {
        use crate::migration_csv::RowAttributes;
        let text = r#"{"price":1.50,"tags":["a","b\"c"],"deep":{"n":-0.0e0,"s":"é\u00e9"}}"#;
        let row = |attributes| MigrationRow {
            line: 7,
            source_pk: "PRODUCT#T1".into(),
            source_sk: "P\"1".into(),
            code: "P1".into(),
            name: "Ä, \"quoted\"".into(),
            attributes,
            target_tenant_code: "t1".into(),
            entity_type: Some("PRODUCT".into()),
            version: Some(3),
            is_deleted: Some(false),
            seq: Some("12".into()),
            ttl: None,
        };
        let shape = crate::value::plain_json::Shape::of_attributes(text).unwrap();
        let as_text = row(RowAttributes::Json {
            text: text.to_string(),
            shape,
        });
        let values = crate::value::attributes_from_json_str(text).unwrap();
        for written in [as_text, row(RowAttributes::Values(values.clone()))] {
            let spliced = written.attributes.json_text().is_some();
            let mut body = Vec::new();
            write_chunk_row(&mut body, written).unwrap();
            let read: MigrationRow = serde_json::from_slice(&body).unwrap();
            let expected =
                row(RowAttributes::Values(Default::default())).map_attributes(|_| values.clone());
            assert_eq!(read, expected, "{}", String::from_utf8_lossy(&body));
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&body).unwrap();
            // Every field but ttl (not set), attributes once.
            assert_eq!(object.len(), 11);
            let name = b"\"attributesJson\"";
            assert_eq!(body.windows(name.len()).filter(|w| w == name).count(), 1);
            if spliced {
                let from = body.windows(text.len()).position(|w| w == text.as_bytes());
                assert_eq!(from, Some(b"{\"attributesJson\":".len()));
            }
        }
    }

    /// The manifest is written from the chunks' rows and read back into them, entry by entry;
    /// an entry out of order or naming another chunk's key is refused, as is a missing one.
    #[cfg(feature = "embedded")]
    #[tokio::test]
    async fn the_manifest_round_trips_and_a_wrong_entry_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let objects: Arc<dyn ObjectStore> = Arc::new(
            crate::embedded::dir_objects::DirObjectStore::new(dir.path()),
        );
        let artifacts = JobArtifacts::new(objects.clone(), "b", "j1");
        assert!(matches!(
            artifacts.load_manifest_rows().await,
            Err(Error::Store(StoreError::Corrupt(_)))
        ));
        let rows: Vec<u32> = (0..2_500).map(|i| 1 + i % 500).collect();
        let key = artifacts.save_manifest(&rows).await.unwrap();
        assert_eq!(key, "jobs/j1/chunks/manifest.json");
        assert_eq!(artifacts.load_manifest_rows().await.unwrap(), rows);
        let text = get_bytes(objects.as_ref(), "b", &key).await.unwrap();
        let entries: Vec<ChunkEntry> = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            entries[6],
            ChunkEntry {
                key: "jobs/j1/chunks/00007.jsonl".into(),
                index: 7,
                rows: 7
            }
        );
        let mut results = artifacts.chunk_results().await.unwrap();
        let mut seen = 0;
        while let Some((entry, result)) = results.next().await.unwrap() {
            seen += 1;
            assert_eq!(entry, entries[seen - 1]);
            assert!(result.is_none());
        }
        assert_eq!(seen, rows.len());

        for bad in [
            r#"[{"key":"jobs/j1/chunks/00002.jsonl","index":2,"rows":3}]"#,
            r#"[{"key":"jobs/j2/chunks/00001.jsonl","index":1,"rows":3}]"#,
            r#"[{"key":"jobs/j1/chunks/00001.jsonl","index":1}]"#,
            r#"{"key":"jobs/j1/chunks/00001.jsonl","index":1,"rows":3}"#,
            r#"[{"key":"jobs/j1/chunks/00001.jsonl","index":1,"rows":4294967296}]"#,
        ] {
            objects
                .put_object("b", &key, bad.as_bytes().to_vec())
                .await
                .unwrap();
            assert!(
                matches!(
                    artifacts.load_manifest_rows().await,
                    Err(Error::Store(StoreError::Corrupt(_)))
                ),
                "{bad}"
            );
        }
    }
}
