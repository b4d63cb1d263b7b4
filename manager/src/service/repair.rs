//! Repair of a recorded primary that runs as a replica.
//!
//! Raft says P is the primary, P answers its heartbeats, but P reports
//! role `replica`: its promotion failed after the decision was recorded,
//! or it crashed and came back without it (a supervised restart with a
//! `--follow` argument, a re-clone). The cluster has no writer, and the
//! failure detector will never fire because P is alive. Reconcile calls
//! [`repair`] once the mismatch has persisted for [`REPAIR_AFTER`] (so a
//! status polled mid-promotion does not count).
//!
//! Safety (decision 4: at no moment may two nodes accept commits, and no
//! acknowledged commit may be lost) decides between two ways out, by
//! [`check`], a pure function of the replicated state and this member's
//! observations:
//!
//! - **re-promote P** only when nothing else could be primary and P holds
//!   the newest history: no other live node runs as a primary; every other
//!   node that does not answer (and is not administratively stopped) has a
//!   lease that has certainly expired (`LeaseBook::expiry`, the same bound
//!   failover waits for); P is not fenced (mid-rewind); no node is known on
//!   a newer timeline than P, nor ahead of P on P's timeline (a replica
//!   ahead of P proves P lost acknowledged records); and if P is below the
//!   recorded timeline, every node has answered, so no silent node can
//!   hold that timeline's records. Then `POST /promote`, record the
//!   node's timeline when it is later than the recorded one, renew the
//!   lease, re-point the others, and record the repair in the history.
//! - **fail over by the normal path** (`failover::fail_over` through the
//!   candidate rules, lease wait included) when P provably lacks records
//!   another node holds, or another node runs as a primary.
//! - otherwise **wait** (a lease still running, a node not yet heard
//!   from, a silent node that last ran as a primary without any lease
//!   from us, so nothing bounds how long it may accept commits) and look
//!   again next tick.
//!
//! Nothing happens while the cluster is paused: both ways out are
//! automatic actions.

use std::time::{Duration, Instant};

use super::failover;
use super::health::{HealthTable, Liveness};
use super::{unix_ms, Service};
use crate::raft::{ClusterCommand, ClusterState, FailoverRecord};

/// How long the mismatch must persist before anything is done.
pub const REPAIR_AFTER: Duration = Duration::from_millis(600);
/// Minimum time between two re-promotion attempts.
const REPAIR_RETRY: Duration = Duration::from_secs(2);

/// What to do about a recorded primary that runs as a replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Repromote,
    FailOver(String),
    Wait(String),
}

/// Decides (see the module comment). `lease_over(name)`: whether every
/// lease this leader (or, by the election-time bound, its predecessors)
/// may have given `name` has certainly expired; `None` when it has no
/// record of a lease for `name`.
pub fn check(
    state: &ClusterState,
    health: &HealthTable,
    primary: &str,
    lease_over: &dyn Fn(&str) -> Option<bool>,
    now: Instant,
) -> Verdict {
    let Some(p) = health.status(primary) else {
        return Verdict::Wait(format!("{primary} has not answered"));
    };
    if p.is_primary() {
        return Verdict::Wait(format!("{primary} runs as the primary"));
    }
    if p.fenced == Some(true) {
        return Verdict::Wait(format!("{primary} is fenced (verifying its timeline)"));
    }
    let p_tl = p.timeline.unwrap_or(0);
    let p_lsn = p.lsn_number.unwrap_or(0);
    let threshold = state.config.failure_threshold;
    for node in state.nodes.values().filter(|n| n.name != primary) {
        let name = node.name.as_str();
        let alive = health.liveness(name, now, threshold) == Liveness::Alive;
        let status = health.status(name);
        if alive && status.is_some_and(|s| s.is_primary()) {
            return Verdict::FailOver(format!("{name} runs as a primary"));
        }
        if !alive && !node.stopped {
            let ran_as_primary = status.is_some_and(|s| s.is_primary());
            match lease_over(name) {
                Some(false) => {
                    return Verdict::Wait(format!(
                        "{name} does not answer and its lease may be valid"
                    ))
                }
                // A primary no manager gave a lease to enforces none: while
                // it is silent, nothing proves it stopped accepting commits.
                None if ran_as_primary => {
                    return Verdict::Wait(format!(
                        "{name} does not answer and last ran as a primary without a lease"
                    ))
                }
                _ => {}
            }
        }
        match status.map(|s| (s.timeline.unwrap_or(0), s.lsn_number.unwrap_or(0))) {
            Some((tl, _)) if tl > p_tl => {
                return Verdict::FailOver(format!(
                    "{name} is on timeline {tl}, newer than {primary}'s {p_tl}"
                ))
            }
            Some((tl, lsn)) if tl == p_tl && lsn > p_lsn => {
                return Verdict::FailOver(format!(
                    "{name} is ahead of {primary} on timeline {tl} ({lsn} > {p_lsn})"
                ))
            }
            None if p_tl < state.current_timeline() && !node.stopped => {
                return Verdict::Wait(format!(
                    "{name} has not answered and may hold timeline {}",
                    state.current_timeline()
                ))
            }
            _ => {}
        }
    }
    Verdict::Repromote
}

/// Acts on the verdict for `primary` (reconcile holds the operation lock).
pub async fn repair(service: &Service, state: &ClusterState, primary: &str, now: Instant) {
    if state.paused {
        return;
    }
    let verdict = {
        let health = service.health.lock();
        let lease = service.lease.lock();
        let ttl = Duration::from_millis(state.config.lease_ttl_ms);
        let lease_over = |name: &str| {
            lease
                .expiry(name, ttl, failover::lease_margin(ttl))
                .map(|t| t <= now)
        };
        check(state, &health, primary, &lease_over, now)
    };
    match verdict {
        Verdict::Repromote => {
            // A promotion that keeps failing is retried, not hammered (each
            // attempt is a history record).
            {
                let mut memo = service.memo.lock();
                if memo.last_repair.is_some_and(|t| t.elapsed() < REPAIR_RETRY) {
                    return;
                }
                memo.last_repair = Some(Instant::now());
            }
            repromote(service, state, primary).await
        }
        Verdict::FailOver(why) => {
            tracing::warn!(
                primary,
                "recorded primary runs as a replica and {why}: failing over"
            );
            super::reconcile::auto_failover(
                service,
                state,
                primary,
                now,
                "recorded primary ran as a replica",
            )
            .await;
        }
        Verdict::Wait(why) => {
            let mut memo = service.memo.lock();
            if memo
                .last_refusal
                .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
            {
                memo.last_refusal = Some(Instant::now());
                tracing::warn!(
                    primary,
                    "recorded primary runs as a replica; waiting: {why}"
                );
            }
        }
    }
}

async fn repromote(service: &Service, state: &ClusterState, primary: &str) {
    let Some(node) = state.nodes.get(primary).cloned() else {
        return;
    };
    let started = Instant::now();
    let time_ms = unix_ms();
    if let Err(e) = service.raft.confirm_leadership().await {
        tracing::debug!(error = %e, "repair: leadership not confirmed");
        return;
    }
    tracing::warn!(
        primary,
        "recorded primary runs as a replica: promoting it again"
    );
    let start_lsn = service.health.lock().lsn(primary).unwrap_or(0);
    let reason = "repair: recorded primary ran as a replica";
    let outcome =
        failover::promote_node(service, &node, state.timeline, start_lsn, reason, time_ms).await;
    if let Err(e) = &outcome {
        tracing::error!(error = %e, "repair failed");
    }
    let record = FailoverRecord {
        time_ms,
        from: Some(primary.to_string()),
        to: Some(primary.to_string()),
        reason: reason.to_string(),
        success: outcome.is_ok(),
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let _ = service
        .raft
        .propose(ClusterCommand::RecordFailover { record })
        .await;
}

#[cfg(test)]
#[path = "repair_tests.rs"]
mod tests;
