//! The RustyDB storage node: SQL over RocksDB, served over the PostgreSQL
//! wire protocol.
//!
//! - `storage`, `wal`: transactional storage over RocksDB with our own
//!   write-ahead log and group commit.
//! - `config`: the node's TOML configuration (`NodeConfig`).
//! - `server`: the pgwire server (startup, auth, TLS, simple/extended query, COPY, cancel).
//! - `replication`: WAL shipping to replicas, commit modes, promotion,
//!   follow/rewind/re-clone; `datadir`: which RocksDB directory is live.
//! - `backup`: backups, the WAL archive, restore and point-in-time recovery.
//! - `admin`: the admin HTTP API (status, promote, follow, replication, metrics).
//! - `logical`: replication slots, logical decoding's change stream
//!   (`/changes`, `/slots` on the admin API) and slot WAL retention.
//! - `subscription`: logical replication apply workers (CREATE SUBSCRIPTION).
//! - `node`: `Node`, which opens storage + engine + server and shuts them down in order.

pub mod admin;
pub mod backup;
pub mod config;
pub mod datadir;
pub mod error;
pub mod logical;
pub mod node;
pub mod replication;
pub mod server;
pub mod storage;
pub mod subscription;
pub mod wal;

pub use config::NodeConfig;
pub use error::NodeError;
pub use node::Node;
pub use storage::{CommitStats, RocksStorage, StorageOptions};
pub use wal::WalRecord;
