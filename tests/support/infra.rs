//! Checks of `template.yaml` against `infra/statemachine.asl.json` and the workspace. Each returns
//! the problems it finds (empty when all is well), so tests can run it on the real files and on
//! deliberately broken copies.

use std::collections::BTreeSet;

use serde_json::Value as Json;
use serde_yaml_ng::Value as Yaml;

/// `${Name}` placeholders in a definition text.
pub fn substitutions_in(definition: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.insert(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn get<'a>(v: &'a Yaml, key: &str) -> Option<&'a Yaml> {
    v.as_mapping().and_then(|m| m.get(key))
}

/// The template's resources as (logical id, resource).
pub fn resources(template: &Yaml) -> Vec<(String, &Yaml)> {
    get(template, "Resources")
        .and_then(|r| r.as_mapping())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v)))
                .collect()
        })
        .unwrap_or_default()
}

fn of_type<'a>(template: &'a Yaml, kind: &str) -> Vec<(String, &'a Yaml)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| get(r, "Type").and_then(|t| t.as_str()) == Some(kind))
        .collect()
}

/// Every `${Substitution}` of the definition is defined by the state machine's
/// `DefinitionSubstitutions`, and every one defined is used.
pub fn check_substitutions(template: &Yaml, definition: &str) -> Vec<String> {
    let used = substitutions_in(definition);
    let machines = of_type(template, "AWS::Serverless::StateMachine");
    let Some((id, machine)) = machines.first() else {
        return vec!["no AWS::Serverless::StateMachine in the template".into()];
    };
    let properties = get(machine, "Properties");
    let defined: BTreeSet<String> = properties
        .and_then(|p| get(p, "DefinitionSubstitutions"))
        .and_then(|d| d.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut problems = Vec::new();
    if properties
        .and_then(|p| get(p, "DefinitionUri"))
        .and_then(|u| u.as_str())
        != Some("infra/statemachine.asl.json")
    {
        problems.push(format!(
            "{id}: DefinitionUri is not infra/statemachine.asl.json"
        ));
    }
    for name in used.difference(&defined) {
        problems.push(format!(
            "{id}: ${{{name}}} is used in the definition but not in DefinitionSubstitutions"
        ));
    }
    for name in defined.difference(&used) {
        problems.push(format!(
            "{id}: DefinitionSubstitutions.{name} is not used by the definition"
        ));
    }
    problems
}

/// Every `ErrorEquals` name and every Fail state's `Error` is one the functions raise
/// (`shared::ErrorType`) or a `States.*` / `Lambda.*` name.
pub fn check_error_names(definition: &Json) -> Vec<String> {
    let known: Vec<&str> = shared::ErrorType::ALL.iter().map(|e| e.as_str()).collect();
    let ok = |name: &str| {
        known.contains(&name) || name.starts_with("States.") || name.starts_with("Lambda.")
    };
    let mut problems = Vec::new();
    walk_json(definition, &mut |key, value| match (key, value) {
        ("ErrorEquals", Json::Array(names)) => {
            for n in names {
                match n.as_str() {
                    Some(name) if ok(name) => {}
                    _ => problems.push(format!("ErrorEquals names unknown error {n}")),
                }
            }
        }
        ("Error", Json::String(name)) if !ok(name) => {
            problems.push(format!("a Fail state raises unknown error {name:?}"))
        }
        _ => {}
    });
    problems
}

fn walk_json(v: &Json, f: &mut dyn FnMut(&str, &Json)) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                f(k, v);
                walk_json(v, f);
            }
        }
        Json::Array(a) => a.iter().for_each(|v| walk_json(v, f)),
        _ => {}
    }
}

fn walk_yaml(v: &Yaml, path: &str, f: &mut dyn FnMut(&str, &Yaml)) {
    match v {
        Yaml::Mapping(m) => {
            for (k, v) in m {
                let key = k.as_str().unwrap_or("?");
                let here = format!("{path}.{key}");
                f(&here, v);
                walk_yaml(v, &here, f);
            }
        }
        Yaml::Sequence(s) => {
            for (i, v) in s.iter().enumerate() {
                walk_yaml(v, &format!("{path}[{i}]"), f);
            }
        }
        Yaml::Tagged(t) => walk_yaml(&t.value, path, f),
        _ => {}
    }
}

/// No statement that allows anything uses a wildcard action (`*`, `s3:*`, `dynamodb:Get*`) or
/// `NotAction`. A Deny may (the bucket's deny-non-TLS statement must cover every S3 action).
pub fn check_no_wildcard_actions(template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    walk_yaml(template, "", &mut |path, v| {
        if !path.ends_with(".Statement") {
            return;
        }
        let Some(statements) = v.as_sequence() else {
            return;
        };
        for (i, statement) in statements.iter().enumerate() {
            if get(statement, "Effect").and_then(|e| e.as_str()) == Some("Deny") {
                continue;
            }
            if get(statement, "NotAction").is_some() {
                problems.push(format!("{path}[{i}]: NotAction in an Allow"));
            }
            let actions: Vec<&str> = match get(statement, "Action") {
                Some(Yaml::String(a)) => vec![a.as_str()],
                Some(Yaml::Sequence(list)) => list.iter().filter_map(|a| a.as_str()).collect(),
                Some(other) => {
                    problems.push(format!(
                        "{path}[{i}]: Action is not a string or list: {other:?}"
                    ));
                    vec![]
                }
                None => vec![],
            };
            for a in actions {
                if a.contains('*') {
                    problems.push(format!("{path}[{i}]: wildcard action {a:?}"));
                }
            }
        }
    });
    // SAM policy templates and managed policies hide their actions: only inline statements.
    for (id, function) in of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .chain(of_type(template, "AWS::Serverless::StateMachine"))
    {
        if let Some(Yaml::Sequence(policies)) =
            get(function, "Properties").and_then(|p| get(p, "Policies"))
        {
            for p in policies {
                if get(p, "Statement").is_none() {
                    problems.push(format!(
                        "{id}: a policy that is not an inline statement list: {p:?}"
                    ));
                }
            }
        }
    }
    problems
}

/// Every function is built by cargo-lambda from a binary of this workspace, for
/// provided.al2023 on arm64.
pub fn check_functions(template: &Yaml, binaries: &BTreeSet<String>) -> Vec<String> {
    let mut problems = Vec::new();
    let globals = get(template, "Globals").and_then(|g| get(g, "Function"));
    let setting = |f: &Yaml, key: &str| -> Option<Yaml> {
        get(f, "Properties")
            .and_then(|p| get(p, key))
            .or_else(|| globals.and_then(|g| get(g, key)))
            .cloned()
    };
    let functions = of_type(template, "AWS::Serverless::Function");
    if functions.is_empty() {
        problems.push("no functions".into());
    }
    for (id, f) in functions {
        let metadata = get(f, "Metadata");
        if metadata
            .and_then(|m| get(m, "BuildMethod"))
            .and_then(|b| b.as_str())
            != Some("rust-cargolambda")
        {
            problems.push(format!("{id}: BuildMethod is not rust-cargolambda"));
        }
        match metadata
            .and_then(|m| get(m, "BuildProperties"))
            .and_then(|b| get(b, "Binary"))
            .and_then(|b| b.as_str())
        {
            Some(b) if binaries.contains(b) => {}
            other => problems.push(format!(
                "{id}: Binary {other:?} is not a binary of functions/* ({binaries:?})"
            )),
        }
        if setting(f, "Runtime")
            .and_then(|r| r.as_str().map(str::to_string))
            .as_deref()
            != Some("provided.al2023")
        {
            problems.push(format!("{id}: Runtime is not provided.al2023"));
        }
        let arm64 = matches!(setting(f, "Architectures"), Some(Yaml::Sequence(a)) if a.iter().any(|x| x.as_str() == Some("arm64")));
        if !arm64 {
            problems.push(format!("{id}: Architectures is not [arm64]"));
        }
    }
    problems
}

/// The package names of `functions/*` (each builds one binary of that name).
pub fn function_binaries(workspace: &std::path::Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(dirs) = std::fs::read_dir(workspace.join("functions")) else {
        return out;
    };
    for dir in dirs.flatten() {
        let Ok(text) = std::fs::read_to_string(dir.path().join("Cargo.toml")) else {
            continue;
        };
        if let Some(name) = text.lines().find_map(|l| l.trim().strip_prefix("name = ")) {
            out.insert(name.trim_matches('"').to_string());
        }
    }
    out
}
