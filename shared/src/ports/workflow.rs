//! Starting a workflow execution (Step Functions StartExecution).

use async_trait::async_trait;

use crate::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution was started.
    Started { execution_id: String },
    /// An execution with that name exists already (a duplicated event): nothing new started.
    AlreadyExists { execution_id: String },
}

#[async_trait]
pub trait WorkflowStarter: Send + Sync {
    /// Starts an execution named `name` with `input`; idempotent by name.
    async fn start_execution(
        &self,
        name: &str,
        input: serde_json::Value,
    ) -> Result<StartOutcome, StoreError>;
}
