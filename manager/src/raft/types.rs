//! The openraft type configuration and the aliases the other files use.
//!
//! This file, the storage files, `network.rs`, `server.rs` and `member.rs`
//! are the only places that name openraft; everything outside
//! `crate::raft` sees [`RaftMember`](super::RaftMember), the
//! [`Consensus`](super::Consensus) trait and our own state types, so an
//! openraft upgrade stays inside this module.
//!
//! A member is identified by a `u64` id and described by a
//! `BasicNode { addr }`, where `addr` is the `host:port` of its Raft RPC
//! listener. Membership entries in the log carry those addresses, so a
//! member added at run time is reachable by everyone without extra config.

use std::io::Cursor;

use super::command::{ClusterCommand, CommandResult};

openraft::declare_raft_types!(
    /// The openraft type configuration of the manager's Raft group.
    pub TypeConfig:
        D = ClusterCommand,
        R = CommandResult,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type NodeId = u64;
pub type Node = openraft::BasicNode;
pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type StoredMembership = openraft::StoredMembership<NodeId, Node>;
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, Node>;
pub type Snapshot = openraft::Snapshot<TypeConfig>;
pub type StorageError = openraft::StorageError<NodeId>;
pub type Raft = openraft::Raft<TypeConfig>;

/// Wraps any displayable failure into openraft's storage error, tagged with
/// what was being done, so RaftCore reports it (and stops) instead of us
/// panicking.
pub(crate) fn storage_err(
    subject: openraft::ErrorSubject<NodeId>,
    verb: openraft::ErrorVerb,
    e: impl std::fmt::Display,
) -> StorageError {
    openraft::StorageIOError::new(subject, verb, openraft::AnyError::error(e)).into()
}
