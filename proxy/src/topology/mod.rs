//! Backend topology: which servers exist, their roles, health and lag.
//!
//! This file holds only the plain data types the router reads (a stand-in
//! written by helper "route" so routing compiles); helper "topo"'s module
//! (static role detection, the manager watcher, health checks and bans)
//! replaces it with the same types.

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
