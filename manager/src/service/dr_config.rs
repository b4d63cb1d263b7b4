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
}

impl Default for DrConfig {
    fn default() -> Self {
        DrConfig {
            lag_warning_s: 5.0,
            lag_critical_s: 10.0,
            max_lag_tolerance_s: 10.0,
            probe_interval_ms: 1000,
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
        Ok(())
    }
}
