//! The storage seam: a transactional, ordered key-value store.
//!
//! The SQL engine keeps everything (catalog, rows, index entries, sequence
//! state) as byte keys and values in one ordered key space and reaches it only
//! through the two traits below. The node implements them over RocksDB with a
//! write-ahead log and group commit; `memory::MemoryStorage` implements them
//! in memory for the engine's own tests.
//!
//! Semantics every implementation must keep (the executor relies on them):
//! - **Own writes are visible.** `get` and `scan` see the transaction's
//!   uncommitted puts and deletes merged over its snapshot.
//! - **Snapshots.** A transaction reads from a snapshot. Under
//!   `ReadCommitted`, `new_statement` moves the snapshot to the latest
//!   committed state (called before each statement); under `RepeatableRead`
//!   the snapshot taken at `begin` stays.
//! - **Row locks.** `lock`, `put` and `delete` take an exclusive lock on the
//!   key, held until commit or rollback (not released by `rollback_to`). A
//!   conflicting lock blocks; a wait cycle fails one waiter with `40P01`. Once
//!   the lock is held, `lock` returns the key's *latest committed* value (with
//!   own writes merged), not the snapshot's: that is how READ COMMITTED
//!   re-checks a row after waiting. Under `RepeatableRead`, a key whose
//!   latest committed version is newer than the snapshot fails with `40001`.
//! - **Atomic, durable commit.** `commit` makes all writes visible at once
//!   and returns only when they are durable; a transaction with no writes
//!   commits without touching the log and returns `None`.
//! - **Cancellation.** A blocked lock wait gives up with `57014` when the
//!   transaction's cancel flag is set.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::Result;

/// A log sequence number: the position of a committed transaction in the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Lsn(pub u64);

impl std::fmt::Display for Lsn {
    /// Shown like PostgreSQL's `pg_lsn`: two hex halves.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xffff_ffff)
    }
}

/// Transaction isolation levels we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    #[default]
    ReadCommitted,
    /// Snapshot isolation; also what `SERIALIZABLE` gets.
    RepeatableRead,
}

/// How a transaction is started.
#[derive(Debug, Clone, Default)]
pub struct TxnOptions {
    pub isolation: Isolation,
    pub read_only: bool,
    /// Set by a CancelRequest; lock waits and long scans give up with `57014`.
    pub cancel: Option<Arc<AtomicBool>>,
}

/// How long a commit waits for replicas: PostgreSQL's `synchronous_commit`,
/// read by the session at COMMIT and handed to the transaction. On a node
/// whose commit mode is `async`, every level behaves like `Local`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncCommit {
    /// `off`: do not wait for replicas (the local log is still fsynced).
    Off,
    /// `local`: wait for the local fsync only.
    Local,
    /// `remote_write`: replicas have received and written the record.
    RemoteWrite,
    /// `on` (the default): replicas have flushed the record.
    #[default]
    On,
    /// `remote_apply`: replicas have applied the record (visible to readers).
    RemoteApply,
}

/// One row of `pg_stat_replication` / `rustydb_stat_replication`: a replica
/// streaming from this node, as the sending node sees it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReplicationStat {
    /// The replica's node name (PostgreSQL's `application_name`).
    pub name: String,
    /// The replica's address as seen by the sender.
    pub client_addr: String,
    /// Microseconds since the Unix epoch when the stream started.
    pub backend_start_micros: i64,
    /// `startup`, `catchup` or `streaming`.
    pub state: String,
    pub sent_lsn: Lsn,
    pub write_lsn: Lsn,
    pub flush_lsn: Lsn,
    pub replay_lsn: Lsn,
    /// Time from commit on the primary to the replica's acknowledgement,
    /// for the last acknowledged record (milliseconds); `None` when idle.
    pub write_lag_ms: Option<f64>,
    pub flush_lag_ms: Option<f64>,
    pub replay_lag_ms: Option<f64>,
    /// Records and (estimated) bytes the replica's applied LSN is behind.
    pub lag_records: u64,
    pub lag_bytes: u64,
    /// Priority in the synchronous standby list (0 = not a candidate).
    pub sync_priority: i32,
    /// `async`, `potential`, `sync` or `quorum`.
    pub sync_state: String,
    /// Microseconds since the Unix epoch of the replica's last reply.
    pub reply_time_micros: Option<i64>,
}

/// Where a replica is in the stream (`pg_last_wal_replay_lsn()` and friends).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryStatus {
    /// Last LSN received and written locally.
    pub receive_lsn: Lsn,
    /// Last LSN applied (visible to readers).
    pub replay_lsn: Lsn,
    /// Commit time (µs since the epoch) of the last applied record.
    pub last_replay_micros: Option<i64>,
}

/// A savepoint inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavepointId(pub u64);

/// A key-value pair read from storage.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A page of scanned key-value pairs packed into one buffer (see
/// `Transaction::scan_page`): `data` holds key then value of each pair back
/// to back, `spans` where each key ends and each value ends.
#[derive(Debug, Default)]
pub struct ScanPage {
    data: Vec<u8>,
    /// Per pair: (key start, key end = value start, value end).
    spans: Vec<(usize, usize, usize)>,
}

impl ScanPage {
    /// Empties the page, keeping its buffers.
    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
    }

    /// Appends one pair.
    pub fn push(&mut self, key: &[u8], value: &[u8]) {
        let start = self.data.len();
        self.data.extend_from_slice(key);
        let mid = self.data.len();
        self.data.extend_from_slice(value);
        self.spans.push((start, mid, self.data.len()));
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the page holds no pair.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes held (keys and values).
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    /// Pair `i` as (key, value); `None` past the end.
    pub fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        let &(start, mid, end) = self.spans.get(i)?;
        Some((self.data.get(start..mid)?, self.data.get(mid..end)?))
    }

    /// The last pair's key.
    pub fn last_key(&self) -> Option<&[u8]> {
        let &(start, mid, _) = self.spans.last()?;
        self.data.get(start..mid)
    }
}

/// A store that begins transactions.
pub trait Storage: Send + Sync + 'static {
    /// Starts a transaction.
    fn begin(&self, options: TxnOptions) -> Result<Box<dyn Transaction>>;

    /// The LSN of the last durable commit.
    fn current_lsn(&self) -> Lsn;

    /// True on a replica (PostgreSQL's hot standby): every transaction is
    /// read-only and `pg_is_in_recovery()` answers true.
    fn in_recovery(&self) -> bool {
        false
    }

    /// The replica's position, when `in_recovery`.
    fn recovery_status(&self) -> Option<RecoveryStatus> {
        None
    }

    /// The replicas streaming from this node.
    fn replication_stats(&self) -> Vec<ReplicationStat> {
        Vec::new()
    }

    /// The node's current timeline (1 until the first promotion).
    fn timeline(&self) -> u64 {
        1
    }

    /// Starts a read-only transaction that sees the state exactly as of
    /// `lsn` (every record with an LSN up to it applied, none after), for
    /// `SET rustydb.read_lsn` and parallel fan-out (see `crate::fanout`).
    /// A storage that keeps LSN snapshots waits a bounded time for an LSN it
    /// has not applied yet (`55000` after that) and refuses one older than
    /// it retains (`72000`). The default storage keeps none.
    fn begin_at(&self, lsn: Lsn, _options: TxnOptions) -> Result<Box<dyn Transaction>> {
        Err(crate::Error::new(
            crate::SqlState::FEATURE_NOT_SUPPORTED,
            format!("snapshot at LSN {} is not available on this storage", lsn.0),
        ))
    }
}

/// One transaction. Dropping it without `commit` rolls it back.
pub trait Transaction: Send {
    /// Reads a key (own writes merged over the snapshot).
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Locks a key for writing and returns its latest committed value (own
    /// writes merged). See the module notes for waiting and conflicts.
    fn lock(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Writes a key (locks it first).
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Deletes a key (locks it first). Deleting a missing key is not an error.
    fn delete(&mut self, key: &[u8]) -> Result<()>;

    /// Up to `limit` pairs with `from <= key < to`, in key order (own writes
    /// merged). Callers page through large ranges by calling again from just
    /// past the last key returned.
    fn scan(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>>;

    /// Same as `scan`, but in descending key order: up to `limit` pairs with
    /// `from <= key < to`, largest first.
    fn scan_rev(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>>;

    /// Same as `scan`, but appends the pairs to `page` (cleared first), one
    /// buffer for the whole page instead of two allocations per pair: the
    /// table-scan path reads millions of rows through this. `max_bytes`
    /// also ends the page once its buffer holds that many bytes (at least
    /// one pair is always returned when the range is not empty).
    fn scan_page(
        &mut self,
        from: &[u8],
        to: &[u8],
        limit: usize,
        max_bytes: usize,
        page: &mut ScanPage,
    ) -> Result<()> {
        page.clear();
        for (k, v) in self.scan(from, to, limit)? {
            page.push(&k, &v);
            if page.bytes() >= max_bytes {
                break;
            }
        }
        Ok(())
    }

    /// Starts a new statement: under READ COMMITTED, take a fresh snapshot.
    fn new_statement(&mut self);

    /// Marks a savepoint.
    fn savepoint(&mut self) -> SavepointId;

    /// Undoes the writes made since the savepoint (locks stay held).
    fn rollback_to(&mut self, savepoint: SavepointId) -> Result<()>;

    /// Whether the transaction has written anything.
    fn has_writes(&self) -> bool;

    /// Sets how long `commit` waits for replicas (from the session's
    /// `synchronous_commit` at COMMIT time). Storages without replicas ignore it.
    fn set_synchronous_commit(&mut self, _level: SyncCommit) {}

    /// Commits durably; `None` when there was nothing to log.
    fn commit(self: Box<Self>) -> Result<Option<Lsn>>;

    /// Rolls back and releases locks.
    fn rollback(self: Box<Self>);

    /// `(oldest, newest)`: every LSN in that range can be read exactly with
    /// `Storage::begin_at` on this storage now. `None`: no LSN snapshots.
    fn snapshot_range(&self) -> Option<(Lsn, Lsn)> {
        None
    }

    /// Keys that cut `from..to` into `parts` ranges of similar size, from the
    /// storage's own size estimates (no full scan), ascending. The keys need
    /// not exist. `None` when the storage cannot estimate cheaply (small or
    /// in-memory data): the caller then samples by scanning.
    fn approximate_split_keys(
        &mut self,
        _from: &[u8],
        _to: &[u8],
        _parts: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        Ok(None)
    }
}
