//! The node crate's error type.
//!
//! `NodeError` covers what can go wrong below the SQL layer: RocksDB itself,
//! bytes on disk that do not decode (a corrupt WAL record or data value), the
//! storage having been shut down, and plain I/O. The SQL executor sees storage
//! failures through `rustydb_sql::Error::Storage`; the `From` conversion at the
//! bottom is that one mapping. Statement-visible failures (`40001`, `40P01`,
//! ...) are produced directly as `rustydb_sql::Error` by the transaction code,
//! because they carry a SQLSTATE and are the statement's fault, not the disk's.

/// Errors of the storage node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// RocksDB reported a failure (I/O, corruption it detected, ...).
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// Bytes we wrote earlier no longer decode: a damaged record or value.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The storage was closed while a caller still used it.
    #[error("storage is shut down")]
    ShutDown,
    /// WAL from `wanted` was trimmed; the oldest retained record is `oldest`.
    #[error("WAL from LSN {wanted} is no longer retained (oldest is {oldest})")]
    WalGone { wanted: u64, oldest: u64 },
    /// A replication stream or operation failed.
    #[error("replication: {0}")]
    Replication(String),
    /// A backup, restore or archive operation failed (see `crate::backup`).
    #[error("backup: {0}")]
    Backup(String),
    /// A file-system operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl From<NodeError> for rustydb_sql::Error {
    fn from(err: NodeError) -> Self {
        rustydb_sql::Error::Storage(err.to_string())
    }
}

/// The result type of the node crate.
pub type Result<T, E = NodeError> = std::result::Result<T, E>;
