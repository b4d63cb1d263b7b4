//! The manager's HTTP client: node admin calls and request forwarding.
//!
//! One pooled hyper client serves everything the manager sends: the
//! heartbeat `GET /status`, lease renewals, `/promote`, `/follow`,
//! `/demote`, `/replication/mode` on nodes, and mutations forwarded to the
//! manager leader. Every call has a deadline; a node that does not answer
//! in time is an error like any other (`ClientError`), never a hang, and
//! nothing in an answer can panic the manager: bodies are capped and
//! parsed leniently (unknown fields ignored, missing ones `None`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// Largest answer body read from a node or a peer member.
const MAX_ANSWER: usize = 4 << 20;

/// What went wrong talking to a node or a member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("{0}: timed out")]
    Timeout(String),
    #[error("{0}: {1}")]
    Transport(String, String),
    /// No connection could be made: the request was certainly not sent.
    #[error("{0}: cannot connect: {1}")]
    Refused(String, String),
    /// The peer answered with a non-2xx status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{0}: unreadable answer: {1}")]
    Decode(String, String),
}

/// A node's `GET /status`, the fields the manager uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeStatus {
    pub role: Option<String>,
    pub timeline: Option<u64>,
    pub lsn_number: Option<u64>,
    pub in_recovery: Option<bool>,
    pub fenced: Option<bool>,
    pub draining: Option<bool>,
    pub commit_mode: Option<String>,
    pub degraded: Option<bool>,
    pub upstream: Option<String>,
    pub stream_state: Option<String>,
    pub last_error: Option<String>,
    pub lease_valid: Option<bool>,
    pub lease_remaining_ms: Option<u64>,
    pub node_name: Option<String>,
}

impl NodeStatus {
    pub fn is_primary(&self) -> bool {
        self.role.as_deref() == Some("primary")
    }
}

/// One replica in a primary's `GET /replication`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplicaStat {
    pub name: Option<String>,
    pub flush_lsn: u64,
    pub replay_lsn: u64,
    pub lag_bytes: u64,
    pub lag_ms: f64,
    pub sync_state: Option<String>,
}

/// A primary's `GET /replication`, the fields the manager uses.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplicationStatus {
    pub lsn: u64,
    pub replicas: Vec<ReplicaStat>,
}

#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpConnector, Full<Bytes>>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    pub fn new() -> HttpClient {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_millis(500)));
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        HttpClient { inner }
    }

    /// Sends one request; answers the status and body whatever the status.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(hyper::header::HeaderName, String)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        if !body.is_empty() {
            builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| ClientError::Transport(url.to_string(), e.to_string()))?;
        let call = async {
            let response = self.inner.request(request).await.map_err(|e| {
                if e.is_connect() {
                    ClientError::Refused(url.to_string(), e.to_string())
                } else {
                    ClientError::Transport(url.to_string(), e.to_string())
                }
            })?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| ClientError::Transport(url.to_string(), e.to_string()))?
                .to_bytes();
            Ok((status, body))
        };
        match tokio::time::timeout(timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout(url.to_string())),
        }
    }

    /// A JSON call that must answer 2xx.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        body: Option<serde_json::Value>,
        timeout: Duration,
    ) -> Result<serde_json::Value, ClientError> {
        let bytes = match body {
            Some(v) => Bytes::from(v.to_string()),
            None => Bytes::new(),
        };
        let (status, answer) = self.send(method, url, &[], bytes, timeout).await?;
        if !status.is_success() {
            return Err(ClientError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: String::from_utf8_lossy(&answer).chars().take(500).collect(),
            });
        }
        if answer.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&answer)
            .map_err(|e| ClientError::Decode(url.to_string(), e.to_string()))
    }
}

/// The admin API of one storage node.
pub struct NodeApi<'a> {
    pub client: &'a HttpClient,
    /// `host:port` of the admin listener.
    pub admin: &'a str,
    pub timeout: Duration,
}

impl NodeApi<'_> {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        self.client
            .call(method, &self.url(path), body, self.timeout)
            .await
    }

    pub async fn status(&self) -> Result<NodeStatus, ClientError> {
        let v = self.call(Method::GET, "/status", None).await?;
        serde_json::from_value(v)
            .map_err(|e| ClientError::Decode(self.url("/status"), e.to_string()))
    }

    pub async fn replication(&self) -> Result<ReplicationStatus, ClientError> {
        let v = self.call(Method::GET, "/replication", None).await?;
        serde_json::from_value(v)
            .map_err(|e| ClientError::Decode(self.url("/replication"), e.to_string()))
    }

    /// Promotes the node; answers the new timeline's start LSN when given.
    pub async fn promote(&self) -> Result<serde_json::Value, ClientError> {
        self.call(Method::POST, "/promote", Some(serde_json::json!({})))
            .await
    }

    pub async fn follow(&self, primary_pgwire: &str) -> Result<(), ClientError> {
        self.call(
            Method::POST,
            "/follow",
            Some(serde_json::json!({ "primary": primary_pgwire })),
        )
        .await
        .map(|_| ())
    }

    /// Drains and demotes a primary; answers its final LSN.
    pub async fn demote(&self, drain_ms: u64) -> Result<u64, ClientError> {
        let v = self
            .call(
                Method::POST,
                "/demote",
                Some(serde_json::json!({ "drain_ms": drain_ms })),
            )
            .await?;
        v.get("final_lsn")
            .and_then(|l| l.as_u64())
            .ok_or_else(|| ClientError::Decode(self.url("/demote"), "no final_lsn".into()))
    }

    pub async fn renew_lease(&self, ttl_ms: u64) -> Result<(), ClientError> {
        self.call(
            Method::POST,
            "/lease",
            Some(serde_json::json!({ "ttl_ms": ttl_ms })),
        )
        .await
        .map(|_| ())
    }

    pub async fn set_mode(
        &self,
        commit_mode: &str,
        num_sync: u32,
        sync_standbys: &[String],
    ) -> Result<(), ClientError> {
        self.call(
            Method::POST,
            "/replication/mode",
            Some(serde_json::json!({
                "commit_mode": commit_mode,
                "num_sync": num_sync,
                "sync_standbys": sync_standbys,
            })),
        )
        .await
        .map(|_| ())
    }
}
