//! Running engine calls without stalling other connections.
//!
//! `Session` methods are synchronous and may block for a long time (row
//! lock waits, big scans, fsync on commit), so they must not run as plain
//! async code on a shared runtime. The server therefore runs each
//! connection on a thread of its own (see `dedicated`), PostgreSQL's
//! one-backend-per-connection model: that thread drives the connection's
//! socket with a small current-thread runtime and calls the session
//! *inline*, because blocking it blocks nobody else. That removes the
//! thread hand-off per message which dominated the profile of short
//! statements (`block_in_place` hands the runtime's core to another thread
//! and back on every call: two wake-ups and context switches).
//!
//! Off such a thread (a connection served by a task on a shared runtime,
//! as when a thread could not be started), a call runs under
//! `tokio::task::block_in_place` on a multi-threaded runtime and on a
//! `spawn_blocking` thread on a current-thread one. Only one call per
//! connection is in flight at a time in every mode.
//!
//! Panics: a panic inside the engine is caught here (`catch_unwind`) and
//! becomes `ConnError::Fatal(XX000)`. The session was dropped while
//! unwinding (its transaction with it), the connection is closed with that
//! error, and every other connection keeps running.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rustydb_sql::Session;
use tokio::runtime::{Handle, RuntimeFlavor};

use super::conn::ConnError;

thread_local! {
    /// Set on a thread that serves exactly one connection: blocking it is
    /// harmless, so engine calls run inline.
    static DEDICATED: Cell<bool> = const { Cell::new(false) };
}

/// Marks the current thread as serving one connection only.
pub(crate) fn mark_dedicated() {
    DEDICATED.with(|d| d.set(true));
}

/// Whether the current thread serves one connection only.
fn dedicated() -> bool {
    DEDICATED.with(Cell::get)
}

/// Runs a blocking closure: inline on a dedicated connection thread, else
/// off the runtime's worker threads. `Err` carries a panic's payload.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, Box<dyn std::any::Any + Send>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if dedicated() {
        return catch_unwind(AssertUnwindSafe(f));
    }
    if Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        // This worker thread runs the call and tokio moves its other
        // tasks to another thread meanwhile.
        return tokio::task::block_in_place(|| catch_unwind(AssertUnwindSafe(f)));
    }
    match tokio::task::spawn_blocking(move || catch_unwind(AssertUnwindSafe(f))).await {
        Ok(outcome) => outcome,
        Err(e) => Err(Box::new(e.to_string()) as Box<dyn std::any::Any + Send>),
    }
}

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
        let outcome = blocking(move || {
            let out = f(&mut session);
            (session, out)
        })
        .await;
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
