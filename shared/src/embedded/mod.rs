//! Embedded adapters: everything on one machine, no AWS account, no Docker.
//!
//! Tables and their streams live in one SQLite database (`<state-dir>/tables.sqlite3`);
//! objects in a directory (`<state-dir>/s3/<bucket>/<key>`); a user pool's users in the tables.

pub mod dir_objects;
pub mod sqlite_table;
pub mod table_users;

pub use dir_objects::DirObjectStore;
pub use sqlite_table::SqliteTables;
pub use table_users::TableUsers;
