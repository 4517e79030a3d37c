//! Payload templates (`Parameters`, `ItemSelector`, `ResultSelector`, `BatchInput`, ...):
//! JSON where keys ending in `.$` take their value from a path or an intrinsic function.

use serde_json::{Map, Value};

use crate::error::StatesError;
use crate::intrinsics::Intrinsic;
use crate::path::{Context, Path, abbreviate};

/// A value computed at run time: a path (`$.a`, `$$.Map.Item.Value`) or an intrinsic call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Dynamic {
    Path(Path),
    Intrinsic(Intrinsic),
}

impl Dynamic {
    pub fn parse(text: &str) -> Result<Dynamic, String> {
        if Intrinsic::is_intrinsic(text) {
            Intrinsic::parse(text).map(Dynamic::Intrinsic)
        } else {
            Path::parse(text).map(Dynamic::Path)
        }
    }

    /// Evaluates against `input`; `field` names the field for error messages.
    pub fn eval(&self, field: &str, input: &Value, ctx: &Context) -> Result<Value, StatesError> {
        match self {
            Dynamic::Intrinsic(call) => call.eval(input, ctx),
            Dynamic::Path(path) => path.select(input, ctx).ok_or_else(|| {
                StatesError::runtime(format!(
                    "The JSONPath '{path}' specified for the field '{field}' could not be found in the input '{}'",
                    abbreviate(input)
                ))
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    /// Value of a `key.$` field; holds the original key for error messages.
    Dynamic(String, Dynamic),
}

impl Template {
    pub fn parse(value: &Value) -> Result<Template, String> {
        match value {
            Value::Object(obj) => {
                let mut fields = Vec::with_capacity(obj.len());
                for (key, v) in obj {
                    if let Some(name) = key.strip_suffix(".$") {
                        let text = v.as_str().ok_or_else(|| {
                            format!("\"{key}\" must be a string (a path or an intrinsic function)")
                        })?;
                        let dynamic =
                            Dynamic::parse(text).map_err(|e| format!("\"{key}\": {e}"))?;
                        fields.push((name.to_owned(), Template::Dynamic(key.clone(), dynamic)));
                    } else {
                        fields.push((key.clone(), Template::parse(v)?));
                    }
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => items
                .iter()
                .map(Template::parse)
                .collect::<Result<_, _>>()
                .map(Template::Array),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    pub fn eval(&self, input: &Value, ctx: &Context) -> Result<Value, StatesError> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Array(items) => items
                .iter()
                .map(|t| t.eval(input, ctx))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (name, t) in fields {
                    out.insert(name.clone(), t.eval(input, ctx)?);
                }
                Ok(Value::Object(out))
            }
            Template::Dynamic(key, d) => d.eval(key, input, ctx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::test_context;
    use serde_json::json;

    fn eval(template: Value, input: Value) -> Result<Value, StatesError> {
        Template::parse(&template)
            .unwrap()
            .eval(&input, &test_context())
    }

    /// The Parameters example of the specification.
    #[test]
    fn spec_parameters_example() {
        let template = json!({
            "flagged": true,
            "parts": {
                "first.$": "$.vals[0]",
                "last3.$": "$.vals[-3:]"
            }
        });
        // Slices are not supported: refused when parsing.
        assert!(Template::parse(&template).is_err());
        let template = json!({
            "flagged": true,
            "parts": { "first.$": "$.vals[0]", "third.$": "$.vals[2]" },
            "weekday.$": "$$.State.Name",
            "list": [{"x.$": "$.vals[1]"}, 5]
        });
        let out = eval(
            template,
            json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "flagged": true,
                "parts": { "first": 0, "third": 20 },
                "weekday": "S",
                "list": [{"x": 10}, 5]
            })
        );
    }

    #[test]
    fn intrinsics_and_context_in_templates() {
        let out = eval(
            json!({"msg.$": "States.Format('item {} of {}', $$.Map.Item.Index, $.name)", "v.$": "$$.Map.Item.Value"}),
            json!({"name": "list"}),
        )
        .unwrap();
        assert_eq!(out, json!({"msg": "item 2 of list", "v": "item"}));
    }

    #[test]
    fn missing_path_names_field_and_path() {
        let err = eval(json!({"a.$": "$.missing"}), json!({"b": 1})).unwrap_err();
        assert_eq!(err.error, "States.Runtime");
        assert!(
            err.cause.contains("'$.missing'") && err.cause.contains("'a.$'"),
            "{}",
            err.cause
        );
    }

    #[test]
    fn refuses_non_string_dynamic_values() {
        assert!(Template::parse(&json!({"a.$": 5})).is_err());
        assert!(Template::parse(&json!({"a.$": "no-dollar"})).is_err());
    }
}
