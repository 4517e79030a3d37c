//! Domain repositories above the table port: typed records instead of hand-built items and
//! page loops in handlers.

pub mod job_records;

pub use job_records::{JobRecord, JobRecords};
