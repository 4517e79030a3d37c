//! The framework's `mergeDeep` (`helpers/object.ts`), as `publishPartialUpdate*` merges a
//! partial update into the existing entity: a nested object is merged key by key, anything
//! else (a scalar, an array, a set) replaces the existing value.
//!
//! Two corners of the JavaScript are kept on purpose, so that what we publish is what the app
//! itself would have published:
//! * an object merged over a *falsy* existing value (`false`, `0`, `""`, `null`) replaces it;
//! * an object merged over a *truthy* value that is not a plain object (a string, a non-zero
//!   number, `true`, an array, a set, binary) leaves the existing value as it is (`mergeDeep`
//!   returns the non-object target untouched). Use `"attributesMode": "replace"` to change an
//!   attribute's type from a scalar to an object; Verify reports such a row as different.

use crate::value::{AttributeValue, Attributes};

/// `mergeDeep({}, existing, update)` on two attribute maps.
pub fn merge_deep(existing: &Attributes, update: &Attributes) -> Attributes {
    let mut out = existing.clone();
    for (key, value) in update {
        merge_entry(&mut out, key, value);
    }
    out
}

fn merge_entry(target: &mut Attributes, key: &str, value: &AttributeValue) {
    let AttributeValue::M(source) = value else {
        target.insert(key.into(), value.clone());
        return;
    };
    match target.get_mut(key) {
        Some(AttributeValue::M(existing)) => {
            for (k, v) in source {
                merge_entry(existing, k, v);
            }
        }
        Some(existing) if is_truthy(existing) => {}
        _ => {
            let mut fresh = Attributes::new();
            for (k, v) in source {
                merge_entry(&mut fresh, k, v);
            }
            target.insert(key.into(), AttributeValue::M(fresh));
        }
    }
}

/// JavaScript truthiness of an unmarshalled value.
fn is_truthy(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::Null(_) => false,
        AttributeValue::Bool(b) => *b,
        AttributeValue::S(s) => !s.is_empty(),
        AttributeValue::N(n) => n.trim_start_matches('-') != "0",
        _ => true,
    }
}

/// Whether `row` is contained in `stored` as a merge leaves it: every key of a nested object of
/// the row is in the stored object with a contained value; other values are equal. Verify's
/// check of a merged row.
pub fn is_merged_into(row: &AttributeValue, stored: &AttributeValue) -> bool {
    match (row, stored) {
        (AttributeValue::M(r), AttributeValue::M(s)) => r
            .iter()
            .all(|(k, v)| s.get(k).is_some_and(|sv| is_merged_into(v, sv))),
        _ => row == stored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::attributes_from_json_str;

    fn attrs(json: &str) -> Attributes {
        attributes_from_json_str(json).unwrap()
    }

    #[test]
    fn nested_objects_merge_and_arrays_replace() {
        let existing =
            attrs(r#"{"dims":{"w":10,"h":20,"unit":{"len":"cm"}},"tags":["a","b"],"price":1}"#);
        let update = attrs(r#"{"dims":{"w":11,"unit":{"wt":"kg"}},"tags":["c"]}"#);
        assert_eq!(
            merge_deep(&existing, &update),
            attrs(
                r#"{"dims":{"w":11,"h":20,"unit":{"len":"cm","wt":"kg"}},"tags":["c"],"price":1}"#
            )
        );
    }

    #[test]
    fn javascript_corners_are_kept() {
        // Over a falsy value an object replaces it; over a truthy non-object it changes nothing.
        let existing = attrs(r#"{"a":0,"b":"","c":null,"d":"text","e":[1],"f":5}"#);
        let update =
            attrs(r#"{"a":{"x":1},"b":{"x":1},"c":{"x":1},"d":{"x":1},"e":{"x":1},"f":{"x":1}}"#);
        assert_eq!(
            merge_deep(&existing, &update),
            attrs(r#"{"a":{"x":1},"b":{"x":1},"c":{"x":1},"d":"text","e":[1],"f":5}"#)
        );
    }

    #[test]
    fn merge_laws() {
        let a = attrs(r#"{"m":{"x":1,"y":{"z":2}},"s":"v"}"#);
        let b = attrs(r#"{"m":{"y":{"q":3}},"t":true}"#);
        // Idempotent: merging the same update twice is merging it once.
        let once = merge_deep(&a, &b);
        assert_eq!(merge_deep(&once, &b), once);
        // The empty update is the identity, and the update is contained in the result.
        assert_eq!(merge_deep(&a, &Attributes::new()), a);
        for (k, v) in &b {
            assert!(is_merged_into(v, &once[k]), "{k}");
        }
        assert!(!is_merged_into(
            &AttributeValue::N("1".into()),
            &AttributeValue::N("2".into())
        ));
    }
}
