//! Row locks: exclusive key locks with blocking waits and deadlock detection.
//!
//! A transaction takes an exclusive lock on every key it writes (and on the
//! keys the executor `lock`s, e.g. UPDATE's target rows) and holds it until
//! commit or rollback. The table is one map `key → KeyLock` behind a single
//! mutex; the critical sections are a hash lookup, so one mutex is cheaper than
//! sharding on the small machines we target and keeps the wait-for graph
//! consistent without extra care.
//!
//! Waiting is first come, first served: a transaction that finds the key
//! owned by another joins the key's queue, records `waiting_on[me] = key`, and
//! sleeps on the key's condvar, waking at least every `POLL` to look at its
//! cancel flag. Release hands the lock straight to the head of the queue (so
//! a hot row, like a pgbench branch, cannot starve a waiter) and wakes the
//! queue; the new owner sees itself as owner when it wakes.
//!
//! Deadlocks: each waiting transaction waits for exactly one key, and each
//! key has one owner, so the wait-for graph is a chain we can walk:
//! `me → owner(key I want) → owner(key it waits on) → ...`. (With exclusive
//! locks only, waiting behind queue predecessors adds no cycles: they wait
//! for the same owner.) The transaction whose wait would close a cycle (the
//! walk comes back to itself) fails with `40P01` instead of sleeping; the
//! others keep waiting and proceed once it rolls back. A waiter repeats the
//! walk on every wake-up, because the owner of its key may have changed.
//!
//! Invariants: an entry exists exactly while the key has an owner; a key with
//! an owner and an empty queue has no waiters; a transaction is in
//! `waiting_on` exactly while it sits in some key's queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use foldhash::HashMap;
use parking_lot::{Condvar, Mutex};
use rustydb_sql::{Error, SqlState};

/// How often a waiter wakes to check its cancel flag.
const POLL: Duration = Duration::from_millis(50);

/// Identifies a transaction in the lock table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TxnId(pub u64);

/// The lock state of one key.
struct KeyLock {
    owner: TxnId,
    /// Waiters in arrival order; the head gets the lock on release.
    queue: VecDeque<TxnId>,
    /// Created when the first waiter arrives; uncontended locks never
    /// allocate one.
    cv: Option<Arc<Condvar>>,
}

#[derive(Default)]
struct LockState {
    keys: HashMap<Vec<u8>, KeyLock>,
    /// The key each queued transaction is waiting for.
    waiting_on: HashMap<TxnId, Vec<u8>>,
}

/// The lock table shared by all transactions of one storage.
#[derive(Default)]
pub(crate) struct LockManager {
    state: Mutex<LockState>,
}

/// Why a wait ended without the lock.
enum GiveUp {
    Deadlock,
    Canceled,
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
        let owner = match st.keys.get(key) {
            None => {
                let entry = KeyLock {
                    owner: txn,
                    queue: VecDeque::new(),
                    cv: None,
                };
                st.keys.insert(key.to_vec(), entry);
                return Ok(());
            }
            Some(entry) if entry.owner == txn => return Ok(()),
            Some(entry) => entry.owner,
        };
        if st.closes_cycle(txn, owner) {
            tracing::debug!(txn = txn.0, owner = owner.0, "deadlock detected");
            return Err(give_up(GiveUp::Deadlock));
        }
        let cv = {
            let LockState { keys, waiting_on } = &mut *st;
            let Some(entry) = keys.get_mut(key) else {
                return Err(Error::Storage(
                    "lock entry vanished under the table mutex".into(),
                ));
            };
            entry.queue.push_back(txn);
            waiting_on.insert(txn, key.to_vec());
            entry
                .cv
                .get_or_insert_with(|| Arc::new(Condvar::new()))
                .clone()
        };
        loop {
            cv.wait_for(&mut st, POLL);
            let owner = match st.keys.get(key) {
                Some(entry) if entry.owner == txn => return Ok(()),
                Some(entry) => entry.owner,
                None => {
                    // Unreachable while we are queued (release hands the
                    // lock over instead of removing the entry); recover by
                    // taking the free key.
                    st.waiting_on.remove(&txn);
                    let entry = KeyLock {
                        owner: txn,
                        queue: VecDeque::new(),
                        cv: None,
                    };
                    st.keys.insert(key.to_vec(), entry);
                    return Ok(());
                }
            };
            let reason = if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
                GiveUp::Canceled
            } else if st.closes_cycle(txn, owner) {
                tracing::debug!(txn = txn.0, owner = owner.0, "deadlock detected");
                GiveUp::Deadlock
            } else {
                continue;
            };
            st.leave_queue(txn, key);
            return Err(give_up(reason));
        }
    }

    /// Releases the given keys held by `txn`, handing each to its first
    /// waiter.
    pub(crate) fn release<'a>(&self, txn: TxnId, keys: impl IntoIterator<Item = &'a Vec<u8>>) {
        let mut st = self.state.lock();
        for key in keys {
            let LockState { keys, waiting_on } = &mut *st;
            let Some(entry) = keys.get_mut(key.as_slice()) else {
                continue;
            };
            if entry.owner != txn {
                continue;
            }
            match entry.queue.pop_front() {
                None => {
                    keys.remove(key.as_slice());
                }
                Some(next) => {
                    entry.owner = next;
                    waiting_on.remove(&next);
                    if let Some(cv) = &entry.cv {
                        cv.notify_all();
                    }
                }
            }
        }
    }

    /// Number of keys currently locked (for tests and metrics).
    pub(crate) fn len(&self) -> usize {
        self.state.lock().keys.len()
    }
}

fn give_up(reason: GiveUp) -> Error {
    match reason {
        GiveUp::Deadlock => Error::new(SqlState::DEADLOCK_DETECTED, "deadlock detected"),
        GiveUp::Canceled => Error::new(
            SqlState::QUERY_CANCELED,
            "canceling statement due to user request",
        ),
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
            match self.keys.get(key) {
                Some(entry) => cur = entry.owner,
                None => return false,
            }
        }
        false
    }

    /// Removes `txn` from the queue of `key` (it gave up waiting).
    fn leave_queue(&mut self, txn: TxnId, key: &[u8]) {
        self.waiting_on.remove(&txn);
        if let Some(entry) = self.keys.get_mut(key) {
            entry.queue.retain(|t| *t != txn);
        }
    }
}
