//! JSONPath subset used by the States Language (reference paths plus `[*]`/`.*` wildcards)
//! and the context object (`$$`).

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::error::StatesError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Root {
    /// `$`: the state's input (or whatever document the path is applied to).
    Input,
    /// `$$`: the context object.
    Context,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Field(String),
    Index(usize),
    Wildcard,
}

/// A parsed path such as `$.a.b`, `$['a b'][0]`, `$.items[*].id` or `$$.Execution.Id`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Path {
    text: String,
    root: Root,
    segments: Vec<Segment>,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Path {
    pub fn parse(text: &str) -> Result<Path, String> {
        let (root, rest) = if let Some(rest) = text.strip_prefix("$$") {
            (Root::Context, rest)
        } else if let Some(rest) = text.strip_prefix('$') {
            (Root::Input, rest)
        } else {
            return Err(format!("path \"{text}\" must start with '$'"));
        };
        let segments = parse_segments(rest).map_err(|e| format!("invalid path \"{text}\": {e}"))?;
        Ok(Path {
            text: text.to_owned(),
            root,
            segments,
        })
    }

    /// A reference path: no wildcards (selects exactly one node).
    pub fn parse_reference(text: &str) -> Result<Path, String> {
        let path = Path::parse(text)?;
        if path.segments.contains(&Segment::Wildcard) {
            return Err(format!(
                "path \"{text}\" must be a reference path (no wildcards)"
            ));
        }
        Ok(path)
    }

    pub fn root(&self) -> Root {
        self.root
    }

    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn has_wildcard(&self) -> bool {
        self.segments.contains(&Segment::Wildcard)
    }

    /// The selected value, or `None` when the path matches nothing.
    /// Paths with wildcards return an array of all matches.
    pub fn select(&self, input: &Value, ctx: &Context) -> Option<Value> {
        match self.root {
            Root::Input => self.select_in(input),
            Root::Context => self.select_in(&ctx.to_value()),
        }
    }

    /// Like [`Path::select`] but a missing match is a `States.Runtime` error naming the path.
    pub fn select_required(&self, input: &Value, ctx: &Context) -> Result<Value, StatesError> {
        self.select(input, ctx).ok_or_else(|| {
            StatesError::runtime(format!(
                "Invalid path '{}': The path could not be found in the input '{}'",
                self.text,
                abbreviate(input)
            ))
        })
    }

    fn select_in(&self, doc: &Value) -> Option<Value> {
        if !self.has_wildcard() {
            let mut current = doc;
            for seg in &self.segments {
                current = match seg {
                    Segment::Field(name) => current.as_object()?.get(name)?,
                    Segment::Index(i) => current.as_array()?.get(*i)?,
                    Segment::Wildcard => return None,
                };
            }
            return Some(current.clone());
        }
        let mut nodes = vec![doc];
        for seg in &self.segments {
            let mut next = Vec::new();
            for node in nodes {
                match seg {
                    Segment::Field(name) => next.extend(node.as_object().and_then(|o| o.get(name))),
                    Segment::Index(i) => next.extend(node.as_array().and_then(|a| a.get(*i))),
                    Segment::Wildcard => match node {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                }
            }
            nodes = next;
        }
        Some(Value::Array(nodes.into_iter().cloned().collect()))
    }

    /// ResultPath semantics: put `value` into `doc` at this (reference) path, creating
    /// intermediate objects. `$` replaces the whole document.
    pub fn set(&self, doc: Value, value: Value) -> Result<Value, StatesError> {
        let Some((last, parents)) = self.segments.split_last() else {
            return Ok(value);
        };
        let mut doc = doc;
        let mut current = &mut doc;
        for seg in parents {
            current = match seg {
                Segment::Field(name) => match current {
                    Value::Object(obj) => obj
                        .entry(name.clone())
                        .or_insert_with(|| Value::Object(Map::new())),
                    _ => return Err(self.set_error()),
                },
                Segment::Index(i) => match current {
                    Value::Array(arr) => arr.get_mut(*i).ok_or_else(|| self.set_error())?,
                    _ => return Err(self.set_error()),
                },
                Segment::Wildcard => return Err(self.set_error()),
            };
        }
        match (last, current) {
            (Segment::Field(name), Value::Object(obj)) => {
                obj.insert(name.clone(), value);
            }
            (Segment::Index(i), Value::Array(arr)) if *i < arr.len() => arr[*i] = value,
            _ => return Err(self.set_error()),
        }
        Ok(doc)
    }

    fn set_error(&self) -> StatesError {
        StatesError::runtime(format!(
            "Invalid path '{}': The ResultPath could not be applied to the state input",
            self.text
        ))
    }
}

fn parse_segments(mut rest: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            if let Some(after_star) = after.strip_prefix('*') {
                segments.push(Segment::Wildcard);
                rest = after_star;
                continue;
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return Err("empty field name".into());
            }
            if after[..end].contains(']') {
                return Err(format!("unexpected ']' in \"{}\"", &after[..end]));
            }
            segments.push(Segment::Field(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let (seg, remaining) = parse_bracket(after)?;
            segments.push(seg);
            rest = remaining;
        } else {
            return Err(format!("unexpected text \"{rest}\""));
        }
    }
    Ok(segments)
}

/// Parses what follows a `[`: `'name']`, `"name"]`, `0]` or `*]`.
fn parse_bracket(after: &str) -> Result<(Segment, &str), String> {
    if let Some(q) = after.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let body = &after[1..];
        let mut name = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            if c == '\\' {
                if let Some((_, escaped)) = chars.next() {
                    name.push(escaped);
                }
            } else if c == q {
                let remaining = body[i + 1..]
                    .strip_prefix(']')
                    .ok_or_else(|| "expected ']' after quoted name".to_string())?;
                return Ok((Segment::Field(name), remaining));
            } else {
                name.push(c);
            }
        }
        return Err("unterminated quoted name".into());
    }
    let close = after.find(']').ok_or_else(|| "missing ']'".to_string())?;
    let inner = after[..close].trim();
    let seg = if inner == "*" {
        Segment::Wildcard
    } else {
        Segment::Index(
            inner
                .parse::<usize>()
                .map_err(|_| format!("unsupported subscript \"[{inner}]\""))?,
        )
    };
    Ok((seg, &after[close + 1..]))
}

/// A short rendering of a document for error messages.
pub(crate) fn abbreviate(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 256 {
        let short: String = text.chars().take(256).collect();
        format!("{short}...")
    } else {
        text
    }
}

/// Execution-wide part of the context object.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionContext {
    pub id: String,
    pub name: String,
    pub input: Value,
    pub start_time: String,
    pub state_machine_id: String,
    pub state_machine_name: String,
}

/// The context object (`$$`) of one state.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub execution: Arc<ExecutionContext>,
    pub state_name: String,
    pub entered_time: String,
    pub retry_count: u32,
    /// `Map.Item.Index` and `Map.Item.Value`.
    pub map_item: Option<(usize, Value)>,
}

impl Context {
    pub fn to_value(&self) -> Value {
        let e = &self.execution;
        let mut ctx = json!({
            "Execution": {
                "Id": e.id,
                "Name": e.name,
                "Input": e.input,
                "StartTime": e.start_time,
                "RoleArn": "arn:aws:iam::000000000000:role/local",
            },
            "State": {
                "Name": self.state_name,
                "EnteredTime": self.entered_time,
                "RetryCount": self.retry_count,
            },
            "StateMachine": { "Id": e.state_machine_id, "Name": e.state_machine_name },
        });
        if let (Some((index, value)), Value::Object(obj)) = (&self.map_item, &mut ctx) {
            obj.insert(
                "Map".into(),
                json!({ "Item": { "Index": index, "Value": value } }),
            );
        }
        ctx
    }
}

/// The current time in the format AWS uses in the context object.
pub(crate) fn now_timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
pub(crate) fn test_context() -> Context {
    Context {
        execution: Arc::new(ExecutionContext {
            id: "arn:aws:states:local:000000000000:execution:sm:run-1".into(),
            name: "run-1".into(),
            input: json!({"original": true}),
            start_time: "2024-01-01T00:00:00.000Z".into(),
            state_machine_id: "arn:aws:states:local:000000000000:stateMachine:sm".into(),
            state_machine_name: "sm".into(),
        }),
        state_name: "S".into(),
        entered_time: "2024-01-01T00:00:01.000Z".into(),
        retry_count: 0,
        map_item: Some((2, json!("item"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(path: &str, input: &Value) -> Option<Value> {
        Path::parse(path).unwrap().select(input, &test_context())
    }

    #[test]
    fn selects_fields_indexes_and_brackets() {
        let input = json!({"a": {"b": [10, {"c d": 5}]}, "x": null});
        assert_eq!(sel("$", &input), Some(input.clone()));
        assert_eq!(sel("$.a.b[0]", &input), Some(json!(10)));
        assert_eq!(sel("$['a']['b'][1]['c d']", &input), Some(json!(5)));
        assert_eq!(sel("$.a[\"b\"][1]", &input), Some(json!({"c d": 5})));
        assert_eq!(sel("$.x", &input), Some(Value::Null));
        assert_eq!(sel("$.missing", &input), None);
        assert_eq!(sel("$.a.b[5]", &input), None);
        assert_eq!(sel("$.a.b.c", &input), None);
    }

    #[test]
    fn wildcards_collect_matches() {
        let input = json!({"items": [{"id": 1}, {"id": 2}, {"other": 3}]});
        assert_eq!(sel("$.items[*].id", &input), Some(json!([1, 2])));
        assert_eq!(sel("$.items.*.other", &input), Some(json!([3])));
        assert!(Path::parse_reference("$.items[*]").is_err());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in ["a.b", "$.", "$..a", "$[x]", "$['a'", "$.a]"] {
            assert!(Path::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn context_object_paths() {
        let input = json!({});
        assert_eq!(sel("$$.Execution.Name", &input), Some(json!("run-1")));
        assert_eq!(
            sel("$$.Execution.Input.original", &input),
            Some(json!(true))
        );
        assert_eq!(sel("$$.State.Name", &input), Some(json!("S")));
        assert_eq!(sel("$$.Map.Item.Index", &input), Some(json!(2)));
        assert_eq!(sel("$$.Map.Item.Value", &input), Some(json!("item")));
        assert_eq!(
            sel("$$.StateMachine.Id", &input),
            Some(json!("arn:aws:states:local:000000000000:stateMachine:sm"))
        );
    }

    #[test]
    fn missing_path_is_runtime_error_naming_path() {
        let err = Path::parse("$.nope")
            .unwrap()
            .select_required(&json!({"a": 1}), &test_context())
            .unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(err.cause.contains("$.nope"), "{}", err.cause);
    }

    #[test]
    fn set_merges_and_creates_intermediate_objects() {
        let p = Path::parse("$.x.y").unwrap();
        assert_eq!(
            p.set(json!({"a": 1}), json!(2)).unwrap(),
            json!({"a": 1, "x": {"y": 2}})
        );
        assert_eq!(
            p.set(json!({"x": {"z": 0}}), json!(2)).unwrap(),
            json!({"x": {"z": 0, "y": 2}})
        );
        assert_eq!(
            Path::parse("$")
                .unwrap()
                .set(json!({"a": 1}), json!(7))
                .unwrap(),
            json!(7)
        );
        assert_eq!(
            Path::parse("$.l[1]")
                .unwrap()
                .set(json!({"l": [0, 0]}), json!(9))
                .unwrap(),
            json!({"l": [0, 9]})
        );
        let err = p.set(json!("scalar"), json!(1)).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
    }
}
