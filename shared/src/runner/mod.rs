//! Playing Lambda's part in-process: the one runner of the Task functions that both `migrate`
//! (embedded stores) and the moto tests (AWS adapters) use.
//!
//! [`TaskRunner`] resolves each Task state's resource (`${PrepareFunctionArn}` …, substituted
//! with `<arn prefix><function name>`) to its [`TaskFunction`], calls the handler, and then — as
//! the data table's event source mapping would — delivers the new stream records to the history
//! handler ([`HistoryPump`]).

mod history_pump;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::asl::{self, ExecutionOptions, ExecutionResult, Resources, StateMachine, TaskFailure};
use crate::error::Error;
use crate::handlers::{Deps, TaskFunction};
use crate::ports::objects::{copy_to_file, get_bytes};

pub use history_pump::{HistoryPump, MemoryPositions, PositionStore, TablePositions};

/// The definition's substitutions: every `${...FunctionArn}` to `<arn_prefix><function name>`.
pub fn substitutions(arn_prefix: &str) -> HashMap<String, String> {
    TaskFunction::ALL
        .iter()
        .map(|f| {
            (
                f.substitution().to_string(),
                format!("{arn_prefix}{}", f.name()),
            )
        })
        .collect()
}

/// Parses a definition whose Task resources this runner's `arn_prefix` names.
pub fn state_machine(definition: &str, arn_prefix: &str) -> Result<StateMachine, Error> {
    StateMachine::parse(definition, &substitutions(arn_prefix))
        .map_err(|e| Error::invalid(format!("state machine definition: {e}")))
}

pub struct TaskRunner {
    pub deps: Deps,
    arn_prefix: String,
    history: Option<Arc<HistoryPump>>,
}

impl TaskRunner {
    /// `arn_prefix` + a function's name is its resource in the definition.
    pub fn new(deps: Deps, arn_prefix: &str, history: Option<Arc<HistoryPump>>) -> Self {
        TaskRunner {
            deps,
            arn_prefix: arn_prefix.to_string(),
            history,
        }
    }

    /// Delivers the data table's pending stream records to the history handler.
    pub async fn pump_history(&self) -> Result<u64, Error> {
        match &self.history {
            Some(pump) => pump.pump(&self.deps).await,
            None => Ok(0),
        }
    }

    /// Runs one execution to completion, history included.
    pub async fn run(
        &self,
        state_machine: &StateMachine,
        input: serde_json::Value,
        options: ExecutionOptions,
    ) -> ExecutionResult {
        let result = asl::run_execution(state_machine, self, input, options).await;
        if let Err(e) = self.pump_history().await {
            tracing::warn!(error = %e, "history pump");
        }
        result
    }
}

/// Aborts a spawned invocation when the future awaiting it is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn failure(e: &Error) -> TaskFailure {
    TaskFailure::new(e.error_type().as_str(), e.to_string())
}

#[async_trait]
impl Resources for TaskRunner {
    async fn invoke(
        &self,
        resource: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, TaskFailure> {
        let Some(function) = resource
            .strip_prefix(&self.arn_prefix)
            .and_then(TaskFunction::from_name)
        else {
            return Err(TaskFailure::new(
                "States.Runtime",
                format!("unknown resource {resource}"),
            ));
        };
        // Each invocation is a task of its own, as each Lambda invocation is its own process:
        // the Distributed Map's concurrent chunks (polled together by the map's one task) then
        // run on every worker thread of the runtime rather than taking turns on one.
        // Dropping this future (a Map failing fast, a task timeout) must still stop the
        // handler, as it did before it ran in a task of its own: the guard aborts the task.
        let deps = self.deps.clone();
        let mut task = AbortOnDrop(tokio::spawn(
            async move { function.invoke(input, &deps).await },
        ));
        let output = match (&mut task.0).await {
            Ok(output) => output,
            Err(e) => {
                return Err(TaskFailure::new(
                    "States.TaskFailed",
                    format!("{} did not finish: {e}", function.name()),
                ));
            }
        };
        // Like the stream's event source mapping: history follows every write.
        if let Err(e) = self.pump_history().await {
            tracing::warn!(error = %e, "history pump");
        }
        output.map_err(|e| failure(&e))
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskFailure> {
        get_bytes(self.deps.objects.as_ref(), bucket, key)
            .await
            .map_err(|e| TaskFailure::new("States.ItemReaderFailed", e.to_string()))
    }

    /// Streams the object into `file` (a Distributed Map's manifest is never held whole).
    async fn get_object_into(
        &self,
        bucket: &str,
        key: &str,
        file: &mut std::fs::File,
    ) -> Result<(), TaskFailure> {
        copy_to_file(self.deps.objects.as_ref(), bucket, key, file)
            .await
            .map_err(|e| TaskFailure::new("States.ItemReaderFailed", e.to_string()))
    }

    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskFailure> {
        self.deps
            .objects
            .put_object(bucket, key, body)
            .await
            .map(|_| ())
            .map_err(|e| TaskFailure::new("States.ResultWriterFailed", e.to_string()))
    }
}
