//! The port contract suites against the embedded adapters (SQLite, directory).

use integration_tests::contract::{objects, table};
use shared::embedded::{DirObjectStore, SqliteTables};

#[tokio::test]
async fn sqlite_table_contract() {
    let t = SqliteTables::in_memory().unwrap();
    t.enable_stream("streamed").unwrap();
    table::check_put_get(&t, "contract").await;
    table::check_transactions(&t, "contract").await;
    table::check_query_scan(&t, "contract").await;
    table::check_stream(&t, &t, "streamed").await;
}

#[tokio::test]
async fn directory_object_contract() {
    let dir = tempfile::tempdir().unwrap();
    objects::check_objects(&DirObjectStore::new(dir.path()), "bucket").await;
}
