//! The port contract suites against the embedded adapters (SQLite, directory): every clause is
//! its own test (`table_contract!`), none listed here.

use std::sync::Arc;

use integration_tests::contract::{ObjectFixture, TableFixture, UsersFixture, table};
use shared::embedded::{DirObjectStore, SqliteTables};

/// The contract's tables on `t` (`streamed` with its stream on).
fn fixture(t: SqliteTables) -> Option<TableFixture> {
    let t = Arc::new(t);
    t.enable_stream("streamed").unwrap();
    Some(TableFixture {
        table: t.clone(),
        streams: t,
        plain: "contract".into(),
        streamed: "streamed".into(),
    })
}

async fn sqlite() -> Option<TableFixture> {
    fixture(SqliteTables::in_memory().unwrap())
}

/// The store on a file, as `migrate` opens it (WAL, the checkpoint thread), kept in a
/// directory that lives as long as the test process.
async fn sqlite_file() -> Option<TableFixture> {
    let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
    fixture(SqliteTables::open(&dir.path().join("tables.sqlite3")).unwrap())
}

async fn directory() -> Option<ObjectFixture> {
    let dir = tempfile::tempdir().unwrap();
    Some(ObjectFixture {
        objects: Arc::new(DirObjectStore::new(dir.path())),
        bucket: "bucket".into(),
        keep_alive: Some(Box::new(dir)),
    })
}

async fn table_users() -> Option<UsersFixture> {
    let users = shared::embedded::TableUsers::new(Arc::new(SqliteTables::in_memory().unwrap()));
    for user in integration_tests::contract::users::seed_users() {
        users.put_user("us-east-1_local", &user).await.unwrap();
    }
    Some(UsersFixture {
        users: Arc::new(users),
        pool: "us-east-1_local".into(),
    })
}

mod table_user_directory {
    integration_tests::users_contract!(super::table_users);
}

mod sqlite_table {
    integration_tests::table_contract!(super::sqlite);
}

mod sqlite_file_table {
    integration_tests::table_contract!(super::sqlite_file);
}

mod directory_objects {
    integration_tests::object_contract!(super::directory);
}

/// Stricter than the shared contract, as DynamoDB is: a put that changes nothing has no record.
#[tokio::test]
async fn sqlite_writes_no_stream_record_for_a_no_op_put() {
    use shared::ports::stream::{StreamEventName, StreamPosition, StreamReader};
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
        .read_stream("s", &StreamPosition::default(), 10, &StreamEventName::ALL)
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "only the INSERT");
}
