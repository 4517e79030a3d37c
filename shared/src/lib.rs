//! The domain of the CQRS migration pipeline, its ports and adapters, and the handlers of the
//! state machine (shared by the Lambda functions and the `migrate` CLI).
//!
//! * [`keys`], [`value`], [`model`]: the MBC CQRS data model (DESIGN §3).
//! * [`migration_csv`]: the migration CSV contract (DESIGN §5), streamed.
//! * [`job`], [`operations`]: the job document (DESIGN §4) and schema evolution.
//! * [`publish`], [`process`], [`history`]: compare / map / publish, chunk processing, history.
//! * [`artifacts`]: a job's files under `jobs/<jobId>/`; [`repositories`]: job records;
//!   [`report`]: report.json, report.md and the job record at the end of a job.
//! * [`ports`]: narrow traits for tables, streams, objects, workflows; [`embedded`] adapters.
//! * [`handlers`]: one module per Task state of `infra/statemachine.asl.json`.
//! * `aws` (feature `aws`): the AWS adapters; `lambda` (feature `lambda`): Lambda wiring.
//! * [`asl`]: a local interpreter of the Amazon States Language; [`local`] wires it to the handlers.

pub mod allocator;
pub mod app_settings;
pub mod artifacts;
/// The States Language interpreter (its own crate: it imports nothing of the pipeline).
pub use asl;
#[cfg(feature = "aws")]
pub mod aws;
pub mod cost;
pub mod dual_read;
#[cfg(feature = "embedded")]
pub mod embedded;
pub mod error;
pub mod external_sort;
pub mod handlers;
pub mod hashing;
pub mod history;
pub mod job;
pub mod js_numbers;
pub mod keys;
pub mod kill_points;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod large_attributes;
pub mod limits;
#[cfg(feature = "embedded")]
pub mod local;
pub mod merge;
pub mod migration_csv;
pub mod model;
pub mod operations;
pub mod ports;
pub mod process;
pub mod process_stats;
pub mod publish;
pub mod rds_sql;
pub mod report;
pub mod repositories;
pub mod request_count;
pub mod runner;
pub mod ttl_rules;
pub mod users;
pub mod value;
pub mod wiring;
pub mod write_budget;

pub use error::{Error, ErrorType, Result, StoreError};
