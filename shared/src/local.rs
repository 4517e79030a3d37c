//! Running the deployed state machine on one machine: `infra/statemachine.asl.json`, executed by
//! [`crate::asl`], with every `${...FunctionArn}` resolved to the in-process handler of that state,
//! the embedded stores, and a local event source mapping that feeds the data table's stream to
//! the `history` handler (as Lambda would, with partial batch failures retried).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use async_trait::async_trait;

use crate::asl::{
    self, ExecutionOptions, ExecutionResult, ExecutionStatus, Observer, Resources, StateMachine,
    TaskFailure,
};
use crate::embedded::{DirObjectStore, SqliteTables};
use crate::error::{Error, StoreError};
use crate::handlers::{self, DEFAULT_CHUNK_ROWS, Deps};
use crate::keys::Key;
use crate::ports::objects::get_bytes;
use crate::ports::stream::StreamPosition;
use crate::ports::table::{Condition, Put};
use crate::ports::workflow::{StartOutcome, WorkflowStarter};
use crate::publish::TableNames;
use crate::value::{Item, get_s, s};

/// The Task states and the substitution that names their function in the ASL and template.
pub const FUNCTIONS: [(&str, &str); 6] = [
    ("PrepareFunctionArn", "prepare"),
    ("ExportFunctionArn", "export"),
    ("TransformFunctionArn", "transform"),
    ("ProcessFunctionArn", "process"),
    ("VerifyFunctionArn", "verify"),
    ("RecordFailureFunctionArn", "record-failure"),
];

const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:local:000000000000:function:migration-";
const EXECUTIONS_TABLE: &str = "executions";
const STREAM_POSITIONS_TABLE: &str = "stream-positions";
pub const LOCAL_BUCKET: &str = "migration-local";

/// The substitutions `migrate` uses for the definition (SAM uses the template's).
pub fn local_substitutions() -> HashMap<String, String> {
    FUNCTIONS
        .iter()
        .map(|(sub, f)| (sub.to_string(), format!("{LOCAL_ARN_PREFIX}{f}")))
        .collect()
}

/// The table names of the embedded store (same logical names as the template's defaults).
pub fn local_table_names() -> TableNames {
    TableNames {
        command: "command".into(),
        data: "data".into(),
        history: "history".into(),
        jobs: "jobs".into(),
    }
}

/// Everything of one local state directory.
pub struct LocalPipeline {
    pub deps: Deps,
    pub tables: Arc<SqliteTables>,
    pub objects: Arc<DirObjectStore>,
    pub state_machine: StateMachine,
    pub state_dir: PathBuf,
    /// The result of the last execution run by this pipeline (the CLI reports it).
    pub last_result: std::sync::Mutex<Option<(String, ExecutionResult)>>,
    pump_lock: tokio::sync::Mutex<()>,
    /// Multiplies Retry intervals (tests use 0).
    pub retry_interval_scale: f64,
    pub observer: Option<Arc<dyn Observer>>,
}

impl LocalPipeline {
    /// Opens `<state_dir>/tables.sqlite3` and `<state_dir>/s3/`, and parses the definition.
    pub fn open(state_dir: &Path, definition: &str) -> Result<Self, Error> {
        let state_machine = StateMachine::parse(definition, &local_substitutions())
            .map_err(|e| Error::invalid(format!("state machine definition: {e}")))?;
        let tables = Arc::new(SqliteTables::open(&state_dir.join("tables.sqlite3"))?);
        let names = local_table_names();
        tables.enable_stream(&names.data)?;
        let objects = Arc::new(DirObjectStore::new(state_dir.join("s3")));
        let chunk_rows = std::env::var("MIGRATE_CHUNK_ROWS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_CHUNK_ROWS);
        let deps = Deps {
            tables: tables.clone(),
            objects: objects.clone(),
            table_names: names,
            bucket: LOCAL_BUCKET.into(),
            chunk_rows,
            max_concurrency: handlers::prepare::MAX_CONCURRENCY,
            actor: "migrate".into(),
            // The same variables as the functions' (`APP_BUCKET`, `ATTRIBUTE_LIMIT_SIZE`, …).
            app: crate::app_settings::AppSettings::from_lookup(
                &|name| std::env::var(name).ok(),
                LOCAL_BUCKET,
            )?,
            progress: Arc::new(handlers::NoProgress),
        };
        Ok(LocalPipeline {
            deps,
            tables,
            objects,
            state_machine,
            state_dir: state_dir.to_path_buf(),
            last_result: std::sync::Mutex::new(None),
            pump_lock: tokio::sync::Mutex::new(()),
            retry_interval_scale: 1.0,
            observer: None,
        })
    }

    /// Delivers the data table's pending stream records to the `history` handler, in batches of
    /// 100, checkpointing after each batch; a batch with failures is retried from the first
    /// failed record next time (Lambda's ReportBatchItemFailures behaviour).
    pub async fn pump_history(&self) -> Result<u64, Error> {
        let _guard = self.pump_lock.lock().await;
        let data = self.deps.table_names.data.clone();
        let position_key = Key::new("STREAM", &data);
        let mut position = match self
            .deps
            .tables
            .get_item(STREAM_POSITIONS_TABLE, &position_key)
            .await?
        {
            Some(item) => StreamPosition(get_s(&item, "position").map(str::to_string)),
            None => StreamPosition::default(),
        };
        let mut delivered = 0;
        loop {
            let Some(batch) = handlers::history::deliver_batch(
                self.tables.as_ref(),
                &data,
                &position,
                &self.deps,
            )
            .await?
            else {
                return Ok(delivered);
            };
            delivered += batch.delivered;
            let mut item = Item::new();
            item.insert("pk".into(), s("STREAM"));
            item.insert("sk".into(), s(&data));
            if let Some(p) = &batch.position.0 {
                item.insert("position".into(), s(p));
            }
            self.deps
                .tables
                .put_item(Put::new(STREAM_POSITIONS_TABLE, item, Condition::None))
                .await
                .map_err(|e| Error::Retryable(e.to_string()))?;
            if let Some(seq) = batch.failed_at {
                return Err(Error::Retryable(format!(
                    "history: stream record {seq} failed; will be retried"
                )));
            }
            position = batch.position;
        }
    }

    async fn invoke_function(
        &self,
        function: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, Error> {
        let output = handlers::invoke(function, input, &self.deps).await;
        // Like the stream's event source mapping: history follows every write.
        if let Err(e) = self.pump_history().await {
            tracing::warn!(error = %e, "history pump");
        }
        output
    }

    /// Runs one execution to completion and records it under its name.
    pub async fn run(
        &self,
        name: &str,
        input: serde_json::Value,
    ) -> Result<ExecutionResult, Error> {
        self.record_execution(name, "RUNNING", &input, None).await?;
        let options = ExecutionOptions {
            name: name.to_string(),
            state_machine_id: "arn:aws:states:local:000000000000:stateMachine:migration".into(),
            retry_interval_scale: self.retry_interval_scale,
            observer: self.observer.clone(),
        };
        let result = asl::run_execution(&self.state_machine, self, input.clone(), options).await;
        let _ = self.pump_history().await;
        let status = match result.status {
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
        };
        self.record_execution(name, status, &input, Some(&result))
            .await?;
        if let Ok(mut last) = self.last_result.lock() {
            *last = Some((name.to_string(), result.clone()));
        }
        Ok(result)
    }

    /// The status of a recorded execution (`RUNNING` also for one that was killed).
    pub async fn execution_status(&self, name: &str) -> Result<Option<String>, Error> {
        let item = self
            .deps
            .tables
            .get_item(EXECUTIONS_TABLE, &Key::new("EXECUTION", name))
            .await?;
        Ok(item.and_then(|i| get_s(&i, "status").map(str::to_string)))
    }

    async fn record_execution(
        &self,
        name: &str,
        status: &str,
        input: &serde_json::Value,
        result: Option<&ExecutionResult>,
    ) -> Result<(), Error> {
        let mut item = Item::new();
        item.insert("pk".into(), s("EXECUTION"));
        item.insert("sk".into(), s(name));
        item.insert("status".into(), s(status));
        item.insert("input".into(), s(input.to_string()));
        if let Some(r) = result {
            if let Some(o) = &r.output {
                item.insert("output".into(), s(o.to_string()));
            }
            if let Some(e) = &r.error {
                item.insert("error".into(), s(e));
            }
            if let Some(c) = &r.cause {
                item.insert("cause".into(), s(c));
            }
        }
        self.deps
            .tables
            .put_item(Put::new(EXECUTIONS_TABLE, item, Condition::None))
            .await
            .map_err(|e| Error::Retryable(e.to_string()))
    }

    /// Reads a local object in full (reports, rejected rows).
    pub async fn read_object(&self, key: &str) -> Result<Vec<u8>, Error> {
        Ok(get_bytes(self.objects.as_ref(), LOCAL_BUCKET, key).await?)
    }
}

fn failure(e: &Error) -> TaskFailure {
    TaskFailure::new(e.error_type().as_str(), e.to_string())
}

#[async_trait]
impl Resources for LocalPipeline {
    async fn invoke(
        &self,
        resource: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, TaskFailure> {
        let Some(function) = resource.strip_prefix(LOCAL_ARN_PREFIX) else {
            return Err(TaskFailure::new(
                "States.Runtime",
                format!("unknown resource {resource}"),
            ));
        };
        self.invoke_function(function, input)
            .await
            .map_err(|e| failure(&e))
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskFailure> {
        get_bytes(self.objects.as_ref(), bucket, key)
            .await
            .map_err(|e| TaskFailure::new("States.ItemReaderFailed", e.to_string()))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskFailure> {
        use crate::ports::objects::PutObject;
        self.objects
            .put_object(bucket, key, body)
            .await
            .map(|_| ())
            .map_err(|e| TaskFailure::new("States.ResultWriterFailed", e.to_string()))
    }
}

/// The local workflow starter: like StartExecution, idempotent by name; runs to completion.
#[async_trait]
impl WorkflowStarter for LocalPipeline {
    async fn start_execution(
        &self,
        name: &str,
        mut input: serde_json::Value,
    ) -> Result<StartOutcome, StoreError> {
        let other = |e: Error| StoreError::Other(e.to_string());
        let id = |n: &str| format!("arn:aws:states:local:000000000000:execution:migration:{n}");
        match self.execution_status(name).await.map_err(other)?.as_deref() {
            None => {}
            Some("RUNNING") => {
                // Locally, an execution still RUNNING in the record was interrupted (kill -9):
                // resume it as a new attempt of the same job (same jobId, so finished chunks
                // are skipped). On AWS the same name would simply be refused.
                if let Some(obj) = input.as_object_mut() {
                    obj.entry("jobId").or_insert_with(|| name.into());
                }
                let mut attempt = 2;
                while self
                    .execution_status(&format!("{name}-attempt{attempt}"))
                    .await
                    .map_err(other)?
                    .is_some()
                {
                    attempt += 1;
                }
                let retry_name = format!("{name}-attempt{attempt}");
                self.run(&retry_name, input).await.map_err(other)?;
                return Ok(StartOutcome::Started {
                    execution_id: id(&retry_name),
                });
            }
            Some(_) => {
                return Ok(StartOutcome::AlreadyExists {
                    execution_id: id(name),
                });
            }
        }
        if let Some(obj) = input.as_object_mut() {
            obj.entry("jobId").or_insert_with(|| name.into());
        }
        self.run(name, input).await.map_err(other)?;
        Ok(StartOutcome::Started {
            execution_id: id(name),
        })
    }
}
