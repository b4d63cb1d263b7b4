//! Sending a unit to its backend and relaying the answer.
//!
//! Simple units (Query, FunctionCall) are relayed message by message up to
//! ReadyForQuery. Extended units follow their [`Expect`] queue: each
//! response pops the entry it answers; swallowed entries are not
//! forwarded, synthetic ones are written when they reach the head; an
//! ErrorResponse drops every entry up to the Sync, since the server skips
//! those messages. A unit that ended with Flush is done when its queue is
//! empty; the connection stays held until a later Sync.
//!
//! COPY FROM STDIN: on CopyInResponse the relay pumps the client's
//! CopyData to the backend until CopyDone or CopyFail. Syncs the client
//! sent before the copy began are ignored by the server in copy mode, so
//! their entries leave the queue. In the extended protocol the server then
//! holds the COPY's CommandComplete until the client's next Sync, so the
//! rest of the queue is kept (`leftover`) for the unit that brings it.
//!
//! Output to the client is batched: a response is written when the
//! backend has nothing more buffered, so a result set of many rows costs
//! few writes.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::unit::{Encoded, Expect, UnitClass};
use super::Session;
use crate::error::ProxyError;
use crate::pool::ServerConn;
use crate::wire::Frame;

/// Why an exchange stopped.
#[derive(Debug)]
pub enum RelayError {
    /// The client is gone or broke the protocol: end the session.
    Client(ProxyError),
    /// The backend failed; `forwarded` says whether the client already
    /// received part of the answer.
    Backend { error: ProxyError, forwarded: bool },
}

const FLUSH_AT: usize = 32 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin + Send> Session<S> {
    /// Sends `unit` on the held connection and relays the answer.
    pub(super) async fn exchange(
        &mut self,
        unit: &[Frame],
        class: &UnitClass,
    ) -> Result<(), RelayError> {
        self.announce_backend();
        let backend = |error| RelayError::Backend {
            error,
            forwarded: false,
        };
        self.sync_settings().await.map_err(backend)?;
        let simple = unit.len() == 1 && matches!(unit[0].tag(), b'Q' | b'F');
        let encoded = if simple {
            let mut e = Encoded::default();
            e.bytes.extend_from_slice(unit[0].raw());
            e.synced = true;
            e
        } else {
            let Some(held) = self.held.as_mut() else {
                return Err(backend(ProxyError::Protocol("no connection".into())));
            };
            self.statements
                .encode(unit, held.conn(), &self.shared.cache)
                .map_err(RelayError::Client)?
        };
        self.unit_finished = false;
        if !encoded.bytes.is_empty() {
            self.conn().send(&encoded.bytes).await.map_err(backend)?;
        }
        let error_seen = if simple {
            self.relay_simple().await?
        } else {
            self.relay_extended(encoded).await?
        };
        if !error_seen {
            self.apply_effects(class);
        }
        Ok(())
    }

    fn conn(&mut self) -> &mut ServerConn {
        match self.held.as_mut() {
            Some(c) => c.conn(),
            None => unreachable!("exchange runs with a held connection"),
        }
    }

    /// Replays the client's settings when the connection holds others.
    async fn sync_settings(&mut self) -> Result<(), ProxyError> {
        let hash = self.settings.hash();
        let conn = self.conn();
        if conn.settings_hash == hash || conn.status != b'I' {
            return Ok(());
        }
        let sql = self.settings.replay_sql();
        let conn = self.conn();
        if let Some(error) = conn.run_discarding(&sql).await? {
            tracing::warn!(%error, "a client setting was refused by the backend");
        }
        conn.settings_hash = hash;
        Ok(())
    }

    /// Relays up to ReadyForQuery; returns whether an error was relayed.
    async fn relay_simple(&mut self) -> Result<bool, RelayError> {
        let mut forwarded = false;
        let mut error_seen = false;
        loop {
            let frame = self.recv_backend(forwarded).await?;
            match frame.tag() {
                b'Z' => {
                    self.finish(&frame);
                    self.out.extend_from_slice(frame.raw());
                    self.flush_client().await?;
                    return Ok(error_seen);
                }
                b'E' => error_seen = true,
                b'G' => {
                    self.out.extend_from_slice(frame.raw());
                    self.flush_client().await?;
                    forwarded = true;
                    self.pump_copy_in().await?;
                    continue;
                }
                _ => {}
            }
            self.out.extend_from_slice(frame.raw());
            forwarded = true;
            self.maybe_flush().await?;
        }
    }

    /// Relays an extended unit by its queue; returns whether an error was
    /// relayed.
    async fn relay_extended(&mut self, encoded: Encoded) -> Result<bool, RelayError> {
        // Responses still owed from an unfinished unit come first.
        let mut queue = std::mem::take(&mut self.leftover);
        queue.extend(encoded.expect);
        let mut forwarded = false;
        let mut error_seen = false;
        loop {
            while let Some(Expect::Synthetic(bytes)) = queue.front() {
                self.out.extend_from_slice(bytes);
                queue.pop_front();
                forwarded = true;
            }
            if queue.is_empty() {
                self.flush_client().await?;
                return Ok(error_seen);
            }
            let frame = self.recv_backend(forwarded).await?;
            let tag = frame.tag();
            tracing::trace!(tag = %(tag as char), queue = ?queue, "backend message");
            let mut forward = true;
            match tag {
                b'1' => {
                    if let Some(Expect::Parse { swallow, .. }) = queue.pop_front() {
                        forward = !swallow;
                    } else {
                        return Err(self.desync("ParseComplete"));
                    }
                }
                b'2' => self.pop_expected(&mut queue, |e| *e == Expect::Bind, "BindComplete")?,
                b'3' => self.pop_expected(&mut queue, |e| *e == Expect::Close, "CloseComplete")?,
                // A RowDescription may also precede rows of an Execute.
                b'T' | b'n' if queue.front() == Some(&Expect::Describe) => {
                    queue.pop_front();
                }
                b'C' | b'I' | b's' => {
                    self.pop_expected(&mut queue, |e| *e == Expect::Execute, "CommandComplete")?
                }
                b'E' => {
                    error_seen = true;
                    self.drop_until_sync(&mut queue);
                }
                b'Z' => {
                    if queue.pop_front() != Some(Expect::Sync) {
                        return Err(self.desync("ReadyForQuery"));
                    }
                    self.finish(&frame);
                }
                b'G' => {
                    queue.retain(|e| *e != Expect::Sync);
                    self.out.extend_from_slice(frame.raw());
                    self.flush_client().await?;
                    self.pump_copy_in().await?;
                    // The server completes the COPY but, in the extended
                    // protocol, flushes its CommandComplete only at the
                    // client's next Sync or Flush: wait for that unit.
                    self.leftover = queue;
                    return Ok(error_seen);
                }
                _ => {}
            }
            if forward {
                self.out.extend_from_slice(frame.raw());
                forwarded = true;
            }
            self.maybe_flush().await?;
        }
    }

    fn pop_expected(
        &mut self,
        queue: &mut std::collections::VecDeque<Expect>,
        want: impl Fn(&Expect) -> bool,
        what: &str,
    ) -> Result<(), RelayError> {
        match queue.front() {
            Some(e) if want(e) => {
                queue.pop_front();
                Ok(())
            }
            _ => Err(self.desync(what)),
        }
    }

    /// After an error the server skips to Sync: so do our expectations.
    fn drop_until_sync(&mut self, queue: &mut std::collections::VecDeque<Expect>) {
        while let Some(front) = queue.front() {
            if *front == Expect::Sync {
                break;
            }
            if let Some(Expect::Parse {
                prepared,
                client_name,
                ..
            }) = queue.pop_front()
            {
                if let Some(name) = prepared {
                    self.conn().prepared.remove(&name);
                }
                self.statements.parse_failed(client_name.as_deref());
            }
        }
    }

    fn desync(&mut self, what: &str) -> RelayError {
        self.conn().broken = true;
        RelayError::Client(ProxyError::fatal(
            "08P01",
            format!("proxy lost protocol synchronisation with the server at {what}"),
        ))
    }

    /// ReadyForQuery: the unit is complete and the status is known.
    fn finish(&mut self, frame: &Frame) {
        let status = frame.body().first().copied().unwrap_or(b'I');
        self.status = status;
        self.unit_finished = true;
        self.conn().status = status;
    }

    async fn recv_backend(&mut self, forwarded: bool) -> Result<Frame, RelayError> {
        match self.conn().recv().await {
            Ok(frame) => Ok(frame),
            Err(error) => {
                // Give the client what it already has before reporting.
                let _ = self.flush_client().await;
                Err(RelayError::Backend { error, forwarded })
            }
        }
    }

    /// COPY FROM STDIN: client CopyData to the backend until CopyDone or
    /// CopyFail (or any other message, which the server treats as an error).
    async fn pump_copy_in(&mut self) -> Result<(), RelayError> {
        let mut chunk = bytes::BytesMut::new();
        loop {
            let frame = match self.client.next().await {
                Ok(Some(f)) => f,
                Ok(None) => {
                    return Err(RelayError::Client(ProxyError::Protocol(
                        "client disconnected during COPY".into(),
                    )))
                }
                Err(e) => return Err(RelayError::Client(e)),
            };
            let tag = frame.tag();
            chunk.extend_from_slice(frame.raw());
            let done = !matches!(tag, b'd' | b'S' | b'H');
            if done || !self.client.has_buffered_frame() || chunk.len() >= FLUSH_AT {
                let sent = self.conn().send(&chunk).await;
                chunk.clear();
                sent.map_err(|error| RelayError::Backend {
                    error,
                    forwarded: true,
                })?;
            }
            if done {
                return Ok(());
            }
        }
    }

    async fn maybe_flush(&mut self) -> Result<(), RelayError> {
        if self.out.len() >= FLUSH_AT || !self.conn().has_buffered() {
            self.flush_client().await?;
        }
        Ok(())
    }

    async fn flush_client(&mut self) -> Result<(), RelayError> {
        if self.out.is_empty() {
            return Ok(());
        }
        let result = self.writer.write_all(&self.out).await;
        self.out.clear();
        result.map_err(|e| RelayError::Client(ProxyError::Io(e)))
    }
}
