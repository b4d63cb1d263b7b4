//! Pre-vote: when a member may start an election.
//!
//! openraft 0.9 has no pre-vote. Left to itself, a follower that stops
//! hearing from a leader bumps its term and campaigns; a member cut off by
//! a partition does so again and again, and when it comes back its inflated
//! term deposes a healthy leader. So we switch openraft's own election
//! timer off (`enable_elect = false`) and run this elector instead, which
//! asks before it campaigns:
//!
//! ```text
//!  every heartbeat interval, on a voter that is not the leader:
//!    silence = time since the last accepted message from a leader
//!    if silence >= timeout (random in [max, 2*max - min) of election_timeout_ms):
//!      PreVote { candidate, last_log_id } ──► every other voter
//!      a voter grants iff: it is not the leader itself, it has not heard
//!        from a leader for election_timeout_max (its lease has expired),
//!        and the candidate's last log id >= its own
//!      granted by a majority (of each configuration, when joint)?
//!        yes ──► Raft::trigger().elect()   (a real, term-bumping election)
//!      either way: restart the silence clock with a fresh random timeout
//! ```
//!
//! A pre-vote changes no state on anyone (no term, no vote is written), so
//! a member that cannot reach a majority never raises its term, and a
//! member that rejoins finds a leader without disturbing it. The grant
//! condition matches openraft's own vote-side leader lease (a voter rejects
//! real votes within `election_timeout_max` of the leader's last message),
//! so a pre-vote that succeeds is normally followed by a vote that can too.
//!
//! `LeaderContact` is updated by the RPC server whenever this member
//! accepts an append-entries or snapshot from a leader (not when it
//! rejects a stale one), and by the elector itself while it leads.

use std::collections::BTreeSet;
use std::time::Duration;

use openraft::ServerState;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::network::{Network, PATH_PREVOTE};
use super::types::{LogId, NodeId, Raft};

/// When this member last heard from a leader it accepted.
pub(crate) struct LeaderContact {
    last: Mutex<Instant>,
}

impl LeaderContact {
    pub(crate) fn new() -> LeaderContact {
        LeaderContact {
            last: Mutex::new(Instant::now()),
        }
    }

    pub(crate) fn touch(&self) {
        *self.last.lock() = Instant::now();
    }

    fn silence(&self) -> Duration {
        self.last.lock().elapsed()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreVoteRequest {
    pub(crate) candidate: NodeId,
    pub(crate) last_log_id: Option<LogId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PreVoteResponse {
    pub(crate) granted: bool,
}

/// Answers a pre-vote (server side). Changes nothing.
pub(crate) fn answer(
    raft: &Raft,
    contact: &LeaderContact,
    lease: Duration,
    req: &PreVoteRequest,
) -> PreVoteResponse {
    let is_leader = raft.metrics().borrow().state == ServerState::Leader;
    let my_last = raft.data_metrics().borrow().last_log;
    let lease_expired = contact.silence() >= lease;
    let log_ok = req.last_log_id >= my_last;
    let granted = !is_leader && lease_expired && log_ok;
    tracing::debug!(
        candidate = req.candidate,
        granted,
        is_leader,
        lease_expired,
        log_ok,
        "pre-vote"
    );
    PreVoteResponse { granted }
}

/// Timings the elector runs with (from `MemberConfig`).
#[derive(Clone)]
pub(crate) struct ElectorTimings {
    pub(crate) tick: Duration,
    pub(crate) min: u64,
    pub(crate) max: u64,
}

impl ElectorTimings {
    /// A fresh random silence timeout in `[max, 2*max - min)`: never shorter
    /// than the voters' lease, and spread so members rarely collide.
    fn random_timeout(&self, raft: &Raft) -> Duration {
        let r = raft
            .config()
            .new_rand_election_timeout::<openraft::TokioRuntime>();
        Duration::from_millis(self.max + r.saturating_sub(self.min))
    }
}

/// Runs the elector until the task is aborted.
pub(crate) fn spawn(
    my_id: NodeId,
    raft: Raft,
    network: Network,
    contact: std::sync::Arc<LeaderContact>,
    timings: ElectorTimings,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timeout = timings.random_timeout(&raft);
        loop {
            tokio::time::sleep(timings.tick).await;
            let (state, voters, joint) = {
                let m = raft.metrics();
                let m = m.borrow();
                let membership = m.membership_config.membership();
                let voters: Vec<(NodeId, String)> = membership
                    .voter_ids()
                    .map(|id| {
                        let addr = membership
                            .get_node(&id)
                            .map(|n| n.addr.clone())
                            .unwrap_or_default();
                        (id, addr)
                    })
                    .collect();
                (m.state, voters, membership.get_joint_config().clone())
            };
            if state == ServerState::Shutdown {
                return;
            }
            if state == ServerState::Leader {
                contact.touch();
                continue;
            }
            if !voters.iter().any(|(id, _)| *id == my_id) || contact.silence() < timeout {
                continue;
            }
            let granted = pre_vote_round(my_id, &raft, &network, &voters, &timings).await;
            let won = joint.iter().all(|config| {
                let yes = config.iter().filter(|id| granted.contains(id)).count();
                yes * 2 > config.len()
            });
            tracing::info!(id = my_id, ?granted, won, "pre-vote round");
            if won {
                if let Err(e) = raft.trigger().elect().await {
                    tracing::warn!(error = %e, "cannot start an election");
                }
            }
            contact.touch();
            timeout = timings.random_timeout(&raft);
        }
    })
}

/// Asks every other voter in parallel; returns the set that granted
/// (including this member).
async fn pre_vote_round(
    my_id: NodeId,
    raft: &Raft,
    network: &Network,
    voters: &[(NodeId, String)],
    timings: &ElectorTimings,
) -> BTreeSet<NodeId> {
    let req = PreVoteRequest {
        candidate: my_id,
        last_log_id: raft.data_metrics().borrow().last_log,
    };
    let deadline = Duration::from_millis(timings.min);
    let asks = voters
        .iter()
        .filter(|(id, _)| *id != my_id)
        .map(|(id, addr)| {
            let req = req.clone();
            async move {
                let answer: Result<PreVoteResponse, String> =
                    network.post_json(addr, PATH_PREVOTE, &req, deadline).await;
                match answer {
                    Ok(a) => (*id, a.granted),
                    Err(e) => {
                        tracing::debug!(peer = id, error = %e, "pre-vote not answered");
                        (*id, false)
                    }
                }
            }
        });
    let mut granted: BTreeSet<NodeId> = futures::future::join_all(asks)
        .await
        .into_iter()
        .filter(|(_, yes)| *yes)
        .map(|(id, _)| id)
        .collect();
    granted.insert(my_id);
    granted
}
