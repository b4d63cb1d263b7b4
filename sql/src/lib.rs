//! RustyDB's SQL front end, shared by the storage node and the proxy.
//!
//! A statement flows through this crate like this:
//!
//! ```text
//!  text ──parse──► Statement ──plan──► Plan ──execute──► QueryResult
//!                  (sqlparser)   (names bound to the      (rows or a tag)
//!                                catalog, types inferred)
//! ```
//!
//! - `parse`: sqlparser with the PostgreSQL dialect.
//! - `types`: PostgreSQL types and values, text/binary formats, casts, operators.
//! - `functions`: built-in scalar functions.
//! - `storage`: the seam to the key-value store (RocksDB in the node, memory in tests).
//! - `engine` / `session`: per-node shared state and per-connection state;
//!   `Session` is the API the protocol edge calls.
//! - `error`: the crate's error type, each carrying its SQLSTATE.

pub mod engine;
pub mod error;
pub mod functions;
pub mod parse;
pub mod session;
pub mod storage;
pub mod types;

pub use engine::{Engine, Session};
pub use error::{Error, Result, SqlState};
pub use session::{Column, CopyFormat, Prepared, QueryResult, TxnStatus};
pub use storage::{Isolation, Lsn, SavepointId, Storage, Transaction, TxnOptions};
pub use types::{DataType, Value};
