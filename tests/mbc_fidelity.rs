//! MBC fidelity on the embedded store (DESIGN §3): the framework's item shape, deep merge,
//! unsafe numbers, publish modes and the app's saga, large attributes in S3, TTL rules and
//! history. The framework itself judges the same items in tests/mbc (Node).

use std::time::Duration;

use integration_tests::local::{data_entity, data_rows, job_record, pipeline, upload_and_run};
use serde_json::{Value, json};
use shared::asl::ExecutionStatus;
use shared::keys::Key;
use shared::local::{LOCAL_BUCKET, LocalPipeline};
use shared::model::EntityRow;
use shared::ports::objects::{PutObject, get_bytes};
use shared::ports::table::{Condition, Put};
use shared::value::{AttributeValue, Item, get_n, get_s, s};

const HEADER: &str = "sourcePk,sourceSk,code,name,attributes,targetTenantCode\n";

fn is_framework_date(text: &str) -> bool {
    // toISOStringWithTimezone: 2026-11-25T02:11:40+00:00
    let b = text.as_bytes();
    text.len() == 25
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'+'
        && text[..19].chars().filter(|c| c.is_ascii_digit()).count() == 14
        && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

async fn rejected_csv(p: &LocalPipeline, out: &Value) -> String {
    let key = out["rejectedKey"].as_str().unwrap();
    String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, key)
            .await
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_have_the_framework_shape_and_nested_updates_keep_siblings() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let first = format!(
        "{HEADER}PRODUCT#SRC,P1,P1,Pen,\"{{\"\"dims\"\":{{\"\"w\"\":10,\"\"h\"\":20}},\"\"tags\"\":[\"\"a\"\",\"\"b\"\"]}}\",t\n"
    );
    let (status, out) =
        upload_and_run(&p, "incoming/a.csv", &first, json!({"jobId": "shape1"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    let v1 = data_entity(&p, "PRODUCT#t", "P1").await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the next command gets a later second
    let second = format!(
        "{HEADER}PRODUCT#SRC,P1,P1,Pen,\"{{\"\"dims\"\":{{\"\"w\"\":11}},\"\"tags\"\":[\"\"c\"\"]}}\",t\n"
    );
    let (status, out) =
        upload_and_run(&p, "incoming/b.csv", &second, json!({"jobId": "shape2"})).await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    assert_eq!(out["counts"]["updated"], 1, "{out}");

    // Deep merge: dims.h survives, dims.w changes, the array is replaced.
    let v2 = data_entity(&p, "PRODUCT#t", "P1").await;
    let AttributeValue::M(dims) = &v2.attributes["dims"] else {
        panic!("{v2:?}")
    };
    assert_eq!(dims.get("w"), Some(&AttributeValue::N("11".into())));
    assert_eq!(dims.get("h"), Some(&AttributeValue::N("20".into())));
    assert_eq!(v2.attributes["tags"], AttributeValue::L(vec![s("c")]));

    // The data row: the entity's first creation, no source/status/syncMode, ttl NULL, dates.
    let data: Item = data_rows(&p, "data", "PRODUCT#t").await.remove(0);
    for field in ["source", "status", "syncMode", "createdIp", "updatedIp"] {
        assert!(!data.contains_key(field), "data row has {field}: {data:?}");
    }
    assert_eq!(data.get("ttl"), Some(&AttributeValue::Null(true)));
    assert_eq!(get_s(&data, "createdAt"), Some(v1.created_at.as_str()));
    assert_eq!(get_s(&data, "csk"), Some("P1@2"));
    for field in ["createdAt", "updatedAt"] {
        assert!(
            is_framework_date(get_s(&data, field).unwrap()),
            "{field}: {data:?}"
        );
    }
    // Command rows: their own creation, source, SYNC and publishSync's final status.
    let commands = data_rows(&p, "command", "PRODUCT#t").await;
    assert_eq!(commands.len(), 2);
    let c2 = &commands[1];
    assert_eq!(get_s(c2, "sk"), Some("P1@2"));
    assert_eq!(get_s(c2, "createdAt"), get_s(c2, "updatedAt"));
    assert_ne!(get_s(c2, "createdAt"), Some(v1.created_at.as_str()));
    assert_eq!(get_s(c2, "syncMode"), Some("SYNC"));
    assert_eq!(get_s(c2, "status"), Some("finish:FINISHED"));
    assert_eq!(get_s(c2, "source"), Some("migration:shape2"));
    assert!(!c2.contains_key("cpk") && !c2.contains_key("createdIp"));
    // History @1 is the first data row, with the history ttl (no rule: NULL).
    let history = data_rows(&p, "history", "PRODUCT#t").await;
    assert_eq!(history.len(), 1);
    assert_eq!(get_s(&history[0], "sk"), Some("P1@1"));
    assert_eq!(history[0].get("ttl"), Some(&AttributeValue::Null(true)));
    // written.jsonl lists every key the direct-mode job wrote, for a re-sync of read models.
    let report: Value = serde_json::from_slice(
        &get_bytes(
            p.objects.as_ref(),
            LOCAL_BUCKET,
            out["reportKey"].as_str().unwrap(),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let written_key = report["writtenKey"].as_str().unwrap();
    let written = String::from_utf8(
        get_bytes(p.objects.as_ref(), LOCAL_BUCKET, written_key)
            .await
            .unwrap(),
    )
    .unwrap();
    let line: Value = serde_json::from_str(written.lines().next().unwrap()).unwrap();
    assert_eq!(
        line,
        json!({"table": "data", "pk": "PRODUCT#t", "sk": "P1", "version": 2, "outcome": "updated"})
    );
    assert_eq!(written.lines().count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsafe_numbers_are_rejected_by_default_and_kept_or_stringified_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = format!(
        "{HEADER}PRODUCT#SRC,N1,N1,ok,\"{{\"\"price\"\":162.59,\"\"stock\"\":9007199254740991}}\",t\nPRODUCT#SRC,N2,N2,big,\"{{\"\"precise\"\":12345678901234567890123456789012345678}}\",t\n"
    );
    let (status, out) =
        upload_and_run(&p, "incoming/n.csv", &csv, json!({"jobId": "numbers"})).await;
    assert_eq!(status, ExecutionStatus::Failed, "{out}");
    assert!(
        data_rows(&p, "data", "PRODUCT#t").await.is_empty(),
        "nothing written"
    );
    let rejected = rejected_csv(&p, &out).await;
    assert!(
        rejected.contains("attributes.precise: number 12345678901234567890123456789012345678"),
        "{rejected}"
    );
    assert!(
        rejected.lines().nth(1).unwrap().starts_with("3,"),
        "line 3: {rejected}"
    );

    let (status, out) = upload_and_run(
        &p,
        "data/n.csv",
        &csv,
        json!({"jobId": "numbers-string", "unsafeNumbers": "string"}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    let n2 = data_entity(&p, "PRODUCT#t", "N2").await;
    assert_eq!(
        n2.attributes["precise"],
        s("12345678901234567890123456789012345678")
    );
    let n1 = data_entity(&p, "PRODUCT#t", "N1").await;
    assert_eq!(
        n1.attributes["stock"],
        AttributeValue::N("9007199254740991".into())
    );

    let keep = csv.replace(",t\n", ",k\n");
    let (status, out) = upload_and_run(
        &p,
        "data/k.csv",
        &keep,
        json!({"jobId": "numbers-keep", "unsafeNumbers": "keep"}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Succeeded, "{out}");
    let kept = data_entity(&p, "PRODUCT#k", "N2").await;
    assert_eq!(
        kept.attributes["precise"],
        AttributeValue::N("12345678901234567890123456789012345678".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_mode_is_refused_for_an_app_below_1_1_4() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    let csv = format!("{HEADER}PRODUCT#SRC,A,A,a,{{}},t\n");
    let (status, out) = upload_and_run(
        &p,
        "data/a.csv",
        &csv,
        json!({"jobId": "old-app", "appFrameworkVersion": "1.1.3"}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Failed);
    let record = job_record(&p, "old-app").await.unwrap_or(out);
    let cause = record.to_string();
    assert!(
        cause.contains("1.1.4")
            && cause.contains("\\\"app\\\"")
            && cause.contains("syncMode notExists"),
        "{cause}"
    );
    assert!(data_rows(&p, "command", "PRODUCT#t").await.is_empty());
}

/// Plays the app's command saga for new command rows: the data row from the command (what
/// the framework's check_version → sync_data steps do), as long as `until` says so.
async fn saga(p: &LocalPipeline, pk: &str, rounds: usize) {
    for _ in 0..rounds {
        for item in data_rows(p, "command", pk).await {
            let command = EntityRow::from_versioned_item(&item).unwrap();
            let current = p
                .deps
                .tables
                .get_item("data", &command.data_key())
                .await
                .unwrap();
            let at = current
                .as_ref()
                .and_then(|d| get_n(d, "version"))
                .map_or(0, |v| v.parse::<u64>().unwrap());
            if at + 1 == command.version {
                let condition = if at == 0 {
                    Condition::NotExists
                } else {
                    Condition::VersionEquals(at)
                };
                let _ = p
                    .deps
                    .tables
                    .put_item(Put::new("data", command.to_data_item(), condition))
                    .await;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_mode_writes_publish_async_command_rows_and_counts_only_what_the_saga_finished() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    p.deps.app.saga_wait = Duration::from_millis(300);
    let csv = format!("{HEADER}PRODUCT#SRC,A,A,a,{{}},t\nPRODUCT#SRC,B,B,b,{{}},t\n");
    // No saga runs: nothing reaches the data table, the job fails with the reason.
    let (status, out) = upload_and_run(
        &p,
        "data/a.csv",
        &csv,
        json!({"jobId": "app1", "publishMode": "app"}),
    )
    .await;
    assert_eq!(status, ExecutionStatus::Failed, "{out}");
    let record = job_record(&p, "app1").await.unwrap();
    assert_eq!(record["counts"]["failed"], 2, "{record}");
    assert_eq!(record["counts"]["created"], 0, "{record}");
    let report: Value = serde_json::from_slice(
        &get_bytes(p.objects.as_ref(), LOCAL_BUCKET, "jobs/app1/report.json")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        report["samples"]["failed"][0]
            .as_str()
            .unwrap()
            .contains("timeout"),
        "{report}"
    );
    // Command rows as publishAsync writes them: no syncMode, no status; no data rows.
    let commands = data_rows(&p, "command", "PRODUCT#t").await;
    assert_eq!(commands.len(), 2);
    for c in &commands {
        assert!(
            !c.contains_key("syncMode") && !c.contains_key("status"),
            "{c:?}"
        );
    }
    assert!(data_rows(&p, "data", "PRODUCT#t").await.is_empty());

    // With the app's saga running, the rows count as written once their data rows are there.
    p.deps.app.saga_wait = Duration::from_secs(30);
    let third = format!("{HEADER}PRODUCT#SRC,C,C,c,{{}},t\n");
    let (result, ()) = tokio::join!(
        upload_and_run(
            &p,
            "data/c.csv",
            &third,
            json!({"jobId": "app2", "publishMode": "app"})
        ),
        saga(&p, "PRODUCT#t", 60),
    );
    assert_eq!(result.0, ExecutionStatus::Succeeded, "{}", result.1);
    assert_eq!(result.1["counts"]["created"], 1, "{}", result.1);
    assert_eq!(data_entity(&p, "PRODUCT#t", "C").await.version, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_in_s3_are_read_compared_and_large_ones_offloaded() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    p.deps.app.large_attributes.limit = 500;
    // An entity the framework offloaded: its attributes live in the app's bucket.
    let pointer_key = "ddb/data/PRODUCT#t/S1/01JABCDEFGHJKMNPQRSTVWXYZ0.json";
    p.objects
        .put_object(
            LOCAL_BUCKET,
            pointer_key,
            br#"{"dims":{"w":1,"h":2},"note":"kept"}"#.to_vec(),
        )
        .await
        .unwrap();
    let mut existing = EntityRow {
        pk: "PRODUCT#t".into(),
        sk: "S1".into(),
        id: "PRODUCT#t#S1".into(),
        code: "S1".into(),
        name: "s".into(),
        version: 1,
        tenant_code: "t".into(),
        entity_type: "PRODUCT".into(),
        attributes_pointer: Some(format!("s3://{LOCAL_BUCKET}/{pointer_key}").into()),
        created_at: "2026-01-01T00:00:00+00:00".into(),
        ..Default::default()
    };
    p.deps
        .tables
        .put_item(Put::new(
            "data",
            existing.to_data_item(),
            Condition::NotExists,
        ))
        .await
        .unwrap();
    // A broken pointer: only its own row fails.
    existing.sk = "S2".into();
    existing.id = "PRODUCT#t#S2".into();
    existing.attributes_pointer = Some(format!("s3://{LOCAL_BUCKET}/ddb/data/missing.json").into());
    p.deps
        .tables
        .put_item(Put::new(
            "data",
            existing.to_data_item(),
            Condition::NotExists,
        ))
        .await
        .unwrap();

    let big = "x".repeat(600);
    let csv = format!(
        "{HEADER}PRODUCT#SRC,S1,S1,s,\"{{\"\"dims\"\":{{\"\"w\"\":5}}}}\",t\nPRODUCT#SRC,S2,S2,s,{{}},t\nPRODUCT#SRC,S3,S3,s,\"{{\"\"blob\"\":\"\"{big}\"\"}}\",t\n"
    );
    let (_, out) = upload_and_run(
        &p,
        "data/s.csv",
        &csv,
        json!({"jobId": "large", "toleratedFailurePercentage": 50}),
    )
    .await;
    assert_eq!(out["counts"]["updated"], 1, "{out}");
    assert_eq!(out["counts"]["created"], 1, "{out}");
    assert_eq!(out["counts"]["failed"], 1, "{out}");

    // S1: read through the pointer, merged (h and note kept), stored again: small now, a map.
    let s1 = data_entity(&p, "PRODUCT#t", "S1").await;
    assert_eq!(s1.version, 2);
    assert!(s1.attributes_pointer.is_none());
    let AttributeValue::M(dims) = &s1.attributes["dims"] else {
        panic!()
    };
    assert_eq!(
        (dims.get("w"), dims.get("h")),
        (
            Some(&AttributeValue::N("5".into())),
            Some(&AttributeValue::N("2".into()))
        )
    );
    assert_eq!(s1.attributes["note"], s("kept"));
    // S3: over the limit, offloaded as the framework does, for the command and the data row.
    for (table, sk) in [("data", "S3"), ("command", "S3@1")] {
        let item = p
            .deps
            .tables
            .get_item(table, &Key::new("PRODUCT#t", sk))
            .await
            .unwrap()
            .unwrap();
        let pointer = get_s(&item, "attributes").unwrap();
        let prefix = format!("s3://{LOCAL_BUCKET}/ddb/{table}/PRODUCT#t/{sk}/");
        assert!(
            pointer.starts_with(&prefix) && pointer.ends_with(".json"),
            "{pointer}"
        );
        let id = &pointer[prefix.len()..pointer.len() - 5];
        assert!(id.parse::<ulid::Ulid>().is_ok(), "{id}");
        let body = get_bytes(
            p.objects.as_ref(),
            LOCAL_BUCKET,
            &pointer[format!("s3://{LOCAL_BUCKET}/").len()..],
        )
        .await
        .unwrap();
        let stored: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(stored["blob"], json!(big));
    }
    // Re-running is EQUAL through the pointer (nothing written again).
    let (_, again) = upload_and_run(
        &p,
        "data/s2.csv",
        &csv,
        json!({"jobId": "large2", "toleratedFailurePercentage": 50}),
    )
    .await;
    assert_eq!(again["counts"]["unchanged"], 2, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_rules_and_history_follow_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = pipeline(dir.path());
    p.deps.app.master_data_table = Some("master-data".into());
    for (table, days) in [("data", 30), ("history", 7)] {
        let mut item = Item::new();
        item.insert("pk".into(), s("MASTER#t"));
        item.insert("sk".into(), s(format!("TTL#{table}")));
        item.insert(
            "attributes".into(),
            shared::value::from_json_str(&format!(r#"{{"days":{days}}}"#)).unwrap(),
        );
        p.deps
            .tables
            .put_item(Put::new("master-data", item, Condition::None))
            .await
            .unwrap();
    }
    let before = chrono::Utc::now().timestamp();
    let csv = format!("{HEADER}PRODUCT#SRC,T1,T1,one,{{}},t\nPRODUCT#SRC,U1,U1,one,{{}},u\n");
    upload_and_run(&p, "data/t1.csv", &csv, json!({"jobId": "ttl1"})).await;
    let t1 = data_entity(&p, "PRODUCT#t", "T1").await;
    let ttl: i64 = t1.ttl.as_deref().unwrap().parse().unwrap();
    assert!(
        (before + 30 * 86_400..=before + 30 * 86_400 + 60).contains(&ttl),
        "{ttl}"
    );
    assert_eq!(
        data_entity(&p, "PRODUCT#u", "U1").await.ttl,
        None,
        "tenant without a rule"
    );
    // An unchanged re-run is not a change although the rule's ttl moves on.
    let (_, out) = upload_and_run(&p, "data/t2.csv", &csv, json!({"jobId": "ttl2"})).await;
    assert_eq!(out["counts"]["unchanged"], 2, "{out}");
    // A change: history @1 gets the history rule's ttl, not the data row's.
    let changed = csv.replace(",one,", ",two,");
    upload_and_run(&p, "data/t3.csv", &changed, json!({"jobId": "ttl3"})).await;
    let history = data_rows(&p, "history", "PRODUCT#t").await;
    let h: i64 = get_n(&history[0], "ttl").unwrap().parse().unwrap();
    assert!(
        (before + 7 * 86_400..=before + 7 * 86_400 + 60).contains(&h),
        "{h}"
    );
}

#[tokio::test]
async fn a_ttl_expiry_remove_is_not_history() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path());
    // The official fixture's records carry the TTL service identity; as REMOVEs they are expiries.
    let mut fixture: Value =
        serde_json::from_str(include_str!("../infra/events/example-dynamodb-event.json")).unwrap();
    let old = json!({"pk": {"S": "PRODUCT#t"}, "sk": {"S": "X"}, "id": {"S": "PRODUCT#t#X"}, "code": {"S": "X"},
                     "name": {"S": "x"}, "version": {"N": "4"}, "attributes": {"M": {}}});
    let mut records = Vec::new();
    for (i, expired) in [true, false].into_iter().enumerate() {
        let mut r = fixture["Records"][0].clone();
        r["eventName"] = json!("REMOVE");
        r["dynamodb"]["SequenceNumber"] = json!(format!("{i}"));
        r["dynamodb"]["Keys"] = json!({"pk": old["pk"], "sk": old["sk"]});
        r["dynamodb"]["OldImage"] = old.clone();
        r["dynamodb"]["OldImage"]["sk"] = json!({"S": if expired { "EXPIRED" } else { "DELETED" }});
        r["dynamodb"]["NewImage"] = json!({});
        if !expired {
            r.as_object_mut().unwrap().remove("userIdentity");
        }
        records.push(r);
    }
    fixture["Records"] = json!(records);
    let event = serde_json::from_value(fixture).unwrap();
    let response = shared::handlers::history::handle(event, &p.deps).await;
    assert!(response.batch_item_failures.is_empty());
    let history = data_rows(&p, "history", "PRODUCT#t").await;
    let sks: Vec<&str> = history.iter().filter_map(|h| get_s(h, "sk")).collect();
    assert_eq!(sks, vec!["DELETED@4"], "the expired row is not kept");
}
