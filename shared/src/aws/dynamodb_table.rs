//! The table port on DynamoDB. Items convert to the SDK's values and back here (`to_sdk`,
//! `from_sdk`: numbers stay strings, exact) where the SDK writes and reads the request itself;
//! reads are consistent; conditions are `attribute_not_exists(pk)` and `#version = :version`;
//! a cancelled transaction reports one reason per item; unprocessed keys and items of batch calls
//! are retried with backoff, up to a bound.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_smithy_types::body::SdkBody;

use super::dynamodb_json;
use super::errors::store_error;
use super::response_body::{KeepResponseBody, KeptBody};
use crate::error::StoreError;
use crate::keys::Key;
use crate::ports::table::{
    BatchGetItems, CancellationReason, Condition, GetItem, MAX_BATCH_GET, MAX_TRANSACT_ITEMS, Page,
    Put, PutItem, QueryItems, ScanItems, TransactWrite, WriteError,
};
use crate::value::{AttributeValue, Item, Text, get_s};

/// How often a batch call's unprocessed remainder is re-sent before giving up (Retryable).
const MAX_UNPROCESSED_ROUNDS: u32 = 8;

/// How many bytes of transaction bodies `transact_write_all` writes before it sends the first:
/// a wave of a 500-row chunk of the reference input is ≈2.3 MB; a transaction may reach
/// DynamoDB's 4 MB, so a wave of large items writes the rest one by one as it goes.
const BODIES_AHEAD_BYTES: usize = 8 * 1024 * 1024;

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
    item.into_iter()
        .map(|(k, v)| (k.into_owned(), to_sdk(v)))
        .collect()
}

fn from_dynamo(item: DynamoItem) -> Item {
    item.into_iter()
        .map(|(k, v)| (crate::value::owned_name(k), from_sdk(v)))
        .collect()
}

/// A value as the SDK holds it (the requests and responses the SDK builds and reads itself:
/// PutItem, GetItem, Query, Scan; the hot ones are written and read by `dynamodb_json` and
/// `batch_get_response`).
fn to_sdk(value: AttributeValue) -> Av {
    use aws_sdk_dynamodb::primitives::Blob;
    match value {
        AttributeValue::N(n) => Av::N(n.into_string()),
        AttributeValue::S(s) => Av::S(s.into_string()),
        AttributeValue::Bool(b) => Av::Bool(b),
        AttributeValue::B(b) => Av::B(Blob::new(b)),
        AttributeValue::Null(n) => Av::Null(n),
        AttributeValue::M(m) => Av::M(
            m.into_iter()
                .map(|(k, v)| (k.into_string(), to_sdk(v)))
                .collect(),
        ),
        AttributeValue::L(l) => Av::L(l.into_iter().map(to_sdk).collect()),
        AttributeValue::Ss(s) => Av::Ss(s.into_iter().map(Text::into_string).collect()),
        AttributeValue::Ns(n) => Av::Ns(n.into_iter().map(Text::into_string).collect()),
        AttributeValue::Bs(b) => Av::Bs(b.into_iter().map(Blob::new).collect()),
    }
}

/// A value the SDK read; a kind newer than this code knows is read as `NULL` (as the streams
/// adapter reads one) rather than failing the read, where serde_dynamo's conversion panicked.
/// Only what the SDK parses itself comes here (GetItem, Query and Scan: job records, exports,
/// TTL rules); BatchGetItem responses are read by `batch_get_response`, which refuses an unknown
/// kind.
fn from_sdk(value: Av) -> AttributeValue {
    match value {
        Av::N(n) => AttributeValue::N(n.into()),
        Av::S(s) => AttributeValue::S(s.into()),
        Av::Bool(b) => AttributeValue::Bool(b),
        Av::B(b) => AttributeValue::B(b.into_inner()),
        Av::Null(n) => AttributeValue::Null(n),
        Av::M(m) => AttributeValue::M(
            m.into_iter()
                .map(|(k, v)| (k.into(), from_sdk(v)))
                .collect(),
        ),
        Av::L(l) => AttributeValue::L(l.into_iter().map(from_sdk).collect()),
        Av::Ss(s) => AttributeValue::Ss(s.into_iter().map(Into::into).collect()),
        Av::Ns(n) => AttributeValue::Ns(n.into_iter().map(Into::into).collect()),
        Av::Bs(b) => AttributeValue::Bs(b.into_iter().map(|b| b.into_inner()).collect()),
        _ => AttributeValue::Null(true),
    }
}

fn key_of(key: &Key) -> DynamoItem {
    HashMap::from([
        ("pk".to_string(), Av::S(key.pk.to_string())),
        ("sk".to_string(), Av::S(key.sk.to_string())),
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
        self.batch_get_items(table, keys, None).await
    }

    async fn batch_get_projected(
        &self,
        table: &str,
        keys: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        self.batch_get_items(table, keys, Some(names)).await
    }
}

impl DynamoDbTables {
    /// BatchGetItem of `keys`, of only the attributes in `projection` when given (each name as
    /// a `#pN` placeholder, so reserved words such as `name` are fine), unprocessed keys asked
    /// again.
    async fn batch_get_items(
        &self,
        table: &str,
        keys: &[Key],
        projection: Option<&[&str]>,
    ) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET {
            return Err(StoreError::InvalidRequest(format!(
                "BatchGetItem of {} keys; at most {MAX_BATCH_GET}",
                keys.len()
            )));
        }
        if let Some(names) = projection {
            crate::ports::table::check_projection(names)?;
        }
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(keys.len());
        // The first round asks for the caller's keys as they are (no copy); later rounds for
        // the keys DynamoDB did not get to, read back from its answer.
        let mut unprocessed: Vec<Key> = Vec::new();
        let mut round = 0;
        loop {
            let asked = if round == 0 { keys } else { &unprocessed[..] };
            // The request body is written by us (`dynamodb_json::batch_get_body`) and the items
            // read from the response body by us (`batch_get_response`); the SDK signs and sends
            // an empty request's body swapped for ours, and parses `{}`.
            let body = bytes::Bytes::from(dynamodb_json::batch_get_body(table, asked, projection));
            let kept = KeptBody::default();
            self.client
                .batch_get_item()
                .set_request_items(Some(HashMap::new()))
                .customize()
                .mutate_request(with_body(body))
                .interceptor(KeepResponseBody(kept.clone()))
                .send()
                .await
                .map_err(|e| store_error("BatchGetItem", e))?;
            let body = kept.take().ok_or_else(|| {
                StoreError::Transient("BatchGetItem: the response had no body".into())
            })?;
            let mut response =
                super::batch_get_response::batch_get_response(&body).map_err(|e| {
                    StoreError::Transient(format!("BatchGetItem: unreadable response: {e}"))
                })?;
            out.extend(response.take_items(table));
            unprocessed = response
                .take_unprocessed_keys(table)
                .into_iter()
                .map(|key| match (get_s(&key, "pk"), get_s(&key, "sk")) {
                    (Some(pk), Some(sk)) => Ok(Key::new(pk, sk)),
                    // Not ours: every key we send has both. Retrying would not change it.
                    _ => Err(StoreError::Other(
                        "BatchGetItem: an unprocessed key without a string pk and sk".into(),
                    )),
                })
                .collect::<Result<_, _>>()?;
            if unprocessed.is_empty() {
                return Ok(out);
            }
            round += 1;
            wait_for_unprocessed("BatchGetItem", round, unprocessed.len()).await?;
        }
    }
}

/// What `mutate_request` runs to send `body`, written by us, in place of the SDK's own (empty)
/// request body: it runs before signing, on every attempt, so the signature and each retry
/// carry `body`. The SDK is handed an empty request (no items) and so writes next to nothing.
fn with_body(
    body: bytes::Bytes,
) -> impl Fn(&mut aws_smithy_runtime_api::http::Request) + Send + Sync + 'static {
    move |request| {
        *request.body_mut() = SdkBody::from(body.clone());
        request
            .headers_mut()
            .insert("Content-Length", body.len().to_string());
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

impl DynamoDbTables {
    /// A TransactWriteItems request's body for `puts`, checked before anything is sent.
    ///
    /// The body is written by us, straight from our items (see `dynamodb_json`); the SDK
    /// builds an empty request, and the body replaces its own before the request is signed
    /// (on every attempt: a retry sends the same bytes with the same token). Each item is
    /// measured as it is written and checked against DynamoDB's limits before anything is
    /// sent (the same answers as `limits::check_item`, without another walk over the item).
    /// Every item's limits are checked before the duplicate keys, as the embedded store
    /// checks them (`prepare_write`).
    fn transaction_body(puts: &[Put]) -> Result<bytes::Bytes, WriteError> {
        if puts.len() > MAX_TRANSACT_ITEMS {
            return Err(WriteError::Store(StoreError::InvalidRequest(format!(
                "TransactWriteItems of {} items; at most {MAX_TRANSACT_ITEMS}",
                puts.len()
            ))));
        }
        let written = dynamodb_json::transact_write_body(puts);
        for (put, measure) in puts.iter().zip(&written.measures) {
            crate::limits::check_measured(&put.item, measure.size, measure.too_deep.as_deref())
                .map_err(|why| {
                    StoreError::InvalidRequest(format!("an item for table {}: {why}", put.table))
                })?;
        }
        let mut seen =
            crate::hashing::FastSet::with_capacity_and_hasher(puts.len(), Default::default());
        for put in puts {
            let (pk, sk) = (get_s(&put.item, "pk"), get_s(&put.item, "sk"));
            if !seen.insert((put.table.as_str(), pk, sk)) {
                return Err(WriteError::Store(StoreError::InvalidRequest(format!(
                    "TransactWriteItems: two operations on {} in table {}",
                    put.key(),
                    put.table
                ))));
            }
        }
        Ok(bytes::Bytes::from(written.body))
    }

    /// The bodies of the first `transactions`, in order, written until `budget` bytes are
    /// (the bodies of the rest are written as they go out).
    fn bodies_ahead(
        transactions: &[&[Put]],
        budget: usize,
    ) -> Vec<Result<bytes::Bytes, WriteError>> {
        let mut ahead = Vec::with_capacity(transactions.len());
        let mut bytes = 0;
        for puts in transactions {
            if bytes >= budget {
                break;
            }
            let body = Self::transaction_body(puts);
            bytes += body.as_ref().map_or(0, bytes::Bytes::len);
            ahead.push(body);
        }
        ahead
    }

    /// Sends one TransactWriteItems request with `body` ([`Self::transaction_body`]).
    async fn send_transaction(&self, body: bytes::Bytes) -> Result<(), WriteError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(Vec::new()))
            .customize()
            .mutate_request(with_body(body))
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

#[async_trait]
impl TransactWrite for DynamoDbTables {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        let body = Self::transaction_body(puts)?;
        self.send_transaction(body).await
    }

    /// One request after the other, as the port's default, but the bodies are written first
    /// (up to [`BODIES_AHEAD_BYTES`] of them): the items were just built and are still in the
    /// CPU's caches, where after each wait for DynamoDB's answer they are not. A body that
    /// cannot be written answers only for its own transaction.
    async fn transact_write_all(&self, transactions: &[&[Put]]) -> Vec<Result<(), WriteError>> {
        let mut ahead = Self::bodies_ahead(transactions, BODIES_AHEAD_BYTES).into_iter();
        let mut out = Vec::with_capacity(transactions.len());
        for puts in transactions {
            let body = ahead.next().unwrap_or_else(|| Self::transaction_body(puts));
            out.push(match body {
                Ok(body) => self.send_transaction(body).await,
                Err(e) => Err(e),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bodies_are_written_ahead_within_the_budget() {
        let put = |sk: &str| {
            let mut item = Item::new();
            item.insert("pk".into(), crate::value::s("P#t"));
            item.insert("sk".into(), crate::value::s(sk));
            Put::new("data", item, Condition::NotExists)
        };
        let (a, b, c) = ([put("a")], [put("b"), put("b")], [put("c")]);
        let transactions: [&[Put]; 3] = [&a, &b, &c];
        // Every body, in order, when the budget allows; the refused one answers for itself.
        let all = DynamoDbTables::bodies_ahead(&transactions, usize::MAX);
        assert_eq!(all.len(), 3);
        assert!(all[0].is_ok() && all[2].is_ok());
        assert!(matches!(
            &all[1],
            Err(WriteError::Store(StoreError::InvalidRequest(_)))
        ));
        let first = all[0].as_ref().unwrap();
        assert_eq!(first, &DynamoDbTables::transaction_body(&a).unwrap());
        // Writing stops once the budget is spent (a refused body spends nothing).
        assert_eq!(
            DynamoDbTables::bodies_ahead(&transactions, first.len()).len(),
            1
        );
        assert_eq!(
            DynamoDbTables::bodies_ahead(&transactions, first.len() + 1).len(),
            3
        );
        assert_eq!(DynamoDbTables::bodies_ahead(&transactions, 0).len(), 0);
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        assert!(backoff(1) < backoff(2));
        assert_eq!(backoff(30), Duration::from_millis(2000));
    }

    /// A DynamoDB endpoint on loopback that answers each request with the next of its scripted
    /// bodies (HTTP 200, DynamoDB's JSON) and keeps the request bodies it was sent: moto never
    /// leaves keys unprocessed, so this is how the adapter's loop over them is driven.
    struct ScriptedEndpoint {
        url: String,
        requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    }

    impl ScriptedEndpoint {
        fn start(answers: Vec<&'static str>) -> Self {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let answers = std::sync::Arc::new(std::sync::Mutex::new(answers.into_iter()));
            let seen = requests.clone();
            std::thread::spawn(move || {
                // A thread per connection: the client may open another while one is pooled.
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let (answers, seen) = (answers.clone(), seen.clone());
                    std::thread::spawn(move || Self::serve(stream, &answers, &seen));
                }
            });
            ScriptedEndpoint { url, requests }
        }

        /// One connection's requests (the client keeps its connections alive), until it closes.
        fn serve(
            stream: std::net::TcpStream,
            answers: &std::sync::Mutex<std::vec::IntoIter<&'static str>>,
            seen: &std::sync::Mutex<Vec<String>>,
        ) {
            use std::io::{BufRead, Read, Write};
            let mut reader = std::io::BufReader::new(stream);
            loop {
                let mut length = 0;
                let mut line = String::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                seen.lock().unwrap().push(String::from_utf8(body).unwrap());
                // Past the script: a client error, which the SDK does not retry.
                let next = answers.lock().unwrap().next();
                let (status, answer) = match next {
                    Some(answer) => ("200 OK", answer),
                    None => (
                        "400 Bad Request",
                        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"past the script"}"#,
                    ),
                };
                write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\n\
                     Content-Length: {}\r\n\r\n{answer}",
                    answer.len()
                )
                .unwrap();
            }
        }

        fn tables(&self) -> DynamoDbTables {
            use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
            use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
            let config = aws_sdk_dynamodb::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                // A test that goes wrong fails instead of waiting for ever.
                .timeout_config(
                    TimeoutConfig::builder()
                        .operation_timeout(Duration::from_secs(20))
                        .build(),
                )
                .endpoint_url(&self.url)
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
                .build();
            DynamoDbTables::new(Client::from_conf(config))
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    fn body_text(body: Vec<u8>) -> String {
        String::from_utf8(body).unwrap()
    }

    #[tokio::test]
    async fn unprocessed_keys_are_asked_again_and_only_they() {
        let endpoint = ScriptedEndpoint::start(vec![
            r#"{"Responses":{"t":[{"pk":{"S":"P#1"},"sk":{"S":"a"},"n":{"N":"1"}}]},
               "UnprocessedKeys":{"t":{"ConsistentRead":true,"Keys":[
                 {"pk":{"S":"P#1"},"sk":{"S":"b"}},{"pk":{"S":"P#1"},"sk":{"S":"c"}}]}}}"#,
            r#"{"Responses":{"t":[{"pk":{"S":"P#1"},"sk":{"S":"c"},"n":{"N":"3"}}]},
               "UnprocessedKeys":{"t":{"ConsistentRead":true,"Keys":[
                 {"pk":{"S":"P#1"},"sk":{"S":"b"}}]}}}"#,
            r#"{"Responses":{"t":[{"pk":{"S":"P#1"},"sk":{"S":"b"},"n":{"N":"2"}}]},
               "UnprocessedKeys":{}}"#,
        ]);
        let keys = ["a", "b", "c"].map(|sk| Key::new("P#1", sk));
        let items = endpoint
            .tables()
            .batch_get_items("t", &keys, Some(&["n", "sk"]))
            .await
            .unwrap();
        let mut found: Vec<_> = items
            .iter()
            .map(|item| {
                (
                    get_s(item, "sk").unwrap().to_string(),
                    item.get("n").cloned(),
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            found,
            [("a", "1"), ("b", "2"), ("c", "3")]
                .map(|(sk, n)| (sk.to_string(), Some(AttributeValue::N(n.into()))))
        );
        // Each round asks for what was left, with the same projection.
        let projection = Some(&["n", "sk"][..]);
        assert_eq!(
            endpoint.requests(),
            [
                body_text(dynamodb_json::batch_get_body("t", &keys, projection)),
                body_text(dynamodb_json::batch_get_body("t", &keys[1..], projection)),
                body_text(dynamodb_json::batch_get_body("t", &keys[1..2], projection)),
            ]
        );
    }

    #[tokio::test]
    async fn a_malformed_unprocessed_key_is_an_error_not_a_retry() {
        let endpoint = ScriptedEndpoint::start(vec![
            r#"{"Responses":{"t":[]},
               "UnprocessedKeys":{"t":{"Keys":[{"pk":{"S":"P#1"},"sk":{"N":"1"}}]}}}"#,
        ]);
        let result = endpoint
            .tables()
            .batch_get_items("t", &[Key::new("P#1", "1")], None)
            .await;
        assert!(
            matches!(&result, Err(StoreError::Other(m)) if m.contains("unprocessed key")),
            "{result:?}"
        );
        assert_eq!(endpoint.requests().len(), 1);
    }

    #[tokio::test]
    async fn no_keys_is_no_request() {
        let endpoint = ScriptedEndpoint::start(vec![]);
        let items = endpoint.tables().batch_get("t", &[]).await.unwrap();
        assert!(items.is_empty());
        assert!(endpoint.requests().is_empty());
    }
}
