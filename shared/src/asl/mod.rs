//! A local interpreter for the Amazon States Language (AWS Step Functions, JSONPath flavour).
//!
//! Parse a definition with [`StateMachine::parse`], then run it with [`run_execution`] against
//! in-process task handlers and an object store provided through [`Resources`].
//! Unsupported features are refused at parse time with an [`AslError`] naming the state and field.

mod choice;
mod definition;
mod definition_map;
mod error;
mod executor;
mod fields;
mod history;
mod intrinsics;
mod map;
mod path;
mod payload;
mod resources;
mod retry;
mod substitution;

#[cfg(test)]
mod tests;

pub use definition::StateMachine;
pub use error::AslError;
pub use executor::{ExecutionOptions, ExecutionResult, ExecutionStatus, run_execution};
pub use history::{HistoryEvent, HistoryEventKind, Observer};
pub use resources::{Resources, TaskFailure};
