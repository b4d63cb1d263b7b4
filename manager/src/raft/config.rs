//! `MemberConfig`: how one manager member runs its part of the Raft group,
//! and its translation into openraft's `Config`.
//!
//! Timing defaults (heartbeat 50 ms, election timeout 300-600 ms) aim at a
//! failover budget under a second on loopback or a LAN: a dead leader is
//! replaced 600-900 ms after its last heartbeat plus a few RTTs.
//!
//! Pre-vote: openraft 0.9 has no pre-vote phase and no switch for one (its
//! `Config::enable_elect` turns its own election timer on or off, nothing
//! more). So we turn that timer off and run our own pre-vote in
//! `elector.rs`, which starts openraft elections (`trigger().elect()`) only
//! after a majority said it would vote. openraft's vote-side leader lease
//! (a voter rejects votes within `election_timeout_max` of a leader's last
//! message) stays in force underneath.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::RaftError;
use super::types::NodeId;

/// Configuration of one Raft member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberConfig {
    /// Member id (1, 2, 3, ...), unique in the group, never reused.
    pub id: u64,
    /// Where this member serves Raft RPCs (HTTP/1.1, JSON bodies).
    pub raft_listen: SocketAddr,
    /// Log, vote, state and snapshot live in `data_dir/raft`, fsynced.
    pub data_dir: PathBuf,
    /// id -> "host:port" of every initial voter's `raft_listen`, self
    /// included. Used by `initialize` only: once the group exists, member
    /// addresses come from the replicated membership.
    pub peers: BTreeMap<u64, String>,
    /// Leader heartbeat interval (also the append-entries RPC deadline).
    pub heartbeat_ms: u64,
    /// Election timing `(min, max)`: a voter that has heard nothing from a
    /// leader for a random `[max, 2*max - min)` runs a pre-vote; voters
    /// refuse (pre-)votes within `max` of a leader's last message.
    pub election_timeout_ms: (u64, u64),
    /// Take a snapshot after this many applied entries (then purge the log
    /// up to it, keeping `snapshot_every / 2` entries for slow followers).
    pub snapshot_every: u64,
    /// Deadline for proposals, leadership checks and membership steps.
    pub request_timeout_ms: u64,
}

impl MemberConfig {
    /// A configuration with the default timings.
    pub fn new(
        id: u64,
        raft_listen: SocketAddr,
        data_dir: PathBuf,
        peers: BTreeMap<u64, String>,
    ) -> MemberConfig {
        MemberConfig {
            id,
            raft_listen,
            data_dir,
            peers,
            heartbeat_ms: 50,
            election_timeout_ms: (300, 600),
            snapshot_every: 1000,
            request_timeout_ms: 5000,
        }
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// openraft's configuration for this member, validated.
    pub(crate) fn openraft_config(&self) -> Result<Arc<openraft::Config>, RaftError> {
        let (min, max) = self.election_timeout_ms;
        if self.heartbeat_ms == 0 || min <= self.heartbeat_ms || max <= min {
            return Err(RaftError::Config(format!(
                "need 0 < heartbeat_ms ({}) < election_timeout min ({min}) < max ({max})",
                self.heartbeat_ms
            )));
        }
        if self.snapshot_every == 0 {
            return Err(RaftError::Config("snapshot_every must be positive".into()));
        }
        if self.request_timeout_ms == 0 {
            return Err(RaftError::Config(
                "request_timeout_ms must be positive".into(),
            ));
        }
        let config = openraft::Config {
            cluster_name: "rustydb-manager".to_string(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: min,
            election_timeout_max: max,
            // Elections are started by our pre-vote elector (elector.rs);
            // openraft's own timer would campaign without asking first.
            enable_elect: false,
            enable_heartbeat: true,
            enable_tick: true,
            install_snapshot_timeout: self.request_timeout_ms,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(self.snapshot_every),
            max_in_snapshot_log_to_keep: self.snapshot_every / 2,
            ..openraft::Config::default()
        };
        config
            .validate()
            .map(Arc::new)
            .map_err(|e| RaftError::Config(e.to_string()))
    }

    /// The initial voters, checked to include this member.
    pub(crate) fn initial_voters(
        &self,
    ) -> Result<BTreeMap<NodeId, openraft::BasicNode>, RaftError> {
        if !self.peers.contains_key(&self.id) {
            return Err(RaftError::Config(format!(
                "peers must include this member (id {})",
                self.id
            )));
        }
        Ok(self
            .peers
            .iter()
            .map(|(id, addr)| (*id, openraft::BasicNode::new(addr.clone())))
            .collect())
    }
}
