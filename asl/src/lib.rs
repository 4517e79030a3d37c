//! A local interpreter for the Amazon States Language (AWS Step Functions, JSONPath flavour),
//! in phases like jaq's `load → compile → filter`:
//!
//! * [`ast`]: the syntax tree (states, Map states) the two phases share.
//! * [`parse`]: a definition (JSON text, `${...}` substitutions) → a checked [`StateMachine`]
//!   (`definition`: the states; `map`: Map states; `fields`: field access with errors naming the
//!   state and field). Unsupported features are refused here with an [`AslError`].
//! * [`run`]: the execution of a parsed machine against in-process task handlers and an object
//!   store provided through [`Resources`] (`executor`, `map`, the execution `history`).
//! * The language pieces both phases use: `path` (JSONPath and the context object), `payload`
//!   (Parameters/ResultSelector templates), `intrinsics` (`States.*` functions), `choice`
//!   (Choice rules), `retry` (Retry/Catch), `error`.

pub mod ast;
mod choice;
mod error;
mod intrinsics;
pub mod json_array;
mod path;
mod payload;
mod retry;

pub mod parse;
pub mod run;

#[cfg(test)]
mod tests;

pub use ast::StateMachine;
pub use error::AslError;
pub use run::executor::{ExecutionOptions, ExecutionResult, ExecutionStatus, run_execution};
pub use run::history::{HistoryEvent, HistoryEventKind, Observer};
pub use run::resources::{Resources, TaskFailure};
