//! Fault injection at the table port: a wrapper that fails a share of the calls it passes on,
//! the way DynamoDB fails them — throttling and timeouts before a request reaches the table,
//! a timeout *after* a write committed (the caller cannot tell it happened), transactions
//! cancelled by a conflict, and batch reads whose keys stay unprocessed once the adapter's own
//! retries are spent.
//!
//! Which calls fail is a function of the seed and the call itself (operation, table, keys), not
//! of the order in which concurrent chunks make their calls, and a given call fails at most
//! once, as a transient fault does: a run is the same for the same seed, and the state
//! machine's retries can get every job through.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use shared::error::StoreError;
use shared::keys::Key;
use shared::ports::table::{
    BatchGetItems, CancellationReason, GetItem, Page, Put, PutItem, QueryItems, ScanItems, Table,
    TransactWrite, WriteError,
};
use shared::value::Item;
use std::sync::Arc;

/// One kind of failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `ProvisionedThroughputExceeded` / `ThrottlingException`: nothing happened.
    Throttled,
    /// The request timed out before the table saw it: nothing happened.
    TimeoutBefore,
    /// The write committed, then the response was lost: the caller sees a timeout.
    TimeoutAfterCommit,
    /// A transaction cancelled by another transaction on one of its items.
    TransactionConflict,
    /// BatchGetItem left keys unprocessed after the adapter's retries.
    UnprocessedKeys,
}

/// Fails about `per_mille`/1000 of the calls, choosing among `faults` those that apply to each
/// call (reads: throttling, timeouts, unprocessed keys; writes: all but unprocessed keys).
pub struct FaultyTable {
    inner: Arc<dyn Table>,
    faults: Vec<Fault>,
    per_mille: u64,
    seed: u64,
    /// Calls (by their hash) that failed once already.
    failed: Mutex<HashSet<u64>>,
    /// A call fails at most once (a transient fault); else every time (a persistent one).
    once: bool,
    /// Faults injected so far.
    pub injected: AtomicU64,
}

impl FaultyTable {
    pub fn new(inner: Arc<dyn Table>, faults: &[Fault], per_mille: u64, seed: u64) -> Self {
        FaultyTable {
            inner,
            faults: faults.to_vec(),
            per_mille,
            seed,
            failed: Mutex::new(HashSet::new()),
            once: true,
            injected: AtomicU64::new(0),
        }
    }

    /// Every call that `faults` apply to fails, every time: the retries cannot help.
    pub fn always(inner: Arc<dyn Table>, faults: &[Fault]) -> Self {
        FaultyTable {
            once: false,
            ..FaultyTable::new(inner, faults, 1000, 0)
        }
    }

    /// The fault for this call (`call` names it: operation, table, keys), if it is one of the
    /// failing share and has not failed before.
    fn pick(&self, call: impl Hash, applies: impl Fn(Fault) -> bool) -> Option<Fault> {
        let candidates: Vec<Fault> = self
            .faults
            .iter()
            .copied()
            .filter(|f| applies(*f))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let mut h = DefaultHasher::new();
        (self.seed, call).hash(&mut h);
        let r = h.finish();
        if r % 1000 >= self.per_mille || (!self.failed.lock().unwrap().insert(r) && self.once) {
            return None;
        }
        self.injected.fetch_add(1, Ordering::Relaxed);
        Some(candidates[(r / 1000) as usize % candidates.len()])
    }

    fn read_fault(&self, call: impl Hash) -> Result<(), StoreError> {
        match self.pick(call, |f| {
            matches!(f, Fault::Throttled | Fault::TimeoutBefore)
        }) {
            Some(f) => Err(transient(f)),
            None => Ok(()),
        }
    }
}

fn key_of(item: &Item) -> Option<Key> {
    Some(Key::new(
        shared::value::get_s(item, "pk")?,
        shared::value::get_s(item, "sk")?,
    ))
}

fn transient(fault: Fault) -> StoreError {
    StoreError::Transient(format!("injected: {fault:?}"))
}

#[async_trait]
impl GetItem for FaultyTable {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read_fault(("GetItem", table, key))?;
        self.inner.get_item(table, key).await
    }
}

#[async_trait]
impl BatchGetItems for FaultyTable {
    async fn batch_get(&self, table: &str, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.batch_read_fault(table, keys)?;
        self.inner.batch_get(table, keys).await
    }

    async fn batch_get_projected(
        &self,
        table: &str,
        keys: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        self.batch_read_fault(table, keys)?;
        self.inner.batch_get_projected(table, keys, names).await
    }
}

impl FaultyTable {
    /// The fault, if any, a BatchGetItem of `keys` meets (the same for a projected one).
    fn batch_read_fault(&self, table: &str, keys: &[Key]) -> Result<(), StoreError> {
        match self.pick(("BatchGetItem", table, keys), |f| {
            matches!(
                f,
                Fault::Throttled | Fault::TimeoutBefore | Fault::UnprocessedKeys
            )
        }) {
            Some(Fault::UnprocessedKeys) => Err(StoreError::Transient(
                "injected: keys left unprocessed after retries".into(),
            )),
            Some(f) => Err(transient(f)),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl QueryItems for FaultyTable {
    async fn query(
        &self,
        table: &str,
        pk: &str,
        sk_prefix: Option<&str>,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.read_fault(("Query", table, pk, sk_prefix, start))?;
        self.inner.query(table, pk, sk_prefix, start, limit).await
    }
}

#[async_trait]
impl ScanItems for FaultyTable {
    async fn scan(
        &self,
        table: &str,
        segment: u32,
        total_segments: u32,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.read_fault(("Scan", table, segment, start))?;
        self.inner
            .scan(table, segment, total_segments, start, limit)
            .await
    }
}

#[async_trait]
impl PutItem for FaultyTable {
    async fn put_item(&self, put: Put) -> Result<(), WriteError> {
        match self.pick(("PutItem", &put.table, key_of(&put.item)), |f| {
            matches!(
                f,
                Fault::Throttled | Fault::TimeoutBefore | Fault::TimeoutAfterCommit
            )
        }) {
            Some(Fault::TimeoutAfterCommit) => {
                self.inner.put_item(put).await?;
                Err(transient(Fault::TimeoutAfterCommit).into())
            }
            Some(f) => Err(transient(f).into()),
            None => self.inner.put_item(put).await,
        }
    }
}

#[async_trait]
impl TransactWrite for FaultyTable {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        let keys: Vec<(&str, Option<Key>)> = puts
            .iter()
            .map(|p| (p.table.as_str(), key_of(&p.item)))
            .collect();
        match self.pick(("TransactWriteItems", keys), |f| {
            f != Fault::UnprocessedKeys
        }) {
            Some(Fault::TimeoutAfterCommit) => {
                self.inner.transact_write(puts).await?;
                Err(transient(Fault::TimeoutAfterCommit).into())
            }
            Some(Fault::TransactionConflict) => Err(WriteError::Cancelled(
                puts.iter()
                    .enumerate()
                    .map(|(i, _)| {
                        if i == 0 {
                            CancellationReason::Other("TransactionConflict".into())
                        } else {
                            CancellationReason::None
                        }
                    })
                    .collect(),
            )),
            Some(f) => Err(transient(f).into()),
            None => self.inner.transact_write(puts).await,
        }
    }
}
