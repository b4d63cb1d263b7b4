//! Running engine calls off the async runtime.
//!
//! `Session` methods are synchronous and may block for a long time (row
//! lock waits, big scans, fsync on commit), so they must not run as plain
//! async code. On the multi-threaded runtime (the node's) a call runs under
//! `tokio::task::block_in_place`: this worker thread executes it while
//! tokio hands the thread's other tasks to another worker; that is the
//! cheapest hand-off (measured ~10-20% more TPS than `spawn_blocking` on
//! trivial statements). On a current-thread runtime, where
//! `block_in_place` is not allowed, the session is moved onto a
//! `spawn_blocking` thread and back. Only one call per connection is in
//! flight at a time, which is exactly PostgreSQL's one-backend-per-
//! connection model.
//!
//! Panics: a panic inside the engine is caught here (`catch_unwind`) and
//! becomes `ConnError::Fatal(XX000)`. The session was dropped while
//! unwinding (its transaction with it), the connection is closed with that
//! error, and every other connection keeps running.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustydb_sql::Session;
use tokio::runtime::{Handle, RuntimeFlavor};

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
        let run = move || {
            let out = catch_unwind(AssertUnwindSafe(|| f(&mut session)));
            out.map(|out| (session, out))
        };
        let outcome = if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
            // Cheapest hand-off: this worker thread runs the call and tokio
            // moves its other tasks to another thread meanwhile.
            tokio::task::block_in_place(run)
        } else {
            match tokio::task::spawn_blocking(run).await {
                Ok(outcome) => outcome,
                Err(e) => Err(Box::new(e.to_string()) as Box<dyn std::any::Any + Send>),
            }
        };
        match outcome {
            Ok((session, out)) => {
                self.session = Some(session);
                Ok(out)
            }
            Err(_) => {
                tracing::error!("session panicked; closing its connection");
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
