//! Failover: choosing a candidate and moving the primary role to it.
//!
//! `choose_candidate` is a pure function of the replicated state and this
//! member's observations, so it is unit-tested without a cluster. Rules:
//! never a `nofailover`, drained or stopped node, never a node the
//! detector does not consider alive, never one without a known LSN; never
//! a node on a timeline older than the cluster's
//! (`ClusterState::current_timeline`): LSNs compare only within one
//! timeline, and a
//! node left on an old one may hold records of a dead branch past the
//! switch point, so a high LSN there proves nothing; in sync mode only a member of the
//! sync set or a node whose LSN reached the last LSN the primary reported
//! (such a node has every acknowledged commit); otherwise the node must lag
//! at most `maximum_lag_on_failover` bytes (the primary's own lag estimate
//! when it had one, else the LSN difference times [`RECORD_BYTES`]). Among
//! the eligible: highest timeline, then highest LSN, then highest
//! `failover_priority`, then name.
//!
//! `fail_over` is the procedure, run by the leader with the operation lock
//! held, in this order (decision 4):
//! 1. confirm leadership with a quorum (a deposed leader stops here);
//! 2. stop renewing the old primary's lease and wait until every renewal
//!    any leader may have sent has expired (`LeaseBook::expiry` plus a
//!    margin) — from then on the old primary acknowledges no commit;
//! 3. confirm leadership again and write the decision to Raft
//!    (`SetPrimary` with a new timeline) — the point of no return;
//! 4. `POST /promote` the candidate and renew its lease at once;
//! 5. re-point the reachable replicas (`POST /follow`), record the
//!    attempt in the failover history.
//!
//! The old primary, when it comes back, is re-pointed by `reconcile`.

use std::time::{Duration, Instant};

use rustydb_manager_api::FailoverResult;

use super::client::NodeApi;
use super::error::ServiceError;
use super::health::{HealthTable, Liveness};
use super::{monitor, unix_ms, Service};
use crate::raft::{ClusterCommand, ClusterState, FailoverRecord, NodeInfo};
use rustydb_node::replication::CommitMode;

/// Bytes per WAL record assumed when only LSNs (record counts) are known.
pub const RECORD_BYTES: u64 = 256;

/// Extra wait past a lease's end, for clock-rate drift between machines.
pub fn lease_margin(lease_ttl: Duration) -> Duration {
    lease_ttl / 10 + Duration::from_millis(50)
}

/// A candidate and how far behind it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub lsn: u64,
    pub lag_bytes: u64,
}

/// How far `name` is behind the primary, in bytes (estimate).
pub fn lag_bytes(state: &ClusterState, health: &HealthTable, name: &str, primary_lsn: u64) -> u64 {
    let reported = state
        .primary
        .as_ref()
        .and_then(|p| health.nodes.get(p))
        .and_then(|o| o.replication.as_ref())
        .and_then(|r| {
            r.replicas
                .iter()
                .find(|x| x.name.as_deref() == Some(name))
                .map(|x| x.lag_bytes)
        });
    let by_lsn = primary_lsn.saturating_sub(health.lsn(name).unwrap_or(0)) * RECORD_BYTES;
    // The primary's figure is older than the candidate's own LSN; take the
    // LSN difference when it is smaller (the candidate caught up since).
    match reported {
        Some(r) => r.min(by_lsn),
        None => by_lsn,
    }
}

/// Picks the best candidate to replace the primary, or explains why none.
pub fn choose_candidate(
    state: &ClusterState,
    health: &HealthTable,
    last_primary_lsn: Option<u64>,
    now: Instant,
) -> Result<Candidate, String> {
    let primary = state.primary.as_deref();
    let threshold = state.config.failure_threshold;
    let target = last_primary_lsn.unwrap_or(0);
    let sync = state.config.replication_mode == CommitMode::Sync;
    let min_timeline = state.current_timeline();
    let mut eligible: Vec<(Candidate, u64, i32)> = Vec::new();
    let mut reasons = Vec::new();
    for node in state.nodes.values() {
        if Some(node.name.as_str()) == primary {
            continue;
        }
        if node.nofailover || node.drained || node.stopped {
            let why = match (node.stopped, node.drained) {
                (true, _) => "stopped",
                (_, true) => "drained",
                _ => "nofailover",
            };
            reasons.push(format!("{}: {why}", node.name));
            continue;
        }
        if health.liveness(&node.name, now, threshold) != Liveness::Alive {
            reasons.push(format!("{}: not healthy", node.name));
            continue;
        }
        let Some(lsn) = health.lsn(&node.name) else {
            reasons.push(format!("{}: LSN unknown", node.name));
            continue;
        };
        let timeline = health
            .status(&node.name)
            .and_then(|s| s.timeline)
            .unwrap_or(0);
        if timeline < min_timeline {
            reasons.push(format!(
                "{}: on timeline {timeline}, behind the cluster's timeline {min_timeline}",
                node.name
            ));
            continue;
        }
        let lag = lag_bytes(state, health, &node.name, target);
        if sync {
            if !state.sync_set.contains(&node.name) && lsn < target {
                reasons.push(format!("{}: not in the sync set and behind", node.name));
                continue;
            }
        } else if lag > state.config.maximum_lag_on_failover {
            reasons.push(format!(
                "{}: {lag} bytes behind (maximum_lag_on_failover {})",
                node.name, state.config.maximum_lag_on_failover
            ));
            continue;
        }
        eligible.push((
            Candidate {
                name: node.name.clone(),
                lsn,
                lag_bytes: lag,
            },
            timeline,
            node.failover_priority,
        ));
    }
    eligible.sort_by(|(a, ta, pa), (b, tb, pb)| {
        tb.cmp(ta)
            .then(b.lsn.cmp(&a.lsn))
            .then(pb.cmp(pa))
            .then(a.name.cmp(&b.name))
    });
    match eligible.into_iter().next() {
        Some((c, _, _)) => Ok(c),
        None => Err(format!("no failover candidate ({})", reasons.join("; "))),
    }
}

/// The whole failover procedure (see the module comment). The caller
/// holds the operation lock.
pub async fn fail_over(
    service: &Service,
    candidate: Candidate,
    reason: &str,
) -> Result<FailoverResult, ServiceError> {
    let started = Instant::now();
    let time_ms = unix_ms();
    let (_, state) = service.raft.state();
    let old = state.primary.clone();
    let Some(target) = state.nodes.get(&candidate.name).cloned() else {
        return Err(ServiceError::NotFound(format!(
            "no node {}",
            candidate.name
        )));
    };
    service.raft.confirm_leadership().await?;
    let lease_ttl = Duration::from_millis(state.config.lease_ttl_ms);
    if let Some(old) = &old {
        let expiry = {
            let mut book = service.lease.lock();
            book.fenced = Some(old.clone());
            book.expiry(old, lease_ttl, lease_margin(lease_ttl))
        };
        if let Some(expiry) = expiry {
            tracing::info!(old = %old, wait_ms = expiry.saturating_duration_since(Instant::now()).as_millis() as u64, "waiting for the old primary's lease to expire");
            tokio::time::sleep_until(expiry.into()).await;
        }
    }
    let outcome = promote_recorded(service, &state, &target.name, reason, time_ms).await;
    service.lease.lock().fenced = None;
    let duration_ms = started.elapsed().as_millis() as u64;
    let success = outcome.is_ok();
    let record = FailoverRecord {
        time_ms,
        from: old.clone(),
        to: Some(target.name.clone()),
        reason: reason.to_string(),
        success,
        duration_ms,
    };
    if let Err(e) = service
        .raft
        .propose(ClusterCommand::RecordFailover { record })
        .await
    {
        tracing::warn!(error = %e, "cannot record the failover");
    }
    let timeline = outcome?;
    service.metrics.failovers.inc();
    tracing::info!(from = ?old, to = %target.name, timeline, duration_ms, reason, "failover done");
    Ok(FailoverResult {
        from: old,
        to: target.name,
        timeline,
        lost_bytes: candidate.lag_bytes,
        duration_ms,
    })
}

/// Steps 3-5: record `name` as primary in Raft, promote it, renew its
/// lease, re-point the other reachable nodes. Answers the new timeline.
pub async fn promote_recorded(
    service: &Service,
    state: &ClusterState,
    name: &str,
    reason: &str,
    time_ms: u64,
) -> Result<u64, ServiceError> {
    let Some(node) = state.nodes.get(name).cloned() else {
        return Err(ServiceError::NotFound(format!("no node {name}")));
    };
    let node_tl = service.health.lock().status(name).and_then(|s| s.timeline);
    let timeline = state.timeline.max(node_tl.unwrap_or(0)) + 1;
    let start_lsn = service.health.lock().lsn(name).unwrap_or(0);
    service.raft.confirm_leadership().await?;
    let answer = service
        .raft
        .propose(ClusterCommand::SetPrimary {
            name: name.to_string(),
            timeline,
            start_lsn,
            reason: reason.to_string(),
            time_ms,
        })
        .await?;
    if let crate::raft::CommandResult::Rejected { reason } = answer {
        return Err(ServiceError::conflict(format!(
            "Raft refused the new primary: {reason}"
        )));
    }
    promote_node(service, &node, timeline, start_lsn, reason, time_ms).await?;
    Ok(service.raft.state().1.timeline)
}

/// Steps 4-5 for a node already recorded as primary with `timeline`:
/// `POST /promote` (409 "already primary" is fine), record the node's own
/// timeline when it opened a later one than recorded, renew its lease,
/// re-point the other reachable nodes.
pub async fn promote_node(
    service: &Service,
    node: &NodeInfo,
    timeline: u64,
    start_lsn: u64,
    reason: &str,
    time_ms: u64,
) -> Result<(), ServiceError> {
    let name = node.name.as_str();
    let api = NodeApi {
        client: &service.client,
        admin: &node.admin_addr,
        timeout: Duration::from_secs(10),
    };
    match api.promote().await {
        Ok(v) => {
            let actual = v
                .get("timeline")
                .and_then(|t| t.as_u64())
                .unwrap_or(timeline);
            if actual > timeline {
                // Keep the recorded timeline in line with the node's.
                let _ = service
                    .raft
                    .propose(ClusterCommand::SetPrimary {
                        name: name.to_string(),
                        timeline: actual,
                        start_lsn,
                        reason: format!("{reason} (timeline correction)"),
                        time_ms,
                    })
                    .await;
            }
            record_node_timeline(service, name, actual).await;
        }
        Err(super::client::ClientError::Status { status: 409, .. }) => {
            tracing::info!(node = name, "candidate already primary");
            if let Some(tl) = api.status().await.ok().and_then(|s| s.timeline) {
                record_node_timeline(service, name, tl).await;
            }
        }
        Err(e) => {
            return Err(ServiceError::Failed(format!(
                "{name} is recorded as primary but its promotion failed: {e} (reconcile repairs it)"
            )))
        }
    }
    let (_, fresh) = service.raft.state();
    monitor::renew_now(service, name, &node.admin_addr, &fresh).await;
    repoint_replicas(service, &fresh, None).await;
    Ok(())
}

/// Records the timeline the primary's node runs on, so candidate choice
/// compares against the log that really exists (see `current_timeline`).
pub async fn record_node_timeline(service: &Service, name: &str, timeline: u64) {
    let command = ClusterCommand::SetNodeTimeline {
        name: name.to_string(),
        timeline,
    };
    if let Err(e) = service.raft.propose(command).await {
        tracing::warn!(node = name, error = %e, "cannot record the primary's timeline");
    }
}

/// Tells every other registered node to follow the recorded primary
/// (`skip`: a node not to touch). Unreachable nodes are left to reconcile.
pub async fn repoint_replicas(service: &Service, state: &ClusterState, skip: Option<&str>) {
    let Some(primary) = state.primary_node() else {
        return;
    };
    // A node already streaming from the primary is left alone: `/follow`
    // restarts its stream (and fences it until the handshake).
    let settled: Vec<String> = {
        let health = service.health.lock();
        state
            .nodes
            .keys()
            .filter(|n| {
                health.status(n).is_some_and(|s| {
                    !s.is_primary() && s.upstream.as_deref() == Some(primary.pgwire_addr.as_str())
                })
            })
            .cloned()
            .collect()
    };
    let calls = state
        .nodes
        .values()
        .filter(|n| n.name != primary.name && Some(n.name.as_str()) != skip)
        .filter(|n| !settled.contains(&n.name))
        .map(|n| {
            let api = NodeApi {
                client: &service.client,
                admin: &n.admin_addr,
                timeout: Duration::from_secs(2),
            };
            let target = primary.pgwire_addr.clone();
            let name = n.name.clone();
            async move {
                if let Err(e) = api.follow(&target).await {
                    tracing::debug!(node = %name, error = %e, "cannot re-point");
                } else {
                    tracing::info!(node = %name, primary = %target, "re-pointed");
                }
            }
        });
    futures::future::join_all(calls).await;
}

#[cfg(test)]
#[path = "failover_tests.rs"]
mod tests;
