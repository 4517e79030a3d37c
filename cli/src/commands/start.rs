//! `migrate start JOB.json`: starts an execution with that job document, as a console start
//! does, and runs it to completion.

use std::path::Path;

use serde_json::Value;
use shared::handlers::start::{self, Started};
use shared::job::JobDocument;
use shared::local::LocalPipeline;

use super::{Failure, not_started, usage};

/// Reads a job document: its text is checked as text (a field given twice, an array, a wrong
/// type are named), then kept as the JSON the execution starts with.
pub fn read_job(path: &Path) -> Result<(Value, JobDocument), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    JobDocument::parse_text(&text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// A job id derived from the document's content: the same document is the same job.
fn content_name(doc: &Value) -> String {
    let mode = doc.get("mode").and_then(|m| m.as_str()).unwrap_or("job");
    format!("{mode}-{}", start::content_hash(doc.to_string().as_bytes()))
}

pub async fn run(pipeline: &LocalPipeline, path: &Path) -> Result<Started, Failure> {
    let (mut doc, parsed) = read_job(path)?;
    parsed.validate().map_err(usage)?;
    let name = match parsed.job_id {
        Some(id) => id,
        None => {
            // A console start names its execution; ours is derived from the document.
            let id = content_name(&doc);
            if let Some(o) = doc.as_object_mut() {
                o.insert("jobId".into(), id.clone().into());
            }
            id
        }
    };
    start_named(pipeline, name, doc).await
}

/// Starts a job the way a console start does: an execution named `name` with `doc` as input.
pub async fn start_named(
    pipeline: &LocalPipeline,
    name: String,
    doc: Value,
) -> Result<Started, Failure> {
    let deps = start::StartDeps {
        starter: pipeline,
        objects: pipeline.objects.as_ref(),
        reconcile_job: None,
    };
    start::start(&deps, name, doc).await.map_err(not_started)
}
