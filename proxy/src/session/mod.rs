//! One client session: read a unit, route it, relay the answer, repeat.
//!
//! After startup and authentication (`server.rs`) the session owns the
//! client socket. Its loop:
//!
//! 1. read client messages until a unit is complete (a Query; or
//!    extended-protocol messages up to Sync/Flush — see [`unit`]);
//! 2. pick the connection: the one already held (inside a transaction,
//!    an unfinished extended batch, or a pinned session), else route the
//!    unit (`routing::Router`) and check a connection out of the pool;
//! 3. bring the connection's settings up to the client's ([`settings`]);
//! 4. send the unit and relay the responses ([`relay`]) until the client
//!    is owed nothing more (ReadyForQuery, or all responses of a Flush);
//! 5. release the connection when the backend reports no open
//!    transaction, unless the session is pinned or in session pooling.
//!
//! Invariants: a transaction never changes backend (the connection is
//! held while ReadyForQuery says `T` or `E`); a unit that might write is
//! never sent to a replica; a failure of a backend is either retried
//! invisibly (a read that has sent nothing to the client yet, once) or
//! reported with `08006`, never swallowed.

mod consistency_hook;
mod fanout_hook;
mod multiplexed;
pub mod relay;
pub mod settings;
pub mod unit;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustydb_sql::classify::{Classification, Hint, SessionEffect, Target};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::config::{PoolMode, ProxyConfig};
use crate::error::{ProxyError, Result};
use crate::pool::cancel::CancelHandle;
use crate::pool::{Pool, PoolKey, PooledConn};
use crate::routing::{RouteRequest, RouteTarget};
use crate::state::{ServiceStats, Shared};
use crate::topology::Role;
use crate::wire::messages::{error_response, ready_for_query};
use crate::wire::{Frame, FrameReader};
use prometheus::{Histogram, IntCounter};
use settings::Settings;
use unit::{Statements, UnitClass};

/// Who the client is, fixed at startup.
#[derive(Debug, Clone)]
pub struct ClientContext {
    pub id: u64,
    pub user: String,
    pub database: String,
    pub service: String,
    pub peer: IpAddr,
    /// `rustydb.consistency` from the startup packet.
    pub consistency: Option<crate::routing::Consistency>,
}

/// Largest extended-protocol batch buffered before Sync.
const MAX_BATCH_BYTES: usize = 256 << 20;

/// A client session.
pub struct Session<S> {
    shared: Arc<Shared>,
    ctx: ClientContext,
    client: FrameReader<ReadHalf<S>>,
    writer: WriteHalf<S>,
    out: bytes::BytesMut,
    cancel: CancelHandle,
    settings: Settings,
    statements: Statements,
    /// The connection of the running transaction or unfinished batch.
    held: Option<PooledConn>,
    /// Session pooling / pinned session: the primary connection kept
    /// between transactions.
    kept: Option<PooledConn>,
    /// Temp tables, LISTEN, session locks...: everything stays on `kept`.
    pinned: bool,
    mode: PoolMode,
    /// Read-your-writes floor: the LSN of this client's last commit.
    min_lsn: Option<u64>,
    /// The current transaction changed data (for read-your-writes).
    txn_wrote: bool,
    /// Status last reported to the client.
    status: u8,
    /// A proxy-side error in an unsynced unit: skip to Sync.
    skip_to_sync: bool,
    batch: Vec<Frame>,
    batch_bytes: usize,
    /// The last unit got its ReadyForQuery.
    unit_finished: bool,
    /// Responses still owed by the held connection for an unfinished
    /// extended unit (see `relay`).
    leftover: std::collections::VecDeque<unit::Expect>,
    counters: Counters,
    /// Pools this client used, so a checkout skips the shared map.
    pools: Vec<Arc<Pool>>,
    /// Password for backend logins (from the authenticator at startup).
    backend_password: Option<String>,
    /// The connection last shown to the admin console for this client.
    announced: u64,
    /// `SET parallel_degree` of this session (`None`: the service's).
    parallel: Option<crate::fanout::ParallelDegree>,
    /// `SET rustydb.consistency` of this session (`None`: startup's or
    /// the service's; see `consistency_hook`).
    consistency: Option<crate::routing::Consistency>,
    /// Multiplexing lanes per pool (0: off; transaction mode only).
    lanes: usize,
    /// A route already taken (and counted) for the next checkout.
    routed: Option<(String, &'static str)>,
    /// `replay_sql` of the settings with this hash, for lanes.
    replay: Option<(u64, Arc<str>)>,
}

/// Metric handles resolved once per session (label lookups are not free).
struct Counters {
    primary: IntCounter,
    replica: IntCounter,
    latency: Histogram,
    stats: Arc<ServiceStats>,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    pub fn new(
        shared: Arc<Shared>,
        ctx: ClientContext,
        stream: S,
        cancel: CancelHandle,
        settings: Settings,
    ) -> Self {
        let config = shared.config();
        let (read, writer) = tokio::io::split(stream);
        let mode = config.pool_mode_of(&ctx.service);
        Session {
            lanes: if mode == PoolMode::Transaction {
                config.pool.multiplex_lanes
            } else {
                0
            },
            routed: None,
            replay: None,
            mode,
            client: FrameReader::with_chunk(read, config.limits.max_message_bytes, 2048),
            writer,
            out: bytes::BytesMut::new(),
            cancel,
            settings,
            statements: Statements::default(),
            held: None,
            kept: None,
            pinned: false,
            min_lsn: None,
            txn_wrote: false,
            status: b'I',
            skip_to_sync: false,
            batch: Vec::new(),
            batch_bytes: 0,
            unit_finished: true,
            leftover: Default::default(),
            counters: Counters {
                primary: shared
                    .metrics
                    .queries
                    .with_label_values(&[ctx.service.as_str(), "primary"]),
                replica: shared
                    .metrics
                    .queries
                    .with_label_values(&[ctx.service.as_str(), "replica"]),
                latency: shared
                    .metrics
                    .query_seconds
                    .with_label_values(&[ctx.service.as_str()]),
                stats: shared.service_stats(&ctx.service),
            },
            pools: Vec::new(),
            backend_password: shared.auth().backend_password(&ctx.user),
            announced: 0,
            parallel: None,
            consistency: None,
            shared,
            ctx,
        }
    }

    /// Runs until the client leaves; errors that end the session are
    /// reported to the client first when it can still hear them.
    pub async fn run(mut self) -> Result<()> {
        let result = self.serve().await;
        if let Err(e) = &result {
            if !matches!(e, ProxyError::Io(_)) {
                let msg = error_response("FATAL", e.sqlstate(), &e.to_string());
                let _ = self.writer.write_all(&msg).await;
            }
        }
        let _ = self.writer.shutdown().await;
        self.release_all().await;
        result
    }

    async fn serve(&mut self) -> Result<()> {
        loop {
            let Some(frame) = self.next_client_frame().await? else {
                return Ok(());
            };
            match frame.tag() {
                b'Q' | b'F' => {
                    self.skip_to_sync = false;
                    self.run_unit(vec![frame]).await?;
                }
                b'P' | b'B' | b'D' | b'E' | b'C' => {
                    if self.skip_to_sync {
                        continue;
                    }
                    self.batch_bytes += frame.raw().len();
                    if self.batch_bytes > MAX_BATCH_BYTES {
                        return Err(ProxyError::fatal(
                            "54000",
                            "extended-protocol batch too large before Sync",
                        ));
                    }
                    self.batch.push(frame);
                }
                b'S' | b'H' => {
                    let sync = frame.tag() == b'S';
                    if self.skip_to_sync {
                        if sync {
                            self.skip_to_sync = false;
                            self.answer_sync_without_backend().await?;
                        }
                        continue;
                    }
                    self.batch.push(frame);
                    let unit = std::mem::take(&mut self.batch);
                    self.batch_bytes = 0;
                    self.run_unit(unit).await?;
                }
                b'X' => return Ok(()),
                // Copy messages outside COPY are dropped, as the server does.
                b'd' | b'c' | b'f' => {}
                other => {
                    return Err(ProxyError::Protocol(format!(
                        "invalid frontend message type {}",
                        other
                    )))
                }
            }
        }
    }

    /// The next client message; while a kept connection sits idle, its
    /// asynchronous messages (NOTIFY, notices) are relayed meanwhile.
    async fn next_client_frame(&mut self) -> Result<Option<Frame>> {
        loop {
            let Some(kept) = self.kept.as_mut() else {
                return self.client.next().await;
            };
            tokio::select! {
                frame = self.client.next() => return frame,
                message = kept.conn().recv() => {
                    match message {
                        Ok(frame) => {
                            self.writer.write_all(frame.raw()).await?;
                        }
                        Err(e) => {
                            self.report_backend_failure(&e);
                            self.kept = None;
                            if self.pinned {
                                return Err(ProxyError::fatal(
                                    "08006",
                                    "the server connection of this session was lost",
                                ));
                            }
                        }
                    }
                }
            }
        }
    }

    /// A Sync after a proxy-side error: the client is owed ReadyForQuery.
    async fn answer_sync_without_backend(&mut self) -> Result<()> {
        if self.held.is_some() {
            let unit = vec![Frame::new(b'S', &[])];
            return self.run_unit(unit).await;
        }
        self.writer.write_all(&ready_for_query(self.status)).await?;
        Ok(())
    }

    /// Routes, sends and relays one unit, retrying a failed read once.
    async fn run_unit(&mut self, unit: Vec<Frame>) -> Result<()> {
        let started = Instant::now();
        if let [frame] = unit.as_slice() {
            if frame.tag() == b'Q'
                && (self.try_consistency_command(frame).await? || self.try_fanout(frame).await?)
            {
                self.counters
                    .latency
                    .observe(started.elapsed().as_secs_f64());
                return Ok(());
            }
        }
        let class = match self.statements.classify(&unit, &self.shared.cache) {
            Ok(c) => c,
            Err(e) if !e.is_fatal() => return self.fail_unit(&unit, e).await,
            Err(e) => return Err(e),
        };
        let mut retried = false;
        if self.may_multiplex(&unit, &class) {
            match self.run_multiplexed(&unit[0], &class).await? {
                multiplexed::Outcome::Answered => return self.after_unit(&class, started).await,
                multiplexed::Outcome::NotUsed => {}
                multiplexed::Outcome::Retry => retried = true,
            }
        }
        loop {
            let fresh = self.held.is_none();
            let read = !class_wants_primary(&class);
            let conn = match self.connection_for(&class).await {
                Ok(c) => c,
                // The backend was banned when the connection failed: a
                // read goes once more to whatever the router picks now.
                Err(ProxyError::Backend { .. }) if read && fresh && !retried => {
                    retried = true;
                    continue;
                }
                Err(e @ ProxyError::Backend { .. }) => {
                    let e = ProxyError::client("08006", e.to_string());
                    return self.fail_unit(&unit, e).await;
                }
                Err(e) if !e.is_fatal() => return self.fail_unit(&unit, e).await,
                Err(e) => return Err(e),
            };
            self.held = Some(conn);
            match self.exchange(&unit, &class).await {
                Ok(()) => break,
                Err(relay::RelayError::Client(e)) => return Err(e),
                Err(relay::RelayError::Backend { error, forwarded }) => {
                    self.report_backend_failure(&error);
                    let was_in_txn = !fresh;
                    self.held = None;
                    self.leftover.clear();
                    if read && fresh && !forwarded && !retried {
                        retried = true;
                        tracing::info!(error = %error, "retrying a read on another backend");
                        continue;
                    }
                    if was_in_txn || forwarded {
                        return Err(ProxyError::fatal(
                            "08006",
                            format!("server connection lost: {error}"),
                        ));
                    }
                    return self
                        .fail_unit(&unit, ProxyError::client("08006", error.to_string()))
                        .await;
                }
            }
        }
        self.after_unit(&class, started).await
    }

    /// Reports a proxy-side error for a unit that never reached a backend.
    async fn fail_unit(&mut self, unit: &[Frame], e: ProxyError) -> Result<()> {
        self.shared
            .metrics
            .errors
            .with_label_values(&["client"])
            .inc();
        let msg = error_response("ERROR", e.sqlstate(), &e.to_string());
        self.writer.write_all(&msg).await?;
        let synced = unit
            .last()
            .is_some_and(|f| matches!(f.tag(), b'S' | b'Q' | b'F'));
        if synced {
            self.writer.write_all(&ready_for_query(self.status)).await?;
        } else {
            self.skip_to_sync = true;
        }
        Ok(())
    }

    /// The connection for a unit: held, pinned/kept, or freshly routed.
    async fn connection_for(&mut self, class: &UnitClass) -> Result<PooledConn> {
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
    async fn route(&mut self, class: &UnitClass) -> Result<(String, &'static str)> {
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
        let request = RouteRequest {
            service: &self.ctx.service,
            class: route_class,
            client_ip: self.ctx.peer,
            min_lsn: self.min_lsn,
            consistency: self.consistency(),
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
            self.count_consistency_read(label);
        }
        Ok((backend_id, label))
    }

    /// This client's pool for a backend.
    fn pool_for(&mut self, backend: &str) -> Arc<Pool> {
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

    async fn wait_while_paused(&self) {
        let mut paused = self.shared.paused.subscribe();
        while *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return;
            }
        }
    }

    /// After a unit: record settings, read-your-writes LSN, and release
    /// or keep the connection.
    async fn after_unit(&mut self, class: &UnitClass, started: Instant) -> Result<()> {
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

    fn report_backend_failure(&self, e: &ProxyError) {
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
    fn apply_effects(&mut self, class: &UnitClass) {
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
    async fn release_all(&mut self) {
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
    fn announce_backend(&mut self) {
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

fn class_wants_primary(class: &UnitClass) -> bool {
    class.needs_primary || class.forced_primary
}

/// `X/Y` (hex halves) to a number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some((hi << 32) | lo)
}
