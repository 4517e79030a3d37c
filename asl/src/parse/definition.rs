//! Parsing and validation of a state machine definition.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use crate::ast::{Graph, Kind, State, StateMachine, WaitFor};
use crate::choice::{Choice, parse_timestamp};
use crate::error::AslError;
use crate::parse::fields::{Fields, Transition};
use crate::parse::map::parse_map;
use crate::parse::substitution::substitute;
use crate::path::Path;
use crate::payload::{Dynamic, Template};
use crate::retry::{parse_catch, parse_result_path, parse_retry};

const TOP_LEVEL: &[&str] = &[
    "Comment",
    "StartAt",
    "States",
    "TimeoutSeconds",
    "Version",
    "QueryLanguage",
];
const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const NEXT: &[&str] = &["Next", "End"];
const RESULT: &[&str] = &[
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Retry",
    "Catch",
];

fn allowed_fields(kind: &str) -> Option<Vec<&'static str>> {
    let specific: &[&[&str]] = match kind {
        "Pass" => &[IO, NEXT, &["Parameters", "Result", "ResultPath"]],
        "Task" => &[IO, NEXT, RESULT, &["Resource", "TimeoutSeconds"]],
        "Choice" => &[IO, &["Choices", "Default"]],
        "Wait" => &[
            IO,
            NEXT,
            &["Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
        ],
        "Succeed" => &[IO],
        "Fail" => &[&["Error", "Cause", "ErrorPath", "CausePath"]],
        "Parallel" => &[IO, NEXT, RESULT, &["Branches"]],
        "Map" => &[IO, NEXT, RESULT, crate::parse::map::MAP_FIELDS],
        _ => return None,
    };
    Some(
        COMMON
            .iter()
            .chain(specific.iter().flat_map(|s| s.iter()))
            .copied()
            .collect(),
    )
}

pub(crate) fn check_query_language(fields: &Fields<'_>) -> Result<(), AslError> {
    match fields.get("QueryLanguage") {
        None => Ok(()),
        Some(Value::String(s)) if s == "JSONPath" => Ok(()),
        Some(other) => Err(fields.unsupported_value("QueryLanguage", other)),
    }
}

impl StateMachine {
    /// Parses a definition after replacing every `${Name}` from `substitutions`.
    pub fn parse(
        definition: &str,
        substitutions: &HashMap<String, String>,
    ) -> Result<StateMachine, AslError> {
        let text = substitute(definition, substitutions)?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| AslError::Json(e.to_string()))?;
        let top = Fields::new(&value, None, "", TOP_LEVEL)?;
        check_query_language(&top)?;
        if let Some(v) = top.str("Version")?.filter(|v| *v != "1.0") {
            return Err(top.unsupported_value("Version", &Value::String(v.to_owned())));
        }
        let timeout_seconds = top.u64("TimeoutSeconds")?;
        let graph = parse_graph(&top)?;
        Ok(StateMachine {
            graph,
            timeout_seconds,
        })
    }

    /// Every Task resource used anywhere (including Map ItemProcessors and Parallel branches), sorted.
    pub fn task_resources(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        collect_resources(&self.graph, &mut out);
        out.into_iter().collect()
    }
}

fn collect_resources(graph: &Graph, out: &mut BTreeSet<String>) {
    for state in graph.states.values() {
        match &state.kind {
            Kind::Task { resource, .. } => {
                out.insert(resource.clone());
            }
            Kind::Map(map) => collect_resources(&map.processor, out),
            Kind::Parallel { branches } => branches.iter().for_each(|b| collect_resources(b, out)),
            _ => {}
        }
    }
}

/// Parses `StartAt` + `States` of `fields` and validates transitions and reachability.
pub(crate) fn parse_graph(fields: &Fields<'_>) -> Result<Graph, AslError> {
    let start_at = fields.required_str("StartAt")?.to_owned();
    let states_value = fields
        .required("States")?
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| fields.invalid("States", "must be a non-empty object"))?;
    let mut states = HashMap::new();
    for (name, value) in states_value {
        states.insert(name.clone(), parse_state(name, value)?);
    }
    let graph = Graph { start_at, states };
    validate_graph(&graph, fields)?;
    Ok(graph)
}

fn parse_state(name: &str, value: &Value) -> Result<State, AslError> {
    let state = Some(name);
    let type_name =
        value
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| AslError::InvalidField {
                state: Some(name.to_owned()),
                field: "Type".into(),
                message: "is required".into(),
            })?;
    let allowed = allowed_fields(type_name).ok_or_else(|| AslError::UnsupportedValue {
        state: Some(name.to_owned()),
        field: "Type".into(),
        value: Value::String(type_name.to_owned()).to_string(),
    })?;
    let f = Fields::new(value, state, "", &allowed)?;
    check_query_language(&f)?;

    let io_path = |key: &str| -> Result<Option<Path>, AslError> {
        match f.get(key) {
            None => Path::parse("$").map(Some).map_err(|e| f.invalid(key, e)),
            Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Path::parse_reference(s)
                .map(Some)
                .map_err(|e| f.invalid(key, e)),
            Some(_) => Err(f.invalid(key, "must be a path or null")),
        }
    };
    let template = |key: &str| -> Result<Option<Template>, AslError> {
        f.get(key)
            .map(|v| Template::parse(v).map_err(|e| f.invalid(key, e)))
            .transpose()
    };
    let result_path = match f.get("ResultPath") {
        None => Some(parse_result_path("$").map_err(|e| f.invalid("ResultPath", e))?),
        Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(parse_result_path(s).map_err(|e| f.invalid("ResultPath", e))?)
        }
        Some(_) => return Err(f.invalid("ResultPath", "must be a path or null")),
    };
    let transition = if allowed.contains(&"Next") {
        Some(f.transition()?)
    } else {
        None
    };

    let kind = match type_name {
        "Pass" => Kind::Pass {
            result: f.get("Result").cloned(),
        },
        "Task" => {
            let resource = f.required_str("Resource")?;
            if [".sync", ".waitForTaskToken"]
                .iter()
                .any(|s| resource.contains(s))
            {
                return Err(f.unsupported_value("Resource", &Value::String(resource.to_owned())));
            }
            let timeout_seconds = f.u64("TimeoutSeconds")?;
            if timeout_seconds == Some(0) {
                return Err(f.invalid("TimeoutSeconds", "must be a positive integer"));
            }
            Kind::Task {
                resource: resource.to_owned(),
                timeout_seconds,
            }
        }
        "Choice" => {
            let list = f
                .required("Choices")?
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| f.invalid("Choices", "must be a non-empty array"))?;
            let choices = list
                .iter()
                .enumerate()
                .map(|(i, c)| Choice::parse(c, state, &format!("Choices[{i}].")))
                .collect::<Result<_, _>>()?;
            Kind::Choice {
                choices,
                default: f.str("Default")?.map(str::to_owned),
            }
        }
        "Wait" => Kind::Wait(parse_wait(&f)?),
        "Succeed" => Kind::Succeed,
        "Fail" => parse_fail(&f)?,
        "Parallel" => {
            let list = f
                .required("Branches")?
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| f.invalid("Branches", "must be a non-empty array"))?;
            let branches = list
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    let bf = Fields::new(
                        b,
                        state,
                        &format!("Branches[{i}]."),
                        &["StartAt", "States", "Comment"],
                    )?;
                    parse_graph(&bf)
                })
                .collect::<Result<_, _>>()?;
            Kind::Parallel { branches }
        }
        "Map" => Kind::Map(Box::new(parse_map(&f)?)),
        _ => return Err(f.unsupported_value("Type", &Value::String(type_name.to_owned()))),
    };

    let parameters = if matches!(kind, Kind::Map(_)) {
        None
    } else {
        template("Parameters")?
    };
    Ok(State {
        name: name.to_owned(),
        input_path: if type_name == "Fail" {
            None
        } else {
            io_path("InputPath")?
        },
        output_path: if type_name == "Fail" {
            None
        } else {
            io_path("OutputPath")?
        },
        result_path,
        parameters,
        result_selector: template("ResultSelector")?,
        retry: parse_retry(&f)?,
        catch: parse_catch(&f)?,
        transition,
        kind,
    })
}

fn parse_wait(f: &Fields<'_>) -> Result<WaitFor, AslError> {
    let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
        .into_iter()
        .filter(|k| f.has(k))
        .collect();
    if present.len() != 1 {
        return Err(f.invalid(
            "Seconds",
            "exactly one of Seconds, Timestamp, SecondsPath, TimestampPath is required",
        ));
    }
    let key = present[0];
    let path = || -> Result<Path, AslError> {
        Path::parse_reference(f.required_str(key)?).map_err(|e| f.invalid(key, e))
    };
    Ok(match key {
        "Seconds" => WaitFor::Seconds(f.u64(key)?.unwrap_or(0)),
        "Timestamp" => {
            let ts = f.required_str(key)?;
            if parse_timestamp(ts).is_none() {
                return Err(f.invalid(key, "must be an RFC3339 timestamp"));
            }
            WaitFor::Timestamp(ts.to_owned())
        }
        "SecondsPath" => WaitFor::SecondsPath(path()?),
        _ => WaitFor::TimestampPath(path()?),
    })
}

fn parse_fail(f: &Fields<'_>) -> Result<Kind, AslError> {
    let pair = |lit: &str, dynamic: &str| -> Result<(Option<String>, Option<Dynamic>), AslError> {
        if f.has(lit) && f.has(dynamic) {
            return Err(f.invalid(dynamic, format!("cannot be combined with \"{lit}\"")));
        }
        let d = f
            .str(dynamic)?
            .map(|s| Dynamic::parse(s).map_err(|e| f.invalid(dynamic, e)))
            .transpose()?;
        Ok((f.str(lit)?.map(str::to_owned), d))
    };
    let (error_literal, error) = pair("Error", "ErrorPath")?;
    let (cause_literal, cause) = pair("Cause", "CausePath")?;
    Ok(Kind::Fail {
        error,
        cause,
        error_literal,
        cause_literal,
    })
}

fn successors(state: &State) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = Vec::new();
    if let Some(Transition::Next(n)) = &state.transition {
        out.push((n, "Next".into()));
    }
    for (i, c) in state.catch.iter().enumerate() {
        out.push((&c.next, format!("Catch[{i}].Next")));
    }
    if let Kind::Choice { choices, default } = &state.kind {
        for (i, c) in choices.iter().enumerate() {
            out.push((&c.next, format!("Choices[{i}].Next")));
        }
        if let Some(d) = default {
            out.push((d, "Default".into()));
        }
    }
    out
}

fn validate_graph(graph: &Graph, fields: &Fields<'_>) -> Result<(), AslError> {
    if !graph.states.contains_key(&graph.start_at) {
        return Err(fields.invalid(
            "StartAt",
            format!("state \"{}\" does not exist", graph.start_at),
        ));
    }
    // Deterministic error reporting: look at states in name order.
    let mut names: Vec<&String> = graph.states.keys().collect();
    names.sort();
    for name in &names {
        let state = &graph.states[*name];
        for (target, field) in successors(state) {
            if !graph.states.contains_key(target) {
                return Err(AslError::InvalidField {
                    state: Some(state.name.clone()),
                    field,
                    message: format!("state \"{target}\" does not exist"),
                });
            }
        }
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![graph.start_at.as_str()];
    while let Some(name) = stack.pop() {
        if !seen.insert(name) {
            continue;
        }
        if let Some(state) = graph.states.get(name) {
            stack.extend(successors(state).into_iter().map(|(t, _)| t));
        }
    }
    if let Some(unreachable) = names.iter().find(|n| !seen.contains(n.as_str())) {
        return Err(AslError::Invalid {
            state: Some((*unreachable).clone()),
            message: "is not reachable from StartAt".into(),
        });
    }
    Ok(())
}
