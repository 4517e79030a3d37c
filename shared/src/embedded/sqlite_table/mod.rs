//! The table port on SQLite (rusqlite, bundled), with DynamoDB Streams semantics.
//!
//! Every table of the pipeline shares one SQL table `items` (layout in [`layout`]); items are
//! stored in a compact binary form ([`codec`]) that keeps numbers' exact text. Each successful
//! write to a table whose stream is enabled appends its stream record (INSERT/MODIFY/REMOVE with
//! old and new image) in the *same* SQLite transaction, so the stream can never miss or invent a
//! change. Like DynamoDB, a write that changes nothing yields no stream record.
//!
//! Parallel scan segments are ranges of a 32-bit hash of the pk (column `h`, the first key
//! column of the one index), so each segment is an index range rather than a filter.
//!
//! Every statement is prepared once per connection (`prepare_cached`), and an item is encoded
//! once per write: the bytes of the old version read inside the transaction become the stream
//! record's old image as they are.

mod checkpointer;
mod codec;
mod layout;

use std::collections::{HashMap, HashSet};
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

pub use layout::LAYOUT_VERSION;

/// A table's row in `table_names`.
#[derive(Debug, Clone, Copy)]
struct TableMeta {
    id: i64,
    streamed: bool,
    /// The kinds of stream record kept (bits of [`event_bit`]); every kind unless
    /// [`SqliteTables::keep_stream_events`] narrowed it.
    kept: u8,
}

const ALL_EVENTS: u8 = 0b111;

fn event_bit(event: StreamEventName) -> u8 {
    match event {
        StreamEventName::Insert => 0b001,
        StreamEventName::Modify => 0b010,
        StreamEventName::Remove => 0b100,
    }
}

/// An item as read inside a write: its row id and stored bytes come along, so the write updates
/// the row in place and the stream record reuses the bytes.
struct Stored {
    row: i64,
    body: Vec<u8>,
    item: Item,
}

/// All tables of one embedded state directory.
pub struct SqliteTables {
    conn: Mutex<Connection>,
    /// `table_names`, cached: every call resolves its table.
    tables: RwLock<HashMap<String, TableMeta>>,
    /// Stream record kinds kept per table, when narrowed (see `keep_stream_events`).
    kept_events: RwLock<HashMap<String, u8>>,
    /// Checkpoints the WAL off the writers' path (none for an in-memory database, or where its
    /// thread could not start: the connection then checkpoints itself).
    checkpointer: Option<checkpointer::Checkpointer>,
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

fn poisoned(what: &str) -> StoreError {
    StoreError::Other(format!("the {what} lock was poisoned"))
}

impl SqliteTables {
    /// Opens (creating if needed, upgrading an older layout) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let conn = Connection::open(path).map_err(sql_err)?;
        let checkpointer = match checkpointer::Checkpointer::start(path) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint thread; the writes checkpoint the WAL themselves");
                None
            }
        };
        Self::init(conn, checkpointer)
    }

    /// An in-memory database (tests, benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(sql_err)?, None)
    }

    fn init(
        mut conn: Connection,
        checkpointer: Option<checkpointer::Checkpointer>,
    ) -> Result<Self, StoreError> {
        let role = if checkpointer.is_some() {
            layout::Role::WriterWithCheckpointer
        } else {
            layout::Role::Writer
        };
        layout::prepare(&mut conn, role)?;
        let tables = conn
            .prepare("SELECT name, id, streamed FROM table_names")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        TableMeta {
                            id: r.get(1)?,
                            streamed: r.get(2)?,
                            kept: ALL_EVENTS,
                        },
                    ))
                })?
                .collect::<Result<HashMap<_, _>, _>>()
            })
            .map_err(sql_err)?;
        Ok(SqliteTables {
            conn: Mutex::new(conn),
            tables: RwLock::new(tables),
            kept_events: RwLock::new(HashMap::new()),
            checkpointer,
        })
    }

    /// Frees the page cache's unused pages (between executions of a long-lived process).
    pub fn release_memory(&self) -> Result<(), StoreError> {
        self.lock()?.release_memory().map_err(sql_err)
    }

    /// Tells the checkpoint thread that about `bytes` were committed.
    fn committed(&self, bytes: usize) {
        if let Some(c) = &self.checkpointer {
            c.committed(bytes as u64);
        }
    }

    /// From now on (in this process), `table`'s stream keeps only records of the kinds in
    /// `events`. `migrate`'s one consumer of a stream is the history mapping, whose
    /// `FilterCriteria` drops INSERTs before any handler sees them: the embedded store applies
    /// that filter where the record is written, so an import does not write a full image per
    /// item only to trim it again. The stores' contract (every kind) holds for any table not
    /// narrowed; the setting is not persisted, each opener states it.
    pub fn keep_stream_events(
        &self,
        table: &str,
        events: &[StreamEventName],
    ) -> Result<(), StoreError> {
        let kept = events.iter().fold(0, |bits, e| bits | event_bit(*e));
        self.kept_events
            .write()
            .map_err(|_| poisoned("stream filters"))?
            .insert(table.to_string(), kept);
        if let Some(meta) = self
            .tables
            .write()
            .map_err(|_| poisoned("table names"))?
            .get_mut(table)
        {
            meta.kept = kept;
        }
        Ok(())
    }

    /// Turns on the stream of `table` (NEW_AND_OLD_IMAGES).
    pub fn enable_stream(&self, table: &str) -> Result<(), StoreError> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO table_names (name, streamed) VALUES (?1, 1)
             ON CONFLICT (name) DO UPDATE SET streamed = 1",
            params![table],
        )
        .map_err(sql_err)?;
        self.tables
            .write()
            .map_err(|_| poisoned("table names"))?
            .remove(table);
        self.table(&conn, table, true).map(|_| ())
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| poisoned("SQLite connection"))
    }

    /// The table's id, registering it when `create` (outside any transaction: an id handed out
    /// by a transaction that then rolls back would leave the cache ahead of the database).
    fn table(
        &self,
        conn: &Connection,
        name: &str,
        create: bool,
    ) -> Result<Option<TableMeta>, StoreError> {
        if let Some(meta) = self
            .tables
            .read()
            .map_err(|_| poisoned("table names"))?
            .get(name)
        {
            return Ok(Some(*meta));
        }
        if create {
            conn.prepare_cached("INSERT OR IGNORE INTO table_names (name) VALUES (?1)")
                .and_then(|mut s| s.execute(params![name]))
                .map_err(sql_err)?;
        }
        let meta = conn
            .prepare_cached("SELECT id, streamed FROM table_names WHERE name = ?1")
            .and_then(|mut s| {
                s.query_row(params![name], |r| {
                    Ok(TableMeta {
                        id: r.get(0)?,
                        streamed: r.get(1)?,
                        kept: ALL_EVENTS,
                    })
                })
                .optional()
            })
            .map_err(sql_err)?;
        let meta = match meta {
            Some(mut m) => {
                if let Some(kept) = self
                    .kept_events
                    .read()
                    .map_err(|_| poisoned("stream filters"))?
                    .get(name)
                {
                    m.kept = *kept;
                }
                Some(m)
            }
            None => None,
        };
        if let Some(meta) = meta {
            self.tables
                .write()
                .map_err(|_| poisoned("table names"))?
                .insert(name.to_string(), meta);
        }
        Ok(meta)
    }

    /// The row id and stored bytes of `key`, if it exists.
    fn read_body(
        conn: &Connection,
        table: i64,
        key: &Key,
    ) -> Result<Option<(i64, Vec<u8>)>, StoreError> {
        conn.prepare_cached(
            "SELECT id, body FROM items WHERE tbl = ?1 AND h = ?2 AND pk = ?3 AND sk = ?4",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    table,
                    i64::from(pk_hash(&key.pk)),
                    key.pk.as_str(),
                    key.sk.as_str()
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
        .map_err(sql_err)
    }

    fn read(conn: &Connection, table: i64, key: &Key) -> Result<Option<Stored>, StoreError> {
        Self::read_body(conn, table, key)?
            .map(|(row, body)| {
                let item = codec::decode(&body)?;
                Ok(Stored { row, body, item })
            })
            .transpose()
    }

    fn read_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let conn = self.lock()?;
        match self.table(&conn, table, false)? {
            Some(meta) => Ok(Self::read(&conn, meta.id, key)?.map(|s| s.item)),
            None => Ok(None),
        }
    }

    /// Writes one item and its stream record; the caller has checked the condition.
    fn write(
        conn: &Connection,
        table: TableMeta,
        key: &Key,
        item: &Item,
        body: Vec<u8>,
        old: Option<Stored>,
    ) -> Result<(), StoreError> {
        if old.as_ref().is_some_and(|o| &o.item == item) {
            return Ok(()); // nothing changes: DynamoDB writes no stream record either
        }
        match &old {
            Some(o) => conn
                .prepare_cached("UPDATE items SET body = ?1 WHERE id = ?2")
                .and_then(|mut s| s.execute(params![body, o.row])),
            None => conn
                .prepare_cached(
                    "INSERT INTO items (tbl, h, pk, sk, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        table.id,
                        i64::from(pk_hash(&key.pk)),
                        key.pk.as_str(),
                        key.sk.as_str(),
                        body
                    ])
                }),
        }
        .map_err(sql_err)?;
        let event = if old.is_some() {
            StreamEventName::Modify
        } else {
            StreamEventName::Insert
        };
        if table.streamed && table.kept & event_bit(event) != 0 {
            conn.prepare_cached(
                "INSERT INTO stream_records (tbl, event_name, pk, sk, old_image, new_image)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    table.id,
                    event.as_str(),
                    key.pk.as_str(),
                    key.sk.as_str(),
                    old.as_ref().map(|o| &o.body),
                    body
                ])
            })
            .map_err(sql_err)?;
        }
        Ok(())
    }

    /// The limits DynamoDB enforces (key lengths, size, nesting), as the DynamoDB adapter checks them.
    fn check_size(item: &Item) -> Result<(), StoreError> {
        crate::limits::check_item(item).map_err(StoreError::InvalidRequest)
    }

    /// A page of items read in key order; the next page starts after the last item when the page
    /// is full.
    fn page(bodies: Vec<Vec<u8>>, limit: usize) -> Result<Page, StoreError> {
        let items: Vec<Item> = bodies
            .iter()
            .map(|b| codec::decode(b))
            .collect::<Result<_, _>>()?;
        let next = if items.len() == limit {
            items.last().map(key_of).transpose()?
        } else {
            None
        };
        Ok(Page { items, next })
    }
}

#[async_trait]
impl GetItem for SqliteTables {
    async fn get_item(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        self.read_item(table, key)
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
        let mut seen = HashSet::with_capacity(keys.len());
        if let Some(key) = keys.iter().find(|k| !seen.insert(*k)) {
            return Err(StoreError::InvalidRequest(format!(
                "duplicate key in batch get: {key}"
            )));
        }
        // Only the reads hold the connection; the items are decoded after it is released, so
        // concurrent readers (Process's chunks, Verify's read-ahead) decode in parallel.
        let bodies = {
            let conn = self.lock()?;
            let Some(meta) = self.table(&conn, table, false)? else {
                return Ok(Vec::new());
            };
            // One read transaction for the batch: one snapshot, and SQLite takes its file and
            // WAL read locks once per batch instead of once per key (each autocommit read was
            // four fcntl calls and a WAL-index check).
            let tx = conn.unchecked_transaction().map_err(sql_err)?;
            let mut bodies = Vec::with_capacity(keys.len());
            for key in keys {
                if let Some((_, body)) = Self::read_body(&tx, meta.id, key)? {
                    bodies.push(body);
                }
            }
            tx.finish().map_err(sql_err)?;
            bodies
        };
        bodies.iter().map(|b| codec::decode(b)).collect()
    }

    /// The whole items, decoded, then cut to `names` (what DynamoDB returns for the same
    /// ProjectionExpression; decoding them whole costs the embedded store little).
    async fn batch_get_projected(
        &self,
        table: &str,
        keys: &[Key],
        names: &[&str],
    ) -> Result<Vec<Item>, StoreError> {
        crate::ports::table::check_projection(names)?;
        let mut items = self.batch_get(table, keys).await?;
        for item in &mut items {
            item.retain(|name, _| names.contains(&&**name));
        }
        Ok(items)
    }
}

/// Runs a statement that selects item bodies.
fn bodies(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Vec<u8>>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params, |r| r.get::<_, Vec<u8>>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)
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
        let Some(meta) = self.table(&conn, table, false)? else {
            return Ok(Page::default());
        };
        let prefix = sk_prefix.unwrap_or("");
        let after = start.map(|k| k.sk.as_str());
        let found = bodies(
            &conn,
            "SELECT body FROM items
             WHERE tbl = ?1 AND h = ?2 AND pk = ?3
               AND sk >= ?4 AND substr(sk, 1, length(?4)) = ?4
               AND (?5 IS NULL OR sk > ?5)
             ORDER BY sk LIMIT ?6",
            params![
                meta.id,
                i64::from(pk_hash(pk)),
                pk,
                prefix,
                after,
                limit as i64
            ],
        )?;
        Self::page(found, limit)
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
        let Some(meta) = self.table(&conn, table, false)? else {
            return Ok(Page::default());
        };
        let (h0, pk0, sk0) = match start {
            Some(k) => (i64::from(pk_hash(&k.pk)), k.pk.as_str(), k.sk.as_str()),
            None => (-1, "", ""),
        };
        let found = bodies(
            &conn,
            "SELECT body FROM items
             WHERE tbl = ?1 AND h >= ?2 AND h < ?3 AND (h, pk, sk) > (?4, ?5, ?6)
             ORDER BY h, pk, sk LIMIT ?7",
            params![meta.id, lo as i64, hi as i64, h0, pk0, sk0, limit as i64],
        )?;
        Self::page(found, limit)
    }
}

#[async_trait]
impl PutItem for SqliteTables {
    async fn put_item(&self, put: Put) -> Result<(), WriteError> {
        let key = key_of(&put.item)?;
        Self::check_size(&put.item)?;
        let body = codec::encode(&put.item)?;
        let mut conn = self.lock()?;
        let meta = self
            .table(&conn, &put.table, true)?
            .ok_or_else(|| StoreError::Other(format!("table {} not registered", put.table)))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        let old = Self::read(&tx, meta.id, &key)?;
        if !condition_holds(put.condition, old.as_ref().map(|o| &o.item)) {
            return Err(WriteError::ConditionFailed);
        }
        let bytes = body.len();
        Self::write(&tx, meta, &key, &put.item, body, old)?;
        tx.commit().map_err(sql_err)?;
        drop(conn);
        self.committed(bytes);
        Ok(())
    }
}

/// A transaction's puts checked and encoded, ready to apply under the connection.
struct PreparedWrite<'a> {
    puts: &'a [Put],
    keys: Vec<Key>,
    bodies: Vec<Vec<u8>>,
}

impl PreparedWrite<'_> {
    /// The encoded size of the items (what the WAL receives, roughly).
    fn bytes(&self) -> usize {
        self.bodies.iter().map(Vec::len).sum()
    }
}

impl SqliteTables {
    /// What a transaction is refused for before any read (count, duplicate items, limits), and
    /// its items encoded: done before the connection is taken, so concurrent writers encode in
    /// parallel.
    fn prepare_write(puts: &[Put]) -> Result<PreparedWrite<'_>, StoreError> {
        if puts.is_empty() || puts.len() > MAX_TRANSACT_ITEMS {
            return Err(StoreError::InvalidRequest(format!(
                "a transaction holds 1 to {MAX_TRANSACT_ITEMS} items, not {}",
                puts.len()
            )));
        }
        let keys = puts
            .iter()
            .map(|put| {
                let key = key_of(&put.item)?;
                Self::check_size(&put.item)?;
                Ok(key)
            })
            .collect::<Result<Vec<Key>, StoreError>>()?;
        let bodies = puts
            .iter()
            .map(|put| codec::encode(&put.item))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::with_capacity(puts.len());
        for (put, key) in puts.iter().zip(&keys) {
            if !seen.insert((put.table.as_str(), key)) {
                return Err(StoreError::InvalidRequest(format!(
                    "transaction has more than one operation on {} {key}",
                    put.table
                )));
            }
        }
        Ok(PreparedWrite { puts, keys, bodies })
    }

    /// The ids of the tables a transaction writes (registered outside any SQLite transaction).
    fn write_metas(&self, conn: &Connection, puts: &[Put]) -> Result<Vec<TableMeta>, StoreError> {
        puts.iter()
            .map(|put| {
                self.table(conn, &put.table, true)?
                    .ok_or_else(|| StoreError::Other(format!("table {} not registered", put.table)))
            })
            .collect()
    }

    /// Checks a transaction's conditions and, if all hold, writes its items, inside the open
    /// SQLite transaction `conn` (the caller commits, or rolls back on `Err`).
    fn apply_write(
        conn: &Connection,
        write: PreparedWrite<'_>,
        metas: Vec<TableMeta>,
    ) -> Result<(), WriteError> {
        let PreparedWrite { puts, keys, bodies } = write;
        let mut olds = Vec::with_capacity(puts.len());
        let mut refused = false;
        let mut reasons = Vec::with_capacity(puts.len());
        for ((put, key), meta) in puts.iter().zip(&keys).zip(&metas) {
            let old = Self::read(conn, meta.id, key)?;
            let holds = condition_holds(put.condition, old.as_ref().map(|o| &o.item));
            refused |= !holds;
            reasons.push(if holds {
                CancellationReason::None
            } else {
                CancellationReason::ConditionalCheckFailed
            });
            olds.push(old);
        }
        if refused {
            return Err(WriteError::Cancelled(reasons));
        }
        for ((((put, key), meta), old), body) in
            puts.iter().zip(&keys).zip(metas).zip(olds).zip(bodies)
        {
            Self::write(conn, meta, key, &put.item, body, old)?;
        }
        Ok(())
    }
}

#[async_trait]
impl TransactWrite for SqliteTables {
    async fn transact_write(&self, puts: &[Put]) -> Result<(), WriteError> {
        let write = Self::prepare_write(puts)?;
        let bytes = write.bytes();
        let mut conn = self.lock()?;
        let metas = self.write_metas(&conn, puts)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        Self::apply_write(&tx, write, metas)?; // an Err drops tx: rolled back
        tx.commit().map_err(sql_err)?;
        drop(conn);
        self.committed(bytes);
        Ok(())
    }

    /// One SQLite transaction for the lot, a savepoint per transaction: a refused transaction
    /// is rolled back to its savepoint and the others go on. Every result is decided before
    /// the commit; if the commit (or SQLite itself) fails, nothing was written and every
    /// transaction reports that error: no `Ok` is claimed for a write that did not happen.
    async fn transact_write_all(&self, transactions: &[&[Put]]) -> Vec<Result<(), WriteError>> {
        let prepared: Vec<Result<PreparedWrite<'_>, StoreError>> = transactions
            .iter()
            .map(|puts| Self::prepare_write(puts))
            .collect();
        let all_failed = |e: StoreError| -> Vec<Result<(), WriteError>> {
            transactions
                .iter()
                .map(|_| Err(WriteError::Store(e.clone())))
                .collect()
        };
        let mut conn = match self.lock() {
            Ok(c) => c,
            Err(e) => return all_failed(e),
        };
        let mut work = Vec::with_capacity(prepared.len());
        for (write, puts) in prepared.into_iter().zip(transactions) {
            work.push(match write {
                Ok(w) => self.write_metas(&conn, puts).map(|m| (w, m)),
                Err(e) => Err(e),
            });
        }
        let mut tx = match conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_err)
        {
            Ok(tx) => tx,
            Err(e) => return all_failed(e),
        };
        let mut results = Vec::with_capacity(work.len());
        let mut bytes = 0;
        for item in work {
            let (write, metas) = match item {
                Ok(w) => w,
                Err(e) => {
                    results.push(Err(WriteError::Store(e)));
                    continue;
                }
            };
            let savepoint = match tx.savepoint().map_err(sql_err) {
                Ok(sp) => sp,
                Err(e) => return all_failed(e),
            };
            let size = write.bytes();
            match Self::apply_write(&savepoint, write, metas) {
                Ok(()) => {
                    bytes += size;
                    if let Err(e) = savepoint.commit().map_err(sql_err) {
                        return all_failed(e);
                    }
                    results.push(Ok(()));
                }
                // A refused condition: this transaction is rolled back (dropping its savepoint),
                // the others stand.
                Err(refused @ WriteError::Cancelled(_))
                | Err(refused @ WriteError::ConditionFailed) => {
                    results.push(Err(refused));
                }
                // SQLite failed: nothing of the lot is committed (dropping tx rolls back).
                Err(WriteError::Store(e)) => return all_failed(e),
            }
        }
        if let Err(e) = tx.commit().map_err(sql_err) {
            return all_failed(e);
        }
        drop(conn);
        self.committed(bytes);
        results
    }
}

#[async_trait]
impl StreamReader for SqliteTables {
    async fn read_stream(
        &self,
        table: &str,
        position: &StreamPosition,
        limit: usize,
        events: &[StreamEventName],
    ) -> Result<(Vec<StreamRecord>, StreamPosition), StoreError> {
        let after = parse_position(position)?;
        type Row = (
            i64,
            String,
            String,
            String,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let wants = |e: StreamEventName| events.contains(&e);
        let (rows, next): (Vec<Row>, i64) = {
            let guard = self.lock()?;
            // One read transaction: both statements below see one snapshot. Another process on
            // the same state directory may commit between two autocommit reads, and the
            // stream's end read second would then pass a record the first never returned.
            let conn = guard.unchecked_transaction().map_err(sql_err)?;
            let Some(meta) = self.table(&conn, table, false)? else {
                return Ok((Vec::new(), position.clone()));
            };
            // The filter runs in SQL: the images of records left out are never read or decoded.
            let rows: Vec<Row> = conn
                .prepare_cached(
                    "SELECT seq, event_name, pk, sk, old_image, new_image FROM stream_records
                     WHERE tbl = ?1 AND seq > ?2
                       AND ((event_name = 'INSERT' AND ?4) OR (event_name = 'MODIFY' AND ?5)
                            OR (event_name = 'REMOVE' AND ?6))
                     ORDER BY seq LIMIT ?3",
                )
                .and_then(|mut s| {
                    s.query_map(
                        params![
                            meta.id,
                            after,
                            limit as i64,
                            wants(StreamEventName::Insert),
                            wants(StreamEventName::Modify),
                            wants(StreamEventName::Remove)
                        ],
                        |r| {
                            Ok((
                                r.get(0)?,
                                r.get(1)?,
                                r.get(2)?,
                                r.get(3)?,
                                r.get(4)?,
                                r.get(5)?,
                            ))
                        },
                    )?
                    .collect::<Result<_, _>>()
                })
                .map_err(sql_err)?;
            // A short page read everything up to the stream's end: the position passes the
            // records left out after the last one returned (read in the same transaction, so
            // no write slipped in between, from this process or another).
            let next = if rows.len() < limit {
                conn.prepare_cached("SELECT max(seq) FROM stream_records WHERE tbl = ?1")
                    .and_then(|mut s| s.query_row(params![meta.id], |r| r.get::<_, Option<i64>>(0)))
                    .map_err(sql_err)?
                    .unwrap_or(after)
                    .max(after)
            } else {
                rows.last().map_or(after, |r| r.0)
            };
            (rows, next)
        };
        let mut out = Vec::with_capacity(rows.len());
        for (seq, event, pk, sk, old, new) in rows {
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
                old_image: old.as_deref().map(codec::decode).transpose()?,
                new_image: new.as_deref().map(codec::decode).transpose()?,
            });
        }
        let next = if next == 0 && position.0.is_none() {
            position.clone()
        } else {
            StreamPosition(Some(format!("{next:021}")))
        };
        Ok((out, next))
    }

    async fn trim_through(&self, table: &str, position: &StreamPosition) -> Result<(), StoreError> {
        let through = parse_position(position)?;
        let conn = self.lock()?;
        if let Some(meta) = self.table(&conn, table, false)? {
            conn.prepare_cached("DELETE FROM stream_records WHERE tbl = ?1 AND seq <= ?2")
                .and_then(|mut s| s.execute(params![meta.id, through]))
                .map_err(sql_err)?;
        }
        Ok(())
    }
}

fn parse_position(position: &StreamPosition) -> Result<i64, StoreError> {
    match &position.0 {
        Some(p) => p
            .parse()
            .map_err(|_| StoreError::InvalidRequest(format!("bad stream position {p:?}"))),
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests;
