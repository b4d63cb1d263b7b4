//! Row locks: exclusive key locks with blocking waits and deadlock detection.
//!
//! A transaction takes an exclusive lock on every key it writes (and on the
//! keys the executor `lock`s, e.g. UPDATE's target rows) and holds it until
//! commit or rollback. The table is one map `key → KeyLock` behind a single
//! mutex; the critical sections are a hash lookup, so one mutex is cheaper than
//! sharding on the small machines we target and keeps the wait-for graph
//! consistent without extra care.
//!
//! Waiting: a transaction that finds the key owned by another registers
//! itself as a waiter (`waiting_on[me] = key`) and sleeps on the key's
//! condvar, waking at least every `POLL` to look at its cancel flag. Release
//! clears the owner and wakes all waiters of that key; whichever gets the
//! mutex first takes the lock, the rest go back to sleep.
//!
//! Deadlocks: each waiting transaction waits for exactly one key, and each
//! key has at most one owner, so the wait-for graph is a chain we can walk:
//! `me → owner(key I want) → owner(key it waits on) → ...`. The transaction
//! whose wait would close a cycle (the walk comes back to itself) fails with
//! `40P01` instead of sleeping; the others in the cycle keep waiting and
//! proceed once it rolls back. The walk is repeated on every wake-up because
//! the owner of the awaited key may have changed.
//!
//! Invariant: an entry exists while it has an owner or waiters; an entry
//! with neither is removed, so the map holds only keys in use.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use rustydb_sql::{Error, SqlState};

/// How often a waiter wakes to check its cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// Identifies a transaction in the lock table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TxnId(pub u64);

/// The lock state of one key.
struct KeyLock {
    owner: Option<TxnId>,
    waiters: u32,
    /// Created when the first waiter arrives; uncontended locks never
    /// allocate one.
    cv: Option<Arc<Condvar>>,
}

#[derive(Default)]
struct LockState {
    keys: HashMap<Vec<u8>, KeyLock>,
    /// The key each blocked transaction is waiting for.
    waiting_on: HashMap<TxnId, Vec<u8>>,
}

/// The lock table shared by all transactions of one storage.
#[derive(Default)]
pub(crate) struct LockManager {
    state: Mutex<LockState>,
}

impl LockManager {
    /// Takes the exclusive lock on `key` for `txn`, blocking while another
    /// transaction holds it. Fails with `40P01` when waiting would deadlock
    /// and `57014` when `cancel` is set during the wait. The caller must not
    /// already hold the lock (it tracks its own locks).
    pub(crate) fn acquire(
        &self,
        txn: TxnId,
        key: &[u8],
        cancel: Option<&AtomicBool>,
    ) -> Result<(), Error> {
        let mut st = self.state.lock();
        let mut registered = false;
        loop {
            let owner = match st.keys.get_mut(key) {
                None => {
                    st.keys.insert(
                        key.to_vec(),
                        KeyLock {
                            owner: Some(txn),
                            waiters: 0,
                            cv: None,
                        },
                    );
                    return Ok(());
                }
                Some(entry) => match entry.owner {
                    None => {
                        entry.owner = Some(txn);
                        if registered {
                            entry.waiters -= 1;
                            st.waiting_on.remove(&txn);
                        }
                        return Ok(());
                    }
                    Some(owner) if owner == txn => {
                        if registered {
                            entry.waiters -= 1;
                            st.waiting_on.remove(&txn);
                        }
                        return Ok(());
                    }
                    Some(owner) => owner,
                },
            };
            if st.closes_cycle(txn, owner) {
                if registered {
                    st.unregister(txn, key);
                }
                tracing::debug!(txn = txn.0, owner = owner.0, "deadlock detected");
                return Err(Error::new(SqlState::DEADLOCK_DETECTED, "deadlock detected"));
            }
            let cv = {
                let LockState { keys, waiting_on } = &mut *st;
                let Some(entry) = keys.get_mut(key) else {
                    continue;
                };
                if !registered {
                    entry.waiters += 1;
                    waiting_on.insert(txn, key.to_vec());
                    registered = true;
                }
                entry
                    .cv
                    .get_or_insert_with(|| Arc::new(Condvar::new()))
                    .clone()
            };
            cv.wait_for(&mut st, POLL);
            if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                st.unregister(txn, key);
                return Err(Error::new(
                    SqlState::QUERY_CANCELED,
                    "canceling statement due to user request",
                ));
            }
        }
    }

    /// Releases the given keys held by `txn`, waking their waiters.
    pub(crate) fn release<'a>(&self, txn: TxnId, keys: impl IntoIterator<Item = &'a Vec<u8>>) {
        let mut st = self.state.lock();
        for key in keys {
            let Some(entry) = st.keys.get_mut(key.as_slice()) else {
                continue;
            };
            if entry.owner != Some(txn) {
                continue;
            }
            if entry.waiters == 0 {
                st.keys.remove(key.as_slice());
            } else {
                entry.owner = None;
                if let Some(cv) = &entry.cv {
                    cv.notify_all();
                }
            }
        }
    }

    /// Number of keys currently in the table (for tests and metrics).
    pub(crate) fn len(&self) -> usize {
        self.state.lock().keys.len()
    }
}

impl LockState {
    /// Whether `me` waiting for `owner` would close a cycle.
    fn closes_cycle(&self, me: TxnId, owner: TxnId) -> bool {
        let mut cur = owner;
        // Each step visits a distinct waiting transaction unless there is a
        // cycle not involving `me` (which cannot form, as its closer would
        // have failed); the bound keeps the walk finite regardless.
        for _ in 0..=self.waiting_on.len() {
            if cur == me {
                return true;
            }
            let Some(key) = self.waiting_on.get(&cur) else {
                return false;
            };
            match self.keys.get(key).and_then(|e| e.owner) {
                Some(next) => cur = next,
                None => return false,
            }
        }
        false
    }

    /// Removes `txn` as a waiter of `key` (it gave up).
    fn unregister(&mut self, txn: TxnId, key: &[u8]) {
        self.waiting_on.remove(&txn);
        if let Some(entry) = self.keys.get_mut(key) {
            entry.waiters = entry.waiters.saturating_sub(1);
            if entry.owner.is_none() && entry.waiters == 0 {
                self.keys.remove(key);
            }
        }
    }
}
