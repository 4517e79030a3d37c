//! Faults in the table port (throttling, timeouts before and after a commit, cancelled
//! transactions, unprocessed keys), injected under the real state machine on the embedded store:
//! a job either ends with the same tables as a run without faults, or fails clearly once the
//! retries are spent — and its counts never claim a write that did not happen.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use integration_tests::faults::{Fault, FaultyTable};
use integration_tests::local::{assert_counts_are_facts, pipeline, table_contents};
use integration_tests::products_csv;
use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::PutObject;

const ROWS: usize = 600;

async fn put_csv(p: &LocalPipeline, key: &str, csv: &str) {
    p.objects
        .put_object(LOCAL_BUCKET, key, csv.as_bytes().to_vec())
        .await
        .unwrap();
}

/// An import of 600 rows, then an update of every third row (history too), on `p`.
async fn two_jobs(p: &LocalPipeline) -> Vec<(ExecutionStatus, Value)> {
    let first = products_csv(ROWS, "dst", |i| format!("Product {i}"));
    let second = products_csv(ROWS, "dst", |i| {
        if i % 3 == 0 {
            format!("Product {i} v2")
        } else {
            format!("Product {i}")
        }
    });
    let mut out = Vec::new();
    for (job_id, csv) in [("faults-1", &first), ("faults-2", &second)] {
        let key = format!("incoming/{job_id}.csv");
        put_csv(p, &key, csv).await;
        let r = p
            .run(
                job_id,
                json!({"jobId": job_id, "mode": "import", "source": {"key": key}}),
            )
            .await
            .unwrap();
        // The event source mapping retries a batch with failures until it goes through.
        let mut tries = 0;
        while let Err(e) = p.pump_history().await {
            tries += 1;
            assert!(tries < 50, "history never caught up: {e}");
        }
        assert_counts_are_facts(p, job_id).await;
        let output = r
            .output
            .unwrap_or_else(|| json!({"error": r.error, "cause": r.cause}));
        out.push((r.status, output));
    }
    out
}

fn faulty(
    dir: &std::path::Path,
    faults: &[Fault],
    per_mille: u64,
    seed: u64,
) -> (LocalPipeline, Arc<FaultyTable>) {
    let mut p = pipeline(dir);
    p.deps.chunk_rows = 50;
    let table = Arc::new(FaultyTable::new(
        p.deps.tables.clone(),
        faults,
        per_mille,
        seed,
    ));
    p.deps.tables = table.clone();
    (p, table)
}

async fn tables_of(p: &LocalPipeline) -> Vec<usize> {
    let mut sizes = Vec::new();
    for t in ["command", "data", "history"] {
        sizes.push(table_contents(p.tables.as_ref(), t).await.len());
    }
    sizes
}

/// Each kind of fault on 10 % of the calls: both jobs succeed (the state machine retries the
/// `Retryable` failures), with the counts and the tables of a run without faults.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenth_of_calls_failing_ends_with_the_tables_of_a_clean_run() {
    let clean_dir = tempfile::tempdir().unwrap();
    let mut clean = pipeline(clean_dir.path());
    clean.deps.chunk_rows = 50;
    let expected = two_jobs(&clean).await;
    assert!(
        expected
            .iter()
            .all(|(s, _)| *s == ExecutionStatus::Succeeded)
    );
    assert_eq!(expected[1].1["counts"]["updated"], (ROWS / 3) as u64);

    for (seed, faults) in [
        (
            11,
            vec![
                Fault::Throttled,
                Fault::TimeoutBefore,
                Fault::UnprocessedKeys,
            ],
        ),
        (12, vec![Fault::TimeoutAfterCommit]),
        (13, vec![Fault::TransactionConflict]),
        (
            14,
            vec![
                Fault::Throttled,
                Fault::TimeoutBefore,
                Fault::TimeoutAfterCommit,
                Fault::TransactionConflict,
                Fault::UnprocessedKeys,
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (p, table) = faulty(dir.path(), &faults, 100, seed);
        let got = two_jobs(&p).await;
        assert!(
            table.injected.load(Ordering::Relaxed) > 0,
            "seed {seed}: faults were injected"
        );
        for ((status, out), (_, want)) in got.iter().zip(&expected) {
            assert_eq!(
                *status,
                ExecutionStatus::Succeeded,
                "seed {seed} {faults:?}: {out}"
            );
            assert_eq!(out["counts"], want["counts"], "seed {seed} {faults:?}");
            assert_eq!(out["verification"]["success"], true, "seed {seed}");
        }
        for t in ["command", "data", "history"] {
            let (a, b) = (
                table_contents(p.tables.as_ref(), t).await,
                table_contents(clean.tables.as_ref(), t).await,
            );
            assert_eq!(a.len(), b.len(), "seed {seed} {faults:?}: {t} rows");
            assert!(
                a == b,
                "seed {seed} {faults:?}: {t} differs from the clean run"
            );
        }
    }
}

/// Every transaction cancelled (a conflict each time): the rows fail once the write's own
/// retries are spent, the job fails saying so, claims no write, and nothing was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_that_always_fail_end_in_a_clear_failure_that_claims_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    p.retry_interval_scale = 0.0;
    p.deps.chunk_rows = 50;
    let csv = products_csv(200, "dst", |i| format!("Product {i}"));
    put_csv(&p, "incoming/doomed.csv", &csv).await;
    // Every transaction is cancelled; single puts (the job record, which reports the failure)
    // and reads go through.
    let inner = p.deps.tables.clone();
    let table = Arc::new(FaultyTable::always(inner, &[Fault::TransactionConflict]));
    p.deps.tables = table.clone();
    let r = p
        .run(
            "doomed",
            json!({"jobId": "doomed", "mode": "import", "source": {"key": "incoming/doomed.csv"}}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, ExecutionStatus::Failed, "{:?}", r.output);
    assert_eq!(r.error.as_deref(), Some("MigrationFailed"));
    let cause = r.cause.unwrap_or_default();
    assert!(
        cause.contains("200 failed of 200 rows"),
        "the failure says what happened: {cause}"
    );
    let record = integration_tests::local::job_record(&p, "doomed")
        .await
        .unwrap();
    assert_eq!(record["counts"]["created"], 0, "no write claimed");
    assert_eq!(record["counts"]["failed"], 200);
    assert_counts_are_facts(&p, "doomed").await;
    assert_eq!(tables_of(&p).await, vec![0, 0, 0], "nothing was written");
}
