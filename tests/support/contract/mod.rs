//! Port contract suites: one per port, generic over the adapter. Each `check_*` function
//! panics with a message naming the contract clause that failed. Table names are prefixed so
//! suites can share one store.

pub mod objects;
pub mod table;
