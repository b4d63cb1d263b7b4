//! The session's side of multiplexed reads (see [`crate::pool::mux`]).
//!
//! A unit qualifies when it is one simple Query classified as a read with
//! no transaction control, no session effect and no hint, and the session
//! holds no connection, is not pinned, is idle (`I`) and runs in
//! transaction mode with `pool.multiplex_lanes` above 0. The session
//! routes it as usual and, when some other statement is running on the
//! chosen pool at that moment, hands it to one of the pool's lanes, and
//! writes the answer's chunks to the client as they come. When every lane
//! is busy or slow, the unit takes the normal checkout (the route already
//! taken is reused, so it is counted once). A backend failure before any
//! byte reached the client is retried on the normal path, once, as any
//! read is.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::unit::UnitClass;
use super::{class_wants_primary, Session};
use crate::config::PoolMode;
use crate::error::{ProxyError, Result};
use crate::pool::mux::{self, Reply, Request};
use crate::wire::Frame;

/// How a multiplexed attempt ended.
pub(super) enum Outcome {
    /// The client has its answer.
    Answered,
    /// No lane took the unit: use the normal path.
    NotUsed,
    /// The backend failed before the client saw anything: normal path,
    /// counted as the one retry.
    Retry,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Whether `unit` may be pipelined with other clients' reads.
    pub(super) fn may_multiplex(&self, unit: &[Frame], class: &UnitClass) -> bool {
        self.lanes > 0
            && self.mode == PoolMode::Transaction
            && matches!(unit, [f] if f.tag() == b'Q')
            && self.held.is_none()
            && self.kept.is_none()
            && !self.pinned
            && self.status == b'I'
            && self.leftover.is_empty()
            && !class_wants_primary(class)
            && !class.writes
            && class.effects.is_empty()
            && class.begins.is_none()
            && class.first.as_deref().is_some_and(|c| {
                c.parsed && c.txn.is_none() && c.session.is_none() && c.hint.is_none()
            })
    }

    pub(super) async fn run_multiplexed(
        &mut self,
        query: &Frame,
        class: &UnitClass,
    ) -> Result<Outcome> {
        let routed = self.route(class).await?;
        let topo = self.shared.topology.snapshot();
        let Some(addr) = topo.get(&routed.0).map(|b| b.addr.as_str()) else {
            self.routed = Some(routed);
            return Ok(Outcome::NotUsed);
        };
        let pool = self.pool_for(&routed.0);
        // Nothing else runs on this pool: nobody to share a send with, and
        // the hop through a lane would only add latency (one client).
        if pool.active.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            self.routed = Some(routed);
            return Ok(Outcome::NotUsed);
        }
        let lanes = pool.lanes(
            self.lanes,
            &self.shared.pools,
            addr,
            self.backend_password.as_deref(),
        );
        let hash = self.settings.hash();
        let settings_sql = match &self.replay {
            _ if hash == 0 => None,
            Some((h, sql)) if *h == hash => Some(sql.clone()),
            _ => {
                let sql: Arc<str> = Arc::from(self.settings.replay_sql());
                self.replay = Some((hash, sql.clone()));
                Some(sql)
            }
        };
        let (tx, mut rx) = mpsc::channel(8);
        let request = Request {
            query: query.raw().clone(),
            settings_hash: hash,
            settings_sql,
            reply: tx,
            cancel: self.cancel.slot(),
        };
        if mux::submit(lanes, request, self.pack_depth).is_err() {
            self.routed = Some(routed);
            return Ok(Outcome::NotUsed);
        }
        self.unit_finished = false;
        loop {
            let reply = rx.recv().await.ok_or_else(|| ProxyError::Backend {
                addr: addr.to_string(),
                message: "the multiplexing lane stopped".into(),
            });
            match reply {
                Ok(Reply::Chunk(bytes)) => self.writer.write_all(&bytes).await?,
                Ok(Reply::Done { status, last, .. }) => {
                    if !last.is_empty() {
                        self.writer.write_all(&last).await?;
                    }
                    self.status = status;
                    self.unit_finished = true;
                    return Ok(Outcome::Answered);
                }
                Ok(Reply::Failed { error, forwarded }) => {
                    return self.lane_failed(error, forwarded)
                }
                Err(error) => return self.lane_failed(error, false),
            }
        }
    }

    fn lane_failed(&mut self, error: ProxyError, forwarded: bool) -> Result<Outcome> {
        self.report_backend_failure(&error);
        self.unit_finished = true;
        if forwarded {
            return Err(ProxyError::fatal(
                "08006",
                format!("server connection lost: {error}"),
            ));
        }
        tracing::info!(error = %error, "retrying a multiplexed read on the normal path");
        Ok(Outcome::Retry)
    }
}
