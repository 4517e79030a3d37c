//! The data table's event source mapping, played in-process: reads the stream after the last
//! checkpoint, hands batches of 100 to the `history` handler, and checkpoints after each batch;
//! a batch with failures is retried from its first failed record next time (Lambda's
//! ReportBatchItemFailures behaviour).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Error;
use crate::handlers::{Deps, history};
use crate::keys::Key;
use crate::ports::stream::{StreamPosition, StreamReader};
use crate::ports::table::{Condition, Put, Table};
use crate::value::{Item, get_s, s};

/// Where the pump keeps its checkpoint.
#[async_trait]
pub trait PositionStore: Send + Sync {
    async fn load(&self) -> Result<StreamPosition, Error>;
    async fn save(&self, position: &StreamPosition) -> Result<(), Error>;
}

/// A checkpoint that lives as long as the process (the moto tests).
#[derive(Default)]
pub struct MemoryPositions(std::sync::Mutex<StreamPosition>);

#[async_trait]
impl PositionStore for MemoryPositions {
    async fn load(&self) -> Result<StreamPosition, Error> {
        Ok(self.0.lock().map(|p| p.clone()).unwrap_or_default())
    }

    async fn save(&self, position: &StreamPosition) -> Result<(), Error> {
        if let Ok(mut p) = self.0.lock() {
            *p = position.clone();
        }
        Ok(())
    }
}

/// A checkpoint kept in a table (`pk = "STREAM"`, `sk` = the data table's name): survives the
/// process, as the embedded state directory does.
pub struct TablePositions {
    pub tables: Arc<dyn Table>,
    pub table: String,
    pub stream_of: String,
}

#[async_trait]
impl PositionStore for TablePositions {
    async fn load(&self) -> Result<StreamPosition, Error> {
        let item = self
            .tables
            .get_item(&self.table, &Key::new("STREAM", &self.stream_of))
            .await?;
        Ok(StreamPosition(
            item.as_ref()
                .and_then(|i| get_s(i, "position"))
                .map(str::to_string),
        ))
    }

    async fn save(&self, position: &StreamPosition) -> Result<(), Error> {
        let mut item = Item::new();
        item.insert("pk".into(), s("STREAM"));
        item.insert("sk".into(), s(&self.stream_of));
        if let Some(p) = &position.0 {
            item.insert("position".into(), s(p));
        }
        self.tables
            .put_item(Put::new(&self.table, item, Condition::None))
            .await?;
        Ok(())
    }
}

pub struct HistoryPump {
    stream: Arc<dyn StreamReader>,
    positions: Arc<dyn PositionStore>,
    lock: tokio::sync::Mutex<()>,
}

impl HistoryPump {
    pub fn new(stream: Arc<dyn StreamReader>, positions: Arc<dyn PositionStore>) -> Self {
        HistoryPump {
            stream,
            positions,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Delivers every pending record; an error when a batch had failures (they are redelivered
    /// by the next pump).
    pub async fn pump(&self, deps: &Deps) -> Result<u64, Error> {
        let _one_at_a_time = self.lock.lock().await;
        let data = &deps.table_names.data;
        let mut position = self.positions.load().await?;
        let mut delivered = 0;
        loop {
            let Some(batch) =
                history::deliver_batch(self.stream.as_ref(), data, &position, deps).await?
            else {
                return Ok(delivered);
            };
            delivered += batch.delivered;
            if batch.delivered > 0 {
                crate::kill_points::reached("history:delivered");
            }
            self.positions.save(&batch.position).await?;
            // Checkpointed: the stream need not keep these records (the embedded store frees
            // them; DynamoDB Streams expires them on its own).
            self.stream.trim_through(data, &batch.position).await?;
            if let Some(seq) = batch.failed_at {
                return Err(Error::Retryable(format!(
                    "history: stream record {seq} failed; will be retried"
                )));
            }
            position = batch.position;
        }
    }
}
