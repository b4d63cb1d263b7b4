//! The node's admin HTTP API (JSON), what operators and the manager use.
//!
//! | route | does |
//! |---|---|
//! | `GET /status` | role, timeline, LSN, commit mode, stream state, connections |
//! | `POST /promote` | replica → primary on a new timeline (409 if primary) |
//! | `POST /follow` `{"primary":"host:port"}` | become a replica of that node |
//! | `POST /demote` `{"drain_ms":2000}` | switchover step 1: stop new writes, let open ones finish (bounded), answer the final LSN |
//! | `GET /replication` | replicas with positions and lag, mode, events |
//! | `POST /replication/mode` `{"commit_mode":"sync",...}` | change the commit mode live |
//! | `GET /timeline` | the timeline history |
//! | `GET /metrics` | Prometheus text |
//! | `GET /subscriptions` | subscriptions: status, positions, last error, lag |
//! | `POST /lease` `{"ttl_ms":1000}` | renew the primary's lease (the manager's heartbeat); once renewed, commits are acknowledged only while it holds |
//! | `DELETE /lease` | stop enforcing the lease (a node without a manager) |
//! | `POST /backup` `{"repo":"/path","type":"full"}` | take a backup now (see `backup::http`) |
//! | `GET /backup` | progress of the running backup |
//! | `/slots`, `/changes` | logical replication slots and change stream (`logical::http`) |
//!
//! ```json
//! {"status":"ok","role":"primary","timeline":1,"lsn":"0/2A","lsn_number":42,
//!  "commit_mode":"async","degraded":false,"connections":3,...}
//! ```
//!
//! `lsn` is the WAL position of the last durable commit (PostgreSQL's
//! `pg_lsn` notation; `lsn_number` is the same as an integer). The API is
//! off unless `admin_listen` is configured. HTTP is hyper's; this module only
//! routes and renders. Request bodies are capped at 64 KiB.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustydb_sql::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::replication::{CommitModeConfig, Replication};
use crate::server::ServerStats;

/// Largest request body accepted.
const MAX_BODY: usize = 64 << 10;

/// What `/status` reports from.
#[derive(Clone)]
pub struct AdminState {
    pub engine: Arc<Engine>,
    pub replication: Arc<Replication>,
    pub stats: ServerStats,
    pub started: Instant,
}

/// Serves the admin API on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, state: AdminState, mut stop: watch::Receiver<bool>) {
    tracing::info!(addr = ?listener.local_addr().ok(), "admin API listening");
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = crate::server::stopped(&mut stop) => break,
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        // The change stream (`GET /changes`) writes one small chunk per
        // transaction: with Nagle's algorithm a chunk waits for the ACK of
        // the previous one, which the consumer delays (tens of ms).
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move {
                    // The logical routes may stream; the others answer whole.
                    let response = if crate::logical::http::handles(req.uri().path()) {
                        crate::logical::http::route(&state, req).await
                    } else {
                        route(&state, req).await.map(|b| b.boxed_unsync())
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "admin connection error");
            }
        });
    }
}

async fn route(state: &AdminState, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let repl = &state.replication;
    match (method, path.as_str()) {
        (Method::GET, "/status") => json(StatusCode::OK, status(state)),
        (Method::GET, "/replication") => json(StatusCode::OK, repl.replication_json()),
        (Method::GET, "/timeline") => json(StatusCode::OK, repl.timeline_json()),
        (Method::GET, "/metrics") => text(repl.metrics_text()),
        (Method::GET, "/backup") => {
            json(StatusCode::OK, crate::backup::http::backup_progress(repl))
        }
        (Method::POST, "/backup") => {
            let body = match read_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let (code, doc) = crate::backup::http::post_backup(repl, body).await;
            json(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                doc,
            )
        }
        (Method::GET, "/subscriptions") => json(
            StatusCode::OK,
            crate::subscription::admin_json(&state.engine),
        ),
        (Method::POST, "/promote") => match repl.promote().await {
            Ok(entry) => json(
                StatusCode::OK,
                serde_json::json!({"timeline": entry.timeline, "start_lsn": entry.start_lsn}),
            ),
            Err(e) => error(StatusCode::CONFLICT, &e),
        },
        (Method::POST, "/follow") => {
            let body = match read_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let Some(primary) = body.get("primary").and_then(|v| v.as_str()) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "body must be {\"primary\": \"host:port\"}",
                );
            };
            match repl.follow(primary).await {
                Ok(()) => json(StatusCode::OK, serde_json::json!({"following": primary})),
                Err(e) => error(StatusCode::BAD_REQUEST, &e),
            }
        }
        (Method::POST, "/demote") => {
            let body = match read_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let drain_ms = body
                .get("drain_ms")
                .and_then(|v| v.as_u64())
                .unwrap_or(2000);
            if drain_ms > 600_000 {
                return error(StatusCode::BAD_REQUEST, "drain_ms must be at most 600000");
            }
            match repl
                .demote(std::time::Duration::from_millis(drain_ms))
                .await
            {
                Ok(lsn) => json(StatusCode::OK, serde_json::json!({"final_lsn": lsn})),
                Err(e) => error(StatusCode::CONFLICT, &e),
            }
        }
        (Method::POST, "/lease") => {
            let body = match read_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            match body.get("ttl_ms").and_then(|v| v.as_u64()) {
                Some(ttl) if (1..=600_000).contains(&ttl) => {
                    match repl
                        .rocks()
                        .renew_lease(std::time::Duration::from_millis(ttl))
                    {
                        Ok(()) => json(StatusCode::OK, serde_json::json!({"lease_ms": ttl})),
                        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
                    }
                }
                _ => error(
                    StatusCode::BAD_REQUEST,
                    "body must be {\"ttl_ms\": 1..600000}",
                ),
            }
        }
        (Method::DELETE, "/lease") => match repl.rocks().disable_lease() {
            Ok(()) => json(StatusCode::OK, serde_json::json!({"lease": "not enforced"})),
            Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        (Method::POST, "/replication/mode") => {
            let body = match read_json(req).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            match merge_mode(repl.replicas.mode(), body) {
                Ok(mode) => {
                    repl.replicas.set_mode(mode.clone());
                    tracing::info!(
                        mode = mode.commit_mode.as_str(),
                        num_sync = mode.num_sync,
                        "commit mode changed"
                    );
                    json(
                        StatusCode::OK,
                        serde_json::to_value(&mode).unwrap_or_default(),
                    )
                }
                Err(e) => error(StatusCode::BAD_REQUEST, &e),
            }
        }
        (
            _,
            "/status" | "/replication" | "/timeline" | "/metrics" | "/promote" | "/follow"
            | "/replication/mode" | "/lease" | "/demote" | "/backup",
        ) => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Applies the keys present in `body` to the current mode and validates.
fn merge_mode(
    current: CommitModeConfig,
    body: serde_json::Value,
) -> Result<CommitModeConfig, String> {
    let mut merged = serde_json::to_value(&current).map_err(|e| e.to_string())?;
    let (Some(target), Some(changes)) = (merged.as_object_mut(), body.as_object()) else {
        return Err("body must be a JSON object".into());
    };
    for (k, v) in changes {
        target.insert(k.clone(), v.clone());
    }
    let mode: CommitModeConfig =
        serde_json::from_value(merged).map_err(|e| format!("invalid mode: {e}"))?;
    mode.validate()?;
    Ok(mode)
}

/// Reads a bounded JSON body (an empty body reads as `{}`).
async fn read_json(req: Request<Incoming>) -> Result<serde_json::Value, Response<Full<Bytes>>> {
    let collected = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("cannot read body: {e}"),
            )
        })?;
    let bytes = collected.to_bytes();
    if bytes.is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")))
}

fn error(code: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(code, serde_json::json!({"error": message}))
}

fn text(body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}

/// The `/status` document.
pub fn status(state: &AdminState) -> serde_json::Value {
    let lsn = state.engine.current_lsn();
    let mut doc = serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "lsn": lsn.to_string(),
        "lsn_number": lsn.0,
        "connections": state.stats.active_connections(),
        "max_connections": state.stats.max_connections(),
        "uptime_seconds": state.started.elapsed().as_secs(),
    });
    if let (Some(doc), serde_json::Value::Object(repl)) =
        (doc.as_object_mut(), state.replication.status_json())
    {
        doc.extend(repl);
    }
    if let (Some(doc), Some(archive)) =
        (doc.as_object_mut(), state.replication.backup.archive_json())
    {
        doc.insert("wal_archive".into(), archive);
    }
    doc
}

fn json(code: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = code;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Binds the admin listener (separately, so a busy port fails node start).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
