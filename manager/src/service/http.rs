//! The HTTP API server: routing, auth, forwarding, bodies.
//!
//! Any member answers every request. Reads (`GET`) are served from this
//! member's replicated state and observations. Mutations (`POST`, `PATCH`,
//! `DELETE`) are checked for the bearer token first (401 when
//! `api_token` is set and the header does not match), then run on the
//! Raft leader: a follower forwards the request unchanged to the leader's
//! API URL and relays its answer; with no known leader it answers 503
//! `{"error":"no leader"}`. A forwarded request carries
//! `x-rustydb-forwarded`, and a member that receives one while not
//! leading answers 503 instead of forwarding again (no loops). The one
//! exception is `POST /restart` of the node this member supervises, which
//! it handles itself; `/drain`, `/stop` and `/start` go to the leader like
//! the rest, because they only change replicated flags that the
//! supervising member then follows (`node_admin.rs`, `supervise.rs`).
//!
//! Bodies are capped at [`MAX_BODY`] (413) and parsed into the typed
//! requests of `rustydb-manager-api` (400 with the parser's message when
//! malformed or carrying unknown fields). Every error body is
//! `{"error": "..."}`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::error::ServiceError;
use super::{views, Service};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 << 10;
const FORWARDED: &str = "x-rustydb-forwarded";

pub type Answer = Response<Full<Bytes>>;

pub async fn serve(listener: TcpListener, service: Arc<Service>) {
    let mut stop = service.stop.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "API accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let service = Arc::clone(&service);
                async move { Ok::<_, Infallible>(route(&service, req).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(error = %e, "API connection error");
            }
        });
    }
}

async fn route(service: &Arc<Service>, req: Request<Incoming>) -> Answer {
    service.metrics.api_requests.inc();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    if method == Method::GET || method == Method::HEAD || method == Method::OPTIONS {
        return views::get(service, &path, &query).await;
    }
    if !is_mutation_route(&method, &path) {
        return match views::known_path(&path) {
            true => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            false => error(StatusCode::NOT_FOUND, "not found"),
        };
    }
    if !authorized(service, req.headers()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
    }
    let forwarded = req.headers().contains_key(FORWARDED);
    let auth = req.headers().get(AUTHORIZATION).cloned();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("cannot read body: {e}"),
            )
        }
    };
    // A restart is for the member that supervises the node, not the leader.
    let local_restart = path == "/restart"
        && service.supervisor.as_ref().is_some_and(|s| {
            serde_json::from_slice::<rustydb_manager_api::NodeRequest>(&body)
                .is_ok_and(|r| r.node == s.node)
        });
    if !service.raft.is_leader() && !local_restart {
        if forwarded {
            return error(StatusCode::SERVICE_UNAVAILABLE, "no leader");
        }
        return forward(service, method, &path, &query, auth, body).await;
    }
    match views::mutate(service, &method, &path, &query, &body).await {
        Ok(answer) => answer,
        Err(e) => service_error(&e),
    }
}

/// How long a forwarded request may take: a backup lasts as long as its
/// database takes to copy; everything else is bounded by a minute.
fn forward_timeout(path: &str) -> Duration {
    if path == "/backups" {
        super::backup::BACKUP_TIMEOUT
    } else {
        Duration::from_secs(60)
    }
}

fn is_mutation_route(method: &Method, path: &str) -> bool {
    matches!(
        (method.as_str(), path),
        ("POST", "/switchover")
            | ("DELETE", "/switchover")
            | ("POST", "/failover")
            | ("POST", "/pause")
            | ("POST", "/resume")
            | ("PATCH", "/config")
            | ("POST", "/reinitialize")
            | ("POST", "/restart")
            | ("POST", "/drain")
            | ("POST", "/stop")
            | ("POST", "/start")
            | ("POST", "/members")
            | ("POST", "/backups")
            | ("POST", "/dr/failover")
            | ("POST", "/dr/discard-test")
            | ("POST", "/dr/standby")
            | ("POST", "/site/renew")
            | ("POST", "/site/vote")
    ) || (method == Method::DELETE && path.starts_with("/members/"))
}

fn authorized(service: &Service, headers: &hyper::HeaderMap) -> bool {
    let token = &service.config.api_token;
    if token.is_empty() {
        return true;
    }
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()))
}

/// Compares without an early exit, so timing does not leak the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn forward(
    service: &Service,
    method: Method,
    path: &str,
    query: &str,
    auth: Option<HeaderValue>,
    body: Bytes,
) -> Answer {
    let Some(leader) = service.raft.leader() else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no leader");
    };
    let Some(base) = service.member_apis().get(&leader).cloned() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the leader (member {leader}) has no known API URL"),
        );
    };
    let mut url = format!("{}{path}", base.trim_end_matches('/'));
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    let mut headers = vec![(HeaderName::from_static(FORWARDED), "1".to_string())];
    if let Some(a) = auth.and_then(|a| a.to_str().ok().map(str::to_string)) {
        headers.push((AUTHORIZATION, a));
    }
    match service
        .client
        .send(method, &url, &headers, body, forward_timeout(path))
        .await
    {
        Ok((status, answer)) => {
            let mut response = Response::new(Full::new(answer));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("cannot reach the leader: {e}"),
        ),
    }
}

pub fn json<T: serde::Serialize>(code: StatusCode, body: &T) -> Answer {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn error(code: StatusCode, message: &str) -> Answer {
    json(
        code,
        &rustydb_manager_api::ErrorBody {
            error: message.to_string(),
            detail: None,
        },
    )
}

pub fn service_error(e: &ServiceError) -> Answer {
    let detail = match e {
        ServiceError::Conflict { detail, .. } => detail.clone(),
        _ => None,
    };
    json(
        e.status(),
        &rustydb_manager_api::ErrorBody {
            error: e.to_string(),
            detail,
        },
    )
}

pub fn text(body: String) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// Parses a JSON body into `T` (an empty body reads as `{}`).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ServiceError> {
    let body: &[u8] = if body.iter().all(|b| b.is_ascii_whitespace()) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| ServiceError::BadRequest(format!("invalid body: {e}")))
}
