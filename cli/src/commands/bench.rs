//! `migrate bench`: a reproducible benchmark of the local pipeline. It generates a migration
//! CSV of N rows, then runs three jobs through the real state machine on a fresh state directory
//! — an import (every row created), the same file again (every row unchanged, nothing written)
//! and an update of every tenth row — and reports wall time, rows per second and the process's
//! peak resident memory after each. The README's performance figures come from it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;

/// One row of the benchmark CSV: `PRODUCT#BENCH`, four attributes, one exact 38-digit number.
fn write_csv(
    path: &std::path::Path,
    rows: u64,
    changed_every: Option<u64>,
) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "sourcePk,sourceSk,code,name,attributes,targetTenantCode"
    )?;
    for i in 1..=rows {
        let name = match changed_every {
            Some(n) if i % n == 0 => format!("Product {i} (v2)"),
            _ => format!("Product {i}"),
        };
        writeln!(
            out,
            "PRODUCT#BENCH,P{i:08},P{i:08},\"{name}\",\"{{\"\"price\"\":{}.25,\"\"stock\"\":{},\"\"category\"\":\"\"C{}\"\",\"\"serial\"\":9007199254740991}}\",bench",
            i % 1000,
            i % 97,
            i % 20
        )?;
    }
    out.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Peak resident set size of this process so far (Linux `VmHWM`), in bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

async fn run_job(
    pipeline: &LocalPipeline,
    job_id: &str,
    csv: &std::path::Path,
) -> Result<(Value, f64), String> {
    let key = format!("incoming/{job_id}.csv");
    let file = tokio::fs::File::open(csv)
        .await
        .map_err(|e| format!("{}: {e}", csv.display()))?;
    pipeline
        .objects
        .put_object_stream(LOCAL_BUCKET, &key, Box::pin(file))
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let doc = json!({"jobId": job_id, "mode": "import", "source": {"key": key}});
    let result = pipeline.run(job_id, doc).await.map_err(|e| e.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    if result.status != ExecutionStatus::Succeeded {
        return Err(format!(
            "{job_id}: {:?} {}",
            result.error,
            result.cause.unwrap_or_default()
        ));
    }
    Ok((result.output.unwrap_or(Value::Null), seconds))
}

/// `migrate bench`: on DIR (default: a temporary directory), never on --state-dir.
pub async fn run(
    definition: &str,
    rows: u64,
    dir: Option<&std::path::Path>,
    json_out: bool,
) -> super::Outcome {
    use super::usage;
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
    let phases = bench(definition, rows, &dir)
        .await
        .map_err(|e| super::Failure::Failed(format!("benchmark failed: {e}")))?;
    if json_out {
        crate::output::json(&phases, true);
    } else {
        print_table(&phases);
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs the benchmark; returns one JSON object per phase.
pub async fn bench(
    definition: &str,
    rows: u64,
    work_dir: &std::path::Path,
) -> Result<Vec<Value>, String> {
    let state_dir = work_dir.join("state");
    let _ = std::fs::remove_dir_all(&state_dir);
    let pipeline = LocalPipeline::open(&state_dir, definition).map_err(|e| e.to_string())?;
    let first = work_dir.join("bench.csv");
    let second = work_dir.join("bench-updated.csv");
    let size = write_csv(&first, rows, None).map_err(|e| e.to_string())?;
    write_csv(&second, rows, Some(10)).map_err(|e| e.to_string())?;
    let mut phases = Vec::new();
    for (phase, job_id, csv) in [
        ("import (all created)", "bench-import", &first),
        ("same file again (all unchanged)", "bench-rerun", &first),
        ("every 10th row changed", "bench-update", &second),
    ] {
        let (output, seconds) = run_job(&pipeline, job_id, csv).await?;
        phases.push(json!({
            "phase": phase,
            "rows": rows,
            "csvBytes": size,
            "seconds": (seconds * 100.0).round() / 100.0,
            "rowsPerSecond": (rows as f64 / seconds.max(1e-9)).round(),
            "peakRssBytes": peak_rss(),
            "counts": output.get("counts").cloned().unwrap_or(Value::Null),
        }));
    }
    Ok(phases)
}

/// The phases as a table.
pub fn print_table(phases: &[Value]) {
    crate::output::line(&format!(
        "{:<34} {:>10} {:>9} {:>10} {:>10}",
        "phase", "rows", "seconds", "rows/s", "peak RSS"
    ));
    for p in phases {
        let rss = p["peakRssBytes"]
            .as_u64()
            .map(|b| format!("{} MB", b / (1024 * 1024)))
            .unwrap_or_else(|| "n/a".into());
        crate::output::line(&format!(
            "{:<34} {:>10} {:>9.2} {:>10.0} {:>10}",
            p["phase"].as_str().unwrap_or(""),
            p["rows"].as_u64().unwrap_or(0),
            p["seconds"].as_f64().unwrap_or(0.0),
            p["rowsPerSecond"].as_f64().unwrap_or(0.0),
            rss
        ));
    }
}
