//! Multiplexed reads: many clients' simple read queries pipelined on a
//! few backend connections (`pool.multiplex_lanes`, off by default).
//!
//! Without it, every statement costs the proxy two sends and two receives
//! and wakes a PostgreSQL backend once; on a small machine those wake-ups
//! and context switches, not the proxy's own code, are most of the cost.
//! A *lane* is one task per (pool, lane number) that takes requests from
//! many sessions over a channel, checks a connection out of the pool while
//! it has work, writes every request queued at that moment in one send,
//! and hands each client its answer (the backend's bytes, verbatim) as it
//! arrives. Sessions fill the lanes in order rather than spreading over
//! them ([`submit`]): the deeper one lane's pipeline, the fewer sends and
//! backend wake-ups per statement; the next lane takes work only when
//! the first is deep. PostgreSQL answers simple Queries strictly in order, each with
//! its own ReadyForQuery, and an error in one Query does not affect the
//! next, so the answers are cut apart at ReadyForQuery.
//!
//! Only units that cannot change the connection's state come here: one
//! simple Query classified as a read, with no transaction control, no
//! session effect and no hint, outside a transaction (the session checks).
//! A request carries the client's settings hash; when the connection
//! holds other settings, the lane pipelines the client's `RESET ALL; SET
//! ...` first and discards its answer.
//!
//! Invariants: answers reach clients in request order; a request whose
//! client has received nothing yet when the backend fails is reported as
//! not forwarded (the session retries it on the normal path); a
//! connection that reports anything but idle after a ReadyForQuery, or
//! fails, is closed, never pooled. A cancel reaches the backend only while
//! the client's request is the one the backend is running (the head of the
//! lane) and nothing is pipelined behind it, so it cannot land on another
//! client's statement. Head-of-line blocking is bounded: a session uses a lane only when
//! its queue is short and its head has not been running long, else the
//! normal checkout.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::mpsc;

use super::cancel::{BackendKey, CancelSlot};
use super::{Pool, Pools};
use crate::error::ProxyError;

/// Requests in flight per lane before a session takes the normal path.
const MAX_DEPTH: usize = 32;
/// A lane whose head has run longer than this gets no new requests.
const SLOW_HEAD: Duration = Duration::from_millis(2);
/// Answer bytes buffered for one client before they are handed over.
const CHUNK: usize = 32 * 1024;

/// What a lane tells a session about its request.
#[derive(Debug)]
pub enum Reply {
    /// Bytes of the answer, to write to the client as they are.
    Chunk(Bytes),
    /// The answer ended with this ReadyForQuery: `last` holds the answer's
    /// bytes not sent as chunks yet (including the ReadyForQuery), so a
    /// short answer is one message; `error` says whether an ErrorResponse
    /// was in the answer.
    Done {
        status: u8,
        error: bool,
        last: Bytes,
    },
    /// The backend failed; `forwarded`: some chunk was already sent.
    Failed { error: ProxyError, forwarded: bool },
}

/// One client request.
pub struct Request {
    /// The Query message as the client sent it.
    pub query: Bytes,
    pub settings_hash: u64,
    /// `RESET ALL; SET ...` for a connection holding other settings.
    pub settings_sql: Option<Arc<str>>,
    pub reply: mpsc::Sender<Reply>,
    pub cancel: CancelSlot,
}

#[derive(Debug, Default)]
struct LaneState {
    depth: usize,
    head_since: Option<Instant>,
}

/// A session's handle on one lane.
#[derive(Debug)]
pub struct Lane {
    tx: mpsc::UnboundedSender<Request>,
    state: Arc<Mutex<LaneState>>,
}

impl Lane {
    /// Starts the lane's task for `pool` (backend at `addr`).
    pub fn spawn(
        pools: Arc<Pools>,
        pool: Arc<Pool>,
        addr: String,
        password: Option<String>,
    ) -> Lane {
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(LaneState::default()));
        let worker = Worker {
            pools,
            pool,
            addr,
            password,
            state: state.clone(),
        };
        tokio::spawn(worker.run(rx));
        Lane { tx, state }
    }

    /// Whether a new request would wait little here; the queue depth.
    fn load(&self) -> Option<usize> {
        let s = self.state.lock();
        if s.depth >= MAX_DEPTH || s.head_since.is_some_and(|t| t.elapsed() > SLOW_HEAD) {
            return None;
        }
        Some(s.depth)
    }

    /// Queues a request; gives it back when the lane's task is gone.
    fn submit(&self, request: Request) -> Result<(), Request> {
        self.state.lock().depth += 1;
        self.tx.send(request).map_err(|e| {
            self.state.lock().depth -= 1;
            e.0
        })
    }
}

/// Submits `request` to a usable lane; gives it back when none is usable
/// (the session then takes the normal path).
///
/// Lanes are filled in order, not balanced: the first lane with fewer
/// than `pack_depth` requests (`pool.multiplex_pack_depth`) takes it, and only when every lane has
/// that many does the least loaded one. A deeper pipeline on one
/// connection is what saves the work: the backend reads a whole batch in
/// one wake-up and the lane sends it in one write, so spreading a
/// moderate load over all lanes (shallow batches, every backend woken
/// for each) would cost more CPU per statement on every side.
pub fn submit(lanes: &[Lane], request: Request, pack_depth: usize) -> Result<(), Request> {
    let mut best: Option<(usize, &Lane)> = None;
    for lane in lanes {
        let Some(depth) = lane.load() else { continue };
        if depth < pack_depth {
            return lane.submit(request);
        }
        if best.is_none_or(|(d, _)| depth < d) {
            best = Some((depth, lane));
        }
    }
    match best {
        Some((_, lane)) => lane.submit(request),
        None => Err(request),
    }
}

/// One request on the wire.
struct InFlight {
    /// `None`: the lane's own settings replay, answer discarded.
    request: Option<Request>,
    out: BytesMut,
    forwarded: bool,
    error: bool,
}

struct Worker {
    pools: Arc<Pools>,
    pool: Arc<Pool>,
    addr: String,
    password: Option<String>,
    state: Arc<Mutex<LaneState>>,
}

impl Worker {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = rx.recv().await {
            let mut conn = match self
                .pools
                .acquire_in(&self.pool, &self.addr, self.password.as_deref())
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    self.fail_one(first, &e).await;
                    while let Ok(r) = rx.try_recv() {
                        self.fail_one(r, &e).await;
                    }
                    continue;
                }
            };
            let mut inflight = VecDeque::new();
            let mut out = BytesMut::new();
            self.queue(first, conn.conn(), &mut inflight, &mut out);
            if let Err(e) = self
                .drain_and_send(&mut rx, &mut conn, &mut inflight, &mut out)
                .await
            {
                self.fail_all(&mut inflight, e).await;
                continue;
            }
            if let Err(e) = self
                .serve(&mut rx, &mut conn, &mut inflight, &mut out)
                .await
            {
                self.fail_all(&mut inflight, e).await;
            }
            // `conn` goes back to the pool here (or is closed if broken).
        }
    }

    /// Relays answers and sends new requests until the lane is idle.
    async fn serve(
        &self,
        rx: &mut mpsc::UnboundedReceiver<Request>,
        conn: &mut super::PooledConn,
        inflight: &mut VecDeque<InFlight>,
        out: &mut BytesMut,
    ) -> Result<(), ProxyError> {
        loop {
            if inflight.is_empty() {
                match rx.try_recv() {
                    Ok(r) => {
                        self.queue(r, conn.conn(), inflight, out);
                        self.drain_and_send(rx, conn, inflight, out).await?;
                        continue;
                    }
                    Err(_) => return Ok(()),
                }
            }
            tokio::select! {
                biased;
                frame = conn.conn().recv() => {
                    let frame = frame?;
                    self.on_frame(frame, conn, inflight).await?;
                }
                request = rx.recv(), if inflight.len() < MAX_DEPTH => {
                    let Some(r) = request else { return Ok(()) };
                    self.queue(r, conn.conn(), inflight, out);
                    self.drain_and_send(rx, conn, inflight, out).await?;
                }
            }
        }
    }

    /// Adds a request (and, when needed, the settings replay before it).
    fn queue(
        &self,
        r: Request,
        conn: &mut super::ServerConn,
        inflight: &mut VecDeque<InFlight>,
        out: &mut BytesMut,
    ) {
        if conn.settings_hash != r.settings_hash {
            let sql = r.settings_sql.as_deref().unwrap_or("RESET ALL");
            out.extend_from_slice(crate::wire::extended::query(sql).raw());
            conn.settings_hash = r.settings_hash;
            inflight.push_back(InFlight {
                request: None,
                out: BytesMut::new(),
                forwarded: false,
                error: false,
            });
        }
        out.extend_from_slice(&r.query);
        match inflight.front().map(|f| f.request.as_ref()) {
            None => self.set_head(Some(&r), true, &conn.cancel_key),
            // Something now runs after the head: a cancel of the head
            // could land on it, so the head can no longer be cancelled.
            Some(Some(head)) => head.cancel.set(None),
            Some(None) => {}
        }
        inflight.push_back(InFlight {
            request: Some(r),
            out: BytesMut::new(),
            forwarded: false,
            error: false,
        });
    }

    /// Everything queued right now goes out in one write.
    async fn drain_and_send(
        &self,
        rx: &mut mpsc::UnboundedReceiver<Request>,
        conn: &mut super::PooledConn,
        inflight: &mut VecDeque<InFlight>,
        out: &mut BytesMut,
    ) -> Result<(), ProxyError> {
        while inflight.len() < MAX_DEPTH {
            match rx.try_recv() {
                Ok(r) => self.queue(r, conn.conn(), inflight, out),
                Err(_) => break,
            }
        }
        let sent = conn.conn().send(out).await;
        out.clear();
        sent
    }

    async fn on_frame(
        &self,
        frame: crate::wire::Frame,
        conn: &mut super::PooledConn,
        inflight: &mut VecDeque<InFlight>,
    ) -> Result<(), ProxyError> {
        let Some(head) = inflight.front_mut() else {
            conn.conn().broken = true;
            return Err(ProxyError::Protocol(
                "backend sent a message no multiplexed request asked for".into(),
            ));
        };
        let tag = frame.tag();
        if head.request.is_some() {
            head.out.extend_from_slice(frame.raw());
        }
        match tag {
            b'E' => head.error = true,
            b'Z' => {
                let status = frame.body().first().copied().unwrap_or(b'I');
                conn.conn().status = status;
                let Some(done) = inflight.pop_front() else {
                    return Ok(());
                };
                self.finish(done, status).await;
                let key = conn.conn().cancel_key.clone();
                let alone = inflight.len() == 1;
                self.set_head(
                    inflight.front().and_then(|f| f.request.as_ref()),
                    alone,
                    &key,
                );
                if status != b'I' {
                    // A read that left a transaction open: the statements
                    // pipelined behind it ran in it. Close the connection
                    // (rolling it back); their answers are still right.
                    tracing::warn!("a multiplexed query left a transaction open; closing");
                    conn.conn().broken = true;
                    return Err(ProxyError::Protocol(
                        "multiplexed query left a transaction open".into(),
                    ));
                }
                return Ok(());
            }
            _ => {}
        }
        if head.out.len() >= CHUNK || !conn.conn().has_buffered() {
            flush_chunk(head).await;
        }
        Ok(())
    }

    async fn finish(&self, mut done: InFlight, status: u8) {
        let Some(request) = done.request.take() else {
            return;
        };
        self.dec_depth();
        request.cancel.set(None);
        let last = std::mem::take(&mut done.out).freeze();
        let _ = request
            .reply
            .send(Reply::Done {
                status,
                error: done.error,
                last,
            })
            .await;
    }

    /// Records the request the backend runs now (its age; and its cancel
    /// target when nothing is pipelined behind it, so that a cancel can
    /// only ever reach that client's own statement).
    fn set_head(&self, head: Option<&Request>, alone: bool, key: &BackendKey) {
        self.state.lock().head_since = head.map(|_| Instant::now());
        if let Some(r) = head.filter(|_| alone) {
            r.cancel.set(Some(key.clone()));
        }
    }

    fn dec_depth(&self) {
        let mut s = self.state.lock();
        s.depth = s.depth.saturating_sub(1);
    }

    async fn fail_one(&self, r: Request, e: &ProxyError) {
        self.dec_depth();
        let _ = r
            .reply
            .send(Reply::Failed {
                error: clone_error(e),
                forwarded: false,
            })
            .await;
    }

    async fn fail_all(&self, inflight: &mut VecDeque<InFlight>, e: ProxyError) {
        self.state.lock().head_since = None;
        for f in inflight.drain(..) {
            let Some(r) = f.request else { continue };
            self.dec_depth();
            r.cancel.set(None);
            let _ = r
                .reply
                .send(Reply::Failed {
                    error: clone_error(&e),
                    forwarded: f.forwarded,
                })
                .await;
        }
    }
}

async fn flush_chunk(head: &mut InFlight) {
    let Some(request) = head.request.as_ref() else {
        head.out.clear();
        return;
    };
    if head.out.is_empty() {
        return;
    }
    let chunk = std::mem::take(&mut head.out).freeze();
    head.forwarded = true;
    let _ = request.reply.send(Reply::Chunk(chunk)).await;
}

/// Errors are not `Clone` (io::Error); every waiter gets the same text.
fn clone_error(e: &ProxyError) -> ProxyError {
    match e {
        ProxyError::Backend { addr, message } => ProxyError::Backend {
            addr: addr.clone(),
            message: message.clone(),
        },
        other => ProxyError::Backend {
            addr: String::new(),
            message: other.to_string(),
        },
    }
}
