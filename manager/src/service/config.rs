//! `manager.toml`: one manager member's configuration.
//!
//! The file says who this member is (`id`, `name`, listeners, data
//! directory), who the other members are (`[[members]]`, self included),
//! which storage nodes form the cluster (`[[nodes]]`), optionally a local
//! node process this member supervises (`[supervise]`), and the *initial*
//! dynamic configuration (`[cluster]`). The `[cluster]` values are written
//! to Raft once, when the group is fresh; from then on `PATCH /config` is
//! the way to change them, so every member uses the same values whatever
//! its file says.
//!
//! Every key has a default except `id`, `[[members]]` and `[[nodes]]`;
//! `validate` rejects files that could not work (self missing from the
//! members, duplicate ids or node names, a supervised node that is not in
//! `[[nodes]]`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::dr_config::{DrConfig, RpoConfig, RtoConfig, StandbyClusterConfig};
use crate::raft::{ClusterConfig, NodeInfo, Role};

/// One manager member of the group (self included).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEntry {
    pub id: u64,
    /// `host:port` of its Raft listener.
    pub raft: String,
    /// Its HTTP API base URL, `http://host:port`.
    pub api: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Geo labels of the member (shown in `/cluster`).
    #[serde(default)]
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
}

/// One storage node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    pub name: String,
    /// `host:port` of its pgwire listener.
    pub pgwire: String,
    /// `host:port` of its admin API.
    pub admin: String,
    #[serde(default)]
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub nofailover: bool,
    #[serde(default)]
    pub noloadbalance: bool,
    #[serde(default)]
    pub failover_priority: i32,
}

impl NodeEntry {
    /// The node as registered in the replicated state.
    pub fn to_node_info(&self) -> NodeInfo {
        NodeInfo {
            name: self.name.clone(),
            pgwire_addr: self.pgwire.clone(),
            admin_addr: self.admin.clone(),
            datacenter: self.datacenter.clone(),
            region: self.region.clone(),
            nofailover: self.nofailover,
            noloadbalance: self.noloadbalance,
            failover_priority: self.failover_priority,
            role: Role::Unknown,
            drained: false,
            stopped: false,
        }
    }
}

/// A local node process this member starts and restarts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuperviseEntry {
    /// Its name in `[[nodes]]`.
    pub node: String,
    /// The program to run (default: this executable, with `node` first).
    #[serde(default)]
    pub program: Option<PathBuf>,
    /// Arguments after `node`.
    #[serde(default)]
    pub args: Vec<String>,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagerConfig {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default = "default_api_listen")]
    pub api_listen: SocketAddr,
    #[serde(default = "default_raft_listen")]
    pub raft_listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default)]
    pub datacenter: String,
    #[serde(default)]
    pub region: String,
    /// Bearer token mutations must carry; empty means none.
    #[serde(default)]
    pub api_token: String,
    #[serde(default)]
    pub log_level: Option<String>,
    pub members: Vec<MemberEntry>,
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    #[serde(default)]
    pub supervise: Option<SuperviseEntry>,
    #[serde(default)]
    pub cluster: ClusterConfig,
    /// Backup repository and schedule (see `service::backup`).
    #[serde(default)]
    pub backup: Option<super::backup::BackupSchedule>,
    /// This cluster follows another one (`dr_config.rs`).
    #[serde(default)]
    pub standby_cluster: Option<StandbyClusterConfig>,
    #[serde(default)]
    pub dr: DrConfig,
    #[serde(default)]
    pub rto: RtoConfig,
    #[serde(default)]
    pub rpo: RpoConfig,
}

fn default_api_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8008))
}

fn default_raft_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 9008))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from(".rustydb/manager")
}

impl ManagerConfig {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<ManagerConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let config = ManagerConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<ManagerConfig, String> {
        let mut config: ManagerConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if config.name.is_empty() {
            config.name = format!("m{}", config.id);
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        let mut ids = BTreeSet::new();
        for m in &self.members {
            if !ids.insert(m.id) {
                return Err(format!("member id {} appears twice", m.id));
            }
        }
        if !ids.contains(&self.id) {
            return Err(format!(
                "[[members]] must include this member (id {})",
                self.id
            ));
        }
        let mut names = BTreeSet::new();
        for n in &self.nodes {
            if n.name.is_empty() {
                return Err("a node needs a name".into());
            }
            if !names.insert(n.name.as_str()) {
                return Err(format!("node {} appears twice", n.name));
            }
        }
        if let Some(s) = &self.supervise {
            if !names.contains(s.node.as_str()) {
                return Err(format!("supervised node {} is not in [[nodes]]", s.node));
            }
        }
        self.dr.validate()?;
        if let Some(b) = &self.backup {
            b.validate()?;
        }
        if self
            .standby_cluster
            .as_ref()
            .is_some_and(|s| s.primary_hosts.is_empty())
        {
            return Err("[standby_cluster] needs primary_hosts".into());
        }
        if self.cluster.heartbeat_ms == 0 || self.cluster.lease_ttl_ms == 0 {
            return Err("heartbeat_ms and lease_ttl_ms must be positive".into());
        }
        Ok(())
    }

    /// The API URL of member `id`, as configured.
    pub fn member_api(&self, id: u64) -> Option<&str> {
        self.members
            .iter()
            .find(|m| m.id == id)
            .map(|m| m.api.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
id = 1
api_listen = "127.0.0.1:8008"
raft_listen = "127.0.0.1:9008"
[[members]]
id = 1
raft = "127.0.0.1:9008"
api = "http://127.0.0.1:8008"
[[nodes]]
name = "n1"
pgwire = "127.0.0.1:5433"
admin = "127.0.0.1:8433"
[cluster]
replication_mode = "sync"
lease_ttl_ms = 2000
"#;

    #[test]
    fn parses_with_defaults() {
        let c = ManagerConfig::parse(SAMPLE);
        let c = match c {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(c.name, "m1");
        assert_eq!(c.cluster.lease_ttl_ms, 2000);
        assert_eq!(c.cluster.heartbeat_ms, 100);
        assert_eq!(c.nodes.len(), 1);
    }

    #[test]
    fn rejects_missing_self() {
        let text = SAMPLE.replace("id = 1\napi_listen", "id = 2\napi_listen");
        assert!(ManagerConfig::parse(&text).is_err());
    }
}
