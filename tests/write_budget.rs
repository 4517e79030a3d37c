//! `maxWriteUnitsPerSecond` and the dry run's cost estimate, through the embedded pipeline.

use std::sync::Arc;
use std::time::Instant;

use integration_tests::local::{pipeline, upload_and_run};
use integration_tests::products_csv;
use integration_tests::spy::RecordingTable;
use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::ports::objects::get_bytes;

async fn report(p: &LocalPipeline, job: &str) -> Value {
    let bytes = get_bytes(
        p.objects.as_ref(),
        LOCAL_BUCKET,
        &format!("jobs/{job}/report.json"),
    )
    .await
    .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// The budget of the paced import, in write units a second.
const BUDGET: u64 = 400;

#[tokio::test]
async fn a_write_budget_paces_every_second_of_the_import() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let spy = Arc::new(RecordingTable::new(p.deps.tables.clone()));
    p.deps.tables = spy.clone();
    let csv = products_csv(2000, "dst", |i| format!("n{i}"));
    let started = Instant::now();
    // 8,000 units at 400 a second: at least 20 s, several chunks paced at once.
    let job = json!({"jobId": "paced", "maxWriteUnitsPerSecond": BUDGET});
    let (status, out) = upload_and_run(&p, "incoming/paced.csv", &csv, job).await;
    let took = started.elapsed().as_secs_f64();
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["created"], 2000);
    let written: u64 = spy.writes.lock().unwrap().iter().map(|w| w.1).sum();
    // Each row is a command and a data item, two units each.
    assert_eq!(written, 2000 * 4);
    assert!(
        took >= written as f64 / BUDGET as f64,
        "{written} units at {BUDGET}/s take at least {} s, took {took:.1} s",
        written / BUDGET
    );
    let seconds = spy.units_per_second();
    let busiest = seconds.iter().copied().max().unwrap_or(0);
    assert!(
        busiest <= BUDGET * 11 / 10,
        "no second above the budget by more than 10%: {seconds:?}"
    );
    // The report states the rate achieved.
    let writes = &report(&p, "paced").await["writes"];
    assert_eq!(writes["writeUnits"], written);
    let rate = writes["unitsPerSecond"].as_f64().unwrap();
    assert!(
        rate > BUDGET as f64 * 0.75 && rate <= BUDGET as f64 * 1.1,
        "{writes}"
    );
}

#[tokio::test]
async fn a_dry_run_counts_what_the_run_does_and_its_cost_lines_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let seed = products_csv(300, "dst", |i| format!("n{i}"));
    let (status, _) =
        upload_and_run(&p, "incoming/seed.csv", &seed, json!({"jobId": "seed"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    // 300 existing (100 of them changed) and 200 new rows.
    let next = products_csv(500, "dst", |i| {
        if i % 3 == 0 {
            format!("changed{i}")
        } else {
            format!("n{i}")
        }
    });
    let (status, dry) = upload_and_run(
        &p,
        "incoming/next.csv",
        &next,
        json!({"jobId": "next-dry", "dryRun": true}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{dry}");
    let dry_report = report(&p, "next-dry").await;
    let cost = &dry_report["costEstimate"];
    let lines = cost["lines"].as_array().unwrap();
    let sum: f64 = lines.iter().map(|l| l["cost"].as_f64().unwrap()).sum();
    assert!(
        (sum - cost["total"].as_f64().unwrap()).abs() < 1e-9,
        "{cost}"
    );
    for l in lines {
        let (units, price, c) = (
            l["units"].as_f64().unwrap(),
            l["unitPrice"].as_f64().unwrap(),
            l["cost"].as_f64().unwrap(),
        );
        assert!((units * price - c).abs() < 1e-12, "{l}");
    }
    assert!(cost["prices"]["writeRequestUnit"].as_f64().unwrap() > 0.0);

    let (status, real) = upload_and_run(
        &p,
        "incoming/next.csv",
        &next,
        json!({"jobId": "next-real"}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{real}");
    assert_eq!(
        dry["counts"], real["counts"],
        "the dry run's counts are the run's"
    );
    assert_eq!(real["counts"]["created"], 200);
    assert_eq!(real["counts"]["updated"], 100);
    // The write units it priced are the ones the run then used.
    let real_report = report(&p, "next-real").await;
    assert_eq!(
        dry_report["writes"]["writeUnits"],
        real_report["writes"]["writeUnits"]
    );
    assert_eq!(
        lines[0]["units"],
        real_report["writes"]["writeUnits"].as_f64().unwrap()
    );
    assert!(
        real_report.get("costEstimate").is_none(),
        "only a dry run estimates"
    );
}
