//! Requests per operation, counted at the table port: the benchmark's figure of "DynamoDB
//! requests per row" on either store.
//!
//! [`CountedTable`] wraps any [`Table`] and counts each call (one call of the port is one request
//! to DynamoDB: the adapters send one GetItem, BatchGetItem, Query, Scan, PutItem or
//! TransactWriteItems per call; their own retries of unprocessed keys or throttled requests are
//! not counted) and the items it carried: keys asked for, items returned by a query or scan,
//! items written. A call that failed was still sent, so it counts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;

use crate::error::StoreError;
use crate::keys::Key;
use crate::ports::table::{
    BatchGetItems, GetItem, Page, Put, PutItem, QueryItems, ScanItems, Table, TransactWrite,
    WriteError,
};
use crate::value::Item;

/// One operation's requests and the items they carried.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OperationCount {
    pub requests: u64,
    pub items: u64,
}

/// Counts by DynamoDB operation name (`BatchGetItem`, `TransactWriteItems`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RequestCounts(pub BTreeMap<&'static str, OperationCount>);

impl RequestCounts {
    pub fn requests(&self) -> u64 {
        self.0.values().map(|c| c.requests).sum()
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts(
            self.0
                .iter()
                .map(|(op, c)| {
                    let before = earlier.0.get(op).copied().unwrap_or_default();
                    (
                        *op,
                        OperationCount {
                            requests: c.requests - before.requests,
                            items: c.items - before.items,
                        },
                    )
                })
                .filter(|(_, c)| c.requests > 0)
                .collect(),
        )
    }
}

pub struct CountedTable {
    inner: Arc<dyn Table>,
    counts: Mutex<RequestCounts>,
}

impl CountedTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        CountedTable {
            inner,
            counts: Mutex::new(RequestCounts::default()),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> RequestCounts {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn count(&self, operation: &'static str, items: usize) {
        if let Ok(mut counts) = self.counts.lock() {
            let c = counts.0.entry(operation).or_default();
            c.requests += 1;
            c.items += items as u64;
        }
    }
}

#[async_trait]
impl GetItem for CountedTable {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        self.count("GetItem", 1);
        self.inner.get_item(table, key).await
    }
}

#[async_trait]
impl BatchGetItems for CountedTable {
    async fn batch_get(&self, table: &str, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.count("BatchGetItem", keys.len());
        self.inner.batch_get(table, keys).await
    }

    async fn batch_get_projected(
        &self,
        table: &str,
        keys: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        self.count("BatchGetItem", keys.len());
        self.inner.batch_get_projected(table, keys, names).await
    }
}

#[async_trait]
impl QueryItems for CountedTable {
    async fn query(
        &self,
        table: &str,
        pk: &str,
        sk_prefix: Option<&str>,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let page = self.inner.query(table, pk, sk_prefix, start, limit).await;
        self.count("Query", page.as_ref().map_or(0, |p| p.items.len()));
        page
    }
}

#[async_trait]
impl ScanItems for CountedTable {
    async fn scan(
        &self,
        table: &str,
        segment: u32,
        total_segments: u32,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let page = self
            .inner
            .scan(table, segment, total_segments, start, limit)
            .await;
        self.count("Scan", page.as_ref().map_or(0, |p| p.items.len()));
        page
    }
}

#[async_trait]
impl PutItem for CountedTable {
    async fn put_item(&self, put: Put) -> Result<(), WriteError> {
        self.count("PutItem", 1);
        self.inner.put_item(put).await
    }
}

#[async_trait]
impl TransactWrite for CountedTable {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        self.count("TransactWriteItems", puts.len());
        self.inner.transact_write(puts).await
    }

    /// One `TransactWriteItems` request per transaction, however the store commits them.
    async fn transact_write_all(&self, transactions: &[&[Put]]) -> Vec<Result<(), WriteError>> {
        for puts in transactions {
            self.count("TransactWriteItems", puts.len());
        }
        self.inner.transact_write_all(transactions).await
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;
    use crate::embedded::SqliteTables;
    use crate::ports::table::Condition;
    use crate::value::s;

    fn item(sk: &str) -> Item {
        [("pk".into(), s("p")), ("sk".into(), s(sk))]
            .into_iter()
            .collect()
    }

    #[tokio::test]
    async fn each_call_is_one_request_with_its_items() {
        let t = CountedTable::new(Arc::new(SqliteTables::in_memory().unwrap()));
        t.transact_write(&[
            Put::new("t", item("a"), Condition::NotExists),
            Put::new("t", item("b"), Condition::NotExists),
        ])
        .await
        .unwrap();
        let before = t.counts();
        t.batch_get(
            "t",
            &[Key::new("p", "a"), Key::new("p", "b"), Key::new("p", "c")],
        )
        .await
        .unwrap();
        // A refused write was still sent.
        let refused = t
            .put_item(Put::new("t", item("a"), Condition::NotExists))
            .await;
        assert!(refused.is_err());
        let all = t.counts();
        assert_eq!(
            all.0["TransactWriteItems"],
            OperationCount {
                requests: 1,
                items: 2
            }
        );
        let since = all.since(&before);
        assert_eq!(since.requests(), 2);
        assert_eq!(since.0["BatchGetItem"].items, 3);
        assert!(!since.0.contains_key("TransactWriteItems"));
    }
}
