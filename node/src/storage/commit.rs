//! Group commit: many committers, one batch, one fsync.
//!
//! A committing transaction sends a `CommitRequest` (its mutations and
//! before-images) over a channel and blocks on its own reply channel. The
//! single committer thread loops:
//!
//! ```text
//!   recv() one request  ──►  try_recv() every other queued request
//!          │                         (up to max_group)
//!          ▼
//!   assign consecutive LSNs, build ONE WriteBatch:
//!     data  cf: key → [lsn BE][value]   (or delete)
//!     wal   cf: lsn BE → WalRecord      (one per request)
//!     meta  cf: last_lsn → last LSN of the group
//!          ▼
//!   write with sync (fsync) ──► current_lsn = last ──► reply to each waiter
//! ```
//!
//! While one group is being fsynced, new requests queue up and form the next
//! group, so the number of fsyncs grows with time, not with committers.
//!
//! Invariants: the committer is the only writer of the `data` and `wal`
//! column families, so LSNs are dense and assigned in write order; a failed
//! write consumes no LSNs; `current_lsn` moves only after the batch is durable
//! and visible, and every waiter is answered only after that.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{SystemTime, UNIX_EPOCH};

use rocksdb::{WriteBatch, WriteOptions, DB};
use rustydb_sql::storage::Lsn;

use super::engine::{cf, Access, CF_DATA, CF_META, CF_WAL, META_LAST_LSN};
use crate::error::{NodeError, Result};
use crate::wal::{self, Mutation, TimelineHistory, WalRecord};
use parking_lot::RwLock;
use tokio::sync::watch;

/// Adds `entries` to `batch` in the data column family, each value behind
/// the LSN stamp that conflict checks compare with snapshots (`None` deletes).
pub(crate) fn put_stamped(
    batch: &mut WriteBatch,
    data: &rocksdb::ColumnFamily,
    lsn: u64,
    entries: &[Mutation],
) {
    let stamp = lsn.to_be_bytes();
    let mut value = Vec::new();
    for (key, new) in entries {
        match new {
            Some(v) => {
                value.clear();
                value.extend_from_slice(&stamp);
                value.extend_from_slice(v);
                batch.put_cf(data, key, &value);
            }
            None => batch.delete_cf(data, key),
        }
    }
}

/// A group's batch, each record's before-images and each encoded record.
type BuiltBatch = (WriteBatch, Vec<Vec<Mutation>>, Vec<Arc<[u8]>>);

/// What a committing transaction hands to the committer.
pub(crate) struct CommitRequest {
    pub(crate) mutations: Vec<Mutation>,
    pub(crate) before_images: Vec<Mutation>,
    /// Receives the assigned LSN, or why the commit failed.
    pub(crate) reply: mpsc::SyncSender<Result<Lsn, rustydb_sql::Error>>,
}

/// Counters of the group committer, for metrics and the bench example.
#[derive(Debug, Default)]
pub(crate) struct CommitCounters {
    /// Transactions committed.
    pub(crate) commits: AtomicU64,
    /// Batches written (fsyncs, when sync is on).
    pub(crate) groups: AtomicU64,
    /// Moving average of encoded WAL record sizes, for lag-in-bytes estimates.
    pub(crate) avg_record_bytes: AtomicU64,
}

impl CommitCounters {
    /// Folds one record size into the moving average (weight 1/64).
    pub(crate) fn note_record_bytes(&self, bytes: usize) {
        let old = self.avg_record_bytes.load(Ordering::Relaxed);
        let new = if old == 0 {
            bytes as u64
        } else {
            (old * 63 + bytes as u64) / 64
        };
        self.avg_record_bytes.store(new, Ordering::Relaxed);
    }
}

/// Messages to the committer thread.
pub(crate) enum CommitMsg {
    Commit(CommitRequest),
    /// A replica-side log operation (apply, rewind, history change); see
    /// `storage::replica`. Runs on this thread so LSNs keep one writer.
    Replica(super::replica::ReplicaOp),
    /// Finish queued commits, then exit (sent when the storage is dropped).
    Shutdown,
}

/// The committer thread's state.
pub(crate) struct Committer {
    pub(crate) db: Arc<DB>,
    pub(crate) rx: mpsc::Receiver<CommitMsg>,
    pub(crate) current_lsn: Arc<AtomicU64>,
    pub(crate) counters: Arc<CommitCounters>,
    pub(crate) timeline: Arc<AtomicU64>,
    pub(crate) history: Arc<RwLock<TimelineHistory>>,
    pub(crate) lsn_watch: watch::Sender<u64>,
    pub(crate) access: Arc<RwLock<Access>>,
    pub(crate) lease: Arc<super::lease::Lease>,
    pub(crate) sync: bool,
    pub(crate) max_group: usize,
    /// Where each visible group registers its snapshot (fan-out reads).
    pub(crate) snapshots: Arc<super::lsn_snapshots::LsnSnapshots>,
    /// Where each durable record is also put for WAL senders.
    pub(crate) recent_wal: Arc<super::recent_wal::RecentWal>,
}

impl Committer {
    /// The thread body: runs until `Shutdown` or until every sender is gone.
    pub(crate) fn run(self) {
        let mut write_opts = WriteOptions::default();
        write_opts.set_sync(self.sync);
        let mut group = Vec::with_capacity(self.max_group);
        loop {
            match self.rx.recv() {
                Ok(CommitMsg::Commit(req)) => group.push(req),
                Ok(CommitMsg::Replica(op)) => {
                    self.run_replica_op(op, &write_opts);
                    continue;
                }
                Ok(CommitMsg::Shutdown) | Err(_) => break,
            }
            let mut shutdown = false;
            let mut replica_op = None;
            while group.len() < self.max_group {
                match self.rx.try_recv() {
                    Ok(CommitMsg::Commit(req)) => group.push(req),
                    Ok(CommitMsg::Replica(op)) => {
                        replica_op = Some(op);
                        break;
                    }
                    Ok(CommitMsg::Shutdown) => {
                        shutdown = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            self.write_group(&mut group, &write_opts);
            if let Some(op) = replica_op {
                self.run_replica_op(op, &write_opts);
            }
            if shutdown {
                break;
            }
        }
        tracing::debug!("group committer stopped");
    }

    /// Writes one group durably and answers its waiters.
    fn write_group(&self, group: &mut Vec<CommitRequest>, write_opts: &WriteOptions) {
        if matches!(*self.access.read(), Access::ReadOnly | Access::Fenced) {
            // Demoted while these transactions ran: committing now would
            // write records past the point the new primary forks from.
            for req in group.drain(..) {
                let _ = req.reply.send(Err(rustydb_sql::Error::new(
                    rustydb_sql::SqlState::READ_ONLY_SQL_TRANSACTION,
                    "cannot commit: this node is no longer the primary",
                )));
            }
            return;
        }
        if !self.lease.valid() {
            for req in group.drain(..) {
                let _ = req.reply.send(Err(rustydb_sql::Error::new(
                    rustydb_sql::SqlState::READ_ONLY_SQL_TRANSACTION,
                    "cannot commit: this primary's lease has expired (no contact with the manager)",
                )));
            }
            return;
        }
        let first = self.current_lsn.load(Ordering::Acquire) + 1;
        let result = self
            .build_batch(group, first)
            .and_then(|(batch, undo, encoded)| {
                self.db
                    .write_opt(batch, write_opts)
                    .map_err(NodeError::from)?;
                Ok((undo, encoded))
            });
        match result {
            Ok((undo, encoded)) => {
                let last = first + group.len() as u64 - 1;
                // Durable now: senders may ship these (before `current_lsn`
                // moves is fine, they never read past it).
                self.recent_wal.push(first, encoded);
                // Registered before `current_lsn` moves: whoever sees LSN
                // `last` can also read exactly at it.
                self.snapshots.add_group(
                    first,
                    undo,
                    super::snapshot::OwnedSnapshot::take(self.db.clone()),
                );
                self.current_lsn.store(last, Ordering::Release);
                self.lsn_watch.send_replace(last);
                self.counters
                    .commits
                    .fetch_add(group.len() as u64, Ordering::Relaxed);
                self.counters.groups.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(commits = group.len(), last_lsn = last, "group committed");
                if !self.lease.valid() {
                    // Durable only after the lease ran out (the process was
                    // paused mid-commit): never acknowledge it; a rejoin
                    // rewinds it if the new primary does not have it.
                    tracing::warn!(commits = group.len(), "lease expired during commit");
                    for req in group.drain(..) {
                        let _ = req.reply.send(Err(rustydb_sql::Error::new(
                            rustydb_sql::SqlState("40003"),
                            "the primary's lease expired while committing; the transaction is not acknowledged",
                        )));
                    }
                    return;
                }
                for (i, req) in group.drain(..).enumerate() {
                    // A waiter that vanished (its thread died) is not our
                    // problem: its commit is durable regardless.
                    let _ = req.reply.send(Ok(Lsn(first + i as u64)));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, commits = group.len(), "group commit failed");
                let msg = err.to_string();
                for req in group.drain(..) {
                    let _ = req
                        .reply
                        .send(Err(rustydb_sql::Error::Storage(msg.clone())));
                }
            }
        }
    }

    /// Builds the batch for a group whose first LSN is `first`, and hands
    /// back each record's before-images (for reads at LSNs inside the group)
    /// and each encoded record (for `recent_wal`).
    fn build_batch(&self, group: &mut [CommitRequest], first: u64) -> Result<BuiltBatch> {
        let data = cf(&self.db, CF_DATA)?;
        let wal_cf = cf(&self.db, CF_WAL)?;
        let meta = cf(&self.db, CF_META)?;
        let timeline = self.timeline.load(Ordering::Acquire);
        let commit_time_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let mut batch = WriteBatch::default();
        let mut undo = Vec::with_capacity(group.len());
        let mut encoded_all = Vec::with_capacity(group.len());
        let mut lsn = first;
        for req in group.iter_mut() {
            // The record takes the request's lists: after this point the
            // request is only its reply channel.
            let record = WalRecord {
                lsn: Lsn(lsn),
                timeline,
                commit_time_micros,
                mutations: std::mem::take(&mut req.mutations),
                before_images: std::mem::take(&mut req.before_images),
            };
            put_stamped(&mut batch, data, lsn, &record.mutations);
            let encoded: Arc<[u8]> = record.encode().into();
            self.counters.note_record_bytes(encoded.len());
            batch.put_cf(wal_cf, wal::lsn_key(Lsn(lsn)), &*encoded);
            encoded_all.push(encoded);
            // Moved, not copied: the record is done once encoded.
            undo.push(record.before_images);
            lsn += 1;
        }
        batch.put_cf(meta, META_LAST_LSN, (lsn - 1).to_be_bytes());
        Ok((batch, undo, encoded_all))
    }
}
