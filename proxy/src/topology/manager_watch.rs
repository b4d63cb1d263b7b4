//! Dynamic mode: following the manager's `GET /topology?wait=INDEX`.
//!
//! The manager answers `/topology` at once, and `/topology?wait=I` as soon
//! as its applied Raft index passes `I` — or after 30 s with the view
//! unchanged. The watcher keeps one such request open: the first without
//! `wait`, then always with the index of the last answer, so a failover
//! (a new primary applied through Raft) reaches the proxy within one round
//! trip of being decided. Every answer replaces the member list; the
//! handle publishes only if the resulting snapshot differs.
//!
//! Failures (refused, timeout, non-2xx, unreadable JSON) move on to the
//! next configured manager URL after a short backoff (100 ms doubling to
//! 2 s), so losing one manager member costs one retry. Each request is
//! bounded: the manager's own 30 s wait plus `health.timeout_ms`. Bodies
//! are capped at 4 MiB and parsed with the manager's own API types.
//!
//! The manager's health fields (replica `healthy`, lag) change without the
//! Raft index moving, so they can be up to one long-poll old; the proxy's
//! own health checks (which run in this mode too) cover the gap.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustydb_manager_api as api;

use super::handle::Shared;
use super::snapshot::Member;
use super::Role;

/// The manager bounds a `wait` at 30 s.
const MANAGER_WAIT: Duration = Duration::from_secs(30);
const MAX_ANSWER: usize = 4 << 20;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// Runs until aborted (by a reload or the last handle going away).
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new()).build(connector);
    let mut index: Option<u64> = None;
    let mut member = 0usize;
    let mut backoff = BACKOFF_MIN;
    loop {
        let config = shared.config();
        let Some(base) = config.manager.get(member % config.manager.len().max(1)) else {
            return;
        };
        let base = base.trim_end_matches('/');
        let check = Duration::from_millis(config.health.timeout_ms.max(1));
        let (url, timeout) = match index {
            None => (format!("{base}/topology"), check),
            Some(i) => (format!("{base}/topology?wait={i}"), MANAGER_WAIT + check),
        };
        let asked = tokio::time::Instant::now();
        match fetch(&client, &url, timeout).await {
            Ok(topology) => {
                backoff = BACKOFF_MIN;
                if index.is_some_and(|i| topology.index < i) {
                    tracing::debug!(url, index = topology.index, "manager member is behind");
                }
                let stalled = index.is_some_and(|i| topology.index <= i);
                index = Some(topology.index);
                Shared::set_members(&shared, members(&topology));
                // A member that answers a wait at once without progress
                // (not what the manager does) must not make this a busy loop.
                if stalled && asked.elapsed() < BACKOFF_MIN {
                    tokio::time::sleep(BACKOFF_MIN).await;
                }
            }
            Err(e) => {
                tracing::warn!(url, error = %e, "manager topology request failed");
                member = member.wrapping_add(1);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

async fn fetch(client: &HttpClient, url: &str, timeout: Duration) -> Result<api::Topology, String> {
    let request = Request::get(url)
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let call = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(format!("HTTP {status}: {text}"));
        }
        serde_json::from_slice::<api::Topology>(&body).map_err(|e| format!("bad answer: {e}"))
    };
    match tokio::time::timeout(timeout, call).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The manager's view as members: primary first, then replicas in its order.
pub(crate) fn members(topology: &api::Topology) -> Vec<Member> {
    let mut out = Vec::with_capacity(topology.replicas.len() + 1);
    if let Some(p) = &topology.primary {
        out.push(Member {
            id: p.name.clone(),
            addr: host_port(&p.host, p.port),
            declared: Some(Role::Primary),
            datacenter: p.datacenter.clone(),
            region: p.region.clone(),
            tags: Vec::new(),
            noloadbalance: false,
            sync: false,
            source_healthy: None,
            source_lsn: p.lsn,
            source_lag_bytes: Some(0),
            source_lag_ms: None,
        });
    }
    for r in &topology.replicas {
        out.push(Member {
            id: r.name.clone(),
            addr: host_port(&r.host, r.port),
            declared: Some(Role::Replica),
            datacenter: r.datacenter.clone(),
            region: r.region.clone(),
            tags: Vec::new(),
            noloadbalance: r.noloadbalance,
            sync: r.sync,
            source_healthy: Some(r.healthy),
            source_lsn: r.lsn,
            source_lag_bytes: r.lag_bytes,
            source_lag_ms: r.lag_ms,
        });
    }
    out
}
