//! The pipeline on the embedded store, through the real state machine definition and handlers:
//! import, re-import, updates with history, conflicts, bad rows, tolerance, rollback.

use std::sync::Arc;

use integration_tests::local::{
    data_entity, data_rows, job_record, pipeline, run_checked, upload_and_run,
};
use integration_tests::products_csv;
use integration_tests::spy::RecordingTable;
use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::keys::Key;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::model::EntityRow;
use shared::ports::objects::{PutObject, get_bytes};
use shared::ports::stream::{StreamEventName, StreamPosition, StreamReader};
use shared::ports::table::GetItem;

/// How many records the data table's stream has ever kept: the history consumer's checkpoint
/// (sequence numbers count from 1 with no gaps), since checkpointed records are trimmed. The
/// local store keeps only the kinds the history mapping delivers (MODIFY, REMOVE).
async fn stream_len(p: &LocalPipeline) -> usize {
    // Nothing may be pending: a record past the checkpoint would not be counted.
    let (pending, _) = p
        .tables
        .read_stream(
            "data",
            &StreamPosition::default(),
            10,
            &StreamEventName::ALL,
        )
        .await
        .unwrap();
    assert!(
        pending.is_empty(),
        "{} stream records not consumed",
        pending.len()
    );
    p.tables
        .get_item("stream-positions", &Key::new("STREAM", "data"))
        .await
        .unwrap()
        .and_then(|i| shared::value::get_s(&i, "position").map(str::to_string))
        .map_or(0, |pos| pos.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_import_reimport_and_update_with_history() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = products_csv(10_000, "dst", |i| format!("Product {i}"));
    let (status, out) = upload_and_run(&p, "incoming/p.csv", &csv, json!({"jobId": "first"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["created"], 10_000);
    assert_eq!(out["verification"]["success"], true);
    let data = data_rows(&p, "data", "PRODUCT#dst").await;
    assert_eq!(data.len(), 10_000);
    assert!(
        data.iter()
            .all(|i| shared::value::get_n(i, "version") == Some("1"))
    );
    let commands = data_rows(&p, "command", "PRODUCT#dst").await;
    assert_eq!(commands.len(), 10_000);
    assert!(
        commands
            .iter()
            .all(|i| shared::value::get_s(i, "sk").is_some_and(|sk| sk.ends_with("@1")))
    );
    let stream_after_first = stream_len(&p).await;
    assert_eq!(
        stream_after_first, 0,
        "10,000 INSERTs, none kept: the history mapping's filter drops them"
    );

    // Running it again changes nothing: no writes, no stream records.
    let (status, out) =
        upload_and_run(&p, "incoming/p-again.csv", &csv, json!({"jobId": "again"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["unchanged"], 10_000, "{out}");
    assert_eq!(
        out["counts"]["created"].as_u64().unwrap() + out["counts"]["updated"].as_u64().unwrap(),
        0
    );
    assert_eq!(
        stream_len(&p).await,
        stream_after_first,
        "an unchanged re-run writes nothing"
    );
    assert_eq!(data_rows(&p, "command", "PRODUCT#dst").await.len(), 10_000);

    // A second CSV changes 100 rows.
    let old_7 = p
        .deps
        .tables
        .get_item("data", &Key::new("PRODUCT#dst", "P000007"))
        .await
        .unwrap()
        .unwrap();
    let changed = products_csv(10_000, "dst", |i| {
        if i % 100 == 7 {
            format!("Renamed {i}")
        } else {
            format!("Product {i}")
        }
    });
    let (status, out) =
        upload_and_run(&p, "incoming/p2.csv", &changed, json!({"jobId": "second"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        (
            out["counts"]["updated"].as_u64(),
            out["counts"]["unchanged"].as_u64()
        ),
        (Some(100), Some(9_900)),
        "{out}"
    );
    let new_7 = data_entity(&p, "PRODUCT#dst", "P000007").await;
    assert_eq!((new_7.version, new_7.name.as_str()), (2, "Renamed 7"));
    let history = data_rows(&p, "history", "PRODUCT#dst").await;
    assert_eq!(history.len(), 100, "one history row per updated entity");
    assert_eq!(
        stream_len(&p).await,
        stream_after_first + 100,
        "one MODIFY record per updated entity"
    );
    let h7 = p
        .deps
        .tables
        .get_item("history", &Key::new("PRODUCT#dst", "P000007@1"))
        .await
        .unwrap()
        .unwrap();
    let mut expected = old_7.clone();
    expected.insert("sk".into(), shared::value::s("P000007@1"));
    assert_eq!(h7, expected, "history @1 is exactly the old data row");
    assert!(
        p.deps
            .tables
            .get_item("command", &Key::new("PRODUCT#dst", "P000007@2"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        p.deps
            .tables
            .get_item("command", &Key::new("PRODUCT#dst", "P000008@2"))
            .await
            .unwrap()
            .is_none()
    );

    // Rolling back "second" restores the pre-second content as version 3, only for its 100 rows.
    let r = run_checked(
        &p,
        "rollback-second",
        json!({"mode": "rollback", "rollbackOf": "second", "jobId": "rollback-second"}),
    )
    .await;
    assert_eq!(
        r.status,
        ExecutionStatus::Succeeded,
        "{:?} {:?}",
        r.error,
        r.cause
    );
    let out = r.output.unwrap();
    assert_eq!(out["counts"]["updated"], 100, "{out}");
    let back = data_entity(&p, "PRODUCT#dst", "P000007").await;
    assert_eq!((back.version, back.name.as_str()), (3, "Product 7"));
    assert!(
        matches!(back.attributes.get("_rolledBackFrom"), Some(shared::value::AttributeValue::S(j)) if j == "second")
    );
}

#[tokio::test]
async fn bad_rows_are_rejected_and_the_tolerance_decides() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n\
PRODUCT#SRC,A1,A1,good,{},dst\n\
PRODUCT#SRC,A2,A2,badjson,\"{\"\"a\"\":}\",dst\n\
PRODUCT#SRC,,A3,nosk,{},dst\n\
PRODUCT#SRC,A4,A4,extra,{},dst,surplus\n\
PRODUCT#SRC,A5,A5,\"broken \"quote\",{},dst\n\
PRODUCTNOTENANT,A6,A6,notenant,{},dst\n\
PRODUCT#SRC,A7,A7,good,{},dst\n";
    // Default tolerance 0: the job fails before any write, rejected.csv lists every bad row.
    let (status, out) =
        upload_and_run(&p, "incoming/bad.csv", csv, json!({"jobId": "strict"})).await;
    assert_eq!(status, ExecutionStatus::Failed, "{out}");
    assert_eq!(out["status"], "FAILED");
    assert_eq!(out["counts"]["rejected"], 5);
    assert!(
        out["cause"]
            .as_str()
            .unwrap_or("")
            .contains("5 of 7 rows rejected"),
        "{out}"
    );
    assert!(
        data_rows(&p, "data", "PRODUCT#dst").await.is_empty(),
        "nothing written"
    );
    let rejected = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/strict/rejected.csv")
            .await
            .unwrap(),
    )
    .unwrap();
    let lines: Vec<&str> = rejected
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap_or(""))
        .collect();
    assert_eq!(lines, vec!["3", "4", "5", "6", "7"], "{rejected}");
    let record = job_record(&p, "strict").await.unwrap();
    assert_eq!(record["status"], "FAILED");
    assert_eq!(record["error"], "InvalidInput");

    // A tolerance that admits them: the good rows are written.
    let (status, out) = upload_and_run(
        &p,
        "incoming/bad2.csv",
        csv,
        json!({"jobId": "lenient", "toleratedFailurePercentage": 80}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        (
            out["counts"]["created"].as_u64(),
            out["counts"]["rejected"].as_u64()
        ),
        (Some(2), Some(5))
    );
    assert_eq!(data_rows(&p, "data", "PRODUCT#dst").await.len(), 2);
}

/// A later row for an entity written by an earlier one is rejected, naming the first, wherever
/// it is in the file: the check runs over the whole file after it is read. Each duplicate leaves
/// its chunk (one chunk here holds only duplicates and ends up empty), and `rejected.csv` quotes
/// its record exactly as it is in the file (quotes, a newline, a comma).
#[tokio::test]
async fn later_rows_of_an_entity_are_taken_out_of_their_chunks_and_quoted_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    p.deps.chunk_rows = 2;
    let header = "sourcePk,sourceSk,code,name,attributes,targetTenantCode";
    let records = [
        (2, "PRODUCT#SRC,A1,A1,first,{},dst"),
        (3, "PRODUCT#SRC,A2,A2,\"second, with a comma\",{},dst"),
        (
            4,
            "PRODUCT#OTHER,A1,A1,\"from \"\"another\"\" source\",{},dst",
        ),
        (5, "PRODUCT#SRC,A3,A3,third,{},dst"),
        (6, "\"PRODUCT#SRC\",A2,A2,\"two\nlines\",{},dst"),
        (8, "PRODUCT#SRC,A1,A1,again,{},dst"),
        (9, "PRODUCT#SRC,A4,A4,fourth,\"{\"\"n\"\": 1}\",dst"),
    ];
    let csv: String = std::iter::once(header)
        .chain(records.iter().map(|(_, r)| *r))
        .map(|r| format!("{r}\n"))
        .collect();
    let (status, out) = upload_and_run(
        &p,
        "incoming/dups.csv",
        &csv,
        json!({"jobId": "dups", "toleratedFailurePercentage": 50}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        (
            out["counts"]["created"].as_u64(),
            out["counts"]["rejected"].as_u64()
        ),
        (Some(4), Some(3)),
        "{out}"
    );
    let names: Vec<String> = data_rows(&p, "data", "PRODUCT#dst")
        .await
        .iter()
        .map(|item| {
            shared::value::get_s(item, "name")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        names,
        ["first", "second, with a comma", "third", "fourth"],
        "the first row of each entity is written"
    );
    // Chunk 3 held lines 6 and 8, both duplicates: it is empty now.
    let artifacts = p.deps.artifacts("dups");
    let mut lines = Vec::new();
    for i in 1..=4 {
        let rows = artifacts.load_chunk(i).await.unwrap();
        lines.push(rows.iter().map(|r| r.line).collect::<Vec<_>>());
    }
    assert_eq!(lines, vec![vec![2, 3], vec![5], vec![], vec![9]]);
    let rejected = get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/dups/rejected.csv")
        .await
        .unwrap();
    let got: Vec<csv::StringRecord> = csv::Reader::from_reader(rejected.as_slice())
        .records()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected = [(4, 2), (6, 3), (8, 2)];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for (got, (line, first)) in got.iter().zip(expected) {
        let record = records.iter().find(|(l, _)| *l == line).unwrap().1;
        assert_eq!(&got[0], line.to_string(), "{got:?}");
        assert_eq!(&got[1], "sourceSk", "{got:?}");
        assert!(got[2].contains(&format!("like line {first}")), "{got:?}");
        assert!(
            got[2].contains("one job writes each entity once"),
            "{got:?}"
        );
        assert_eq!(
            got[3].trim_end_matches(['\r', '\n']),
            record,
            "the record as it is in the file"
        );
    }
}

#[tokio::test]
async fn verification_failure_fails_with_migration_failed() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    // An object merged over a string leaves the string (the framework's mergeDeep), so what
    // the row says is not what the table holds: verification fails.
    let first = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n\
PRODUCT#SRC,D1,D1,first,\"{\"\"d\"\":\"\"text\"\"}\",dst\n";
    let (status, out) =
        upload_and_run(&p, "incoming/first.csv", first, json!({"jobId": "first"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    let csv = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n\
PRODUCT#SRC,D1,D1,first,\"{\"\"d\"\":{\"\"x\"\":1}}\",dst\n";
    let (status, out) = upload_and_run(&p, "incoming/dup.csv", csv, json!({"jobId": "dup"})).await;
    assert_eq!(status, ExecutionStatus::Failed, "{out}");
    let r = p.last_result.lock().unwrap().clone().unwrap().1;
    assert_eq!(r.error.as_deref(), Some("MigrationFailed"));
    assert!(r.cause.unwrap_or_default().contains("verification failed"));
    let record = job_record(&p, "dup").await.unwrap();
    assert_eq!(record["status"], "FAILED");
    assert_eq!(record["verification"]["differenceCount"], 1);
}

#[tokio::test]
async fn duplicated_s3_event_starts_one_execution() {
    use shared::handlers::start::{S3Event, StartDeps, execution_name_for_object, handle_s3};
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let info = p
        .objects
        .put_object(
            LOCAL_BUCKET,
            "incoming/once.csv",
            products_csv(3, "dst", |i| format!("n{i}")).into_bytes(),
        )
        .await
        .unwrap();
    let fixture: Value =
        serde_json::from_str(include_str!("../infra/events/example-s3-event.json")).unwrap();
    let mut event = fixture.clone();
    event["Records"][0]["s3"]["bucket"]["name"] = json!(LOCAL_BUCKET);
    event["Records"][0]["s3"]["object"]["key"] = json!("incoming/once.csv");
    event["Records"][0]["s3"]["object"]["eTag"] = json!(info.etag.trim_matches('"'));
    let twice: S3Event = serde_json::from_value(
        json!({"Records": [event["Records"][0].clone(), event["Records"][0].clone()]}),
    )
    .unwrap();
    let deps = StartDeps {
        starter: &p,
        objects: p.objects.as_ref(),
        reconcile_job: None,
    };
    let started = handle_s3(twice, &deps).await.unwrap();
    assert_eq!(started.len(), 2);
    assert!(!started[0].already_existed);
    assert!(started[1].already_existed, "the duplicate starts nothing");
    let name = execution_name_for_object(LOCAL_BUCKET, "incoming/once.csv", &info.etag);
    assert_eq!(started[0].execution_name, name);
    assert_eq!(p.deps.job_records().list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_concurrent_update_is_a_conflict_and_survives() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nPRODUCT#SRC,C1,C1,v1,{},dst\nPRODUCT#SRC,C2,C2,v1,{},dst\n";
    let (status, _) = upload_and_run(&p, "incoming/c.csv", csv, json!({"jobId": "base"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);

    let table = RecordingTable::interfering(p.tables.clone(), Key::new("PRODUCT#dst", "C1"), 1);
    let mut reader = shared::migration_csv::MigrationCsvReader::new(
        "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nPRODUCT#SRC,C1,C1,ours,{},dst\nPRODUCT#SRC,C2,C2,ours,{},dst\n".as_bytes(),
    )
    .unwrap();
    let mut rows = Vec::new();
    while let Some(Ok(shared::migration_csv::CsvItem::Row(r))) = reader.next() {
        rows.push(r);
    }
    let ctx = shared::publish::PublishContext {
        job_id: "racer".into(),
        mode: shared::job::Mode::Import,
        moves_entities: false,
        attributes_mode: Default::default(),
        publish_mode: Default::default(),
        now: "2026-11-24T00:00:00+00:00".into(),
        actor: "test".into(),
        tables: shared::local::local_table_names(),
        rollback_of: None,
        large_attributes: p.deps.app.large_attributes.clone(),
        master_data_table: None,
        writes: Default::default(),
    };
    let outcomes = shared::process::process_rows(&table, p.objects.as_ref(), rows, &ctx, false)
        .await
        .unwrap();
    let c1 = outcomes.iter().find(|o| o.sk == "C1").unwrap();
    let c2 = outcomes.iter().find(|o| o.sk == "C2").unwrap();
    assert_eq!(c1.outcome, shared::publish::Outcome::Conflict, "{c1:?}");
    assert!(
        c1.reason
            .as_deref()
            .unwrap_or("")
            .contains("version conflict"),
        "{c1:?}"
    );
    assert_eq!(
        c2.outcome,
        shared::publish::Outcome::Updated,
        "the neighbour is not failed by the conflict"
    );
    let now = data_entity(&p, "PRODUCT#dst", "C1").await;
    assert_eq!(
        (now.version, now.name.as_str()),
        (2, "concurrent"),
        "the concurrent value survives"
    );
    assert!(
        p.tables
            .get_item("command", &Key::new("PRODUCT#dst", "C1@2"))
            .await
            .unwrap()
            .is_none(),
        "no command for the conflicted row"
    );
}

#[tokio::test]
async fn copy_and_normalize_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = products_csv(30, "", |i| format!("n{i}")).replace("PRODUCT#SRC", "PRODUCT#ACME");
    let (status, out) =
        upload_and_run(&p, "incoming/acme.csv", &csv, json!({"jobId": "seed"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(data_rows(&p, "data", "PRODUCT#ACME").await.len(), 30);

    let r = run_checked(&p, "copy", json!({"jobId": "copy", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "ACME", "targetTenant": "beta"})).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["created"], 30);
    let copied = data_entity(&p, "PRODUCT#beta", "P000001").await;
    assert_eq!(copied.tenant_code, "beta");
    assert!(
        matches!(copied.attributes.get("_sourceKey"), Some(shared::value::AttributeValue::S(k)) if k == "PRODUCT#ACME#P000001")
    );

    // Dual read before the normalize: the lowercase key has nothing, the legacy one answers.
    let key = Key::new("PRODUCT#acme", "P000002");
    let found = shared::dual_read::get(p.deps.tables.as_ref(), "data", &key)
        .await
        .unwrap()
        .unwrap();
    assert!(found.legacy, "served from PRODUCT#ACME");

    let r = run_checked(&p, "norm", json!({"jobId": "norm", "mode": "normalize-tenant", "entityType": "PRODUCT", "sourceTenant": "ACME", "rdsTables": ["products", "app.orders"]})).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    let v = &r.output.as_ref().unwrap()["verification"];
    assert_eq!(
        (v["success"].as_bool(), v["extraCount"].as_u64()),
        (Some(true), Some(0)),
        "{v}"
    );
    // The report holds the RDS statements for the tenant it migrated.
    let md = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/norm/report.md")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        md.contains("UPDATE app.orders SET tenant_code = LOWER(tenant_code) WHERE tenant_code <> LOWER(tenant_code) AND tenant_code IN ('ACME');"),
        "{md}"
    );
    assert!(md.contains("SELECT COUNT(*) FROM products WHERE"), "{md}");
    // After it, the lowercase key answers; the merged partition has every entity once, lowercase.
    let found = shared::dual_read::get(p.deps.tables.as_ref(), "data", &key)
        .await
        .unwrap()
        .unwrap();
    assert!(!found.legacy);
    let all = shared::dual_read::list(p.deps.tables.as_ref(), "data", "PRODUCT#ACME", None)
        .await
        .unwrap();
    assert_eq!(all.len(), 30);
    assert!(all.iter().all(|f| !f.legacy && f.is_live()));

    // A second spelling of the tenant the job did not name stays live: verification says so.
    let csv = products_csv(3, "", |i| format!("m{i}")).replace("PRODUCT#SRC", "PRODUCT#Beta");
    upload_and_run(
        &p,
        "incoming/beta1.csv",
        &csv,
        json!({"jobId": "seed-Beta"}),
    )
    .await;
    let csv = products_csv(2, "", |i| format!("u{i}")).replace("PRODUCT#SRC", "PRODUCT#BETA");
    upload_and_run(
        &p,
        "incoming/beta2.csv",
        &csv,
        json!({"jobId": "seed-BETA"}),
    )
    .await;
    let r = run_checked(&p, "norm-beta", json!({"jobId": "norm-beta", "mode": "normalize-tenant", "entityType": "PRODUCT", "sourceTenant": "Beta"})).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    let record = job_record(&p, "norm-beta").await.unwrap();
    assert_eq!(record["verification"]["extraCount"], 2, "{record}");
    let md = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/norm-beta/report.md")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        md.contains("PRODUCT#BETA / P000001: still live under a legacy uppercase tenant key"),
        "{md}"
    );
    let new = data_entity(&p, "PRODUCT#acme", "P000002").await;
    assert_eq!(
        (
            new.tenant_code.as_str(),
            new.id.as_str(),
            new.cpk.as_deref()
        ),
        ("acme", "PRODUCT#acme#P000002", Some("PRODUCT#acme"))
    );
    let old = data_entity(&p, "PRODUCT#ACME", "P000002").await;
    assert!(old.is_deleted, "the uppercase entity is soft-deleted");
    assert_eq!(old.version, 2);
    assert!(
        matches!(old.attributes.get("_migratedTo"), Some(shared::value::AttributeValue::S(k)) if k == "PRODUCT#acme#P000002")
    );
}

#[tokio::test]
async fn copy_tenant_with_soft_delete_source_moves_the_entities() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = products_csv(12, "", |i| format!("n{i}")).replace("PRODUCT#SRC", "PRODUCT#old");
    let (status, out) =
        upload_and_run(&p, "incoming/old.csv", &csv, json!({"jobId": "seed-old"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    let doc = json!({"jobId": "move", "mode": "copy-tenant", "entityType": "PRODUCT",
                     "sourceTenant": "old", "targetTenant": "new", "softDeleteSource": true});
    let r = run_checked(&p, "move", doc.clone()).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["created"], 12);
    let moved = data_entity(&p, "PRODUCT#new", "P000007").await;
    assert!(!moved.is_deleted);
    let old = data_entity(&p, "PRODUCT#old", "P000007").await;
    assert!(
        old.is_deleted,
        "softDeleteSource: the source entity is soft-deleted"
    );
    assert_eq!(
        old.version, 2,
        "in the same transaction as the copy: one new version"
    );
    assert!(
        matches!(old.attributes.get("_migratedTo"), Some(shared::value::AttributeValue::S(k)) if k == "PRODUCT#new#P000007")
    );
    // The same job again (a new id) finds no live source entity: nothing to copy.
    let again = json!({"jobId": "move-again", "mode": "copy-tenant", "entityType": "PRODUCT",
                       "sourceTenant": "old", "targetTenant": "new", "softDeleteSource": true});
    let r = run_checked(&p, "move-again", again).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["total"], 0);
    // Without the flag the source is untouched (the default).
    let csv = products_csv(2, "", |i| format!("n{i}")).replace("PRODUCT#SRC", "PRODUCT#keep");
    upload_and_run(&p, "incoming/keep.csv", &csv, json!({"jobId": "seed-keep"})).await;
    let copy = json!({"jobId": "copy-keep", "mode": "copy-tenant", "entityType": "PRODUCT",
                      "sourceTenant": "keep", "targetTenant": "kept"});
    let r = run_checked(&p, "copy-keep", copy).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert!(!data_entity(&p, "PRODUCT#keep", "P000001").await.is_deleted);
}

#[tokio::test]
async fn entity_rollback_restores_a_version_as_a_new_one_and_a_moved_entity_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let csv = |name: &str| {
        format!(
            "sourcePk,sourceSk,code,name,attributes,targetTenantCode\nPRODUCT#SRC,C1,C1,{name},\"{{\"\"price\"\":1}}\",dst\nPRODUCT#SRC,C2,C2,{name},{{}},dst\n"
        )
    };
    for (i, name) in ["first", "second", "third"].iter().enumerate() {
        let job = json!({"jobId": format!("v{}", i + 1), "attributesMode": "replace"});
        let (status, out) =
            upload_and_run(&p, &format!("incoming/v{i}.csv"), &csv(name), job).await;
        assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    }
    let v3 = data_entity(&p, "PRODUCT#dst", "C1").await;
    assert_eq!((v3.version, v3.name.as_str()), (3, "third"));

    let doc = json!({"jobId": "undo-c1", "mode": "rollback", "toVersion": 1,
                     "keys": [{"pk": "PRODUCT#dst", "sk": "C1"}]});
    let r = run_checked(&p, "undo-c1", doc).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.as_ref().unwrap()["counts"]["updated"], 1);
    let v4 = data_entity(&p, "PRODUCT#dst", "C1").await;
    let v1 = EntityRow::from_versioned_item(
        &p.deps
            .tables
            .get_item("history", &Key::new("PRODUCT#dst", "C1@1"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(v4.version, 4, "restored as a new version");
    assert_eq!((v4.name.as_str(), v4.code.as_str()), ("first", "C1"));
    let content = |e: &EntityRow| {
        e.attributes
            .iter()
            .filter(|(k, _)| !shared::model::is_metadata(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        content(&v4),
        content(&v1),
        "version 4 equals version 1 except metadata"
    );
    assert!(
        matches!(v4.attributes.get("_rolledBackFrom"), Some(shared::value::AttributeValue::S(f)) if f == "PRODUCT#dst#C1@3")
    );
    // C2 was not named: untouched.
    assert_eq!(data_entity(&p, "PRODUCT#dst", "C2").await.version, 3);

    // A version that does not exist is refused before anything is written.
    let doc = json!({"jobId": "undo-missing", "mode": "rollback", "toVersion": 9,
                     "keys": [{"pk": "PRODUCT#dst", "sk": "C2"}]});
    let r = run_checked(&p, "undo-missing", doc).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert!(
        r.cause
            .as_deref()
            .unwrap_or("")
            .contains("has no version 9"),
        "{:?}",
        r.cause
    );
    assert_eq!(data_entity(&p, "PRODUCT#dst", "C2").await.version, 3);

    // Someone updates C2 after the rollback read it: a conflict, and their version stays.
    p.deps.tables = Arc::new(RecordingTable::interfering(
        p.tables.clone(),
        Key::new("PRODUCT#dst", "C2"),
        3,
    ));
    let doc = json!({"jobId": "undo-c2", "mode": "rollback", "toVersion": 1,
                     "keys": [{"pk": "PRODUCT#dst", "sk": "C2"}], "toleratedFailurePercentage": 100});
    let r = run_checked(&p, "undo-c2", doc).await;
    let out = job_record(&p, "undo-c2").await.unwrap();
    assert_eq!(out["counts"]["conflicts"], 1, "{out}");
    assert_eq!(out["counts"]["updated"], 0, "{out}");
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    let c2 = data_entity(&p, "PRODUCT#dst", "C2").await;
    assert_eq!((c2.version, c2.name.as_str()), (4, "concurrent"));
}

#[tokio::test]
async fn transform_mode_evolves_the_schema_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n\
PRODUCT#t1,X1,X1,one,\"{\"\"productName\"\":\"\"Pen\"\",\"\"legacy\"\":1}\",\n\
PRODUCT#t1,X2,X2,two,\"{\"\"productName\"\":\"\"Ink\"\",\"\"legacy\"\":2}\",\n";
    let (status, _) = upload_and_run(&p, "incoming/t.csv", csv, json!({"jobId": "seed-t"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let job = json!({"jobId": "evolve", "mode": "transform", "entityType": "PRODUCT", "sourceTenant": "t1", "schemaVersion": 2,
        "operations": [{"op": "rename", "from": "productName", "to": "title"}, {"op": "remove", "field": "legacy"},
                       {"op": "default", "field": "currency", "value": "JPY"}]});
    let r = run_checked(&p, "evolve", job.clone()).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.unwrap()["counts"]["updated"], 2);
    let x1 = data_entity(&p, "PRODUCT#t1", "X1").await;
    let content = x1.content_attributes();
    let keys: Vec<&str> = content.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        vec!["_schemaVersion", "currency", "title"],
        "renamed, removed and defaulted in place"
    );
    assert_eq!(x1.version, 2);
    // The `_schemaVersion` chain: a second run at the same version leaves rows alone.
    let again = json!({"jobId": "evolve-again", "mode": "transform", "entityType": "PRODUCT", "sourceTenant": "t1", "schemaVersion": 2,
        "operations": [{"op": "remove", "field": "title"}]});
    let r = run_checked(&p, "evolve-again", again).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    assert_eq!(r.output.unwrap()["counts"]["unchanged"], 2);
}

#[tokio::test]
async fn reconcile_reports_drift_and_repairs_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = products_csv(5, "", |i| format!("n{i}")).replace("PRODUCT#SRC", "PRODUCT#main");
    let (status, _) = upload_and_run(&p, "incoming/m.csv", &csv, json!({"jobId": "seed-r"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let copy = json!({"jobId": "copy-r", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "main", "targetTenant": "mirror"});
    assert_eq!(
        run_checked(&p, "copy-r", copy).await.status,
        ExecutionStatus::Succeeded
    );
    // Drift: one source entity changes after the copy.
    let changed = products_csv(5, "", |i| {
        if i == 3 {
            "drifted".into()
        } else {
            format!("n{i}")
        }
    })
    .replace("PRODUCT#SRC", "PRODUCT#main");
    let (status, _) =
        upload_and_run(&p, "incoming/m2.csv", &changed, json!({"jobId": "drift"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);

    let check = json!({"jobId": "nightly", "mode": "reconcile", "entityType": "PRODUCT", "sourceTenant": "main", "targetTenant": "mirror"});
    let r = run_checked(&p, "nightly", check).await;
    assert_eq!(r.status, ExecutionStatus::Failed, "drift fails a reconcile");
    let record = job_record(&p, "nightly").await.unwrap();
    assert_eq!(
        (
            record["counts"]["updated"].as_u64(),
            record["verification"]["differenceCount"].as_u64()
        ),
        (Some(1), Some(1)),
        "{record}"
    );
    let mirror3 = data_entity(&p, "PRODUCT#mirror", "P000003").await;
    assert_eq!(
        (mirror3.name.as_str(), mirror3.version),
        ("n3", 1),
        "without repair nothing is written"
    );

    let repair = json!({"jobId": "nightly-repair", "mode": "reconcile", "entityType": "PRODUCT", "sourceTenant": "main", "targetTenant": "mirror", "repair": true});
    let r = run_checked(&p, "nightly-repair", repair).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    let mirror3 = data_entity(&p, "PRODUCT#mirror", "P000003").await;
    assert_eq!((mirror3.name.as_str(), mirror3.version), ("drifted", 2));
}

#[tokio::test]
async fn references_reject_rows_whose_referenced_entity_is_missing_or_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    // Categories: C1 live, C2 deleted.
    let categories = "sourcePk,sourceSk,code,name,attributes,targetTenantCode,isDeleted\n\
CATEGORY#t1,C1,C1,one,{},,false\n\
CATEGORY#t1,C2,C2,two,{},,true\n";
    let (status, _) =
        upload_and_run(&p, "incoming/c.csv", categories, json!({"jobId": "cats"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let products = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n\
PRODUCT#t1,P1,P1,ok,\"{\"\"categoryId\"\":\"\"C1\"\"}\",\n\
PRODUCT#t1,P2,P2,deleted-ref,\"{\"\"categoryId\"\":\"\"C2\"\"}\",\n\
PRODUCT#t1,P3,P3,missing-ref,\"{\"\"categoryId\"\":\"\"C9\"\"}\",\n\
PRODUCT#t1,P4,P4,no-ref,{},\n";
    let job = json!({"jobId": "refs", "toleratedFailurePercentage": 50,
        "validation": {"references": [{"field": "categoryId", "entityType": "CATEGORY"}]}});
    let (status, out) = upload_and_run(&p, "incoming/p.csv", products, job).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(
        (
            out["counts"]["created"].as_u64(),
            out["counts"]["rejected"].as_u64()
        ),
        (Some(2), Some(2)),
        "{out}"
    );
    let rejected = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/refs/rejected.csv")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        rejected.contains("3,attributes,")
            && rejected.contains("referenced entity CATEGORY#t1 / C2 does not exist"),
        "line 3 names the deleted category: {rejected}"
    );
    assert!(
        rejected.contains("4,attributes,") && rejected.contains("CATEGORY#t1 / C9"),
        "line 4 names the missing category: {rejected}"
    );
    let written: Vec<String> = data_rows(&p, "data", "PRODUCT#t1")
        .await
        .iter()
        .map(|i| {
            shared::value::get_s(i, "sk")
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(written, vec!["P1", "P4"], "only rows with live references");
}

#[tokio::test]
async fn the_scheduled_event_starts_the_configured_reconcile_once_a_day() {
    use shared::handlers::start::{EventBridgeEvent, StartDeps, handle_schedule};
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let fixture: EventBridgeEvent = serde_json::from_str(include_str!(
        "../infra/events/example-eventbridge-schedule.json"
    ))
    .unwrap();
    let missing = StartDeps {
        starter: &p,
        objects: p.objects.as_ref(),
        reconcile_job: None,
    };
    let err = handle_schedule(fixture.clone(), &missing)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), shared::ErrorType::InvalidInput, "{err}");

    let not_reconcile = json!({"jobId": "nightly", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "a", "targetTenant": "b"});
    let wrong = StartDeps {
        reconcile_job: Some(not_reconcile),
        ..missing
    };
    let err = handle_schedule(fixture.clone(), &wrong).await.unwrap_err();
    assert!(err.to_string().contains("mode reconcile"), "{err}");

    let job = json!({"jobId": "nightly", "mode": "reconcile", "entityType": "PRODUCT", "sourceTenant": "main", "targetTenant": "mirror"});
    let deps = StartDeps {
        starter: &p,
        objects: p.objects.as_ref(),
        reconcile_job: Some(job),
    };
    let first = handle_schedule(fixture.clone(), &deps).await.unwrap();
    assert_eq!(
        first.execution_name, "nightly-20151008",
        "named by the job and the event's day"
    );
    assert!(!first.already_existed);
    // The start function's entry point recognises the raw scheduled event.
    let raw: Value = serde_json::from_str(include_str!(
        "../infra/events/example-eventbridge-schedule.json"
    ))
    .unwrap();
    let again = shared::handlers::start::handle_event(raw, &deps)
        .await
        .unwrap();
    assert_eq!(
        again["started"][0]["alreadyExisted"], true,
        "a redelivered event starts nothing: {again}"
    );
    let record = job_record(&p, "nightly-20151008")
        .await
        .expect("the run left a job record");
    assert_eq!(record["mode"], "reconcile", "{record}");
    assert_eq!(
        record["status"], "SUCCEEDED",
        "empty source and target agree: {record}"
    );
}

/// One report: state, rows, (bytes read, bytes total).
type ProgressEvent = (String, u64, Option<(u64, u64)>);

/// Records what the streaming states report, for the progress bars of `migrate`.
#[derive(Default)]
struct ProgressRecorder(std::sync::Mutex<Vec<ProgressEvent>>);

impl shared::handlers::RowProgress for ProgressRecorder {
    fn rows(&self, state: &str, rows: u64, bytes: Option<(u64, u64)>) {
        if let Ok(mut events) = self.0.lock() {
            events.push((state.to_string(), rows, bytes));
        }
    }
}

#[tokio::test]
async fn export_and_transform_report_progress_as_they_stream() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    let recorder = Arc::new(ProgressRecorder::default());
    p.deps.progress = recorder.clone();
    let csv = products_csv(2500, "", |i| format!("n{i}")).replace("PRODUCT#SRC", "PRODUCT#a");
    let (status, _) = upload_and_run(&p, "incoming/pr.csv", &csv, json!({"jobId": "pr"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    let copy = json!({"jobId": "pr-copy", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "a", "targetTenant": "b"});
    assert_eq!(
        run_checked(&p, "pr-copy", copy).await.status,
        ExecutionStatus::Succeeded
    );
    let events = recorder.0.lock().unwrap().clone();
    // The import's Transform: everything before the copy's Export.
    let transform: Vec<_> = events
        .iter()
        .take_while(|e| e.0 != "Export")
        .filter(|e| e.0 == "Transform")
        .collect();
    assert!(
        transform.len() >= 3,
        "reported while streaming: {transform:?}"
    );
    assert!(
        transform
            .windows(2)
            .all(|w| w[0].1 <= w[1].1 && w[0].2.map(|b| b.0) <= w[1].2.map(|b| b.0)),
        "rows and bytes only grow"
    );
    let size = csv.len() as u64;
    // The import's Transform ends at every byte of the CSV; the copy's at its export.csv.
    assert!(
        transform.contains(&&("Transform".to_string(), 2500, Some((size, size)))),
        "{:?}",
        transform.last()
    );
    let export_rows: Vec<u64> = events
        .iter()
        .filter(|e| e.0 == "Export")
        .map(|e| e.1)
        .collect();
    assert_eq!(export_rows.last(), Some(&2500), "{export_rows:?}");
    assert!(export_rows.len() >= 5, "one report per page of 500");
}

#[tokio::test]
async fn a_corrected_job_document_uploaded_again_resumes_the_same_job() {
    use shared::handlers::start::{S3Event, StartDeps, handle_s3};
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let deps = StartDeps {
        starter: &p,
        objects: p.objects.as_ref(),
        reconcile_job: None,
    };
    let event = |etag: &str| -> S3Event {
        let fixture: Value =
            serde_json::from_str(include_str!("../infra/events/example-s3-event.json")).unwrap();
        let mut record = fixture["Records"][0].clone();
        record["s3"]["bucket"]["name"] = json!(LOCAL_BUCKET);
        record["s3"]["object"]["key"] = json!("incoming/copy.job.json");
        record["s3"]["object"]["eTag"] = json!(etag);
        serde_json::from_value(json!({ "Records": [record] })).unwrap()
    };
    // First upload: a copy from an empty tenant (nothing to copy, but a real run).
    let doc = json!({"jobId": "copy-job", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "a", "targetTenant": "b"});
    let info = p
        .objects
        .put_object(
            LOCAL_BUCKET,
            "incoming/copy.job.json",
            doc.to_string().into_bytes(),
        )
        .await
        .unwrap();
    let first = handle_s3(event(&info.etag), &deps).await.unwrap();
    let again = handle_s3(event(&info.etag), &deps).await.unwrap();
    assert!(again[0].already_existed, "the same upload starts nothing");
    assert_eq!(first[0].execution_name, again[0].execution_name);
    // A corrected document under the same key and job id: a new execution of the same job.
    let corrected = json!({"jobId": "copy-job", "mode": "copy-tenant", "entityType": "PRODUCT", "sourceTenant": "a", "targetTenant": "b", "verify": {"compareFields": ["name"]}});
    let info2 = p
        .objects
        .put_object(
            LOCAL_BUCKET,
            "incoming/copy.job.json",
            corrected.to_string().into_bytes(),
        )
        .await
        .unwrap();
    let second = handle_s3(event(&info2.etag), &deps).await.unwrap();
    assert!(
        !second[0].already_existed,
        "a new upload is a new execution"
    );
    assert_ne!(second[0].execution_name, first[0].execution_name);
    assert!(
        first[0].execution_name.starts_with("copy-job-")
            && second[0].execution_name.starts_with("copy-job-"),
        "named by the job id"
    );
    let jobs = p.deps.job_records().list().await.unwrap();
    assert_eq!(jobs.len(), 1, "one job, run twice: {jobs:?}");
    assert_eq!(jobs[0].result.job_id, "copy-job");
}
