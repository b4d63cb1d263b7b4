//! Switchover (planned, zero loss) and manual failover.
//!
//! Switchover, with the operation lock held, on the leader:
//! 1. confirm leadership; check the primary is alive and the candidate is
//!    a live non-primary node (the best one when not named);
//! 2. stop renewing the old primary's lease and `POST /demote` it (2 s
//!    drain): it refuses new writes, lets open ones finish, and answers
//!    its final LSN;
//! 3. wait (bounded, 10 s) until the candidate reports `lsn_number` ≥ the
//!    final LSN: from then on it holds every acknowledged commit;
//! 4. record, promote, renew, re-point (`failover::promote_recorded`) —
//!    the old primary is re-pointed with the others.
//!
//! If the candidate does not catch up in time, the old primary is promoted
//! back (on a new timeline, recorded), so the cluster is never left
//! without a writer by a failed switchover.
//!
//! Manual failover (`POST /failover`) skips the demotion (the primary may
//! be dead): it checks how far the candidate is behind (and that it is on
//! the cluster's timeline) and refuses with 409 and the figure unless
//! `force` is set, then runs the failover
//! procedure (lease wait included).

use std::time::{Duration, Instant};

use rustydb_manager_api::{FailoverRequest, FailoverResult, SwitchoverRequest};

use super::client::NodeApi;
use super::error::ServiceError;
use super::failover::{self, Candidate};
use super::health::Liveness;
use super::{unix_ms, Service};
use crate::raft::{ClusterCommand, FailoverRecord};

const DRAIN_MS: u64 = 2000;
const CATCH_UP: Duration = Duration::from_secs(10);

/// Runs a switchover now.
pub async fn switchover(
    service: &Service,
    request: &SwitchoverRequest,
) -> Result<FailoverResult, ServiceError> {
    let _guard = service.op.lock().await;
    let started = Instant::now();
    let time_ms = unix_ms();
    service.raft.confirm_leadership().await?;
    let (_, state) = service.raft.state();
    let Some(old) = state.primary_node().cloned() else {
        return Err(ServiceError::conflict(
            "there is no primary to switch over from",
        ));
    };
    if let Some(leader) = &request.leader {
        if *leader != old.name {
            return Err(ServiceError::conflict(format!(
                "{leader} is not the primary ({} is)",
                old.name
            )));
        }
    }
    let now = Instant::now();
    let threshold = state.config.failure_threshold;
    let candidate = {
        let health = service.health.lock();
        if health.liveness(&old.name, now, threshold) != Liveness::Alive {
            return Err(ServiceError::conflict(format!(
                "the primary {} is not healthy; use failover",
                old.name
            )));
        }
        match &request.candidate {
            Some(name) => {
                if !state.nodes.contains_key(name) {
                    return Err(ServiceError::NotFound(format!("no node {name}")));
                }
                if *name == old.name {
                    return Err(ServiceError::conflict(format!(
                        "{name} is already the primary"
                    )));
                }
                if state.nodes.get(name).is_some_and(|n| n.stopped) {
                    return Err(ServiceError::conflict(format!(
                        "{name} is stopped; /start it first"
                    )));
                }
                if health.liveness(name, now, threshold) != Liveness::Alive {
                    return Err(ServiceError::conflict(format!("{name} is not healthy")));
                }
                name.clone()
            }
            None => {
                // Switchover loses nothing, so lag does not disqualify.
                let mut relaxed = state.clone();
                relaxed.config.maximum_lag_on_failover = u64::MAX;
                relaxed.config.replication_mode = rustydb_node::replication::CommitMode::Async;
                failover::choose_candidate(&relaxed, &health, None, now)
                    .map_err(ServiceError::conflict)?
                    .name
            }
        }
    };
    let Some(target) = state.nodes.get(&candidate).cloned() else {
        return Err(ServiceError::NotFound(format!("no node {candidate}")));
    };
    service.lease.lock().fenced = Some(old.name.clone());
    let result = async {
        let old_api = NodeApi {
            client: &service.client,
            admin: &old.admin_addr,
            timeout: Duration::from_millis(DRAIN_MS + 5000),
        };
        let final_lsn = old_api
            .demote(DRAIN_MS)
            .await
            .map_err(|e| ServiceError::Failed(format!("demote {} failed: {e}", old.name)))?;
        let cand_api = NodeApi {
            client: &service.client,
            admin: &target.admin_addr,
            timeout: Duration::from_secs(1),
        };
        // LSNs compare only on one timeline: the candidate must stream
        // from the demoted primary, on its timeline, unfenced. A node whose
        // log reaches past the final LSN on a dead timeline does not count.
        let old_timeline = old_api.status().await.ok().and_then(|s| s.timeline);
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let status = cand_api.status().await.ok();
            let lsn = status.as_ref().and_then(|s| s.lsn_number);
            let same_log = status.as_ref().is_some_and(|s| {
                old_timeline.is_some()
                    && s.timeline == old_timeline
                    && s.fenced != Some(true)
                    && s.stream_state.as_deref() == Some("streaming")
                    && s.upstream.as_deref() == Some(old.pgwire_addr.as_str())
            });
            if same_log && lsn.is_some_and(|l| l >= final_lsn) {
                break;
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::Failed(format!(
                    "{candidate} did not reach the final LSN {final_lsn} within {} s (at {lsn:?}); {} was promoted back",
                    CATCH_UP.as_secs(),
                    old.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        failover::promote_recorded(service, &state, &candidate, "switchover", time_ms).await
    }
    .await;
    let result = match result {
        Ok(tl) => Ok(tl),
        Err(e) => {
            // Promote the old primary back so writes resume.
            let (_, now_state) = service.raft.state();
            if now_state.primary.as_deref() == Some(old.name.as_str()) {
                service.lease.lock().fenced = None;
                if let Err(back) = failover::promote_recorded(
                    service,
                    &now_state,
                    &old.name,
                    "switchover rollback",
                    unix_ms(),
                )
                .await
                {
                    tracing::error!(error = %back, "switchover rollback failed");
                }
            }
            Err(e)
        }
    };
    service.lease.lock().fenced = None;
    let duration_ms = started.elapsed().as_millis() as u64;
    let record = FailoverRecord {
        time_ms,
        from: Some(old.name.clone()),
        to: Some(candidate.clone()),
        reason: "switchover".into(),
        success: result.is_ok(),
        duration_ms,
    };
    let _ = service
        .raft
        .propose(ClusterCommand::RecordFailover { record })
        .await;
    let timeline = result?;
    service.metrics.switchovers.inc();
    Ok(FailoverResult {
        from: Some(old.name),
        to: candidate,
        timeline,
        lost_bytes: 0,
        duration_ms,
    })
}

/// Manual failover to a named node.
pub async fn manual_failover(
    service: &Service,
    request: &FailoverRequest,
) -> Result<FailoverResult, ServiceError> {
    let _guard = service.op.lock().await;
    service.raft.confirm_leadership().await?;
    let (_, state) = service.raft.state();
    let name = &request.candidate;
    let Some(node) = state.nodes.get(name) else {
        return Err(ServiceError::NotFound(format!("no node {name}")));
    };
    if state.primary.as_deref() == Some(name.as_str()) {
        return Err(ServiceError::conflict(format!(
            "{name} is already the primary"
        )));
    }
    if node.stopped {
        return Err(ServiceError::conflict(format!(
            "{name} is stopped; /start it first"
        )));
    }
    let now = Instant::now();
    let (lsn, lag, alive, timeline, min_timeline) = {
        let health = service.health.lock();
        let primary_lsn = service.lease.lock().last_primary_lsn.unwrap_or(0);
        (
            health.lsn(name),
            failover::lag_bytes(&state, &health, name, primary_lsn),
            health.liveness(name, now, state.config.failure_threshold) == Liveness::Alive,
            health.status(name).and_then(|s| s.timeline).unwrap_or(0),
            state.current_timeline(),
        )
    };
    if !alive || lsn.is_none() {
        return Err(ServiceError::conflict(format!("{name} is not healthy")));
    }
    // Its LSN says nothing on an old timeline: it may miss everything
    // written since the switch, and hold a dead branch's records instead.
    if timeline < min_timeline && !request.force {
        return Err(ServiceError::Conflict {
            message: format!(
                "{name} is on timeline {timeline}, behind the cluster's timeline {min_timeline}; use force to promote it anyway"
            ),
            detail: Some(serde_json::json!({
                "candidate": name,
                "candidate_timeline": timeline,
                "cluster_timeline": min_timeline,
            })),
        });
    }
    let primary_lsn = service.lease.lock().last_primary_lsn;
    // Any lag is data an operator would lose: refuse unless forced.
    if lag > 0 && !request.force {
        return Err(ServiceError::Conflict {
            message: format!(
                "{name} is {lag} bytes behind the primary; use force to accept losing them"
            ),
            detail: Some(serde_json::json!({
                "candidate": name,
                "candidate_lsn": lsn,
                "primary_lsn": primary_lsn,
                "lag_bytes": lag,
                "nofailover": node.nofailover,
            })),
        });
    }
    let candidate = Candidate {
        name: name.clone(),
        lsn: lsn.unwrap_or(0),
        lag_bytes: lag,
    };
    failover::fail_over(service, candidate, "manual failover").await
}
