//! Scheduled switchover: `POST /switchover` with `scheduled_at`,
//! `GET /switchover`, `DELETE /switchover`, and running it when due.
//!
//! The schedule lives in the replicated state (`ScheduleSwitchover`), not
//! in the memory of the leader that accepted it, so it survives a change
//! of manager leader: whichever member leads when the time comes runs it.
//!
//! ```text
//!  POST /switchover {scheduled_at} ─► ScheduleSwitchover (Raft) ─► 202
//!  leader tick (monitor.rs) ─► run_due: at_ms reached?
//!      ─► CancelSwitchover{id} (Raft) ─► spawn switchover::switchover
//!  DELETE /switchover ─► CancelSwitchover{id: None}
//! ```
//!
//! Invariant: a scheduled switchover runs at most once. The leader removes
//! it from the state (naming its id, so a newer schedule is never removed
//! by mistake) *before* it starts the switchover; a leader that dies
//! half-way leaves nothing to re-run, and the switchover's own record in
//! the history says how far it got. The time is compared with this
//! member's wall clock: members' clocks are assumed to agree to well
//! within a heartbeat, as for the records' timestamps.

use std::sync::Arc;

use hyper::StatusCode;
use rustydb_manager_api as api;

use super::error::ServiceError;
use super::http::{json, Answer};
use super::{switchover, unix_ms, Service};
use crate::raft::{ClusterCommand, ClusterState, CommandResult, FailoverRecord};

/// The scheduled switchover as the API shows it.
pub fn view(state: &ClusterState) -> Option<api::ScheduledSwitchover> {
    state
        .scheduled_switchover
        .as_ref()
        .map(|s| api::ScheduledSwitchover {
            scheduled_at: s.scheduled_at.clone(),
            leader: s.leader.clone(),
            candidate: s.candidate.clone(),
        })
}

/// Records a switchover to run at `at` (RFC 3339). 202 with the schedule.
pub async fn schedule(
    service: &Service,
    request: &api::SwitchoverRequest,
    at: &str,
) -> Result<Answer, ServiceError> {
    let when = chrono::DateTime::parse_from_rfc3339(at)
        .map_err(|e| ServiceError::BadRequest(format!("scheduled_at must be RFC 3339: {e}")))?;
    let at_ms = u64::try_from(when.timestamp_millis()).unwrap_or(0);
    let (_, state) = service.raft.state();
    for name in [&request.leader, &request.candidate].into_iter().flatten() {
        if !state.nodes.contains_key(name) {
            return Err(ServiceError::NotFound(format!("no node {name}")));
        }
    }
    let command = ClusterCommand::ScheduleSwitchover {
        at_ms,
        scheduled_at: at.to_string(),
        leader: request.leader.clone(),
        candidate: request.candidate.clone(),
    };
    if let CommandResult::Rejected { reason } = service.raft.propose(command).await? {
        return Err(ServiceError::conflict(format!(
            "{reason}; DELETE /switchover first"
        )));
    }
    let scheduled = view(&service.raft.state().1);
    Ok(json(StatusCode::ACCEPTED, &scheduled))
}

/// `DELETE /switchover`: 404 when nothing is scheduled.
pub async fn cancel(service: &Service) -> Result<Answer, ServiceError> {
    let Some(pending) = view(&service.raft.state().1) else {
        return Err(ServiceError::NotFound("no scheduled switchover".into()));
    };
    match service
        .raft
        .propose(ClusterCommand::CancelSwitchover { id: None })
        .await?
    {
        CommandResult::Rejected { reason } => Err(ServiceError::NotFound(reason)),
        _ => Ok(json(
            StatusCode::OK,
            &serde_json::json!({"cancelled": pending}),
        )),
    }
}

/// On the leader, each tick: when the scheduled switchover is due, take
/// it out of the state and run it in the background.
pub async fn run_due(service: &Arc<Service>, state: &ClusterState) {
    let Some(due) = state.scheduled_switchover.clone() else {
        return;
    };
    if unix_ms() < due.at_ms {
        return;
    }
    match service
        .raft
        .propose(ClusterCommand::CancelSwitchover { id: Some(due.id) })
        .await
    {
        Ok(CommandResult::Applied) => {}
        Ok(_) => return,
        Err(e) => {
            tracing::debug!(error = %e, "cannot take the scheduled switchover");
            return;
        }
    }
    tracing::info!(at = %due.scheduled_at, candidate = ?due.candidate, "running the scheduled switchover");
    let service = Arc::clone(service);
    tokio::spawn(async move {
        let request = api::SwitchoverRequest {
            leader: due.leader.clone(),
            candidate: due.candidate.clone(),
            scheduled_at: None,
        };
        let started = unix_ms();
        match switchover::switchover(&service, &request).await {
            Ok(r) => tracing::info!(to = %r.to, "scheduled switchover done"),
            // Refused before it started (no primary, unhealthy candidate,
            // ...): switchover() recorded nothing, so record the refusal.
            Err(e @ (ServiceError::Conflict { .. } | ServiceError::NotFound(_))) => {
                tracing::error!(error = %e, "scheduled switchover refused");
                let record = FailoverRecord {
                    time_ms: started,
                    from: due.leader.clone(),
                    to: due.candidate.clone(),
                    reason: format!("scheduled switchover refused: {e}"),
                    success: false,
                    duration_ms: unix_ms().saturating_sub(started),
                };
                let _ = service
                    .raft
                    .propose(ClusterCommand::RecordFailover { record })
                    .await;
            }
            Err(e) => tracing::error!(error = %e, "scheduled switchover failed"),
        }
    });
}
