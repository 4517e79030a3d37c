//! Attributes larger than the app's `ATTRIBUTE_LIMIT_SIZE` live in S3 (DESIGN §3), exactly as
//! the framework's `DynamoDbService.objToDdbItem` keeps them: when `JSON.stringify(attributes)`
//! is longer than the limit (default 389,120 bytes), the attributes are put as a JSON object at
//! `ddb/{table}/{pk}/{sk}/{ulid}.json` in the app's bucket and the item holds
//! `"s3://{bucket}/ddb/{table}/{pk}/{sk}/{ulid}.json"` instead. Each table's item gets its own
//! object (the command row's `sk` carries its `@version`), as each framework `putItem` does.
//!
//! Reading resolves a pointer back into the attributes; a pointer that cannot be read (missing
//! object, not a JSON object) is that row's own failure, never the chunk's.

use crate::error::Error;
use crate::model::EntityRow;
use crate::ports::ObjectStore;
use crate::ports::objects::get_bytes;
use crate::ports::table::Put;
use crate::value::{AttributeValue, Attributes, PlainJson, attributes_from_json_str, get_s, s};

/// The framework's default `ATTRIBUTE_LIMIT_SIZE` (bytes of the attributes' JSON).
pub const DEFAULT_ATTRIBUTE_LIMIT_SIZE: usize = 389_120;

const S3_PREFIX: &str = "s3://";

/// Where and from what size attributes are offloaded (the app's `S3_BUCKET_NAME` and
/// `ATTRIBUTE_LIMIT_SIZE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeAttributes {
    pub bucket: String,
    pub limit: usize,
}

/// `isS3AttributeKey`: a string value starting with `s3://`.
pub fn is_pointer(value: &str) -> bool {
    value.starts_with(S3_PREFIX)
}

/// `parseS3AttributeKey`: bucket and key of a pointer (the key is everything after the bucket).
pub fn parse_pointer(pointer: &str) -> Option<(&str, &str)> {
    let rest = pointer.strip_prefix(S3_PREFIX)?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// The object key the framework gives an item's attributes.
pub fn object_key(table: &str, pk: &str, sk: &str, id: &str) -> String {
    format!("ddb/{table}/{pk}/{sk}/{id}.json")
}

/// Reads the attributes a pointer names; the error says why, without attribute values.
pub async fn read_pointer(objects: &dyn ObjectStore, pointer: &str) -> Result<Attributes, String> {
    let (bucket, key) = parse_pointer(pointer)
        .ok_or_else(|| format!("attributes pointer {pointer:?} is malformed"))?;
    let bytes = get_bytes(objects, bucket, key)
        .await
        .map_err(|e| format!("attributes pointer {pointer:?} cannot be read: {e}"))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| format!("attributes object {pointer:?} is not UTF-8"))?;
    attributes_from_json_str(text)
        .map_err(|e| format!("attributes object {pointer:?} is not a JSON object: {e}"))
}

/// Resolves the row's `s3://` attributes in place. `Err` is the row's own failure (why).
pub async fn resolve(row: &mut EntityRow, objects: &dyn ObjectStore) -> Result<(), String> {
    if let Some(pointer) = row.attributes_pointer.take() {
        row.attributes = read_pointer(objects, &pointer).await?;
    }
    Ok(())
}

impl LargeAttributes {
    /// Moves the attributes of a put's item to S3 when their JSON exceeds the limit, as the
    /// framework does before every put. Items already holding a pointer are left alone.
    pub async fn offload(&self, put: &mut Put, objects: &dyn ObjectStore) -> Result<(), Error> {
        let Some(value @ AttributeValue::M(_)) = put.item.get("attributes") else {
            return Ok(());
        };
        // Nearly every item's attributes are far below the limit: an upper bound of their JSON
        // length says so without writing it (each put of a row was written out here once more).
        if json_len_bound(value) <= self.limit {
            return Ok(());
        }
        // `JSON.stringify(attributes)`, measured without copying the map.
        let json = serde_json::to_string(&PlainJson(value))
            .map_err(|e| Error::MigrationFailed(format!("attributes as JSON: {e}")))?;
        if json.len() <= self.limit {
            return Ok(());
        }
        let pk = get_s(&put.item, "pk").unwrap_or_default();
        let sk = get_s(&put.item, "sk").unwrap_or_default();
        let key = object_key(&put.table, pk, sk, &ulid::Ulid::new().to_string());
        objects
            .put_object(&self.bucket, &key, json.into_bytes())
            .await?;
        put.item.insert(
            "attributes".into(),
            s(format!("{S3_PREFIX}{}/{key}", self.bucket)),
        );
        Ok(())
    }
}

/// An upper bound of the length of a value's plain JSON ([`PlainJson`]): every string byte
/// counted as an escape (`\u00XX`, 6 bytes), every binary byte as an array element (`255,`),
/// a number as a string of escapes (what [`PlainJson`] writes when the text is not a JSON
/// number), plus quotes, separators and brackets.
fn json_len_bound(value: &AttributeValue) -> usize {
    let text = |s: &str| 2 + 6 * s.len();
    let bytes = |b: &[u8]| 2 + 4 * b.len();
    let list = |items: usize, sum: usize| 2 + items + sum;
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => text(s),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 5,
        AttributeValue::B(b) => bytes(b),
        AttributeValue::Ss(v) | AttributeValue::Ns(v) => {
            list(v.len(), v.iter().map(|s| text(s)).sum())
        }
        AttributeValue::Bs(v) => list(v.len(), v.iter().map(|b| bytes(b)).sum()),
        AttributeValue::L(v) => list(v.len(), v.iter().map(json_len_bound).sum()),
        AttributeValue::M(m) => list(
            m.len(),
            m.iter().map(|(k, v)| text(k) + 1 + json_len_bound(v)).sum(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            any::<String>().prop_map(|s| AttributeValue::S(s.into())),
            "-?[0-9]{1,20}(\\.[0-9]{1,10})?".prop_map(|n| AttributeValue::N(n.into())),
            "[0-9a-z.e+-]{1,8}".prop_map(|n| AttributeValue::N(n.into())),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null(true)),
            proptest::collection::vec(any::<u8>(), 0..8).prop_map(AttributeValue::B),
            proptest::collection::vec(any::<String>(), 0..4)
                .prop_map(|v| AttributeValue::Ss(v.into_iter().map(Into::into).collect())),
            proptest::collection::vec("[0-9]{1,5}", 0..4)
                .prop_map(|v| AttributeValue::Ns(v.into_iter().map(Into::into).collect())),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..4), 0..3)
                .prop_map(AttributeValue::Bs),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(AttributeValue::L),
                proptest::collection::btree_map(any::<String>(), inner, 0..6).prop_map(|m| {
                    AttributeValue::M(m.into_iter().map(|(k, v)| (k.into(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        /// The bound that lets `offload` skip writing the JSON is never below its length.
        #[test]
        fn the_json_length_bound_is_never_below_the_length(value in any_value()) {
            let json = serde_json::to_string(&PlainJson(&value)).unwrap();
            prop_assert!(json_len_bound(&value) >= json.len(), "{} < {}", json_len_bound(&value), json.len());
        }
    }

    #[test]
    fn control_characters_and_bytes_are_within_the_bound() {
        // The worst cases: every character escaped as `\u00XX`, every byte written as `255,`.
        let value = AttributeValue::M(
            [
                (
                    "\u{1}".repeat(10).into(),
                    AttributeValue::S("\u{1f}".repeat(50).into()),
                ),
                ("b".into(), AttributeValue::B(vec![255; 40])),
                (
                    "l".into(),
                    AttributeValue::L(vec![AttributeValue::B(vec![200; 3]); 5]),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let json = serde_json::to_string(&PlainJson(&value)).unwrap();
        assert!(json_len_bound(&value) >= json.len());
        // Not so loose that an item near the limit is never measured: within 6× here.
        assert!(json_len_bound(&value) <= 6 * json.len());
    }

    #[test]
    fn pointers_parse_like_the_framework() {
        assert!(is_pointer("s3://b/k"));
        assert!(!is_pointer("S3://b/k"));
        assert_eq!(
            parse_pointer("s3://app/ddb/t/PRODUCT#x/P1@2/01J.json"),
            Some(("app", "ddb/t/PRODUCT#x/P1@2/01J.json"))
        );
        assert_eq!(parse_pointer("s3://nokey"), None);
        assert_eq!(
            object_key("data", "PRODUCT#t", "P1", "01ABC"),
            "ddb/data/PRODUCT#t/P1/01ABC.json"
        );
    }
}
