//! The domain of the CQRS migration pipeline and its ports.
//!
//! * [`keys`], [`value`], [`model`]: the MBC CQRS data model (DESIGN §3).
//! * [`migration_csv`]: the migration CSV contract (DESIGN §5), streamed.
//! * [`ports`]: narrow traits for tables, streams, objects, workflows; [`embedded`] adapters.

pub mod embedded;
pub mod error;
pub mod keys;
pub mod migration_csv;
pub mod model;
pub mod ports;
pub mod value;

pub use error::{Error, ErrorType, Result, StoreError};
