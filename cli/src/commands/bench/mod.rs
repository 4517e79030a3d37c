//! `migrate bench`: a reproducible benchmark of the local pipeline. On a fresh state directory
//! it runs three jobs through the real state machine — an import (every row created), the same
//! file again (every row unchanged, nothing written) and the file with every tenth row changed —
//! and reports, per job: wall and CPU time, rows/s, the span of each state (Transform's MB/s,
//! Process's and Verify's rows/s), table requests per row by operation (counted at the table
//! port, [`shared::request_count`]), the database's bytes per row and the process's peak RSS.
//! Before the jobs it measures the bare-SQLite reference ([`baseline`]) on the same file, so
//! the ratio to it is a same-machine, same-session figure. The README's figures come from it.
//!
//! Input: N generated rows (`--rows`), or a given migration CSV (`--csv`, e.g. the reference
//! input of `../shared/bench/gen_migration_csv.py`).

mod baseline;
mod input;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use shared::asl::{ExecutionStatus, HistoryEvent, HistoryEventKind};
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;
use shared::process_stats::{cpu_seconds, peak_rss};
use shared::request_count::{CountedTable, RequestCounts};

/// What to benchmark.
pub struct BenchOptions {
    pub rows: u64,
    pub csv: Option<PathBuf>,
    pub dir: Option<PathBuf>,
    /// Also measure the bare-SQLite reference on the same file.
    pub baseline: bool,
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The database's size: the file and its write-ahead log.
fn db_bytes(state_dir: &Path) -> u64 {
    file_bytes(&state_dir.join("tables.sqlite3"))
        + file_bytes(&state_dir.join("tables.sqlite3-wal"))
}

/// Seconds from a state's first entry to its last exit (a Map's iterations overlap; this is
/// the wall time the state took, not the sum of its tasks).
fn state_seconds(history: &[HistoryEvent], state: &str) -> Option<f64> {
    let of_state = || history.iter().filter(|e| e.state.as_deref() == Some(state));
    let start = of_state()
        .filter(|e| e.kind == HistoryEventKind::StateEntered)
        .map(|e| e.timestamp)
        .min()?;
    let end = of_state()
        .filter(|e| e.kind == HistoryEventKind::StateExited)
        .map(|e| e.timestamp)
        .max()?;
    Some((end - start).num_microseconds()? as f64 / 1e6)
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

struct Job<'a> {
    phase: &'a str,
    job_id: &'a str,
    csv: &'a Path,
}

/// Hands the memory glibc's malloc keeps after the last job (SQLite's freed page cache,
/// `LocalPipeline::run` releases it) back to the system, so each job starts from what a fresh
/// `migrate` process would hold.
fn trim_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's heaps to the system.
    unsafe {
        libc::malloc_trim(0);
    }
}

async fn run_job(
    pipeline: &LocalPipeline,
    counter: &CountedTable,
    job: &Job<'_>,
    rows: u64,
    csv_bytes: u64,
) -> Result<Value, String> {
    let key = format!("incoming/{}.csv", job.job_id);
    let file = tokio::fs::File::open(job.csv)
        .await
        .map_err(|e| format!("{}: {e}", job.csv.display()))?;
    pipeline
        .objects
        .put_object_stream(LOCAL_BUCKET, &key, Box::pin(file))
        .await
        .map_err(|e| e.to_string())?;
    trim_malloc();
    let requests_before = counter.counts();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let doc = json!({"jobId": job.job_id, "mode": "import", "source": {"key": key}});
    let result = pipeline
        .run(job.job_id, doc)
        .await
        .map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_before).map(|(a, b)| a - b);
    if result.status != ExecutionStatus::Succeeded {
        return Err(format!(
            "{}: {:?} {}",
            job.job_id,
            result.error,
            result.cause.unwrap_or_default()
        ));
    }
    let requests: RequestCounts = counter.counts().since(&requests_before);
    let per_row = |x: f64| x / rows.max(1) as f64;
    let mut states = serde_json::Map::new();
    for state in ["Prepare", "Export", "Transform", "Process", "Verify"] {
        if let Some(s) = state_seconds(&result.history, state) {
            let mut entry = json!({"seconds": round(s, 3)});
            if state == "Transform" {
                entry["mbPerSecond"] = json!(round(csv_bytes as f64 / 1e6 / s.max(1e-9), 1));
            }
            if matches!(state, "Transform" | "Process" | "Verify") {
                entry["rowsPerSecond"] = json!((rows as f64 / s.max(1e-9)).round());
            }
            states.insert(state.into(), entry);
        }
    }
    let db = db_bytes(&pipeline.state_dir);
    let output = result.output.unwrap_or(Value::Null);
    Ok(json!({
        "phase": job.phase,
        "rows": rows,
        "csvBytes": csv_bytes,
        "seconds": round(seconds, 2),
        "rowsPerSecond": (rows as f64 / seconds.max(1e-9)).round(),
        "cpuSeconds": cpu.map(|c| round(c, 2)),
        "cpuMicrosPerRow": cpu.map(|c| round(per_row(c) * 1e6, 1)),
        "states": states,
        "requests": requests,
        "requestsPerRow": round(per_row(requests.requests() as f64), 4),
        "dbBytes": db,
        "dbBytesPerRow": per_row(db as f64).round(),
        "peakRssBytes": peak_rss(),
        "counts": output.get("counts").cloned().unwrap_or(Value::Null),
    }))
}

/// `migrate bench`: on DIR (default: a temporary directory), never on --state-dir.
pub async fn run(definition: &str, options: BenchOptions, json_out: bool) -> super::Outcome {
    use super::usage;
    if options.csv.is_none() && options.rows == 0 {
        return Err(usage("--rows must be at least 1"));
    }
    if let Some(csv) = &options.csv
        && !csv.is_file()
    {
        return Err(usage(format!("--csv {}: no such file", csv.display())));
    }
    let temp;
    let dir = match &options.dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .map_err(|e| usage(format!("cannot create {}: {e}", d.display())))?;
            d.clone()
        }
        None => {
            temp = tempfile::tempdir().map_err(|e| usage(format!("temporary directory: {e}")))?;
            temp.path().to_path_buf()
        }
    };
    if !json_out {
        match &options.csv {
            Some(csv) => eprintln!("benchmark: {} in {}", csv.display(), dir.display()),
            None => eprintln!("benchmark: {} rows in {}", options.rows, dir.display()),
        }
    }
    let report = bench(definition, &options, &dir)
        .await
        .map_err(|e| super::Failure::Failed(format!("benchmark failed: {e}")))?;
    if json_out {
        crate::output::json(&report, true);
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// Where an earlier run's state waits to be deleted: `DIR/state.earlier-<n>`.
const EARLIER_STATE: &str = "state.earlier-";

/// Moves the state an earlier run left in `work_dir` aside (a rename), to be deleted once this
/// run is measured ([`delete_earlier_states`]). Deleting it first would slow this run: on ext4
/// without a journal (this machine's), a new file's inode is looked for past the inodes deleted
/// in the last minute (`recently_deleted`, six minutes while their table is not yet written
/// back), and every chunk, result and temporary file is a new inode: 6-8 % of Transform's
/// samples went there in a run that began by deleting the last run's state.
fn set_aside_earlier_state(work_dir: &Path, state_dir: &Path) -> Result<(), String> {
    if !state_dir.exists() {
        return Ok(());
    }
    let aside = (0u32..)
        .map(|n| work_dir.join(format!("{EARLIER_STATE}{n}")))
        .find(|p| !p.exists())
        .ok_or("no free name for the earlier state")?;
    std::fs::rename(state_dir, &aside)
        .map_err(|e| format!("moving {} aside: {e}", state_dir.display()))
}

/// Deletes the states earlier runs left in `work_dir` (after this run's figures are taken).
fn delete_earlier_states(work_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(work_dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(EARLIER_STATE))
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs the benchmark: `{input, baseline, phases: [...]}`.
pub async fn bench(
    definition: &str,
    options: &BenchOptions,
    work_dir: &Path,
) -> Result<Value, String> {
    let state_dir = work_dir.join("state");
    set_aside_earlier_state(work_dir, &state_dir)?;
    let updated = work_dir.join("bench-updated.csv");
    let (first, rows) = match &options.csv {
        Some(csv) => {
            let rows = input::copy_with_changes(csv, &updated, 10)?;
            (csv.clone(), rows)
        }
        None => {
            let first = work_dir.join("bench.csv");
            input::generate(&first, options.rows, None).map_err(|e| e.to_string())?;
            input::generate(&updated, options.rows, Some(10)).map_err(|e| e.to_string())?;
            (first, options.rows)
        }
    };
    let csv_bytes = file_bytes(&first);
    let baseline = if options.baseline {
        let b = baseline::run(&first, &work_dir.join("baseline.sqlite3"))?;
        Some(json!({
            "seconds": round(b.seconds, 2),
            "rowsPerSecond": (rows as f64 / b.seconds.max(1e-9)).round(),
            "dbBytesPerRow": (b.db_bytes as f64 / rows.max(1) as f64).round(),
        }))
    } else {
        None
    };

    let mut pipeline = LocalPipeline::open(&state_dir, definition).map_err(|e| e.to_string())?;
    let counter = Arc::new(CountedTable::new(pipeline.deps.tables.clone()));
    pipeline.deps.tables = counter.clone();
    let mut phases = Vec::new();
    for job in [
        Job {
            phase: "import (all created)",
            job_id: "bench-import",
            csv: &first,
        },
        Job {
            phase: "same file again (all unchanged)",
            job_id: "bench-rerun",
            csv: &first,
        },
        Job {
            phase: "every 10th row changed",
            job_id: "bench-update",
            csv: &updated,
        },
    ] {
        let mut phase = run_job(&pipeline, &counter, &job, rows, csv_bytes).await?;
        if let (Some(b), Some(s)) = (&baseline, phase["seconds"].as_f64()) {
            phase["timesBareSqlite"] =
                json!(round(s / b["seconds"].as_f64().unwrap_or(1.0).max(1e-9), 1));
        }
        phases.push(phase);
    }
    delete_earlier_states(work_dir);
    Ok(json!({
        "input": {"file": first.display().to_string(), "rows": rows, "bytes": csv_bytes},
        "baseline": baseline,
        "phases": phases,
    }))
}

/// The report as tables.
pub fn print_table(report: &Value) {
    use crate::output::line;
    let input = &report["input"];
    line(&format!(
        "input: {} ({} rows, {:.1} MB)",
        input["file"].as_str().unwrap_or(""),
        input["rows"].as_u64().unwrap_or(0),
        input["bytes"].as_f64().unwrap_or(0.0) / 1e6
    ));
    if let Some(b) = report["baseline"].as_object() {
        line(&format!(
            "bare SQLite (select-then-insert, one transaction): {:.2} s, {:.0} rows/s, {:.0} B/row",
            b["seconds"].as_f64().unwrap_or(0.0),
            b["rowsPerSecond"].as_f64().unwrap_or(0.0),
            b["dbBytesPerRow"].as_f64().unwrap_or(0.0),
        ));
    }
    line(&format!(
        "{:<32} {:>8} {:>8} {:>6} {:>9} {:>10} {:>10} {:>10} {:>9} {:>8} {:>7}",
        "phase",
        "seconds",
        "rows/s",
        "×SQL",
        "CPU µs/r",
        "transform",
        "process",
        "verify",
        "req/row",
        "DB B/row",
        "peakRSS"
    ));
    for p in report["phases"].as_array().into_iter().flatten() {
        let state = |name: &str, field: &str, unit: &str| {
            p["states"][name][field]
                .as_f64()
                .map_or("n/a".to_string(), |v| format!("{v:.0}{unit}"))
        };
        line(&format!(
            "{:<32} {:>8.2} {:>8.0} {:>6} {:>9} {:>10} {:>10} {:>10} {:>9.4} {:>8.0} {:>7}",
            p["phase"].as_str().unwrap_or(""),
            p["seconds"].as_f64().unwrap_or(0.0),
            p["rowsPerSecond"].as_f64().unwrap_or(0.0),
            p["timesBareSqlite"]
                .as_f64()
                .map_or("n/a".to_string(), |v| format!("{v:.1}")),
            p["cpuMicrosPerRow"]
                .as_f64()
                .map_or("n/a".to_string(), |v| format!("{v:.0}")),
            state("Transform", "mbPerSecond", " MB/s"),
            state("Process", "rowsPerSecond", "/s"),
            state("Verify", "rowsPerSecond", "/s"),
            p["requestsPerRow"].as_f64().unwrap_or(0.0),
            p["dbBytesPerRow"].as_f64().unwrap_or(0.0),
            p["peakRssBytes"]
                .as_u64()
                .map_or("n/a".to_string(), |b| format!("{} MB", b / (1024 * 1024))),
        ));
    }
    for p in report["phases"].as_array().into_iter().flatten() {
        let ops: Vec<String> = p["requests"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(op, c)| {
                format!(
                    "{op} {} ({} items)",
                    c["requests"].as_u64().unwrap_or(0),
                    c["items"].as_u64().unwrap_or(0)
                )
            })
            .collect();
        line(&format!(
            "requests, {}: {}",
            p["phase"].as_str().unwrap_or(""),
            ops.join(", ")
        ));
    }
}
