//! Ports: the narrow interfaces the domain needs from the outside world.
//!
//! One trait per store operation (as in aws-samples/serverless-rust-demo), grouped by a blanket
//! super-trait per store. Each has an embedded adapter (`crate::embedded`) and an AWS adapter,
//! and one contract test suite (`tests/support/contract`) runs against both.

pub mod objects;
pub mod stream;
pub mod table;
pub mod users;
pub mod workflow;

pub use objects::{ObjectInfo, ObjectReader, ObjectStore};
pub use stream::{StreamEventName, StreamPosition, StreamReader, StreamRecord};
pub use table::{CancellationReason, Condition, Page, Put, Table, WriteError};
pub use users::{User, UserDirectory, UserPage};
pub use workflow::{StartOutcome, WorkflowStarter};
