//! InputPath / Parameters / ResultSelector / ResultPath / OutputPath, Pass, Choice, Fail, Wait,
//! Parallel, context object, history.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Fake, count, options, parse, run, shared};
use crate::{ExecutionStatus, HistoryEvent, HistoryEventKind, Observer, TaskFailure};

const ADD: &str = "arn:aws:lambda:local:000000000000:function:add";
const ECHO: &str = "arn:aws:lambda:local:000000000000:function:echo";

fn add(v: Value) -> Result<Value, TaskFailure> {
    let a = v["val1"]
        .as_i64()
        .ok_or_else(|| TaskFailure::new("InvalidInput", "val1"))?;
    let b = v["val2"]
        .as_i64()
        .ok_or_else(|| TaskFailure::new("InvalidInput", "val2"))?;
    Ok(json!(a + b))
}

fn one_task(fields: Value) -> Value {
    let mut task = json!({"Type": "Task", "Resource": ADD, "End": true});
    for (k, v) in fields.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"StartAt": "T", "States": {"T": task}})
}

/// The InputPath/ResultPath/OutputPath example of the specification.
#[tokio::test]
async fn spec_input_result_output_path_example() {
    let fake = Fake::new().handler(ADD, add);
    let input = json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}});
    let r = run(
        one_task(json!({"InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$"})),
        input,
        &fake,
    )
    .await;
    assert_eq!(r.status, ExecutionStatus::Succeeded, "{r:?}");
    assert_eq!(
        r.output,
        Some(json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7}))
    );
    assert_eq!(
        fake.calls.lock().unwrap()[0].1,
        json!({"val1": 3, "val2": 4})
    );
}

#[tokio::test]
async fn null_paths() {
    let fake = Fake::new().handler(ECHO, Ok);
    let def = |fields: Value| {
        let mut d = one_task(fields);
        d["States"]["T"]["Resource"] = json!(ECHO);
        d
    };
    let input = json!({"keep": 1});
    // InputPath null: the task gets {}.
    let r = run(def(json!({"InputPath": null})), input.clone(), &fake).await;
    assert_eq!(r.output, Some(json!({})));
    // ResultPath null: the result is discarded and the input passed through.
    let r = run(
        def(json!({"ResultPath": null, "Parameters": {"x": 1}})),
        input.clone(),
        &fake,
    )
    .await;
    assert_eq!(r.output, Some(input.clone()));
    // OutputPath null: the output is {}.
    let r = run(def(json!({"OutputPath": null})), input.clone(), &fake).await;
    assert_eq!(r.output, Some(json!({})));
    // OutputPath selecting part of the output.
    let r = run(
        def(json!({"ResultPath": "$.r", "OutputPath": "$.r.keep"})),
        input,
        &fake,
    )
    .await;
    assert_eq!(r.output, Some(json!(1)));
}

#[tokio::test]
async fn result_path_merges_creating_intermediate_objects() {
    let fake = Fake::new().handler(ADD, add);
    let r = run(
        one_task(json!({"ResultPath": "$.results.math.sum"})),
        json!({"val1": 1, "val2": 2, "results": {"other": true}}),
        &fake,
    )
    .await;
    assert_eq!(
        r.output,
        Some(json!({"val1": 1, "val2": 2, "results": {"other": true, "math": {"sum": 3}}}))
    );
}

#[tokio::test]
async fn parameters_with_paths_context_and_intrinsics() {
    let fake = Fake::new().handler(ECHO, Ok);
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": ECHO, "End": true,
        "Parameters": {
            "static": "x",
            "first.$": "$.list[0]",
            "quoted.$": "$['odd key']",
            "name.$": "$$.Execution.Name",
            "state.$": "$$.State.Name",
            "sm.$": "$$.StateMachine.Id",
            "original.$": "$$.Execution.Input.list",
            "greeting.$": "States.Format('Hello {}', $.who)",
            "nested": {"count.$": "States.ArrayLength($.list)"}
        }
    }}});
    let r = run(
        def,
        json!({"list": [5, 6], "odd key": "y", "who": "Bob"}),
        &fake,
    )
    .await;
    assert_eq!(
        r.output,
        Some(json!({
            "static": "x", "first": 5, "quoted": "y", "name": "test-run", "state": "T",
            "sm": "arn:aws:states:local:000000000000:stateMachine:Test",
            "original": [5, 6], "greeting": "Hello Bob", "nested": {"count": 2}
        }))
    );
    let (id, start) = {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
            "Parameters": {"id.$": "$$.Execution.Id", "start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}}}});
        let out = run(def, json!({}), &fake).await.output.unwrap();
        (out["id"].clone(), out["start"].clone())
    };
    assert_eq!(
        id,
        json!("arn:aws:states:local:000000000000:execution:Test:test-run")
    );
    assert!(crate::choice::parse_timestamp(start.as_str().unwrap()).is_some());
}

/// The ResultSelector example of the specification / developer guide.
#[tokio::test]
async fn spec_result_selector_example() {
    let fake = Fake::new().handler(ECHO, |_| {
        Ok(json!({
            "resourceType": "elasticmapreduce",
            "resource": "createCluster.sync",
            "output": {"SdkHttpMetadata": {"HttpStatusCode": 200}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}
        }))
    });
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": ECHO, "End": true,
        "ResultSelector": {"ClusterId.$": "$.output.ClusterId", "ResourceType.$": "$.resourceType"},
        "ResultPath": "$.EMROutput"
    }}});
    let r = run(def, json!({"in": 1}), &fake).await;
    assert_eq!(
        r.output,
        Some(
            json!({"in": 1, "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}})
        )
    );
}

/// The Pass state example of the specification (Result + ResultPath).
#[tokio::test]
async fn spec_pass_example() {
    let def = json!({"StartAt": "No-op", "States": {"No-op": {
        "Type": "Pass",
        "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355},
        "ResultPath": "$.coords",
        "End": true
    }}});
    let r = run(def, json!({"georefOf": "Home"}), &Fake::new()).await;
    assert_eq!(
        r.output,
        Some(
            json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
        )
    );
}

#[tokio::test]
async fn missing_path_fails_with_runtime_error_not_caught_by_states_all() {
    let fake = Fake::new().handler(ECHO, Ok);
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ECHO, "InputPath": "$.absent", "End": true,
              "Retry": [{"ErrorEquals": ["States.ALL"]}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handled"}]},
        "Handled": {"Type": "Succeed"}
    }});
    let r = run(def, json!({"present": 1}), &fake).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(
        r.cause.as_deref().unwrap().contains("$.absent"),
        "{:?}",
        r.cause
    );
    assert_eq!(fake.call_count(ECHO), 0);
    assert_eq!(count(&r, HistoryEventKind::CaughtError), 0);

    // A `.$` parameter that matches nothing names both the path and the field.
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true,
        "Parameters": {"value.$": "$.nope"}}}});
    let r = run(def, json!({}), &fake).await;
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(
        r.cause.as_deref().unwrap().contains("'$.nope'")
            && r.cause.as_deref().unwrap().contains("'value.$'")
    );
}

#[tokio::test]
async fn choice_routes_by_rules_and_default() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "InputPath": "$.in", "OutputPath": "$.v",
              "Choices": [
                  {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
                  {"And": [{"Variable": "$.v", "NumericGreaterThanEquals": 20},
                           {"Variable": "$.v", "NumericLessThan": 30}], "Next": "Range"}
              ],
              "Default": "Other"},
        "Public": {"Type": "Pass", "Result": "public", "End": true},
        "Range": {"Type": "Pass", "Parameters": {"v.$": "$"}, "End": true},
        "Other": {"Type": "Fail", "Error": "NoMatch", "Cause": "nothing matched"}
    }});
    let r = run(
        def.clone(),
        json!({"in": {"type": "Public", "v": 1}}),
        &Fake::new(),
    )
    .await;
    assert_eq!(r.output, Some(json!("public")));
    let r = run(
        def.clone(),
        json!({"in": {"type": "Private", "v": 25}}),
        &Fake::new(),
    )
    .await;
    assert_eq!(r.output, Some(json!({"v": 25})));
    let r = run(
        def.clone(),
        json!({"in": {"type": "Private", "v": 35}}),
        &Fake::new(),
    )
    .await;
    assert_eq!(
        (r.error.as_deref(), r.cause.as_deref()),
        (Some("NoMatch"), Some("nothing matched"))
    );

    let mut no_default = def;
    no_default["States"]["C"]
        .as_object_mut()
        .unwrap()
        .remove("Default");
    no_default["States"]
        .as_object_mut()
        .unwrap()
        .remove("Other");
    let r = run(
        no_default,
        json!({"in": {"type": "Private", "v": 35}}),
        &Fake::new(),
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn fail_with_error_path_and_cause_path() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail",
        "ErrorPath": "$.code", "CausePath": "States.Format('bad {}', $.what)"}}});
    let r = run(def, json!({"code": "E42", "what": "thing"}), &Fake::new()).await;
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(
        (r.error.as_deref(), r.cause.as_deref()),
        (Some("E42"), Some("bad thing"))
    );
    let last = r.history.last().unwrap();
    assert_eq!(last.kind, HistoryEventKind::ExecutionFailed);
    assert_eq!(last.detail["error"], json!("E42"));
}

#[tokio::test]
async fn task_timeout_raises_states_timeout() {
    let fake = Fake::new()
        .handler(ECHO, Ok)
        .delay(ECHO, |_| Duration::from_millis(1500));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": ECHO, "TimeoutSeconds": 1, "End": true,
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}
    }});
    let r = run(def, json!({}), &fake).await;
    // States.TaskFailed does not match States.Timeout.
    assert_eq!(r.error.as_deref(), Some("States.Timeout"));
}

#[tokio::test]
async fn wait_and_parallel() {
    let fake = Fake::new().handler(ADD, add).handler(ECHO, Ok);
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "P"},
        "P": {"Type": "Parallel", "ResultPath": "$.branches", "Next": "Done",
              "Branches": [
                  {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ADD, "End": true}}},
                  {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.val1", "End": true}}}
              ]},
        "Done": {"Type": "Succeed", "OutputPath": "$.branches"}
    }});
    let r = run(def, json!({"wait": 0, "val1": 2, "val2": 3}), &fake).await;
    assert_eq!(r.output, Some(json!([5, 2])), "{r:?}");
    assert_eq!(count(&r, HistoryEventKind::WaitStarted), 1);
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(HistoryEventKind, Option<String>)>>);
impl Observer for Recorder {
    fn on_event(&self, event: &HistoryEvent) {
        self.0
            .lock()
            .unwrap()
            .push((event.kind, event.state.clone()));
    }
}

#[tokio::test]
async fn history_and_observer() {
    let recorder = shared(Recorder::default());
    let fake = Fake::new().handler(ECHO, Ok);
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Task", "Resource": ECHO, "End": true}
    }});
    let mut opts = options();
    opts.observer = Some(recorder.clone());
    let r = crate::run_execution(&parse(&def), &fake, json!({"x": 1}), opts).await;
    let kinds: Vec<HistoryEventKind> = r.history.iter().map(|e| e.kind).collect();
    use HistoryEventKind::*;
    assert_eq!(
        kinds,
        vec![
            ExecutionStarted,
            StateEntered,
            StateExited,
            StateEntered,
            TaskScheduled,
            TaskSucceeded,
            StateExited,
            ExecutionSucceeded
        ]
    );
    assert!(
        r.history
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp)
    );
    assert_eq!(r.history[1].state.as_deref(), Some("A"));
    assert_eq!(r.history[1].detail["input"], json!({"x": 1}));
    assert_eq!(recorder.0.lock().unwrap().len(), r.history.len());
    let serialized = serde_json::to_value(&r.history[0]).unwrap();
    assert_eq!(serialized["kind"], json!("ExecutionStarted"));
}

#[tokio::test]
async fn execution_timeout_seconds() {
    let def = json!({"TimeoutSeconds": 1, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "End": true}}});
    let r = run(def, json!({}), &Fake::new()).await;
    assert_eq!(r.error.as_deref(), Some("States.Timeout"));
}

#[test]
fn execution_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let sm = parse(&json!({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}));
    let fake = Fake::new();
    assert_send(crate::run_execution(&sm, &fake, json!({}), options()));
}
