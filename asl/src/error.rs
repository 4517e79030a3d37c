//! Error types: definition errors ([`AslError`]) and runtime errors ([`StatesError`]).

use serde_json::{Value, json};

/// Error names defined by the States Language (and AWS) that the interpreter raises itself.
pub(crate) mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
}

/// A definition that cannot be run: invalid JSON, undefined substitution, invalid or unsupported content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AslError {
    #[error("definition is not valid JSON: {0}")]
    Json(String),
    #[error("substitution \"${{{0}}}\" is not defined")]
    UndefinedSubstitution(String),
    #[error("{}field \"{field}\" is not supported", at(.state))]
    Unsupported {
        state: Option<String>,
        field: String,
    },
    #[error("{}field \"{field}\": value {value} is not supported", at(.state))]
    UnsupportedValue {
        state: Option<String>,
        field: String,
        value: String,
    },
    #[error("{}field \"{field}\": {message}", at(.state))]
    InvalidField {
        state: Option<String>,
        field: String,
        message: String,
    },
    #[error("{}{message}", at(.state))]
    Invalid {
        state: Option<String>,
        message: String,
    },
}

fn at(state: &Option<String>) -> String {
    match state {
        Some(name) => format!("state \"{name}\": "),
        None => String::new(),
    }
}

/// A runtime error as seen by Retry/Catch: an error name and a human readable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatesError {
    pub error: String,
    pub cause: String,
}

impl StatesError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StatesError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }

    /// The error output handed to a Catcher: `{"Error": ..., "Cause": ...}`.
    pub fn to_output(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }
}
