//! Store implementations: in memory (simulator and tests) and SQL (SQLite and PostgreSQL).
//! All of them pass the same [`conformance`] suite.

pub mod conformance;
mod memory;
pub(crate) mod sql;

pub use memory::MemoryStore;
pub use sql::{Backend, DEFAULT_CONNECTIONS, ERASED, Erased, SealedCredential, SqlStore};
