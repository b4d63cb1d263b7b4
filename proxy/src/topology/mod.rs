//! Backend topology: which servers exist, their roles, health and lag.
//!
//! The router never asks a backend anything itself; it reads the latest
//! [`TopologySnapshot`], an immutable value published through a
//! `tokio::sync::watch` channel by the [`Topology`] handle. Two sources
//! feed it, chosen by the configuration:
//!
//! ```text
//!  static mode  (config.backends)          dynamic mode  (config.manager)
//!  ──────────────────────────────          ──────────────────────────────
//!  members = the configured list           members = manager's GET /topology?wait=
//!  role    = pg_is_in_recovery()           role    = the manager's word
//!       │                                        │
//!       └──────────────► State ◄─────────────────┘
//!                          ▲    members + latest probe per backend + bans
//!   health checker (one    │    (health.rs: SELECT pg_is_in_recovery(), lsn
//!   task per backend) ─────┘     every health.interval_ms)
//!                          │
//!                          ▼ build (snapshot.rs, pure) → publish if changed
//!                  watch::Sender<Arc<TopologySnapshot>>  →  sessions, router
//! ```
//!
//! Invariants: at most one backend of a snapshot has `Role::Primary`
//! (static mode resolves two servers claiming it by keeping the current
//! one); a snapshot is published only when something in it changed, with
//! `version` one higher than the last; a backend that failed a check or a
//! connection (`report_failure`) is `banned` for `health.ban_ms` and then
//! un-banned without anyone having to ask; every network wait (check,
//! long-poll) has a deadline, so a hung server never freezes the view.

mod handle;
mod health;
mod manager_watch;
mod snapshot;
#[cfg(test)]
mod tests;

pub use handle::Topology;
pub use health::parse_lsn;

/// The backend's name: node name in dynamic mode, "host:port" in static mode.
pub type BackendId = String;

/// A backend's replication role as last observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Primary,
    Replica,
    Unknown,
}

/// One backend as the router sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct BackendInfo {
    pub id: BackendId,
    /// host:port
    pub addr: String,
    pub role: Role,
    pub datacenter: String,
    /// The region of `datacenter` (dynamic mode; empty when unlabelled).
    pub region: String,
    pub tags: Vec<String>,
    pub noloadbalance: bool,
    pub healthy: bool,
    pub banned: bool,
    pub replay_lsn: Option<u64>,
    pub lag_bytes: Option<u64>,
    pub lag_ms: Option<f64>,
    pub sync: bool,
}

/// An immutable view of all backends; a new one is published on change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopologySnapshot {
    pub version: u64,
    pub backends: Vec<BackendInfo>,
}

impl TopologySnapshot {
    /// The backend whose role is primary, if any.
    pub fn primary(&self) -> Option<&BackendInfo> {
        self.backends.iter().find(|b| b.role == Role::Primary)
    }

    /// The backend with this id.
    pub fn get(&self, id: &str) -> Option<&BackendInfo> {
        self.backends.iter().find(|b| b.id == id)
    }
}
