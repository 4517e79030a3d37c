//! DynamoDB's wire JSON for the two requests that carry whole items in bulk:
//! TransactWriteItems (up to 100 puts in the request) and BatchGetItem (up to 100 items in the
//! response). They are most of a job's client CPU, and the SDK's path costs what a migration
//! does not need: every value copied into the SDK's types (hash maps of owned strings), written
//! out by the SDK's serializer, and on the way back parsed into hash maps and copied again into
//! our items. Here our items are written straight from their [`Item`]s and read straight into
//! them with serde ([`serde_dynamo::AttributeValue`] is DynamoDB's wire format), while the SDK
//! still signs, sends, retries and parses errors (see `dynamodb_table`).
//!
//! Measured on moto (`tests/pipeline_moto.rs`, the parity test's per-state CPU): see the
//! README's Performance section.
//!
//! Items are written by [`TypedItem`] (the same DynamoDB JSON `migrate get --dynamodb-json`
//! prints). The written JSON is deterministic: nested maps (hash maps) are written with their
//! names sorted, so the same puts give the same bytes in any process, and the transaction's
//! idempotency token is a hash of those bytes.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

use crate::ports::table::{Condition, Put};
use crate::value::{AttributeValue, Item, Typed, TypedItem};

/// One `{"Put": {...}}` of TransactItems, with its condition.
struct WirePut<'a>(&'a Put);

impl Serialize for WirePut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Inner<'a>(&'a Put);
        impl Serialize for Inner<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let put = self.0;
                let mut out = serializer.serialize_map(None)?;
                match put.condition {
                    Condition::None => {}
                    Condition::NotExists => {
                        out.serialize_entry("ConditionExpression", "attribute_not_exists(pk)")?;
                    }
                    Condition::VersionEquals(v) => {
                        out.serialize_entry("ConditionExpression", "#version = :version")?;
                        out.serialize_entry(
                            "ExpressionAttributeNames",
                            &BTreeMap::from([("#version", "version")]),
                        )?;
                        let version = AttributeValue::N(v.to_string());
                        out.serialize_entry(
                            "ExpressionAttributeValues",
                            &BTreeMap::from([(":version", Typed(&version))]),
                        )?;
                    }
                }
                out.serialize_entry("Item", &TypedItem(&put.item))?;
                out.serialize_entry("TableName", &put.table)?;
                out.end()
            }
        }
        let mut out = serializer.serialize_map(Some(1))?;
        out.serialize_entry("Put", &Inner(self.0))?;
        out.end()
    }
}

/// The body of a TransactWriteItems request for `puts`, and its idempotency token (the first
/// 128 bits of the SHA-256 of the written items, in hex: the same puts, the same token, in any
/// process, so DynamoDB answers a retried commit with its first outcome).
pub fn transact_write_body(puts: &[Put]) -> Result<(Vec<u8>, String), serde_json::Error> {
    use sha2::{Digest, Sha256};
    struct Items<'a>(&'a [Put]);
    impl Serialize for Items<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut out = serializer.serialize_seq(Some(self.0.len()))?;
            for put in self.0 {
                out.serialize_element(&WirePut(put))?;
            }
            out.end()
        }
    }
    // `{"ClientRequestToken":"<32 hex>","TransactItems":[...]}`: the items are written once,
    // at their place, and the token (which hashes them) is filled in before them afterwards.
    const HEAD: &[u8] = b"{\"ClientRequestToken\":\"";
    const TOKEN_LEN: usize = 32;
    let mut body = Vec::with_capacity(puts.len() * 1024 + 64);
    body.extend_from_slice(HEAD);
    body.extend_from_slice(&[b'0'; TOKEN_LEN]);
    body.extend_from_slice(b"\",\"TransactItems\":");
    let items_start = body.len();
    serde_json::to_writer(&mut body, &Items(puts))?;
    let digest = Sha256::digest(&body[items_start..]);
    let token: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    body[HEAD.len()..HEAD.len() + TOKEN_LEN].copy_from_slice(token.as_bytes());
    body.push(b'}');
    Ok((body, token))
}

/// The parts of a BatchGetItem response we use: the items found, per table, and the keys
/// DynamoDB did not get to (to be asked again).
#[derive(Debug, Default, Deserialize)]
pub struct BatchGetResponse {
    #[serde(rename = "Responses", default)]
    pub responses: HashMap<String, Vec<Item>>,
    #[serde(rename = "UnprocessedKeys", default)]
    pub unprocessed_keys: HashMap<String, UnprocessedKeys>,
}

#[derive(Debug, Default, Deserialize)]
pub struct UnprocessedKeys {
    #[serde(rename = "Keys", default)]
    pub keys: Vec<Item>,
}

/// Reads a BatchGetItem response body.
pub fn batch_get_response(body: &[u8]) -> Result<BatchGetResponse, serde_json::Error> {
    serde_json::from_slice(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn every_kind(names: &[&str]) -> AttributeValue {
        let inner: HashMap<String, AttributeValue> = names
            .iter()
            .map(|n| (n.to_string(), AttributeValue::S(format!("v-{n}"))))
            .collect();
        AttributeValue::M(HashMap::from([
            ("n".to_string(), AttributeValue::N("-1.5".into())),
            ("b".to_string(), AttributeValue::B(vec![0, 1, 255])),
            ("t".to_string(), AttributeValue::Bool(true)),
            ("z".to_string(), AttributeValue::Null(true)),
            (
                "l".to_string(),
                AttributeValue::L(vec![
                    AttributeValue::M(inner.clone()),
                    AttributeValue::S("x \"q\" \n é".into()),
                ]),
            ),
            (
                "ss".to_string(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![vec![1], vec![2, 3]]),
            ),
            ("m".to_string(), AttributeValue::M(inner)),
        ]))
    }

    fn put(names: &[&str], condition: Condition) -> Put {
        let mut item = Item::new();
        item.insert("pk".into(), crate::value::s("P#t"));
        item.insert("sk".into(), crate::value::s("s"));
        item.insert("v".into(), every_kind(names));
        Put {
            table: "data".into(),
            item,
            condition,
        }
    }

    fn body_json(puts: &[Put]) -> Value {
        let (body, _) = transact_write_body(puts).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn a_put_is_written_as_dynamodb_reads_it() {
        let p = put(&["a", "b"], Condition::VersionEquals(3));
        let (body, token) = transact_write_body(std::slice::from_ref(&p)).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        let item: serde_json::Map<String, Value> = p
            .item
            .iter()
            // serde_dynamo's own wire writer, order aside.
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap()))
            .collect();
        assert_eq!(
            body,
            json!({
                "ClientRequestToken": token,
                "TransactItems": [{"Put": {
                    "TableName": "data",
                    "Item": item,
                    "ConditionExpression": "#version = :version",
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {":version": {"N": "3"}},
                }}]
            })
        );
        assert_eq!(
            body["TransactItems"][0]["Put"]["Item"]["v"]["M"]["b"],
            json!({"B": "AAH/"})
        );
        let not_exists = body_json(&[put(&[], Condition::NotExists)]);
        assert_eq!(
            not_exists["TransactItems"][0]["Put"]["ConditionExpression"],
            "attribute_not_exists(pk)"
        );
        let unconditional = body_json(&[put(&[], Condition::None)]);
        let fields: Vec<&String> = unconditional["TransactItems"][0]["Put"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(fields, ["Item", "TableName"]);
    }

    #[test]
    fn the_token_follows_the_content_not_the_maps_order() {
        let names: Vec<String> = (0..32).map(|i| format!("k{i}")).collect();
        let forward: Vec<&str> = names.iter().map(String::as_str).collect();
        let backward: Vec<&str> = forward.iter().rev().copied().collect();
        let (body, token) = transact_write_body(&[put(&forward, Condition::NotExists)]).unwrap();
        // Nested maps built in another order (hashed with another seed): the same bytes.
        let (again, same) = transact_write_body(&[put(&backward, Condition::NotExists)]).unwrap();
        assert_eq!((&body, &token), (&again, &same));
        // Other content, another condition, another table: another token.
        let other = |p: Put| transact_write_body(&[p]).unwrap().1;
        assert_ne!(token, other(put(&forward[1..], Condition::NotExists)));
        assert_ne!(token, other(put(&forward, Condition::VersionEquals(3))));
        let mut elsewhere = put(&forward, Condition::NotExists);
        elsewhere.table = "command".into();
        assert_ne!(token, other(elsewhere));
        assert_eq!(
            token.len(),
            32,
            "ClientRequestToken is at most 36 characters"
        );
    }

    #[test]
    fn a_batch_get_response_reads_items_and_unprocessed_keys() {
        let v = every_kind(&["a"]);
        let wire = serde_json::to_value(&v).unwrap();
        let body = json!({
            "Responses": {"data": [{"pk": {"S": "P#t"}, "sk": {"S": "1"}, "v": wire}]},
            "UnprocessedKeys": {"data": {"Keys": [{"pk": {"S": "P#t"}, "sk": {"S": "2"}}], "ConsistentRead": true}},
            "ConsumedCapacity": []
        });
        let read = batch_get_response(body.to_string().as_bytes()).unwrap();
        let items = &read.responses["data"];
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["v"], v);
        assert_eq!(items[0]["sk"], crate::value::s("1"));
        assert_eq!(
            read.unprocessed_keys["data"].keys[0]["sk"],
            crate::value::s("2")
        );
        // Nothing found, nothing left: both empty.
        let empty =
            batch_get_response(br#"{"Responses":{"data":[]},"UnprocessedKeys":{}}"#).unwrap();
        assert!(empty.responses["data"].is_empty() && empty.unprocessed_keys.is_empty());
        assert!(batch_get_response(br#"{"Responses":{"data":[{"pk":{"X":"1"}}]}}"#).is_err());
    }

    fn any_value() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            "[a-z\"\\\\\n é]{0,8}".prop_map(AttributeValue::S),
            "-?[1-9][0-9]{0,5}".prop_map(AttributeValue::N),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null(true)),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(AttributeValue::B),
            proptest::collection::vec("[a-z]{1,3}", 1..3).prop_map(AttributeValue::Ss),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
                proptest::collection::hash_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(AttributeValue::M),
            ]
        })
    }

    proptest! {
        /// Any value: written as serde_dynamo writes it (DynamoDB's format), and read back equal.
        #[test]
        fn any_value_is_written_in_dynamodbs_format_and_reads_back(v in any_value()) {
            let mut item = Item::new();
            item.insert("pk".into(), crate::value::s("P#t"));
            item.insert("sk".into(), crate::value::s("1"));
            item.insert("v".into(), v.clone());
            let p = Put { table: "t".into(), item: item.clone(), condition: Condition::None };
            let body = body_json(std::slice::from_ref(&p));
            let written = &body["TransactItems"][0]["Put"]["Item"]["v"];
            prop_assert_eq!(written, &serde_json::to_value(&v).unwrap());
            let response = json!({"Responses": {"t": [body["TransactItems"][0]["Put"]["Item"]]}});
            let read = batch_get_response(response.to_string().as_bytes()).unwrap();
            prop_assert_eq!(&read.responses["t"][0], &item);
        }
    }
}
