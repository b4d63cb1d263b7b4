//! Wire types of the RustyDB manager's HTTP API.
//!
//! The manager (`rustydb manager`), `rustydb-cli` and, later, the proxy all
//! speak this API; this crate is the one place its JSON shapes are defined,
//! so the three cannot drift apart. It holds plain serde structs and
//! nothing else: no HTTP, no async, no manager internals.
//!
//! Shapes follow Patroni where Patroni has the same concept (`/cluster`
//! with `members[]`, `role` = `leader` / `sync_standby` / `replica`,
//! `state`, `host`, `port`, `timeline`, `lsn`, `lag`), so tools written for
//! Patroni read them. Everything the manager adds (`managers`, the
//! `/topology` long-poll for proxies, the failover data-loss figure) is
//! additive. Unknown fields are ignored when reading (serde's default), so
//! older clients keep working against newer managers.
//!
//! Errors are always `{"error": "..."}` ([`ErrorBody`]), sometimes with
//! extra fields (a refused failover reports the candidate's lag).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The body of every 4xx/5xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// Extra detail (for a refused failover: `lag_bytes`, `candidate_lsn`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// Tags of a storage node (Patroni's names).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NodeTags {
    pub nofailover: bool,
    pub noloadbalance: bool,
    pub failover_priority: i32,
}

/// One storage node in `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMember {
    pub name: String,
    /// `leader` (the primary), `sync_standby`, `replica` or `unknown`.
    pub role: String,
    /// `running` (primary up), `streaming` (replica up), `stopped`
    /// (administratively stopped with `POST /stop`, or never answered),
    /// `suspected` or `failed` (the failure detector's view).
    pub state: String,
    /// The node's pgwire listener.
    pub host: String,
    pub port: u16,
    /// The node's admin API (`http://host:port`).
    pub api_url: String,
    pub timeline: Option<u64>,
    /// The node's last durable LSN (integer form).
    pub lsn: Option<u64>,
    /// Bytes behind the primary (replicas; estimate).
    pub lag: Option<u64>,
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
    pub tags: NodeTags,
    /// The failure detector's suspicion level (phi).
    #[serde(default)]
    pub phi: f64,
}

/// One manager member in `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagerMember {
    pub id: u64,
    pub name: String,
    pub api_url: String,
    pub raft_addr: String,
    /// `leader`, `follower` or `unreachable`.
    pub role: String,
    #[serde(default)]
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
}

/// `GET /cluster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterStatus {
    pub members: Vec<ClusterMember>,
    pub scope: String,
    /// The manager leader's member id.
    pub leader_member: Option<u64>,
    pub managers: Vec<ManagerMember>,
    pub paused: bool,
    pub timeline: u64,
    /// The dynamic configuration (`GET /config`).
    pub config: ClusterConfigView,
    /// A scheduled switchover, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_switchover: Option<ScheduledSwitchover>,
}

/// The dynamic configuration, as `GET /config` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterConfigView {
    /// `async`, `sync` or `semi-sync`.
    pub replication_mode: String,
    pub num_sync_replicas: u32,
    pub maximum_lag_on_failover: u64,
    pub lease_ttl_ms: u64,
    pub heartbeat_ms: u64,
    pub failure_threshold: f64,
    pub pause: bool,
}

/// `PATCH /config`: every field optional; `pause` pauses/resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigPatchRequest {
    pub replication_mode: Option<String>,
    pub num_sync_replicas: Option<u32>,
    pub maximum_lag_on_failover: Option<u64>,
    pub lease_ttl_ms: Option<u64>,
    pub heartbeat_ms: Option<u64>,
    pub failure_threshold: Option<f64>,
    pub pause: Option<bool>,
}

/// `POST /switchover`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SwitchoverRequest {
    /// The current primary (checked when given).
    pub leader: Option<String>,
    /// The node to promote (the best replica when absent).
    pub candidate: Option<String>,
    /// RFC 3339 time; answered 202 and run then.
    pub scheduled_at: Option<String>,
}

/// A scheduled switchover (`POST /switchover` with `scheduled_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduledSwitchover {
    pub scheduled_at: String,
    pub leader: Option<String>,
    pub candidate: Option<String>,
}

/// `POST /failover`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailoverRequest {
    pub candidate: String,
    /// Promote even when the candidate is behind (acknowledged commits may be lost).
    pub force: bool,
}

/// The answer of a successful switchover or failover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverResult {
    pub from: Option<String>,
    pub to: String,
    pub timeline: u64,
    /// Bytes of WAL the new primary lacked (an estimate; 0 for a switchover).
    pub lost_bytes: u64,
    pub duration_ms: u64,
}

/// `POST /reinitialize`, `/restart`, `/drain`, `/stop`, `/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeRequest {
    pub node: String,
}

/// `POST /members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub id: u64,
    /// The member's Raft listener, `host:port`.
    pub raft: String,
    /// The member's API URL, `http://host:port`.
    #[serde(default)]
    pub api: Option<String>,
}

/// `GET /members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersView {
    pub leader: Option<u64>,
    /// Voter id -> Raft address.
    pub voters: BTreeMap<u64, String>,
}

/// One entry of `GET /history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Unix time in milliseconds.
    pub time_ms: u64,
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: String,
    pub success: bool,
    pub duration_ms: u64,
}

/// `GET /history`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    pub failovers: Vec<HistoryEntry>,
    pub timelines: Vec<TimelineView>,
}

/// One timeline switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineView {
    pub timeline: u64,
    pub start_lsn: u64,
    pub reason: String,
    pub time_ms: u64,
}

/// The primary in `GET /topology`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologyPrimary {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
    pub lsn: Option<u64>,
    pub timeline: u64,
}

/// A replica in `GET /topology`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopologyReplica {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
    pub lsn: Option<u64>,
    pub lag_bytes: Option<u64>,
    pub lag_ms: Option<f64>,
    pub noloadbalance: bool,
    pub sync: bool,
    /// Whether the failure detector currently considers it up.
    #[serde(default)]
    pub healthy: bool,
}

/// `GET /topology?wait=INDEX`: what a proxy routes by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topology {
    /// The applied Raft index this view was built at.
    pub index: u64,
    pub primary: Option<TopologyPrimary>,
    pub replicas: Vec<TopologyReplica>,
}

/// `GET /health` (and `/liveness`, `/readiness`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    pub status: String,
    pub member: u64,
    pub leader: Option<u64>,
    pub raft_state: String,
    pub term: u64,
    pub applied_index: u64,
}

/// A `/primary` or `/replica` check's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCheck {
    pub node: String,
    pub role: Option<String>,
    pub timeline: Option<u64>,
    pub lsn: Option<u64>,
    pub lag: Option<u64>,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_request_rejects_unknown_fields() {
        let ok: Result<FailoverRequest, _> =
            serde_json::from_str(r#"{"candidate":"n2","force":true}"#);
        assert!(matches!(ok, Ok(FailoverRequest { force: true, .. })));
        let bad: Result<FailoverRequest, _> = serde_json::from_str(r#"{"candidat":"n2"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn error_body_omits_missing_detail() {
        let body = ErrorBody {
            error: "no leader".into(),
            detail: None,
        };
        assert_eq!(
            serde_json::to_string(&body).ok().as_deref(),
            Some(r#"{"error":"no leader"}"#)
        );
    }
}
