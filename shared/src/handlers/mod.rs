//! The handlers of the state machine's Task states, one module per state, named as in
//! `infra/statemachine.asl.json`. The same code runs in the Lambda functions (`functions/*`)
//! and in-process under `migrate`.
//!
//! Every handler takes its JSON input and [`Deps`] and returns JSON or an [`Error`] whose
//! [`crate::ErrorType`] is the Lambda error type the ASL's Retry/Catch match on.

pub mod export;
pub mod history;
pub mod job_record;
pub mod prepare;
pub mod process_chunk;
pub mod record_failure;
pub mod start;
pub mod transform;
pub mod verify;
pub mod written_log;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::app_settings::AppSettings;
use crate::error::Error;
use crate::job::{AttributesMode, JobDocument, Mode};
use crate::ports::{ObjectStore, Table};
use crate::publish::{PublishContext, TableNames};

/// What every handler needs, built once per process (Lambda `main` or `migrate`).
#[derive(Clone)]
pub struct Deps {
    pub tables: Arc<dyn Table>,
    pub objects: Arc<dyn ObjectStore>,
    pub table_names: TableNames,
    /// The pipeline's own bucket (reports, chunks, default source bucket).
    pub bucket: String,
    /// Rows per transformed chunk (one Distributed Map item).
    pub chunk_rows: usize,
    /// How many chunks the Distributed Map processes at once.
    pub max_concurrency: u32,
    /// Recorded as `createdBy` / `updatedBy` / `_migratedBy`.
    pub actor: String,
    /// What the pipeline knows of the app whose tables it writes.
    pub app: AppSettings,
    /// Where Export and Transform report rows as they stream (a progress bar under `migrate`;
    /// nothing in Lambda, where the logs and the execution history tell the story).
    pub progress: Arc<dyn RowProgress>,
}

/// Progress of a state that streams rows (Export, Transform).
pub trait RowProgress: Send + Sync {
    /// `rows` handled so far by `state`; `bytes` = (read, total) when the input size is known.
    fn rows(&self, state: &str, rows: u64, bytes: Option<(u64, u64)>);
}

/// The progress sink of a Lambda: reports nothing.
pub struct NoProgress;

impl RowProgress for NoProgress {
    fn rows(&self, _state: &str, _rows: u64, _bytes: Option<(u64, u64)>) {}
}

/// How often (in rows) a streaming state reports progress.
pub const PROGRESS_EVERY: u64 = 1000;

pub const DEFAULT_CHUNK_ROWS: usize = 500;

/// The job as the state machine carries it (`$.job`), produced by Prepare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedJob {
    pub job_id: String,
    pub mode: Mode,
    pub document: JobDocument,
    pub bucket: String,
    pub has_source_table: bool,
    pub max_concurrency: u32,
    pub tolerated_failure_percentage: f64,
    pub results_prefix: String,
}

impl PreparedJob {
    pub fn prefix(&self) -> String {
        job_prefix(&self.job_id)
    }

    /// How a changed row's attributes meet the existing ones.
    pub fn attributes_mode(&self) -> AttributesMode {
        match self.mode {
            // In-place schema evolution and rollback restore exact attribute sets.
            Mode::Transform | Mode::Rollback => AttributesMode::Replace,
            _ => self.document.attributes_mode(),
        }
    }

    pub fn publish_context(&self, deps: &Deps) -> PublishContext {
        let attributes_mode = self.attributes_mode();
        PublishContext {
            job_id: self.job_id.clone(),
            mode: self.mode,
            attributes_mode,
            publish_mode: self.document.publish_mode(),
            now: now(),
            actor: deps.actor.clone(),
            tables: deps.table_names.clone(),
            rollback_of: self.document.rollback_of.clone(),
            large_attributes: deps.app.large_attributes.clone(),
            master_data_table: deps.app.master_data_table.clone(),
        }
    }
}

/// The Task functions by name (the `<name>` of `functions/<name>` and of the local ARNs), and
/// the one dispatch from a name to its handler, for runners that play Lambda's part (`migrate`,
/// the moto tests).
pub const TASK_FUNCTIONS: [&str; 6] = [
    "prepare",
    "export",
    "transform",
    "process",
    "verify",
    "record-failure",
];

pub async fn invoke(
    function: &str,
    input: serde_json::Value,
    deps: &Deps,
) -> Result<serde_json::Value, Error> {
    match function {
        "prepare" => prepare::handle(input, deps).await,
        "export" => export::handle(input, deps).await,
        "transform" => transform::handle(input, deps).await,
        "process" => process_chunk::handle(input, deps).await,
        "verify" => verify::handle(input, deps).await,
        "record-failure" => record_failure::handle(input, deps).await,
        other => Err(Error::invalid(format!("no handler for function {other:?}"))),
    }
}

/// Where a job keeps its artifacts: `jobs/<jobId>/`.
pub fn job_prefix(job_id: &str) -> String {
    format!("jobs/{job_id}/")
}

/// Now, as the framework writes dates (whole seconds, explicit offset).
pub fn now() -> String {
    crate::model::timestamp(chrono::Utc::now())
}

/// Parses a handler's input, naming what is wrong.
pub fn parse_input<T: DeserializeOwned>(state: &str, input: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(input).map_err(|e| Error::invalid(format!("{state}: bad input: {e}")))
}

pub fn to_output<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::MigrationFailed(format!("cannot encode output: {e}")))
}
