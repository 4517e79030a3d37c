//! The `start` function: an S3 upload under `incoming/` or the nightly schedule → one execution.
//!
//! * `incoming/**/*.csv` → an import job of that object;
//! * `incoming/**/*.job.json` → the job document it holds;
//! * an EventBridge scheduled event → the configured reconcile job.
//!
//! Execution names are derived deterministically (bucket, key and ETag; or the job id; or the
//! schedule's day), so a duplicated event starts nothing new: `ExecutionAlreadyExists` is success.

pub use aws_lambda_events::event::eventbridge::EventBridgeEvent;
pub use aws_lambda_events::event::s3::S3Event;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::job::JobDocument;
use crate::ports::objects::{ObjectStore, get_bytes};
use crate::ports::workflow::{StartOutcome, WorkflowStarter};

pub const INCOMING_PREFIX: &str = "incoming/";

/// What `start` needs.
pub struct StartDeps<'a> {
    pub starter: &'a dyn WorkflowStarter,
    pub objects: &'a dyn ObjectStore,
    /// The reconcile job document the schedule starts (template parameter / env `RECONCILE_JOB`).
    pub reconcile_job: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Started {
    pub execution_name: String,
    pub execution_id: String,
    pub already_existed: bool,
    pub input: serde_json::Value,
}

/// S3 keys in events are URL-encoded with `+` for spaces.
pub fn decode_key(key: &str) -> String {
    let plus_decoded = key.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_decoded)
        .decode_utf8_lossy()
        .into_owned()
}

fn sanitize(text: &str, max: usize) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.trim_matches('-').chars().take(max).collect()
}

/// 16 hex digits of SHA-256: stable across runs, machines and Rust versions (names derived
/// from it must be, or a re-run would not find its execution).
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `<file stem>-<16 hex of sha256(bucket/key/etag)>`: at most 80 characters of `[A-Za-z0-9_-]`.
pub fn execution_name_for_object(bucket: &str, key: &str, etag: &str) -> String {
    let hash = content_hash(format!("{bucket}/{key}/{}", etag.trim_matches('"')).as_bytes());
    let file = key.rsplit('/').next().unwrap_or(key);
    let stem = file
        .strip_suffix(".job.json")
        .or_else(|| file.strip_suffix(".csv"))
        .unwrap_or(file);
    let stem = sanitize(stem, 60);
    if stem.is_empty() {
        format!("import-{hash}")
    } else {
        format!("{stem}-{hash}")
    }
}

/// Starts (or finds) the execution `name`; the one place that turns a start outcome into [`Started`].
pub async fn start(
    deps: &StartDeps<'_>,
    name: String,
    input: serde_json::Value,
) -> Result<Started, Error> {
    let outcome = deps.starter.start_execution(&name, input.clone()).await?;
    let (execution_id, already_existed) = match outcome {
        StartOutcome::Started { execution_id } => (execution_id, false),
        StartOutcome::AlreadyExists { execution_id } => (execution_id, true),
    };
    if already_existed {
        tracing::warn!(execution_name = %name, "an execution of that name exists: nothing new started (a duplicated event, or the same upload again)");
    } else {
        tracing::info!(execution_name = %name, "execution started");
    }
    Ok(Started {
        execution_name: name,
        execution_id,
        already_existed,
        input,
    })
}

/// Handles an S3 notification; records that are not ObjectCreated under `incoming/` are ignored.
pub async fn handle_s3(event: S3Event, deps: &StartDeps<'_>) -> Result<Vec<Started>, Error> {
    let mut out = Vec::new();
    for record in event.records {
        if !record
            .event_name
            .as_deref()
            .is_some_and(|n| n.starts_with("ObjectCreated:"))
        {
            continue;
        }
        let (Some(bucket), Some(raw_key)) =
            (record.s3.bucket.name.clone(), record.s3.object.key.clone())
        else {
            continue;
        };
        let key = decode_key(&raw_key);
        if !key.starts_with(INCOMING_PREFIX) {
            continue;
        }
        let etag = record.s3.object.e_tag.clone().unwrap_or_default();
        let name = execution_name_for_object(&bucket, &key, &etag);
        if key.ends_with(".job.json") {
            let bytes = get_bytes(deps.objects, &bucket, &key).await?;
            let text = std::str::from_utf8(&bytes)
                .map_err(|_| Error::invalid(format!("s3://{bucket}/{key}: not UTF-8 text")))?;
            let (doc, parsed) = JobDocument::parse_text(text)
                .map_err(|e| Error::invalid(format!("s3://{bucket}/{key}: {e}")))?;
            parsed.validate()?;
            // The job id plus the upload's identity: a duplicated event starts nothing new, and a
            // corrected document uploaded again resumes the same job (Prepare takes the job id
            // from the document) instead of colliding with the first execution's name.
            let name = match &parsed.job_id {
                Some(id) => {
                    let upload = content_hash(
                        format!("{bucket}\n{key}\n{}", etag.trim_matches('"')).as_bytes(),
                    );
                    format!("{}-{}", sanitize(id, 80 - 1 - upload.len()), upload)
                }
                None => name,
            };
            out.push(start(deps, name, doc).await?);
        } else if key.ends_with(".csv") {
            let doc =
                serde_json::json!({ "mode": "import", "source": { "bucket": bucket, "key": key } });
            out.push(start(deps, name, doc).await?);
        } else {
            tracing::info!(key = %key, "ignored: not .csv or .job.json");
        }
    }
    Ok(out)
}

/// Handles the nightly schedule: starts the configured reconcile job once per day.
pub async fn handle_schedule(
    event: EventBridgeEvent,
    deps: &StartDeps<'_>,
) -> Result<Started, Error> {
    let mut doc = deps
        .reconcile_job
        .clone()
        .ok_or_else(|| {
            Error::invalid(
                "no reconcile job is configured (RECONCILE_JOB is empty or not valid JSON; see the function's init log)",
            )
        })?;
    let parsed = JobDocument::parse(doc.clone())?;
    parsed.validate()?;
    if parsed.mode != crate::job::Mode::Reconcile {
        return Err(Error::invalid(format!(
            "the scheduled job must have mode reconcile, not {}",
            parsed.mode.as_str()
        )));
    }
    let day = event
        .time
        .unwrap_or_else(chrono::Utc::now)
        .format("%Y%m%d")
        .to_string();
    let name = match &parsed.job_id {
        // The day must survive truncation, or the nightly job would run only once.
        Some(id) => format!("{}-{day}", sanitize(id, 80 - 1 - day.len())),
        None => format!("reconcile-{day}"),
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("jobId".into(), name.clone().into());
    }
    start(deps, name, doc).await
}

/// The reconcile job from its configuration text (`RECONCILE_JOB`); empty means none.
pub fn reconcile_job_from(text: Option<&str>) -> Result<Option<serde_json::Value>, Error> {
    match text.map(str::trim) {
        None | Some("") | Some("{}") => Ok(None),
        Some(t) => serde_json::from_str(t)
            .map(Some)
            .map_err(|e| Error::invalid(format!("RECONCILE_JOB is not JSON: {e}"))),
    }
}

/// The `start` function's event: an S3 notification (`Records`), S3's `s3:TestEvent` (sent when
/// the notification is configured; ignored), or a scheduled event (`source` `aws.events` or
/// `aws.scheduler`). Returns `{"started": [...]}`.
pub async fn handle_event(
    event: serde_json::Value,
    deps: &StartDeps<'_>,
) -> Result<serde_json::Value, Error> {
    let started = if event.get("Records").is_some() {
        let s3: S3Event = serde_json::from_value(event)
            .map_err(|e| Error::invalid(format!("start: not an S3 event: {e}")))?;
        handle_s3(s3, deps).await?
    } else if event.get("Event").and_then(|e| e.as_str()) == Some("s3:TestEvent") {
        tracing::info!("ignored s3:TestEvent");
        Vec::new()
    } else if matches!(
        event.get("source").and_then(|s| s.as_str()),
        Some("aws.events" | "aws.scheduler")
    ) {
        let scheduled: EventBridgeEvent = serde_json::from_value(event)
            .map_err(|e| Error::invalid(format!("start: not a scheduled event: {e}")))?;
        vec![handle_schedule(scheduled, deps).await?]
    } else {
        return Err(Error::invalid(
            "start: expected an S3 notification or a scheduled event",
        ));
    };
    Ok(serde_json::json!({ "started": started }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("incoming/my+file%2B1.csv"),
            "incoming/my file+1.csv"
        );
    }

    #[test]
    fn names_are_deterministic_and_valid() {
        let a = execution_name_for_object("b", "incoming/products 2026.csv", "\"abc\"");
        assert_eq!(
            a,
            execution_name_for_object("b", "incoming/products 2026.csv", "abc")
        );
        assert_ne!(
            a,
            execution_name_for_object("b", "incoming/products 2026.csv", "abd")
        );
        assert!(a.starts_with("products-2026-"), "{a}");
        assert!(crate::job::check_job_id(&a).is_ok());
    }
}
