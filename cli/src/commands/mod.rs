//! The subcommands, one module each. Commands that run jobs go through the `start` handler and
//! the local workflow starter exactly as an S3 event, a console start or the schedule would on
//! AWS, and print the execution's typed result ([`outcome`]).
//!
//! Exit codes (DESIGN §7): 0 success, 1 the execution, the store or the pipeline failed,
//! 2 a usage or configuration error (arguments, a job document that does not validate).

pub mod bench;
mod cat;
mod get;
mod jobs;
mod outcome;
mod query;
mod reconcile;
mod report;
mod rollback;
mod start;
mod upload;
mod users;

use std::process::ExitCode;
use std::sync::Arc;

use shared::keys::Key;
use shared::local::LocalPipeline;

use crate::progress::Progress;
use crate::{Cli, Command, DEFINITION, UsersAction};

/// Why a command stopped before it had a result to report.
pub enum Failure {
    /// A usage or configuration problem: exit code 2.
    Usage(String),
    /// The store or the pipeline failed: exit code 1.
    Failed(String),
}

pub type Outcome = Result<ExitCode, Failure>;

pub fn usage(e: impl std::fmt::Display) -> Failure {
    Failure::Usage(e.to_string())
}

/// A failure of the store or the pipeline (exit 1), whatever its kind.
pub fn failed(e: impl Into<shared::Error>) -> Failure {
    Failure::Failed(e.into().to_string())
}

/// A job that could not be started: a document that does not validate is the user's to fix
/// (exit 2); anything else is a failure (exit 1).
pub fn not_started(e: shared::Error) -> Failure {
    match e {
        shared::Error::InvalidInput(msg) => Failure::Usage(msg),
        other => Failure::Failed(other.to_string()),
    }
}

pub async fn run(cli: Cli) -> ExitCode {
    let outcome = dispatch(cli).await;
    let (message, code) = match outcome {
        Ok(code) => return code,
        Err(Failure::Usage(m)) => (m, 2),
        Err(Failure::Failed(m)) => (m, 1),
    };
    eprintln!("error: {message}");
    ExitCode::from(code)
}

fn definition(cli: &Cli) -> Result<String, Failure> {
    match &cli.definition {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| usage(format!("cannot read {}: {e}", p.display()))),
        None => Ok(DEFINITION.to_string()),
    }
}

/// Opens the state directory with progress on stderr (hidden with `--json`).
fn open(cli: &Cli, definition: &str) -> Result<(LocalPipeline, Arc<Progress>), Failure> {
    let mut pipeline = LocalPipeline::open(&cli.state_dir, definition).map_err(failed)?;
    let progress = Arc::new(Progress::new(cli.json));
    pipeline.observer = Some(progress.clone());
    pipeline.deps.progress = progress.clone();
    if let Some(scale) = std::env::var("MIGRATE_RETRY_INTERVAL_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        pipeline.retry_interval_scale = scale;
    }
    Ok((pipeline, progress))
}

async fn dispatch(cli: Cli) -> Outcome {
    let definition = definition(&cli)?;
    if let Command::Bench {
        rows,
        csv,
        dir,
        no_baseline,
    } = &cli.command
    {
        // Its own fresh state directory, not --state-dir.
        let options = bench::BenchOptions {
            rows: *rows,
            csv: csv.clone(),
            dir: dir.clone(),
            baseline: !no_baseline,
        };
        return bench::run(&definition, options, cli.json).await;
    }
    let (pipeline, progress) = open(&cli, &definition)?;
    let json = cli.json;
    let started = match cli.command {
        Command::Upload { file, key } => match upload::run(&pipeline, &file, &key).await? {
            Some(started) => started,
            None => return Ok(ExitCode::SUCCESS),
        },
        Command::Start { job } => start::run(&pipeline, &job).await?,
        Command::Rollback { job_id } => rollback::run(&pipeline, &job_id).await?,
        Command::Reconcile { job } => reconcile::run(&pipeline, job.as_deref()).await?,
        Command::Get {
            table,
            pk,
            sk,
            dynamodb_json,
            tenant_fallback,
        } => {
            let how = get::Read {
                typed: dynamodb_json,
                tenant_fallback,
            };
            return get::run(&pipeline, &table, &Key::new(pk, sk), how).await;
        }
        Command::Query {
            table,
            pk,
            sk_prefix,
            dynamodb_json,
            tenant_fallback,
        } => {
            let how = get::Read {
                typed: dynamodb_json,
                tenant_fallback,
            };
            return query::run(&pipeline, &table, &pk, sk_prefix.as_deref(), how).await;
        }
        Command::Cat { key } => return cat::run(&pipeline, &key).await,
        Command::Jobs => return jobs::list(&pipeline).await,
        Command::Job { job_id } => return jobs::show(&pipeline, &job_id).await,
        Command::Report { job_id } => return report::run(&pipeline, &job_id).await,
        Command::Users { action } => {
            return match action {
                UsersAction::Load { pool, file } => users::load(&pipeline, &pool, &file).await,
                UsersAction::List { pool } => users::list(&pipeline, &pool).await,
            };
        }
        Command::Bench { .. } => return Err(usage("bench runs on its own state directory")),
    };
    progress.finish();
    outcome::print(&pipeline, started, json).await
}

/// The table a user names (`command`, `data`, `history`) in the state directory.
pub fn table_name(pipeline: &LocalPipeline, table: &str) -> Result<String, Failure> {
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
