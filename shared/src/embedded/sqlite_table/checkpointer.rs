//! WAL checkpoints on a thread of their own.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses the WAL threshold, on the
//! writing connection, while the store's writer lock is held: a fifth of an import's writing
//! time went to copying WAL pages back into the database with every other writer waiting. Here
//! the writing connection has `wal_autocheckpoint = 0`, and after about [`THRESHOLD_BYTES`] of
//! writes it wakes this thread, which checkpoints (`PASSIVE`: never blocks a writer or a reader)
//! on its own connection while the writers go on. The last connection to close checkpoints
//! whatever is left, as SQLite always does.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::layout;
use crate::error::StoreError;

/// Bytes of item bodies written between checkpoints (the WAL holds ≈2× that in pages: the
/// items, their index entries and stream records); SQLite's own default is 1,000 pages.
pub const THRESHOLD_BYTES: u64 = 2 * 1024 * 1024;

/// How long a RESTART checkpoint waits for readers (and holds writers back) at most.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Default)]
struct Signal {
    pending: bool,
    stop: bool,
}

pub struct Checkpointer {
    written: AtomicU64,
    signal: Arc<(Mutex<Signal>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens the checkpointing connection on `path` and starts its thread.
    pub fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(super::sql_err)?;
        layout::configure(&conn, layout::Role::Checkpointer)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(super::sql_err)?;
        let signal: Arc<(Mutex<Signal>, Condvar)> = Arc::default();
        let theirs = Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(conn, &theirs))
            .map_err(|e| StoreError::Other(format!("starting the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            written: AtomicU64::new(0),
            signal,
            thread: Some(thread),
        })
    }

    /// Counts `bytes` committed; wakes the thread once enough have been since the last wake.
    pub fn committed(&self, bytes: u64) {
        let before = self.written.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes >= THRESHOLD_BYTES {
            self.written.store(0, Ordering::Relaxed);
            self.notify(|s| s.pending = true);
        }
    }

    fn notify(&self, change: impl FnOnce(&mut Signal)) {
        let (lock, wake) = &*self.signal;
        // A poisoned lock means the thread panicked: it checkpoints no more, SQLite's
        // last-close checkpoint still runs.
        if let Ok(mut s) = lock.lock() {
            change(&mut s);
            wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.notify(|s| s.stop = true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, signal: &(Mutex<Signal>, Condvar)) {
    let (lock, wake) = signal;
    loop {
        {
            let Ok(mut s) = lock.lock() else { return };
            while !s.pending && !s.stop {
                s = match wake.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
            }
            if s.stop {
                return;
            }
            s.pending = false;
        }
        // PASSIVE copies the WAL's pages into the database while the writers go on. It never
        // catches up with a busy writer, and SQLite starts the WAL over (rather than growing it)
        // only after a checkpoint that copied everything: RESTART does that, holding writers
        // back only for the pages written during the PASSIVE pass, and for at most
        // `BUSY_TIMEOUT` when a reader (another process) still needs the WAL. Busy is not an
        // error here: the next round tries again.
        for mode in ["PASSIVE", "RESTART"] {
            let done = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                r.get::<_, i64>(0)
            });
            if let Err(e) = done {
                tracing::warn!(error = %e, "WAL checkpoint failed; the next one will try again");
                break;
            }
        }
    }
}
