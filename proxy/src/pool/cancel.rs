//! CancelRequest: from the key the proxy gave a client to the backend
//! currently running that client's statement.
//!
//! Each client gets its own random (pid, secret) in BackendKeyData, since
//! its backend changes from one transaction to the next. While a session
//! holds a backend connection it records that backend's address and key
//! here; a CancelRequest carrying the client's key is forwarded, on a new
//! connection as the protocol requires, to whichever backend that is at
//! that moment. A wrong secret is ignored silently, as PostgreSQL does.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::wire::startup::cancel_request;

/// Where a client's running statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendKey {
    pub addr: Arc<str>,
    pub pid: i32,
    pub secret: i32,
}

/// The backend a client uses right now; the session writes it on every
/// checkout without touching the registry's map.
type Slot = Arc<Mutex<Option<BackendKey>>>;

#[derive(Debug)]
struct Entry {
    secret: i32,
    current: Slot,
}

/// Every connected client's key.
#[derive(Debug, Default)]
pub struct CancelRegistry {
    clients: Mutex<HashMap<i32, Entry>>,
}

/// A client's registration; removes itself on drop.
#[derive(Debug)]
pub struct CancelHandle {
    registry: Arc<CancelRegistry>,
    slot: Slot,
    pub pid: i32,
    pub secret: i32,
}

impl CancelRegistry {
    /// Registers a new client under a fresh random key.
    pub fn register(self: &Arc<Self>) -> CancelHandle {
        let mut clients = self.clients.lock();
        loop {
            let pid = rand::random::<i32>().wrapping_abs().max(1);
            if clients.contains_key(&pid) {
                continue;
            }
            let secret = rand::random::<i32>();
            let slot = Slot::default();
            clients.insert(
                pid,
                Entry {
                    secret,
                    current: slot.clone(),
                },
            );
            return CancelHandle {
                registry: self.clone(),
                slot,
                pid,
                secret,
            };
        }
    }

    /// Forwards a cancel for client `pid` if the secret matches and it has
    /// a backend right now.
    pub async fn cancel(&self, pid: i32, secret: i32) {
        let target = {
            let clients = self.clients.lock();
            match clients.get(&pid) {
                Some(e) if e.secret == secret => e.current.lock().clone(),
                _ => None,
            }
        };
        let Some(key) = target else {
            tracing::debug!(pid, "cancel request for no running statement");
            return;
        };
        let sent = async {
            let mut s = TcpStream::connect(&*key.addr).await?;
            s.write_all(&cancel_request(key.pid, key.secret)).await?;
            s.shutdown().await
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), sent).await {
            Ok(Ok(())) => tracing::debug!(addr = %key.addr, "cancel forwarded"),
            Ok(Err(e)) => tracing::warn!(addr = %key.addr, error = %e, "cancel not delivered"),
            Err(_) => tracing::warn!(addr = %key.addr, "cancel not delivered: timeout"),
        }
    }
}

impl CancelHandle {
    /// Records the backend now running this client's statements.
    pub fn set_backend(&self, key: Option<BackendKey>) {
        *self.slot.lock() = key;
    }
}

impl CancelHandle {
    /// A second handle on the same slot, for whoever runs the client's
    /// statement on its behalf (a multiplexing lane).
    pub fn slot(&self) -> CancelSlot {
        CancelSlot(self.slot.clone())
    }
}

/// Where a lane records the backend running a client's statement.
#[derive(Debug, Clone)]
pub struct CancelSlot(Slot);

impl CancelSlot {
    pub fn set(&self, key: Option<BackendKey>) {
        *self.0.lock() = key;
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        self.registry.clients.lock().remove(&self.pid);
    }
}
