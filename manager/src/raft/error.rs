//! `RaftError`: what the consensus layer tells its callers went wrong.
//!
//! One variant per thing a caller reacts to differently: `NotLeader`
//! (forward to the leader it names), `NoQuorum` / `Timeout` (retry later,
//! the outcome of a timed-out proposal is unknown), `Membership` (the
//! change was refused), `Config` (fix the configuration), `Storage` and
//! `Stopped` (this member is unusable). openraft's own error types never
//! leave `crate::raft`.

use super::types::NodeId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RaftError {
    /// This member is not the leader; `leader` is the one it knows of
    /// (id and Raft address), if any.
    #[error("not the manager leader (leader: {})", describe_leader(.leader))]
    NotLeader { leader: Option<(NodeId, String)> },
    /// The leader could not reach a quorum of members.
    #[error("no quorum: {0}")]
    NoQuorum(String),
    /// The operation did not finish in time. For a proposal this means
    /// "unknown": it may still commit.
    #[error("timed out after {after_ms} ms waiting for {what}")]
    Timeout { what: &'static str, after_ms: u64 },
    /// A membership change was refused (one already in progress, the new
    /// member unknown, an empty group...).
    #[error("membership change refused: {0}")]
    Membership(String),
    /// The member configuration is unusable.
    #[error("invalid Raft configuration: {0}")]
    Config(String),
    /// The local log or state machine could not be read or written.
    #[error("Raft storage: {0}")]
    Storage(String),
    /// The Raft listener could not be bound.
    #[error("Raft listener: {0}")]
    Listen(String),
    /// The member has been shut down or its Raft core has stopped.
    #[error("the Raft member has stopped: {0}")]
    Stopped(String),
}

fn describe_leader(leader: &Option<(NodeId, String)>) -> String {
    match leader {
        Some((id, addr)) if addr.is_empty() => format!("member {id}"),
        Some((id, addr)) => format!("member {id} at {addr}"),
        None => "unknown".to_string(),
    }
}
