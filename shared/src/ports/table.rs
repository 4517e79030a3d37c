//! A DynamoDB-like table store. Every table of the pipeline has a string `pk` (hash key) and a
//! string `sk` (range key); items are [`Item`]s with DynamoDB attribute values.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::keys::Key;
use crate::value::Item;

/// DynamoDB's limits, enforced by every adapter so the embedded store fails where AWS would.
pub const MAX_BATCH_GET: usize = 100;
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// The condition of a put (our subset of DynamoDB condition expressions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Unconditional.
    None,
    /// `attribute_not_exists(pk)`.
    NotExists,
    /// `version = :v` (the item must exist with that version).
    VersionEquals(u64),
}

/// One put, conditional or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub table: String,
    pub item: Item,
    pub condition: Condition,
}

impl Put {
    pub fn new(table: impl Into<String>, item: Item, condition: Condition) -> Self {
        Put {
            table: table.into(),
            item,
            condition,
        }
    }

    /// The key of the item (empty strings when the item lacks pk/sk; adapters reject those).
    pub fn key(&self) -> Key {
        Key::new(
            crate::value::get_s(&self.item, "pk").unwrap_or_default(),
            crate::value::get_s(&self.item, "sk").unwrap_or_default(),
        )
    }
}

/// Why one item of a cancelled transaction was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancellationReason {
    /// This item was fine; the transaction failed because of another one.
    None,
    /// This item's condition did not hold.
    ConditionalCheckFailed,
    /// Another reason reported by the store (e.g. `TransactionConflict`, `ThrottlingError`).
    Other(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A single conditional put whose condition did not hold.
    #[error("conditional check failed")]
    ConditionFailed,
    /// A transaction that was cancelled; one reason per item, in request order.
    #[error("transaction cancelled: {0:?}")]
    Cancelled(Vec<CancellationReason>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One page of a query or scan; `next` is the key to start after (DynamoDB's LastEvaluatedKey).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Key>,
}

#[async_trait]
pub trait GetItem: Send + Sync {
    /// A consistent read of one item.
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError>;
}

/// Why a projection cannot be asked for ([`BatchGetItems::batch_get_projected`]), if it cannot.
pub fn check_projection(names: &[&str]) -> Result<(), StoreError> {
    if names.is_empty() {
        return Err(StoreError::InvalidRequest(
            "a projection names no attribute".into(),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    match names.iter().find(|n| n.is_empty() || !seen.insert(**n)) {
        Some(&"") => Err(StoreError::InvalidRequest(
            "a projection names an empty attribute".into(),
        )),
        Some(n) => Err(StoreError::InvalidRequest(format!(
            "a projection names {n:?} twice"
        ))),
        None => Ok(()),
    }
}

#[async_trait]
pub trait BatchGetItems: Send + Sync {
    /// Consistent reads of up to [`MAX_BATCH_GET`] keys; absent items are simply missing from the
    /// result, whose order is unspecified. Unprocessed keys are retried by the adapter.
    async fn batch_get(&self, table: &str, keys: &[Key]) -> Result<Vec<Item>, StoreError>;

    /// [`Self::batch_get`] with each item holding only those of the top-level attributes in
    /// `names` that it has (DynamoDB's ProjectionExpression; key attributes too are returned
    /// only when named). A reader that looks at a few fields (Verify) has less sent, parsed and
    /// allocated. `names` must be non-empty and without repeats (DynamoDB refuses an empty
    /// projection and overlapping paths): both adapters refuse them as an invalid request.
    async fn batch_get_projected(
        &self,
        table: &str,
        keys: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError>;
}

#[async_trait]
pub trait QueryItems: Send + Sync {
    /// Items of one partition in ascending sk order (UTF-8 byte order), optionally only those
    /// whose sk begins with `sk_prefix`, starting after `start`, at most `limit` per page.
    async fn query(
        &self,
        table: &str,
        pk: &str,
        sk_prefix: Option<&str>,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError>;
}

#[async_trait]
pub trait ScanItems: Send + Sync {
    /// One page of one segment of a parallel scan; the segments partition the table.
    async fn scan(
        &self,
        table: &str,
        segment: u32,
        total_segments: u32,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError>;
}

#[async_trait]
pub trait PutItem: Send + Sync {
    /// A put with a condition; [`WriteError::ConditionFailed`] when it does not hold.
    async fn put_item(&self, put: Put) -> Result<(), WriteError>;
}

#[async_trait]
pub trait TransactWrite: Send + Sync {
    /// All or nothing, up to [`MAX_TRANSACT_ITEMS`] puts on distinct items.
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError>;

    /// Several transactions, one result each, in order: each is all or nothing on its own and
    /// sees the ones before it, exactly as if they were sent one after the other (one
    /// `TransactWriteItems` request each). A result is `Ok` only once that transaction is
    /// durable. The default sends them one after the other; the embedded store commits them
    /// together (one SQLite commit and WAL append for the lot instead of one per transaction,
    /// a savepoint per transaction keeping each atomic).
    async fn transact_write_all(&self, transactions: &[&[Put]]) -> Vec<Result<(), WriteError>> {
        let mut out = Vec::with_capacity(transactions.len());
        for puts in transactions {
            out.push(self.transact_write(puts).await);
        }
        out
    }
}

/// Everything the pipeline needs from a table store.
pub trait Table:
    GetItem + BatchGetItems + QueryItems + ScanItems + PutItem + TransactWrite
{
}

impl<T> Table for T where
    T: GetItem + BatchGetItems + QueryItems + ScanItems + PutItem + TransactWrite
{
}

/// Reads every item of one partition, page by page (for small partitions: job records, tests).
pub async fn query_all(
    table: &dyn Table,
    name: &str,
    pk: &str,
    sk_prefix: Option<&str>,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::new();
    let mut start: Option<Key> = None;
    loop {
        let page = table
            .query(name, pk, sk_prefix, start.as_ref(), 1000)
            .await?;
        out.extend(page.items);
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(out),
        }
    }
}
