//! Port contract suites: one per port, generic over the adapter. Each `check_*` function
//! panics with a message naming the contract clause that failed. Table names are prefixed so
//! suites can share one store.
//!
//! [`table_contract!`](crate::table_contract) and [`object_contract!`](crate::object_contract)
//! turn every clause into its own test for an adapter, so no adapter lists clauses by hand: a
//! new clause is added once, here, and runs on SQLite and on moto alike.

pub mod objects;
pub mod table;
pub mod users;

use std::sync::Arc;

use shared::ports::{ObjectStore, StreamReader, Table, UserDirectory};

/// An adapter under test: a table store, its stream reader, and the tables to use (`plain`
/// without a stream, `streamed` with one).
pub struct TableFixture {
    pub table: Arc<dyn Table>,
    pub streams: Arc<dyn StreamReader>,
    pub plain: String,
    pub streamed: String,
}

pub struct ObjectFixture {
    pub objects: Arc<dyn ObjectStore>,
    pub bucket: String,
    /// Whatever must live as long as the test (a temporary directory).
    pub keep_alive: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// A user directory whose pool `pool` holds [`users::seed_users`].
pub struct UsersFixture {
    pub users: Arc<dyn UserDirectory>,
    pub pool: String,
}

/// The clauses of the table contract, each run on a fresh fixture.
pub mod table_clauses {
    use super::{TableFixture, table};

    pub async fn put_get(f: &TableFixture) {
        table::check_put_get(f.table.as_ref(), &f.plain).await;
    }
    pub async fn limits(f: &TableFixture) {
        table::check_limits(f.table.as_ref(), &f.plain).await;
    }
    pub async fn transactions(f: &TableFixture) {
        table::check_transactions(f.table.as_ref(), &f.plain).await;
    }
    pub async fn transaction_batches(f: &TableFixture) {
        table::check_transaction_batches(f.table.as_ref(), f.streams.as_ref(), &f.streamed).await;
    }
    pub async fn query_scan(f: &TableFixture) {
        table::check_query_scan(f.table.as_ref(), &f.plain).await;
    }
    pub async fn stream(f: &TableFixture) {
        table::check_stream(f.table.as_ref(), f.streams.as_ref(), &f.streamed).await;
    }
}

/// One `#[tokio::test]` per table contract clause, on the fixture `$fixture().await` gives
/// (`None`: no store to test against, e.g. moto outside CI).
#[macro_export]
macro_rules! table_contract {
    ($fixture:path) => {
        $crate::table_contract!(@clauses $fixture; put_get, limits, transactions, transaction_batches, query_scan, stream);
    };
    (@clauses $fixture:path; $($clause:ident),*) => {
        $(
            #[tokio::test]
            async fn $clause() {
                let Some(fixture) = $fixture().await else {
                    return;
                };
                $crate::contract::table_clauses::$clause(&fixture).await;
            }
        )*
    };
}

/// One `#[tokio::test]` per object store contract clause.
#[macro_export]
macro_rules! object_contract {
    ($fixture:path) => {
        #[tokio::test]
        async fn objects() {
            let Some(fixture) = $fixture().await else {
                return;
            };
            $crate::contract::objects::check_objects(fixture.objects.as_ref(), &fixture.bucket)
                .await;
        }
    };
}

/// One `#[tokio::test]` for the user directory contract.
#[macro_export]
macro_rules! users_contract {
    ($fixture:path) => {
        #[tokio::test]
        async fn users() {
            let Some(fixture) = $fixture().await else {
                return;
            };
            $crate::contract::users::check_users(fixture.users.as_ref(), &fixture.pool).await;
        }
    };
}
