//! The proxy's configuration: one TOML file, every key with a default.
//!
//! `ProxyConfig::default()` is a working proxy on `127.0.0.1:6432` that
//! needs only backends (`--backends` for static mode, `--manager` for
//! dynamic mode). The file mirrors the sections of this module:
//!
//! ```toml
//! listen = "127.0.0.1:6432"
//! admin_listen = "127.0.0.1:6480"     # HTTP: /metrics
//! backends = ["127.0.0.1:5432", "127.0.0.1:5433"]   # static mode
//! # manager = ["http://127.0.0.1:8008"]             # dynamic mode
//! pool_mode = "transaction"
//!
//! [pool]      min_size, max_size, idle_timeout_ms, connect_timeout_ms, ...
//! [limits]    max_client_conn, max_message_bytes, ...
//! datacenter = "dc1"   # where the proxy runs (consistency levels)
//! region = "eu"
//! [routing]   read_write_split, balance, max_lag_bytes, read_your_writes, consistency, ...
//! [health]    interval_ms, timeout_ms, ban_ms, user, password, database
//! [auth]      users_file, hba rules, backend credentials
//! [tls]       cert, key (client-facing TLS)
//! [services.NAME]  per-service overrides (oltp, olap, batch by default)
//! ```
//!
//! Unknown keys are rejected (`deny_unknown_fields`), so a typo is an error
//! at startup or on SIGHUP reload, not a silently ignored setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ProxyError, Result};

/// How long a client keeps a backend connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// For the whole client session (LISTEN/NOTIFY, session state all work).
    Session,
    /// For one transaction; between transactions the backend serves others.
    #[default]
    Transaction,
}

/// How replicas are chosen among the eligible ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BalanceAlgorithm {
    #[default]
    RoundRobin,
    LeastConnections,
    WeightedRoundRobin,
    IpHash,
}

/// Where a service's reads may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ReadPolicy {
    /// Replicas when one is eligible, else the primary (if allowed).
    #[default]
    ReplicaPreferred,
    /// Everything on the primary (no read/write split).
    PrimaryOnly,
    /// Reads only on replicas; none eligible is an error.
    ReplicaOnly,
    /// Reads balanced over replicas and the primary alike.
    Any,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyConfig {
    /// Client-facing pgwire address.
    pub listen: String,
    /// HTTP address for `/metrics` (empty disables it).
    pub admin_listen: String,
    /// Static mode: PostgreSQL-protocol servers whose roles are detected.
    pub backends: Vec<String>,
    /// Dynamic mode: manager API URLs (any member answers `/topology`).
    pub manager: Vec<String>,
    /// Default pool mode (a service may override it).
    pub pool_mode: PoolMode,
    pub pool: PoolConfig,
    pub limits: LimitsConfig,
    pub routing: RoutingConfig,
    pub health: HealthConfig,
    pub auth: AuthConfig,
    pub tls: Option<TlsConfig>,
    /// Services by name; `oltp`, `olap` and `batch` exist by default.
    pub services: BTreeMap<String, ServiceConfig>,
    /// The service of a client that names none.
    pub default_service: String,
    /// The proxy's own datacenter, for `rustydb.consistency = local`
    /// (empty: unlabelled, matching unlabelled backends).
    pub datacenter: String,
    /// The proxy's own region, for `regional` (empty: the region the
    /// topology gives `datacenter`).
    pub region: String,
    /// Runtime worker threads; 0 = one per two cores (at least one). A
    /// relay spends most of its time in the kernel, and on a small machine
    /// shared with the database one thread wakes less and serves more.
    pub threads: usize,
}

/// Backend connection pools, one per (user, database, backend).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolConfig {
    /// Connections kept open per pool even when idle.
    pub min_size: usize,
    /// Connections per pool at most; more clients wait (`acquire_timeout_ms`).
    pub max_size: usize,
    /// An idle connection above `min_size` is closed after this long.
    pub idle_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// How long a client waits for a free connection before `53300`.
    pub acquire_timeout_ms: u64,
    /// Run on a session-mode connection before another client gets it.
    pub server_reset_query: String,
    /// Transaction mode: simple read queries outside transactions are
    /// pipelined, many clients' at a time, on this many connections per
    /// pool (`pool::mux`); 0 = off. Fewer sends and backend wake-ups per
    /// statement, at the price of head-of-line waits behind a slow read.
    pub multiplex_lanes: usize,
    /// Queries in flight on a lane before the next lane takes some
    /// (lanes are filled in order: deeper pipelines cost less per
    /// statement); at least 1.
    pub multiplex_pack_depth: usize,
}

/// Client-side limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Client connections at most; the next gets FATAL `53300`.
    pub max_client_conn: usize,
    /// Largest message a client may send (bytes); larger is FATAL `08P01`.
    pub max_message_bytes: usize,
    /// A client must finish startup and authentication within this.
    pub startup_timeout_ms: u64,
}

/// Read/write split and replica choice (defaults for every service).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Off: everything goes to the primary.
    pub read_write_split: bool,
    pub balance: BalanceAlgorithm,
    /// Weights for `weighted_round_robin`, by backend name or address.
    pub weights: BTreeMap<String, u32>,
    pub read_policy: ReadPolicy,
    /// Replicas further behind than this (bytes of WAL) get no reads.
    pub max_lag_bytes: u64,
    /// Replicas further behind than this (milliseconds) get no reads.
    pub max_lag_ms: u64,
    /// After a session commits at LSN L, its reads go only to replicas
    /// that have applied L (else to the primary).
    pub read_your_writes: bool,
    /// The primary serves reads when no replica is eligible.
    pub primary_reads_when_no_replica: bool,
    /// Read consistency level of a session that sets none:
    /// `local`, `regional`, `global` (any replica) or `strong`.
    pub consistency: crate::routing::Consistency,
    /// Statement classifications remembered (by text).
    pub classify_cache_size: usize,
    /// Functions whose call sends a statement to the primary, beyond the
    /// built-in list (`nextval`, `setval`, advisory locks, `lo_*`,
    /// `dblink*`, `set_config`, …): lower-case names, `prefix*`, or
    /// `schema.name`.
    pub primary_functions: Vec<String>,
}

/// Backend health checks and bans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// How often each backend is checked (role, replay LSN, liveness).
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// A backend that fails a check or a connection gets no new work this long.
    pub ban_ms: u64,
    /// User the health checker logs in as (role detection, replay LSN).
    pub user: String,
    /// Its password, for backends that do not trust the proxy's address.
    pub password: Option<String>,
    /// Database the health checker connects to.
    pub database: String,
}

/// One HBA-like rule: the first matching rule decides the method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HbaRule {
    /// `host` (TLS or not), `hostssl` (TLS only), `hostnossl`.
    #[serde(rename = "type", default = "default_hba_type")]
    pub kind: String,
    /// `all`, an address (`127.0.0.1`) or a CIDR (`10.0.0.0/8`, `::1/128`).
    #[serde(default = "all")]
    pub address: String,
    /// `all` or a user name.
    #[serde(default = "all")]
    pub user: String,
    /// `all` or a database name.
    #[serde(default = "all")]
    pub database: String,
    /// `trust`, `md5`, `scram-sha-256`, `password` or `reject`.
    pub method: String,
}

fn all() -> String {
    "all".to_string()
}

fn default_hba_type() -> String {
    "host".to_string()
}

/// Client authentication and backend credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// PgBouncer's `userlist.txt` format: `"user" "secret"` per line, the
    /// secret a SCRAM verifier, an `md5…` hash or a plain password.
    pub users_file: Option<PathBuf>,
    /// Rules in order; none matching means `reject`. Default: trust on
    /// loopback, scram-sha-256 elsewhere.
    pub hba: Vec<HbaRule>,
    /// Password the proxy uses to log in to backends, by user (when the
    /// users file holds only a verifier). Absent: the plain password from
    /// the users file if there is one, else none (trust backends).
    pub backend_passwords: BTreeMap<String, String>,
}

/// Client-facing TLS (rustls). Clients may then `sslmode=require`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A service: which nodes, how many connections, how reads are spread.
/// Every `Option` falls back to the top-level setting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Backends (names or addresses) this service prefers for reads.
    pub preferred_nodes: Vec<String>,
    /// Tags (e.g. datacenter names) this service prefers for reads.
    pub preferred_tags: Vec<String>,
    /// Below this many eligible replicas the preference is dropped.
    pub min_instances: usize,
    /// Client connections at most in this service (0 = no own limit).
    pub max_connections: usize,
    pub pool_mode: Option<PoolMode>,
    pub read_policy: Option<ReadPolicy>,
    pub balance: Option<BalanceAlgorithm>,
    pub max_lag_bytes: Option<u64>,
    pub max_lag_ms: Option<u64>,
    pub read_your_writes: Option<bool>,
    /// Default read consistency level of the service's sessions.
    pub consistency: Option<crate::routing::Consistency>,
    /// Default degree of parallelism for fan-out: a number (`1` = off) or
    /// `"auto"` (one fragment per healthy node; `olap`'s default).
    pub parallel_degree: Option<crate::fanout::ParallelDegree>,
    /// A listen address whose clients get this service.
    pub listen: Option<String>,
}

impl ServiceConfig {
    /// Fills every unset key from `base` (a built-in service's defaults).
    fn inherit(&mut self, base: &ServiceConfig) {
        self.pool_mode = self.pool_mode.or(base.pool_mode);
        self.read_policy = self.read_policy.or(base.read_policy);
        self.balance = self.balance.or(base.balance);
        self.max_lag_bytes = self.max_lag_bytes.or(base.max_lag_bytes);
        self.max_lag_ms = self.max_lag_ms.or(base.max_lag_ms);
        self.read_your_writes = self.read_your_writes.or(base.read_your_writes);
        self.consistency = self.consistency.or(base.consistency);
        self.parallel_degree = self.parallel_degree.or(base.parallel_degree);
        if self.listen.is_none() {
            self.listen.clone_from(&base.listen);
        }
    }
}

impl Default for ProxyConfig {
    fn default() -> Self {
        let mut services = BTreeMap::new();
        services.insert("oltp".to_string(), ServiceConfig::default());
        services.insert(
            "olap".to_string(),
            ServiceConfig {
                read_policy: Some(ReadPolicy::ReplicaPreferred),
                balance: Some(BalanceAlgorithm::LeastConnections),
                max_lag_ms: Some(60_000),
                parallel_degree: Some(crate::fanout::ParallelDegree::AUTO),
                ..ServiceConfig::default()
            },
        );
        services.insert(
            "batch".to_string(),
            ServiceConfig {
                pool_mode: Some(PoolMode::Session),
                read_policy: Some(ReadPolicy::PrimaryOnly),
                ..ServiceConfig::default()
            },
        );
        ProxyConfig {
            listen: "127.0.0.1:6432".to_string(),
            admin_listen: String::new(),
            backends: Vec::new(),
            manager: Vec::new(),
            pool_mode: PoolMode::default(),
            pool: PoolConfig::default(),
            limits: LimitsConfig::default(),
            routing: RoutingConfig::default(),
            health: HealthConfig::default(),
            auth: AuthConfig::default(),
            tls: None,
            services,
            default_service: "oltp".to_string(),
            datacenter: String::new(),
            region: String::new(),
            threads: 0,
        }
    }
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            min_size: 0,
            max_size: 32,
            idle_timeout_ms: 60_000,
            connect_timeout_ms: 5_000,
            acquire_timeout_ms: 10_000,
            server_reset_query: "DISCARD ALL".to_string(),
            multiplex_lanes: 0,
            multiplex_pack_depth: 16,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_client_conn: 5_000,
            max_message_bytes: 64 << 20,
            startup_timeout_ms: 15_000,
        }
    }
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig {
            read_write_split: true,
            balance: BalanceAlgorithm::default(),
            weights: BTreeMap::new(),
            read_policy: ReadPolicy::default(),
            max_lag_bytes: 64 << 20,
            max_lag_ms: 10_000,
            read_your_writes: true,
            primary_reads_when_no_replica: true,
            consistency: crate::routing::Consistency::Global,
            classify_cache_size: 10_000,
            primary_functions: Vec::new(),
        }
    }
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            interval_ms: 500,
            timeout_ms: 2_000,
            ban_ms: 3_000,
            user: "postgres".to_string(),
            password: None,
            database: "postgres".to_string(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            users_file: None,
            hba: vec![
                HbaRule {
                    kind: "host".into(),
                    address: "127.0.0.0/8".into(),
                    user: all(),
                    database: all(),
                    method: "trust".into(),
                },
                HbaRule {
                    kind: "host".into(),
                    address: "::1/128".into(),
                    user: all(),
                    database: all(),
                    method: "trust".into(),
                },
                HbaRule {
                    kind: "host".into(),
                    address: "all".into(),
                    user: all(),
                    database: all(),
                    method: "scram-sha-256".into(),
                },
            ],
            backend_passwords: BTreeMap::new(),
        }
    }
}

impl ProxyConfig {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let config = Self::read(path)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads a TOML file without the cross-key checks, for callers that
    /// still apply command-line overrides (then `validate`).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProxyError::Config(format!("{}: {e}", path.display())))?;
        Self::parse_unchecked(&text)
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let config = Self::parse_unchecked(text)?;
        config.validate()?;
        Ok(config)
    }

    fn parse_unchecked(text: &str) -> Result<Self> {
        let mut config: ProxyConfig =
            toml::from_str(text).map_err(|e| ProxyError::Config(e.to_string()))?;
        // A file that adds a service keeps the built-in ones, and a file
        // that names a built-in one changes only the keys it sets.
        for (name, builtin) in ProxyConfig::default().services {
            match config.services.get_mut(&name) {
                Some(s) => s.inherit(&builtin),
                None => {
                    config.services.insert(name, builtin);
                }
            }
        }
        Ok(config)
    }

    /// Rejects settings that cannot work together.
    pub fn validate(&self) -> Result<()> {
        if self.backends.is_empty() && self.manager.is_empty() {
            return Err(ProxyError::Config(
                "no backends: set `backends` (static mode) or `manager` (dynamic mode)".into(),
            ));
        }
        if !self.backends.is_empty() && !self.manager.is_empty() {
            return Err(ProxyError::Config(
                "`backends` and `manager` are exclusive: pick static or dynamic mode".into(),
            ));
        }
        if self.pool.max_size == 0 || self.pool.min_size > self.pool.max_size {
            return Err(ProxyError::Config(
                "pool: need 0 <= min_size <= max_size and max_size > 0".into(),
            ));
        }
        if !self.services.contains_key(&self.default_service) {
            return Err(ProxyError::Config(format!(
                "default_service {:?} is not a configured service",
                self.default_service
            )));
        }
        if self.limits.max_message_bytes < 1024 {
            return Err(ProxyError::Config(
                "limits.max_message_bytes must be at least 1024".into(),
            ));
        }
        Ok(())
    }

    /// Worker threads to run with.
    pub fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / 2).max(1)
    }

    /// The service's default degree of parallelism (`1` when unset).
    pub fn parallel_degree_of(&self, service: &str) -> crate::fanout::ParallelDegree {
        self.services
            .get(service)
            .and_then(|s| s.parallel_degree)
            .unwrap_or(crate::fanout::ParallelDegree::Fixed(1))
    }

    /// The default read consistency level of a service's sessions.
    pub fn consistency_of(&self, service: &str) -> crate::routing::Consistency {
        self.services
            .get(service)
            .and_then(|s| s.consistency)
            .unwrap_or(self.routing.consistency)
    }

    /// The effective pool mode of a service.
    pub fn pool_mode_of(&self, service: &str) -> PoolMode {
        self.services
            .get(service)
            .and_then(|s| s.pool_mode)
            .unwrap_or(self.pool_mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_only_backends() {
        assert!(ProxyConfig::default().validate().is_err());
        let c = ProxyConfig::parse("backends = [\"127.0.0.1:5432\"]").unwrap();
        assert_eq!(c.listen, "127.0.0.1:6432");
        assert_eq!(c.pool_mode_of("batch"), PoolMode::Session);
        assert_eq!(c.pool_mode_of("oltp"), PoolMode::Transaction);
    }

    #[test]
    fn typos_and_conflicts_are_errors() {
        assert!(ProxyConfig::parse("backends = [\"a:1\"]\npool_mod = \"session\"").is_err());
        assert!(ProxyConfig::parse("backends = [\"a:1\"]\nmanager = [\"http://m\"]").is_err());
        let c = ProxyConfig::parse(
            "backends = [\"a:1\"]\n[services.reports]\npool_mode = \"session\"\nlisten = \"127.0.0.1:7000\"",
        )
        .unwrap();
        assert_eq!(c.pool_mode_of("reports"), PoolMode::Session);
        assert!(
            c.services.contains_key("oltp"),
            "defaults kept beside new ones"
        );
        let c = ProxyConfig::parse(
            "backends = [\"a:1\"]\n[services.batch]\nlisten = \"127.0.0.1:7001\"",
        )
        .unwrap();
        assert_eq!(
            c.pool_mode_of("batch"),
            PoolMode::Session,
            "built-in keys kept"
        );
        assert_eq!(
            c.services["batch"].read_policy,
            Some(ReadPolicy::PrimaryOnly)
        );
    }
}
