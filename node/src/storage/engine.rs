//! Opening the RocksDB instance and the `RocksStorage` handle.
//!
//! `RocksStorage::open` creates or opens one RocksDB `DB` with three column
//! families — `data` (every SQL key), `wal` (our log, see `crate::wal`) and
//! `meta` (timeline, last LSN) — recovers the next LSN from them, and starts
//! the group committer thread. There is no redo step: a transaction's data
//! and its WAL record are one atomic RocksDB batch, so after a crash the two
//! agree by construction.
//!
//! Ownership: the handle owns the committer thread and stops it on drop.
//! Transactions hold the `Shared` state (and, through their snapshots, the
//! `DB`) by `Arc`, so RocksDB closes when the handle *and* every transaction
//! are gone; a transaction outliving its storage gets an error on commit.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DBCompressionType,
    DataBlockIndexType, IteratorMode, Options, DB,
};
use rustydb_sql::storage::{Lsn, Storage, SyncCommit, Transaction, TxnOptions};
use tokio::sync::watch;

use super::commit::{CommitCounters, CommitMsg, Committer};
use super::locks::{LockManager, TxnId};
use super::lsn_snapshots::LsnSnapshots;
use super::snapshot::OwnedSnapshot;
use super::txn::RocksTransaction;
use crate::error::{NodeError, Result};
use crate::wal::{self, TimelineHistory, WalRecord};

/// Column family holding all SQL keys; values are `[commit lsn u64 BE][bytes]`.
pub(crate) const CF_DATA: &str = "data";
/// Column family holding WAL records keyed by big-endian LSN.
pub(crate) const CF_WAL: &str = "wal";
/// Column family holding small node facts (timeline, last LSN).
pub(crate) const CF_META: &str = "meta";
/// `meta` key: the current timeline, u64 BE.
pub(crate) const META_TIMELINE: &[u8] = b"timeline";
/// `meta` key: the last LSN written, u64 BE (survives WAL trimming).
pub(crate) const META_LAST_LSN: &[u8] = b"last_lsn";
/// `meta` key: the timeline history, JSON (see `wal::TimelineHistory`).
pub(crate) const META_HISTORY: &[u8] = b"timeline_history";
/// `meta` key: the role the node last ran in (`primary` / `replica`), so a
/// former primary knows to verify its timeline before serving reads.
pub(crate) const META_ROLE: &[u8] = b"role";
/// `meta` key: the database system identifier, u64 BE (see `system_id`).
pub(crate) const META_SYSTEM_ID: &[u8] = b"system_id";
/// `meta` key: present when a manager has enforced the lease on this node.
pub(crate) const META_LEASE: &[u8] = b"lease_enforced";

/// What sessions may do with the storage right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// A primary: reads and writes.
    ReadWrite,
    /// A primary being demoted: new transactions are read-only, those
    /// already open may still commit (switchover drains them).
    Draining,
    /// A replica (hot standby): reads only; writes fail with `25006`.
    ReadOnly,
    /// A node that may hold records of an abandoned timeline: nothing is
    /// served (`57P03`) until it has checked its history with its primary.
    Fenced,
}

/// Waits, after a commit is durable locally, until the replication mode is
/// satisfied (implemented by the replication layer).
pub trait CommitGate: Send + Sync {
    /// Returns once `lsn` is replicated as `level` and the mode require, or
    /// an error (the commit is then *not* acknowledged to the client).
    fn wait(&self, lsn: Lsn, level: SyncCommit) -> rustydb_sql::Result<()>;
}

/// Tuning knobs; every one has a working default (also when read from a
/// config file section with keys missing).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageOptions {
    /// fsync the log on every commit group (on by default; off trades the
    /// last few commits on power loss for speed, never atomicity).
    pub sync: bool,
    /// Shared RocksDB block cache size in bytes.
    pub block_cache_bytes: usize,
    /// Memtable size per column family in bytes.
    pub write_buffer_bytes: usize,
    /// Most commits the group committer puts in one batch.
    pub max_group_commits: usize,
    /// How long an LSN stays readable with `begin_at` after newer records
    /// landed (node config `fanout.snapshot_retention_ms`).
    pub snapshot_retention_ms: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            sync: true,
            // Large enough that a few-million-row table stays cached
            // decompressed: a full scan then never re-inflates blocks (the
            // cache only takes memory as blocks are read).
            block_cache_bytes: 512 << 20,
            write_buffer_bytes: 64 << 20,
            max_group_commits: 1024,
            snapshot_retention_ms: 30_000,
        }
    }
}

/// State shared by the storage handle and its transactions.
pub(crate) struct Shared {
    pub(crate) db: Arc<DB>,
    pub(crate) locks: LockManager,
    /// Last durable (and visible) LSN; written only by the committer.
    pub(crate) current_lsn: Arc<AtomicU64>,
    pub(crate) commit_tx: mpsc::Sender<CommitMsg>,
    next_txn: AtomicU64,
    pub(crate) access: Arc<RwLock<Access>>,
    pub(crate) lease: Arc<super::lease::Lease>,
    pub(crate) gate: RwLock<Option<Arc<dyn CommitGate>>>,
    /// Last durable LSN, for tasks that wait for new records (WAL senders).
    pub(crate) lsn_watch: watch::Sender<u64>,
    pub(crate) history: Arc<RwLock<TimelineHistory>>,
    /// Commit times of large WAL records already read (LSN → µs), see
    /// `RocksStorage::commit_time_of`. Entries leave with their records
    /// (trim, rewind).
    pub(crate) commit_times: Mutex<std::collections::BTreeMap<u64, u64>>,
    /// The oldest retained WAL record's LSN once known (`None`: look it
    /// up). Finding it means reading the first block of the log, which
    /// after a bulk load is a many-megabyte record, so it is remembered:
    /// the log is dense, so trimming to `end` makes `end` the oldest.
    pub(crate) oldest_wal: Mutex<Option<u64>>,
    /// Snapshots keyed by LSN, for reads at a fixed LSN (`begin_at`).
    pub(crate) snapshots: Arc<LsnSnapshots>,
    /// The last durable records, encoded, for WAL senders.
    pub(crate) recent_wal: Arc<super::recent_wal::RecentWal>,
}

impl Shared {
    pub(crate) fn data_cf(&self) -> Result<&ColumnFamily> {
        cf(&self.db, CF_DATA)
    }
}

/// Looks up a column family created at open.
pub(crate) fn cf<'a>(db: &'a DB, name: &str) -> Result<&'a ColumnFamily> {
    db.cf_handle(name)
        .ok_or_else(|| NodeError::Corrupt(format!("column family {name} missing")))
}

/// Group-commit counters since open (see `RocksStorage::commit_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStats {
    /// Write transactions committed.
    pub commits: u64,
    /// Batches written, each with one fsync when `sync` is on.
    pub groups: u64,
}

/// The node's transactional storage over RocksDB.
pub struct RocksStorage {
    pub(crate) shared: Arc<Shared>,
    pub(crate) counters: Arc<CommitCounters>,
    pub(crate) timeline: Arc<AtomicU64>,
    committer: Mutex<Option<JoinHandle<()>>>,
    /// The directory RocksDB lives in.
    pub(crate) dir: std::path::PathBuf,
}

impl RocksStorage {
    /// Opens (creating if needed) the storage in `dir`.
    pub fn open(dir: &Path, options: StorageOptions) -> Result<Arc<RocksStorage>, NodeError> {
        std::fs::create_dir_all(dir)?;
        let cache = Cache::new_lru_cache(options.block_cache_bytes);

        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.increase_parallelism(2);
        db_opts.set_max_background_jobs(2);
        db_opts.set_bytes_per_sync(1 << 20);
        // Commits fsync RocksDB's log; overwriting an old log file in place
        // spares each fdatasync the file-size metadata update an append needs.
        db_opts.set_recycle_log_file_num(4);

        let mut data_table = BlockBasedOptions::default();
        data_table.set_block_cache(&cache);
        data_table.set_bloom_filter(10.0, false);
        data_table.set_cache_index_and_filter_blocks(true);
        data_table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        data_table.set_format_version(5);
        // Point reads (the bulk of OLTP statements) find their key in a data
        // block by hash instead of a binary search over restart points.
        data_table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);
        data_table.set_data_block_hash_ratio(0.75);
        let mut data_opts = Options::default();
        data_opts.set_block_based_table_factory(&data_table);
        data_opts.set_compression_type(DBCompressionType::Lz4);
        data_opts.set_write_buffer_size(options.write_buffer_bytes);
        data_opts.set_level_compaction_dynamic_level_bytes(true);
        // Point lookups of keys still in the memtable skip the skiplist
        // search when the key is absent (inserts check for existence).
        data_opts.set_memtable_whole_key_filtering(true);
        data_opts.set_memtable_prefix_bloom_ratio(0.05);

        let mut wal_table = BlockBasedOptions::default();
        wal_table.set_block_cache(&cache);
        let mut wal_opts = Options::default();
        wal_opts.set_block_based_table_factory(&wal_table);
        wal_opts.set_compression_type(DBCompressionType::Lz4);
        wal_opts.set_write_buffer_size(options.write_buffer_bytes);

        let cfs = vec![
            ColumnFamilyDescriptor::new(CF_DATA, data_opts),
            ColumnFamilyDescriptor::new(CF_WAL, wal_opts),
            ColumnFamilyDescriptor::new(CF_META, Options::default()),
        ];
        let db = Arc::new(DB::open_cf_descriptors(&db_opts, dir, cfs)?);

        let history = load_history(&db)?;
        if db.get_cf(cf(&db, CF_META)?, META_SYSTEM_ID)?.is_none() && recover_last_lsn(&db)? == 0 {
            // A brand-new store: a primary keeps this id; a replica that
            // follows replaces it with its upstream's before holding data.
            let id: u64 = rand::random::<u64>() | 1;
            db.put_cf(cf(&db, CF_META)?, META_SYSTEM_ID, id.to_be_bytes())?;
        }
        let timeline = history.current();
        let last_lsn = recover_last_lsn(&db)?;
        tracing::info!(dir = %dir.display(), timeline, last_lsn, "storage opened");

        let current_lsn = Arc::new(AtomicU64::new(last_lsn));
        let timeline = Arc::new(AtomicU64::new(timeline));
        let history = Arc::new(RwLock::new(history));
        let (lsn_watch, _) = watch::channel(last_lsn);
        let access = Arc::new(RwLock::new(Access::ReadWrite));
        let lease = Arc::new(super::lease::Lease::default());
        if db.get_cf(cf(&db, CF_META)?, META_LEASE)?.is_some() {
            // A manager governed this node before the restart: no commit
            // until it renews the lease (it may have promoted another node
            // meanwhile).
            lease.revoke();
        }
        let counters = Arc::new(CommitCounters::default());
        let snapshots = Arc::new(LsnSnapshots::new(
            last_lsn,
            OwnedSnapshot::take(db.clone()),
            std::time::Duration::from_millis(options.snapshot_retention_ms),
        ));
        let recent_wal = Arc::new(super::recent_wal::RecentWal::default());
        let (commit_tx, commit_rx) = mpsc::channel();
        let committer = Committer {
            db: db.clone(),
            rx: commit_rx,
            current_lsn: current_lsn.clone(),
            counters: counters.clone(),
            timeline: timeline.clone(),
            history: history.clone(),
            lsn_watch: lsn_watch.clone(),
            access: access.clone(),
            lease: lease.clone(),
            sync: options.sync,
            max_group: options.max_group_commits.max(1),
            snapshots: snapshots.clone(),
            recent_wal: recent_wal.clone(),
        };
        let handle = std::thread::Builder::new()
            .name("rustydb-commit".into())
            .spawn(move || committer.run())?;

        let shared = Arc::new(Shared {
            db,
            locks: LockManager::default(),
            current_lsn,
            commit_tx,
            next_txn: AtomicU64::new(1),
            access,
            lease,
            gate: RwLock::new(None),
            lsn_watch,
            history,
            commit_times: Mutex::new(Default::default()),
            oldest_wal: Mutex::new(None),
            snapshots,
            recent_wal,
        });
        Ok(Arc::new(RocksStorage {
            shared,
            counters,
            timeline,
            committer: Mutex::new(Some(handle)),
            dir: dir.to_path_buf(),
        }))
    }

    /// Up to `limit` WAL records starting at LSN `from`, in LSN order. A gap
    /// or a record that does not decode is an error.
    pub fn read_wal(&self, from: Lsn, limit: usize) -> Result<Vec<WalRecord>, NodeError> {
        let db = &self.shared.db;
        let mut iter = db.raw_iterator_cf(cf(db, CF_WAL)?);
        iter.seek(wal::lsn_key(from));
        let mut out: Vec<WalRecord> = Vec::new();
        if let Some(key) = iter.key() {
            let first = wal::key_lsn(key)?;
            if first != from {
                return Err(NodeError::WalGone {
                    wanted: from.0,
                    oldest: first.0,
                });
            }
        } else if from.0 <= self.shared.current_lsn.load(Ordering::Acquire) {
            return Err(NodeError::WalGone {
                wanted: from.0,
                oldest: self.shared.current_lsn.load(Ordering::Acquire) + 1,
            });
        }
        while out.len() < limit {
            let Some((key, value)) = iter.item() else {
                break;
            };
            let lsn = wal::key_lsn(key)?;
            let record = WalRecord::decode(value)?;
            if record.lsn != lsn {
                return Err(NodeError::Corrupt(format!(
                    "WAL key {} holds record {}",
                    lsn.0, record.lsn.0
                )));
            }
            if let Some(prev) = out.last() {
                if prev.lsn.0 + 1 != lsn.0 {
                    return Err(NodeError::Corrupt(format!(
                        "WAL gap between {} and {}",
                        prev.lsn.0, lsn.0
                    )));
                }
            }
            out.push(record);
            iter.next();
        }
        iter.status()?;
        Ok(out)
    }

    /// Deletes WAL records with LSN below `keep_from` (clamped to the next
    /// LSN), e.g. once every replica has them. Recovery does not need them:
    /// the last LSN is also kept in `meta`.
    pub fn trim_wal(&self, keep_from: Lsn) -> Result<(), NodeError> {
        let db = &self.shared.db;
        let next = self.shared.current_lsn.load(Ordering::Acquire) + 1;
        let end = keep_from.0.min(next);
        if end > 1 {
            db.delete_range_cf(
                cf(db, CF_WAL)?,
                wal::lsn_key(Lsn(0)),
                wal::lsn_key(Lsn(end)),
            )?;
            let mut times = self.shared.commit_times.lock();
            *times = times.split_off(&end);
            let mut oldest = self.shared.oldest_wal.lock();
            if let Some(known) = *oldest {
                *oldest = Some(known.max(end));
            }
            tracing::debug!(below = end, "WAL trimmed");
        }
        Ok(())
    }

    /// A read-only transaction and the exact LSN its snapshot holds (every
    /// commit up to it, none after), for a consistent initial copy.
    pub fn begin_exact(&self) -> Result<(Box<dyn Transaction>, Lsn), NodeError> {
        let id = TxnId(self.shared.next_txn.fetch_add(1, Ordering::Relaxed));
        let txn = RocksTransaction::new(
            self.shared.clone(),
            id,
            TxnOptions {
                read_only: true,
                ..Default::default()
            },
        );
        let lsn = txn.snapshot_exact_lsn()?;
        Ok((Box::new(txn), Lsn(lsn)))
    }

    /// The current timeline (1 on a fresh node).
    pub fn timeline(&self) -> u64 {
        self.timeline.load(Ordering::Acquire)
    }

    /// Write transactions committed and batches (fsyncs) written since
    /// open; `commits / groups` is the mean group-commit size.
    pub fn commit_stats(&self) -> CommitStats {
        CommitStats {
            commits: self.counters.commits.load(Ordering::Relaxed),
            groups: self.counters.groups.load(Ordering::Relaxed),
        }
    }

    /// Number of keys locked right now by any transaction.
    pub fn locked_keys(&self) -> usize {
        self.shared.locks.len()
    }
}

impl Storage for RocksStorage {
    fn begin(&self, mut options: TxnOptions) -> rustydb_sql::Result<Box<dyn Transaction>> {
        match *self.shared.access.read() {
            Access::ReadWrite => {}
            Access::ReadOnly | Access::Draining => options.read_only = true,
            Access::Fenced => {
                return Err(rustydb_sql::Error::new(
                    rustydb_sql::SqlState("57P03"),
                    "the database system is not accepting connections: \
                     checking its timeline with the new primary",
                ))
            }
        }
        let id = TxnId(self.shared.next_txn.fetch_add(1, Ordering::Relaxed));
        Ok(Box::new(RocksTransaction::new(
            self.shared.clone(),
            id,
            options,
        )))
    }

    fn current_lsn(&self) -> Lsn {
        Lsn(self.shared.current_lsn.load(Ordering::Acquire))
    }

    fn in_recovery(&self) -> bool {
        matches!(
            *self.shared.access.read(),
            Access::ReadOnly | Access::Fenced
        )
    }

    fn timeline(&self) -> u64 {
        self.timeline()
    }

    fn begin_at(
        &self,
        lsn: Lsn,
        mut options: TxnOptions,
    ) -> rustydb_sql::Result<Box<dyn Transaction>> {
        if *self.shared.access.read() == Access::Fenced {
            return self.begin(options);
        }
        options.read_only = true;
        super::lsn_txn::begin_at(self.shared.clone(), lsn, options)
    }
}

impl Drop for RocksStorage {
    fn drop(&mut self) {
        // Commits already queued are finished first: the committer drains
        // its channel in order and sees Shutdown last.
        let _ = self.shared.commit_tx.send(CommitMsg::Shutdown);
        if let Some(handle) = self.committer.lock().take() {
            if handle.join().is_err() {
                tracing::error!("group committer thread panicked");
            }
        }
    }
}

/// The last LSN on disk: the larger of the newest `wal` key and the
/// `last_lsn` meta entry (which outlives trimmed WAL records).
fn recover_last_lsn(db: &DB) -> Result<u64> {
    let mut last = match db.get_cf(cf(db, CF_META)?, META_LAST_LSN)? {
        Some(bytes) => read_u64(&bytes, "last_lsn")?,
        None => 0,
    };
    if let Some(item) = db.iterator_cf(cf(db, CF_WAL)?, IteratorMode::End).next() {
        let (key, _) = item?;
        last = last.max(wal::key_lsn(&key)?.0);
    }
    Ok(last)
}

/// The stored timeline history; a store from before histories existed (or a
/// fresh one) starts with timeline 1 from LSN 1, written now.
fn load_history(db: &DB) -> Result<TimelineHistory> {
    let meta = cf(db, CF_META)?;
    if let Some(bytes) = db.get_cf(meta, META_HISTORY)? {
        return TimelineHistory::decode(&bytes);
    }
    let mut history = TimelineHistory::initial();
    if let Some(bytes) = db.get_cf(meta, META_TIMELINE)? {
        let timeline = read_u64(&bytes, "timeline")?;
        if let Some(first) = history.entries.first_mut() {
            first.timeline = timeline;
        }
    }
    db.put_cf(meta, META_HISTORY, history.encode())?;
    db.put_cf(meta, META_TIMELINE, history.current().to_be_bytes())?;
    Ok(history)
}

pub(crate) fn read_u64(bytes: &[u8], what: &str) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| NodeError::Corrupt(format!("meta {what} has {} bytes", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}
