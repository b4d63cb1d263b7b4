//! One authenticated connection: the message loop.
//!
//! After startup the loop reads one frontend message at a time and hands it
//! to the stage that owns it: `simple` (Query), `extended`
//! (Parse/Bind/Describe/Execute/Close/Sync/Flush) and, from inside those,
//! `copy` (the COPY sub-protocols). Statement errors are answered with an
//! ErrorResponse and the connection goes on; in the extended protocol an
//! error also makes the loop discard messages until the next Sync, as the
//! protocol requires. Only `ConnError`s end the loop: the client left,
//! broke the protocol (`08P01`), the session panicked (`XX000`), or the
//! node is shutting down (`57P01`).
//!
//! Whatever ends the loop, the session is closed on the way out (open
//! transaction rolled back, row locks released) before the socket goes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::ParameterStatus;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use rustydb_sql::TxnStatus;

use super::cancel::CancelGuard;
use super::conn::{Conn, ConnError};
use super::encode;
use super::extended::Extended;
use super::worker::SessionHandle;
use super::Shared;

/// Counts a connection against `max_connections` while it lives.
pub(crate) struct ActiveGuard(Arc<Shared>);

impl ActiveGuard {
    pub(crate) fn acquire(shared: &Arc<Shared>) -> Option<ActiveGuard> {
        let before = shared.active.fetch_add(1, Ordering::SeqCst);
        if before >= shared.max_connections {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(ActiveGuard(shared.clone()))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection past startup.
pub(crate) struct Connection {
    pub(crate) conn: Conn,
    pub(crate) session: SessionHandle,
    pub(crate) extended: Extended,
    /// Set after an error in the extended protocol: drop messages until Sync.
    pub(crate) skip_until_sync: bool,
    shared: Arc<Shared>,
    user: String,
    _cancel: CancelGuard,
    _active: ActiveGuard,
}

impl Connection {
    pub(crate) fn new(
        conn: Conn,
        session: SessionHandle,
        cancel: CancelGuard,
        active: ActiveGuard,
        user: String,
        shared: Arc<Shared>,
    ) -> Connection {
        Connection {
            conn,
            session,
            extended: Extended::default(),
            skip_until_sync: false,
            shared,
            user,
            _cancel: cancel,
            _active: active,
        }
    }

    /// Serves the connection until it ends, then cleans up.
    pub(crate) async fn run(mut self) {
        let mut shutdown = self.shared.shutdown.clone();
        let outcome = loop {
            let message = tokio::select! {
                m = self.conn.read_message() => m,
                // Fires on shutdown (or if the server is gone altogether).
                _ = super::stopped(&mut shutdown) => {
                    break Err(ConnError::Fatal("57P01", "terminating connection due to administrator command".into()));
                }
            };
            let step = match message {
                Ok(m) => self.dispatch(m).await,
                Err(e) => Err(e),
            };
            match step {
                Ok(true) => {}
                Ok(false) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(()) | Err(ConnError::Eof) => {}
            Err(ConnError::Io(e)) => {
                tracing::debug!(user = %self.user, error = %e, "connection lost")
            }
            Err(ConnError::Protocol(message)) => {
                tracing::info!(user = %self.user, %message, "protocol violation; closing connection");
                let _ = self.conn.send(encode::fatal("08P01", &message));
            }
            Err(ConnError::Fatal(code, message)) => {
                let _ = self.conn.send(encode::fatal(code, &message));
            }
        }
        self.session.close().await;
        self.conn.shutdown().await;
    }

    /// Handles one message; `Ok(false)` means the client said Terminate.
    async fn dispatch(&mut self, message: PgWireFrontendMessage) -> Result<bool, ConnError> {
        if self.skip_until_sync {
            match message {
                PgWireFrontendMessage::Sync(_) => self.skip_until_sync = false,
                PgWireFrontendMessage::Terminate(_) => return Ok(false),
                _ => return Ok(true),
            }
            self.sync().await?;
            return Ok(true);
        }
        match message {
            PgWireFrontendMessage::Query(q) => super::simple::query(self, q.query).await?,
            PgWireFrontendMessage::Parse(m) => {
                let r = self.parse(m).await?;
                self.extended_result(r).await?
            }
            PgWireFrontendMessage::Bind(m) => {
                let r = self.bind(m).await?;
                self.extended_result(r).await?
            }
            PgWireFrontendMessage::Describe(m) => {
                let r = self.describe(m).await?;
                self.extended_result(r).await?
            }
            PgWireFrontendMessage::Execute(m) => {
                let r = self.execute(m).await?;
                self.extended_result(r).await?
            }
            PgWireFrontendMessage::Close(m) => {
                let r = self.close(m).await?;
                self.extended_result(r).await?
            }
            PgWireFrontendMessage::Sync(_) => self.sync().await?,
            PgWireFrontendMessage::Flush(_) => self.conn.flush().await?,
            PgWireFrontendMessage::Terminate(_) => return Ok(false),
            // Stray copy messages after a failed COPY are ignored, as in PostgreSQL.
            PgWireFrontendMessage::CopyData(_)
            | PgWireFrontendMessage::CopyDone(_)
            | PgWireFrontendMessage::CopyFail(_) => {}
            _ => {
                return Err(ConnError::Protocol(
                    "invalid frontend message type for this state".to_string(),
                ))
            }
        }
        Ok(true)
    }

    /// Reports an extended-protocol statement error and switches to
    /// discarding messages until Sync. The error is flushed at once, as
    /// PostgreSQL's elog does: a client that sent Parse/Describe/Flush
    /// (asyncpg's prepare) waits for it before it sends its Sync.
    async fn extended_result(
        &mut self,
        result: Result<(), rustydb_sql::Error>,
    ) -> Result<(), ConnError> {
        if let Err(e) = result {
            self.conn.send(encode::error_response("ERROR", &e))?;
            self.skip_until_sync = true;
            self.conn.flush().await?;
        }
        Ok(())
    }

    /// Sync: end of an extended-protocol batch.
    async fn sync(&mut self) -> Result<(), ConnError> {
        let status = self.session.with(|s| s.status())?;
        if status == TxnStatus::Idle {
            // Portals live until the transaction ends.
            self.extended.end_of_transaction();
        }
        self.ready_for_query().await
    }

    /// Sends pending ParameterStatus messages and applies `DEALLOCATE` /
    /// `DISCARD ALL` to the protocol-level prepared statements (both are
    /// per-statement side effects the engine hands back; this runs after
    /// every statement in both protocols).
    pub(crate) fn report_parameters(&mut self) -> Result<(), ConnError> {
        for d in self.session.with(|s| s.take_deallocations())? {
            self.extended.deallocate(d);
        }
        for (name, value) in self.session.with(|s| s.take_parameter_changes())? {
            self.conn
                .send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
                    name, value,
                )))?;
        }
        Ok(())
    }

    /// ReadyForQuery with the session's transaction status, then flush.
    pub(crate) async fn ready_for_query(&mut self) -> Result<(), ConnError> {
        let status = match self.session.with(|s| s.status())? {
            TxnStatus::Idle => TransactionStatus::Idle,
            TxnStatus::InBlock => TransactionStatus::Transaction,
            TxnStatus::Failed => TransactionStatus::Error,
        };
        self.conn
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))?;
        self.conn.flush().await
    }
}
