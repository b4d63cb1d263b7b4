//! After a unit: session state, read-your-writes, and giving the
//! connection back.
//!
//! When a unit succeeded its session effects (`SET`, `RESET`, pins) are
//! recorded, so that the next connection gets the client's settings
//! replayed. When the backend reports no open transaction the connection
//! returns to its pool (or stays kept, for a pinned session and for
//! session pooling on the primary); after a committed write, when some
//! replica could serve a stale read, the primary's WAL position becomes
//! the session's read-your-writes floor. At the end of a session a kept
//! connection goes back only after `server_reset_query` succeeded.
//!
//! Invariants: a connection is never released mid-transaction (status
//! `T`/`E`) or mid-batch; one that carries session state another client
//! must not inherit is reset or closed, never pooled as is.

use std::time::{Duration, Instant};

use rustydb_sql::classify::SessionEffect;
use tokio::io::{AsyncRead, AsyncWrite};

use super::unit::UnitClass;
use super::{parse_lsn, Session};
use crate::config::PoolMode;
use crate::error::{ProxyError, Result};
use crate::pool::PooledConn;
use crate::topology::Role;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// After a unit: record settings, read-your-writes LSN, and release
    /// or keep the connection.
    pub(super) async fn after_unit(&mut self, class: &UnitClass, started: Instant) -> Result<()> {
        let elapsed = started.elapsed();
        self.counters.latency.observe(elapsed.as_secs_f64());
        self.counters.stats.total_us.fetch_add(
            elapsed.as_micros() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        let Some(mut conn) = self.held.take() else {
            return Ok(());
        };
        if class.writes && conn.conn().status != b'I' {
            self.txn_wrote = true;
        }
        let finished = self.unit_finished;
        if !finished || conn.conn().status != b'I' {
            self.held = Some(conn);
            return Ok(());
        }
        if class.writes || self.txn_wrote {
            self.txn_wrote = false;
            self.note_commit_lsn(&mut conn).await;
        }
        let primary = self
            .shared
            .topology
            .snapshot()
            .get(conn.backend())
            .is_some_and(|b| b.role == Role::Primary);
        if self.pinned || (self.mode == PoolMode::Session && primary) {
            self.kept = Some(conn);
        }
        self.cancel.set_backend(None);
        // The admin console shows the client idle again.
        self.announced = 0;
        self.shared.set_client_backend(self.ctx.id, None);
        Ok(())
    }

    /// Read-your-writes: remember the primary's WAL position after a
    /// committed write, when some replica could otherwise serve a stale read.
    async fn note_commit_lsn(&mut self, conn: &mut PooledConn) {
        let config = self.shared.config();
        let wanted = config
            .services
            .get(&self.ctx.service)
            .and_then(|s| s.read_your_writes)
            .unwrap_or(config.routing.read_your_writes)
            || self.consistency().needs_commit_lsn();
        let topo = self.shared.topology.snapshot();
        if !wanted || !topo.backends.iter().any(|b| b.role == Role::Replica) {
            return;
        }
        match conn.conn().query_value("SELECT pg_current_wal_lsn()").await {
            Ok(Some(text)) => {
                if let Some(lsn) = parse_lsn(&text) {
                    self.min_lsn = Some(self.min_lsn.map_or(lsn, |m| m.max(lsn)));
                }
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(error = %e, "no commit LSN for read-your-writes"),
        }
    }

    pub(super) fn report_backend_failure(&self, e: &ProxyError) {
        self.shared
            .metrics
            .errors
            .with_label_values(&["backend"])
            .inc();
        if let ProxyError::Backend { addr, .. } = e {
            let topo = self.shared.topology.snapshot();
            if let Some(b) = topo.backends.iter().find(|b| &b.addr == addr) {
                self.shared.topology.report_failure(&b.id, &e.to_string());
            }
        }
    }

    /// Records the effects of a unit that succeeded.
    pub(super) fn apply_effects(&mut self, class: &UnitClass) {
        for effect in &class.effects {
            self.note_consistency_effect(effect);
            match effect {
                SessionEffect::Set { name, sql } => self.settings.set_sql(name, sql.clone()),
                SessionEffect::Reset { name } => {
                    if name.is_none() {
                        self.parallel = None;
                        self.consistency = None;
                        self.statements.forget_all();
                        if let Some(conn) = self.held.as_mut() {
                            conn.conn().prepared.clear();
                        }
                    }
                    self.settings.reset(name.as_deref());
                }
                SessionEffect::Pin => self.pinned = true,
            }
        }
        if let Some(conn) = self.held.as_mut() {
            conn.conn().settings_hash = self.settings.hash();
        }
    }

    /// At session end. A connection kept for the session (session
    /// pooling, pinned) may carry state another client must not inherit
    /// (temp tables, LISTEN, locks): it goes back only after
    /// `server_reset_query` succeeded, else it is closed.
    pub(super) async fn release_all(&mut self) {
        self.cancel.set_backend(None);
        self.held = None;
        let Some(mut kept) = self.kept.take() else {
            return;
        };
        let reset = self.shared.config().pool.server_reset_query.clone();
        let conn = kept.conn();
        if reset.is_empty() && self.pinned {
            conn.broken = true;
            return;
        }
        if !reset.is_empty() {
            let ran =
                tokio::time::timeout(Duration::from_secs(5), conn.run_discarding(&reset)).await;
            match ran {
                Ok(Ok(None)) => {
                    // DISCARD ALL also drops prepared statements and settings.
                    conn.prepared.clear();
                    conn.settings_hash = 0;
                }
                _ => conn.broken = true,
            }
        }
    }

    /// Registers the held connection as the target of cancel requests.
    pub(super) fn announce_backend(&mut self) {
        if let Some(conn) = self.held.as_ref().and_then(|c| c.get()) {
            self.cancel.set_backend(Some(conn.cancel_key.clone()));
            if conn.id != self.announced {
                self.announced = conn.id;
                let backend = conn.backend.clone();
                self.shared.set_client_backend(self.ctx.id, Some(&backend));
            }
        }
    }
}
