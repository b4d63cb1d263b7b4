//! Integration-test harness: real `rustydb` and PostgreSQL 15 processes on
//! loopback, a small SQL client, and the differential-corpus machinery.
//!
//! Every test in `tests/tests/*.rs` follows the same shape:
//!
//! ```text
//!   Target::from_env() ──► Server::start()        (temp dir + free port)
//!                              │
//!                              ▼
//!   SqlClient::connect(port) ──► simple(sql) ──► Outcome (rows as text | SQLSTATE)
//!                              │
//!                              ▼
//!   Drop: node killed / pg_ctl stop -m immediate, temp dir removed
//! ```
//!
//! Invariants a reader must keep:
//! - Nothing blocks without a bound. Server start-up, connects and every
//!   statement have timeouts, so a hung or crashed node turns into a failed
//!   test with a message, never into a hung CI run.
//! - Every server owns a fresh temp dir and a fresh port, so tests run in
//!   parallel without sharing state, and `Drop` always cleans up.
//! - The same tests run against PostgreSQL when `RUSTYDB_TEST_TARGET=postgres`
//!   (see [`Target`]): that is how the harness itself is proven correct
//!   before the node can pass it.
//!
//! Panicking is fine here: this is test code, and a panic is how a test
//! reports a broken environment (missing binary, server that will not start).

pub mod client;
pub mod cluster;
pub mod corpus;
pub mod diff;
pub mod extended;
pub mod fleet;
pub mod manager;
pub mod order;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod relay;
pub mod tools;
pub mod wire;
pub mod writers;

pub use client::{Outcome, SqlClient};
pub use process::{free_port, rustydb_bin, NodeServer, PgServer, Server, Target};
