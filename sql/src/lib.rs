//! RustyDB's SQL front end, shared by the storage node and the proxy.
//!
//! A statement flows through this crate like this:
//!
//! ```text
//!  text ──parse──► Statement ──bind/plan──► Plan ──execute──► QueryResult
//!                  (sqlparser)  (names bound to the     (rows pulled through
//!                               catalog, types            iterators, or a
//!                               inferred, access paths)   command tag)
//! ```
//!
//! - `parse`: sqlparser with the PostgreSQL dialect.
//! - `types`, `functions`: PostgreSQL types and values, formats, casts,
//!   operators and built-in functions.
//! - `encoding`: order-preserving keys and row values for the key-value store.
//! - `catalog`: databases, tables, indexes, sequences and views, stored as keys.
//! - `plan`: binding and planning; `exec`: execution.
//! - `statement`, `ddl`, `alter`, `copy`, `settings`: statement kinds.
//! - `readonly`: read-only transactions and hot standby (writes refused
//!   with `25006` when the transaction is read-only or the node a replica).
//! - `storage`: the seam to the key-value store (RocksDB in the node,
//!   `memory` in tests).
//! - `engine` / `session`: per-node shared state and per-connection state;
//!   `Session` is the API the protocol edge calls.
//! - `error`: the crate's error type, each carrying its SQLSTATE.
//! - `publication`: publications (PostgreSQL 15 syntax plus masks), slot
//!   records and logical decoding of WAL mutations into row changes.
//! - `classify`: the proxy's statement classifier (primary or replica,
//!   transaction control, session effects, routing hints).

pub mod alter;
mod between_symmetric;
pub mod catalog;
pub mod classify;
pub mod copy;
mod copy_binary;
pub mod ddl;
pub mod encoding;
pub mod engine;
pub mod error;
pub mod exec;
pub mod expr;
pub mod fanout;
pub mod foreign_key;
pub mod functions;
pub mod memory;
pub mod parse;
pub mod plan;
pub mod publication;
pub mod readonly;
mod rekey;
pub mod sequence;
pub mod session;
pub mod settings;
mod sql_prepare;
pub mod statement;
pub mod storage;
pub mod subscription;
pub mod types;

pub use engine::Engine;
pub use error::{Error, Result, SqlState};
pub use session::{Column, CopyFormat, Deallocation, Prepared, QueryResult, Session, TxnStatus};
pub use storage::{
    Isolation, Lsn, RecoveryStatus, ReplicationStat, SavepointId, Storage, SyncCommit, Transaction,
    TxnOptions,
};
pub use types::{DataType, Value};
