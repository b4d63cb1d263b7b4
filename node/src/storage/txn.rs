//! `RocksTransaction`: one transaction over the RocksDB storage.
//!
//! A transaction is three pieces of private state plus the shared lock table:
//! - a snapshot (`OwnedSnapshot`) that all `get`/`scan` calls read through;
//!   READ COMMITTED replaces it in `new_statement` when anything committed
//!   since it was taken, REPEATABLE READ keeps the one its first statement
//!   saw (the one from `begin`, refreshed until something reads or writes);
//! - a write buffer (ordered map) holding uncommitted puts and deletes, merged
//!   over the snapshot on every read, plus an undo log that is kept only while
//!   a savepoint exists;
//! - `locked`: every key it holds an exclusive lock on, with the key's latest
//!   committed value read right after the lock was granted. Because nobody
//!   else can commit the key while we hold the lock, that value stays the
//!   latest until we commit, and it is exactly the before-image the WAL
//!   record needs.
//!
//! Write path: `put`/`delete` lock the key (first time only), then write the
//! buffer. Under REPEATABLE READ, the first lock of a key compares the LSN
//! stamp of the latest version with the snapshot's; a difference means a
//! concurrent commit and fails with `40001`.
//!
//! Commit hands the buffer (as mutations) and the before-images to the group
//! committer, waits for durability, and only then releases the locks, so a
//! waiter that gets a lock always sees the previous owner's commit. The
//! replication wait (sync / semi-sync) comes after the release: see
//! `commit` for why that keeps acknowledged commits safe. Drop
//! releases locks too: a transaction abandoned by a vanished client cannot
//! keep rows locked.

use foldhash::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use rustydb_sql::storage::{
    Isolation, KeyValue, Lsn, SavepointId, ScanPage, SyncCommit, Transaction, TxnOptions,
};
use rustydb_sql::{Error, Result, SqlState};

use super::commit::{CommitMsg, CommitRequest};
use super::engine::Shared;
use super::locks::TxnId;
use super::snapshot::{decode_value, OwnedSnapshot, WriteBuffer};
use crate::error::NodeError;

/// SQLSTATE 3B001, invalid_savepoint_specification.
const INVALID_SAVEPOINT: SqlState = SqlState("3B001");

/// A key and its write-buffer entry before a write (`None`: no entry).
type UndoEntry = (Vec<u8>, Option<Option<Vec<u8>>>);

/// A transaction on `RocksStorage`.
pub(crate) struct RocksTransaction {
    shared: Arc<Shared>,
    id: TxnId,
    options: TxnOptions,
    snapshot: OwnedSnapshot,
    /// `current_lsn` read just before `snapshot` was taken: the snapshot
    /// holds every commit up to it (and maybe a few more).
    snapshot_lsn: u64,
    /// Whether any read or write used the snapshot yet. Until then a
    /// REPEATABLE READ transaction may still move its snapshot: like
    /// PostgreSQL, its snapshot is that of its first statement, not of BEGIN.
    snapshot_used: bool,
    writes: WriteBuffer,
    /// `(key, previous buffer entry)` per write, kept while savepoints exist.
    undo: Vec<UndoEntry>,
    /// Open savepoints in creation order, with the undo log length at each.
    savepoints: Vec<(SavepointId, usize)>,
    next_savepoint: u64,
    /// Keys we hold locks on → latest committed value when locked.
    locked: HashMap<Vec<u8>, Option<Vec<u8>>>,
    /// How long commit waits for replicas (`synchronous_commit`).
    sync_commit: SyncCommit,
}

impl RocksTransaction {
    /// The exact LSN of the commit the snapshot ends at (logical decoding's
    /// initial copy starts its stream right after it).
    pub(crate) fn snapshot_exact_lsn(&self) -> Result<u64, NodeError> {
        self.snapshot.last_lsn()
    }

    pub(crate) fn new(shared: Arc<Shared>, id: TxnId, options: TxnOptions) -> Self {
        let snapshot_lsn = shared.current_lsn.load(Ordering::Acquire);
        let snapshot = OwnedSnapshot::take(shared.db.clone());
        RocksTransaction {
            shared,
            id,
            options,
            snapshot,
            snapshot_lsn,
            snapshot_used: false,
            writes: WriteBuffer::new(),
            undo: Vec::new(),
            savepoints: Vec::new(),
            next_savepoint: 1,
            locked: HashMap::default(),
            sync_commit: SyncCommit::default(),
        }
    }

    fn cancel_flag(&self) -> Option<&AtomicBool> {
        self.options.cancel.as_deref()
    }

    fn check_writable(&self) -> Result<()> {
        if self.options.read_only {
            return Err(Error::new(
                SqlState::READ_ONLY_SQL_TRANSACTION,
                "cannot execute write in a read-only transaction",
            ));
        }
        Ok(())
    }

    /// Locks `key` if not yet held and returns its latest committed value.
    fn acquire(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(latest) = self.locked.get(key) {
            return Ok(latest.clone());
        }
        self.shared
            .locks
            .acquire(self.id, key, self.options.cancel.as_deref())?;
        match self.read_latest_checked(key) {
            Ok(latest) => {
                self.locked.insert(key.to_vec(), latest.clone());
                Ok(latest)
            }
            Err(err) => {
                let key = key.to_vec();
                self.shared.locks.release(self.id, std::iter::once(&key));
                Err(err)
            }
        }
    }

    /// Reads the latest committed value of a key we just locked, failing with
    /// `40001` under REPEATABLE READ if it changed since our snapshot.
    fn read_latest_checked(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let data = self.shared.data_cf()?;
        let latest = match self
            .shared
            .db
            .get_pinned_cf(data, key)
            .map_err(NodeError::from)?
        {
            None => None,
            Some(raw) => {
                let (lsn, value) = decode_value(&raw)?;
                Some((lsn, value.to_vec()))
            }
        };
        if self.options.isolation == Isolation::RepeatableRead {
            let seen = self.snapshot.get(key)?.map(|(lsn, _)| lsn);
            if latest.as_ref().map(|(lsn, _)| *lsn) != seen {
                return Err(Error::new(
                    SqlState::SERIALIZATION_FAILURE,
                    "could not serialize access due to concurrent update",
                ));
            }
        }
        Ok(latest.map(|(_, value)| value))
    }

    fn write(&mut self, key: &[u8], value: Option<Vec<u8>>) -> Result<()> {
        self.check_writable()?;
        self.snapshot_used = true;
        self.acquire(key)?;
        let previous = self.writes.insert(key.to_vec(), value);
        if !self.savepoints.is_empty() {
            self.undo.push((key.to_vec(), previous));
        }
        Ok(())
    }

    /// Runs the replication mode's wait (if any) for a durable commit.
    fn wait_for_replicas(&self, lsn: Lsn) -> Result<()> {
        let gate = self.shared.gate.read().clone();
        match gate {
            Some(gate) => gate.wait(lsn, self.sync_commit),
            None => Ok(()),
        }
    }

    fn release_locks(&mut self) {
        if !self.locked.is_empty() {
            self.shared.locks.release(self.id, self.locked.keys());
            self.locked.clear();
        }
    }

    /// Sends the buffer to the group committer and waits for durability.
    fn commit_writes(&mut self) -> Result<Lsn> {
        let writes = std::mem::take(&mut self.writes);
        let mut mutations = Vec::with_capacity(writes.len());
        let mut before_images = Vec::with_capacity(writes.len());
        for (key, value) in writes {
            // Every written key was locked first, so its before-image is in
            // `locked`; take it, the map is only needed for its keys now.
            let before = self.locked.get_mut(&key).and_then(Option::take);
            before_images.push((key.clone(), before));
            mutations.push((key, value));
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let request = CommitRequest {
            mutations,
            before_images,
            reply,
        };
        self.shared
            .commit_tx
            .send(CommitMsg::Commit(request))
            .map_err(|_| NodeError::ShutDown)?;
        match answer.recv() {
            Ok(Ok(lsn)) => Ok(lsn),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(NodeError::ShutDown.into()),
        }
    }
}

impl Transaction for RocksTransaction {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.snapshot_used = true;
        if let Some(own) = self.writes.get(key) {
            return Ok(own.clone());
        }
        Ok(self.snapshot.get(key)?.map(|(_, value)| value))
    }

    fn lock(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_writable()?;
        self.snapshot_used = true;
        let latest = self.acquire(key)?;
        match self.writes.get(key) {
            Some(own) => Ok(own.clone()),
            None => Ok(latest),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key, Some(value.to_vec()))
    }

    fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.write(key, None)
    }

    fn scan(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.snapshot_used = true;
        self.snapshot
            .scan(&self.writes, from, to, limit, false, self.cancel_flag())
    }

    fn scan_page(
        &mut self,
        from: &[u8],
        to: &[u8],
        limit: usize,
        max_bytes: usize,
        page: &mut ScanPage,
    ) -> Result<()> {
        self.snapshot_used = true;
        self.snapshot.scan_page(
            &self.writes,
            from,
            to,
            limit,
            max_bytes,
            self.cancel_flag(),
            page,
        )
    }

    fn scan_rev(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.snapshot_used = true;
        self.snapshot
            .scan(&self.writes, from, to, limit, true, self.cancel_flag())
    }

    fn new_statement(&mut self) {
        if self.options.isolation != Isolation::ReadCommitted && self.snapshot_used {
            return;
        }
        // Nothing committed since the snapshot: it already shows everything
        // acknowledged, keep it (saves a snapshot per read-only statement).
        let lsn = self.shared.current_lsn.load(Ordering::Acquire);
        if lsn != self.snapshot_lsn {
            self.snapshot = OwnedSnapshot::take(self.shared.db.clone());
            self.snapshot_lsn = lsn;
        }
    }

    fn savepoint(&mut self) -> SavepointId {
        let id = SavepointId(self.next_savepoint);
        self.next_savepoint += 1;
        self.savepoints.push((id, self.undo.len()));
        id
    }

    fn rollback_to(&mut self, savepoint: SavepointId) -> Result<()> {
        let Some(pos) = self.savepoints.iter().position(|(id, _)| *id == savepoint) else {
            return Err(Error::new(INVALID_SAVEPOINT, "savepoint does not exist"));
        };
        let undo_len = self.savepoints.get(pos).map_or(0, |(_, len)| *len);
        while self.undo.len() > undo_len {
            let Some((key, previous)) = self.undo.pop() else {
                break;
            };
            match previous {
                None => self.writes.remove(&key),
                Some(value) => self.writes.insert(key, value),
            };
        }
        // Like PostgreSQL: the savepoint stays, later ones are gone.
        self.savepoints.truncate(pos + 1);
        Ok(())
    }

    fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    fn set_synchronous_commit(&mut self, level: SyncCommit) {
        self.sync_commit = level;
    }

    fn commit(mut self: Box<Self>) -> Result<Option<Lsn>> {
        let result = if self.writes.is_empty() {
            Ok(None)
        } else {
            self.commit_writes().map(Some)
        };
        // Locks go as soon as the commit is durable and visible here, before
        // the replicas confirm (PostgreSQL keeps them until then). This
        // keeps hot rows (TPC-B's branches) locked for one local fsync
        // instead of fsync + round trip + replica fsync, and it cannot
        // break "an acknowledged commit survives failover": a transaction
        // that builds on this one gets a higher LSN, replicas flush and
        // acknowledge in LSN order, so it cannot be acknowledged (by the
        // sync wait) before this one is on the replicas. Readers could
        // already see this commit before its acknowledgement; now writers
        // can too.
        self.release_locks();
        match result {
            Ok(Some(lsn)) => self.wait_for_replicas(lsn).map(|()| Some(lsn)),
            other => other,
        }
    }

    fn rollback(mut self: Box<Self>) {
        self.writes.clear();
        self.release_locks();
    }

    fn snapshot_range(&self) -> Option<(Lsn, Lsn)> {
        let (oldest, newest) = self.shared.snapshots.range();
        Some((Lsn(oldest), Lsn(newest)))
    }

    fn approximate_split_keys(
        &mut self,
        from: &[u8],
        to: &[u8],
        parts: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        super::split::approximate_split_keys(&self.shared.db, from, to, parts)
    }
}

impl Drop for RocksTransaction {
    fn drop(&mut self) {
        self.release_locks();
    }
}
