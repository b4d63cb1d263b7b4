//! One client session: read a unit, route it, relay the answer, repeat.
//!
//! After startup and authentication (`server.rs`) the session owns the
//! client socket. Its loop:
//!
//! 1. read client messages until a unit is complete (a Query; or
//!    extended-protocol messages up to Sync/Flush — see [`unit`]);
//! 2. pick the connection: the one already held (inside a transaction,
//!    an unfinished extended batch, or a pinned session), else route the
//!    unit (`routing::Router`) and check a connection out of the pool
//!    (`checkout`); a plain read may instead share a multiplexing lane
//!    (`multiplexed`);
//! 3. bring the connection's settings up to the client's ([`settings`]);
//! 4. send the unit and relay the responses ([`relay`]) until the client
//!    is owed nothing more (ReadyForQuery, or all responses of a Flush);
//! 5. record the unit's effects and release the connection when the
//!    backend reports no open transaction, unless the session is pinned
//!    or in session pooling (`release`).
//!
//! Invariants: a transaction never changes backend (the connection is
//! held while ReadyForQuery says `T` or `E`); a unit that might write is
//! never sent to a replica; a failure of a backend is either retried
//! invisibly (a read that has sent nothing to the client yet, once) or
//! reported with `08006`, never swallowed.

mod checkout;
mod consistency_hook;
mod fanout_hook;
mod multiplexed;
pub mod relay;
mod release;
pub mod settings;
pub mod unit;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::config::PoolMode;
use crate::error::{ProxyError, Result};
use crate::pool::cancel::CancelHandle;
use crate::pool::{Pool, PooledConn};
use crate::state::{ServiceStats, Shared};
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
    /// `pool.multiplex_pack_depth`: lane depth before the next lane.
    pack_depth: usize,
    /// A route already taken (and counted) for the next checkout.
    routed: Option<(String, &'static str)>,
    /// `replay_sql` of the settings with this hash, for lanes.
    replay: Option<(u64, Arc<str>)>,
    /// `rustydb_proxy_consistency_reads_total` handles by (level, route).
    consistency_reads: Vec<(crate::routing::Consistency, &'static str, IntCounter)>,
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
            pack_depth: config.pool.multiplex_pack_depth.max(1),
            lanes: if mode == PoolMode::Transaction {
                config.pool.multiplex_lanes
            } else {
                0
            },
            routed: None,
            replay: None,
            consistency_reads: Vec::new(),
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
}

pub(super) fn class_wants_primary(class: &UnitClass) -> bool {
    class.needs_primary || class.forced_primary
}

/// `X/Y` (hex halves) to a number.
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some((hi << 32) | lo)
}
