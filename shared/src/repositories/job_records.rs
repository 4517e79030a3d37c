//! Job records: one item per job in the jobs table (`pk = "JOB"`, `sk = jobId`), so
//! `migrate jobs` is one query in job-id order. The record is the job's [`JobResult`] with when
//! it started and finished and the document it ran, kept as JSON in the item's `record`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, StoreError};
use crate::job::{JobDocument, JobResult};
use crate::keys::Key;
use crate::ports::Table;
use crate::ports::table::{Condition, Put, query_all};
use crate::value::{Item, get_s, s};

pub const JOB_RECORD_PK: &str = "JOB";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRecord {
    #[serde(flatten)]
    pub result: JobResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<JobDocument>,
}

/// The jobs table.
pub struct JobRecords<'a> {
    table: &'a dyn Table,
    name: &'a str,
}

impl<'a> JobRecords<'a> {
    pub fn new(table: &'a dyn Table, name: &'a str) -> Self {
        JobRecords { table, name }
    }

    /// Writes the record (status RUNNING at Prepare, SUCCEEDED/FAILED at the end).
    pub async fn put(&self, record: &JobRecord, now: &str) -> Result<(), Error> {
        let body = serde_json::to_string(record)
            .map_err(|e| Error::MigrationFailed(format!("job record: {e}")))?;
        let job_id = &record.result.job_id;
        let mut item = Item::new();
        item.insert("pk".into(), s(JOB_RECORD_PK));
        item.insert("sk".into(), s(job_id));
        item.insert("jobId".into(), s(job_id));
        item.insert("status".into(), s(record.result.status.as_str()));
        item.insert("updatedAt".into(), s(now));
        item.insert("record".into(), s(body));
        self.table
            .put_item(Put::new(self.name, item, Condition::None))
            .await?;
        Ok(())
    }

    pub async fn get(&self, job_id: &str) -> Result<Option<JobRecord>, Error> {
        let item = self
            .table
            .get_item(self.name, &Key::new(JOB_RECORD_PK, job_id))
            .await?;
        item.as_ref().map(decode).transpose()
    }

    /// Every job record, in job-id order.
    pub async fn list(&self) -> Result<Vec<JobRecord>, Error> {
        let items = query_all(self.table, self.name, JOB_RECORD_PK, None).await?;
        items.iter().map(decode).collect()
    }
}

/// A record that does not decode is reported as corrupt, never passed on as nothing.
fn decode(item: &Item) -> Result<JobRecord, Error> {
    let sk = get_s(item, "sk").unwrap_or_default();
    let text = get_s(item, "record")
        .ok_or_else(|| StoreError::Corrupt(format!("job record {sk}: no record attribute")))?;
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("job record {sk}: {e}")).into())
}
