//! The subcommands. Running commands go through the `start` handler and the local workflow
//! starter exactly as an S3 event, a console start or the schedule would on AWS.

use std::process::ExitCode;
use std::sync::Arc;

use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::handlers::{job_record, start};
use shared::keys::Key;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;
use shared::ports::table::query_all;
use shared::value::{PlainItem, TypedItem};

use crate::output;
use crate::progress::Progress;
use crate::{Cli, Command, DEFINITION};

/// Why a command stopped before it had a result to report (DESIGN §7 exit codes).
enum Usage {
    /// A usage or configuration problem (bad arguments, a bad job document): exit code 2.
    Usage(String),
    /// The store or the pipeline failed: exit code 1.
    Failed(String),
}

pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(Usage::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Usage::Failed(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn usage(e: impl std::fmt::Display) -> Usage {
    Usage::Usage(e.to_string())
}

/// A failure of the store or the pipeline: invalid input (something the user gave) is a usage
/// error, anything else (an unreadable store, an I/O failure) is a failure.
fn problem(e: shared::Error) -> Usage {
    match e.error_type() {
        shared::ErrorType::InvalidInput => Usage::Usage(e.to_string()),
        _ => Usage::Failed(e.to_string()),
    }
}

/// Reads a job document: its text is checked as text (a field given twice, an array, a wrong
/// type are named), then kept as the JSON the execution starts with.
fn read_job(path: &std::path::Path) -> Result<(Value, shared::job::JobDocument), Usage> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    shared::job::JobDocument::parse_text(&text)
        .map_err(|e| usage(format!("{}: {e}", path.display())))
}

async fn dispatch(cli: Cli) -> Result<ExitCode, Usage> {
    let definition = match &cli.definition {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?,
        None => DEFINITION.to_string(),
    };
    if let Command::Bench { rows, dir } = &cli.command {
        return bench(&definition, *rows, dir.as_deref(), cli.json).await;
    }
    let mut pipeline = LocalPipeline::open(&cli.state_dir, &definition).map_err(problem)?;
    let progress = Arc::new(Progress::new(cli.json));
    pipeline.observer = Some(progress.clone());
    pipeline.deps.progress = progress.clone();
    if let Some(scale) = std::env::var("MIGRATE_RETRY_INTERVAL_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        pipeline.retry_interval_scale = scale;
    }
    let json_out = cli.json;
    let started = match cli.command {
        Command::Upload { file, key } => {
            let body = tokio::fs::File::open(&file)
                .await
                .map_err(|e| usage(format!("cannot read {}: {e}", file.display())))?;
            let info = pipeline
                .objects
                .put_object_stream(LOCAL_BUCKET, &key, Box::pin(body))
                .await
                .map_err(|e| problem(e.into()))?;
            if !key.starts_with(start::INCOMING_PREFIX) {
                eprintln!(
                    "uploaded s3://{LOCAL_BUCKET}/{key}; not under {} so no job was started",
                    start::INCOMING_PREFIX
                );
                return Ok(ExitCode::SUCCESS);
            }
            let event = s3_event(&key, &info.etag, info.size)?;
            let deps = start::StartDeps {
                starter: &pipeline,
                objects: pipeline.objects.as_ref(),
                reconcile_job: None,
            };
            let mut started = start::handle_s3(event, &deps).await.map_err(problem)?;
            if started.is_empty() {
                eprintln!(
                    "uploaded s3://{LOCAL_BUCKET}/{key}; it is neither .csv nor .job.json so no job was started"
                );
                return Ok(ExitCode::SUCCESS);
            }
            started.remove(0)
        }
        Command::Start { job } => {
            let (mut doc, parsed) = read_job(&job)?;
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
            start_direct(&pipeline, name, doc).await?
        }
        Command::Rollback { job_id } => {
            shared::job::check_job_id(&job_id).map_err(usage)?;
            let id: String = format!("rollback-{job_id}").chars().take(80).collect();
            let doc = json!({ "mode": "rollback", "rollbackOf": job_id, "jobId": id });
            start_direct(&pipeline, id, doc).await?
        }
        Command::Reconcile { job } => {
            let Some(path) = job else {
                return Err(usage(
                    "no reconcile job: pass JOB.json or set MIGRATE_RECONCILE_JOB",
                ));
            };
            let (doc, _) = read_job(&path)?;
            let event: start::EventBridgeEvent = serde_json::from_value(json!({
                "version": "0", "id": format!("local-{}", start::content_hash(shared::handlers::now().as_bytes())), "detail-type": "Scheduled Event", "source": "aws.events",
                "account": "000000000000", "time": shared::handlers::now(), "region": "local",
                "resources": ["arn:aws:events:local:000000000000:rule/migration-nightly-reconcile"], "detail": {}
            }))
            .map_err(usage)?;
            let deps = start::StartDeps {
                starter: &pipeline,
                objects: pipeline.objects.as_ref(),
                reconcile_job: Some(doc),
            };
            start::handle_schedule(event, &deps)
                .await
                .map_err(problem)?
        }
        Command::Get {
            table,
            pk,
            sk,
            dynamodb_json,
        } => return inspect_get(&pipeline, &table, &pk, &sk, dynamodb_json).await,
        Command::Query {
            table,
            pk,
            sk_prefix,
            dynamodb_json,
        } => {
            return inspect_query(&pipeline, &table, &pk, sk_prefix.as_deref(), dynamodb_json)
                .await;
        }
        Command::Cat { key } => {
            return match pipeline.read_object(&key).await {
                Ok(bytes) => {
                    output::bytes(&bytes);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(ExitCode::from(1))
                }
            };
        }
        // Handled before the state directory is opened (it uses its own).
        Command::Bench { .. } => return Err(usage("bench runs on its own state directory")),
        Command::Jobs => {
            let jobs = job_record::list(&pipeline.deps).await.map_err(problem)?;
            output::json(&jobs, true);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Job { job_id } => {
            return match job_record::get(&pipeline.deps, &job_id)
                .await
                .map_err(problem)?
            {
                Some(job) => {
                    output::json(&job, true);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("error: no job {job_id:?}");
                    Ok(ExitCode::from(1))
                }
            };
        }
    };
    progress.finish();
    report(&pipeline, started, json_out).await
}

async fn bench(
    definition: &str,
    rows: u64,
    dir: Option<&std::path::Path>,
    json_out: bool,
) -> Result<ExitCode, Usage> {
    if rows == 0 {
        return Err(usage("--rows must be at least 1"));
    }
    let temp;
    let dir = match dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| usage(format!("cannot create {}: {e}", d.display())))?;
            d.to_path_buf()
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| usage(format!("temporary directory: {e}")))?;
            temp.path().to_path_buf()
        }
    };
    if !json_out {
        eprintln!("benchmark: {rows} rows in {}", dir.display());
    }
    match crate::bench::bench(definition, rows, &dir).await {
        Ok(phases) => {
            if json_out {
                output::json(&phases, true);
            } else {
                crate::bench::print_table(&phases);
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: benchmark failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// A job id derived from the document's content: the same document is the same job.
fn content_name(doc: &Value) -> String {
    let mode = doc.get("mode").and_then(|m| m.as_str()).unwrap_or("job");
    format!("{mode}-{}", start::content_hash(doc.to_string().as_bytes()))
}

/// Starts a job the way a console start does: an execution named `name` with `doc` as input.
async fn start_direct(
    pipeline: &LocalPipeline,
    name: String,
    doc: Value,
) -> Result<start::Started, Usage> {
    let deps = start::StartDeps {
        starter: pipeline,
        objects: pipeline.objects.as_ref(),
        reconcile_job: None,
    };
    start::start(&deps, name, doc).await.map_err(problem)
}

/// Keys in S3 notifications are URL-encoded (`/` kept); `start` decodes them.
const KEY_ENCODE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The S3 ObjectCreated notification for an object put into the local bucket.
fn s3_event(key: &str, etag: &str, size: u64) -> Result<start::S3Event, Usage> {
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

/// Prints the outcome of an execution and maps it to the exit code.
async fn report(
    pipeline: &LocalPipeline,
    started: start::Started,
    json_out: bool,
) -> Result<ExitCode, Usage> {
    let job_id = started
        .input
        .get("jobId")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| started.execution_name.clone());
    let last = pipeline.last_result.lock().ok().and_then(|l| l.clone());
    let record = job_record::get(&pipeline.deps, &job_id)
        .await
        .map_err(problem)?;
    let (succeeded, output, error, cause) = match (&last, started.already_existed) {
        (Some((_, result)), false) => (
            result.status == ExecutionStatus::Succeeded,
            result.output.clone().or_else(|| record.clone()),
            result.error.clone(),
            result.cause.clone(),
        ),
        _ => {
            if !json_out {
                eprintln!(
                    "execution {} exists already: nothing new was started",
                    started.execution_name
                );
            }
            let status = record
                .as_ref()
                .and_then(|r| r.get("status"))
                .and_then(|s| s.as_str())
                .unwrap_or("");
            let error = record
                .as_ref()
                .and_then(|r| r.get("error"))
                .and_then(|s| s.as_str())
                .map(str::to_string);
            let cause = record
                .as_ref()
                .and_then(|r| r.get("cause"))
                .and_then(|s| s.as_str())
                .map(str::to_string);
            (status == "SUCCEEDED", record.clone(), error, cause)
        }
    };
    let output = output.unwrap_or_else(
        || json!({ "jobId": job_id, "status": if succeeded { "SUCCEEDED" } else { "FAILED" } }),
    );
    let output = contract_output(output);
    if json_out {
        output::json(&output, false);
    } else {
        print_summary(&output);
    }
    if succeeded {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "execution failed: {}: {}",
            error.unwrap_or_else(|| "States.Unknown".into()),
            cause.unwrap_or_default()
        );
        if let Some((_, result)) = &last
            && !json_out
        {
            eprintln!("execution history (last events):");
            for e in result
                .history
                .iter()
                .rev()
                .take(12)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
            {
                eprintln!(
                    "  {:?} {} {}",
                    e.kind,
                    e.state.clone().unwrap_or_default(),
                    e.detail
                );
            }
        }
        Ok(ExitCode::from(1))
    }
}

/// Keeps exactly the fields of the output contract (DESIGN §7), in its order.
fn contract_output(v: Value) -> Value {
    let get = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let mut counts = json!({ "total": 0, "created": 0, "updated": 0, "unchanged": 0, "rejected": 0, "conflicts": 0, "failed": 0 });
    if let (Some(c), Some(obj)) = (
        v.get("counts").and_then(|c| c.as_object()),
        counts.as_object_mut(),
    ) {
        for (k, val) in c {
            obj.insert(k.clone(), val.clone());
        }
    }
    let mut verification = json!({ "success": false, "sourceCount": 0, "targetCount": 0, "missingCount": 0, "extraCount": 0, "differenceCount": 0 });
    if let (Some(c), Some(obj)) = (
        v.get("verification").and_then(|c| c.as_object()),
        verification.as_object_mut(),
    ) {
        for (k, val) in c {
            obj.insert(k.clone(), val.clone());
        }
    }
    let job_id = get("jobId");
    let prefix = format!("jobs/{}/", job_id.as_str().unwrap_or(""));
    json!({
        "jobId": job_id,
        "mode": get("mode"),
        "status": get("status"),
        "counts": counts,
        "verification": verification,
        "reportKey": v.get("reportKey").cloned().unwrap_or_else(|| format!("{prefix}report.json").into()),
        "rejectedKey": v.get("rejectedKey").cloned().unwrap_or_else(|| format!("{prefix}rejected.csv").into()),
    })
}

fn print_summary(o: &Value) {
    let n = |p: &str| o.pointer(p).and_then(|v| v.as_u64()).unwrap_or(0);
    let s = |p: &str| {
        o.pointer(p)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    eprintln!();
    eprintln!(
        "job {}  mode {}  status {}",
        s("/jobId"),
        s("/mode"),
        s("/status")
    );
    eprintln!("  ┌────────────┬───────────┐");
    for (label, p) in [
        ("total", "/counts/total"),
        ("created", "/counts/created"),
        ("updated", "/counts/updated"),
        ("unchanged", "/counts/unchanged"),
        ("rejected", "/counts/rejected"),
        ("conflicts", "/counts/conflicts"),
        ("failed", "/counts/failed"),
    ] {
        eprintln!("  │ {label:<10} │ {:>9} │", n(p));
    }
    eprintln!("  └────────────┴───────────┘");
    let ok = o
        .pointer("/verification/success")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    eprintln!(
        "  verification: {}  source {}  target {}  missing {}  extra {}  different {}",
        if ok { "passed" } else { "FAILED" },
        n("/verification/sourceCount"),
        n("/verification/targetCount"),
        n("/verification/missingCount"),
        n("/verification/extraCount"),
        n("/verification/differenceCount")
    );
    eprintln!(
        "  report: migrate cat {}   rejected rows: migrate cat {}",
        s("/reportKey"),
        s("/rejectedKey")
    );
}

fn table_name(pipeline: &LocalPipeline, table: &str) -> Result<String, Usage> {
    let names = &pipeline.deps.table_names;
    match table {
        "command" => Ok(names.command.clone()),
        "data" => Ok(names.data.clone()),
        "history" => Ok(names.history.clone()),
        other => Err(usage(format!(
            "unknown table {other:?}: use command, data or history"
        ))),
    }
}

async fn inspect_get(
    pipeline: &LocalPipeline,
    table: &str,
    pk: &str,
    sk: &str,
    typed: bool,
) -> Result<ExitCode, Usage> {
    let name = table_name(pipeline, table)?;
    match pipeline
        .deps
        .tables
        .get_item(&name, &Key::new(pk, sk))
        .await
        .map_err(|e| problem(e.into()))?
    {
        Some(item) => {
            if typed {
                output::json(&TypedItem(&item), true);
            } else {
                output::json(&PlainItem(&item), true);
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("not found: {table} {pk} / {sk}");
            Ok(ExitCode::from(1))
        }
    }
}

async fn inspect_query(
    pipeline: &LocalPipeline,
    table: &str,
    pk: &str,
    prefix: Option<&str>,
    typed: bool,
) -> Result<ExitCode, Usage> {
    let name = table_name(pipeline, table)?;
    let items = query_all(pipeline.deps.tables.as_ref(), &name, pk, prefix)
        .await
        .map_err(|e| problem(e.into()))?;
    if typed {
        output::json(&items.iter().map(TypedItem).collect::<Vec<_>>(), true);
    } else {
        output::json(&items.iter().map(PlainItem).collect::<Vec<_>>(), true);
    }
    Ok(ExitCode::SUCCESS)
}
