//! The member's RocksDB instance: Raft log, vote and state machine on disk.
//!
//! One RocksDB database in `data_dir/raft` holds three column families:
//!
//! ```text
//!   log   u64 big-endian index  -> JSON Entry   (dense, no holes)
//!   meta  "vote"                -> JSON Vote
//!         "last_purged"         -> JSON LogId   (highest purged entry)
//!   sm    "state"               -> JSON Applied (last_applied, membership, ClusterState)
//!         "snapshot"            -> JSON StoredSnapshot (meta + data)
//! ```
//!
//! Every write goes through [`Store::write`], one `WriteBatch` with
//! `WriteOptions::set_sync(true)`: when it returns, the batch is fsynced,
//! which is what Raft needs before a vote or an appended entry is
//! acknowledged. The write runs on the blocking thread pool so an fsync
//! never stalls the async workers that carry heartbeats.
//!
//! Big-endian keys make RocksDB's byte order the log order, so "last entry"
//! is the last key and a range of indexes is a key range.

use std::path::Path;
use std::sync::Arc;

use rocksdb::{ColumnFamily, ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch, DB};

pub(crate) const CF_LOG: &str = "log";
pub(crate) const CF_META: &str = "meta";
pub(crate) const CF_SM: &str = "sm";

pub(crate) const KEY_VOTE: &[u8] = b"vote";
pub(crate) const KEY_LAST_PURGED: &[u8] = b"last_purged";
pub(crate) const KEY_STATE: &[u8] = b"state";
pub(crate) const KEY_SNAPSHOT: &[u8] = b"snapshot";

/// A failure of the on-disk store.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    #[error("column family {0} is missing")]
    MissingColumnFamily(&'static str),
    #[error("corrupt record under {what}: {source}")]
    Decode {
        what: String,
        source: serde_json::Error,
    },
    #[error("cannot encode {what}: {source}")]
    Encode {
        what: &'static str,
        source: serde_json::Error,
    },
    #[error("storage task failed: {0}")]
    Task(String),
}

/// One mutation inside a synced batch.
pub(crate) enum Op {
    Put {
        cf: &'static str,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Deletes keys in `[from, to)`.
    DeleteRange {
        cf: &'static str,
        from: Vec<u8>,
        to: Vec<u8>,
    },
}

impl Op {
    /// A put of `value` serialised as JSON.
    pub(crate) fn put_json<T: serde::Serialize>(
        cf: &'static str,
        key: Vec<u8>,
        what: &'static str,
        value: &T,
    ) -> Result<Op, StoreError> {
        let value =
            serde_json::to_vec(value).map_err(|source| StoreError::Encode { what, source })?;
        Ok(Op::Put { cf, key, value })
    }
}

pub(crate) fn index_key(index: u64) -> Vec<u8> {
    index.to_be_bytes().to_vec()
}

fn key_index(key: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = key.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

pub(crate) struct Store {
    db: DB,
    /// Dropped right after `db` (fields drop in order): its receiver learns
    /// that the database is closed and its lock file released.
    _closed: tokio::sync::oneshot::Sender<()>,
}

impl Store {
    /// Opens (creating if needed) the database under `dir`. The receiver
    /// completes (with an error) once the store is dropped and closed.
    pub(crate) fn open(
        dir: &Path,
    ) -> Result<(Store, tokio::sync::oneshot::Receiver<()>), StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [CF_LOG, CF_META, CF_SM]
            .into_iter()
            .map(|name| ColumnFamilyDescriptor::new(name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir, cfs)?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        Ok((Store { db, _closed: tx }, rx))
    }

    fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or(StoreError::MissingColumnFamily(name))
    }

    pub(crate) fn get(&self, cf: &'static str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }

    /// Reads and decodes a JSON value.
    pub(crate) fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        cf: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StoreError> {
        match self.get(cf, key)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| StoreError::Decode {
                        what: format!("{cf}/{}", String::from_utf8_lossy(key)),
                        source,
                    })
            }
        }
    }

    /// The raw value of the last log entry, if the log is not empty.
    pub(crate) fn last_log(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let mut iter = self.db.iterator_cf(self.cf(CF_LOG)?, IteratorMode::End);
        match iter.next() {
            None => Ok(None),
            Some(item) => Ok(Some(item?.1.to_vec())),
        }
    }

    /// Raw entries with index in `[start, end)`, in order.
    pub(crate) fn log_range(&self, start: u64, end: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        if start >= end {
            return Ok(out);
        }
        let from = index_key(start);
        let iter = self.db.iterator_cf(
            self.cf(CF_LOG)?,
            IteratorMode::From(&from, rocksdb::Direction::Forward),
        );
        for item in iter {
            let (key, value) = item?;
            match key_index(&key) {
                Some(i) if i < end => out.push(value.to_vec()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Applies `ops` atomically and fsyncs before returning.
    pub(crate) async fn write(self: &Arc<Self>, ops: Vec<Op>) -> Result<(), StoreError> {
        let store = Arc::clone(self);
        tokio::task::spawn_blocking(move || store.write_blocking(ops))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn write_blocking(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for op in ops {
            match op {
                Op::Put { cf, key, value } => batch.put_cf(self.cf(cf)?, key, value),
                Op::DeleteRange { cf, from, to } => batch.delete_range_cf(self.cf(cf)?, from, to),
            }
        }
        let mut wo = rocksdb::WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)?;
        Ok(())
    }
}
