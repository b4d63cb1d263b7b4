//! The server side of the Raft RPCs: a small hyper HTTP/1.1 listener.
//!
//! Each member listens on its `raft_listen` address and serves three
//! routes, each taking openraft's request type as JSON and answering
//! `200` with JSON `Result<response, openraft RaftError>`:
//!
//! ```text
//!   POST /raft/append    AppendEntriesRequest   -> Raft::append_entries
//!   POST /raft/vote      VoteRequest            -> Raft::vote
//!   POST /raft/snapshot  InstallSnapshotRequest -> Raft::install_snapshot
//!   POST /raft/prevote   PreVoteRequest         -> elector::answer (ours)
//! ```
//!
//! Anything else is refused before it reaches Raft: unknown path `404`,
//! other method `405`, a body that is too large `413`, a body that does not
//! decode `400`, each with a JSON `{"error": ...}`. A Raft error (for
//! instance a stale leader's request after shutdown) is a normal `200`
//! answer carrying the `Err`, which the client turns into `RemoteError`.
//!
//! Connections live in a `JoinSet` owned by the accept task: aborting that
//! task (on `shutdown`) drops the set and closes every connection, so a
//! stopped member stops answering at once and its port can be reused.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openraft::raft::{AppendEntriesResponse, InstallSnapshotRequest};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use super::elector::{self, LeaderContact};
use super::network::{PATH_APPEND, PATH_PREVOTE, PATH_SNAPSHOT, PATH_VOTE};
use super::types::{Raft, TypeConfig};

/// What the RPC handlers need.
#[derive(Clone)]
pub(crate) struct RpcContext {
    pub(crate) raft: Raft,
    pub(crate) contact: Arc<LeaderContact>,
    /// The voters' lease: election_timeout_max.
    pub(crate) lease: Duration,
}

/// Largest request body accepted (a snapshot chunk as JSON is the biggest).
const MAX_REQUEST_BYTES: usize = 64 << 20;

/// Serves Raft RPCs for `raft` on `listener` until the task is aborted.
pub(crate) fn spawn(listener: TcpListener, ctx: RpcContext) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                // Reap finished connections so the set does not grow.
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Typically EMFILE: back off briefly instead of spinning.
                    tracing::warn!(error = %e, "raft listener: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "raft listener: cannot set TCP_NODELAY");
            }
            let ctx = ctx.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let ctx = ctx.clone();
                    async move { Ok::<_, Infallible>(route(ctx, req).await) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                if let Err(e) = conn.await {
                    tracing::debug!(%peer, error = %e, "raft connection ended with an error");
                }
            });
        }
    })
}

async fn route(ctx: RpcContext, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if !matches!(
        path.as_str(),
        PATH_APPEND | PATH_VOTE | PATH_SNAPSHOT | PATH_PREVOTE
    ) {
        return error(StatusCode::NOT_FOUND, format!("no route {path}"));
    }
    if req.method() != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use POST".to_string());
    }
    let body = match Limited::new(req.into_body(), MAX_REQUEST_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            let status = if e
                .downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            };
            return error(status, format!("cannot read body: {e}"));
        }
    };
    let raft = &ctx.raft;
    match path.as_str() {
        PATH_APPEND => match serde_json::from_slice(&body) {
            Ok(rpc) => {
                let answer = raft.append_entries(rpc).await;
                // Accepted from a current leader (anything but "your vote
                // is stale"): the leader is alive, hold off elections.
                if let Ok(resp) = &answer {
                    if !matches!(resp, AppendEntriesResponse::HigherVote(_)) {
                        ctx.contact.touch();
                    }
                }
                reply(&answer)
            }
            Err(e) => bad_body(e),
        },
        PATH_VOTE => match serde_json::from_slice(&body) {
            Ok(rpc) => reply(&raft.vote(rpc).await),
            Err(e) => bad_body(e),
        },
        PATH_PREVOTE => match serde_json::from_slice(&body) {
            Ok(req) => reply(&elector::answer(raft, &ctx.contact, ctx.lease, &req)),
            Err(e) => bad_body(e),
        },
        _ => match serde_json::from_slice::<InstallSnapshotRequest<TypeConfig>>(&body) {
            Ok(rpc) => {
                let rpc_vote = rpc.vote;
                let answer = raft.install_snapshot(rpc).await;
                if let Ok(resp) = &answer {
                    if resp.vote <= rpc_vote {
                        ctx.contact.touch();
                    }
                }
                reply(&answer)
            }
            Err(e) => bad_body(e),
        },
    }
}

fn bad_body(e: serde_json::Error) -> Response<Full<Bytes>> {
    error(StatusCode::BAD_REQUEST, format!("bad request body: {e}"))
}

fn reply<T: Serialize>(value: &T) -> Response<Full<Bytes>> {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_response(StatusCode::OK, bytes),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode answer: {e}"),
        ),
    }
}

fn error(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let body = serde_json::json!({ "error": message }).to_string();
    json_response(status, body.into_bytes())
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Binds the Raft listener (separately from `spawn`, so a bind error is
/// reported by `RaftMember::start` before any Raft state is created).
pub(crate) async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
