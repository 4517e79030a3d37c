//! Retry counts/backoff and Catch routing.

use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{Value, json};

use super::{Fake, count, options, parse, run};
use crate::{ExecutionStatus, HistoryEventKind, TaskFailure, run_execution};

const FN: &str = "arn:aws:lambda:local:000000000000:function:process";

fn task(retry: Value, catch: Value) -> Value {
    let has_catch = catch.as_array().is_some_and(|c| !c.is_empty());
    let mut def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN, "Next": "Done", "Retry": retry, "Catch": catch},
        "Done": {"Type": "Succeed"},
        "Recover": {"Type": "Pass", "Result": "recovered", "ResultPath": "$.status", "End": true}
    }});
    if !has_catch {
        // Unreachable states are refused.
        def["States"].as_object_mut().unwrap().remove("Recover");
    }
    def
}

#[tokio::test]
async fn retries_until_success() {
    let fake = Fake::new().failing(FN, 2, "Retryable");
    let r = run(
        task(
            json!([{"ErrorEquals": ["Retryable"], "MaxAttempts": 3}]),
            json!([]),
        ),
        json!({"a": 1}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    assert_eq!(r.output, Some(json!({"a": 1})));
    assert_eq!(fake.call_count(FN), 3);
    assert_eq!(count(&r, HistoryEventKind::TaskRetried), 2);
    assert_eq!(count(&r, HistoryEventKind::TaskFailed), 2);
}

#[tokio::test]
async fn gives_up_after_max_attempts() {
    let fake = Fake::new().failing(FN, 10, "Retryable");
    let r = run(
        task(
            json!([{"ErrorEquals": ["Retryable"], "MaxAttempts": 2}]),
            json!([]),
        ),
        json!({}),
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("Retryable"));
    assert_eq!(r.cause.as_deref(), Some("it failed"));
    assert_eq!(fake.call_count(FN), 3);
}

#[tokio::test]
async fn max_attempts_zero_and_non_matching_errors_are_not_retried() {
    let fake = Fake::new().failing(FN, 10, "Retryable");
    let r = run(
        task(
            json!([{"ErrorEquals": ["Retryable"], "MaxAttempts": 0}]),
            json!([]),
        ),
        json!({}),
        &fake,
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("Retryable"));
    assert_eq!(fake.call_count(FN), 1);

    let fake = Fake::new().failing(FN, 10, "InvalidInput");
    let r = run(
        task(json!([{"ErrorEquals": ["Retryable"]}]), json!([])),
        json!({}),
        &fake,
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("InvalidInput"));
    assert_eq!(fake.call_count(FN), 1);
}

#[tokio::test]
async fn default_max_attempts_is_three_and_task_failed_matches() {
    let fake = Fake::new().failing(FN, 10, "Lambda.ServiceException");
    let r = run(
        task(json!([{"ErrorEquals": ["States.TaskFailed"]}]), json!([])),
        json!({}),
        &fake,
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("Lambda.ServiceException"));
    assert_eq!(fake.call_count(FN), 4);
}

#[tokio::test]
async fn each_retrier_has_its_own_attempt_count() {
    // Errors alternate A, B, A, B, ...: retrier 0 (A, MaxAttempts 1) and retrier 1
    // (States.ALL, MaxAttempts 2). Attempts: A (retry 0:1), B (retry 1:1), A (0 exhausted) → fail.
    let n = AtomicUsize::new(0);
    let fake = Fake::new().handler(FN, move |_| {
        let i = n.fetch_add(1, Ordering::SeqCst);
        Err(TaskFailure::new(
            if i.is_multiple_of(2) { "A" } else { "B" },
            format!("call {i}"),
        ))
    });
    let retry = json!([
        {"ErrorEquals": ["A"], "MaxAttempts": 1},
        {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}
    ]);
    let r = run(task(retry, json!([])), json!({}), &fake).await;
    assert_eq!(fake.call_count(FN), 3);
    assert_eq!(
        (r.error.as_deref(), r.cause.as_deref()),
        (Some("A"), Some("call 2"))
    );
}

#[tokio::test]
async fn backoff_intervals_with_rate_and_max_delay() {
    let fake = Fake::new().failing(FN, 4, "Retryable");
    let def = task(
        json!([{"ErrorEquals": ["Retryable"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 4, "MaxDelaySeconds": 10}]),
        json!([]),
    );
    let mut opts = options();
    opts.retry_interval_scale = 0.001;
    let r = run_execution(&parse(&def), &fake, json!({}), opts).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    let delays: Vec<f64> = r
        .history
        .iter()
        .filter(|e| e.kind == HistoryEventKind::TaskRetried)
        .map(|e| e.detail["delaySeconds"].as_f64().unwrap())
        .collect();
    let expected = [0.002, 0.006, 0.010, 0.010];
    assert_eq!(delays.len(), expected.len());
    for (d, e) in delays.iter().zip(expected) {
        assert!((d - e).abs() < 1e-9, "{delays:?}");
    }
}

#[tokio::test]
async fn full_jitter_never_exceeds_the_backoff() {
    let fake = Fake::new().failing(FN, 3, "Retryable");
    let def = task(
        json!([{"ErrorEquals": ["Retryable"], "IntervalSeconds": 1, "JitterStrategy": "FULL"}]),
        json!([]),
    );
    let mut opts = options();
    opts.retry_interval_scale = 0.001;
    let r = run_execution(&parse(&def), &fake, json!({}), opts).await;
    let delays: Vec<f64> = r
        .history
        .iter()
        .filter(|e| e.kind == HistoryEventKind::TaskRetried)
        .map(|e| e.detail["delaySeconds"].as_f64().unwrap())
        .collect();
    assert_eq!(delays.len(), 3);
    for (i, d) in delays.iter().enumerate() {
        assert!(
            *d >= 0.0 && *d <= 0.001 * 2f64.powi(i as i32) + 1e-12,
            "{delays:?}"
        );
    }
}

#[tokio::test]
async fn catch_routes_with_result_path() {
    let fake = Fake::new().failing(FN, 10, "VersionConflict");
    let catch = json!([
        {"ErrorEquals": ["MigrationFailed"], "Next": "Done"},
        {"ErrorEquals": ["VersionConflict"], "ResultPath": "$.error", "Next": "Recover"}
    ]);
    let r = run(task(json!([]), catch), json!({"job": 7}), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(
        r.output,
        Some(
            json!({"job": 7, "error": {"Error": "VersionConflict", "Cause": "it failed"}, "status": "recovered"})
        )
    );
    let caught = r
        .history
        .iter()
        .find(|e| e.kind == HistoryEventKind::CaughtError)
        .unwrap();
    assert_eq!(caught.detail["next"], json!("Recover"));
}

#[tokio::test]
async fn catch_default_and_null_result_path() {
    let fake = Fake::new().failing(FN, 10, "InvalidInput");
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": FN, "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Out"}]},
        "Out": {"Type": "Succeed"}
    }});
    let r = run(def.clone(), json!({"job": 1}), &fake).await;
    assert_eq!(
        r.output,
        Some(json!({"Error": "InvalidInput", "Cause": "it failed"}))
    );

    let mut keep = def;
    keep["States"]["T"]["Catch"][0]["ResultPath"] = Value::Null;
    let r = run(keep, json!({"job": 1}), &fake).await;
    assert_eq!(r.output, Some(json!({"job": 1})));
}

#[tokio::test]
async fn retry_then_catch() {
    let fake = Fake::new().failing(FN, 10, "Retryable");
    let r = run(
        task(
            json!([{"ErrorEquals": ["Retryable"], "MaxAttempts": 1}]),
            json!([{"ErrorEquals": ["States.ALL"], "Next": "Recover", "ResultPath": "$.err"}]),
        ),
        json!({}),
        &fake,
    )
    .await;
    assert_eq!(fake.call_count(FN), 2);
    assert_eq!(r.output.unwrap()["status"], json!("recovered"));
}
