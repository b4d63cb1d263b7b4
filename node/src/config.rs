//! Node configuration: one TOML file, every key optional.
//!
//! `NodeConfig` is what `rustydb node --config node.toml` reads. Every field
//! has a default that gives a working single node, so an empty file (or no
//! file at all) behaves like `initdb -A trust` listening on loopback:
//!
//! ```toml
//! listen = "127.0.0.1:5433"
//! data_dir = "./data"
//! auth = "trust"                 # default method for users not listed below
//! max_connections = 100
//! max_message_bytes = 67108864   # 64 MiB; larger frontend messages get 08P01
//! sync_commit = true             # fsync the WAL before acknowledging COMMIT
//! log_level = "info"
//! # admin_listen = "127.0.0.1:8433"  # admin HTTP API (status, promote, follow); off by default
//! # node_name = "n1"             # default node-<listen port>
//! # datacenter = "dc1"           # geo labels (SHOW rustydb.datacenter / rustydb.region)
//! # region = "eu-west"
//! # tls_cert = "server.crt"      # PEM; both set => SSLRequest is accepted
//! # tls_key = "server.key"
//!
//! [[users]]
//! name = "app"
//! password = "secret"
//! method = "scram-sha-256"       # or "password" (cleartext) or "trust"
//!
//! [replication]                  # see docs/replication.md for every key
//! # follow = "10.0.0.1:5433"     # start as a replica of that node
//! commit_mode = "async"          # or "sync", "semi-sync"
//!
//! [fanout]
//! snapshot_retention_ms = 30000  # how long an LSN stays readable (read_lsn)
//! ```
//!
//! Command-line flags override the file (see the `rustydb` binary); the
//! merged value is validated once by [`NodeConfig::validate`] before anything
//! is opened, so a bad setting fails at startup with a clear message instead
//! of at the first connection.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::replication::ReplicationConfig;

/// How a user proves who they are (PostgreSQL's `pg_hba.conf` methods).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMethod {
    /// No password asked (PostgreSQL's `trust`).
    #[default]
    Trust,
    /// Cleartext password (PostgreSQL's `password`); use with TLS.
    Password,
    /// SCRAM-SHA-256 (PostgreSQL's `scram-sha-256`).
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
}

/// One configured login role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// Required for `password` and `scram-sha-256`.
    #[serde(default)]
    pub password: Option<String>,
    /// Defaults to the node-wide `auth` method.
    #[serde(default)]
    pub method: Option<AuthMethod>,
}

/// The whole node configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Address the pgwire server listens on.
    pub listen: SocketAddr,
    /// Where the node keeps its RocksDB data and WAL.
    pub data_dir: PathBuf,
    /// Method for users not listed in `users` (and for listed users without
    /// their own `method`).
    pub auth: AuthMethod,
    pub users: Vec<UserConfig>,
    /// PEM certificate chain for TLS; TLS is on when both this and `tls_key` are set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for TLS.
    pub tls_key: Option<PathBuf>,
    /// Connections beyond this get `53300 sorry, too many clients already`.
    pub max_connections: usize,
    /// Largest frontend message accepted; larger ones get `08P01` and the
    /// connection is closed.
    pub max_message_bytes: usize,
    /// Whether COMMIT waits for the WAL fsync (passed to the storage options).
    pub sync_commit: bool,
    /// Default log filter when `RUSTYDB_LOG` is not set.
    pub log_level: String,
    /// Where the admin HTTP API (`GET /status`) listens; off when unset.
    pub admin_listen: Option<SocketAddr>,
    /// This node's name among its peers (replicas report it as their
    /// `application_name`; `sync_standbys` lists these). Defaults to
    /// `node-<listen port>`.
    pub node_name: Option<String>,
    /// Geo labels (`SHOW rustydb.datacenter` / `rustydb.region`); the
    /// manager's `[[nodes]]` entries carry the same labels for routing.
    pub datacenter: Option<String>,
    pub region: Option<String>,
    /// WAL shipping, commit modes and retention (see docs/replication.md).
    pub replication: ReplicationConfig,
    /// WAL archiving to a backup repository (see docs/backup.md).
    pub backup: crate::backup::ArchiveConfig,
    /// Logical replication: slot retention limits (docs/logical-replication.md).
    pub logical: crate::logical::LogicalConfig,
    /// Reads at a fixed LSN for parallel fan-out (see docs/fanout-node.md).
    pub fanout: FanoutConfig,
}

/// `[fanout]`: how long LSN snapshots stay readable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FanoutConfig {
    /// An LSN stays readable (`SET rustydb.read_lsn`) at least this long
    /// after newer records landed.
    pub snapshot_retention_ms: u64,
}

impl Default for FanoutConfig {
    fn default() -> Self {
        FanoutConfig {
            snapshot_retention_ms: 30_000,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            data_dir: PathBuf::from("./data"),
            auth: AuthMethod::Trust,
            users: Vec::new(),
            tls_cert: None,
            tls_key: None,
            max_connections: 100,
            max_message_bytes: 64 << 20,
            sync_commit: true,
            log_level: "info".to_string(),
            admin_listen: None,
            node_name: None,
            datacenter: None,
            region: None,
            replication: ReplicationConfig::default(),
            backup: Default::default(),
            logical: Default::default(),
            fanout: FanoutConfig::default(),
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl NodeConfig {
    /// Parses a TOML document (missing keys take their defaults).
    pub fn from_toml(text: &str) -> Result<NodeConfig, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|source| ConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Checks the settings that can be checked without opening anything.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid(
                "max_connections must be at least 1".into(),
            ));
        }
        // Below this even a startup packet or a modest query would not fit.
        if self.max_message_bytes < 16 * 1024 {
            return Err(ConfigError::Invalid(
                "max_message_bytes must be at least 16384".into(),
            ));
        }
        if self.max_message_bytes > i32::MAX as usize {
            return Err(ConfigError::Invalid(
                "max_message_bytes must fit in 31 bits".into(),
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        self.replication.validate().map_err(ConfigError::Invalid)?;
        self.backup.validate().map_err(ConfigError::Invalid)?;
        let mut seen = std::collections::HashSet::new();
        for user in &self.users {
            if user.name.is_empty() {
                return Err(ConfigError::Invalid(
                    "a [[users]] entry has an empty name".into(),
                ));
            }
            if !seen.insert(user.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "user \"{}\" is listed twice",
                    user.name
                )));
            }
            let method = user.method.unwrap_or(self.auth);
            if method != AuthMethod::Trust && user.password.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "user \"{}\" uses {method:?} authentication but has no password",
                    user.name
                )));
            }
        }
        Ok(())
    }

    /// The node's name (configured, or derived from the listen port).
    pub fn name(&self) -> String {
        self.node_name
            .clone()
            .unwrap_or_else(|| format!("node-{}", self.listen.port()))
    }

    /// Where the WAL sender listens (default: the pgwire IP, any port).
    pub fn replication_listen(&self) -> SocketAddr {
        self.replication
            .listen
            .unwrap_or_else(|| SocketAddr::new(self.listen.ip(), 0))
    }

    /// Whether TLS is configured.
    pub fn tls_enabled(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_working_defaults() {
        let config = NodeConfig::from_toml("").expect("empty TOML parses");
        assert_eq!(config, NodeConfig::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:5433");
        assert_eq!(config.auth, AuthMethod::Trust);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn users_and_methods_parse() {
        let config = NodeConfig::from_toml(
            r#"
            listen = "0.0.0.0:6000"
            auth = "scram-sha-256"
            max_connections = 5
            [[users]]
            name = "alice"
            password = "pw"
            [[users]]
            name = "bob"
            password = "pw2"
            method = "password"
            "#,
        )
        .expect("parses");
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.auth, AuthMethod::ScramSha256);
        assert_eq!(config.users[1].method, Some(AuthMethod::Password));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_settings_are_rejected() {
        assert!(NodeConfig::from_toml("no_such_key = 1").is_err());
        assert!(NodeConfig::from_toml("auth = \"md5\"").is_err());
        let config =
            NodeConfig::from_toml("auth = \"password\"\n[[users]]\nname = \"x\"").expect("parses");
        assert!(config.validate().is_err());
        let config = NodeConfig::from_toml("tls_cert = \"a.pem\"").expect("parses");
        assert!(config.validate().is_err());
    }
}
