//! The record of local executions (`executions` table, `pk = "EXECUTION"`, `sk` = name): what
//! makes a local start idempotent by name, like StartExecution, and lets a killed run resume.

use crate::asl::{ExecutionResult, ExecutionStatus};
use crate::error::{Error, StoreError};
use crate::keys::Key;
use crate::ports::table::{Condition, Put, Table};
use crate::value::{Item, get_s, s};

const EXECUTIONS_TABLE: &str = "executions";
const PK: &str = "EXECUTION";

/// An execution's recorded state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionState {
    /// Started and not finished: running elsewhere, or killed (`kill -9`) mid-run.
    Running,
    Succeeded,
    Failed,
}

impl ExecutionState {
    fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Running => "RUNNING",
            ExecutionState::Succeeded => "SUCCEEDED",
            ExecutionState::Failed => "FAILED",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            ExecutionState::Running,
            ExecutionState::Succeeded,
            ExecutionState::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

pub struct Executions<'a> {
    tables: &'a dyn Table,
}

impl<'a> Executions<'a> {
    pub fn new(tables: &'a dyn Table) -> Self {
        Executions { tables }
    }

    pub async fn status(&self, name: &str) -> Result<Option<ExecutionState>, Error> {
        let Some(item) = self
            .tables
            .get_item(EXECUTIONS_TABLE, &Key::new(PK, name))
            .await?
        else {
            return Ok(None);
        };
        let text = get_s(&item, "status").unwrap_or_default();
        ExecutionState::parse(text)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("execution {name}: status {text:?}")).into())
    }

    pub async fn record_start(&self, name: &str, input: &serde_json::Value) -> Result<(), Error> {
        self.put(name, ExecutionState::Running, input, None).await
    }

    pub async fn record_end(
        &self,
        name: &str,
        input: &serde_json::Value,
        result: &ExecutionResult,
    ) -> Result<(), Error> {
        let state = match result.status {
            ExecutionStatus::Succeeded => ExecutionState::Succeeded,
            ExecutionStatus::Failed => ExecutionState::Failed,
        };
        self.put(name, state, input, Some(result)).await
    }

    async fn put(
        &self,
        name: &str,
        state: ExecutionState,
        input: &serde_json::Value,
        result: Option<&ExecutionResult>,
    ) -> Result<(), Error> {
        let mut item = Item::new();
        item.insert("pk".into(), s(PK));
        item.insert("sk".into(), s(name));
        item.insert("status".into(), s(state.as_str()));
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
        self.tables
            .put_item(Put::new(EXECUTIONS_TABLE, item, Condition::None))
            .await?;
        Ok(())
    }
}
