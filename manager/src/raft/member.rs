//! `RaftMember`: one manager member's handle on the Raft group.
//!
//! `start` opens the member's RocksDB store, loads the applied state, binds
//! the RPC listener, and starts openraft's core; from then on the member
//! takes part in elections and replication on its own. Everything else is
//! a thin translation between our API and openraft's:
//!
//! ```text
//!   propose(cmd)          -> Raft::client_write      (committed + applied)
//!   confirm_leadership()  -> Raft::ensure_linearizable (quorum heartbeat)
//!   add_member(id, addr)  -> add_learner (blocking until caught up),
//!                            then change_membership (joint consensus)
//!   remove_member(id)     -> change_membership (joint consensus)
//!   leader/term/members   -> openraft's metrics channel (no I/O)
//!   state/watch           -> the state machine's published state
//! ```
//!
//! Every call that waits on the group has a deadline
//! (`request_timeout_ms`), so a caller never hangs on a lost quorum.
//! openraft errors are mapped to [`RaftError`] here and nowhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    CheckIsLeaderError, ClientWriteError, Fatal, ForwardToLeader, InitializeError,
    RaftError as OpenRaftError,
};
use openraft::{ChangeMembers, ServerState};
use parking_lot::Mutex;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::command::{ClusterCommand, CommandResult};
use super::config::MemberConfig;
use super::elector::{self, ElectorTimings, LeaderContact};
use super::error::RaftError;
use super::log_store::LogStore;
use super::network::Network;
use super::server::{self, RpcContext};
use super::state::ClusterState;
use super::state_machine::{Shared, StateMachine};
use super::store::Store;
use super::types::{Node, NodeId, Raft};

/// A member's Raft status, for health checks and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaftStatus {
    pub id: u64,
    /// "leader", "follower", "candidate", "learner" or "shutdown".
    pub server_state: &'static str,
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: Option<u64>,
    pub applied_index: Option<u64>,
    /// Last log index covered by the member's latest snapshot.
    pub snapshot_index: Option<u64>,
    /// Highest log index deleted from the log (covered by a snapshot).
    pub purged_index: Option<u64>,
    /// On the leader: how long ago a quorum last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
}

/// One member of the manager's Raft group. Cheap to clone.
#[derive(Clone)]
pub struct RaftMember {
    inner: Arc<Inner>,
}

struct Inner {
    config: MemberConfig,
    raft: Raft,
    shared: Arc<Shared>,
    /// The RPC server and the elector.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Completes when the last user of the RocksDB instance (RaftCore, the
    /// state machine worker, replication readers) has dropped and closed it.
    store_closed: Mutex<Option<oneshot::Receiver<()>>>,
}

/// How long `shutdown` waits for openraft's tasks to release the store.
const STORE_RELEASE_WAIT: Duration = Duration::from_secs(10);

impl RaftMember {
    /// Opens the member's data, binds `raft_listen` and joins the group
    /// (as whatever the persisted membership says; a fresh member waits to
    /// be initialised or added).
    pub async fn start(config: MemberConfig) -> Result<RaftMember, RaftError> {
        let raft_config = config.openraft_config()?;
        let dir = config.data_dir.join("raft");
        std::fs::create_dir_all(&dir)
            .map_err(|e| RaftError::Storage(format!("cannot create {}: {e}", dir.display())))?;
        let (store, store_closed) = tokio::task::spawn_blocking(move || Store::open(&dir))
            .await
            .map_err(|e| RaftError::Storage(e.to_string()))?
            .map_err(|e| RaftError::Storage(e.to_string()))?;
        let store = Arc::new(store);
        let state_machine = StateMachine::load(Arc::clone(&store))
            .map_err(|e| RaftError::Storage(e.to_string()))?;
        let shared = state_machine.shared();
        let log_store = LogStore::new(store);

        let listener = server::bind(config.raft_listen)
            .await
            .map_err(|e| RaftError::Listen(format!("{}: {e}", config.raft_listen)))?;
        let network = Network::new(
            config.id,
            Duration::from_millis(config.election_timeout_ms.0),
            Duration::from_millis(config.election_timeout_ms.0 / 2),
        );
        let raft = Raft::new(
            config.id,
            raft_config,
            network.clone(),
            log_store,
            state_machine,
        )
        .await
        .map_err(stopped)?;
        let contact = Arc::new(LeaderContact::new());
        let (min, max) = config.election_timeout_ms;
        let server = server::spawn(
            listener,
            RpcContext {
                raft: raft.clone(),
                contact: Arc::clone(&contact),
                lease: Duration::from_millis(max),
            },
        );
        let elector = elector::spawn(
            config.id,
            raft.clone(),
            network,
            contact,
            ElectorTimings {
                tick: Duration::from_millis(config.heartbeat_ms),
                min,
                max,
            },
        );
        tracing::info!(id = config.id, listen = %config.raft_listen, "raft member started");
        Ok(RaftMember {
            inner: Arc::new(Inner {
                config,
                raft,
                shared,
                tasks: Mutex::new(vec![server, elector]),
                store_closed: Mutex::new(Some(store_closed)),
            }),
        })
    }

    /// This member's id.
    pub fn id(&self) -> u64 {
        self.inner.config.id
    }

    /// Bootstraps a fresh group with `config.peers` as voters; a no-op (Ok)
    /// when already initialised. Safe to call on every initial member.
    pub async fn initialize(&self) -> Result<(), RaftError> {
        let voters = self.inner.config.initial_voters()?;
        let raft = &self.inner.raft;
        if raft.is_initialized().await.map_err(stopped)? {
            return Ok(());
        }
        match raft.initialize(voters).await {
            Ok(()) => Ok(()),
            // Someone else initialised first (or we already had a log).
            Err(OpenRaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(OpenRaftError::APIError(InitializeError::NotInMembers(e))) => {
                Err(RaftError::Config(e.to_string()))
            }
            Err(OpenRaftError::Fatal(e)) => Err(stopped(e)),
        }
    }

    /// Appends a command; returns once committed and applied, with the
    /// state machine's answer. On a follower: `RaftError::NotLeader`.
    pub async fn propose(&self, command: ClusterCommand) -> Result<CommandResult, RaftError> {
        self.propose_indexed(command)
            .await
            .map(|(_, result)| result)
    }

    /// Like `propose`, also returning the command's log index (what
    /// `watch()` reaches once every member applied it).
    pub async fn propose_indexed(
        &self,
        command: ClusterCommand,
    ) -> Result<(u64, CommandResult), RaftError> {
        let write = self.inner.raft.client_write(command);
        match self.deadline("a proposal to commit", write).await? {
            Ok(resp) => Ok((resp.log_id.index, resp.data)),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Confirms with a quorum, now, that this member is still the leader,
    /// and waits until everything committed before is applied locally.
    pub async fn confirm_leadership(&self) -> Result<(), RaftError> {
        let check = self.inner.raft.ensure_linearizable();
        match self.deadline("a leadership check", check).await? {
            Ok(_) => Ok(()),
            Err(OpenRaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(self.not_leader(f))
            }
            Err(OpenRaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q))) => {
                Err(RaftError::NoQuorum(q.to_string()))
            }
            Err(OpenRaftError::Fatal(e)) => Err(stopped(e)),
        }
    }

    /// The leader this member currently knows of.
    pub fn leader(&self) -> Option<u64> {
        self.inner.raft.metrics().borrow().current_leader
    }

    /// Whether this member believes it is the leader (use
    /// `confirm_leadership` before acting on it).
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.id())
    }

    /// The current Raft term as this member knows it.
    pub fn term(&self) -> u64 {
        self.inner.raft.metrics().borrow().current_term
    }

    /// The applied cluster state and its applied log index.
    pub fn state(&self) -> (u64, ClusterState) {
        self.inner.shared.state()
    }

    /// Receives the applied log index after every apply.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.inner.shared.subscribe()
    }

    /// Adds a member through joint consensus: first as a learner (blocking
    /// until it has caught up), then as a voter. Leader only.
    pub async fn add_member(&self, id: u64, raft_addr: String) -> Result<(), RaftError> {
        let raft = &self.inner.raft;
        let learner = raft.add_learner(id, Node::new(raft_addr), true);
        if let Err(e) = self.deadline("the new member to catch up", learner).await? {
            return Err(self.write_error(e));
        }
        let voters: BTreeSet<NodeId> = [id].into_iter().collect();
        let change = raft.change_membership(ChangeMembers::AddVoterIds(voters), false);
        match self.deadline("the membership change", change).await? {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// Removes a member (voter or learner) through joint consensus. Leader
    /// only. Removing an unknown id is a no-op.
    pub async fn remove_member(&self, id: u64) -> Result<(), RaftError> {
        let (is_voter, is_known) = {
            let m = self.inner.raft.metrics();
            let m = m.borrow();
            let membership = m.membership_config.membership();
            (
                membership.voter_ids().any(|v| v == id),
                membership.get_node(&id).is_some(),
            )
        };
        let ids: BTreeSet<NodeId> = [id].into_iter().collect();
        let changes = if is_voter {
            ChangeMembers::RemoveVoters(ids)
        } else if is_known {
            ChangeMembers::RemoveNodes(ids)
        } else {
            return Ok(());
        };
        // retain = false: a removed voter is dropped, not kept as learner.
        let change = self.inner.raft.change_membership(changes, false);
        match self.deadline("the membership change", change).await? {
            Ok(_) => Ok(()),
            Err(e) => Err(self.write_error(e)),
        }
    }

    /// The current voters and their Raft addresses (during a joint change:
    /// the voters of both configurations).
    pub fn members(&self) -> BTreeMap<u64, String> {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        let membership = m.membership_config.membership();
        membership
            .voter_ids()
            .map(|id| {
                let addr = membership
                    .get_node(&id)
                    .map(|n| n.addr.clone())
                    .unwrap_or_default();
                (id, addr)
            })
            .collect()
    }

    /// Raft status figures for health checks and metrics.
    pub fn status(&self) -> RaftStatus {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        RaftStatus {
            id: self.id(),
            server_state: match m.state {
                ServerState::Leader => "leader",
                ServerState::Follower => "follower",
                ServerState::Candidate => "candidate",
                ServerState::Learner => "learner",
                ServerState::Shutdown => "shutdown",
            },
            term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            millis_since_quorum_ack: m.millis_since_quorum_ack,
        }
    }

    /// Stops serving RPCs and stops the Raft core (flushing nothing: every
    /// acknowledged write is already fsynced). Idempotent.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = std::mem::take(&mut *self.inner.tasks.lock());
        for task in tasks {
            task.abort();
            // Wait for the abort so the port and connections are released.
            let _ = task.await;
        }
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!(id = self.id(), error = %e, "raft core did not stop cleanly");
        }
        // openraft's workers drop their storage handles asynchronously after
        // the core stops; wait for that, so the RocksDB lock is released
        // when we return and the member can be started again in-process.
        let closed = self.inner.store_closed.lock().take();
        if let Some(closed) = closed {
            if tokio::time::timeout(STORE_RELEASE_WAIT, closed)
                .await
                .is_err()
            {
                tracing::warn!(id = self.id(), "raft store still open after shutdown");
            }
        }
        tracing::info!(id = self.id(), "raft member stopped");
    }

    async fn deadline<F: Future>(
        &self,
        what: &'static str,
        fut: F,
    ) -> Result<F::Output, RaftError> {
        let limit = self.inner.config.request_timeout();
        tokio::time::timeout(limit, fut)
            .await
            .map_err(|_| RaftError::Timeout {
                what,
                after_ms: self.inner.config.request_timeout_ms,
            })
    }

    fn write_error(&self, e: OpenRaftError<NodeId, ClientWriteError<NodeId, Node>>) -> RaftError {
        match e {
            OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => self.not_leader(f),
            OpenRaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                RaftError::Membership(c.to_string())
            }
            OpenRaftError::Fatal(f) => stopped(f),
        }
    }

    fn not_leader(&self, f: ForwardToLeader<NodeId, Node>) -> RaftError {
        let leader = f.leader_id.map(|id| {
            let addr = f
                .leader_node
                .map(|n| n.addr)
                .or_else(|| self.members().get(&id).cloned())
                .unwrap_or_default();
            (id, addr)
        });
        RaftError::NotLeader { leader }
    }
}

fn stopped(e: Fatal<NodeId>) -> RaftError {
    match e {
        Fatal::StorageError(e) => RaftError::Storage(e.to_string()),
        other => RaftError::Stopped(other.to_string()),
    }
}
