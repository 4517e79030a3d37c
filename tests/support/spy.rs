//! A table wrapper that records every transactional write (when, and its write units) and
//! otherwise passes each call to the store it wraps; optionally it plays a concurrent writer
//! just before the pipeline's first write.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use shared::error::StoreError;
use shared::keys::Key;
use shared::model::EntityRow;
use shared::ports::table::{
    BatchGetItems, Condition, GetItem, Page, Put, PutItem, QueryItems, ScanItems, Table,
    TransactWrite, WriteError,
};
use shared::value::Item;

pub struct RecordingTable {
    pub inner: Arc<dyn Table>,
    /// (when, write units) of every TransactWriteItems.
    pub writes: Mutex<Vec<(Instant, u64)>>,
    /// A concurrent update to commit once, before the first transactional write: the data
    /// row at `key` goes from version `at` to `at + 1`, named "concurrent".
    interference: Mutex<Option<(Key, u64)>>,
}

impl RecordingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        RecordingTable {
            inner,
            writes: Mutex::new(Vec::new()),
            interference: Mutex::new(None),
        }
    }

    /// A wrapper that lets someone else publish version `at + 1` of `key` between the
    /// pipeline's compare and its first publish.
    pub fn interfering(inner: Arc<dyn Table>, key: Key, at: u64) -> Self {
        let table = RecordingTable::new(inner);
        *table.interference.lock().unwrap() = Some((key, at));
        table
    }

    async fn interfere(&self) {
        let Some((key, at)) = self.interference.lock().unwrap().take() else {
            return;
        };
        let item = self.inner.get_item("data", &key).await.unwrap().unwrap();
        let mut row = EntityRow::from_data_item(&item).unwrap();
        row.version = at + 1;
        row.name = "concurrent".into();
        self.inner
            .put_item(Put::new(
                "data",
                row.to_data_item(),
                Condition::VersionEquals(at),
            ))
            .await
            .unwrap();
    }

    /// Write units per whole second since the first write.
    pub fn units_per_second(&self) -> Vec<u64> {
        let writes = self.writes.lock().unwrap();
        let Some(first) = writes.first().map(|w| w.0) else {
            return Vec::new();
        };
        let mut out: Vec<u64> = Vec::new();
        for (at, units) in writes.iter() {
            let second = at.duration_since(first).as_secs() as usize;
            if out.len() <= second {
                out.resize(second + 1, 0);
            }
            out[second] += units;
        }
        out
    }
}

#[async_trait]
impl GetItem for RecordingTable {
    async fn get_item(&self, t: &str, k: &Key) -> Result<Option<Item>, StoreError> {
        self.inner.get_item(t, k).await
    }
}
#[async_trait]
impl BatchGetItems for RecordingTable {
    async fn batch_get(&self, t: &str, k: &[Key]) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get(t, k).await
    }
    async fn batch_get_projected(
        &self,
        t: &str,
        k: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        self.inner.batch_get_projected(t, k, names).await
    }
}
#[async_trait]
impl QueryItems for RecordingTable {
    async fn query(
        &self,
        t: &str,
        pk: &str,
        p: Option<&str>,
        s: Option<&Key>,
        l: usize,
    ) -> Result<Page, StoreError> {
        self.inner.query(t, pk, p, s, l).await
    }
}
#[async_trait]
impl ScanItems for RecordingTable {
    async fn scan(
        &self,
        t: &str,
        a: u32,
        b: u32,
        s: Option<&Key>,
        l: usize,
    ) -> Result<Page, StoreError> {
        self.inner.scan(t, a, b, s, l).await
    }
}
#[async_trait]
impl PutItem for RecordingTable {
    async fn put_item(&self, p: Put) -> Result<(), WriteError> {
        self.inner.put_item(p).await
    }
}
#[async_trait]
impl TransactWrite for RecordingTable {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        self.interfere().await;
        let units = shared::write_budget::transact_units(puts);
        if let Ok(mut w) = self.writes.lock() {
            w.push((Instant::now(), units));
        }
        self.inner.transact_write(puts).await
    }
}
