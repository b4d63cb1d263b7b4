//! Log operations a replica (and a promotion) needs: apply, rewind, history.
//!
//! A replica's storage is written by exactly one thing: records arriving from
//! its upstream. `apply` hands a batch of decoded records to the committer
//! thread (the single writer of `data`, `wal` and the LSN counter), which
//! checks that they continue the log without a gap and on the timeline the
//! history expects, then writes their data, the records themselves and the
//! new last LSN in ONE fsynced batch. Readers use RocksDB snapshots, so they
//! see a record entirely or not at all.
//!
//! `rewind_to` is our `pg_rewind`: it undoes the records past a fork point
//! with their before-images, newest first, and deletes them from the log, all
//! in one batch. Restored values are stamped with the fork LSN: the stamp is
//! only compared with snapshot LSNs (write-conflict checks), and every later
//! snapshot is at or past the fork.
//!
//! `set_history` replaces the timeline history (adopting the upstream's, or
//! appending a timeline on promotion).

use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};

use rocksdb::{WriteBatch, WriteOptions};
use rustydb_sql::storage::Lsn;
use tokio::sync::watch;

use super::commit::{put_stamped, CommitMsg, Committer};
use super::engine::{
    cf, Access, CommitGate, RocksStorage, CF_DATA, CF_META, CF_WAL, META_HISTORY, META_LAST_LSN,
    META_LEASE, META_ROLE, META_SYSTEM_ID, META_TIMELINE,
};
use crate::error::{NodeError, Result};
use crate::wal::{self, TimelineEntry, TimelineHistory, WalRecord};

type Reply<T> = mpsc::SyncSender<Result<T>>;

/// A replica-side operation run on the committer thread.
pub(crate) enum ReplicaOp {
    Apply {
        records: Vec<WalRecord>,
        reply: Reply<Lsn>,
    },
    /// `Apply` for an async caller: the committer's answer wakes the task
    /// directly (no blocking thread in between).
    ApplyNotify {
        records: Vec<WalRecord>,
        reply: tokio::sync::oneshot::Sender<Result<Lsn>>,
    },
    Rewind {
        to: Lsn,
        reply: Reply<()>,
    },
    /// Answers with the last LSN once every commit queued before it is done.
    Barrier {
        reply: Reply<Lsn>,
    },
    SetHistory {
        history: TimelineHistory,
        reply: Reply<()>,
    },
    NewTimeline {
        reason: String,
        reply: Reply<TimelineEntry>,
    },
}

impl Committer {
    pub(crate) fn run_replica_op(&self, op: ReplicaOp, write_opts: &WriteOptions) {
        match op {
            ReplicaOp::Apply { records, reply } => {
                let _ = reply.send(self.apply(records, write_opts));
            }
            ReplicaOp::ApplyNotify { records, reply } => {
                let _ = reply.send(self.apply(records, write_opts));
            }
            ReplicaOp::Barrier { reply } => {
                let _ = reply.send(Ok(Lsn(self.current_lsn.load(Ordering::Acquire))));
            }
            ReplicaOp::Rewind { to, reply } => {
                let _ = reply.send(self.rewind(to, write_opts));
            }
            ReplicaOp::SetHistory { history, reply } => {
                let _ = reply.send(self.set_history(history, write_opts));
            }
            ReplicaOp::NewTimeline { reason, reply } => {
                let _ = reply.send(self.new_timeline(&reason, write_opts));
            }
        }
    }

    /// Appends a timeline starting right after the last LSN. Computed on
    /// this thread so no record can land between reading the LSN and
    /// switching the timeline.
    fn new_timeline(&self, reason: &str, write_opts: &WriteOptions) -> Result<TimelineEntry> {
        let mut history = self.history.read().clone();
        let start = self.current_lsn.load(Ordering::Acquire) + 1;
        history.push(start, reason, now_micros());
        let entry = history
            .entries
            .last()
            .cloned()
            .ok_or_else(|| NodeError::Corrupt("empty timeline history".into()))?;
        self.set_history(history, write_opts)?;
        Ok(entry)
    }

    fn apply(&self, records: Vec<WalRecord>, write_opts: &WriteOptions) -> Result<Lsn> {
        let data = cf(&self.db, CF_DATA)?;
        let wal_cf = cf(&self.db, CF_WAL)?;
        let meta = cf(&self.db, CF_META)?;
        let mut expected = self.current_lsn.load(Ordering::Acquire) + 1;
        let history = self.history.read().clone();
        let mut batch = WriteBatch::default();
        let mut encoded_all = Vec::with_capacity(records.len());
        for record in &records {
            if record.lsn.0 != expected {
                return Err(NodeError::Replication(format!(
                    "gap in the stream: expected LSN {expected}, received {}",
                    record.lsn.0
                )));
            }
            let timeline = history.timeline_at(record.lsn.0);
            if record.timeline != timeline {
                return Err(NodeError::Replication(format!(
                    "timeline mismatch at LSN {}: record is on timeline {}, history says {}",
                    record.lsn.0, record.timeline, timeline
                )));
            }
            put_stamped(&mut batch, data, record.lsn.0, &record.mutations);
            let encoded: Arc<[u8]> = record.encode().into();
            self.counters.note_record_bytes(encoded.len());
            batch.put_cf(wal_cf, wal::lsn_key(record.lsn), &*encoded);
            encoded_all.push(encoded);
            expected += 1;
        }
        let last = expected - 1;
        batch.put_cf(meta, META_LAST_LSN, last.to_be_bytes());
        self.db.write_opt(batch, write_opts)?;
        let first = records.first().map_or(last + 1, |r| r.lsn.0);
        // For cascaded replicas this node feeds.
        self.recent_wal.push(first, encoded_all);
        let count = records.len();
        let undo = records.into_iter().map(|r| r.before_images).collect();
        // Before `current_lsn` moves, as on the primary (see lsn_snapshots).
        self.snapshots.add_group(
            first,
            undo,
            super::snapshot::OwnedSnapshot::take(self.db.clone()),
        );
        self.current_lsn.store(last, Ordering::Release);
        self.lsn_watch.send_replace(last);
        self.counters
            .commits
            .fetch_add(count as u64, Ordering::Relaxed);
        Ok(Lsn(last))
    }

    fn rewind(&self, to: Lsn, write_opts: &WriteOptions) -> Result<()> {
        let current = self.current_lsn.load(Ordering::Acquire);
        if to.0 >= current {
            return Ok(());
        }
        let data = cf(&self.db, CF_DATA)?;
        let wal_cf = cf(&self.db, CF_WAL)?;
        let meta = cf(&self.db, CF_META)?;
        let records = read_records(&self.db, to.0 + 1, current)?;
        let mut batch = WriteBatch::default();
        for record in records.iter().rev() {
            put_stamped(&mut batch, data, to.0, &record.before_images);
        }
        batch.delete_range_cf(
            wal_cf,
            wal::lsn_key(Lsn(to.0 + 1)),
            wal::lsn_key(Lsn(current + 1)),
        );
        batch.put_cf(meta, META_LAST_LSN, to.0.to_be_bytes());
        // The LSNs past the fork will be reused by other records (cleared
        // first: nothing may serve them from memory once they are undone).
        self.recent_wal.clear();
        self.db.write_opt(batch, write_opts)?;
        // History past the fork is gone: so are the snapshots that show it.
        self.snapshots
            .reset(to.0, super::snapshot::OwnedSnapshot::take(self.db.clone()));
        self.current_lsn.store(to.0, Ordering::Release);
        self.lsn_watch.send_replace(to.0);
        tracing::warn!(
            from = current,
            to = to.0,
            undone = records.len(),
            "rewound the log to the fork point"
        );
        Ok(())
    }

    fn set_history(&self, history: TimelineHistory, write_opts: &WriteOptions) -> Result<()> {
        history.validate()?;
        let meta = cf(&self.db, CF_META)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(meta, META_HISTORY, history.encode());
        batch.put_cf(meta, META_TIMELINE, history.current().to_be_bytes());
        self.db.write_opt(batch, write_opts)?;
        self.timeline.store(history.current(), Ordering::Release);
        *self.history.write() = history;
        Ok(())
    }
}

/// Records `from..=to` from the log; every one must be there.
fn read_records(db: &rocksdb::DB, from: u64, to: u64) -> Result<Vec<WalRecord>> {
    let mut iter = db.raw_iterator_cf(cf(db, CF_WAL)?);
    iter.seek(wal::lsn_key(Lsn(from)));
    let mut out = Vec::new();
    let mut expected = from;
    while expected <= to {
        let Some((key, value)) = iter.item() else {
            break;
        };
        let lsn = wal::key_lsn(key)?;
        if lsn.0 != expected {
            break;
        }
        out.push(WalRecord::decode(value)?);
        expected += 1;
        iter.next();
    }
    iter.status()?;
    if expected <= to {
        return Err(NodeError::WalGone {
            wanted: expected,
            oldest: expected + 1,
        });
    }
    Ok(out)
}

impl RocksStorage {
    fn replica_op<T>(&self, make: impl FnOnce(Reply<T>) -> ReplicaOp) -> Result<T> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.shared
            .commit_tx
            .send(CommitMsg::Replica(make(reply)))
            .map_err(|_| NodeError::ShutDown)?;
        answer.recv().map_err(|_| NodeError::ShutDown)?
    }

    /// Applies records received from the upstream, atomically and durably;
    /// returns the new last LSN. A gap or a timeline mismatch is an error
    /// and nothing of the batch is applied.
    pub fn apply(&self, records: Vec<WalRecord>) -> Result<Lsn> {
        if records.is_empty() {
            return Ok(self.last_lsn());
        }
        self.replica_op(|reply| ReplicaOp::Apply { records, reply })
    }

    /// `apply` for async callers (the WAL receiver): queues the batch on the
    /// committer thread and awaits its answer without blocking a thread.
    pub async fn apply_async(&self, records: Vec<WalRecord>) -> Result<Lsn> {
        if records.is_empty() {
            return Ok(self.last_lsn());
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.shared
            .commit_tx
            .send(CommitMsg::Replica(ReplicaOp::ApplyNotify {
                records,
                reply,
            }))
            .map_err(|_| NodeError::ShutDown)?;
        answer.await.map_err(|_| NodeError::ShutDown)?
    }

    /// The last LSN after every commit queued so far has been written (or
    /// refused): with the node no longer read-write, this is final.
    pub fn barrier(&self) -> Result<Lsn> {
        self.replica_op(|reply| ReplicaOp::Barrier { reply })
    }

    /// Undoes every record after `to` (see the module notes). Fails with
    /// `WalGone` when a needed record was trimmed: re-clone instead.
    pub fn rewind_to(&self, to: Lsn) -> Result<()> {
        // Records after `to` go away and their LSNs will be reused.
        let forget = || {
            let mut times = self.shared.commit_times.lock();
            times.split_off(&(to.0 + 1));
            // A rewind past the oldest record empties the log.
            *self.shared.oldest_wal.lock() = None;
        };
        forget();
        let result = self.replica_op(|reply| ReplicaOp::Rewind { to, reply });
        forget();
        result
    }

    /// Replaces the timeline history (durably) and the current timeline.
    pub fn set_history(&self, history: TimelineHistory) -> Result<()> {
        self.replica_op(|reply| ReplicaOp::SetHistory { history, reply })
    }

    /// Starts a new timeline at the next LSN (promotion).
    pub fn start_timeline(&self, reason: &str) -> Result<TimelineEntry> {
        let reason_owned = reason.to_string();
        let entry = self.replica_op(|reply| ReplicaOp::NewTimeline {
            reason: reason_owned,
            reply,
        })?;
        tracing::info!(
            timeline = entry.timeline,
            start_lsn = entry.start_lsn,
            reason,
            "new timeline"
        );
        Ok(entry)
    }

    /// The timeline history.
    pub fn history(&self) -> TimelineHistory {
        self.shared.history.read().clone()
    }

    /// The last durable LSN.
    pub fn last_lsn(&self) -> Lsn {
        Lsn(self.shared.current_lsn.load(Ordering::Acquire))
    }

    /// Watches the last durable LSN (WAL senders wait on it).
    pub fn subscribe_lsn(&self) -> watch::Receiver<u64> {
        self.shared.lsn_watch.subscribe()
    }

    /// What sessions may do now.
    pub fn access(&self) -> Access {
        *self.shared.access.read()
    }

    /// Changes what sessions may do. Transactions already open keep the
    /// access they began with, but a commit on a node that is no longer
    /// read-write fails (see the committer).
    pub fn set_access(&self, access: Access) {
        *self.shared.access.write() = access;
    }

    /// Installs (or removes) the replication wait run after each commit.
    pub fn set_commit_gate(&self, gate: Option<Arc<dyn CommitGate>>) {
        *self.shared.gate.write() = gate;
    }

    /// The role recorded at the last role change (`primary`, `replica`).
    pub fn last_role(&self) -> Result<Option<String>> {
        let db = &self.shared.db;
        Ok(db
            .get_cf(cf(db, CF_META)?, META_ROLE)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Records the role durably.
    pub fn set_last_role(&self, role: &str) -> Result<()> {
        let db = &self.shared.db;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        db.put_cf_opt(cf(db, CF_META)?, META_ROLE, role.as_bytes(), &opts)?;
        Ok(())
    }

    /// The oldest LSN still in the log, if any record is.
    pub fn oldest_wal_lsn(&self) -> Result<Option<Lsn>> {
        let last = self.shared.current_lsn.load(Ordering::Acquire);
        if let Some(oldest) = *self.shared.oldest_wal.lock() {
            // Dense log: every record from `oldest` to the last is there.
            return Ok((oldest <= last).then_some(Lsn(oldest)));
        }
        let db = &self.shared.db;
        let mut iter = db.raw_iterator_cf(cf(db, CF_WAL)?);
        iter.seek_to_first();
        match iter.key() {
            Some(key) => {
                let oldest = wal::key_lsn(key)?;
                *self.shared.oldest_wal.lock() = Some(oldest.0);
                Ok(Some(oldest))
            }
            None => {
                iter.status()?;
                Ok(None)
            }
        }
    }

    /// Commit time (µs since the epoch) of the record at `lsn`, if retained.
    ///
    /// WAL retention binary-searches commit times every second. A bulk load
    /// leaves records of many megabytes, and small records next to them
    /// share their RocksDB block, so a read can mean decompressing
    /// megabytes; every time read is remembered (a record never changes
    /// while it exists; trim and rewind drop the entries).
    pub fn commit_time_of(&self, lsn: Lsn) -> Result<Option<u64>> {
        /// Most remembered times; the older half goes when full.
        const REMEMBER_AT_MOST: usize = 4096;
        if let Some(time) = self.shared.commit_times.lock().get(&lsn.0) {
            return Ok(Some(*time));
        }
        let db = &self.shared.db;
        match db.get_pinned_cf(cf(db, CF_WAL)?, wal::lsn_key(lsn))? {
            Some(bytes) => {
                let time = WalRecord::peek_commit_time(&bytes)?;
                let mut times = self.shared.commit_times.lock();
                if times.len() >= REMEMBER_AT_MOST {
                    if let Some(&middle) = times.keys().nth(REMEMBER_AT_MOST / 2) {
                        *times = times.split_off(&middle);
                    }
                }
                times.insert(lsn.0, time);
                Ok(Some(time))
            }
            None => Ok(None),
        }
    }

    /// Estimated bytes of log between two LSNs (moving average record size).
    pub fn estimate_wal_bytes(&self, records: u64) -> u64 {
        records.saturating_mul(self.counters.avg_record_bytes.load(Ordering::Relaxed))
    }

    /// Writes a consistent RocksDB checkpoint (hard links where possible)
    /// into `target`, which must not exist; returns the LSN it holds.
    pub fn checkpoint(&self, target: &std::path::Path) -> Result<Lsn> {
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(&self.shared.db)?;
        checkpoint.create_checkpoint(target)?;
        // The checkpoint holds at least everything durable before it was
        // taken; its exact LSN is read back by whoever opens it.
        Ok(self.last_lsn())
    }

    /// Like `read_wal_raw` but only from the in-memory tail of the log
    /// (no I/O, no blocking): `None` when that tail does not hold `from`.
    pub fn read_wal_recent(
        &self,
        from: Lsn,
        max_records: usize,
        max_bytes: usize,
    ) -> Option<Vec<(Lsn, Arc<[u8]>)>> {
        let last = self.shared.current_lsn.load(Ordering::Acquire);
        if from.0 > last {
            // Nothing new: known without looking anywhere.
            return Some(Vec::new());
        }
        self.shared
            .recent_wal
            .read(from.0, last, max_records, max_bytes)
    }

    /// Up to `max_records` raw (encoded) records from `from`, stopping once
    /// `max_bytes` is reached; dense, starting exactly at `from` (else
    /// `WalGone`). Empty when `from` is past the end.
    pub fn read_wal_raw(
        &self,
        from: Lsn,
        max_records: usize,
        max_bytes: usize,
    ) -> Result<Vec<(Lsn, Vec<u8>)>> {
        let db = &self.shared.db;
        let last = self.shared.current_lsn.load(Ordering::Acquire);
        if from.0 > last {
            return Ok(Vec::new());
        }
        let mut iter = db.raw_iterator_cf(cf(db, CF_WAL)?);
        iter.seek(wal::lsn_key(from));
        let mut out: Vec<(Lsn, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut expected = from.0;
        while out.len() < max_records && bytes < max_bytes && expected <= last {
            let Some((key, value)) = iter.item() else {
                break;
            };
            let lsn = wal::key_lsn(key)?;
            if lsn.0 != expected {
                break;
            }
            bytes += value.len();
            out.push((lsn, value.to_vec()));
            expected += 1;
            iter.next();
        }
        iter.status()?;
        if out.is_empty() {
            let oldest = self.oldest_wal_lsn()?.map_or(last + 1, |l| l.0);
            return Err(NodeError::WalGone {
                wanted: from.0,
                oldest,
            });
        }
        Ok(out)
    }

    /// The identifier of the database system (shared by a primary and all
    /// its replicas; 0 until set). Refuses to mix unrelated clusters.
    pub fn system_id(&self) -> Result<u64> {
        let db = &self.shared.db;
        match db.get_cf(cf(db, CF_META)?, META_SYSTEM_ID)? {
            Some(bytes) => super::engine::read_u64(&bytes, "system_id"),
            None => Ok(0),
        }
    }

    /// Sets the system identifier (a fresh node adopts its upstream's).
    pub fn set_system_id(&self, id: u64) -> Result<()> {
        let db = &self.shared.db;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        db.put_cf_opt(cf(db, CF_META)?, META_SYSTEM_ID, id.to_be_bytes(), &opts)?;
        Ok(())
    }

    /// True when no transaction uses this storage any more.
    pub fn is_idle(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }

    /// The primary's lease (renewed by the manager's heartbeats).
    pub fn lease(&self) -> &super::lease::Lease {
        &self.shared.lease
    }

    /// Renews the lease; the first renewal is recorded durably, so after a
    /// restart the node starts without a lease instead of without a limit.
    pub fn renew_lease(&self, ttl: std::time::Duration) -> Result<()> {
        if self.shared.lease.remaining().is_none() {
            self.set_meta_flag(META_LEASE, true)?;
        }
        self.shared.lease.renew(ttl);
        Ok(())
    }

    /// Stops enforcing the lease, durably.
    pub fn disable_lease(&self) -> Result<()> {
        self.set_meta_flag(META_LEASE, false)?;
        self.shared.lease.disable();
        Ok(())
    }

    fn set_meta_flag(&self, key: &[u8], on: bool) -> Result<()> {
        let db = &self.shared.db;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        let meta = cf(db, CF_META)?;
        if on {
            db.put_cf_opt(meta, key, b"1", &opts)?;
        } else {
            db.delete_cf_opt(meta, key, &opts)?;
        }
        Ok(())
    }

    /// The directory the RocksDB files live in.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The kind of access the storage is in, as a word for status output.
    pub fn role_name(&self) -> &'static str {
        match self.access() {
            Access::ReadWrite | Access::Draining => "primary",
            Access::ReadOnly | Access::Fenced => "replica",
        }
    }
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}
