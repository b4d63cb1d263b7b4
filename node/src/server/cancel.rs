//! CancelRequest: the registry of running sessions' cancel keys.
//!
//! Each connection gets a process id and a random secret at startup (sent
//! in BackendKeyData) and registers its session's cancel flag here under
//! that pid. A CancelRequest arrives on a *new* connection carrying
//! (pid, secret); if both match, the flag is set and the engine stops the
//! running statement with `57014`. The new connection is closed without a
//! reply either way, as in PostgreSQL, so a wrong guess learns nothing.
//!
//! The registration is a guard: dropping it (the connection ends for any
//! reason) removes the entry, so a stale pid can never cancel a later
//! session that happens to reuse the number.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Live sessions' cancel keys.
#[derive(Default)]
pub(crate) struct CancelRegistry {
    next_pid: AtomicI32,
    entries: Mutex<HashMap<i32, (i32, Arc<AtomicBool>)>>,
}

/// Keeps a session registered; unregisters on drop.
pub(crate) struct CancelGuard {
    registry: Arc<CancelRegistry>,
    pub(crate) pid: i32,
    pub(crate) secret: i32,
}

impl CancelRegistry {
    pub(crate) fn new() -> Self {
        // Start pids away from 0 and small numbers so they look like (and are
        // as unique as) PostgreSQL backend pids.
        CancelRegistry {
            next_pid: AtomicI32::new(10_000),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Registers a session's cancel flag under a fresh pid and secret.
    pub(crate) fn register(self: &Arc<Self>, flag: Arc<AtomicBool>) -> CancelGuard {
        let secret: i32 = rand::random();
        let mut entries = self.entries.lock();
        let pid = loop {
            let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
            if pid > 0 && !entries.contains_key(&pid) {
                break pid;
            }
            if pid <= 0 {
                self.next_pid.store(10_000, Ordering::Relaxed);
            }
        };
        entries.insert(pid, (secret, flag));
        CancelGuard {
            registry: self.clone(),
            pid,
            secret,
        }
    }

    /// Handles a CancelRequest; returns whether a session was signalled.
    pub(crate) fn cancel(&self, pid: i32, secret: i32) -> bool {
        match self.entries.lock().get(&pid) {
            Some((s, flag)) if *s == secret => {
                flag.store(true, Ordering::SeqCst);
                true
            }
            _ => false,
        }
    }
}

impl CancelRegistry {
    /// Cancels every registered session's running statement (shutdown).
    pub(crate) fn cancel_all(&self) {
        for (_, flag) in self.entries.lock().values() {
            flag.store(true, Ordering::SeqCst);
        }
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        self.registry.entries.lock().remove(&self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_secret_cancels_and_drop_unregisters() {
        let registry = Arc::new(CancelRegistry::new());
        let flag = Arc::new(AtomicBool::new(false));
        let guard = registry.register(flag.clone());
        assert!(!registry.cancel(guard.pid, guard.secret.wrapping_add(1)));
        assert!(!flag.load(Ordering::SeqCst));
        assert!(registry.cancel(guard.pid, guard.secret));
        assert!(flag.load(Ordering::SeqCst));
        let (pid, secret) = (guard.pid, guard.secret);
        drop(guard);
        assert!(!registry.cancel(pid, secret));
    }
}
