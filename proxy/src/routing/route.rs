//! The per-statement routing decision (see the module essay in `mod.rs`).
//!
//! Settings are resolved per service — a service's own `read_policy`,
//! `balance`, `max_lag_*` and `read_your_writes` override `[routing]` —
//! then the decision runs top-down: reasons to use the primary first
//! (the statement, a hint, split off, policy), then the candidate
//! replicas, then the fallback when there are none.

use std::sync::Arc;

use parking_lot::RwLock;
use rustydb_sql::classify::{Hint, Target};

use super::balance::{Balancer, PickContext};
use super::consistency::Site;
use super::{BackendLoad, Consistency, Route, RouteRequest, RouteTarget};
use crate::config::{BalanceAlgorithm, ProxyConfig, ReadPolicy, ServiceConfig};
use crate::error::{ProxyError, Result};
use crate::topology::{BackendInfo, Role, TopologySnapshot};

/// The `Route::reason` labels.
pub mod reason {
    /// The classifier sent the statement to the primary.
    pub const WRITE: &str = "write";
    /// A `rustydb:primary` / `rustydb:replica` comment decided.
    pub const HINT: &str = "hint";
    /// `routing.read_write_split = false`.
    pub const SPLIT_OFF: &str = "split_off";
    /// The service's read policy is `primary_only`.
    pub const PRIMARY_ONLY: &str = "primary_only";
    /// A read on a replica.
    pub const READ: &str = "read";
    /// A read the balancer gave to the primary (policy `any`).
    pub const PRIMARY_READ: &str = "primary_read";
    /// A read on the primary: no replica was eligible.
    pub const NO_REPLICA: &str = "no_replica";
    /// A read on the primary: no eligible replica had replayed the
    /// client's last commit yet.
    pub const READ_YOUR_WRITES: &str = "read_your_writes";
    /// A read on the primary: replicas were eligible, but none where the
    /// session's consistency level allows (`local`, `regional`).
    pub const CONSISTENCY: &str = "consistency";
}

/// One service's effective routing settings.
struct Settings<'c> {
    split: bool,
    policy: ReadPolicy,
    algorithm: BalanceAlgorithm,
    max_lag_bytes: u64,
    max_lag_ms: u64,
    read_your_writes: bool,
    primary_fallback: bool,
    service: Option<&'c ServiceConfig>,
}

impl<'c> Settings<'c> {
    /// An unknown service (removed by a reload while its clients stay
    /// connected) routes with the `[routing]` defaults.
    fn new(config: &'c ProxyConfig, service: &str) -> Self {
        let r = &config.routing;
        let s = config.services.get(service);
        Settings {
            split: r.read_write_split,
            policy: s.and_then(|s| s.read_policy).unwrap_or(r.read_policy),
            algorithm: s.and_then(|s| s.balance).unwrap_or(r.balance),
            max_lag_bytes: s.and_then(|s| s.max_lag_bytes).unwrap_or(r.max_lag_bytes),
            max_lag_ms: s.and_then(|s| s.max_lag_ms).unwrap_or(r.max_lag_ms),
            read_your_writes: s
                .and_then(|s| s.read_your_writes)
                .unwrap_or(r.read_your_writes),
            primary_fallback: r.primary_reads_when_no_replica,
            service: s,
        }
    }

    /// A replica that may take reads, before the LSN floor. A limit of 0
    /// disables that check; an unknown lag passes (the health checker
    /// has not measured it yet, and the floor still guards freshness).
    fn eligible(&self, b: &BackendInfo) -> bool {
        b.role == Role::Replica
            && b.healthy
            && !b.banned
            && !b.noloadbalance
            && (self.max_lag_bytes == 0 || b.lag_bytes.is_none_or(|l| l <= self.max_lag_bytes))
            && (self.max_lag_ms == 0 || b.lag_ms.is_none_or(|l| l <= self.max_lag_ms as f64))
    }

    /// Whether the service prefers this backend (by name or address, or
    /// by datacenter or tag).
    fn preferred(&self, b: &BackendInfo) -> bool {
        let Some(s) = self.service else {
            return false;
        };
        s.preferred_nodes.iter().any(|n| *n == b.id || *n == b.addr)
            || s.preferred_tags
                .iter()
                .any(|t| *t == b.datacenter || b.tags.contains(t))
    }

    fn has_preferences(&self) -> bool {
        self.service
            .is_some_and(|s| !s.preferred_nodes.is_empty() || !s.preferred_tags.is_empty())
    }

    fn min_instances(&self) -> usize {
        self.service.map_or(1, |s| s.min_instances.max(1))
    }
}

/// Decides where statements run; one per proxy.
#[derive(Debug)]
pub struct Router {
    config: RwLock<Arc<ProxyConfig>>,
    balancer: Balancer,
}

impl Router {
    pub fn new(config: Arc<ProxyConfig>) -> Self {
        Router {
            config: RwLock::new(config),
            balancer: Balancer::default(),
        }
    }

    /// Takes a reloaded configuration (SIGHUP); balancer state is kept.
    pub fn reload(&self, config: Arc<ProxyConfig>) {
        *self.config.write() = config;
    }

    /// The configuration routing currently uses.
    pub fn config(&self) -> Arc<ProxyConfig> {
        self.config.read().clone()
    }

    /// Decide where one statement (or the first statement of a transaction) runs.
    /// `min_lsn`: read-your-writes floor (Some(L) after this client committed at L).
    pub fn route(
        &self,
        req: &RouteRequest<'_>,
        topo: &TopologySnapshot,
        load: &dyn BackendLoad,
    ) -> Result<Route> {
        let config = self.config();
        let settings = Settings::new(&config, req.service);
        let class = req.class;
        let read_only = class.target == Target::Replica;
        let (is_read, reason) = match class.hint {
            Some(Hint::Primary) => (false, reason::HINT),
            // The client vouches for the statement; session effects still
            // need the primary (the session could otherwise never write).
            Some(Hint::Replica) if class.session.is_none() => (true, reason::HINT),
            _ => (read_only, reason::WRITE),
        };
        if !is_read {
            return primary(topo, reason, read_only);
        }
        if !settings.split {
            return primary(topo, reason::SPLIT_OFF, read_only);
        }
        if settings.policy == ReadPolicy::PrimaryOnly {
            return primary(topo, reason::PRIMARY_ONLY, read_only);
        }

        let mut candidates: Vec<&BackendInfo> = topo
            .backends
            .iter()
            .filter(|b| settings.eligible(b))
            .collect();
        // The level narrows by location first, then by freshness, so an
        // empty set says which of the two left the read to the primary.
        let level = req.consistency;
        let site = Site::of(&config, topo);
        let before_level = candidates.len();
        candidates.retain(|b| site.admits(level, b));
        let level_emptied = before_level > 0 && candidates.is_empty();
        let before_floor = candidates.len();
        let floor_applies = settings.read_your_writes || level == Consistency::Strong;
        if let Some(floor) = req.min_lsn.filter(|_| floor_applies) {
            candidates.retain(|b| b.replay_lsn.is_some_and(|lsn| lsn >= floor));
        }
        let floor_emptied = before_floor > 0 && candidates.is_empty();
        if settings.policy == ReadPolicy::Any {
            // `noloadbalance` keeps balanced reads off the primary too;
            // `local`/`regional` balance only over what is near.
            if let Some(p) =
                usable_primary(topo).filter(|p| !p.noloadbalance && site.admits(level, p))
            {
                candidates.push(p);
            }
        }
        if settings.has_preferences() {
            let preferred: Vec<&BackendInfo> = candidates
                .iter()
                .copied()
                .filter(|b| settings.preferred(b))
                .collect();
            if preferred.len() >= settings.min_instances() {
                candidates = preferred;
            }
        }

        let ctx = PickContext {
            service: req.service,
            algorithm: settings.algorithm,
            weights: &config.routing.weights,
            client_ip: req.client_ip,
            load,
        };
        if let Some(chosen) = self.balancer.pick(&ctx, &candidates) {
            return Ok(if chosen.role == Role::Primary {
                Route {
                    target: RouteTarget::Primary,
                    reason: reason::PRIMARY_READ,
                    read_only,
                }
            } else {
                Route {
                    target: RouteTarget::Replica(chosen.id.clone()),
                    reason: if reason == reason::HINT {
                        reason::HINT
                    } else {
                        reason::READ
                    },
                    read_only,
                }
            });
        }
        if settings.policy == ReadPolicy::ReplicaOnly {
            return Err(no_replica(req.service));
        }
        if floor_emptied {
            // Read-your-writes: the primary always has the client's commit.
            return primary(topo, reason::READ_YOUR_WRITES, read_only);
        }
        if level_emptied && settings.primary_fallback {
            return primary(topo, reason::CONSISTENCY, read_only);
        }
        if settings.primary_fallback {
            return primary(topo, reason::NO_REPLICA, read_only);
        }
        Err(no_replica(req.service))
    }
}

/// The primary, when it can take work.
fn usable_primary(topo: &TopologySnapshot) -> Option<&BackendInfo> {
    topo.primary().filter(|p| p.healthy && !p.banned)
}

fn primary(topo: &TopologySnapshot, reason: &'static str, read_only: bool) -> Result<Route> {
    match usable_primary(topo) {
        Some(_) => Ok(Route {
            target: RouteTarget::Primary,
            reason,
            read_only,
        }),
        None => Err(ProxyError::client("57P03", "no primary available")),
    }
}

fn no_replica(service: &str) -> ProxyError {
    ProxyError::client(
        "57P03",
        format!("no replica available for service \"{service}\""),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "route_tests.rs"]
mod tests;
