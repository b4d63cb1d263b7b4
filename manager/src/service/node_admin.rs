//! Operator actions on one storage node: `POST /drain`, `/stop`, `/start`
//! (`{"node": NAME}`, what `rustydb-cli node drain|stop|start` sends).
//!
//! They run on the manager leader (`http.rs` forwards them) and only set
//! flags in the replicated state (`SetNodeAdmin`); everything else follows
//! from the flags, on whichever member leads or supervises:
//!
//! - **drain**: `drained` — proxies stop sending the node reads
//!   (`/topology` and `/cluster` show it `noloadbalance`, `/replica`
//!   answers 503), it is not picked automatically as a new primary or
//!   sync standby. If it is the primary, a switchover moves the role away
//!   first (409 when no replica can take it).
//! - **stop**: `stopped` — same switchover first if it is the primary;
//!   then the member supervising the node sees the flag and stops the
//!   process (SIGTERM, then SIGKILL after 10 s), and keeps it down: no
//!   restart by supervision, no failover (it is not the primary), no
//!   re-pointing; `/cluster` shows it `stopped`, not `failed`. The answer
//!   waits (bounded) for the node to stop answering and says whether it
//!   did (`process_exited`): a node no member supervises stays up until
//!   its operator stops it.
//! - **start**: clears `stopped` and `drained`: the supervising member
//!   starts the process, and reconcile re-points it at the primary, so it
//!   rejoins as a replica. The answer waits (bounded) until it answers.
//!
//! 404 for an unknown node; 409 when the state forbids the action (drain
//! a drained node, stop a stopped one, start one that is neither, or no
//! switchover candidate for the primary). The flags are never set on the
//! primary (the state machine refuses), so a stopped node is never the
//! primary and its silence can never trigger a failover.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use rustydb_manager_api as api;

use super::client::NodeApi;
use super::error::ServiceError;
use super::http::{json, Answer};
use super::{switchover, Service};
use crate::raft::{ClusterCommand, CommandResult, NodeInfo};

/// How long `/stop` waits for the process to stop answering.
const STOP_WAIT: Duration = Duration::from_secs(15);
/// How long `/start` waits for the node to answer.
const START_WAIT: Duration = Duration::from_secs(20);

pub async fn drain(service: &Arc<Service>, name: &str) -> Result<Answer, ServiceError> {
    let node = known(service, name)?;
    if node.drained {
        return Err(ServiceError::conflict(format!("{name} is already drained")));
    }
    let switched = move_primary_away(service, name).await?;
    record(service, name, Some(true), None).await?;
    tracing::info!(node = name, "node drained");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"node": name, "drained": true, "switchover": switched}),
    ))
}

pub async fn stop(service: &Arc<Service>, name: &str) -> Result<Answer, ServiceError> {
    let node = known(service, name)?;
    if node.stopped {
        return Err(ServiceError::conflict(format!("{name} is already stopped")));
    }
    let switched = move_primary_away(service, name).await?;
    record(service, name, None, Some(true)).await?;
    tracing::info!(node = name, "node administratively stopped");
    let exited = wait_answering(service, &node.admin_addr, false, STOP_WAIT).await;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "node": name,
            "stopped": true,
            "process_exited": exited,
            "switchover": switched,
        }),
    ))
}

pub async fn start(service: &Arc<Service>, name: &str) -> Result<Answer, ServiceError> {
    let node = known(service, name)?;
    if !node.stopped && !node.drained {
        return Err(ServiceError::conflict(format!(
            "{name} is neither stopped nor drained"
        )));
    }
    record(service, name, Some(false), Some(false)).await?;
    tracing::info!(node = name, "node returned to service");
    let answering = wait_answering(service, &node.admin_addr, true, START_WAIT).await;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"node": name, "started": true, "answering": answering}),
    ))
}

fn known(service: &Service, name: &str) -> Result<NodeInfo, ServiceError> {
    service
        .raft
        .state()
        .1
        .nodes
        .get(name)
        .cloned()
        .ok_or_else(|| ServiceError::NotFound(format!("no node {name}")))
}

/// Switches over away from `name` when it is the primary; answers the
/// switchover's result (None when it was not the primary).
async fn move_primary_away(
    service: &Service,
    name: &str,
) -> Result<Option<api::FailoverResult>, ServiceError> {
    if service.raft.state().1.primary.as_deref() != Some(name) {
        return Ok(None);
    }
    let request = api::SwitchoverRequest {
        leader: Some(name.to_string()),
        candidate: None,
        scheduled_at: None,
    };
    let result = switchover::switchover(service, &request)
        .await
        .map_err(|e| match e {
            ServiceError::Conflict { message, detail } => ServiceError::Conflict {
                message: format!(
                    "{name} is the primary and cannot be switched away from: {message}"
                ),
                detail,
            },
            other => other,
        })?;
    Ok(Some(result))
}

/// Records the flags, with the operation lock held (so no failover or
/// switchover makes the node primary between the check and the write).
async fn record(
    service: &Service,
    name: &str,
    drained: Option<bool>,
    stopped: Option<bool>,
) -> Result<(), ServiceError> {
    let _guard = service.op.lock().await;
    service.raft.confirm_leadership().await?;
    let command = ClusterCommand::SetNodeAdmin {
        name: name.to_string(),
        drained,
        stopped,
    };
    match service.raft.propose(command).await? {
        CommandResult::Rejected { reason } => Err(ServiceError::conflict(reason)),
        _ => Ok(()),
    }
}

/// Polls the node's `/status` until it answers (`want` true) or stops
/// answering (`want` false); false when `bound` passed first.
async fn wait_answering(service: &Service, admin: &str, want: bool, bound: Duration) -> bool {
    let api = NodeApi {
        client: &service.client,
        admin,
        timeout: Duration::from_millis(500),
    };
    let deadline = Instant::now() + bound;
    loop {
        if api.status().await.is_ok() == want {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
