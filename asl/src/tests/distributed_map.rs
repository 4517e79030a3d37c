//! Distributed Map: ItemReader, ItemSelector, ItemBatcher, ResultWriter, tolerated failures.

use serde_json::{Value, json};

use super::{Fake, count, run, run_observed};
use crate::{ExecutionStatus, HistoryEventKind, TaskFailure};

const FN: &str = "arn:aws:lambda:local:000000000000:function:process";

/// Fails items whose `id` is a multiple of 5 (ids 0..n), echoes the others with a flag.
fn process(v: Value) -> Result<Value, TaskFailure> {
    let id = v["id"].as_i64().unwrap_or(-1);
    if id % 5 == 0 {
        Err(TaskFailure::new(
            "InvalidInput",
            format!("item {id} is invalid"),
        ))
    } else {
        Ok(json!({"id": id, "ok": true}))
    }
}

fn items(n: usize) -> String {
    Value::Array(
        (0..n)
            .map(|i| json!({"id": i, "payload": format!("p{i}")}))
            .collect(),
    )
    .to_string()
}

fn distributed(extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Process",
            "States": {"Process": {"Type": "Task", "Resource": FN, "End": true}}
        },
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "input/items.json"}
        },
        "ItemSelector": {"id.$": "$$.Map.Item.Value.id", "index.$": "$$.Map.Item.Index", "run.$": "$.runId"},
        "MaxConcurrency": 3,
        "Label": "Process",
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    json!({"StartAt": "Process", "States": {"Process": map}})
}

fn input() -> Value {
    json!({"bucket": "data", "runId": "r1", "outBucket": "results", "pct": 30})
}

#[tokio::test]
async fn reads_items_and_returns_outputs_in_order() {
    let fake = Fake::new().handler(FN, |v| Ok(json!({"seen": v}))).object(
        "data",
        "input/items.json",
        &items(4),
    );
    let (r, seen) = run_observed(distributed(json!({})), input(), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    let out = r.output.clone().unwrap();
    assert_eq!(out.as_array().unwrap().len(), 4);
    assert_eq!(out[2], json!({"seen": {"id": 2, "index": 2, "run": "r1"}}));
    let started = r
        .history
        .iter()
        .find(|e| e.kind == HistoryEventKind::MapRunStarted)
        .unwrap();
    assert_eq!(started.detail["totalItems"], json!(4));
    assert_eq!(started.detail["mode"], json!("DISTRIBUTED"));
    assert!(
        started.detail["mapRunArn"]
            .as_str()
            .unwrap()
            .contains(":mapRun:Test/Process:")
    );
    // Items are events of the map run: the observer sees them, the execution's history does
    // not keep them (as in Step Functions, and so it does not grow with the items).
    let indexes: Vec<u64> = seen
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == HistoryEventKind::MapItemSucceeded)
        .map(|e| e.detail["index"].as_u64().unwrap())
        .collect();
    let mut sorted = indexes.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 1, 2, 3]);
    assert_eq!(count(&r, HistoryEventKind::MapItemSucceeded), 0);
    assert_eq!(count(&r, HistoryEventKind::MapItemStarted), 0);
}

#[tokio::test]
async fn child_executions_have_their_own_context() {
    let def = json!({"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": true, "ItemsPath": "$.list",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
                "input.$": "$$.Execution.Input", "id.$": "$$.Execution.Id", "index.$": "$$.Map.Item.Index"}}}
        }
    }}});
    let r = run(def, json!({"list": ["a", "b"]}), &Fake::new()).await;
    let out = r.output.unwrap();
    assert_eq!(out[1]["input"], json!("b"));
    assert_eq!(out[1]["index"], json!(1));
    let id = out[0]["id"].as_str().unwrap();
    assert!(
        id.starts_with("arn:aws:states:local:000000000000:execution:Test/M:"),
        "{id}"
    );
}

#[tokio::test]
async fn batches_items_with_batch_input_and_writes_results() {
    let fake = Fake::new()
        .handler(FN, |v| {
            let ids: Vec<Value> = v["Items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone())
                .collect();
            if ids.contains(&json!(4)) {
                return Err(TaskFailure::new("MigrationFailed", "batch with 4"));
            }
            Ok(json!({"ids": ids, "job": v["BatchInput"]["job"]}))
        })
        .object("data", "input/items.json", &items(5));
    let def = distributed(json!({
        "ItemBatcher": {"MaxItemsPerBatchPath": "$.batch", "BatchInput": {"job.$": "$.runId"}},
        "ToleratedFailureCount": 1,
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.outBucket", "Prefix": "runs"}
        },
        "ResultPath": "$.mapResult"
    }));
    let mut inp = input();
    inp["batch"] = json!(2);
    let r = run(def, inp, &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");

    // Three children: [0,1], [2,3], [4].
    let calls = fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 3);
    assert!(calls.iter().any(|(_, v)| v
        == &json!({
            "Items": [{"id": 2, "index": 2, "run": "r1"}, {"id": 3, "index": 3, "run": "r1"}],
            "BatchInput": {"job": "r1"}
        })));

    let result = r.output.unwrap()["mapResult"].clone();
    let map_run_arn = result["MapRunArn"].as_str().unwrap().to_owned();
    let run_id = map_run_arn.rsplit(':').next().unwrap().to_owned();
    let manifest_key = format!("runs/{run_id}/manifest.json");
    assert_eq!(
        result["ResultWriterDetails"],
        json!({"Bucket": "results", "Key": manifest_key})
    );

    let manifest = fake.json_object("results", &manifest_key).unwrap();
    assert_eq!(manifest["DestinationBucket"], json!("results"));
    assert_eq!(manifest["MapRunArn"], json!(map_run_arn));
    let succeeded_key = format!("runs/{run_id}/SUCCEEDED_0.json");
    let failed_key = format!("runs/{run_id}/FAILED_0.json");
    assert_eq!(
        manifest["ResultFiles"]["SUCCEEDED"][0]["Key"],
        json!(succeeded_key)
    );
    assert_eq!(
        manifest["ResultFiles"]["FAILED"][0]["Key"],
        json!(failed_key)
    );
    assert_eq!(manifest["ResultFiles"]["PENDING"], json!([]));
    let objects = fake.objects.lock().unwrap();
    let size = objects[&("results".to_string(), succeeded_key.clone())].len();
    drop(objects);
    assert_eq!(manifest["ResultFiles"]["SUCCEEDED"][0]["Size"], json!(size));

    let succeeded = fake.json_object("results", &succeeded_key).unwrap();
    let succeeded = succeeded.as_array().unwrap();
    assert_eq!(succeeded.len(), 2);
    for record in succeeded {
        assert_eq!(record["Status"], json!("SUCCEEDED"));
        assert!(record["ExecutionArn"].as_str().unwrap().contains(&run_id));
        let output: Value = serde_json::from_str(record["Output"].as_str().unwrap()).unwrap();
        assert_eq!(output["job"], json!("r1"));
        let input: Value = serde_json::from_str(record["Input"].as_str().unwrap()).unwrap();
        assert_eq!(input["Items"].as_array().unwrap().len(), 2);
        for key in [
            "Name",
            "StartDate",
            "StopDate",
            "StateMachineArn",
            "InputDetails",
            "OutputDetails",
        ] {
            assert!(record.get(key).is_some(), "missing {key}");
        }
    }
    let failed = fake.json_object("results", &failed_key).unwrap();
    assert_eq!(failed.as_array().unwrap().len(), 1);
    assert_eq!(failed[0]["Status"], json!("FAILED"));
    assert_eq!(failed[0]["Error"], json!("MigrationFailed"));
    assert_eq!(failed[0]["Cause"], json!("batch with 4"));
    assert!(failed[0].get("Output").is_none());
    assert_eq!(fake.keys().len(), 4, "{:?}", fake.keys());
}

#[tokio::test]
async fn tolerated_failure_percentage_under_threshold() {
    // 10 items, ids 0 and 5 fail: 20% <= 30%.
    let fake = Fake::new()
        .handler(FN, process)
        .object("data", "input/items.json", &items(10));
    let (r, seen) = run_observed(
        distributed(json!({"ToleratedFailurePercentagePath": "$.pct"})),
        input(),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    let out = r.output.clone().unwrap();
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 10);
    assert_eq!(out[1], json!({"id": 1, "ok": true}));
    // Failed children appear as their execution record.
    assert_eq!(out[5]["Status"], json!("FAILED"));
    assert_eq!(out[5]["Error"], json!("InvalidInput"));
    assert_eq!(seen.count(HistoryEventKind::MapItemFailed), 2);
    assert_eq!(count(&r, HistoryEventKind::MapRunSucceeded), 1);
}

#[tokio::test]
async fn tolerated_failure_percentage_over_threshold() {
    // 10 items, ids 0 and 5 fail: 20% > 10%.
    let fake = Fake::new()
        .handler(FN, process)
        .object("data", "input/items.json", &items(10));
    let def = distributed(json!({
        "ToleratedFailurePercentage": 10,
        "Catch": [{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "ResultPath": "$.error", "Next": "Report"}],
        "End": null, "Next": "Report"
    }));
    let mut def = def;
    def["States"]["Process"]
        .as_object_mut()
        .unwrap()
        .remove("End");
    def["States"]["Report"] =
        json!({"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"});
    let r = run(def, input(), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(
        r.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let cause = r.cause.clone().unwrap();
    assert!(
        cause.contains("2 of 10") && cause.contains("8 succeeded"),
        "{cause}"
    );
    assert_eq!(count(&r, HistoryEventKind::MapRunFailed), 1);
    assert_eq!(fake.call_count(FN), 10);
}

#[tokio::test]
async fn any_failure_fails_without_tolerance_and_count_threshold() {
    let fake = Fake::new()
        .handler(FN, process)
        .object("data", "input/items.json", &items(4));
    let r = run(distributed(json!({})), input(), &fake).await;
    assert_eq!(
        r.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );

    // ids 0 and 5 fail: 2 failures > 1 tolerated.
    let fake = Fake::new()
        .handler(FN, process)
        .object("data", "input/items.json", &items(6));
    let r = run(
        distributed(json!({"ToleratedFailureCount": 1})),
        input(),
        &fake,
    )
    .await;
    assert_eq!(
        r.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let fake = Fake::new()
        .handler(FN, process)
        .object("data", "input/items.json", &items(6));
    let r = run(
        distributed(json!({"ToleratedFailureCount": 2})),
        input(),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
}

#[tokio::test]
async fn item_reader_failures() {
    let fake = Fake::new().handler(FN, process).object(
        "data",
        "input/items.json",
        "{\"not\": \"an array\"}",
    );
    let r = run(distributed(json!({})), input(), &fake).await;
    assert_eq!(r.error.as_deref(), Some("States.ItemReaderFailed"));

    assert!(r.cause.unwrap().contains("does not contain a JSON array"));

    let fake = Fake::new().handler(FN, process);
    let r = run(distributed(json!({})), input(), &fake).await;
    assert_eq!(r.error.as_deref(), Some("States.ItemReaderFailed"));
    assert!(r.cause.unwrap().contains("NoSuchKey"));

    // Cut short, or with something after the array: not valid JSON, and no child ran.
    for body in [
        "[{\"id\": 1}, {\"id\": 2}",
        "[{\"id\": 1}] x",
        "[{\"id\": 1},]",
    ] {
        let fake = Fake::new()
            .handler(FN, process)
            .object("data", "input/items.json", body);
        let r = run(distributed(json!({})), input(), &fake).await;
        assert_eq!(
            r.error.as_deref(),
            Some("States.ItemReaderFailed"),
            "{body}"
        );
        assert!(r.cause.unwrap().contains("is not valid JSON"), "{body}");
        assert!(fake.calls.lock().unwrap().is_empty(), "{body}");
    }
}

/// The reader takes the array one item at a time (spooled to a file, read back as children
/// start): a long manifest, batched or not, reaches every child once and in order, MaxItems
/// stops it, and a selector that fails on a late item fails the state before any child ran.
#[tokio::test]
async fn a_long_manifest_is_read_item_by_item() {
    let n = 5_000;
    let ids = |r: &crate::ExecutionResult| -> Vec<i64> {
        r.output
            .as_ref()
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|o| match o["ids"].as_array() {
                Some(ids) => ids.iter().map(|i| i.as_i64().unwrap()).collect(),
                None => vec![o["id"].as_i64().unwrap()],
            })
            .collect()
    };
    let echo = |v: Value| -> Result<Value, TaskFailure> {
        Ok(match v["Items"].as_array() {
            Some(items) => {
                json!({"ids": items.iter().map(|i| i["id"].clone()).collect::<Vec<_>>()})
            }
            None => json!({"id": v["id"]}),
        })
    };
    let fake = Fake::new()
        .handler(FN, echo)
        .object("data", "input/items.json", &items(n));
    let r = run(distributed(json!({"MaxConcurrency": 50})), input(), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    assert_eq!(ids(&r), (0..n as i64).collect::<Vec<_>>());

    let batched =
        distributed(json!({"MaxConcurrency": 50, "ItemBatcher": {"MaxItemsPerBatch": 7}}));
    let r = run(batched, input(), &fake).await;
    assert_eq!(
        r.output.as_ref().unwrap().as_array().unwrap().len(),
        n.div_ceil(7)
    );
    assert_eq!(ids(&r), (0..n as i64).collect::<Vec<_>>());

    let mut limited = distributed(json!({}));
    limited["States"]["Process"]["ItemReader"]["ReaderConfig"]["MaxItems"] = json!(4);
    let r = run(limited, input(), &fake).await;
    assert_eq!(ids(&r), vec![0, 1, 2, 3]);

    // Item 4,321 has no id: the selector fails, before any child starts.
    let mut list: Vec<Value> = (0..n).map(|i| json!({"id": i})).collect();
    list[4321] = json!({"name": "no id"});
    let fake = Fake::new().handler(FN, echo).object(
        "data",
        "input/items.json",
        &Value::Array(list).to_string(),
    );
    let r = run(distributed(json!({})), input(), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert!(fake.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn max_concurrency_applies_to_children() {
    let fake = Fake::new()
        .handler(FN, Ok)
        .delay(FN, |_| std::time::Duration::from_millis(20))
        .object("data", "input/items.json", &items(9));
    let (r, seen) = run_observed(distributed(json!({})), input(), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(
        fake.max_in_flight.load(std::sync::atomic::Ordering::SeqCst),
        3
    );
    assert_eq!(seen.count(HistoryEventKind::MapItemSucceeded), 9);
}

/// Result files are split past 4 MB (one file in memory at a time while writing); together
/// they hold every child's record once.
#[tokio::test]
async fn large_results_are_split_into_numbered_files() {
    let big = "x".repeat(200 * 1024);
    let fake = Fake::new()
        .handler(FN, move |v| Ok(json!({"id": v["id"], "big": big})))
        .object("data", "input/items.json", &items(30));
    let r = run(
        distributed(json!({
            "ResultWriter": {
                "Resource": "arn:aws:states:::s3:putObject",
                "Parameters": {"Bucket": "results", "Prefix": "runs"}
            }
        })),
        input(),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    let manifest_key = r.output.unwrap()["ResultWriterDetails"]["Key"]
        .as_str()
        .unwrap()
        .to_owned();
    let manifest = fake.json_object("results", &manifest_key).unwrap();
    let files = manifest["ResultFiles"]["SUCCEEDED"].as_array().unwrap();
    assert_eq!(
        files.len(),
        2,
        "30 records of 200 KB: two files, {manifest}"
    );
    let mut ids = Vec::new();
    for (n, file) in files.iter().enumerate() {
        let key = file["Key"].as_str().unwrap();
        assert!(key.ends_with(&format!("/SUCCEEDED_{n}.json")), "{key}");
        let body = fake.objects.lock().unwrap()[&("results".to_string(), key.to_string())].clone();
        assert_eq!(file["Size"], json!(body.len()));
        let records: Value = serde_json::from_slice(&body).unwrap();
        for record in records.as_array().unwrap() {
            let output: Value = serde_json::from_str(record["Output"].as_str().unwrap()).unwrap();
            ids.push(output["id"].as_u64().unwrap());
        }
    }
    ids.sort();
    assert_eq!(ids, (0..30).collect::<Vec<u64>>());
    assert_eq!(manifest["ResultFiles"]["FAILED"], json!([]));
}
