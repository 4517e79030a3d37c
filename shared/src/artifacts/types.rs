//! The shapes of a job's JSON artifacts; several are also a state's output in the ASL payload.

use serde::{Deserialize, Serialize};

use crate::process::Counts;
use crate::publish::RowOutcome;

/// An S3 object a state reads (Transform's source).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRef {
    pub bucket: String,
    pub key: String,
}

/// `jobs/<jobId>/export.json`, also Export's output (`$.source` of Transform).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    pub bucket: String,
    pub key: String,
    pub rows: u64,
}

/// `jobs/<jobId>/export/segment-NNNN.json`: one segment of a table-wide export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentSummary {
    pub segment: u32,
    pub rows: u64,
    /// The legacy partitions (`TYPE#Tenant`) whose live items this segment exported.
    pub partitions: Vec<String>,
}

/// One item of the chunk manifest (what the Distributed Map iterates over).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkEntry {
    pub key: String,
    pub index: u32,
    pub rows: u64,
}

/// `jobs/<jobId>/transform.json`, also Transform's output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformSummary {
    pub bucket: String,
    pub manifest_key: String,
    pub rejected_key: String,
    pub chunks: u32,
    /// Every data row of the file.
    pub total: u64,
    /// Rows that passed validation (in the chunks).
    pub valid: u64,
    pub rejected: u64,
    pub source_etag: String,
}

/// `jobs/<jobId>/results/chunks/<index>.json`: every row's outcome of one chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkResult {
    pub job_id: String,
    pub chunk: u32,
    pub dry_run: bool,
    pub counts: Counts,
    /// Write units and TransactWriteItems requests the chunk used (a dry run: would use).
    #[serde(default)]
    pub write_units: u64,
    #[serde(default)]
    pub write_requests: u64,
    /// When the chunk's processing started and finished (Unix milliseconds).
    #[serde(default)]
    pub started_ms: u64,
    #[serde(default)]
    pub finished_ms: u64,
    pub rows: Vec<RowOutcome>,
}
