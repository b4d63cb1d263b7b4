//! The API's write side: every mutation, run on the Raft leader (`http.rs`
//! has already checked the token and forwarded when needed).
//!
//! Each handler parses its typed body (400 when malformed), validates it
//! against the replicated state, and either proposes a Raft command
//! (pause, config, membership) or runs a procedure holding the operation
//! lock (switchover, failover). A scheduled switchover is recorded in Raft
//! and run by whichever member leads at its time (`schedule.rs`); node
//! drain / stop / start are in `node_admin.rs`.

use std::sync::Arc;
use std::time::Duration;

use hyper::{Method, StatusCode};
use rustydb_manager_api as api;

use super::client::NodeApi;
use super::error::ServiceError;
use super::http::{json, parse, Answer};
use super::{node_admin, schedule, switchover, Service};
use crate::raft::{ClusterCommand, CommandResult, ConfigPatch};

pub async fn mutate(
    service: &Arc<Service>,
    method: &Method,
    path: &str,
    _query: &str,
    body: &[u8],
) -> Result<Answer, ServiceError> {
    match (method.as_str(), path) {
        ("POST", "/switchover") => post_switchover(service, parse(body)?).await,
        ("DELETE", "/switchover") => schedule::cancel(service).await,
        ("POST", "/drain") => {
            node_admin::drain(service, &parse::<api::NodeRequest>(body)?.node).await
        }
        ("POST", "/stop") => {
            node_admin::stop(service, &parse::<api::NodeRequest>(body)?.node).await
        }
        ("POST", "/start") => {
            node_admin::start(service, &parse::<api::NodeRequest>(body)?.node).await
        }
        ("POST", "/failover") => {
            let request: api::FailoverRequest = parse(body)?;
            if request.candidate.is_empty() {
                return Err(ServiceError::BadRequest("candidate is required".into()));
            }
            let result = switchover::manual_failover(service, &request).await?;
            Ok(json(StatusCode::OK, &result))
        }
        ("POST", "/backups") => super::backup::create(service, body).await,
        ("POST", "/dr/failover") => super::dr_ops::failover(service, parse(body)?).await,
        ("POST", "/dr/discard-test") => super::dr_fork::discard(service).await,
        ("POST", "/dr/standby") => super::dr_ops::become_standby(service, parse(body)?).await,
        ("POST", "/site/renew") => super::dr_auto::handle(service, None, Some(parse(body)?)).await,
        ("POST", "/site/vote") => super::dr_auto::handle(service, Some(parse(body)?), None).await,
        ("POST", "/pause") => pause(service, true).await,
        ("POST", "/resume") => pause(service, false).await,
        ("PATCH", "/config") => patch_config(service, parse(body)?).await,
        ("POST", "/reinitialize") => {
            let request: api::NodeRequest = parse(body)?;
            reinitialize(service, &request.node).await
        }
        ("POST", "/restart") => {
            let request: api::NodeRequest = parse(body)?;
            match &service.supervisor {
                Some(s) if s.node == request.node && s.is_held() => Err(ServiceError::conflict(
                    format!("node {} is stopped; use /start", request.node),
                )),
                Some(s) if s.node == request.node => {
                    s.restart();
                    Ok(json(StatusCode::OK, &serde_json::json!({"restarting": request.node})))
                }
                _ => Err(ServiceError::conflict(format!(
                    "node {} is not supervised by the leader (member {}); send /restart to the member that supervises it",
                    request.node, service.config.id
                ))),
            }
        }
        ("POST", "/members") => {
            let request: api::AddMemberRequest = parse(body)?;
            if request.id == 0 || request.raft.is_empty() {
                return Err(ServiceError::BadRequest("id and raft are required".into()));
            }
            service
                .raft
                .add_member(request.id, request.raft.clone())
                .await?;
            if let Some(url) = request.api {
                // In Raft, so every member (and any future leader) can
                // forward to the new member.
                applied(
                    service
                        .raft
                        .propose(ClusterCommand::SetMemberApi {
                            id: request.id,
                            api: Some(url),
                        })
                        .await?,
                )?;
            }
            Ok(json(
                StatusCode::OK,
                &api::MembersView {
                    leader: service.raft.leader(),
                    voters: service.raft.members(),
                },
            ))
        }
        ("DELETE", p) if p.starts_with("/members/") => {
            let id: u64 = p
                .trim_start_matches("/members/")
                .parse()
                .map_err(|_| ServiceError::BadRequest("member id must be an integer".into()))?;
            if !service.raft.members().contains_key(&id) {
                return Err(ServiceError::NotFound(format!("no member {id}")));
            }
            service.raft.remove_member(id).await?;
            if service.raft.state().1.member_apis.contains_key(&id) {
                applied(
                    service
                        .raft
                        .propose(ClusterCommand::SetMemberApi { id, api: None })
                        .await?,
                )?;
            }
            Ok(json(
                StatusCode::OK,
                &api::MembersView {
                    leader: service.raft.leader(),
                    voters: service.raft.members(),
                },
            ))
        }
        _ => Err(ServiceError::NotFound("not found".into())),
    }
}

async fn post_switchover(
    service: &Arc<Service>,
    request: api::SwitchoverRequest,
) -> Result<Answer, ServiceError> {
    match request.scheduled_at.clone() {
        Some(at) => schedule::schedule(service, &request, &at).await,
        None => {
            let result = switchover::switchover(service, &request).await?;
            Ok(json(StatusCode::OK, &result))
        }
    }
}

async fn pause(service: &Service, paused: bool) -> Result<Answer, ServiceError> {
    applied(
        service
            .raft
            .propose(ClusterCommand::Pause { paused })
            .await?,
    )?;
    Ok(json(StatusCode::OK, &serde_json::json!({"paused": paused})))
}

fn applied(result: CommandResult) -> Result<(), ServiceError> {
    match result {
        CommandResult::Rejected { reason } => Err(ServiceError::BadRequest(reason)),
        _ => Ok(()),
    }
}

async fn patch_config(
    service: &Service,
    request: api::ConfigPatchRequest,
) -> Result<Answer, ServiceError> {
    let replication_mode = match &request.replication_mode {
        None => None,
        Some(m) => Some(
            serde_json::from_value(serde_json::Value::String(m.clone())).map_err(|_| {
                ServiceError::BadRequest(format!(
                    "replication_mode must be async, sync or semi-sync, not {m}"
                ))
            })?,
        ),
    };
    let patch = ConfigPatch {
        replication_mode,
        num_sync_replicas: request.num_sync_replicas,
        maximum_lag_on_failover: request.maximum_lag_on_failover,
        lease_ttl_ms: request.lease_ttl_ms,
        heartbeat_ms: request.heartbeat_ms,
        failure_threshold: request.failure_threshold,
    };
    if patch != ConfigPatch::default() {
        applied(
            service
                .raft
                .propose(ClusterCommand::UpdateConfig { patch })
                .await?,
        )?;
    }
    if let Some(paused) = request.pause {
        applied(
            service
                .raft
                .propose(ClusterCommand::Pause { paused })
                .await?,
        )?;
    }
    Ok(json(
        StatusCode::OK,
        &super::views::config_view(&service.raft.state().1),
    ))
}

/// Re-points a replica at the primary; the node rewinds or re-clones
/// itself as its data requires (there is no "force re-clone" primitive).
async fn reinitialize(service: &Service, name: &str) -> Result<Answer, ServiceError> {
    let (_, state) = service.raft.state();
    let Some(node) = state.nodes.get(name) else {
        return Err(ServiceError::NotFound(format!("no node {name}")));
    };
    let Some(primary) = state.primary_node() else {
        return Err(ServiceError::conflict("there is no primary to clone from"));
    };
    if primary.name == name {
        return Err(ServiceError::conflict(format!("{name} is the primary")));
    }
    let api_ = NodeApi {
        client: &service.client,
        admin: &node.admin_addr,
        timeout: Duration::from_secs(5),
    };
    api_.follow(&primary.pgwire_addr)
        .await
        .map_err(|e| ServiceError::Unavailable(format!("{name}: {e}")))?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"reinitializing": name, "upstream": primary.pgwire_addr}),
    ))
}
