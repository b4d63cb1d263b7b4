//! An in-memory `Storage`, for the engine's own tests.
//!
//! Committed data is a map from key to its versions (commit number, value);
//! a snapshot is a commit number, so reads see exactly the versions committed
//! at or before it. Locks are exclusive per key and block on a condition
//! variable; there is no deadlock detection and nothing is durable. The
//! node's RocksDB storage keeps the same contract for real.
//!
//! For tests of replica behaviour the store can pretend to be a replica
//! (`set_in_recovery`: every transaction then begins read-only, as on the
//! node) and report a recovery position, replication stats and a timeline;
//! it also remembers the `synchronous_commit` level of the last commit.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::storage::{
    Isolation, KeyValue, Lsn, RecoveryStatus, ReplicationStat, SavepointId, Storage, SyncCommit,
    Transaction, TxnOptions,
};
use crate::SqlState;

type Versions = Vec<(u64, Option<Vec<u8>>)>;

#[derive(Default)]
struct Shared {
    data: BTreeMap<Vec<u8>, Versions>,
    version: u64,
    locks: HashMap<Vec<u8>, u64>,
    next_txn: u64,
    /// What the replication hooks report (tests set these).
    replication: ReplicationFacts,
}

#[derive(Default)]
struct ReplicationFacts {
    in_recovery: bool,
    recovery: Option<RecoveryStatus>,
    stats: Vec<ReplicationStat>,
    timeline: Option<u64>,
    last_sync_commit: Option<SyncCommit>,
}

/// The in-memory storage.
#[derive(Default)]
pub struct MemoryStorage {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

impl MemoryStorage {
    /// An empty store.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Makes the store act as a replica (true) or a primary (false).
    pub fn set_in_recovery(&self, in_recovery: bool) {
        self.shared.0.lock().replication.in_recovery = in_recovery;
    }

    /// Sets what `recovery_status()` reports while in recovery.
    pub fn set_recovery_status(&self, status: Option<RecoveryStatus>) {
        self.shared.0.lock().replication.recovery = status;
    }

    /// Sets what `replication_stats()` reports.
    pub fn set_replication_stats(&self, stats: Vec<ReplicationStat>) {
        self.shared.0.lock().replication.stats = stats;
    }

    /// Sets what `timeline()` reports.
    pub fn set_timeline(&self, timeline: u64) {
        self.shared.0.lock().replication.timeline = Some(timeline);
    }

    /// The `synchronous_commit` level the last commit was given.
    pub fn last_synchronous_commit(&self) -> Option<SyncCommit> {
        self.shared.0.lock().replication.last_sync_commit
    }
}

impl Storage for MemoryStorage {
    fn begin(&self, mut options: TxnOptions) -> Result<Box<dyn Transaction>> {
        let mut s = self.shared.0.lock();
        // A replica's storage takes no writes, whatever the caller asked.
        options.read_only |= s.replication.in_recovery;
        s.next_txn += 1;
        Ok(Box::new(MemoryTxn {
            shared: self.shared.clone(),
            id: s.next_txn,
            snapshot: s.version,
            options,
            writes: BTreeMap::new(),
            savepoints: Vec::new(),
            locked: Vec::new(),
            sync_commit: SyncCommit::default(),
        }))
    }

    fn current_lsn(&self) -> Lsn {
        Lsn(self.shared.0.lock().version)
    }

    fn in_recovery(&self) -> bool {
        self.shared.0.lock().replication.in_recovery
    }

    fn recovery_status(&self) -> Option<RecoveryStatus> {
        let s = self.shared.0.lock();
        s.replication
            .in_recovery
            .then_some(s.replication.recovery)
            .flatten()
    }

    fn replication_stats(&self) -> Vec<ReplicationStat> {
        self.shared.0.lock().replication.stats.clone()
    }

    fn timeline(&self) -> u64 {
        self.shared.0.lock().replication.timeline.unwrap_or(1)
    }
}

struct MemoryTxn {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    id: u64,
    snapshot: u64,
    options: TxnOptions,
    writes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    savepoints: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    locked: Vec<Vec<u8>>,
    sync_commit: SyncCommit,
}

fn visible(versions: &Versions, at: u64) -> Option<(u64, Option<Vec<u8>>)> {
    versions.iter().rev().find(|(v, _)| *v <= at).cloned()
}

impl MemoryTxn {
    fn acquire(&mut self, key: &[u8]) -> Result<()> {
        if self.options.read_only {
            return Err(Error::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot execute write in a read-only transaction",
            ));
        }
        let (lock, cv) = &*self.shared;
        let mut s = lock.lock();
        loop {
            match s.locks.get(key) {
                Some(owner) if *owner == self.id => return Ok(()),
                Some(_) => {
                    if let Some(c) = &self.options.cancel {
                        if c.load(std::sync::atomic::Ordering::Relaxed) {
                            return Err(Error::new(
                                SqlState::QUERY_CANCELED,
                                "canceling statement due to user request",
                            ));
                        }
                    }
                    cv.wait_for(&mut s, std::time::Duration::from_millis(50));
                }
                None => {
                    s.locks.insert(key.to_vec(), self.id);
                    self.locked.push(key.to_vec());
                    return Ok(());
                }
            }
        }
    }

    fn release(&mut self) {
        let (lock, cv) = &*self.shared;
        let mut s = lock.lock();
        for k in self.locked.drain(..) {
            s.locks.remove(&k);
        }
        cv.notify_all();
    }

    fn merged(&self, from: &[u8], to: &[u8]) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let s = self.shared.0.lock();
        let mut out: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        if from < to {
            for (k, versions) in s.data.range(from.to_vec()..to.to_vec()) {
                if let Some((_, Some(v))) = visible(versions, self.snapshot) {
                    out.insert(k.clone(), v);
                }
            }
            for (k, v) in self.writes.range(from.to_vec()..to.to_vec()) {
                match v {
                    Some(v) => out.insert(k.clone(), v.clone()),
                    None => out.remove(k),
                };
            }
        }
        out
    }
}

impl Transaction for MemoryTxn {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        let s = self.shared.0.lock();
        Ok(s.data
            .get(key)
            .and_then(|vs| visible(vs, self.snapshot))
            .and_then(|(_, v)| v))
    }

    fn lock(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.acquire(key)?;
        if let Some(v) = self.writes.get(key) {
            return Ok(v.clone());
        }
        let s = self.shared.0.lock();
        let latest = s.data.get(key).and_then(|vs| vs.last().cloned());
        if let (Isolation::RepeatableRead, Some((version, _))) = (self.options.isolation, &latest) {
            if *version > self.snapshot {
                return Err(Error::new(
                    SqlState::SERIALIZATION_FAILURE,
                    "could not serialize access due to concurrent update",
                ));
            }
        }
        Ok(latest.and_then(|(_, v)| v))
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.acquire(key)?;
        self.writes.insert(key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.acquire(key)?;
        self.writes.insert(key.to_vec(), None);
        Ok(())
    }

    fn scan(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        Ok(self.merged(from, to).into_iter().take(limit).collect())
    }

    fn scan_rev(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        Ok(self
            .merged(from, to)
            .into_iter()
            .rev()
            .take(limit)
            .collect())
    }

    fn new_statement(&mut self) {
        if self.options.isolation == Isolation::ReadCommitted {
            self.snapshot = self.shared.0.lock().version;
        }
    }

    fn savepoint(&mut self) -> SavepointId {
        self.savepoints.push(self.writes.clone());
        SavepointId(self.savepoints.len() as u64 - 1)
    }

    fn rollback_to(&mut self, savepoint: SavepointId) -> Result<()> {
        let i = savepoint.0 as usize;
        let saved = self
            .savepoints
            .get(i)
            .cloned()
            .ok_or_else(|| Error::internal("unknown savepoint"))?;
        self.writes = saved;
        self.savepoints.truncate(i + 1);
        Ok(())
    }

    fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    fn set_synchronous_commit(&mut self, level: SyncCommit) {
        self.sync_commit = level;
    }

    fn commit(mut self: Box<Self>) -> Result<Option<Lsn>> {
        self.shared.0.lock().replication.last_sync_commit = Some(self.sync_commit);
        let lsn = if self.writes.is_empty() {
            None
        } else {
            let mut s = self.shared.0.lock();
            s.version += 1;
            let v = s.version;
            for (k, val) in std::mem::take(&mut self.writes) {
                s.data.entry(k).or_default().push((v, val));
            }
            Some(Lsn(v))
        };
        self.release();
        Ok(lsn)
    }

    fn rollback(mut self: Box<Self>) {
        self.release();
    }
}

impl Drop for MemoryTxn {
    fn drop(&mut self) {
        if !self.locked.is_empty() {
            self.release();
        }
    }
}
