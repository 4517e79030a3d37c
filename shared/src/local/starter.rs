//! The local workflow starter: like StartExecution, idempotent by name; runs to completion.

use async_trait::async_trait;

use super::LocalPipeline;
use super::executions::ExecutionState;
use crate::error::{Error, StoreError};
use crate::ports::workflow::{StartOutcome, WorkflowStarter};

fn execution_id(name: &str) -> String {
    format!("arn:aws:states:local:000000000000:execution:migration:{name}")
}

#[async_trait]
impl WorkflowStarter for LocalPipeline {
    async fn start_execution(
        &self,
        name: &str,
        mut input: serde_json::Value,
    ) -> Result<StartOutcome, StoreError> {
        let other = |e: Error| StoreError::Other(e.to_string());
        // The job id defaults to the execution name, so a resumed attempt is the same job.
        if let Some(obj) = input.as_object_mut() {
            obj.entry("jobId").or_insert_with(|| name.into());
        }
        match self.execution_status(name).await.map_err(other)? {
            None => {
                self.run(name, input).await.map_err(other)?;
                Ok(StartOutcome::Started {
                    execution_id: execution_id(name),
                })
            }
            Some(ExecutionState::Running) => {
                // Locally, an execution still RUNNING in the record was interrupted (kill -9):
                // resume it as a new attempt of the same job (same jobId, so finished chunks
                // are skipped). On AWS the same name would simply be refused.
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
                Ok(StartOutcome::Started {
                    execution_id: execution_id(&retry_name),
                })
            }
            Some(_) => Ok(StartOutcome::AlreadyExists {
                execution_id: execution_id(name),
            }),
        }
    }
}
