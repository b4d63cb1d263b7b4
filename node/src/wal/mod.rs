//! The write-ahead log: our own, stored in RocksDB.
//!
//! Every committed write transaction becomes one [`WalRecord`] holding its
//! mutations and the before-images of the keys it touched. The record is put
//! into the `wal` column family under its LSN (8 bytes, big-endian, so key
//! order is LSN order) in the *same* `WriteBatch` as the transaction's data,
//! which makes "data written" and "record logged" one atomic, durable step:
//! after a crash either both are there or neither is, so recovery never has
//! to redo anything. The group committer (`storage::commit`) is the only
//! writer of this column family.
//!
//! Invariants:
//! - LSNs are dense: 1, 2, 3, ... A gap is corruption, never skipped.
//! - A record is immutable once written; readers (replication, `read_wal`)
//!   may see it as soon as its commit is acknowledged.

mod record;
mod timeline;

pub use record::{Mutation, WalRecord};
pub use timeline::{TimelineEntry, TimelineHistory};

use rustydb_sql::storage::Lsn;

use crate::error::{NodeError, Result};

/// The `wal` column family key of an LSN.
pub(crate) fn lsn_key(lsn: Lsn) -> [u8; 8] {
    lsn.0.to_be_bytes()
}

/// Parses a `wal` column family key back into an LSN.
pub(crate) fn key_lsn(key: &[u8]) -> Result<Lsn> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| NodeError::Corrupt(format!("WAL key of {} bytes, expected 8", key.len())))?;
    Ok(Lsn(u64::from_be_bytes(bytes)))
}
