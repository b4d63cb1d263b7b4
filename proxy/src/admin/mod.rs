//! Operating the proxy: the `rustydb` admin database and the HTTP endpoint.
//!
//! Two doors, both read-mostly:
//!
//! - [`console`]: a client whose startup database is `rustydb` (after the
//!   usual authentication) talks to [`console::run_console`] instead of a
//!   backend. It speaks the simple query protocol only and answers
//!   PgBouncer-style commands (`SHOW POOLS|CLIENTS|SERVERS|STATS|SERVICES|
//!   BACKENDS|CONFIG|VERSION`, `RELOAD`, `PAUSE`, `RESUME`) with text
//!   result sets, so `psql -d rustydb -c 'SHOW POOLS'` works.
//! - [`http`]: `GET /metrics` (Prometheus text format, from
//!   [`ProxyMetrics::render`](crate::metrics::ProxyMetrics::render)) and
//!   `GET /health`.
//!
//! The console never reaches into the pools or sessions itself: it reads
//! them through [`AdminState`], which the server implements over its live
//! state, so the console is testable with a plain struct and cannot hold a
//! pool lock across a client write.

mod commands;
pub mod console;
pub mod http;
mod shared_state;

use std::sync::Arc;
use std::time::SystemTime;

use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::topology::TopologySnapshot;

pub use console::{run_console, run_console_buffered};
pub use http::{serve_metrics, serve_metrics_on};

/// The database name that selects the admin console.
pub const ADMIN_DATABASE: &str = "rustydb";

/// One pool (user, database, backend) in `SHOW POOLS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRow {
    pub user: String,
    pub database: String,
    pub service: String,
    pub backend: String,
    /// `session` or `transaction`.
    pub mode: String,
    /// Connections checked out by clients.
    pub active: usize,
    pub idle: usize,
    /// Clients waiting for a connection.
    pub waiting: usize,
    pub max: usize,
}

/// One client connection in `SHOW CLIENTS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRow {
    pub id: u64,
    pub user: String,
    pub database: String,
    pub service: String,
    /// Peer `ip:port`.
    pub addr: String,
    /// `idle`, `active`, `in transaction`, `waiting`, ...
    pub state: String,
    /// The backend it holds right now, if any.
    pub backend: Option<String>,
    pub connected_at: SystemTime,
}

/// One backend connection in `SHOW SERVERS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRow {
    pub backend: String,
    pub user: String,
    pub database: String,
    /// `active` or `idle`.
    pub state: String,
    /// The backend process id (from BackendKeyData), when the proxy
    /// knows it for this connection (NULL otherwise).
    pub pid: Option<i32>,
    /// When the connection was opened, when known.
    pub connected_at: Option<SystemTime>,
}

/// Per-service counters in `SHOW STATS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsRow {
    pub service: String,
    pub queries_primary: u64,
    pub queries_replica: u64,
    pub errors: u64,
    /// Mean statement round trip through the proxy, microseconds.
    pub avg_us: u64,
}

/// What the console reads and does; the server implements it.
pub trait AdminState: Send + Sync {
    fn pools(&self) -> Vec<PoolRow>;
    fn clients(&self) -> Vec<ClientRow>;
    fn servers(&self) -> Vec<ServerRow>;
    fn stats(&self) -> Vec<StatsRow>;
    fn topology(&self) -> Arc<TopologySnapshot>;
    fn config(&self) -> Arc<ProxyConfig>;
    /// Re-reads the configuration file (as SIGHUP does).
    fn reload(&self) -> Result<(), ProxyError>;
    /// `PAUSE` (true): new transactions wait; `RESUME` (false) lets them go.
    fn pause(&self, paused: bool);
}

#[cfg(test)]
mod tests;
