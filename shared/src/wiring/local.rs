//! `migrate`'s dependencies: the embedded stores of one state directory.

use std::sync::Arc;

use crate::embedded::{DirObjectStore, SqliteTables};
use crate::error::Error;
use crate::handlers::{Deps, NoProgress, prepare};
use crate::publish::TableNames;

/// The local bucket (a directory under `<state_dir>/s3/`).
pub const LOCAL_BUCKET: &str = "migration-local";

/// The table names of the embedded store (same logical names as the template's defaults).
pub fn local_table_names() -> TableNames {
    TableNames {
        command: "command".into(),
        data: "data".into(),
        history: "history".into(),
        jobs: "jobs".into(),
    }
}

/// The handlers' dependencies on the embedded stores; the app settings come from the same
/// variables as the functions' (`APP_BUCKET`, `ATTRIBUTE_LIMIT_SIZE`, …), the chunk size from
/// `MIGRATE_CHUNK_ROWS`.
pub fn deps(tables: Arc<SqliteTables>, objects: Arc<DirObjectStore>) -> Result<Deps, Error> {
    let chunk_rows = std::env::var("MIGRATE_CHUNK_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::handlers::DEFAULT_CHUNK_ROWS);
    Ok(Deps {
        users: Arc::new(crate::embedded::TableUsers::new(tables.clone())),
        tables,
        objects,
        table_names: local_table_names(),
        bucket: LOCAL_BUCKET.into(),
        chunk_rows,
        max_concurrency: prepare::MAX_CONCURRENCY,
        scan_segments: prepare::MAX_CONCURRENCY,
        actor: "migrate".into(),
        app: crate::app_settings::AppSettings::from_lookup(
            &|name| std::env::var(name).ok(),
            LOCAL_BUCKET,
        )?,
        progress: Arc::new(NoProgress),
    })
}
