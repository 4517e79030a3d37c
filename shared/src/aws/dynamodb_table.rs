//! The table port on DynamoDB. Items convert with serde_dynamo (numbers stay strings, exact);
//! reads are consistent; conditions are `attribute_not_exists(pk)` and `#version = :version`;
//! a cancelled transaction reports one reason per item; unprocessed keys and items of batch calls
//! are retried with backoff, up to a bound.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, KeysAndAttributes, Put as DynamoPut, TransactWriteItem,
};

use super::errors::{build_error, store_error};
use crate::error::StoreError;
use crate::keys::Key;
use crate::ports::table::{
    BatchGetItems, CancellationReason, Condition, GetItem, MAX_BATCH_GET, MAX_TRANSACT_ITEMS, Page,
    Put, PutItem, QueryItems, ScanItems, TransactWrite, WriteError,
};
use crate::value::{AttributeValue, Item};

/// How often a batch call's unprocessed remainder is re-sent before giving up (Retryable).
const MAX_UNPROCESSED_ROUNDS: u32 = 8;

#[derive(Clone, Debug)]
pub struct DynamoDbTables {
    client: Client,
}

impl DynamoDbTables {
    pub fn new(client: Client) -> Self {
        DynamoDbTables { client }
    }
}

type DynamoItem = HashMap<String, Av>;

fn to_dynamo(item: Item) -> DynamoItem {
    item.into_iter().map(|(k, v)| (k, v.into())).collect()
}

/// The SDK's item for one of ours, copied once from a reference (the caller keeps its put; a
/// clone and then `into` copied every value twice).
fn to_dynamo_ref(item: &Item) -> DynamoItem {
    item.iter()
        .map(|(k, v)| (k.clone(), sdk_value(v)))
        .collect()
}

/// As serde_dynamo's `From<AttributeValue>`, from a reference.
fn sdk_value(value: &AttributeValue) -> Av {
    use aws_sdk_dynamodb::primitives::Blob;
    match value {
        AttributeValue::N(n) => Av::N(n.clone()),
        AttributeValue::S(s) => Av::S(s.clone()),
        AttributeValue::Bool(b) => Av::Bool(*b),
        AttributeValue::B(b) => Av::B(Blob::new(b.clone())),
        AttributeValue::Null(n) => Av::Null(*n),
        AttributeValue::M(m) => Av::M(m.iter().map(|(k, v)| (k.clone(), sdk_value(v))).collect()),
        AttributeValue::L(l) => Av::L(l.iter().map(sdk_value).collect()),
        AttributeValue::Ss(ss) => Av::Ss(ss.clone()),
        AttributeValue::Ns(ns) => Av::Ns(ns.clone()),
        AttributeValue::Bs(bs) => Av::Bs(bs.iter().map(|b| Blob::new(b.clone())).collect()),
    }
}

fn from_dynamo(item: DynamoItem) -> Item {
    item.into_iter().map(|(k, v)| (k, v.into())).collect()
}

fn key_of(key: &Key) -> DynamoItem {
    HashMap::from([
        ("pk".to_string(), Av::S(key.pk.clone())),
        ("sk".to_string(), Av::S(key.sk.clone())),
    ])
}

fn key_from(item: &DynamoItem) -> Option<Key> {
    match (item.get("pk"), item.get("sk")) {
        (Some(Av::S(pk)), Some(Av::S(sk))) => Some(Key::new(pk, sk)),
        _ => None,
    }
}

/// Exponential backoff for unprocessed remainders: 50 ms, 100 ms, ... capped at 2 s.
fn backoff(round: u32) -> Duration {
    Duration::from_millis((50u64 << round.min(6)).min(2000))
}

/// Before re-sending a batch call's unprocessed remainder: back off, or give up after
/// [`MAX_UNPROCESSED_ROUNDS`] (Retryable: the state machine retries the whole task).
async fn wait_for_unprocessed(
    operation: &str,
    round: u32,
    remaining: usize,
) -> Result<(), StoreError> {
    if round > MAX_UNPROCESSED_ROUNDS {
        return Err(StoreError::Transient(format!(
            "{operation}: {remaining} still unprocessed after {MAX_UNPROCESSED_ROUNDS} retries"
        )));
    }
    tokio::time::sleep(backoff(round)).await;
    Ok(())
}

/// One page of a Query or Scan response.
fn page(items: Option<Vec<DynamoItem>>, last_evaluated_key: Option<DynamoItem>) -> Page {
    Page {
        items: items
            .unwrap_or_default()
            .into_iter()
            .map(from_dynamo)
            .collect(),
        next: last_evaluated_key.as_ref().and_then(key_from),
    }
}

fn page_limit(limit: usize) -> i32 {
    limit.clamp(1, i32::MAX as usize) as i32
}

/// Every item needs string `pk` and `sk`; refused here with the table named.
/// The limits DynamoDB enforces (keys, size, depth), checked locally with the same messages as
/// the embedded store, before a request is sent.
fn check_item_keys(table: &str, item: &Item) -> Result<(), StoreError> {
    crate::limits::check_item(item)
        .map_err(|why| StoreError::InvalidRequest(format!("an item for table {table}: {why}")))
}

fn check_keys(put: &Put) -> Result<(), StoreError> {
    check_item_keys(&put.table, &put.item)
}

/// The condition expression of a put, with its names and values.
struct ConditionExpression {
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<DynamoItem>,
}

fn condition(c: Condition) -> ConditionExpression {
    match c {
        Condition::None => ConditionExpression {
            expression: None,
            names: None,
            values: None,
        },
        Condition::NotExists => ConditionExpression {
            expression: Some("attribute_not_exists(pk)".into()),
            names: None,
            values: None,
        },
        Condition::VersionEquals(v) => ConditionExpression {
            expression: Some("#version = :version".into()),
            names: Some(HashMap::from([("#version".into(), "version".into())])),
            values: Some(HashMap::from([(":version".into(), Av::N(v.to_string()))])),
        },
    }
}

/// The same transaction gets the same token: when the SDK retries a commit whose response was
/// lost, DynamoDB answers with the first outcome instead of refusing the repeat (10-minute window).
/// The transaction's idempotency token: a hash of its puts (tables, conditions, items), the same
/// for the same puts in any process. Items are fed to the hash by their structure, each string
/// with its length, a map's names in order: it was the `Debug` text of each item, which cost
/// more than building the request, and whose nested maps (hash maps) came out in a random
/// order, so the same transaction had another token in another process.
fn client_request_token(puts: &[Put]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for put in puts {
        feed_bytes(&mut hash, put.table.as_bytes());
        match put.condition {
            Condition::None => hash.update([0u8]),
            Condition::NotExists => hash.update([1u8]),
            Condition::VersionEquals(v) => {
                hash.update([2u8]);
                hash.update(v.to_le_bytes());
            }
        }
        hash.update((put.item.len() as u64).to_le_bytes());
        for (name, value) in &put.item {
            feed_bytes(&mut hash, name.as_bytes());
            feed_value(&mut hash, value);
        }
    }
    let digest = hash.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

fn feed_bytes(hash: &mut sha2::Sha256, bytes: &[u8]) {
    use sha2::Digest;
    hash.update((bytes.len() as u64).to_le_bytes());
    hash.update(bytes);
}

fn feed_value(hash: &mut sha2::Sha256, value: &AttributeValue) {
    use sha2::Digest;
    let count = |hash: &mut sha2::Sha256, tag: u8, n: usize| {
        hash.update([tag]);
        hash.update((n as u64).to_le_bytes());
    };
    match value {
        AttributeValue::N(n) => {
            hash.update([b'N']);
            feed_bytes(hash, n.as_bytes());
        }
        AttributeValue::S(s) => {
            hash.update([b'S']);
            feed_bytes(hash, s.as_bytes());
        }
        AttributeValue::Bool(b) => hash.update([b'T', u8::from(*b)]),
        AttributeValue::B(b) => {
            hash.update([b'B']);
            feed_bytes(hash, b);
        }
        AttributeValue::Null(n) => hash.update([b'0', u8::from(*n)]),
        AttributeValue::M(m) => {
            count(hash, b'M', m.len());
            let mut names: Vec<&String> = m.keys().collect();
            names.sort_unstable();
            for name in names {
                feed_bytes(hash, name.as_bytes());
                if let Some(v) = m.get(name) {
                    feed_value(hash, v);
                }
            }
        }
        AttributeValue::L(l) => {
            count(hash, b'L', l.len());
            for v in l {
                feed_value(hash, v);
            }
        }
        AttributeValue::Ss(ss) | AttributeValue::Ns(ss) => {
            count(
                hash,
                if matches!(value, AttributeValue::Ss(_)) {
                    b's'
                } else {
                    b'n'
                },
                ss.len(),
            );
            for s in ss {
                feed_bytes(hash, s.as_bytes());
            }
        }
        AttributeValue::Bs(bs) => {
            count(hash, b'b', bs.len());
            for b in bs {
                feed_bytes(hash, b);
            }
        }
    }
}

fn cancellation_reason(code: Option<&str>) -> CancellationReason {
    match code {
        None | Some("None") => CancellationReason::None,
        Some("ConditionalCheckFailed") => CancellationReason::ConditionalCheckFailed,
        Some(other) => CancellationReason::Other(other.to_string()),
    }
}

#[async_trait]
impl GetItem for DynamoDbTables {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key_of(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item.map(from_dynamo))
    }
}

#[async_trait]
impl BatchGetItems for DynamoDbTables {
    async fn batch_get(&self, table: &str, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET {
            return Err(StoreError::InvalidRequest(format!(
                "BatchGetItem of {} keys; at most {MAX_BATCH_GET}",
                keys.len()
            )));
        }
        let mut out = Vec::with_capacity(keys.len());
        let mut pending: Vec<DynamoItem> = keys.iter().map(key_of).collect();
        let mut round = 0;
        while !pending.is_empty() {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(|e| build_error("BatchGetItem", e))?;
            let response = self
                .client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| store_error("BatchGetItem", e))?;
            if let Some(mut responses) = response.responses {
                out.extend(
                    responses
                        .remove(table)
                        .unwrap_or_default()
                        .into_iter()
                        .map(from_dynamo),
                );
            }
            pending = response
                .unprocessed_keys
                .and_then(|mut u| u.remove(table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !pending.is_empty() {
                round += 1;
                wait_for_unprocessed("BatchGetItem", round, pending.len()).await?;
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl QueryItems for DynamoDbTables {
    async fn query(
        &self,
        table: &str,
        pk: &str,
        sk_prefix: Option<&str>,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let mut values = HashMap::from([(":pk".to_string(), Av::S(pk.to_string()))]);
        let expression = match sk_prefix {
            Some(prefix) => {
                values.insert(":prefix".into(), Av::S(prefix.to_string()));
                "pk = :pk AND begins_with(sk, :prefix)"
            }
            None => "pk = :pk",
        };
        let out = self
            .client
            .query()
            .table_name(table)
            .key_condition_expression(expression)
            .set_expression_attribute_values(Some(values))
            .set_exclusive_start_key(start.map(key_of))
            .limit(page_limit(limit))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("Query", e))?;
        Ok(page(out.items, out.last_evaluated_key))
    }
}

#[async_trait]
impl ScanItems for DynamoDbTables {
    async fn scan(
        &self,
        table: &str,
        segment: u32,
        total_segments: u32,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let out = self
            .client
            .scan()
            .table_name(table)
            .segment(segment as i32)
            .total_segments(total_segments as i32)
            .set_exclusive_start_key(start.map(key_of))
            .limit(page_limit(limit))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("Scan", e))?;
        Ok(page(out.items, out.last_evaluated_key))
    }
}

#[async_trait]
impl PutItem for DynamoDbTables {
    async fn put_item(&self, put: Put) -> Result<(), WriteError> {
        check_keys(&put)?;
        let c = condition(put.condition);
        let result = self
            .client
            .put_item()
            .table_name(&put.table)
            .set_item(Some(to_dynamo(put.item)))
            .set_condition_expression(c.expression)
            .set_expression_attribute_names(c.names)
            .set_expression_attribute_values(c.values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(WriteError::ConditionFailed)
                }
                _ => Err(WriteError::Store(store_error("PutItem", e))),
            },
        }
    }
}

#[async_trait]
impl TransactWrite for DynamoDbTables {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        if puts.len() > MAX_TRANSACT_ITEMS {
            return Err(WriteError::Store(StoreError::InvalidRequest(format!(
                "TransactWriteItems of {} items; at most {MAX_TRANSACT_ITEMS}",
                puts.len()
            ))));
        }
        let token = client_request_token(puts);
        let mut seen = std::collections::HashSet::new();
        let mut items = Vec::with_capacity(puts.len());
        for put in puts {
            check_keys(put)?;
            let key = put.key();
            if !seen.insert((put.table.clone(), key.clone())) {
                return Err(WriteError::Store(StoreError::InvalidRequest(format!(
                    "TransactWriteItems: two operations on {} in table {}",
                    key, put.table
                ))));
            }
            let c = condition(put.condition);
            let dynamo_put = DynamoPut::builder()
                .table_name(&put.table)
                // The SDK's request owns its values: the one copy of a put on this path.
                .set_item(Some(to_dynamo_ref(&put.item)))
                .set_condition_expression(c.expression)
                .set_expression_attribute_names(c.names)
                .set_expression_attribute_values(c.values)
                .build()
                .map_err(|e| build_error("TransactWriteItems", e))?;
            items.push(TransactWriteItem::builder().put(dynamo_put).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    Err(WriteError::Cancelled(
                        cancelled
                            .cancellation_reasons()
                            .iter()
                            .map(|r| cancellation_reason(r.code()))
                            .collect(),
                    ))
                }
                _ => Err(WriteError::Store(store_error("TransactWriteItems", e))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value of every kind, nested; its maps are filled in the order given.
    fn every_kind(names: &[&str]) -> AttributeValue {
        let inner: HashMap<String, AttributeValue> = names
            .iter()
            .map(|n| (n.to_string(), AttributeValue::S(format!("v-{n}"))))
            .collect();
        AttributeValue::M(HashMap::from([
            ("n".to_string(), AttributeValue::N("-1.50".into())),
            ("b".to_string(), AttributeValue::B(vec![0, 1, 255])),
            ("t".to_string(), AttributeValue::Bool(true)),
            ("z".to_string(), AttributeValue::Null(true)),
            (
                "l".to_string(),
                AttributeValue::L(vec![
                    AttributeValue::M(inner.clone()),
                    AttributeValue::S("x".into()),
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

    #[test]
    fn a_borrowed_conversion_is_serde_dynamos() {
        let value = every_kind(&["a", "b", "c"]);
        assert_eq!(sdk_value(&value), Av::from(value.clone()));
        let mut item = Item::new();
        item.insert("pk".into(), crate::value::s("P#t"));
        item.insert("v".into(), value);
        assert_eq!(to_dynamo_ref(&item), to_dynamo(item.clone()));
    }

    #[test]
    fn the_request_token_follows_the_content_not_the_maps_order() {
        let put = |names: &[&str], condition: Condition| {
            let mut item = Item::new();
            item.insert("pk".into(), crate::value::s("P#t"));
            item.insert("sk".into(), crate::value::s("s"));
            item.insert("v".into(), every_kind(names));
            Put {
                table: "data".into(),
                item,
                condition,
            }
        };
        let names: Vec<String> = (0..32).map(|i| format!("k{i}")).collect();
        let forward: Vec<&str> = names.iter().map(String::as_str).collect();
        let backward: Vec<&str> = forward.iter().rev().copied().collect();
        let token = client_request_token(&[put(&forward, Condition::NotExists)]);
        // Nested maps built in another order (and hashed with another seed): the same token.
        assert_eq!(
            token,
            client_request_token(&[put(&backward, Condition::NotExists)])
        );
        // Other content, another condition, another table: another token.
        assert_ne!(
            token,
            client_request_token(&[put(&forward[1..], Condition::NotExists)])
        );
        assert_ne!(
            token,
            client_request_token(&[put(&forward, Condition::VersionEquals(3))])
        );
        let mut elsewhere = put(&forward, Condition::NotExists);
        elsewhere.table = "command".into();
        assert_ne!(token, client_request_token(&[elsewhere]));
        assert_eq!(token.len(), 32);
    }

    #[test]
    fn numbers_convert_exactly_both_ways() {
        let mut item = Item::new();
        item.insert("pk".into(), crate::value::s("P#t"));
        item.insert(
            "n".into(),
            crate::value::AttributeValue::N("12345678901234567890123456789012345678".into()),
        );
        let dynamo = to_dynamo(item.clone());
        assert_eq!(
            dynamo.get("n"),
            Some(&Av::N("12345678901234567890123456789012345678".into()))
        );
        assert_eq!(from_dynamo(dynamo), item);
    }

    #[test]
    fn cancellation_codes_map_to_reasons() {
        assert_eq!(cancellation_reason(Some("None")), CancellationReason::None);
        assert_eq!(
            cancellation_reason(Some("ConditionalCheckFailed")),
            CancellationReason::ConditionalCheckFailed
        );
        assert_eq!(
            cancellation_reason(Some("TransactionConflict")),
            CancellationReason::Other("TransactionConflict".into())
        );
    }

    #[test]
    fn transaction_tokens_are_stable_and_fit_the_limit() {
        let put = |v: &str| {
            let mut item = Item::new();
            item.insert("pk".into(), crate::value::s("P#t"));
            item.insert("sk".into(), crate::value::s(v));
            Put::new("t", item, Condition::NotExists)
        };
        let a = client_request_token(&[put("a"), put("b")]);
        assert_eq!(a, client_request_token(&[put("a"), put("b")]));
        assert_ne!(a, client_request_token(&[put("a"), put("c")]));
        assert!(a.len() <= 36, "ClientRequestToken is at most 36 characters");
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert!(backoff(1) < backoff(2));
        assert_eq!(backoff(30), Duration::from_millis(2000));
    }
}
