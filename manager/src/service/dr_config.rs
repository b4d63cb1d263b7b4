//! The geo / DR sections of manager.toml.
//!
//! ```toml
//! [standby_cluster]                 # this cluster follows another one
//! primary_hosts = ["10.1.0.1:5433", "10.1.0.2:5433"]   # its nodes' pgwire
//!
//! [dr]
//! lag_warning_s = 5                 # event + WARN log above this
//! lag_critical_s = 10               # event + ERROR log above this
//! max_lag_tolerance_s = 10          # `dr failover` refuses above (unless --force)
//! probe_interval_ms = 1000          # how often the primary site is probed
//! auto_failover = false             # automatic DR failover (needs a witness)
//! auto_failover_after_s = 30        # silence before a site is declared lost
//! site_lease_s = 10                 # the primary-site lease (site_lease.rs)
//! site = "dc1"                      # this site's name (default: datacenter)
//! witness = "http://10.3.0.1:8030"  # the third site's `rustydb witness`
//! peer_site = ["http://10.2.0.1:8008"]  # the other site's manager APIs
//! peer_api_token = ""               # bearer token for peer_site's API
//!
//! [rto]
//! target_seconds = 60               # `dr report` compares drills against it
//! [rpo]
//! target_seconds = 10
//! ```
//!
//! `[standby_cluster]` is written to Raft once, on a fresh group (like
//! `[cluster]`); afterwards DR commands (`dr failover`, `dr failback`)
//! decide the mode, so every member agrees whatever its file says.

use serde::Deserialize;

/// `[standby_cluster]`: Patroni's section of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StandbyClusterConfig {
    /// pgwire `host:port` of the primary cluster's nodes; the one that
    /// answers `pg_is_in_recovery() = false` is followed.
    pub primary_hosts: Vec<String>,
}

/// `[dr]`: lag alerting and failover tolerance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DrConfig {
    pub lag_warning_s: f64,
    pub lag_critical_s: f64,
    pub max_lag_tolerance_s: f64,
    pub probe_interval_ms: u64,
    /// Automatic DR failover through the inter-site quorum (`dr_auto.rs`).
    pub auto_failover: bool,
    pub auto_failover_after_s: f64,
    pub site_lease_s: f64,
    /// This site's name in the quorum; empty: the member's `datacenter`.
    pub site: String,
    /// The witness's URL (`rustydb witness`).
    pub witness: String,
    /// The other site's manager API URLs.
    pub peer_site: Vec<String>,
    pub peer_api_token: String,
}

impl Default for DrConfig {
    fn default() -> Self {
        DrConfig {
            lag_warning_s: 5.0,
            lag_critical_s: 10.0,
            max_lag_tolerance_s: 10.0,
            probe_interval_ms: 1000,
            auto_failover: false,
            auto_failover_after_s: 30.0,
            site_lease_s: 10.0,
            site: String::new(),
            witness: String::new(),
            peer_site: Vec::new(),
            peer_api_token: String::new(),
        }
    }
}

/// `[rto]` (the seeds' RtoConfig).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RtoConfig {
    pub target_seconds: f64,
}

impl Default for RtoConfig {
    fn default() -> Self {
        RtoConfig {
            target_seconds: 60.0,
        }
    }
}

/// `[rpo]` (the seeds' RpoConfig).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RpoConfig {
    pub target_seconds: f64,
}

impl Default for RpoConfig {
    fn default() -> Self {
        RpoConfig {
            target_seconds: 10.0,
        }
    }
}

impl DrConfig {
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v > 0.0;
        if !ok(self.lag_warning_s) || !ok(self.lag_critical_s) || !ok(self.max_lag_tolerance_s) {
            return Err("[dr] lag thresholds must be positive numbers".into());
        }
        if self.lag_critical_s < self.lag_warning_s {
            return Err("[dr] lag_critical_s must not be below lag_warning_s".into());
        }
        if self.probe_interval_ms == 0 {
            return Err("[dr] probe_interval_ms must be positive".into());
        }
        if self.auto_failover {
            if self.witness.is_empty() {
                return Err("[dr] auto_failover needs a witness URL (three sites)".into());
            }
            if !(self.site_lease_s.is_finite() && self.site_lease_s >= 0.5) {
                return Err("[dr] site_lease_s must be at least 0.5".into());
            }
            if !(self.auto_failover_after_s.is_finite()
                && self.auto_failover_after_s >= self.site_lease_s)
            {
                return Err("[dr] auto_failover_after_s must be at least site_lease_s".into());
            }
        }
        Ok(())
    }
}
