//! The `[replication]` section of node.toml and the live commit mode.
//!
//! Every key has a default that gives a standalone primary with async
//! replication for any replica that connects. The commit mode part
//! (`CommitModeConfig`) can also be changed while the node runs, through the
//! admin API; the rest is read at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// When a commit on the primary returns to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    /// After the local fsync; replicas catch up on their own.
    #[default]
    Async,
    /// After `num_sync` replicas flushed the record; fails after
    /// `sync_timeout_ms` rather than acknowledge without them.
    Sync,
    /// After one replica flushed it, or after `semi_sync_timeout_ms`, when
    /// the node degrades to async until a replica catches up.
    SemiSync,
}

impl CommitMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitMode::Async => "async",
            CommitMode::Sync => "sync",
            CommitMode::SemiSync => "semi-sync",
        }
    }
}

impl std::str::FromStr for CommitMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "async" => Ok(CommitMode::Async),
            "sync" => Ok(CommitMode::Sync),
            "semi-sync" | "semisync" | "semi_sync" => Ok(CommitMode::SemiSync),
            other => Err(format!(
                "unknown commit mode \"{other}\" (expected async, sync or semi-sync)"
            )),
        }
    }
}

/// How the synchronous standbys are counted (PostgreSQL's `FIRST n (...)`
/// and `ANY n (...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SyncQuorum {
    /// Any `num_sync` of the listed standbys (or of all replicas).
    #[default]
    Any,
    /// The `num_sync` connected standbys that come first in the list.
    First,
}

/// WAN compression of record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    #[default]
    None,
    Lz4,
    Zstd,
}

/// The part of the replication settings that can change live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CommitModeConfig {
    pub commit_mode: CommitMode,
    pub num_sync: usize,
    /// Replica names eligible as synchronous standbys, in priority order;
    /// empty means every replica.
    pub sync_standbys: Vec<String>,
    pub sync_quorum: SyncQuorum,
    pub sync_timeout_ms: u64,
    pub semi_sync_timeout_ms: u64,
}

impl Default for CommitModeConfig {
    fn default() -> Self {
        CommitModeConfig {
            commit_mode: CommitMode::Async,
            num_sync: 1,
            sync_standbys: Vec::new(),
            sync_quorum: SyncQuorum::Any,
            sync_timeout_ms: 10_000,
            semi_sync_timeout_ms: 1_000,
        }
    }
}

impl CommitModeConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.num_sync == 0 {
            return Err("num_sync must be at least 1".into());
        }
        if !self.sync_standbys.is_empty() && self.num_sync > self.sync_standbys.len() {
            return Err(format!(
                "num_sync is {} but only {} sync_standbys are listed",
                self.num_sync,
                self.sync_standbys.len()
            ));
        }
        if self.sync_timeout_ms == 0 || self.semi_sync_timeout_ms == 0 {
            return Err("sync_timeout_ms and semi_sync_timeout_ms must be positive".into());
        }
        Ok(())
    }
}

/// TLS for the replication stream: on when all three are set. Both sides
/// present `cert`; each verifies the other against `ca` (mutual TLS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicationTls {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

impl ReplicationTls {
    pub fn enabled(&self) -> bool {
        self.cert.is_some() && self.key.is_some() && self.ca.is_some()
    }
}

/// The `[replication]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicationConfig {
    /// The WAL stream listener; port 0 picks a free one (replicas learn it
    /// through `SHOW rustydb.replication_endpoint` on the pgwire port).
    /// Defaults to the pgwire listen address's IP with port 0.
    pub listen: Option<SocketAddr>,
    /// Start as a replica of this node (its pgwire address).
    pub follow: Option<String>,
    /// The role used to ask the upstream for its replication endpoint.
    pub follow_user: String,
    pub follow_password: Option<String>,
    pub commit_mode: CommitMode,
    pub num_sync: usize,
    pub sync_standbys: Vec<String>,
    pub sync_quorum: SyncQuorum,
    pub sync_timeout_ms: u64,
    pub semi_sync_timeout_ms: u64,
    pub compression: Compression,
    /// Most bytes of records in one stream message.
    pub batch_max_bytes: usize,
    /// How long the sender waits to fill a batch (0: send at once). Trades
    /// latency for fewer, larger messages on WAN links.
    pub batch_delay_ms: u64,
    /// Keep at least this much WAL (estimated bytes) for replicas that come back.
    pub wal_keep_bytes: u64,
    /// Keep WAL younger than this.
    pub wal_keep_seconds: u64,
    /// Never keep more WAL than this, even for a connected replica; a replica
    /// that falls further behind re-clones.
    pub max_wal_bytes: u64,
    pub tls: ReplicationTls,
    /// Rewrites of discovered WAL sender endpoints (`"seen" = "use"`),
    /// for upstreams reached through a NAT or a relay: the endpoint the
    /// upstream reports is its own listener, which the follower may have
    /// to reach at another address (e.g. a WAN relay in front of it).
    pub endpoint_map: std::collections::BTreeMap<String, String>,
}

impl Default for ReplicationConfig {
    fn default() -> Self {
        ReplicationConfig {
            listen: None,
            follow: None,
            follow_user: "postgres".into(),
            follow_password: None,
            commit_mode: CommitMode::Async,
            num_sync: 1,
            sync_standbys: Vec::new(),
            sync_quorum: SyncQuorum::Any,
            sync_timeout_ms: 10_000,
            semi_sync_timeout_ms: 1_000,
            compression: Compression::None,
            batch_max_bytes: 1 << 20,
            batch_delay_ms: 0,
            wal_keep_bytes: 256 << 20,
            wal_keep_seconds: 600,
            max_wal_bytes: 4 << 30,
            tls: ReplicationTls::default(),
            endpoint_map: std::collections::BTreeMap::new(),
        }
    }
}

impl ReplicationConfig {
    /// The commit-mode settings as one value (the live part).
    pub fn mode(&self) -> CommitModeConfig {
        CommitModeConfig {
            commit_mode: self.commit_mode,
            num_sync: self.num_sync,
            sync_standbys: self.sync_standbys.clone(),
            sync_quorum: self.sync_quorum,
            sync_timeout_ms: self.sync_timeout_ms,
            semi_sync_timeout_ms: self.semi_sync_timeout_ms,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        self.mode().validate()?;
        if self.batch_max_bytes < 1024 || self.batch_max_bytes > 64 << 20 {
            return Err("batch_max_bytes must be between 1024 and 67108864".into());
        }
        let tls = &self.tls;
        let set = [tls.cert.is_some(), tls.key.is_some(), tls.ca.is_some()];
        if set.iter().any(|s| *s) && !set.iter().all(|s| *s) {
            return Err("replication tls needs cert, key and ca together".into());
        }
        Ok(())
    }
}
