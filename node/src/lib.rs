//! RustyDB storage node: transactional storage over RocksDB with our own
//! write-ahead log (see `storage` and `wal`).

pub mod error;
pub mod storage;
pub mod wal;

pub use error::NodeError;
pub use storage::{CommitStats, RocksStorage, StorageOptions};
pub use wal::WalRecord;
