//! The handlers of the state machine's Task states, one module per state, named as in
//! `infra/statemachine.asl.json`. The same code runs in the Lambda functions (`functions/*`)
//! and in-process under `migrate`.
//!
//! Every handler is typed: `handle(XInput, &Deps) -> Result<XOutput, Error>`. JSON enters and
//! leaves in one place, [`TaskFunction::invoke`]; an [`Error`]'s [`crate::ErrorType`] is the
//! Lambda error type the ASL's Retry/Catch match on. Handlers share types and artifacts through
//! [`crate::artifacts`] and [`crate::repositories`], never by importing each other.

pub mod export;
pub mod history;
pub mod normalize_users;
pub mod prepare;
mod prepared_job;
pub mod process_chunk;
pub mod record_failure;
pub mod start;
pub mod transform;
pub mod verify;

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app_settings::AppSettings;
use crate::artifacts::JobArtifacts;
use crate::error::Error;
use crate::ports::{ObjectStore, Table};
use crate::publish::TableNames;
use crate::repositories::JobRecords;

pub use prepared_job::PreparedJob;

/// What every handler needs, built once per process (Lambda `main` or `migrate`).
#[derive(Clone)]
pub struct Deps {
    pub tables: Arc<dyn Table>,
    pub objects: Arc<dyn ObjectStore>,
    /// The Cognito user pools (mode normalize-users).
    pub users: Arc<dyn crate::ports::UserDirectory>,
    pub table_names: TableNames,
    /// The pipeline's own bucket (reports, chunks, default source bucket).
    pub bucket: String,
    /// Rows per transformed chunk (one Distributed Map item).
    pub chunk_rows: usize,
    /// How many chunks the Distributed Map processes at once.
    pub max_concurrency: u32,
    /// Segments of the parallel scan of a table-wide job (`ExportSegments`).
    pub scan_segments: u32,
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

pub use crate::artifacts::DEFAULT_CHUNK_ROWS;

impl Deps {
    /// The files of job `job_id` in the pipeline's bucket.
    pub fn artifacts(&self, job_id: &str) -> JobArtifacts {
        JobArtifacts::new(self.objects.clone(), &self.bucket, job_id)
    }

    /// The data table's rows of partition `pk`, `page_size` at a time.
    pub fn data_partition(
        &self,
        pk: &str,
        page_size: usize,
    ) -> crate::repositories::PartitionPages<'_> {
        crate::repositories::PartitionPages::new(
            self.tables.as_ref(),
            &self.table_names.data,
            pk,
            page_size,
        )
    }

    /// The jobs table.
    pub fn job_records(&self) -> JobRecords<'_> {
        JobRecords::new(self.tables.as_ref(), &self.table_names.jobs)
    }
}

/// The Task functions of the state machine: the one list of them. `name` is the `<name>` of
/// `functions/<name>` and of the local ARNs, `substitution` the definition's `${...}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskFunction {
    Prepare,
    Export,
    Transform,
    Process,
    Verify,
    RecordFailure,
    NormalizeUsers,
}

impl TaskFunction {
    pub const ALL: [TaskFunction; 7] = [
        TaskFunction::Prepare,
        TaskFunction::Export,
        TaskFunction::Transform,
        TaskFunction::Process,
        TaskFunction::Verify,
        TaskFunction::RecordFailure,
        TaskFunction::NormalizeUsers,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TaskFunction::Prepare => "prepare",
            TaskFunction::Export => "export",
            TaskFunction::Transform => "transform",
            TaskFunction::Process => "process",
            TaskFunction::Verify => "verify",
            TaskFunction::RecordFailure => "record-failure",
            TaskFunction::NormalizeUsers => "normalize-users",
        }
    }

    /// The ASL state that calls it.
    pub fn state(self) -> &'static str {
        match self {
            TaskFunction::Prepare => "Prepare",
            TaskFunction::Export => "Export",
            TaskFunction::Transform => "Transform",
            TaskFunction::Process => "ProcessChunk",
            TaskFunction::Verify => "Verify",
            TaskFunction::RecordFailure => "RecordFailure",
            TaskFunction::NormalizeUsers => "NormalizeUsers",
        }
    }

    /// The definition's substitution for its ARN (`${PrepareFunctionArn}` …).
    pub fn substitution(self) -> &'static str {
        match self {
            TaskFunction::Prepare => "PrepareFunctionArn",
            TaskFunction::Export => "ExportFunctionArn",
            TaskFunction::Transform => "TransformFunctionArn",
            TaskFunction::Process => "ProcessFunctionArn",
            TaskFunction::Verify => "VerifyFunctionArn",
            TaskFunction::RecordFailure => "RecordFailureFunctionArn",
            TaskFunction::NormalizeUsers => "NormalizeUsersFunctionArn",
        }
    }

    pub fn from_name(name: &str) -> Option<TaskFunction> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The serde edge: the state's JSON input to its typed handler and back.
    pub async fn invoke(
        self,
        input: serde_json::Value,
        deps: &Deps,
    ) -> Result<serde_json::Value, Error> {
        let state = self.state();
        match self {
            TaskFunction::Prepare => {
                to_output(&prepare::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::Export => {
                to_output(&export::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::Transform => {
                to_output(&transform::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::Process => {
                to_output(&process_chunk::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::Verify => {
                to_output(&verify::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::RecordFailure => {
                to_output(&record_failure::handle(parse_input(state, input)?, deps).await?)
            }
            TaskFunction::NormalizeUsers => {
                to_output(&normalize_users::handle(parse_input(state, input)?, deps).await?)
            }
        }
    }
}

/// Now, as the framework writes dates (whole seconds, explicit offset).
pub fn now() -> crate::value::Text {
    crate::model::timestamp(chrono::Utc::now())
}

/// Parses a handler's input, naming what is wrong (a job that fails validation says why).
fn parse_input<T: DeserializeOwned>(state: &str, input: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(input).map_err(|e| Error::invalid(format!("{state}: bad input: {e}")))
}

fn to_output<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::MigrationFailed(format!("cannot encode output: {e}")))
}
