//! The port contract suites against the embedded adapters (SQLite, directory).

use integration_tests::contract::{objects, table};
use shared::embedded::{DirObjectStore, SqliteTables};

#[tokio::test]
async fn sqlite_table_contract() {
    let t = SqliteTables::in_memory().unwrap();
    t.enable_stream("streamed").unwrap();
    table::check_put_get(&t, "contract").await;
    table::check_limits(&t, "contract").await;
    table::check_transactions(&t, "contract").await;
    table::check_query_scan(&t, "contract").await;
    table::check_stream(&t, &t, "streamed").await;
}

#[tokio::test]
async fn directory_object_contract() {
    let dir = tempfile::tempdir().unwrap();
    objects::check_objects(&DirObjectStore::new(dir.path()), "bucket").await;
}

/// Stricter than the shared contract, as DynamoDB is: a put that changes nothing has no record.
#[tokio::test]
async fn sqlite_writes_no_stream_record_for_a_no_op_put() {
    use shared::ports::stream::{StreamPosition, StreamReader};
    use shared::ports::table::{Condition, Put, PutItem};
    let t = SqliteTables::in_memory().unwrap();
    t.enable_stream("s").unwrap();
    let item = table::item("N#t", "x", 1, "same");
    t.put_item(Put::new("s", item.clone(), Condition::None))
        .await
        .unwrap();
    t.put_item(Put::new("s", item, Condition::None))
        .await
        .unwrap();
    let (records, _) = t
        .read_stream("s", &StreamPosition::default(), 10)
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "only the INSERT");
}
