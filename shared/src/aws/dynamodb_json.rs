//! DynamoDB's wire JSON for the two requests that carry whole items in bulk:
//! TransactWriteItems (up to 100 puts in the request) and BatchGetItem (up to 100 keys in the
//! request, [`batch_get_body`], and up to 100 items in the response). They are most of a job's
//! client CPU, and the SDK's path costs what a migration does not need: every value copied into
//! the SDK's types (hash maps of owned strings), written out by the SDK's serializer, and on the
//! way back parsed into hash maps and copied again into our items. Here our items are written straight from their [`Item`]s by our own writer of
//! DynamoDB's wire format, and read straight into them by our own reader
//! ([`super::batch_get_response`]); the values are [`crate::value::AttributeValue`]s (serde_dynamo's
//! model), and serde_dynamo's own serde impls are the reference the tests compare both against. The SDK still signs,
//! sends, retries and parses errors (see `dynamodb_table`).
//!
//! Measured on moto (`tests/pipeline_moto.rs`, the parity test's per-state CPU): see the
//! README's Performance section and docs/performance-log.md.
//!
//! Items are written in the same DynamoDB JSON `migrate get --dynamodb-json` prints
//! ([`crate::value::TypedItem`]). The written JSON is deterministic: nested maps are kept in name
//! order and written so, so the same puts give the same bytes in any process, and the
//! transaction's idempotency token is a hash of those bytes. While an item is written, its size
//! and depth are measured as DynamoDB counts them ([`ItemMeasure`]), so the limits are checked
//! without a second walk over the item (see `dynamodb_table`).

use crate::keys::Key;
use crate::ports::table::{Condition, Put};
pub use crate::value::typed::ItemMeasure;
use crate::value::typed::{Meter, write_item, write_separated, write_string};

/// Writes one `{"Put": {...}}` of TransactItems, with its condition, the item measured by
/// `meter` (fields in name order, as serde_json writes a struct of them: the bytes the token
/// hashes).
fn write_put<'a>(out: &mut Vec<u8>, put: &'a Put, meter: &Meter<'a>) {
    out.extend_from_slice(b"{\"Put\":{");
    match put.condition {
        Condition::None => {}
        Condition::NotExists => {
            out.extend_from_slice(b"\"ConditionExpression\":\"attribute_not_exists(pk)\",");
        }
        Condition::VersionEquals(v) => {
            out.extend_from_slice(
                b"\"ConditionExpression\":\"#version = :version\",\
                  \"ExpressionAttributeNames\":{\"#version\":\"version\"},\
                  \"ExpressionAttributeValues\":{\":version\":{\"N\":\"",
            );
            out.extend_from_slice(v.to_string().as_bytes());
            out.extend_from_slice(b"\"}},");
        }
    }
    out.extend_from_slice(b"\"Item\":");
    write_item(out, &put.item, meter);
    out.extend_from_slice(b",\"TableName\":");
    // A table name is letters, digits, `_`, `-` and `.`; written escaped all the same.
    write_string(out, &put.table);
    out.extend_from_slice(b"}}");
}

/// A TransactWriteItems request's body, its idempotency token and each put's item measure.
#[derive(Debug)]
pub struct TransactWriteBody {
    pub body: Vec<u8>,
    /// The XXH3-128 of the written items, in hex: the same puts, the same token, in any
    /// process, so DynamoDB answers a retried commit with its first outcome. A hash that is
    /// not cryptographic is enough: the token only has to differ between different requests of
    /// one caller (and SigV4 already hashes the whole body with SHA-256; a second SHA-256 of
    /// it was a few µs per row).
    pub token: String,
    /// One per put, in order.
    pub measures: Vec<ItemMeasure>,
}

/// The body of a TransactWriteItems request for `puts`, with its token and the puts' measures.
pub fn transact_write_body(puts: &[Put]) -> TransactWriteBody {
    let meters: Vec<Meter<'_>> = puts.iter().map(|_| Meter::default()).collect();
    // `{"ClientRequestToken":"<32 hex>","TransactItems":[...]}`: the items are written once,
    // at their place, and the token (which hashes them) is filled in before them afterwards.
    const HEAD: &[u8] = b"{\"ClientRequestToken\":\"";
    const TOKEN_LEN: usize = 32;
    let mut body = Vec::with_capacity(puts.len() * 1024 + 64);
    body.extend_from_slice(HEAD);
    body.extend_from_slice(&[b'0'; TOKEN_LEN]);
    body.extend_from_slice(b"\",\"TransactItems\":");
    let items_start = body.len();
    write_separated(
        &mut body,
        (b'[', b']'),
        puts.iter().zip(&meters),
        |body, (put, meter)| write_put(body, put, meter),
    );
    let token = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&body[items_start..]));
    body[HEAD.len()..HEAD.len() + TOKEN_LEN].copy_from_slice(token.as_bytes());
    body.push(b'}');
    TransactWriteBody {
        body,
        token,
        measures: meters.iter().map(Meter::measure).collect(),
    }
}

/// The body of a BatchGetItem request for `keys` of `table` (at most 100: the caller's check),
/// strongly consistent, with `projection` as its ProjectionExpression when given (the names
/// through placeholders `#p0`, `#p1`, …, so that a reserved word such as `name` can be read):
///
/// `{"RequestItems":{"<table>":{"ConsistentRead":true,"Keys":[{"pk":{"S":"…"},"sk":{"S":"…"}},…],
/// "ProjectionExpression":"#p0, #p1","ExpressionAttributeNames":{"#p0":"pk","#p1":"sk"}}}}`
///
/// Why not the SDK's request: it takes each key as a hash map of two owned names and two owned
/// values (six allocations a key), then writes them out; Process and Verify read every row they
/// write this way, a hundred keys a request.
///
/// A projection is checked by the caller (`ports::table::check_projection`: at least one name,
/// none empty or twice); an empty one would be an empty expression, which DynamoDB refuses.
pub fn batch_get_body(table: &str, keys: &[Key], projection: Option<&[&str]>) -> Vec<u8> {
    debug_assert!(projection.is_none_or(|names| !names.is_empty()));
    let mut body = Vec::with_capacity(
        keys.iter()
            .map(|k| k.pk.len() + k.sk.len() + 32)
            .sum::<usize>()
            + 256,
    );
    body.extend_from_slice(b"{\"RequestItems\":{");
    write_string(&mut body, table);
    body.extend_from_slice(b":{\"ConsistentRead\":true,\"Keys\":");
    write_separated(&mut body, (b'[', b']'), keys, |body, key| {
        body.extend_from_slice(b"{\"pk\":{\"S\":");
        write_string(body, &key.pk);
        body.extend_from_slice(b"},\"sk\":{\"S\":");
        write_string(body, &key.sk);
        body.extend_from_slice(b"}}");
    });
    if let Some(names) = projection {
        body.extend_from_slice(b",\"ProjectionExpression\":\"");
        for i in 0..names.len() {
            if i > 0 {
                body.extend_from_slice(b", ");
            }
            body.extend_from_slice(b"#p");
            body.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        }
        body.extend_from_slice(b"\",\"ExpressionAttributeNames\":");
        write_separated(
            &mut body,
            (b'{', b'}'),
            names.iter().enumerate(),
            |body, (i, name)| {
                body.extend_from_slice(b"\"#p");
                body.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                body.extend_from_slice(b"\":");
                write_string(body, name);
            },
        );
    }
    body.extend_from_slice(b"}}}");
    body
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::aws::batch_get_response::batch_get_response;
    use crate::value::{AttributeValue, Item, Text};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    pub(crate) fn every_kind(names: &[&str]) -> AttributeValue {
        let inner: BTreeMap<Text, AttributeValue> = names
            .iter()
            .map(|n| {
                (
                    Text::from(*n),
                    AttributeValue::S(compact_str::format_compact!("v-{n}")),
                )
            })
            .collect();
        AttributeValue::M(BTreeMap::from([
            ("n".into(), AttributeValue::N("-1.5".into())),
            ("b".into(), AttributeValue::B(vec![0, 1, 255])),
            ("t".into(), AttributeValue::Bool(true)),
            ("z".into(), AttributeValue::Null(true)),
            (
                "l".into(),
                AttributeValue::L(vec![
                    AttributeValue::M(inner.clone()),
                    AttributeValue::S("x \"q\" \n é".into()),
                ]),
            ),
            (
                "ss".into(),
                AttributeValue::Ss(vec!["a".into(), "b".into()]),
            ),
            (
                "ns".into(),
                AttributeValue::Ns(vec!["1".into(), "2".into()]),
            ),
            ("bs".into(), AttributeValue::Bs(vec![vec![1], vec![2, 3]])),
            ("m".into(), AttributeValue::M(inner)),
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
        let written = transact_write_body(puts);
        serde_json::from_slice(&written.body).unwrap()
    }

    #[test]
    fn a_put_is_written_as_dynamodb_reads_it() {
        let p = put(&["a", "b"], Condition::VersionEquals(3));
        let written = transact_write_body(std::slice::from_ref(&p));
        let (body, token) = (written.body, written.token);
        let body: Value = serde_json::from_slice(&body).unwrap();
        let item: serde_json::Map<String, Value> = p
            .item
            .iter()
            // serde_dynamo's own wire writer, order aside.
            .map(|(k, v)| {
                let theirs = serde_dynamo::AttributeValue::from(v);
                (k.to_string(), serde_json::to_value(&theirs).unwrap())
            })
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
        // Byte for byte what `migrate get --dynamodb-json` writes (`TypedItem`, the same
        // writer's bytes read back and written again by serde_json): the token hashes these
        // bytes, so they must not change with the writer.
        let bytes = String::from_utf8(transact_write_body(std::slice::from_ref(&p)).body).unwrap();
        let typed = serde_json::to_string(&crate::value::TypedItem(&p.item)).unwrap();
        assert!(bytes.contains(&format!("\"Item\":{typed},")), "{bytes}");
        // Every condition, byte for byte as serde_json writes the same JSON (maps by name).
        for condition in [
            Condition::None,
            Condition::NotExists,
            Condition::VersionEquals(12),
        ] {
            let p = put(&["a", "b"], condition);
            let written = transact_write_body(std::slice::from_ref(&p)).body;
            let value: Value = serde_json::from_slice(&written).unwrap();
            assert_eq!(
                serde_json::to_vec(&value).unwrap(),
                written,
                "{condition:?}"
            );
        }
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
        let written = |p: Put| {
            let w = transact_write_body(&[p]);
            (w.body, w.token)
        };
        let (body, token) = written(put(&forward, Condition::NotExists));
        // Nested maps built in another order: the same bytes.
        let (again, same) = written(put(&backward, Condition::NotExists));
        assert_eq!((&body, &token), (&again, &same));
        // Other content, another condition, another table: another token.
        let other = |p: Put| written(p).1;
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

    /// A BatchGetItem body reads back (as JSON) as the request DynamoDB documents, for keys
    /// with quotes, backslashes, control characters and non-ASCII text, inline and longer
    /// strings, with and without a projection. (Moto answers these bodies in the contract
    /// suite, `tests/contract_moto.rs`.)
    #[test]
    fn a_batch_get_body_is_dynamodbs_request() {
        let keys = [
            Key::new("PRODUCT#t1", "P1"),
            Key::new("A \"quoted\" \\ pk\n#é", "sk\u{1}😀"),
            Key::new(
                "PRODUCT#a-tenant-code-longer-than-24",
                "a-sort-key-longer-than-twenty-four",
            ),
        ];
        let wire_keys: Vec<Value> = keys
            .iter()
            .map(|k| json!({"pk": {"S": k.pk.as_str()}, "sk": {"S": k.sk.as_str()}}))
            .collect();
        let ours: Value =
            serde_json::from_slice(&batch_get_body("the-table", &keys, None)).unwrap();
        assert_eq!(
            ours,
            json!({"RequestItems": {"the-table": {"ConsistentRead": true, "Keys": wire_keys}}})
        );
        let projected: Value = serde_json::from_slice(&batch_get_body(
            "the-table",
            &keys,
            Some(&["pk", "sk", "version", "name"]),
        ))
        .unwrap();
        assert_eq!(
            projected,
            json!({"RequestItems": {"the-table": {
                "ConsistentRead": true,
                "Keys": wire_keys,
                "ProjectionExpression": "#p0, #p1, #p2, #p3",
                "ExpressionAttributeNames": {"#p0": "pk", "#p1": "sk", "#p2": "version", "#p3": "name"},
            }}})
        );
    }

    /// An item's measure judges it as `limits::check_item` does: keys, the first attribute
    /// nested too deep (named), size; each put of a body measured on its own.
    #[test]
    fn a_measured_item_is_judged_as_the_limits_judge_it() {
        let nested = |levels: usize| {
            (0..levels).fold(AttributeValue::S("x".into()), |inner, i| {
                if i % 2 == 0 {
                    AttributeValue::L(vec![inner])
                } else {
                    AttributeValue::M(BTreeMap::from([("k".into(), inner)]))
                }
            })
        };
        let with = |entries: Vec<(&str, AttributeValue)>| {
            let mut item = Item::new();
            for (name, value) in entries {
                item.insert(name.to_string().into(), value);
            }
            Put::new("t", item, Condition::None)
        };
        let key = |sk: &str| vec![("pk", crate::value::s("P#t")), ("sk", crate::value::s(sk))];
        let cases = [
            with(key("fine")),
            with(
                [
                    key("deep"),
                    vec![("a", nested(32)), ("b", nested(33)), ("c", nested(40))],
                ]
                .concat(),
            ),
            with(
                [
                    key("big"),
                    vec![("s", AttributeValue::S("x".repeat(400 * 1024).into()))],
                ]
                .concat(),
            ),
            with(
                [
                    key("both"),
                    vec![
                        ("s", AttributeValue::S("x".repeat(400 * 1024).into())),
                        ("z", nested(33)),
                    ],
                ]
                .concat(),
            ),
            with(vec![("pk", crate::value::s("P#t"))]),
            with(vec![
                ("pk", crate::value::s("")),
                ("sk", crate::value::s("1")),
            ]),
            with([key(&"k".repeat(1025)), vec![]].concat()),
            with(
                [
                    key("every kind"),
                    vec![
                        ("v", every_kind(&["a", "bb"])),
                        ("n", AttributeValue::N("-0.000120".into())),
                    ],
                ]
                .concat(),
            ),
        ];
        let written = transact_write_body(&cases);
        for (put, measure) in cases.iter().zip(&written.measures) {
            assert_eq!(
                measure.size,
                crate::limits::item_size(&put.item),
                "{:?}",
                put.key()
            );
            assert_eq!(
                crate::limits::check_measured(&put.item, measure.size, measure.too_deep.as_deref()),
                crate::limits::check_item(&put.item),
                "{:?}",
                put.key()
            );
        }
        assert_eq!(written.measures[1].too_deep.as_deref(), Some("b"));
        assert!(crate::limits::check_item(&cases[0].item).is_ok());
        assert!(
            crate::limits::check_item(&cases[1].item)
                .unwrap_err()
                .starts_with("b is nested deeper")
        );
        assert!(
            crate::limits::check_item(&cases[2].item)
                .unwrap_err()
                .contains("400 KB")
        );
        assert!(
            crate::limits::check_item(&cases[3].item)
                .unwrap_err()
                .starts_with("z is nested deeper")
        );
    }

    fn any_value() -> impl Strategy<Value = AttributeValue> {
        let leaf = prop_oneof![
            // Both sides of `Text`'s 24 inline bytes, escapes included.
            "[a-z\"\\\\\n é]{0,40}".prop_map(|s| AttributeValue::S(s.into())),
            "-?[1-9][0-9]{0,5}".prop_map(|n| AttributeValue::N(n.into())),
            any::<bool>().prop_map(AttributeValue::Bool),
            Just(AttributeValue::Null(true)),
            proptest::collection::vec(any::<u8>(), 0..6).prop_map(AttributeValue::B),
            proptest::collection::vec("[a-z]{1,30}", 1..3)
                .prop_map(|v| AttributeValue::Ss(v.into_iter().map(Into::into).collect())),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::L),
                // Names with quotes, backslashes, control characters and non-ASCII text too.
                proptest::collection::btree_map("[a-z\"\\\\\n é]{1,30}", inner, 0..4).prop_map(
                    |m| AttributeValue::M(m.into_iter().map(|(k, v)| (k.into(), v)).collect())
                ),
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
            let measured = transact_write_body(std::slice::from_ref(&p)).measures;
            // Measured as it is written: DynamoDB's size, and not too deep (3 levels at most).
            prop_assert_eq!(
                &measured,
                &vec![ItemMeasure { size: crate::limits::item_size(&item), too_deep: None }]
            );
            let body = body_json(std::slice::from_ref(&p));
            // Byte for byte what serde_json writes for the same JSON (its maps sorted by name,
            // as ours are): the escapes, the separators, the order.
            let bytes = transact_write_body(std::slice::from_ref(&p)).body;
            prop_assert_eq!(String::from_utf8(serde_json::to_vec(&body).unwrap()).unwrap(),
                String::from_utf8(bytes).unwrap());
            let written = &body["TransactItems"][0]["Put"]["Item"]["v"];
            let theirs = serde_dynamo::AttributeValue::from(&v);
            prop_assert_eq!(written, &serde_json::to_value(&theirs).unwrap());
            let response = json!({"Responses": {"t": [body["TransactItems"][0]["Put"]["Item"]]}});
            let mut read = batch_get_response(response.to_string().as_bytes()).unwrap();
            let read_item = read.take_items("t").remove(0);
            prop_assert_eq!(&read_item, &item);
            // The known names (pk, sk) are borrowed from the static table; `v` is owned.
            for name in read_item.keys() {
                prop_assert_eq!(
                    matches!(name, std::borrow::Cow::Borrowed(_)),
                    crate::value::KNOWN_NAMES.contains(&&**name)
                );
            }
            // Read as serde_dynamo reads it.
            let theirs: std::collections::HashMap<String, serde_dynamo::AttributeValue> =
                serde_json::from_value(body["TransactItems"][0]["Put"]["Item"].clone()).unwrap();
            prop_assert_eq!(
                theirs.iter().map(|(k, v)| (k.clone().into(), v.into())).collect::<Item>(),
                item
            );
        }
    }
}
