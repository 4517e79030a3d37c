//! Running the deployed state machine on one machine: `infra/statemachine.asl.json`, executed by
//! [`crate::asl`] through the in-process [`TaskRunner`], on the embedded stores, with the data
//! table's stream fed to the `history` handler as Lambda's event source mapping would.
//!
//! * this module: the composition root of a state directory ([`LocalPipeline::open`]);
//! * [`executions`]: the record of local executions (what StartExecution's idempotency needs);
//! * [`starter`]: the local [`crate::ports::WorkflowStarter`] (StartExecution, run to completion).

pub mod executions;
mod starter;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::asl::{ExecutionOptions, ExecutionResult, Observer, StateMachine};
use crate::embedded::{DirObjectStore, SqliteTables};
use crate::error::Error;
use crate::handlers::Deps;
use crate::ports::objects::get_bytes;
use crate::runner::{HistoryPump, TablePositions, TaskRunner};
use executions::{ExecutionState, Executions};

/// The resources of the local Task states: `<prefix><function name>`.
pub const LOCAL_ARN_PREFIX: &str = "arn:aws:lambda:local:000000000000:function:migration-";
const STREAM_POSITIONS_TABLE: &str = "stream-positions";
pub use crate::wiring::local::{LOCAL_BUCKET, local_table_names};

/// Everything of one local state directory.
pub struct LocalPipeline {
    /// The handlers' dependencies (tests and the CLI adjust them after `open`).
    pub deps: Deps,
    pub tables: Arc<SqliteTables>,
    pub objects: Arc<DirObjectStore>,
    pub state_machine: StateMachine,
    pub state_dir: PathBuf,
    /// The result of the last execution run by this pipeline (the CLI reports it).
    pub last_result: std::sync::Mutex<Option<(String, ExecutionResult)>>,
    history: Arc<HistoryPump>,
    /// Multiplies Retry intervals (tests use 0).
    pub retry_interval_scale: f64,
    pub observer: Option<Arc<dyn Observer>>,
}

impl LocalPipeline {
    /// Opens `<state_dir>/tables.sqlite3` and `<state_dir>/s3/`, and parses the definition.
    pub fn open(state_dir: &Path, definition: &str) -> Result<Self, Error> {
        let state_machine = crate::runner::state_machine(definition, LOCAL_ARN_PREFIX)?;
        let tables = Arc::new(SqliteTables::open(&state_dir.join("tables.sqlite3"))?);
        let names = local_table_names();
        tables.enable_stream(&names.data)?;
        // The history mapping's filter, applied where records are written (see the method).
        tables.keep_stream_events(&names.data, &crate::handlers::history::DELIVERED_EVENTS)?;
        let objects = Arc::new(DirObjectStore::new(state_dir.join("s3")));
        let history = Arc::new(HistoryPump::new(
            tables.clone(),
            Arc::new(TablePositions {
                tables: tables.clone(),
                table: STREAM_POSITIONS_TABLE.into(),
                stream_of: names.data.clone(),
            }),
        ));
        let deps = crate::wiring::local::deps(tables.clone(), objects.clone())?;
        Ok(LocalPipeline {
            deps,
            tables,
            objects,
            state_machine,
            state_dir: state_dir.to_path_buf(),
            last_result: std::sync::Mutex::new(None),
            history,
            retry_interval_scale: 1.0,
            observer: None,
        })
    }

    /// Lambda's part, with the pipeline's current dependencies.
    fn runner(&self) -> TaskRunner {
        TaskRunner::new(
            self.deps.clone(),
            LOCAL_ARN_PREFIX,
            Some(self.history.clone()),
        )
    }

    /// Delivers the data table's pending stream records to the `history` handler.
    pub async fn pump_history(&self) -> Result<u64, Error> {
        self.history.pump(&self.deps).await
    }

    /// Step Functions' own record of executions: not a request of any handler, so it goes to
    /// the store directly, past any wrapper a test or the benchmark put around `deps.tables`.
    fn executions(&self) -> Executions<'_> {
        Executions::new(self.tables.as_ref())
    }

    /// Runs one execution to completion and records it under its name.
    pub async fn run(
        &self,
        name: &str,
        input: serde_json::Value,
    ) -> Result<ExecutionResult, Error> {
        let executions = self.executions();
        executions.record_start(name, &input).await?;
        let options = ExecutionOptions {
            name: name.to_string(),
            state_machine_id: "arn:aws:states:local:000000000000:stateMachine:migration".into(),
            retry_interval_scale: self.retry_interval_scale,
            observer: self.observer.clone(),
        };
        let result = self
            .runner()
            .run(&self.state_machine, input.clone(), options)
            .await;
        executions.record_end(name, &input, &result).await?;
        // The next execution of this process (`migrate bench` runs several) starts with an empty
        // page cache, as a `migrate` process does: its Transform (whose key set is largest at
        // the end of a big file) then does not peak on top of the last job's full cache.
        if let Err(e) = self.tables.release_memory() {
            tracing::debug!(error = %e, "releasing the page cache failed");
        }
        if let Ok(mut last) = self.last_result.lock() {
            *last = Some((name.to_string(), result.clone()));
        }
        Ok(result)
    }

    /// The status of a recorded execution (`Running` also for one that was killed).
    pub async fn execution_status(&self, name: &str) -> Result<Option<ExecutionState>, Error> {
        self.executions().status(name).await
    }

    /// Reads a local object in full (reports, rejected rows).
    pub async fn read_object(&self, key: &str) -> Result<Vec<u8>, Error> {
        Ok(get_bytes(self.objects.as_ref(), LOCAL_BUCKET, key).await?)
    }
}
