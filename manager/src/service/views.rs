//! The API's read side: every `GET` endpoint, built from the replicated
//! state (`raft.state()`) and this member's observations (`health`).
//!
//! Reads never touch Raft's log and never wait on the group, except
//! `/topology?wait=INDEX`, which long-polls the apply watch (bounded at
//! 30 s) so a proxy learns of a new primary as soon as it is applied
//! here. `/primary` and `/replica` ask the node itself (a fresh `/status`
//! with a short deadline), because HAProxy-style checks must reflect the
//! node now, not the last heartbeat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::{Method, StatusCode};
use rustydb_manager_api as api;

use super::client::NodeApi;
use super::failover;
use super::health::Liveness;
use super::http::{self, error, json, Answer};
use super::Service;
use crate::raft::{ClusterState, NodeInfo};

const KNOWN: &[&str] = &[
    "/cluster",
    "/primary",
    "/leader",
    "/replica",
    "/health",
    "/liveness",
    "/readiness",
    "/history",
    "/backups",
    "/backups/progress",
    "/config",
    "/metrics",
    "/topology",
    "/members",
    "/switchover",
    "/failover",
    "/pause",
    "/resume",
    "/reinitialize",
    "/restart",
    "/drain",
    "/stop",
    "/start",
    "/dr/status",
    "/dr/check",
    "/dr/report",
    "/dr/failover",
    "/dr/discard-test",
    "/dr/standby",
    "/site/renew",
    "/site/vote",
];

pub fn known_path(path: &str) -> bool {
    KNOWN.contains(&path) || path.starts_with("/members/")
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

pub async fn get(service: &Arc<Service>, path: &str, query: &str) -> Answer {
    match path {
        "/cluster" => {
            let mut view = cluster(service);
            probe_managers(service, &mut view).await;
            json(StatusCode::OK, &view)
        }
        "/primary" | "/leader" => check(service, query, true).await,
        "/replica" => check(service, query, false).await,
        "/health" | "/readiness" => {
            let view = health(service);
            let code = if view.leader.is_some() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            json(code, &view)
        }
        "/liveness" => json(StatusCode::OK, &health(service)),
        "/dr/status" => json(StatusCode::OK, &super::dr_ops::status(service)),
        "/dr/check" => super::dr_ops::check(service),
        "/dr/report" => super::dr_ops::report(service),
        "/history" => json(StatusCode::OK, &history(&service.raft.state().1)),
        "/backups" => super::backup::list(service).await,
        "/backups/progress" => super::backup::progress(service).await,
        "/config" => json(StatusCode::OK, &config_view(&service.raft.state().1)),
        "/metrics" => http::text(metrics(service)),
        "/topology" => {
            let wait = match query_param(query, "wait").map(str::parse::<u64>) {
                None => None,
                Some(Ok(n)) => Some(n),
                Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "wait must be an integer"),
            };
            if let Some(index) = wait {
                wait_applied(service, index).await;
            }
            json(StatusCode::OK, &topology(service))
        }
        "/members" => json(
            StatusCode::OK,
            &api::MembersView {
                leader: service.raft.leader(),
                voters: service.raft.members(),
            },
        ),
        "/switchover" => match super::schedule::view(&service.raft.state().1) {
            Some(s) => json(StatusCode::OK, &s),
            None => error(StatusCode::NOT_FOUND, "no scheduled switchover"),
        },
        p if known_path(p) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Runs a mutation on the leader (see `actions.rs`).
pub async fn mutate(
    service: &Arc<Service>,
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
) -> Result<Answer, super::ServiceError> {
    super::actions::mutate(service, method, path, query, body).await
}

async fn wait_applied(service: &Service, index: u64) {
    let mut rx = service.raft.watch();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while *rx.borrow_and_update() <= index {
        match tokio::time::timeout_at(deadline, rx.changed()).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Whether proxies should keep reads away from `node`: its
/// `noloadbalance` tag, or an operator's drain or stop.
fn no_reads(node: &NodeInfo) -> bool {
    node.noloadbalance || node.drained || node.stopped
}

fn host_port(addr: &str) -> (String, u16) {
    match addr.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(0)),
        None => (addr.to_string(), 0),
    }
}

pub fn config_view(state: &ClusterState) -> api::ClusterConfigView {
    let c = &state.config;
    api::ClusterConfigView {
        replication_mode: c.replication_mode.as_str().to_string(),
        num_sync_replicas: c.num_sync_replicas,
        maximum_lag_on_failover: c.maximum_lag_on_failover,
        lease_ttl_ms: c.lease_ttl_ms,
        heartbeat_ms: c.heartbeat_ms,
        failure_threshold: c.failure_threshold,
        pause: state.paused,
    }
}

fn member_view(
    service: &Service,
    state: &ClusterState,
    node: &NodeInfo,
    now: Instant,
) -> api::ClusterMember {
    let health = service.health.lock();
    let primary_lsn = state.primary.as_deref().and_then(|p| health.lsn(p));
    let is_primary = state.primary.as_deref() == Some(node.name.as_str());
    let status = health.status(&node.name);
    let phi = health
        .nodes
        .get(&node.name)
        .map_or(0.0, |o| o.detector.phi(now));
    let liveness = health.liveness(&node.name, now, state.config.failure_threshold);
    let role = if is_primary {
        "leader"
    } else if state.dr.standby_leader.as_deref() == Some(node.name.as_str()) {
        "standby_leader"
    } else if state.sync_set.contains(&node.name) {
        "sync_standby"
    } else if status.is_some_and(|s| !s.is_primary()) || node.role == crate::raft::Role::Replica {
        "replica"
    } else {
        "unknown"
    };
    let node_state = match (liveness, status) {
        // An operator's stop is not a failure.
        _ if node.stopped => "stopped",
        (Liveness::Failed, _) => "failed",
        (Liveness::Suspected, _) => "suspected",
        (_, None) => "stopped",
        (_, Some(s)) if s.stream_state.as_deref() == Some("streaming") => "streaming",
        (_, Some(_)) => "running",
    };
    let lag = match (is_primary, primary_lsn) {
        (true, _) => Some(0),
        (false, Some(p)) => status
            .and_then(|s| s.lsn_number)
            .map(|_| failover::lag_bytes(state, &health, &node.name, p)),
        _ => None,
    };
    let (host, port) = host_port(&node.pgwire_addr);
    api::ClusterMember {
        name: node.name.clone(),
        role: role.to_string(),
        state: node_state.to_string(),
        host,
        port,
        api_url: format!("http://{}", node.admin_addr),
        timeline: status.and_then(|s| s.timeline),
        lsn: status.and_then(|s| s.lsn_number),
        lag,
        datacenter: node.datacenter.clone(),
        region: node.region.clone(),
        tags: api::NodeTags {
            nofailover: node.nofailover,
            noloadbalance: no_reads(node),
            failover_priority: node.failover_priority,
        },
        phi: if phi.is_finite() { phi } else { f64::MAX },
    }
}

pub fn cluster(service: &Service) -> api::ClusterStatus {
    let (_, state) = service.raft.state();
    let now = Instant::now();
    let members = state
        .nodes
        .values()
        .map(|n| member_view(service, &state, n, now))
        .collect();
    let leader = service.raft.leader();
    let apis = service.member_apis();
    let managers = service
        .raft
        .members()
        .into_iter()
        .map(|(id, raft_addr)| api::ManagerMember {
            id,
            name: service
                .config
                .members
                .iter()
                .find(|m| m.id == id)
                .and_then(|m| m.name.clone())
                .unwrap_or_else(|| format!("m{id}")),
            api_url: apis.get(&id).cloned().unwrap_or_default(),
            datacenter: member_label(service, id, |m| &m.datacenter, &service.config.datacenter),
            region: member_label(service, id, |m| &m.region, &service.config.region),
            raft_addr,
            role: if Some(id) == leader {
                "leader"
            } else {
                "follower"
            }
            .to_string(),
        })
        .collect();
    api::ClusterStatus {
        members,
        scope: "rustydb".into(),
        leader_member: leader,
        managers,
        paused: state.paused,
        timeline: state.timeline,
        config: config_view(&state),
        scheduled_switchover: super::schedule::view(&state),
    }
}

/// A geo label of member `id`: its `[[members]]` entry, else (for this
/// member) its own top-level key.
fn member_label(
    service: &Service,
    id: u64,
    field: impl Fn(&super::config::MemberEntry) -> &String,
    own: &str,
) -> String {
    let configured = service
        .config
        .members
        .iter()
        .find(|m| m.id == id)
        .map(|m| field(m).clone())
        .unwrap_or_default();
    if configured.is_empty() && id == service.config.id {
        own.to_string()
    } else {
        configured
    }
}

/// Marks members whose API does not answer `/liveness` within 300 ms as
/// `unreachable` (probed concurrently; this member is not probed).
async fn probe_managers(service: &Service, view: &mut api::ClusterStatus) {
    let own = service.config.id;
    let probes = view.managers.iter().map(|m| {
        let url = format!("{}/liveness", m.api_url.trim_end_matches('/'));
        let skip = m.id == own || m.api_url.is_empty();
        async move {
            skip || service
                .client
                .call(Method::GET, &url, None, Duration::from_millis(300))
                .await
                .is_ok()
        }
    });
    let answers = futures::future::join_all(probes).await;
    for (m, up) in view.managers.iter_mut().zip(answers) {
        if !up {
            m.role = "unreachable".into();
        }
    }
}

pub fn topology(service: &Service) -> api::Topology {
    let (index, state) = service.raft.state();
    let now = Instant::now();
    let health = service.health.lock();
    let primary_lsn = state.primary.as_deref().and_then(|p| health.lsn(p));
    let primary = state.primary_node().map(|p| {
        let (host, port) = host_port(&p.pgwire_addr);
        api::TopologyPrimary {
            name: p.name.clone(),
            host,
            port,
            datacenter: p.datacenter.clone(),
            region: p.region.clone(),
            lsn: health.lsn(&p.name),
            timeline: state.timeline,
        }
    });
    let replicas = state
        .nodes
        .values()
        .filter(|n| state.primary.as_deref() != Some(n.name.as_str()))
        .map(|n| {
            let (host, port) = host_port(&n.pgwire_addr);
            let lag_ms = state
                .primary
                .as_ref()
                .and_then(|p| health.nodes.get(p))
                .and_then(|o| o.replication.as_ref())
                .and_then(|r| {
                    r.replicas
                        .iter()
                        .find(|x| x.name.as_deref() == Some(n.name.as_str()))
                })
                .map(|x| x.lag_ms);
            api::TopologyReplica {
                name: n.name.clone(),
                host,
                port,
                datacenter: n.datacenter.clone(),
                region: n.region.clone(),
                lsn: health.lsn(&n.name),
                lag_bytes: primary_lsn.map(|p| failover::lag_bytes(&state, &health, &n.name, p)),
                lag_ms,
                noloadbalance: no_reads(n),
                sync: state.sync_set.contains(&n.name),
                healthy: !n.stopped
                    && health.liveness(&n.name, now, state.config.failure_threshold)
                        == Liveness::Alive
                    && health
                        .status(&n.name)
                        .is_some_and(|s| !s.is_primary() && s.fenced != Some(true)),
            }
        })
        .collect();
    api::Topology {
        index,
        primary,
        replicas,
    }
}

fn health(service: &Service) -> api::HealthView {
    let status = service.raft.status();
    api::HealthView {
        status: if status.leader.is_some() {
            "ok"
        } else {
            "no leader"
        }
        .into(),
        member: service.config.id,
        leader: status.leader,
        raft_state: status.server_state.to_string(),
        term: status.term,
        applied_index: status.applied_index.unwrap_or(0),
    }
}

fn history(state: &ClusterState) -> api::History {
    api::History {
        failovers: state
            .failover_history
            .iter()
            .map(|r| api::HistoryEntry {
                time_ms: r.time_ms,
                from: r.from.clone(),
                to: r.to.clone(),
                reason: r.reason.clone(),
                success: r.success,
                duration_ms: r.duration_ms,
            })
            .collect(),
        timelines: state
            .timeline_history
            .iter()
            .map(|t| api::TimelineView {
                timeline: t.timeline,
                start_lsn: t.start_lsn,
                reason: t.reason.clone(),
                time_ms: t.time_ms,
            })
            .collect(),
    }
}

/// `/primary` (`want_primary`) and `/replica`: Patroni-style checks of
/// the supervised node, or of `?node=NAME`.
async fn check(service: &Service, query: &str, want_primary: bool) -> Answer {
    let (_, state) = service.raft.state();
    let name = query_param(query, "node")
        .map(str::to_string)
        .or_else(|| service.supervisor.as_ref().map(|s| s.node.clone()));
    let Some(name) = name else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this member supervises no node; use ?node=NAME",
        );
    };
    let Some(node) = state.nodes.get(&name) else {
        return error(StatusCode::NOT_FOUND, &format!("no node {name}"));
    };
    let max_lag = match query_param(query, "lag").map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "lag must be a number of bytes"),
    };
    let api_ = NodeApi {
        client: &service.client,
        admin: &node.admin_addr,
        timeout: Duration::from_millis(1000),
    };
    let status = api_.status().await;
    let mut body = api::NodeCheck {
        node: name.clone(),
        role: None,
        timeline: None,
        lsn: None,
        lag: None,
        reason: String::new(),
    };
    let ok = match status {
        Err(e) => {
            body.reason = format!("node unreachable: {e}");
            false
        }
        Ok(s) => {
            body.role = s.role.clone();
            body.timeline = s.timeline;
            body.lsn = s.lsn_number;
            let recorded = state.primary.as_deref() == Some(name.as_str());
            if want_primary {
                let ok = s.is_primary()
                    && recorded
                    && s.draining != Some(true)
                    && s.lease_valid != Some(false);
                body.reason = if ok {
                    "primary".into()
                } else if !recorded {
                    "not the recorded primary".into()
                } else {
                    "not accepting writes".into()
                };
                ok
            } else {
                let primary_lsn = state
                    .primary
                    .as_deref()
                    .and_then(|p| service.health.lock().lsn(p));
                let lag = primary_lsn
                    .map(|p| p.saturating_sub(s.lsn_number.unwrap_or(0)) * failover::RECORD_BYTES);
                body.lag = lag;
                let lag_ok = match (max_lag, lag) {
                    (Some(max), Some(l)) => l <= max,
                    (Some(_), None) => false,
                    (None, _) => true,
                };
                let ok = !s.is_primary()
                    && s.fenced != Some(true)
                    && !recorded
                    && lag_ok
                    && !no_reads(node);
                body.reason = if ok {
                    "replica".into()
                } else if no_reads(node) {
                    "drained or noloadbalance".into()
                } else if !lag_ok {
                    "lagging".into()
                } else {
                    "not a healthy replica".into()
                };
                ok
            }
        }
    };
    json(
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        &body,
    )
}

fn metrics(service: &Service) -> String {
    use prometheus::Encoder;
    let (index, state) = service.raft.state();
    let status = service.raft.status();
    let mut out = Vec::new();
    let _ = prometheus::TextEncoder::new().encode(&service.metrics.registry.gather(), &mut out);
    let mut text = String::from_utf8_lossy(&out).into_owned();
    let now = Instant::now();
    let health = service.health.lock();
    let mut push = |name: &str, help: &str, value: String| {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    };
    push(
        "rustydb_manager_is_leader",
        "1 when this member leads the group",
        u8::from(service.raft.is_leader()).to_string(),
    );
    push(
        "rustydb_manager_raft_term",
        "Current Raft term",
        status.term.to_string(),
    );
    push(
        "rustydb_manager_applied_index",
        "Applied Raft log index",
        index.to_string(),
    );
    push(
        "rustydb_manager_timeline",
        "Current cluster timeline",
        state.timeline.to_string(),
    );
    push(
        "rustydb_manager_paused",
        "1 while automatic failover is paused",
        u8::from(state.paused).to_string(),
    );
    text.push_str("# HELP rustydb_manager_node_phi Failure-detector suspicion per node\n# TYPE rustydb_manager_node_phi gauge\n");
    for (name, obs) in &health.nodes {
        let phi = obs.detector.phi(now);
        let phi = if phi.is_finite() { phi } else { f64::MAX };
        text.push_str(&format!(
            "rustydb_manager_node_phi{{node=\"{name}\"}} {phi}\n"
        ));
    }
    text.push_str("# HELP rustydb_manager_node_lsn Last LSN reported per node\n# TYPE rustydb_manager_node_lsn gauge\n");
    for (name, obs) in &health.nodes {
        if let Some(lsn) = obs.status.as_ref().and_then(|s| s.lsn_number) {
            text.push_str(&format!(
                "rustydb_manager_node_lsn{{node=\"{name}\"}} {lsn}\n"
            ));
        }
    }
    drop(health);
    text.push_str(&super::dr_standby::metrics_text(service, &state));
    text
}
