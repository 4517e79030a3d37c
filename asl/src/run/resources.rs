//! The outside world as seen by the interpreter: task handlers and an object store.

use serde_json::Value;

/// A failed task (or object store access): an error name such as `"Retryable"` or
/// `"Lambda.ServiceException"` and a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for TaskFailure {}

impl From<TaskFailure> for crate::error::StatesError {
    fn from(failure: TaskFailure) -> Self {
        crate::error::StatesError::new(failure.error, failure.cause)
    }
}

/// What the interpreter needs from the outside world.
#[async_trait::async_trait]
pub trait Resources: Send + Sync {
    /// Invoke a Task state's resource (already substituted) with the state's effective input.
    async fn invoke(&self, resource: &str, input: Value) -> Result<Value, TaskFailure>;
    /// Read an object (Distributed Map `ItemReader`, `s3:getObject`).
    async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>, TaskFailure>;
    /// Copy an object into `file` (a Distributed Map's `ItemReader` then reads its items from
    /// there one at a time, whatever the object's size). By default through [`get_object`]
    /// (the object in memory once); a store that can stream should.
    ///
    /// [`get_object`]: Resources::get_object
    async fn get_object_into(
        &self,
        bucket: &str,
        key: &str,
        file: &mut std::fs::File,
    ) -> Result<(), TaskFailure> {
        let body = self.get_object(bucket, key).await?;
        std::io::Write::write_all(file, &body)
            .map_err(|e| TaskFailure::new("States.ItemReaderFailed", e.to_string()))
    }
    /// Write an object (Distributed Map `ResultWriter`, `s3:putObject`).
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), TaskFailure>;
}
