//! The table port on SQLite (rusqlite, bundled), with DynamoDB Streams semantics.
//!
//! Every table of the pipeline shares one SQL table `items(tbl, pk, sk, ...)`; items are stored
//! as DynamoDB JSON so numbers keep their exact text. Each successful write to a table whose
//! stream is enabled appends its stream record (INSERT/MODIFY/REMOVE with old and new image) in
//! the *same* SQLite transaction, so the stream can never miss or invent a change. Like
//! DynamoDB, a write that changes nothing yields no stream record.
//!
//! Parallel scan segments are ranges of a 32-bit hash of the pk (stored in column `h`), so each
//! segment is an index range rather than a filter over the whole table.

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::error::StoreError;
use crate::keys::Key;
use crate::ports::stream::{StreamEventName, StreamPosition, StreamReader, StreamRecord};
use crate::ports::table::{
    BatchGetItems, CancellationReason, Condition, GetItem, MAX_BATCH_GET, MAX_TRANSACT_ITEMS, Page,
    Put, PutItem, QueryItems, ScanItems, TransactWrite, WriteError,
};
use crate::value::{Item, get_n, get_s};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    tbl  TEXT NOT NULL,
    pk   TEXT NOT NULL,
    sk   TEXT NOT NULL,
    h    INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_hash ON items (tbl, h, pk, sk);
CREATE TABLE IF NOT EXISTS stream_tables (tbl TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_records (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl        TEXT NOT NULL,
    event_name TEXT NOT NULL,
    pk         TEXT NOT NULL,
    sk         TEXT NOT NULL,
    old_image  TEXT,
    new_image  TEXT
);
CREATE INDEX IF NOT EXISTS stream_by_table ON stream_records (tbl, seq);
";

/// All tables of one embedded state directory.
pub struct SqliteTables {
    conn: Mutex<Connection>,
    /// Tables whose stream is on (persisted in `stream_tables`, cached: every write asks).
    streamed: RwLock<HashSet<String>>,
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            StoreError::Transient(e.to_string())
        }
        other => StoreError::Other(other.to_string()),
    }
}

/// FNV-1a: a stable hash of the pk that decides its scan segment.
fn pk_hash(pk: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in pk.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn encode(item: &Item) -> Result<String, StoreError> {
    serde_json::to_string(item)
        .map_err(|e| StoreError::InvalidRequest(format!("item cannot be encoded: {e}")))
}

fn decode(body: &str) -> Result<Item, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn key_of(item: &Item) -> Result<Key, StoreError> {
    match (get_s(item, "pk"), get_s(item, "sk")) {
        (Some(pk), Some(sk)) if !pk.is_empty() && !sk.is_empty() => Ok(Key::new(pk, sk)),
        _ => Err(StoreError::InvalidRequest(
            "item must have non-empty string pk and sk".into(),
        )),
    }
}

fn condition_holds(condition: Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::None => true,
        Condition::NotExists => current.is_none(),
        Condition::VersionEquals(v) => {
            current
                .and_then(|item| get_n(item, "version"))
                .and_then(|n| n.parse::<u64>().ok())
                == Some(v)
        }
    }
}

impl SqliteTables {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).map_err(sql_err)?;
        Self::init(conn)
    }

    /// An in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(sql_err)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql_err)?;
        // WAL: readers do not block the writer; NORMAL sync is durable across process crashes
        // (a kill -9 loses nothing committed), which is what resume relies on.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_err)?;
        conn.execute_batch(SCHEMA).map_err(sql_err)?;
        let streamed = conn
            .prepare("SELECT tbl FROM stream_tables")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<Result<HashSet<String>, _>>()
            })
            .map_err(sql_err)?;
        Ok(SqliteTables {
            conn: Mutex::new(conn),
            streamed: RwLock::new(streamed),
        })
    }

    /// Turns on the stream of `table` (NEW_AND_OLD_IMAGES).
    pub fn enable_stream(&self, table: &str) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "INSERT OR IGNORE INTO stream_tables (tbl) VALUES (?1)",
                params![table],
            )
            .map_err(sql_err)?;
        self.streamed
            .write()
            .map_err(|_| StoreError::Other("the stream table lock was poisoned".into()))?
            .insert(table.to_string());
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn
            .lock()
            .map_err(|_| StoreError::Other("the SQLite connection lock was poisoned".into()))
    }

    fn read(conn: &Connection, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let body: Option<String> = conn
            .query_row(
                "SELECT body FROM items WHERE tbl = ?1 AND pk = ?2 AND sk = ?3",
                params![table, key.pk, key.sk],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql_err)?;
        body.as_deref().map(decode).transpose()
    }

    fn stream_enabled(&self, table: &str) -> bool {
        self.streamed.read().is_ok_and(|s| s.contains(table))
    }

    /// Writes one item and its stream record; the caller has checked the condition.
    fn write(
        &self,
        conn: &Connection,
        table: &str,
        key: &Key,
        item: &Item,
        old: Option<Item>,
    ) -> Result<(), StoreError> {
        if old.as_ref() == Some(item) {
            return Ok(()); // nothing changes: DynamoDB writes no stream record either
        }
        let body = encode(item)?;
        conn.execute(
            "INSERT INTO items (tbl, pk, sk, h, body) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tbl, pk, sk) DO UPDATE SET body = excluded.body",
            params![table, key.pk, key.sk, pk_hash(&key.pk), body],
        )
        .map_err(sql_err)?;
        if self.stream_enabled(table) {
            let event = if old.is_some() {
                StreamEventName::Modify
            } else {
                StreamEventName::Insert
            };
            let old_body = old.as_ref().map(encode).transpose()?;
            conn.execute(
                "INSERT INTO stream_records (tbl, event_name, pk, sk, old_image, new_image)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![table, event.as_str(), key.pk, key.sk, old_body, body],
            )
            .map_err(sql_err)?;
        }
        Ok(())
    }

    /// The limits DynamoDB enforces (key lengths, size, nesting), as the DynamoDB adapter checks them.
    fn check_size(item: &Item) -> Result<(), StoreError> {
        crate::limits::check_item(item).map_err(StoreError::InvalidRequest)
    }

    fn page(rows: Vec<(String, String, String)>, limit: usize) -> Result<Page, StoreError> {
        let next = if rows.len() == limit {
            rows.last().map(|(pk, sk, _)| Key::new(pk, sk))
        } else {
            None
        };
        let items = rows
            .iter()
            .map(|(_, _, body)| decode(body))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}

#[async_trait]
impl GetItem for SqliteTables {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let conn = self.lock()?;
        Self::read(&conn, table, key)
    }
}

#[async_trait]
impl BatchGetItems for SqliteTables {
    async fn batch_get(&self, table: &str, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET {
            return Err(StoreError::InvalidRequest(format!(
                "batch get of {} keys (max {MAX_BATCH_GET})",
                keys.len()
            )));
        }
        let conn = self.lock()?;
        let mut out = Vec::with_capacity(keys.len());
        let mut seen = std::collections::HashSet::new();
        for key in keys {
            if !seen.insert(key) {
                return Err(StoreError::InvalidRequest(format!(
                    "duplicate key in batch get: {key}"
                )));
            }
            if let Some(item) = Self::read(&conn, table, key)? {
                out.push(item);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl QueryItems for SqliteTables {
    async fn query(
        &self,
        table: &str,
        pk: &str,
        sk_prefix: Option<&str>,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let conn = self.lock()?;
        let prefix = sk_prefix.unwrap_or("");
        let after = start.map(|k| k.sk.as_str());
        let mut stmt = conn
            .prepare_cached(
                "SELECT pk, sk, body FROM items
                 WHERE tbl = ?1 AND pk = ?2 AND sk >= ?3 AND substr(sk, 1, length(?3)) = ?3
                   AND (?4 IS NULL OR sk > ?4)
                 ORDER BY sk LIMIT ?5",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![table, pk, prefix, after, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(sql_err)?
            .collect::<Result<Vec<(String, String, String)>, _>>()
            .map_err(sql_err)?;
        Self::page(rows, limit)
    }
}

#[async_trait]
impl ScanItems for SqliteTables {
    async fn scan(
        &self,
        table: &str,
        segment: u32,
        total_segments: u32,
        start: Option<&Key>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        if total_segments == 0 || segment >= total_segments {
            return Err(StoreError::InvalidRequest(format!(
                "segment {segment} of {total_segments}"
            )));
        }
        let width = (1u64 << 32) / u64::from(total_segments);
        let lo = u64::from(segment) * width;
        let hi = if segment + 1 == total_segments {
            1u64 << 32
        } else {
            lo + width
        };
        let conn = self.lock()?;
        let (h0, pk0, sk0) = match start {
            Some(k) => (i64::from(pk_hash(&k.pk)), k.pk.clone(), k.sk.clone()),
            None => (-1, String::new(), String::new()),
        };
        let mut stmt = conn
            .prepare_cached(
                "SELECT pk, sk, body FROM items
                 WHERE tbl = ?1 AND h >= ?2 AND h < ?3 AND (h, pk, sk) > (?4, ?5, ?6)
                 ORDER BY h, pk, sk LIMIT ?7",
            )
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(
                params![table, lo as i64, hi as i64, h0, pk0, sk0, limit as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(sql_err)?
            .collect::<Result<Vec<(String, String, String)>, _>>()
            .map_err(sql_err)?;
        Self::page(rows, limit)
    }
}

#[async_trait]
impl PutItem for SqliteTables {
    async fn put_item(&self, put: Put) -> Result<(), WriteError> {
        let key = key_of(&put.item)?;
        Self::check_size(&put.item)?;
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let old = Self::read(&tx, &put.table, &key)?;
        if !condition_holds(put.condition, old.as_ref()) {
            return Err(WriteError::ConditionFailed);
        }
        self.write(&tx, &put.table, &key, &put.item, old)?;
        tx.commit().map_err(sql_err)?;
        Ok(())
    }
}

#[async_trait]
impl TransactWrite for SqliteTables {
    async fn transact_write(&self, puts: Vec<Put>) -> Result<(), WriteError> {
        if puts.is_empty() || puts.len() > MAX_TRANSACT_ITEMS {
            return Err(StoreError::InvalidRequest(format!(
                "a transaction holds 1 to {MAX_TRANSACT_ITEMS} items, not {}",
                puts.len()
            ))
            .into());
        }
        let mut keys = Vec::with_capacity(puts.len());
        let mut seen = std::collections::HashSet::new();
        for put in &puts {
            let key = key_of(&put.item)?;
            Self::check_size(&put.item)?;
            if !seen.insert((put.table.clone(), key.clone())) {
                return Err(StoreError::InvalidRequest(format!(
                    "transaction has more than one operation on {} {key}",
                    put.table
                ))
                .into());
            }
            keys.push(key);
        }
        let mut conn = self.lock()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let mut olds = Vec::with_capacity(puts.len());
        let mut reasons = Vec::with_capacity(puts.len());
        for (put, key) in puts.iter().zip(&keys) {
            let old = Self::read(&tx, &put.table, key)?;
            reasons.push(if condition_holds(put.condition, old.as_ref()) {
                CancellationReason::None
            } else {
                CancellationReason::ConditionalCheckFailed
            });
            olds.push(old);
        }
        if reasons.iter().any(|r| *r != CancellationReason::None) {
            return Err(WriteError::Cancelled(reasons)); // dropping tx rolls back
        }
        for ((put, key), old) in puts.iter().zip(&keys).zip(olds) {
            self.write(&tx, &put.table, key, &put.item, old)?;
        }
        tx.commit().map_err(sql_err)?;
        Ok(())
    }
}

#[async_trait]
impl StreamReader for SqliteTables {
    async fn read_stream(
        &self,
        table: &str,
        position: &StreamPosition,
        limit: usize,
    ) -> Result<(Vec<StreamRecord>, StreamPosition), StoreError> {
        let after: i64 = match &position.0 {
            Some(p) => p
                .parse()
                .map_err(|_| StoreError::InvalidRequest(format!("bad stream position {p:?}")))?,
            None => 0,
        };
        let conn = self.lock()?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, event_name, pk, sk, old_image, new_image FROM stream_records
                 WHERE tbl = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(sql_err)?;
        type Row = (i64, String, String, String, Option<String>, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map(params![table, after, limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .map_err(sql_err)?
            .collect::<Result<_, _>>()
            .map_err(sql_err)?;
        let mut next = after;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, event, pk, sk, old, new) in rows {
            next = seq;
            let event_name = match event.as_str() {
                "INSERT" => StreamEventName::Insert,
                "MODIFY" => StreamEventName::Modify,
                "REMOVE" => StreamEventName::Remove,
                other => return Err(StoreError::Corrupt(format!("stream event {other:?}"))),
            };
            let mut keys = Item::new();
            keys.insert("pk".into(), crate::value::s(pk));
            keys.insert("sk".into(), crate::value::s(sk));
            out.push(StreamRecord {
                sequence_number: format!("{seq:021}"),
                event_name,
                keys,
                old_image: old.as_deref().map(decode).transpose()?,
                new_image: new.as_deref().map(decode).transpose()?,
            });
        }
        Ok((out, StreamPosition(Some(format!("{next:021}")))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_ranges_cover_every_pk() {
        let total = 3u32;
        let width = (1u64 << 32) / u64::from(total);
        for pk in ["a", "b", "PRODUCT#t1", ""] {
            let seg = (u64::from(pk_hash(pk)) / width).min(u64::from(total - 1));
            assert!(seg < u64::from(total));
        }
    }
}
