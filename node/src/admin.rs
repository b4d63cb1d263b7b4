//! The node's admin HTTP API (read-only, JSON).
//!
//! `GET /status` answers what operators and the future manager poll:
//!
//! ```json
//! {"status":"ok","version":"0.1.0","lsn":"0/2A","lsn_number":42,
//!  "connections":3,"max_connections":100,"uptime_seconds":17}
//! ```
//!
//! `lsn` is the WAL position of the last durable commit (PostgreSQL's
//! `pg_lsn` notation; `lsn_number` is the same as an integer). It is off
//! unless `admin_listen` is configured. HTTP is hyper's; this module only
//! routes and renders. Requests never touch a session or take locks.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustydb_sql::Engine;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::server::ServerStats;

/// What `/status` reports from.
#[derive(Clone)]
pub struct AdminState {
    pub engine: Arc<Engine>,
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
        let state = state.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, &req)) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "admin connection error");
            }
        });
    }
}

fn route(state: &AdminState, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/status") => json(StatusCode::OK, status(state)),
        (_, "/status") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({"error": "method not allowed"}),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not found"}),
        ),
    }
}

/// The `/status` document.
pub fn status(state: &AdminState) -> serde_json::Value {
    let lsn = state.engine.current_lsn();
    serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "lsn": lsn.to_string(),
        "lsn_number": lsn.0,
        "connections": state.stats.active_connections(),
        "max_connections": state.stats.max_connections(),
        "uptime_seconds": state.started.elapsed().as_secs(),
    })
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
