//! The parts of the manager API's JSON that the CLI reads.
//!
//! These mirror `docs`/the manager spec (`GET /cluster` in Patroni's shape,
//! `GET /history`). Every field is defaulted so a newer service that adds
//! fields, or omits one the CLI only displays, still renders: the CLI must
//! keep working against any member during a rolling upgrade. LSN and lag
//! stay `serde_json::Value` because the service may report them as a number
//! of bytes, a `X/Y` text or `"unknown"`, and the CLI only displays them.
//!
//! When the `rustydb-manager-api` crate lands these become re-exports of
//! its types; until then they are the CLI's reading of the contract.

use serde::Deserialize;
use serde_json::Value;

/// `GET /cluster`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ClusterView {
    pub members: Vec<MemberView>,
    pub scope: String,
    pub leader_member: Value,
    pub managers: Vec<ManagerView>,
    pub paused: bool,
    pub timeline: Value,
    pub config: Value,
}

/// One storage node as `GET /cluster` reports it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MemberView {
    pub name: String,
    pub role: String,
    pub state: String,
    pub host: String,
    pub port: Value,
    pub api_url: String,
    pub timeline: Value,
    pub lsn: Value,
    pub lag: Value,
    pub datacenter: String,
    pub region: String,
    pub tags: Tags,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Tags {
    pub nofailover: bool,
    pub noloadbalance: bool,
    pub failover_priority: Value,
}

/// One manager member.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ManagerView {
    pub id: Value,
    pub name: String,
    pub api_url: String,
    pub raft_addr: String,
    pub role: String,
    pub datacenter: String,
    pub region: String,
}

/// A scalar JSON value as table text: strings bare, null as empty.
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
