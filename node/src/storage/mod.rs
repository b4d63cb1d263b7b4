//! The node's transactional storage: RocksDB, our WAL, group commit, locks.
//!
//! This module implements the SQL layer's storage seam
//! (`rustydb_sql::storage::{Storage, Transaction}`) over one RocksDB `DB`:
//!
//! ```text
//!  SQL executor ──► RocksTransaction ──get/scan──► OwnedSnapshot (RocksDB snapshot)
//!                     │   │                          + own write buffer merged
//!                     │   └─put/delete/lock──► LockManager (row locks, 40P01)
//!                     └─commit──► group committer ──► one WriteBatch:
//!                                  data cf + wal cf + meta cf, fsync once
//! ```
//!
//! - `engine`: opening RocksDB (column families `data`, `wal`, `meta`),
//!   recovery of the last LSN, the `RocksStorage` handle.
//! - `snapshot`: snapshot reads and the merge of own writes into scans.
//! - `txn`: the transaction (write buffer, savepoints, isolation).
//! - `locks`: exclusive key locks, waits, deadlock detection, cancel.
//! - `commit`: the group committer thread that assigns LSNs.
//! - `lease`: the primary's lease; no commit is acknowledged without it.
//! - `replica`: applying received records, rewinding to a fork point,
//!   timeline history changes, checkpoints.
//! - `lsn_snapshots`, `lsn_txn`: snapshots keyed by LSN and the read-only
//!   transaction that reads exactly at one LSN (parallel fan-out).
//! - `recent_wal`: the WAL tail in memory, so caught-up senders need no
//!   RocksDB read.
//! - `split`: split keys for fan-out from RocksDB's size estimates.
//!
//! The invariant everything rests on: a key's data and the WAL record that
//! wrote it are in the same atomic RocksDB batch, and locks are released
//! only after that batch is durable and visible.

mod commit;
mod engine;
mod lease;
mod locks;
mod lsn_snapshots;
mod lsn_txn;
mod recent_wal;
mod replica;
mod snapshot;
mod split;
mod txn;

pub(crate) use engine::{
    cf as engine_cf, read_u64, CF_DATA, CF_META, CF_WAL, META_HISTORY, META_LAST_LSN,
    META_SYSTEM_ID,
};
pub use engine::{Access, CommitGate, CommitStats, RocksStorage, StorageOptions};
pub use lease::Lease;
pub(crate) use replica::now_micros;
