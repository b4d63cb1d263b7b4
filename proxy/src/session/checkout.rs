//! Choosing and checking out the connection for a unit.
//!
//! A unit runs on the connection the session already holds (inside a
//! transaction or an unfinished extended batch), on the kept one of a
//! pinned session, or on a fresh checkout: the unit's combined
//! classification is routed (`routing::Router`, counted once per route)
//! and a connection comes out of this client's pool for the chosen
//! backend. A failed connect reports the backend to the topology (which
//! bans it), so the retry of a read routes elsewhere.
//!
//! Invariants: a session connection kept for session pooling never
//! follows the primary to another node (it is closed, its state cannot
//! move); a new route waits (bounded) through a failover for a primary
//! rather than failing at once; `PAUSE` holds new routes, never a
//! running transaction.

use std::sync::Arc;
use std::time::Duration;

use rustydb_sql::classify::{Classification, Hint, Target};
use tokio::io::{AsyncRead, AsyncWrite};

use super::unit::UnitClass;
use super::{class_wants_primary, Session};
use crate::config::ProxyConfig;
use crate::error::{ProxyError, Result};
use crate::pool::{Pool, PoolKey, PooledConn};
use crate::routing::{RouteRequest, RouteTarget};

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// The connection for a unit: held, pinned/kept, or freshly routed.
    pub(super) async fn connection_for(&mut self, class: &UnitClass) -> Result<PooledConn> {
        if let Some(conn) = self.held.take() {
            return Ok(conn);
        }
        if self.pinned {
            return self.kept.take().ok_or_else(|| {
                ProxyError::fatal("08006", "the server connection of this session was lost")
            });
        }
        let (backend_id, label) = match self.routed.take() {
            Some(routed) => routed,
            None => self.route(class).await?,
        };
        if let Some(kept) = self.kept.take() {
            if kept.backend() == &backend_id {
                return Ok(kept);
            }
            if label == "primary" {
                // The primary moved (failover): the old session connection
                // is closed, never pooled with this session's state.
                let mut kept = kept;
                kept.conn().broken = true;
            } else {
                self.kept = Some(kept);
            }
        }
        let topo = self.shared.topology.snapshot();
        let addr = topo
            .get(&backend_id)
            .map(|b| b.addr.as_str())
            .ok_or_else(|| ProxyError::client("57P03", format!("backend {backend_id} is gone")))?;
        let pool = self.pool_for(&backend_id);
        match self
            .shared
            .pools
            .acquire_in(&pool, addr, self.backend_password.as_deref())
            .await
        {
            Ok(conn) => Ok(conn),
            Err(e @ ProxyError::Backend { .. }) => {
                self.shared
                    .topology
                    .report_failure(&backend_id, &e.to_string());
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Routes a unit to a backend (and counts the route).
    pub(super) async fn route(&mut self, class: &UnitClass) -> Result<(String, &'static str)> {
        self.wait_while_paused().await;
        let config = self.shared.config();
        let topo = self.shared.topology.snapshot();
        let owned;
        let route_class = match class.first.as_deref() {
            Some(first) if fits_unit(first, class) => first,
            _ => {
                owned = route_classification(class);
                &owned
            }
        };
        let consistency = self.consistency();
        let request = RouteRequest {
            service: &self.ctx.service,
            class: route_class,
            client_ip: self.ctx.peer,
            min_lsn: self.min_lsn,
            consistency,
        };
        let route = self
            .shared
            .router()
            .route(&request, &topo, self.shared.pools.as_ref());
        tracing::debug!(client = self.ctx.id, route = ?route.as_ref().map(|r| (&r.target, r.reason)), "routed");
        let (backend_id, label) = match route {
            Ok(route) => match route.target {
                RouteTarget::Replica(id) => (id, "replica"),
                RouteTarget::Primary => (self.primary_id(&config).await?, "primary"),
            },
            Err(e) if e.sqlstate() == "57P03" && class_wants_primary(class) => {
                (self.primary_id(&config).await?, "primary")
            }
            Err(e) => return Err(e),
        };
        let (metric, stat) = if label == "replica" {
            (&self.counters.replica, &self.counters.stats.replica)
        } else {
            (&self.counters.primary, &self.counters.stats.primary)
        };
        metric.inc();
        stat.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !class_wants_primary(class) {
            self.count_consistency_read(consistency, label);
        }
        Ok((backend_id, label))
    }

    /// This client's pool for a backend.
    pub(super) fn pool_for(&mut self, backend: &str) -> Arc<Pool> {
        if let Some(p) = self.pools.iter().find(|p| p.key.backend == backend) {
            return p.clone();
        }
        let key = PoolKey {
            user: self.ctx.user.clone(),
            database: self.ctx.database.clone(),
            backend: backend.to_string(),
        };
        let pool = self.shared.pools.pool(&key);
        self.pools.push(pool.clone());
        pool
    }

    /// The primary's id, waiting (bounded) through a failover.
    async fn primary_id(&self, config: &ProxyConfig) -> Result<String> {
        if let Some(p) = self.shared.topology.snapshot().primary() {
            return Ok(p.id.clone());
        }
        let wait = Duration::from_millis(config.pool.acquire_timeout_ms);
        self.shared
            .topology
            .wait_for(|t| t.primary().is_some(), wait)
            .await;
        self.shared
            .topology
            .snapshot()
            .primary()
            .map(|p| p.id.clone())
            .ok_or_else(|| ProxyError::client("57P03", "no primary is available"))
    }

    pub(super) async fn wait_while_paused(&self) {
        if !*self.shared.paused.borrow() {
            return;
        }
        let mut paused = self.shared.paused.subscribe();
        while *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The classification the router sees for a whole unit.
fn route_classification(class: &UnitClass) -> Classification {
    let target = if class.needs_primary || class.forced_primary {
        Target::Primary
    } else {
        Target::Replica
    };
    let mut c = class
        .first
        .as_deref()
        .cloned()
        .unwrap_or_else(|| rustydb_sql::classify::classify("SELECT 1"));
    c.target = target;
    if class.forced_primary {
        c.hint = Some(Hint::Primary);
    }
    c
}

/// Whether a unit's first statement already says what the unit needs.
fn fits_unit(first: &Classification, class: &UnitClass) -> bool {
    let wants_primary = class.needs_primary || class.forced_primary;
    (first.target == Target::Primary) == wants_primary
        && (!class.forced_primary || first.hint == Some(Hint::Primary) || !first.parsed)
}
