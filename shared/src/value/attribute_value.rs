//! One attribute's value, in DynamoDB's model: [`AttributeValue`].
//!
//! It is `serde_dynamo::AttributeValue` (whose serde form it keeps) with one difference: a map
//! (`M`) is a [`BTreeMap`], the same type as an entity's [`super::Attributes`], instead of a
//! `HashMap` with std's SipHash. Every map of ours is small, is built once (read from JSON or
//! from a store), read by name a few times and written out in name order: as a hash map it
//! hashed every name on the way in, was sorted again on every way out (DynamoDB
//! JSON, plain JSON), was copied between the two map types whenever an entity's attributes
//! became an item's `attributes` (twice for every row Process wrote), and freed its table at
//! the end. A map of up to eleven members is one B-tree node: one allocation, and nothing to
//! hash or sort. Measured: docs/performance-log.md ("What the sixteenth session changed").
//!
//! The serde form is serde_dynamo's (DynamoDB JSON: `{"S": "…"}`, `{"M": {…}}`, binary as
//! base64): the embedded store keeps items in it (postcard), so its files read as before, and a
//! test holds the two types' forms together (the same JSON; each reads the other's JSON and
//! postcard back to the same value; only a map's member order differs, serde_dynamo's being
//! its hash map's). `serde_dynamo` stays for the Lambda event of a
//! DynamoDB stream (`aws_lambda_events`), converted at the edge (`From` below).

use std::collections::BTreeMap;

use base64::Engine;

use super::Text;
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The base64 DynamoDB JSON writes binary values in.
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A DynamoDB attribute value. Numbers keep their decimal text (exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    N(Text),
    S(Text),
    Bool(bool),
    B(Vec<u8>),
    Null(bool),
    M(BTreeMap<Text, AttributeValue>),
    L(Vec<AttributeValue>),
    Ss(Vec<Text>),
    Ns(Vec<Text>),
    Bs(Vec<Vec<u8>>),
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            AttributeValue::N(n) => map.serialize_entry("N", n)?,
            AttributeValue::S(s) => map.serialize_entry("S", s)?,
            AttributeValue::Bool(b) => map.serialize_entry("BOOL", b)?,
            AttributeValue::B(bytes) => map.serialize_entry("B", &BASE64.encode(bytes))?,
            AttributeValue::Null(null) => map.serialize_entry("NULL", null)?,
            AttributeValue::M(m) => map.serialize_entry("M", m)?,
            AttributeValue::L(list) => map.serialize_entry("L", list)?,
            AttributeValue::Ss(set) => map.serialize_entry("SS", set)?,
            AttributeValue::Ns(set) => map.serialize_entry("NS", set)?,
            AttributeValue::Bs(set) => {
                let encoded: Vec<String> = set.iter().map(|b| BASE64.encode(b)).collect();
                map.serialize_entry("BS", &encoded)?;
            }
        }
        map.end()
    }
}

/// The one key of a value's object: which kind of value it holds. Read where it lies in the
/// input (no string allocated for it, as serde_dynamo allocates one for every value it reads).
enum Tag {
    N,
    S,
    Bool,
    B,
    Null,
    M,
    L,
    Ss,
    Ns,
    Bs,
}

impl<'de> Deserialize<'de> for Tag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagVisitor;
        impl Visitor<'_> for TagVisitor {
            type Value = Tag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a DynamoDB type: N, S, BOOL, B, NULL, M, L, SS, NS or BS")
            }
            fn visit_str<E: serde::de::Error>(self, tag: &str) -> Result<Tag, E> {
                Ok(match tag {
                    "N" => Tag::N,
                    "S" => Tag::S,
                    "BOOL" => Tag::Bool,
                    "B" => Tag::B,
                    "NULL" => Tag::Null,
                    "M" => Tag::M,
                    "L" => Tag::L,
                    "SS" => Tag::Ss,
                    "NS" => Tag::Ns,
                    "BS" => Tag::Bs,
                    other => {
                        return Err(E::custom(format!(
                            "The key '{other}' is not a known DynamoDB prefix"
                        )));
                    }
                })
            }
        }
        deserializer.deserialize_str(TagVisitor)
    }
}

/// A map's members, gathered and then built into the map at once (sorted, then laid out: a
/// name given twice keeps its last value, as inserting them one by one would).
struct MapIn(BTreeMap<Text, AttributeValue>);

impl<'de> Deserialize<'de> for MapIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = MapIn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of attribute values")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MapIn, A::Error> {
                let members = super::read_members::<A, Text, AttributeValue>(map)?;
                Ok(MapIn(members.into_iter().collect()))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

impl<'de> Deserialize<'de> for AttributeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = AttributeValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    r#"an object with a single key "N", "S", "BOOL", "B", "NULL", "M", "L", "SS", "NS", or "BS""#,
                )
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeValue, A::Error> {
                let Some(tag) = map.next_key::<Tag>()? else {
                    return Err(A::Error::custom(
                        "Expected exactly one key in the object, found none",
                    ));
                };
                let base64 = |text: String| {
                    BASE64
                        .decode(text)
                        .map_err(|e| A::Error::custom(format!("Failed to decode base64: {e}")))
                };
                let value = match tag {
                    Tag::N => AttributeValue::N(map.next_value()?),
                    Tag::S => AttributeValue::S(map.next_value()?),
                    Tag::Bool => AttributeValue::Bool(map.next_value()?),
                    Tag::B => AttributeValue::B(base64(map.next_value()?)?),
                    Tag::Null => AttributeValue::Null(map.next_value()?),
                    Tag::M => AttributeValue::M(map.next_value::<MapIn>()?.0),
                    Tag::L => AttributeValue::L(map.next_value()?),
                    Tag::Ss => AttributeValue::Ss(map.next_value()?),
                    Tag::Ns => AttributeValue::Ns(map.next_value()?),
                    Tag::Bs => AttributeValue::Bs(
                        map.next_value::<Vec<String>>()?
                            .into_iter()
                            .map(base64)
                            .collect::<Result<_, _>>()?,
                    ),
                };
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(A::Error::custom(
                        "Expected exactly one key in the object, found multiple keys",
                    ));
                }
                Ok(value)
            }
        }
        deserializer.deserialize_map(ValueVisitor)
    }
}

/// A value of a DynamoDB stream's Lambda event (`aws_lambda_events`, which reads it with
/// serde_dynamo).
impl From<&serde_dynamo::AttributeValue> for AttributeValue {
    fn from(value: &serde_dynamo::AttributeValue) -> Self {
        use serde_dynamo::AttributeValue as Their;
        match value {
            Their::N(n) => AttributeValue::N(n.into()),
            Their::S(s) => AttributeValue::S(s.into()),
            Their::Bool(b) => AttributeValue::Bool(*b),
            Their::B(b) => AttributeValue::B(b.clone()),
            Their::Null(n) => AttributeValue::Null(*n),
            Their::M(m) => AttributeValue::M(m.iter().map(|(k, v)| (k.into(), v.into())).collect()),
            Their::L(l) => AttributeValue::L(l.iter().map(Into::into).collect()),
            Their::Ss(s) => AttributeValue::Ss(s.iter().map(Into::into).collect()),
            Their::Ns(n) => AttributeValue::Ns(n.iter().map(Into::into).collect()),
            Their::Bs(b) => AttributeValue::Bs(b.clone()),
        }
    }
}

/// The value as a DynamoDB stream's Lambda event holds it (the embedded store's stream records
/// are handed to the `history` function as that event).
impl From<&AttributeValue> for serde_dynamo::AttributeValue {
    fn from(value: &AttributeValue) -> Self {
        use serde_dynamo::AttributeValue as Their;
        match value {
            AttributeValue::N(n) => Their::N(n.to_string()),
            AttributeValue::S(s) => Their::S(s.to_string()),
            AttributeValue::Bool(b) => Their::Bool(*b),
            AttributeValue::B(b) => Their::B(b.clone()),
            AttributeValue::Null(n) => Their::Null(*n),
            AttributeValue::M(m) => {
                Their::M(m.iter().map(|(k, v)| (k.to_string(), v.into())).collect())
            }
            AttributeValue::L(l) => Their::L(l.iter().map(Into::into).collect()),
            AttributeValue::Ss(s) => Their::Ss(s.iter().map(Text::to_string).collect()),
            AttributeValue::Ns(n) => Their::Ns(n.iter().map(Text::to_string).collect()),
            AttributeValue::Bs(b) => Their::Bs(b.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any value, maps and lists nested a few levels.
    pub(crate) fn any_value() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            "[0-9]{1,5}".prop_map(|n| AttributeValue::N(n.into())),
            ".{0,40}".prop_map(|s| AttributeValue::S(s.into())),
            any::<bool>().prop_map(AttributeValue::Bool),
            prop::collection::vec(any::<u8>(), 0..6).prop_map(AttributeValue::B),
            any::<bool>().prop_map(AttributeValue::Null),
            prop::collection::vec("[a-z]{0,3}", 0..3)
                .prop_map(|s| AttributeValue::Ss(s.into_iter().map(Into::into).collect())),
            prop::collection::vec("[0-9]{1,3}", 0..3)
                .prop_map(|n| AttributeValue::Ns(n.into_iter().map(Into::into).collect())),
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4), 0..3)
                .prop_map(AttributeValue::Bs),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
                prop::collection::btree_map(".{0,30}", inner, 0..5).prop_map(|m| {
                    AttributeValue::M(m.into_iter().map(|(k, v)| (Text::from(k), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        /// The serde form is serde_dynamo's: the same JSON, and each type reads the other's
        /// JSON and postcard bytes back to the same value (the embedded store's files hold this
        /// form; serde_dynamo writes a map's members in its hash map's order, this type in name
        /// order, so the bytes themselves differ for a map of several members).
        #[test]
        fn the_serde_form_is_serde_dynamos(value in any_value()) {
            let theirs = serde_dynamo::AttributeValue::from(&value);
            prop_assert_eq!(AttributeValue::from(&theirs), value.clone());
            // Read from text, as the embedded store's older layout and DynamoDB JSON are read.
            let text = serde_json::to_string(&value).unwrap();
            let json: serde_json::Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&json, &serde_json::to_value(&theirs).unwrap());
            let ours_back: AttributeValue = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&ours_back, &value);
            let theirs_back: serde_dynamo::AttributeValue = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&theirs_back, &theirs);
            let their_text = serde_json::to_string(&theirs).unwrap();
            let ours_from_theirs: AttributeValue = serde_json::from_str(&their_text).unwrap();
            prop_assert_eq!(&ours_from_theirs, &value);
            let bytes = postcard::to_stdvec(&value).unwrap();
            let read: AttributeValue = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&read, &value);
            let theirs_read: serde_dynamo::AttributeValue = postcard::from_bytes(&bytes).unwrap();
            prop_assert_eq!(&theirs_read, &theirs);
            let their_bytes = postcard::to_stdvec(&theirs).unwrap();
            let ours_read: AttributeValue = postcard::from_bytes(&their_bytes).unwrap();
            prop_assert_eq!(ours_read, value);
        }
    }

    #[test]
    fn what_serde_dynamo_refuses_is_refused() {
        for bad in [
            r#"{}"#,
            r#"{"X": "1"}"#,
            r#"{"S": "a", "N": "1"}"#,
            r#"{"B": "not base64!"}"#,
            r#"{"BS": ["AA==", "%%"]}"#,
            r#"{"M": ["a"]}"#,
            r#"{"S": 1}"#,
        ] {
            assert!(
                serde_json::from_str::<AttributeValue>(bad).is_err(),
                "{bad} was read"
            );
            assert!(
                serde_json::from_str::<serde_dynamo::AttributeValue>(bad).is_err(),
                "serde_dynamo reads {bad}"
            );
        }
    }

    #[test]
    fn a_name_given_twice_in_a_map_keeps_its_last_value() {
        let read: AttributeValue =
            serde_json::from_str(r#"{"M": {"b": {"N": "1"}, "a": {"S": "x"}, "b": {"N": "2"}}}"#)
                .unwrap();
        let expected = AttributeValue::M(BTreeMap::from([
            ("a".into(), AttributeValue::S("x".into())),
            ("b".into(), AttributeValue::N("2".into())),
        ]));
        assert_eq!(read, expected);
    }
}
