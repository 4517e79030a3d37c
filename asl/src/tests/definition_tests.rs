//! Parsing: refusals naming state and field, substitutions, validation, task resources.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::{AslError, StateMachine};

fn parse(def: &Value) -> Result<StateMachine, AslError> {
    StateMachine::parse(&def.to_string(), &HashMap::new())
}

fn err(def: Value) -> String {
    match parse(&def) {
        Ok(_) => panic!("definition should be refused: {def}"),
        Err(e) => e.to_string(),
    }
}

fn distributed_with_reader(reader_config: Value) -> Value {
    json!({"StartAt": "Process", "States": {"Process": {
        "Type": "Map", "End": true,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}
        },
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": reader_config,
            "Parameters": {"Bucket": "b", "Key": "k"}
        }
    }}})
}

#[test]
fn unsupported_fields_are_refused_by_name() {
    assert_eq!(
        err(distributed_with_reader(
            json!({"InputType": "JSON", "CSVHeaders": ["a"]})
        )),
        "state \"Process\": field \"ItemReader.ReaderConfig.CSVHeaders\" is not supported"
    );
    assert_eq!(
        err(distributed_with_reader(json!({"InputType": "CSV"}))),
        "state \"Process\": field \"ItemReader.ReaderConfig.InputType\": value \"CSV\" is not supported"
    );
    let task = |extra: Value| {
        let mut t = json!({"Type": "Task", "Resource": "arn:fn", "End": true});
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        json!({"StartAt": "T", "States": {"T": t}})
    };
    assert_eq!(
        err(task(json!({"HeartbeatSeconds": 10}))),
        "state \"T\": field \"HeartbeatSeconds\" is not supported"
    );
    assert!(
        err(task(json!({"Credentials": {}}))).contains("field \"Credentials\" is not supported")
    );
    assert!(err(task(json!({"Arguments": {}}))).contains("field \"Arguments\" is not supported"));
    assert!(err(task(json!({"Assign": {}}))).contains("field \"Assign\" is not supported"));
    assert!(
        err(task(
            json!({"Resource": "arn:aws:states:::glue:startJobRun.sync"})
        ))
        .contains("field \"Resource\"")
    );
    assert!(
        err(task(
            json!({"Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"})
        ))
        .contains("\"Resource\"")
    );
    assert!(
        err(task(json!({"QueryLanguage": "JSONata"})))
            .contains("\"QueryLanguage\": value \"JSONata\"")
    );
    assert!(
        err(task(json!({"Retry": [{"ErrorEquals": ["E"], "Foo": 1}]})))
            .contains("\"Retry[0].Foo\" is not supported")
    );
    assert!(err(
        json!({"StartAt": "T", "QueryLanguage": "JSONata", "States": {"T": {"Type": "Succeed"}}})
    )
    .contains("QueryLanguage"));
    assert!(
        err(json!({"StartAt": "T", "States": {"T": {"Type": "Sleep"}}}))
            .contains("\"Type\": value \"Sleep\"")
    );
    let mut writer = distributed_with_reader(json!({"InputType": "JSON"}));
    writer["States"]["Process"]["ResultWriter"] = json!({"WriterConfig": {"OutputType": "JSONL"},
        "Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b"}});
    assert!(err(writer).contains("\"ResultWriter.WriterConfig\" is not supported"));
    let mut items_path = distributed_with_reader(json!({"InputType": "JSON"}));
    items_path["States"]["Process"]["ItemsPath"] = json!("$.items");
    assert!(err(items_path).contains("\"ItemsPath\""));
}

#[test]
fn top_level_fields_are_accepted() {
    let def = json!({"Comment": "c", "Version": "1.0", "TimeoutSeconds": 30, "QueryLanguage": "JSONPath",
        "StartAt": "S", "States": {"S": {"Type": "Succeed", "Comment": "done"}}});
    assert!(parse(&def).is_ok());
}

#[test]
fn substitutions() {
    let text = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${ProcessFn}", "Next": "M"},
        "M": {"Type": "Map", "End": true, "ItemProcessor": {"StartAt": "I", "States": {
            "I": {"Type": "Task", "Resource": "${ItemFn}", "End": true}}}}}}"#;
    let subs = HashMap::from([
        (
            "ProcessFn".to_string(),
            "arn:aws:lambda:local:000000000000:function:process".to_string(),
        ),
        (
            "ItemFn".to_string(),
            "arn:aws:lambda:local:000000000000:function:item".to_string(),
        ),
    ]);
    let sm = StateMachine::parse(text, &subs).unwrap();
    assert_eq!(
        sm.task_resources(),
        vec![
            "arn:aws:lambda:local:000000000000:function:item".to_string(),
            "arn:aws:lambda:local:000000000000:function:process".to_string()
        ]
    );
    let mut partial = subs.clone();
    partial.remove("ItemFn");
    let e = StateMachine::parse(text, &partial).unwrap_err();
    assert_eq!(e, AslError::UndefinedSubstitution("ItemFn".into()));
    assert!(e.to_string().contains("ItemFn"));
}

#[test]
fn structural_validation() {
    let cases = [
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
            "\"Next\"",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}),
            "state \"B\" does not exist",
        ),
        (
            json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}),
            "StartAt",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Next": "A"}}}),
            "End",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
            "not reachable",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "End": true}}}),
            "\"End\" is not supported",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [
            {"Variable": "$.x", "IsNull": true, "Next": "Nope"}]}}}),
            "Choices[0].Next",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["E"], "Next": "A"}]}}}),
            "last",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL", "E"]}]}}}),
            "alone",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "nope"}}}),
            "InputPath",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$$.x"}}}),
            "ResultPath",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
            "Parameters": {"x.$": "States.Bogus()"}}}}),
            "Parameters",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "Label": "L",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Succeed"}}}}}}),
            "Label",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass"}}}}}}),
            "\"I\"",
        ),
    ];
    for (def, needle) in cases {
        let message = err(def.clone());
        assert!(
            message.contains(needle),
            "{def} → {message} (expected {needle})"
        );
    }
}

#[test]
fn invalid_json_and_non_object() {
    assert!(matches!(
        StateMachine::parse("{", &HashMap::new()),
        Err(AslError::Json(_))
    ));
    assert!(StateMachine::parse("[]", &HashMap::new()).is_err());
}
