//! [`AdminState`] over the live proxy state ([`Shared`]).
//!
//! The console asks for owned rows; this module builds them from what the
//! sessions and pools already keep, without adding bookkeeping to the hot
//! path:
//!
//! - pools: [`Pools::snapshot`](crate::pool::Pools::snapshot) (one pool per
//!   user, database and backend) with its atomics. A pool is shared by
//!   every service whose clients use that user and database, so the
//!   `service` column lists the services of the clients connected with
//!   that user and database right now (empty when none is), and `pool_mode`
//!   their effective pool modes (the top-level mode when no client is).
//! - clients: the registry every session enters at startup
//!   ([`Shared::clients`]); a client holding a backend is `active`, else
//!   `idle`.
//! - servers: derived from the pools — one row per open connection,
//!   `active` or `idle`. The pool does not expose per-connection process
//!   ids or open times, so `pid` and `connected_at` are NULL: the console
//!   shows what is known rather than inventing values.
//! - stats: [`Shared::stats`] per service (every configured service, plus
//!   any service seen only in counters), the mean round trip being
//!   `total_us / (primary + replica)`.
//! - PAUSE/RESUME flip [`Shared::paused`]; sessions wait for it to clear
//!   before routing their next transaction. RELOAD is [`Shared::reload`].
//!
//! Locks (`clients`, `stats`, the pool map) are taken one at a time and
//! released before the rows are returned; nothing here awaits.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{AdminState, ClientRow, PoolRow, ServerRow, StatsRow};
use crate::config::ProxyConfig;
use crate::error::ProxyError;
use crate::state::Shared;
use crate::topology::TopologySnapshot;

/// An enum's configuration spelling (`session`, `transaction`).
fn pool_mode_name(mode: crate::config::PoolMode) -> &'static str {
    match mode {
        crate::config::PoolMode::Session => "session",
        crate::config::PoolMode::Transaction => "transaction",
    }
}

impl Shared {
    /// Services of the connected clients, by (user, database).
    fn services_by_login(&self) -> BTreeMap<(String, String), BTreeSet<String>> {
        let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for c in self.clients.lock().values() {
            out.entry((c.user.clone(), c.database.clone()))
                .or_default()
                .insert(c.service.clone());
        }
        out
    }
}

impl AdminState for Shared {
    fn pools(&self) -> Vec<PoolRow> {
        let config = self.config();
        let services = self.services_by_login();
        self.pools
            .snapshot()
            .into_iter()
            .map(|pool| {
                let login = (pool.key.user.clone(), pool.key.database.clone());
                let in_use = services.get(&login);
                let (service, mode) = match in_use {
                    Some(names) if !names.is_empty() => {
                        let modes: BTreeSet<&str> = names
                            .iter()
                            .map(|s| pool_mode_name(config.pool_mode_of(s)))
                            .collect();
                        (
                            names.iter().cloned().collect::<Vec<_>>().join(","),
                            modes.into_iter().collect::<Vec<_>>().join(","),
                        )
                    }
                    _ => (String::new(), pool_mode_name(config.pool_mode).to_string()),
                };
                PoolRow {
                    user: pool.key.user.clone(),
                    database: pool.key.database.clone(),
                    service,
                    backend: pool.key.backend.clone(),
                    mode,
                    active: pool.active.load(Ordering::Relaxed),
                    idle: pool.idle_count(),
                    waiting: pool.waiting.load(Ordering::Relaxed),
                    max: pool.max_size(),
                }
            })
            .collect()
    }

    fn clients(&self) -> Vec<ClientRow> {
        let mut rows: Vec<ClientRow> = self
            .clients
            .lock()
            .iter()
            .map(|(id, c)| ClientRow {
                id: *id,
                user: c.user.clone(),
                database: c.database.clone(),
                service: c.service.clone(),
                addr: c.addr.clone(),
                state: if c.backend.is_some() {
                    "active"
                } else {
                    "idle"
                }
                .to_string(),
                backend: c.backend.clone(),
                connected_at: c.connected_at,
            })
            .collect();
        rows.sort_by_key(|r| r.id);
        rows
    }

    fn servers(&self) -> Vec<ServerRow> {
        let mut rows = Vec::new();
        for pool in self.pools.snapshot() {
            let active = pool.active.load(Ordering::Relaxed);
            let idle = pool.idle_count();
            let states =
                std::iter::repeat_n("active", active).chain(std::iter::repeat_n("idle", idle));
            for state in states {
                rows.push(ServerRow {
                    backend: pool.key.backend.clone(),
                    user: pool.key.user.clone(),
                    database: pool.key.database.clone(),
                    state: state.to_string(),
                    pid: None,
                    connected_at: None,
                });
            }
        }
        rows
    }

    fn stats(&self) -> Vec<StatsRow> {
        let config = self.config();
        let counters: BTreeMap<String, Arc<crate::state::ServiceStats>> = self
            .stats
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let names: BTreeSet<&String> = config.services.keys().chain(counters.keys()).collect();
        names
            .into_iter()
            .map(|name| {
                let (primary, replica, errors, total_us) = match counters.get(name) {
                    Some(s) => (
                        s.primary.load(Ordering::Relaxed),
                        s.replica.load(Ordering::Relaxed),
                        s.errors.load(Ordering::Relaxed),
                        s.total_us.load(Ordering::Relaxed),
                    ),
                    None => (0, 0, 0, 0),
                };
                let queries = primary + replica;
                StatsRow {
                    service: name.clone(),
                    queries_primary: primary,
                    queries_replica: replica,
                    errors,
                    avg_us: total_us.checked_div(queries).unwrap_or(0),
                }
            })
            .collect()
    }

    fn topology(&self) -> Arc<TopologySnapshot> {
        self.topology.snapshot()
    }

    fn config(&self) -> Arc<ProxyConfig> {
        Shared::config(self)
    }

    fn reload(&self) -> Result<(), ProxyError> {
        Shared::reload(self)
    }

    fn pause(&self, paused: bool) {
        let was = self.paused.send_replace(paused);
        if was != paused {
            tracing::info!(paused, "admin console changed the pause state");
        }
    }
}
