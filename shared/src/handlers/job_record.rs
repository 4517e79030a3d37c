//! Job records: one item per job in the jobs table (`pk = "JOB"`, `sk = jobId`), so
//! `migrate jobs` is one query in job-id order.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::keys::Key;
use crate::ports::table::{Condition, Put, query_all};
use crate::process::Counts;
use crate::value::{Item, get_s, s};

use super::Deps;

pub const JOB_RECORD_PK: &str = "JOB";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub success: bool,
    pub source_count: u64,
    pub target_count: u64,
    pub missing_count: u64,
    pub extra_count: u64,
    pub difference_count: u64,
}

/// The final output of an execution (DESIGN §7), also kept as the job record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobResult {
    pub job_id: String,
    pub mode: String,
    pub status: String,
    pub counts: Counts,
    pub verification: Verification,
    pub report_key: String,
    pub rejected_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Writes the job record (status RUNNING at Prepare, SUCCEEDED/FAILED at the end).
pub async fn put(
    deps: &Deps,
    job_id: &str,
    status: &str,
    body: &serde_json::Value,
) -> Result<(), Error> {
    let mut item = Item::new();
    item.insert("pk".into(), s(JOB_RECORD_PK));
    item.insert("sk".into(), s(job_id));
    item.insert("jobId".into(), s(job_id));
    item.insert("status".into(), s(status));
    item.insert("updatedAt".into(), s(super::now()));
    item.insert("record".into(), s(body.to_string()));
    deps.tables
        .put_item(Put::new(&deps.table_names.jobs, item, Condition::None))
        .await
        .map_err(|e| Error::Retryable(format!("cannot write job record: {e}")))
}

fn decode(item: &Item) -> serde_json::Value {
    get_s(item, "record")
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or(serde_json::Value::Null)
}

pub async fn get(deps: &Deps, job_id: &str) -> Result<Option<serde_json::Value>, Error> {
    let item = deps
        .tables
        .get_item(&deps.table_names.jobs, &Key::new(JOB_RECORD_PK, job_id))
        .await?;
    Ok(item.as_ref().map(decode))
}

pub async fn list(deps: &Deps) -> Result<Vec<serde_json::Value>, Error> {
    let items = query_all(
        deps.tables.as_ref(),
        &deps.table_names.jobs,
        JOB_RECORD_PK,
        None,
    )
    .await?;
    Ok(items.iter().map(decode).collect())
}
