//! Domain repositories above the table port: typed records instead of hand-built items and
//! page loops in handlers.

pub mod data_rows;
pub mod job_records;

pub use data_rows::PartitionPages;
pub use job_records::{JobRecord, JobRecords};
