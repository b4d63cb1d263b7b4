//! The admin HTTP endpoint: `GET /metrics` and `GET /health`.
//!
//! A small hyper HTTP/1 server on `admin_listen`: `/metrics` answers the
//! Prometheus text exposition of every metric in [`ProxyMetrics`],
//! `/health` answers `ok` while the process serves. Anything else is 404
//! (405 for another method on a known path). Each connection must send its
//! request head within 10 s, so idle sockets cannot pile up; the accept
//! loop stops when `shutdown` completes (connections already open finish
//! their request on their own task).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::error::{ProxyError, Result};
use crate::metrics::ProxyMetrics;

const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `listen` and serves until `shutdown` completes.
pub async fn serve_metrics(
    listen: &str,
    metrics: Arc<ProxyMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| ProxyError::Config(format!("admin_listen {listen}: {e}")))?;
    serve_metrics_on(listener, metrics, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0).
pub async fn serve_metrics_on(
    listener: TcpListener,
    metrics: Arc<ProxyMetrics>,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let metrics = metrics.clone();
                async move { Ok::<_, Infallible>(answer(&req, &metrics)) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = served {
                tracing::debug!(%peer, error = %e, "admin connection ended");
            }
        });
    }
}

fn answer(req: &Request<Incoming>, metrics: &ProxyMetrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        (&Method::GET, "/health") => (StatusCode::OK, "text/plain", "ok\n".to_string()),
        (_, "/metrics" | "/health") => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".to_string(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}
