//! Inline Map: order, ItemsPath/ItemSelector/context, concurrency, failure, legacy fields.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Fake, count, run};
use crate::{ExecutionStatus, HistoryEventKind, TaskFailure};

const FN: &str = "arn:aws:lambda:local:000000000000:function:square";

fn square(v: Value) -> Result<Value, TaskFailure> {
    let n = v["n"]
        .as_i64()
        .ok_or_else(|| TaskFailure::new("InvalidInput", v.to_string()))?;
    Ok(json!(n * n))
}

fn map_def(extra: Value) -> Value {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.numbers",
        "ItemSelector": {"n.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Square",
            "States": {"Square": {"Type": "Task", "Resource": FN, "End": true}}
        },
        "ResultPath": "$.squares",
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        map[k] = v.clone();
    }
    json!({"StartAt": "M", "States": {"M": map}})
}

#[tokio::test]
async fn output_is_in_item_order() {
    // Later items finish first.
    let fake = Fake::new().handler(FN, square).delay(FN, |v| {
        Duration::from_millis(50 - 10 * v["index"].as_u64().unwrap_or(0))
    });
    let r = run(
        map_def(json!({})),
        json!({"numbers": [1, 2, 3, 4], "tag": "t"}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    assert_eq!(
        r.output,
        Some(json!({"numbers": [1, 2, 3, 4], "tag": "t", "squares": [1, 4, 9, 16]}))
    );
    let inputs: Vec<Value> = fake
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    assert!(inputs.contains(&json!({"n": 3, "index": 2, "tag": "t"})));
    assert_eq!(count(&r, HistoryEventKind::MapItemSucceeded), 4);
    let started = r
        .history
        .iter()
        .find(|e| e.kind == HistoryEventKind::MapRunStarted)
        .unwrap();
    assert_eq!(started.detail["totalItems"], json!(4));
}

#[tokio::test]
async fn max_concurrency_limits_parallel_iterations() {
    let fake = Fake::new()
        .handler(FN, square)
        .delay(FN, |_| Duration::from_millis(30));
    let r = run(
        map_def(json!({"MaxConcurrency": 2})),
        json!({"numbers": [1, 2, 3, 4, 5, 6], "tag": 0}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 2);

    let fake = Fake::new()
        .handler(FN, square)
        .delay(FN, |_| Duration::from_millis(30));
    let r = run(
        map_def(json!({"MaxConcurrency": 0})),
        json!({"numbers": [1, 2, 3, 4, 5, 6], "tag": 0}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 6);

    let fake = Fake::new()
        .handler(FN, square)
        .delay(FN, |_| Duration::from_millis(5));
    let r = run(
        map_def(json!({"MaxConcurrencyPath": "$.limit"})),
        json!({"numbers": [1, 2, 3], "tag": 0, "limit": 1}),
        &fake,
    )
    .await;
    assert_eq!(r.output.unwrap()["squares"], json!([1, 4, 9]));
    assert_eq!(fake.max_in_flight.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn failing_iteration_fails_the_map_and_can_be_caught() {
    let fake = Fake::new().handler(FN, square);
    let r = run(
        map_def(json!({})),
        json!({"numbers": [1, "x", 3], "tag": 0}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("InvalidInput"));
    assert_eq!(count(&r, HistoryEventKind::MapItemFailed), 1);

    let mut def = map_def(json!({
        "Catch": [{"ErrorEquals": ["InvalidInput"], "ResultPath": "$.failure", "Next": "Handled"}]
    }));
    def["States"]["Handled"] = json!({"Type": "Pass", "End": true});
    let r = run(def, json!({"numbers": [1, "x"], "tag": 0}), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.output.unwrap()["failure"]["Error"], json!("InvalidInput"));
}

#[tokio::test]
async fn items_path_must_select_an_array() {
    let r = run(
        map_def(json!({})),
        json!({"numbers": 5, "tag": 0}),
        &Fake::new(),
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(r.cause.unwrap().contains("$.numbers"));
}

/// Legacy `Iterator` + `Parameters`, the spec's Map example shape, and ResultSelector.
#[tokio::test]
async fn legacy_iterator_and_parameters() {
    let def = json!({"StartAt": "Validate-All", "States": {"Validate-All": {
        "Type": "Map",
        "InputPath": "$.detail",
        "ItemsPath": "$.shipped",
        "MaxConcurrency": 0,
        "Parameters": {"parcel.$": "$$.Map.Item.Value", "courier.$": "$.delivery-partner"},
        "Iterator": {"StartAt": "Validate", "States": {"Validate": {
            "Type": "Pass", "Parameters": {"id.$": "$.parcel.prod", "by.$": "$.courier"}, "End": true}}},
        "ResultSelector": {"validated.$": "$", "count.$": "States.ArrayLength($)"},
        "ResultPath": "$.detail.shipped",
        "End": true
    }}});
    let input = json!({"detail": {"delivery-partner": "UQS", "shipped": [
        {"prod": "R31", "dest-code": 9511, "quantity": 1344},
        {"prod": "S39", "dest-code": 9511, "quantity": 40}
    ]}});
    let r = run(def, input, &Fake::new()).await;
    assert_eq!(
        r.output.unwrap()["detail"]["shipped"],
        json!({"validated": [{"id": "R31", "by": "UQS"}, {"id": "S39", "by": "UQS"}], "count": 2})
    );
}
