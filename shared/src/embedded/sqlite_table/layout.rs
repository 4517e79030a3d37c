//! The SQLite layout of the embedded tables, its connection settings, and the one-time upgrade
//! of a state directory written by an earlier `migrate` (layout 1).
//!
//! Layout 2 (`PRAGMA user_version = 2`):
//! - `items` is a rowid table. Its rows (a table id, the pk hash, pk, sk, and the item as a
//!   postcard blob, ≈0.8 KB) fit inside a page. Layout 1 kept them in a `WITHOUT ROWID` table
//!   keyed by (table, pk, sk); rows that large overflowed its pages, so an item took ≈4.7 KB.
//! - One unique index `(tbl, h, pk, sk)` serves both reads by key (h is computed from the pk) and
//!   parallel scan segments (ranges of h), so a write maintains one index, not two.
//! - `stream_records` holds NEW_AND_OLD_IMAGES records until the consumer has checkpointed past
//!   them (`StreamReader::trim_through`); their space is reused by later writes.

use rusqlite::{Connection, OptionalExtension, params};

use super::{codec, pk_hash, sql_err};
use crate::error::StoreError;

pub const LAYOUT_VERSION: i64 = 2;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS table_names (
    id       INTEGER PRIMARY KEY,
    name     TEXT NOT NULL UNIQUE,
    streamed INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    id   INTEGER PRIMARY KEY,
    tbl  INTEGER NOT NULL,
    h    INTEGER NOT NULL,
    pk   TEXT NOT NULL,
    sk   TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS items_by_key ON items (tbl, h, pk, sk);
CREATE TABLE IF NOT EXISTS stream_records (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    tbl        INTEGER NOT NULL,
    event_name TEXT NOT NULL,
    pk         TEXT NOT NULL,
    sk         TEXT NOT NULL,
    old_image  BLOB,
    new_image  BLOB
);
CREATE INDEX IF NOT EXISTS stream_by_table ON stream_records (tbl, seq);
";

/// What a connection of the store is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads and writes; checkpoints the WAL itself (SQLite's automatic checkpoint).
    Writer,
    /// Reads and writes, leaving checkpoints to a [`Role::Checkpointer`] connection.
    WriterWithCheckpointer,
    /// Only runs checkpoints (its page cache stays small).
    Checkpointer,
}

/// Connection settings, then the layout (created, or upgraded from layout 1).
pub fn prepare(conn: &mut Connection, role: Role) -> Result<(), StoreError> {
    configure(conn, role)?;
    create_or_upgrade(conn)
}

/// The settings of one connection.
pub fn configure(conn: &Connection, role: Role) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql_err)?;
    // WAL: readers do not block the writer. synchronous=NORMAL is durable across process crashes
    // (a kill -9 loses nothing committed), which is what resume relies on.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(sql_err)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sql_err)?;
    // 16 MB of page cache (SQLite's default is 2 MB): the upper levels of the key index and the
    // pages a chunk wave touches stay in memory, instead of one pread per page per row. No mmap:
    // mapped pages count in the resident set, and a verify pass reads the whole file, so mmap
    // would make peak RSS grow with the table (the bound is 64 MB at any size).
    let cache_kib = if role == Role::Checkpointer {
        512
    } else {
        16 * 1024
    };
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(sql_err)?;
    if role != Role::Writer {
        // See `checkpointer`: the writers' commits do not checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(sql_err)?;
    }
    conn.pragma_update(None, "mmap_size", 0).map_err(sql_err)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(sql_err)?;
    // The WAL is truncated back to 64 MB after a checkpoint, so it does not keep a peak's size.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(sql_err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

fn create_or_upgrade(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sql_err)?;
    if version > LAYOUT_VERSION {
        return Err(StoreError::Other(format!(
            "the state directory's tables have layout {version}, newer than this migrate \
             understands ({LAYOUT_VERSION}); use a newer migrate"
        )));
    }
    // Layout 1 is recognised by its own table (`stream_tables`), not by `items`, which both
    // layouts have.
    let layout_1: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stream_tables'",
            [],
            |_| Ok(true),
        )
        .optional()
        .map_err(sql_err)?
        .unwrap_or(false);
    if version == LAYOUT_VERSION {
        return Ok(()); // set in the same transaction as the schema: it is all there
    }
    if layout_1 {
        upgrade_from_layout_1(conn)?;
    } else {
        // One transaction: a crash (or a second process) never sees half a schema.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql_err)?;
        tx.execute_batch(SCHEMA).map_err(sql_err)?;
        tx.pragma_update(None, "user_version", LAYOUT_VERSION)
            .map_err(sql_err)?;
        tx.commit().map_err(sql_err)?;
    }
    Ok(())
}

/// Rewrites a layout-1 database (JSON bodies, `WITHOUT ROWID`) into layout 2 in one transaction
/// (a crash during it leaves layout 1 intact), then compacts the file.
fn upgrade_from_layout_1(conn: &mut Connection) -> Result<(), StoreError> {
    tracing::info!("upgrading the embedded tables to layout {LAYOUT_VERSION}");
    let tx = conn.transaction().map_err(sql_err)?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS items_by_hash;
         DROP INDEX IF EXISTS stream_by_table;
         ALTER TABLE items RENAME TO items_v1;
         ALTER TABLE stream_records RENAME TO stream_records_v1;",
    )
    .map_err(sql_err)?;
    tx.execute_batch(SCHEMA).map_err(sql_err)?;
    tx.execute_batch(
        "INSERT INTO table_names (name, streamed)
           SELECT name, name IN (SELECT tbl FROM stream_tables) FROM (
             SELECT tbl AS name FROM items_v1 UNION SELECT tbl FROM stream_tables
             UNION SELECT tbl FROM stream_records_v1);",
    )
    .map_err(sql_err)?;
    {
        let mut read = tx
            .prepare(
                "SELECT t.id, i.pk, i.sk, i.body FROM items_v1 i
                 JOIN table_names t ON t.name = i.tbl",
            )
            .map_err(sql_err)?;
        let mut write = tx
            .prepare("INSERT INTO items (tbl, h, pk, sk, body) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(sql_err)?;
        let mut rows = read.query([]).map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            let (tbl, pk, sk, body): (i64, String, String, String) = (
                row.get(0).map_err(sql_err)?,
                row.get(1).map_err(sql_err)?,
                row.get(2).map_err(sql_err)?,
                row.get(3).map_err(sql_err)?,
            );
            write
                .execute(params![
                    tbl,
                    i64::from(pk_hash(&pk)),
                    pk,
                    sk,
                    reencode(&body)?
                ])
                .map_err(sql_err)?;
        }
    }
    {
        let mut read = tx
            .prepare(
                "SELECT r.seq, t.id, r.event_name, r.pk, r.sk, r.old_image, r.new_image
                 FROM stream_records_v1 r JOIN table_names t ON t.name = r.tbl",
            )
            .map_err(sql_err)?;
        let mut write = tx
            .prepare(
                "INSERT INTO stream_records (seq, tbl, event_name, pk, sk, old_image, new_image)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(sql_err)?;
        let mut rows = read.query([]).map_err(sql_err)?;
        while let Some(row) = rows.next().map_err(sql_err)? {
            let old: Option<String> = row.get(5).map_err(sql_err)?;
            let new: Option<String> = row.get(6).map_err(sql_err)?;
            write
                .execute(params![
                    row.get::<_, i64>(0).map_err(sql_err)?,
                    row.get::<_, i64>(1).map_err(sql_err)?,
                    row.get::<_, String>(2).map_err(sql_err)?,
                    row.get::<_, String>(3).map_err(sql_err)?,
                    row.get::<_, String>(4).map_err(sql_err)?,
                    old.as_deref().map(reencode).transpose()?,
                    new.as_deref().map(reencode).transpose()?,
                ])
                .map_err(sql_err)?;
        }
    }
    tx.execute_batch(
        "DROP TABLE items_v1; DROP TABLE stream_records_v1; DROP TABLE stream_tables;",
    )
    .map_err(sql_err)?;
    tx.pragma_update(None, "user_version", LAYOUT_VERSION)
        .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    // Layout 1 was several times larger: give the space back. VACUUM builds its copy in a
    // temporary file, not in memory; the upgrade is committed already, so a failed VACUUM only
    // leaves the file larger than it needs to be.
    let vacuum = conn
        .execute_batch("PRAGMA temp_store = FILE; VACUUM; PRAGMA temp_store = MEMORY;")
        .map_err(sql_err);
    if let Err(e) = vacuum {
        tracing::warn!(error = %e, "compacting the upgraded tables failed; they stay as they are");
    }
    Ok(())
}

fn reencode(json: &str) -> Result<Vec<u8>, StoreError> {
    let item = serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    codec::encode(&item)
}
