//! Running engine calls off the async runtime.
//!
//! `Session` methods are synchronous and may block for a long time (row
//! lock waits, big scans, fsync on commit), so every call goes through
//! `tokio::task::spawn_blocking`: the session is moved onto a blocking
//! thread, the closure runs, and the session comes back with the result.
//! Only one call per connection is in flight at a time, which is exactly
//! PostgreSQL's one-backend-per-connection model.
//!
//! Panics: if the engine panics, the blocking task's `JoinError` surfaces
//! here as `ConnError::Fatal(XX000)`. The session was dropped while
//! unwinding (its transaction with it), the connection is closed with that
//! error, and every other connection keeps running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustydb_sql::Session;

use super::conn::ConnError;

/// A connection's session, lent to blocking threads one call at a time.
pub(crate) struct SessionHandle {
    session: Option<Session>,
    cancel: Arc<AtomicBool>,
}

impl SessionHandle {
    pub(crate) fn new(session: Session) -> Self {
        let cancel = session.cancel_flag();
        SessionHandle {
            session: Some(session),
            cancel,
        }
    }

    /// The flag a CancelRequest sets.
    pub(crate) fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Runs `f` on the session on a blocking thread.
    pub(crate) async fn call<T, F>(&mut self, f: F) -> Result<T, ConnError>
    where
        F: FnOnce(&mut Session) -> T + Send + 'static,
        T: Send + 'static,
    {
        let mut session = self.session.take().ok_or_else(lost)?;
        let joined = tokio::task::spawn_blocking(move || {
            let out = f(&mut session);
            (session, out)
        })
        .await;
        match joined {
            Ok((session, out)) => {
                self.session = Some(session);
                Ok(out)
            }
            Err(e) => {
                tracing::error!(error = %e, "session panicked; closing its connection");
                Err(ConnError::Fatal(
                    "XX000",
                    "internal error: the statement crashed its session".to_string(),
                ))
            }
        }
    }

    /// Runs a statement-level call: clears a stale cancel first, so a
    /// CancelRequest that arrived between statements does not kill the next
    /// one (PostgreSQL likewise only cancels what is running).
    pub(crate) async fn statement<T, F>(&mut self, f: F) -> Result<T, ConnError>
    where
        F: FnOnce(&mut Session) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.cancel.store(false, Ordering::SeqCst);
        self.call(f).await
    }

    /// Non-blocking accessors (plain field reads on the session).
    pub(crate) fn with<T>(&mut self, f: impl FnOnce(&mut Session) -> T) -> Result<T, ConnError> {
        self.session.as_mut().map(f).ok_or_else(lost)
    }

    /// Ends the session (rollback, locks released). Safe to call twice.
    pub(crate) async fn close(&mut self) {
        if self.session.is_some() {
            let _ = self.call(|s| s.close()).await;
            self.session = None;
        }
    }
}

fn lost() -> ConnError {
    ConnError::Fatal("XX000", "internal error: session is gone".to_string())
}
