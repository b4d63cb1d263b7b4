//! The replicated cluster state: what every manager member agrees on.
//!
//! This is the state of design decision 4, and nothing more: the storage
//! nodes and their roles, the timeline history, the sync set, the dynamic
//! configuration, the pause flag and the failover history, plus what an
//! operator asked for that must outlive a change of manager leader (node
//! drain / stop flags, a scheduled switchover, the API URLs of members
//! added at run time). Fields added over time carry `serde(default)`, so
//! snapshots written by older versions still decode. Fast-changing
//! observations (heartbeats, LSNs, lag, suspicion levels) are *not* here:
//! they live in the leader's memory and only the decisions drawn from them
//! are written to Raft.
//!
//! `ClusterState` is a plain value. It changes only through
//! [`ClusterState::apply`](super::command) with a [`ClusterCommand`]
//! (see `command.rs`), in log order, on every member; snapshots are this
//! value serialised as JSON. Invariants the mutations keep:
//! - `primary`, when set, names a node in `nodes` whose role is `Primary`,
//!   and no other node has that role;
//! - `sync_set` names existing nodes and never the primary;
//! - `timeline_history` is strictly increasing in `timeline`, and its last
//!   entry (when any) is `timeline`;
//! - `drained` and `stopped` are never set on the primary, and a
//!   `stopped` node is never made primary;
//! - `failover_history` holds at most [`FAILOVER_HISTORY_CAP`] records,
//!   oldest first.
//!
//! [`ClusterCommand`]: super::command::ClusterCommand

use std::collections::BTreeMap;

use rustydb_node::replication::CommitMode;
use serde::{Deserialize, Serialize};

/// How many failover records the state keeps (oldest dropped first).
pub const FAILOVER_HISTORY_CAP: usize = 100;

/// What a storage node is, as the cluster last decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Replica,
    /// Not yet placed, or a former primary that has not rejoined yet.
    #[default]
    Unknown,
}

/// One storage node known to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Unique, stable node name (the key in `ClusterState::nodes`).
    pub name: String,
    /// `host:port` of the node's pgwire listener.
    pub pgwire_addr: String,
    /// `host:port` of the node's admin HTTP API.
    pub admin_addr: String,
    #[serde(default)]
    pub datacenter: String,
    /// The region the datacenter belongs to (geo labels, `docs/geo-dr.md`).
    #[serde(default)]
    pub region: String,
    /// Never promote this node automatically.
    #[serde(default)]
    pub nofailover: bool,
    /// Proxies should not send read traffic here.
    #[serde(default)]
    pub noloadbalance: bool,
    /// Higher wins a tie between equally up-to-date candidates.
    #[serde(default)]
    pub failover_priority: i32,
    #[serde(default)]
    pub role: Role,
    /// Drained by an operator (`POST /drain`): proxies send it no reads
    /// and it is not chosen automatically as a new primary or sync
    /// standby. Never set on the primary.
    #[serde(default)]
    pub drained: bool,
    /// Administratively stopped (`POST /stop`): the member supervising it
    /// keeps its process down, and its silence is not a failure. Never
    /// set on the primary.
    #[serde(default)]
    pub stopped: bool,
}

/// One switch of timeline: a promotion started `timeline` at `start_lsn`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub timeline: u64,
    pub start_lsn: u64,
    pub reason: String,
    /// Unix time in milliseconds, as given by the proposer.
    pub time_ms: u64,
}

/// The dynamic configuration operators change at run time (`PATCH /config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    pub replication_mode: CommitMode,
    pub num_sync_replicas: u32,
    /// Bytes of WAL a candidate may lag behind and still be promoted.
    pub maximum_lag_on_failover: u64,
    /// How long a primary's lease lasts without renewal.
    pub lease_ttl_ms: u64,
    /// How often nodes heartbeat the manager leader.
    pub heartbeat_ms: u64,
    /// Phi-accrual threshold above which a node is suspected.
    pub failure_threshold: f64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            replication_mode: CommitMode::Async,
            num_sync_replicas: 1,
            maximum_lag_on_failover: 1 << 20,
            lease_ttl_ms: 700,
            heartbeat_ms: 100,
            failure_threshold: 8.0,
        }
    }
}

/// A partial `ClusterConfig`: fields left `None` keep their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ConfigPatch {
    pub replication_mode: Option<CommitMode>,
    pub num_sync_replicas: Option<u32>,
    pub maximum_lag_on_failover: Option<u64>,
    pub lease_ttl_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    pub failure_threshold: Option<f64>,
}

/// One failover or switchover attempt, for `GET /history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverRecord {
    /// Unix time in milliseconds when the attempt started.
    pub time_ms: u64,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: String,
    pub success: bool,
    pub duration_ms: u64,
}

/// A switchover waiting for its time (`POST /switchover` with
/// `scheduled_at`). Replicated, so whichever member leads at `at_ms` runs
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledSwitchover {
    /// The log index of the command that scheduled it: cancelling or
    /// consuming names it, so a stale cancel cannot remove a newer one.
    pub id: u64,
    /// When to run it (Unix milliseconds, as given by the proposer).
    pub at_ms: u64,
    /// The time as the operator wrote it (RFC 3339), for display.
    pub scheduled_at: String,
    /// The expected primary (checked when it runs).
    pub leader: Option<String>,
    /// The node to promote (the best replica when absent).
    pub candidate: Option<String>,
}

/// Which Raft entry made the current primary decision: a later decision
/// always has a larger `(term, index)`, so nodes and proxies can discard
/// stale instructions by comparing epochs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub struct Epoch {
    pub term: u64,
    pub index: u64,
}

/// The replicated state machine's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ClusterState {
    pub nodes: BTreeMap<String, NodeInfo>,
    pub primary: Option<String>,
    /// The current timeline (0 until the first primary is set).
    pub timeline: u64,
    pub timeline_history: Vec<TimelineEntry>,
    pub sync_set: Vec<String>,
    pub config: ClusterConfig,
    /// While paused, no automatic failover is attempted.
    pub paused: bool,
    pub failover_history: Vec<FailoverRecord>,
    /// The log position of the last `SetPrimary` that was accepted.
    pub primary_epoch: Epoch,
    /// The timeline the primary's node reported after its promotion (0:
    /// not reported yet). Nodes choose their timeline numbers, so this may
    /// be below `timeline` (a node promoted from an older timeline than
    /// the one recorded); it is what the primary's log, and its replicas',
    /// actually run on.
    pub node_timeline: u64,
    /// The pending scheduled switchover, if any.
    pub scheduled_switchover: Option<ScheduledSwitchover>,
    /// API URLs of manager members added at run time (`POST /members`);
    /// configured members' URLs come from their manager.toml.
    pub member_apis: BTreeMap<u64, String>,
    /// Standby-cluster mode and DR drill history (`dr_state.rs`).
    pub dr: super::dr_state::DrState,
}

impl ClusterState {
    /// The node currently holding the primary role, if any.
    pub fn primary_node(&self) -> Option<&NodeInfo> {
        self.primary.as_ref().and_then(|name| self.nodes.get(name))
    }

    /// The timeline the current primary's log runs on: what its node
    /// reported, else the recorded one. A failover candidate must be on it
    /// (or later): on an older one its LSN compares with nothing.
    pub fn current_timeline(&self) -> u64 {
        match self.node_timeline {
            0 => self.timeline,
            t => t,
        }
    }
}
