//! `migrate upload FILE KEY`: puts FILE into the local bucket at KEY and delivers the S3
//! ObjectCreated event to `start` (`incoming/*.csv` starts an import, `incoming/*.job.json` the
//! job it holds). `None`: uploaded, and no job starts for that key.

use std::path::Path;

use serde_json::json;
use shared::handlers::start::{self, Started};
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;

use super::{Failure, failed, not_started, usage};

pub async fn run(
    pipeline: &LocalPipeline,
    file: &Path,
    key: &str,
) -> Result<Option<Started>, Failure> {
    let body = tokio::fs::File::open(file)
        .await
        .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
    let info = pipeline
        .objects
        .put_object_stream(LOCAL_BUCKET, key, Box::pin(body))
        .await
        .map_err(|e| match e {
            // A key S3 would refuse (too long, a bad segment) is the user's to fix.
            shared::StoreError::InvalidRequest(why) => usage(why),
            other => failed(other),
        })?;
    if !key.starts_with(start::INCOMING_PREFIX) {
        eprintln!(
            "uploaded s3://{LOCAL_BUCKET}/{key}; not under {} so no job was started",
            start::INCOMING_PREFIX
        );
        return Ok(None);
    }
    let event = s3_event(key, &info.etag, info.size)?;
    let deps = start::StartDeps {
        starter: pipeline,
        objects: pipeline.objects.as_ref(),
        reconcile_job: None,
    };
    let mut started = start::handle_s3(event, &deps).await.map_err(not_started)?;
    if started.is_empty() {
        eprintln!(
            "uploaded s3://{LOCAL_BUCKET}/{key}; it is neither .csv nor .job.json so no job was started"
        );
        return Ok(None);
    }
    Ok(Some(started.remove(0)))
}

/// Keys in S3 notifications are URL-encoded (`/` kept); `start` decodes them.
const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The S3 ObjectCreated notification for an object put into the local bucket.
fn s3_event(key: &str, etag: &str, size: u64) -> Result<start::S3Event, Failure> {
    let encoded = percent_encoding::utf8_percent_encode(key, KEY_ENCODE).to_string();
    let event = json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "local", "eventTime": shared::handlers::now(),
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
        "s3": { "s3SchemaVersion": "1.0", "configurationId": "incoming",
                "bucket": {"name": LOCAL_BUCKET, "ownerIdentity": {"principalId": "local"}, "arn": format!("arn:aws:s3:::{LOCAL_BUCKET}")},
                "object": {"key": encoded, "size": size, "eTag": etag.trim_matches('"'), "sequencer": "0"} }
    }]});
    serde_json::from_value(event).map_err(|e| usage(format!("cannot build the S3 event: {e}")))
}
