//! Schema evolution of `attributes`: the job's operations, the `_schemaVersion` chain, and
//! validation against the job's JSON Schema.

use crate::error::Error;
use crate::job::Operation;
use crate::value::{self, AttributeValue, Attributes, PlainItem};

/// The attribute that records which schema version a row's attributes follow.
pub const SCHEMA_VERSION_ATTRIBUTE: &str = "_schemaVersion";

/// Applies the operations in order. An operation that cannot apply to this row (splitting a
/// number, lowercasing a map) is an error naming the operation and the attribute.
pub fn apply(operations: &[Operation], attributes: &mut Attributes) -> Result<(), String> {
    for (i, op) in operations.iter().enumerate() {
        let at = |what: String| format!("operation {} ({}): {what}", i + 1, op_name(op));
        match op {
            Operation::Rename { from, to } => {
                if let Some(v) = attributes.remove(from.as_str()) {
                    attributes.insert(to.as_str().into(), v);
                }
            }
            Operation::Default { field, value } => {
                if !attributes.contains_key(field.as_str()) {
                    let text = value.to_string();
                    let v = value::from_json_str(&text)
                        .map_err(|e| at(format!("default value: {e}")))?;
                    attributes.insert(field.as_str().into(), v);
                }
            }
            Operation::Remove { field } => {
                attributes.remove(field.as_str());
            }
            Operation::Split {
                from,
                into,
                separator,
                keep_source,
            } => match attributes.get(from.as_str()) {
                None => {}
                Some(AttributeValue::S(text)) => {
                    let parts: Vec<crate::value::Text> = if separator.is_empty() {
                        return Err(at("separator is empty".into()));
                    } else {
                        text.splitn(into.len().max(1), separator.as_str())
                            .map(Into::into)
                            .collect()
                    };
                    if !keep_source {
                        attributes.remove(from.as_str());
                    }
                    for (name, part) in into.iter().zip(parts) {
                        attributes.insert(name.as_str().into(), AttributeValue::S(part));
                    }
                }
                Some(_) => return Err(at(format!("attribute {from:?} is not a string"))),
            },
            Operation::Lowercase { field } => match attributes.get_mut(field.as_str()) {
                None => {}
                Some(AttributeValue::S(text)) => {
                    // std's lowercasing (the job spec's tenant codes are lowercased by it).
                    *text = text.as_str().to_lowercase().into();
                }
                Some(_) => return Err(at(format!("attribute {field:?} is not a string"))),
            },
        }
    }
    Ok(())
}

fn op_name(op: &Operation) -> &'static str {
    match op {
        Operation::Rename { .. } => "rename",
        Operation::Default { .. } => "default",
        Operation::Remove { .. } => "remove",
        Operation::Split { .. } => "split",
        Operation::Lowercase { .. } => "lowercase",
    }
}

/// The schema version recorded on a row (`_schemaVersion`), if any.
pub fn schema_version_of(attributes: &Attributes) -> Option<u64> {
    match attributes.get(SCHEMA_VERSION_ATTRIBUTE) {
        Some(AttributeValue::N(n)) => n.parse().ok(),
        _ => None,
    }
}

/// Compiles the job's `validation.attributesSchema`.
pub fn compile_schema(schema: &serde_json::Value) -> Result<jsonschema::Validator, Error> {
    jsonschema::validator_for(schema).map_err(|e| {
        Error::invalid(format!(
            "job document: validation.attributesSchema is not a valid JSON Schema: {e}"
        ))
    })
}

/// Checks attributes against the compiled schema; the error lists every violation with its path.
pub fn check_schema(
    validator: &jsonschema::Validator,
    attributes: &Attributes,
) -> Result<(), String> {
    let text = serde_json::to_string(&PlainItem(attributes)).map_err(|e| e.to_string())?;
    // Validation needs serde_json values; numbers beyond f64 lose digits here, which cannot
    // change a schema verdict that matters for migrations (types, required, enums, ranges).
    let instance: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(&instance)
        .map(|e| {
            let path = e.instance_path().to_string();
            if path.is_empty() {
                e.to_string()
            } else {
                format!("{path}: {e}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "attributes do not match attributesSchema: {}",
            errors.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: serde_json::Value) -> Attributes {
        value::attributes_from_json_str(&v.to_string()).unwrap()
    }

    #[test]
    fn operations_apply_in_order() {
        let ops: Vec<Operation> = serde_json::from_value(json!([
            {"op": "rename", "from": "productName", "to": "title"},
            {"op": "default", "field": "currency", "value": "JPY"},
            {"op": "default", "field": "title", "value": "unused"},
            {"op": "remove", "field": "legacy"},
            {"op": "split", "from": "fullName", "into": ["first", "last"]},
            {"op": "lowercase", "field": "email"}
        ]))
        .unwrap();
        let mut a = attrs(
            json!({"productName": "Pen", "legacy": 1, "fullName": "Ada Lovelace King", "email": "A@B.C"}),
        );
        apply(&ops, &mut a).unwrap();
        assert_eq!(
            a,
            attrs(
                json!({"title": "Pen", "currency": "JPY", "first": "Ada", "last": "Lovelace King", "email": "a@b.c"})
            )
        );
    }

    #[test]
    fn operations_name_what_cannot_apply() {
        let ops: Vec<Operation> =
            serde_json::from_value(json!([{"op": "lowercase", "field": "n"}])).unwrap();
        let err = apply(&ops, &mut attrs(json!({"n": 1}))).unwrap_err();
        assert!(
            err.contains("operation 1 (lowercase)") && err.contains("\"n\""),
            "{err}"
        );
    }

    #[test]
    fn schema_violations_are_listed() {
        let v = compile_schema(&json!({"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}})).unwrap();
        assert!(check_schema(&v, &attrs(json!({"price": 1.5}))).is_ok());
        let err = check_schema(&v, &attrs(json!({"price": "x"}))).unwrap_err();
        assert!(err.contains("/price"), "{err}");
        assert!(
            check_schema(&v, &attrs(json!({})))
                .unwrap_err()
                .contains("price")
        );
        assert!(compile_schema(&json!({"type": 12})).is_err());
    }
}
