//! The RustyDB storage node: SQL over RocksDB, served over the PostgreSQL
//! wire protocol.
//!
//! - `config`: the node's TOML configuration (`NodeConfig`).
//! - `server`: the pgwire server (startup, auth, TLS, simple/extended query, COPY, cancel).
//! - `admin`: the admin HTTP API (`GET /status`: LSN, connections).
//! - `node`: `Node`, which opens storage + engine + server and shuts them down in order.

pub mod admin;
pub mod config;
pub mod node;
pub mod server;

pub use config::NodeConfig;
pub use node::Node;
pub use rocksdb;
