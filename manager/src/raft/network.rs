//! The client side of the Raft RPCs: openraft's `RaftNetwork` over HTTP.
//!
//! Each RPC is one `POST http://<peer raft_listen>/raft/<rpc>` with a JSON
//! body (openraft's request type) answered by JSON
//! `Result<response, openraft RaftError>` (see `server.rs`). A pooled
//! hyper client keeps one keep-alive connection per peer, so heartbeats do
//! not pay a TCP handshake each.
//!
//! Failures are values, never panics, and are sorted the way openraft
//! needs to react to them:
//! - connection refused / reset before a response -> `Unreachable`
//!   (openraft backs off before retrying that peer);
//! - no answer within the RPC's deadline -> `Timeout`;
//! - a non-200 status or an undecodable body -> `Network`;
//! - the peer answered with a Raft error -> `RemoteError`.
//!
//! Reporting a down peer is ours, not openraft's (whose own per-RPC
//! ERROR lines are rate-limited in `logging.rs`): the first failed RPC to
//! a peer logs one WARN, a peer that stays down one WARN per
//! [`PEER_WARN_EVERY`], and its first success afterwards one INFO.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError as OpenRaftError, RemoteError, Timeout,
    Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, RPCTypes};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::types::{Node, NodeId, TypeConfig};

pub(crate) const PATH_APPEND: &str = "/raft/append";
pub(crate) const PATH_VOTE: &str = "/raft/vote";
pub(crate) const PATH_SNAPSHOT: &str = "/raft/snapshot";
pub(crate) const PATH_PREVOTE: &str = "/raft/prevote";

/// How often a peer that stays unreachable is reported again.
pub(crate) const PEER_WARN_EVERY: Duration = Duration::from_secs(5);

/// A peer whose RPCs fail: since when, and when we last said so.
#[derive(Debug, Clone, Copy)]
struct PeerDown {
    since: Instant,
    warned: Instant,
}

/// Largest response body a member accepts from a peer.
const MAX_RESPONSE_BYTES: usize = 16 << 20;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// Creates one [`PeerClient`] per target; all share the connection pool.
#[derive(Clone)]
pub(crate) struct Network {
    my_id: NodeId,
    client: HttpClient,
    backoff: Duration,
    down: Arc<parking_lot::Mutex<HashMap<NodeId, PeerDown>>>,
}

impl Network {
    pub(crate) fn new(my_id: NodeId, connect_timeout: Duration, backoff: Duration) -> Network {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(connect_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Network {
            my_id,
            client,
            backoff,
            down: Arc::new(parking_lot::Mutex::new(HashMap::new())),
        }
    }

    /// Notes a failed RPC to `target`; logs when it is news or due again.
    fn note_down(&self, target: NodeId, addr: &str, error: &dyn std::fmt::Display) {
        let now = Instant::now();
        let mut down = self.down.lock();
        match down.get_mut(&target) {
            None => {
                down.insert(
                    target,
                    PeerDown {
                        since: now,
                        warned: now,
                    },
                );
                tracing::warn!(peer = target, addr, %error, "raft peer unreachable");
            }
            Some(d) if now.saturating_duration_since(d.warned) >= PEER_WARN_EVERY => {
                d.warned = now;
                let secs = now.saturating_duration_since(d.since).as_secs();
                tracing::warn!(peer = target, addr, %error, down_s = secs, "raft peer still unreachable");
            }
            Some(_) => {}
        }
    }

    /// Notes a peer that answered; logs when it was down.
    fn note_up(&self, target: NodeId, addr: &str) {
        if let Some(d) = self.down.lock().remove(&target) {
            let secs = d.since.elapsed().as_secs();
            tracing::info!(
                peer = target,
                addr,
                down_s = secs,
                "raft peer reachable again"
            );
        }
    }
}

impl Network {
    /// One JSON request/response outside openraft (the pre-vote); any
    /// failure is a message, the caller treats it as "no".
    pub(crate) async fn post_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        addr: &str,
        path: &str,
        request: &Req,
        deadline: Duration,
    ) -> Result<Resp, String> {
        let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let request = hyper::Request::post(format!("http://{addr}{path}"))
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let bytes = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            if status != hyper::StatusCode::OK {
                return Err(format!("peer answered {status}"));
            }
            serde_json::from_slice(&bytes).map_err(|e| e.to_string())
        };
        tokio::time::timeout(deadline, exchange)
            .await
            .map_err(|_| format!("no answer within {deadline:?}"))?
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &Node) -> PeerClient {
        PeerClient {
            net: self.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

/// Sends RPCs to one peer.
pub(crate) struct PeerClient {
    net: Network,
    target: NodeId,
    addr: String,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, Node, OpenRaftError<NodeId, E>>>;

impl PeerClient {
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        action: RPCTypes,
        request: &Req,
        deadline: Duration,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: StdError + DeserializeOwned,
    {
        let body =
            serde_json::to_vec(request).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let uri = format!("http://{}{}", self.addr, path);
        let request = hyper::Request::post(&uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;

        let exchange = async {
            let response = self.net.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
            let status = response.status();
            let limited = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e))))?
                .to_bytes();
            if status != hyper::StatusCode::OK {
                let text = String::from_utf8_lossy(&bytes);
                let e = AnyError::error(format!("peer answered {status}: {text}"));
                return Err(RPCError::Network(NetworkError::new(&e)));
            }
            let answer: Result<Resp, OpenRaftError<NodeId, E>> = serde_json::from_slice(&bytes)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
            answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
        };
        let result = match tokio::time::timeout(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => Err(RPCError::Timeout(Timeout {
                action,
                id: self.net.my_id,
                target: self.target,
                timeout: deadline,
            })),
        };
        match &result {
            Ok(_) | Err(RPCError::RemoteError(_)) => self.net.note_up(self.target, &self.addr),
            Err(e) => self.net.note_down(self.target, &self.addr, e),
        }
        result
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call(
            PATH_APPEND,
            RPCTypes::AppendEntries,
            &rpc,
            option.hard_ttl(),
        )
        .await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(
            PATH_SNAPSHOT,
            RPCTypes::InstallSnapshot,
            &rpc,
            option.hard_ttl(),
        )
        .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call(PATH_VOTE, RPCTypes::Vote, &rpc, option.hard_ttl())
            .await
    }

    fn backoff(&self) -> Backoff {
        // openraft's default waits 500 ms between attempts on a peer that
        // is down; a shorter pause lets a restarted member catch up sooner.
        Backoff::new(std::iter::repeat(self.net.backoff))
    }
}
