//! The manager's consensus layer: a Raft group over the cluster state.
//!
//! Manager members (3 or 5) agree, through Raft, on one value: the
//! [`ClusterState`] of design decision 4 (nodes and roles, timeline
//! history, sync set, dynamic config, pause flag, failover history). The
//! failover logic, the HTTP API and the CLI stand on this module and see
//! only its own types; openraft (0.9, pinned) is an implementation detail
//! confined to these files:
//!
//! ```text
//!  caller ──propose(ClusterCommand)──► RaftMember (member.rs)
//!                                        │ openraft::Raft::client_write
//!                                        ▼
//!   LogStore (log_store.rs) ◄── append, fsync ── RaftCore ── RPCs ──► peers
//!      RocksDB data_dir/raft                        │     network.rs (client)
//!                                                   │     server.rs  (hyper)
//!                                  commit (quorum)  ▼
//!   StateMachine (state_machine.rs): ClusterState::apply (command.rs),
//!   persisted, published ──► state() / watch()
//!
//!   elector.rs: pre-vote, then Raft::trigger().elect() (openraft 0.9 has
//!   no pre-vote, so its own election timer is off)
//! ```
//!
//! Safety rules this module keeps: a vote or log entry is fsynced before it
//! is acknowledged; apply is deterministic (no clock, no randomness), so
//! every member computes the same state from the same log; an operation
//! that waits on the group has a deadline; nothing a peer or the disk sends
//! can panic a member.
//!
//! The [`Consensus`] trait is the seam the rest of the manager should
//! depend on, so failover logic can be tested against a fake group.

mod command;
mod config;
mod dr_state;
mod elector;
mod error;
mod log_store;
mod member;
mod network;
mod server;
mod state;
mod state_machine;
mod store;
mod types;

use std::collections::BTreeMap;

pub use command::{ClusterCommand, CommandResult};
pub use config::MemberConfig;
pub use dr_state::{DrCommand, DrDrill, DrFork, DrState};
pub use error::RaftError;
pub use member::{RaftMember, RaftStatus};
pub use state::{
    ClusterConfig, ClusterState, ConfigPatch, Epoch, FailoverRecord, NodeInfo, Role,
    ScheduledSwitchover, TimelineEntry, FAILOVER_HISTORY_CAP,
};

/// What the rest of the manager needs from the consensus group.
#[async_trait::async_trait]
pub trait Consensus: Send + Sync {
    /// Appends a command; returns once committed and applied.
    async fn propose(&self, command: ClusterCommand) -> Result<CommandResult, RaftError>;
    /// Confirms leadership with a quorum now.
    async fn confirm_leadership(&self) -> Result<(), RaftError>;
    fn leader(&self) -> Option<u64>;
    fn is_leader(&self) -> bool;
    fn term(&self) -> u64;
    /// The applied state and its applied log index.
    fn state(&self) -> (u64, ClusterState);
    /// Fires after every apply with the applied index.
    fn watch(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Current voters and their Raft addresses.
    fn members(&self) -> BTreeMap<u64, String>;
}

#[async_trait::async_trait]
impl Consensus for RaftMember {
    async fn propose(&self, command: ClusterCommand) -> Result<CommandResult, RaftError> {
        RaftMember::propose(self, command).await
    }
    async fn confirm_leadership(&self) -> Result<(), RaftError> {
        RaftMember::confirm_leadership(self).await
    }
    fn leader(&self) -> Option<u64> {
        RaftMember::leader(self)
    }
    fn is_leader(&self) -> bool {
        RaftMember::is_leader(self)
    }
    fn term(&self) -> u64 {
        RaftMember::term(self)
    }
    fn state(&self) -> (u64, ClusterState) {
        RaftMember::state(self)
    }
    fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        RaftMember::watch(self)
    }
    fn members(&self) -> BTreeMap<u64, String> {
        RaftMember::members(self)
    }
}
