//! `migrate`: run the migration state machine locally on the embedded store, inspect the
//! tables and objects, roll back a job. See README.md and DESIGN §7.
//!
//! Exit codes: 0 the execution succeeded, 1 it, the store or the pipeline failed (error and
//! cause on stderr), 2 usage or configuration error. One module per subcommand in `commands/`.

mod commands;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The deployed definition, compiled in; `--definition` runs another file instead.
const DEFINITION: &str = include_str!("../../infra/statemachine.asl.json");

#[derive(Parser)]
#[command(
    name = "migrate",
    version,
    about = "DynamoDB CQRS data migrations, run locally with the deployed state machine"
)]
struct Cli {
    /// Where the embedded store lives (SQLite tables + objects under s3/).
    #[arg(
        long,
        global = true,
        env = "MIGRATE_STATE_DIR",
        default_value = ".migrate"
    )]
    state_dir: PathBuf,
    /// Print only the execution's final output (JSON) on stdout.
    #[arg(long, global = true)]
    json: bool,
    /// Run this state machine definition instead of the built-in infra/statemachine.asl.json.
    #[arg(long, global = true, env = "MIGRATE_DEFINITION")]
    definition: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put FILE into the local bucket at KEY and deliver the S3 ObjectCreated event to `start`
    /// (`incoming/*.csv` starts an import, `incoming/*.job.json` the job it holds).
    Upload { file: PathBuf, key: String },
    /// Start an execution with this job document and run it to completion.
    Start { job: PathBuf },
    /// Deliver the scheduled (nightly) event to `start`, with this reconcile job document.
    Reconcile {
        #[arg(env = "MIGRATE_RECONCILE_JOB")]
        job: Option<PathBuf>,
    },
    /// Roll back job JOB_ID.
    Rollback { job_id: String },
    /// One item as JSON (TABLE: command, data, history); exit 1 if absent.
    Get {
        table: String,
        pk: String,
        sk: String,
        /// Print DynamoDB JSON (`{"pk":{"S":…}}`), as PutItem takes it, instead of plain JSON.
        #[arg(long)]
        dynamodb_json: bool,
        /// Dual read while tenant codes are lowercased: the lowercase key first, then the
        /// legacy uppercase spellings (each legacy hit is logged).
        #[arg(long)]
        tenant_fallback: bool,
    },
    /// Items of one partition in sk order, as a JSON array.
    Query {
        table: String,
        pk: String,
        #[arg(long)]
        sk_prefix: Option<String>,
        /// Print DynamoDB JSON (`{"pk":{"S":…}}`), as PutItem takes it, instead of plain JSON.
        #[arg(long)]
        dynamodb_json: bool,
        /// Dual read: every sk under the lowercase key or a legacy uppercase spelling, the
        /// lowercase item winning.
        #[arg(long)]
        tenant_fallback: bool,
    },
    /// Print a local object (reports, rejected rows).
    Cat { key: String },
    /// All job records as JSON.
    Jobs,
    /// One job record as JSON; exit 1 if absent.
    Job { job_id: String },
    /// The job's readable report (counts, verification, samples of each problem, time taken).
    Report { job_id: String },
    /// The local twin of a Cognito user pool (what a normalize-users job works on locally).
    Users {
        #[command(subcommand)]
        action: UsersAction,
    },
    /// Benchmark the local pipeline on N generated rows or on a given CSV: an import, the same
    /// file again (unchanged) and every tenth row changed, beside bare SQLite on the same file.
    /// Prints per job: time, rows/s, CPU µs per row, Transform MB/s, Process and Verify rows/s,
    /// table requests per row, database bytes per row and peak RSS. Uses a fresh state
    /// directory under DIR (default: a temporary directory), not --state-dir
    Bench {
        /// Rows to generate (ignored with --csv)
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Run on this migration CSV instead (e.g. the reference input,
        /// `python3 ../shared/bench/gen_migration_csv.py 100000 m100k.csv`)
        #[arg(long)]
        csv: Option<PathBuf>,
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Skip the bare-SQLite reference run
        #[arg(long)]
        no_baseline: bool,
    },
}

#[derive(Subcommand)]
enum UsersAction {
    /// Load users (a JSON array of {"username", "attributes"}) into POOL.
    Load { pool: String, file: PathBuf },
    /// Every user of POOL as JSON.
    List { pool: String },
}

// Rust's allocations go to jemalloc, with settings that keep the resident set within the 64 MB
// bound (`shared::allocator` says why and what was measured).
shared::use_jemalloc!(shared::allocator::MIGRATE_MALLOC_CONF);

/// SQLite (C) allocates through glibc's malloc, which gives each thread that allocates its own
/// arena (up to 8 per core), and memory freed into one arena is not reused by another: two
/// arenas let both cores allocate without contending and keep its share of the resident set
/// small.
fn bound_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called once, before any other thread.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

fn main() -> ExitCode {
    bound_malloc_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MIGRATE_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(commands::run(cli))
}
