//! Backups, the WAL archive and point-in-time recovery.
//!
//! A *repository* is a directory (later possibly an object store, see
//! [`repo::BackupRepository`]) laid out as:
//!
//! ```text
//! REPO/
//!   repo.json                          format, encryption (+ a key check)
//!   backups/<id>/manifest.json         what the backup is (see `manifest`)
//!   backups/<id>/files/<name>          the RocksDB files stored by this backup
//!   wal/index.jsonl                    one line per archived segment, with its sha256
//!   wal/<timeline>/<first>-<last>.wal.lz4   archived WAL records, lz4-compressed
//!   wal/history/<timeline>.json        the timeline history when a timeline was first archived
//! ```
//!
//! Data flow:
//!
//! - **create** (`create`): the node writes a RocksDB checkpoint (hard links,
//!   no write stop) beside its live database, opens it read-only to learn
//!   the exact LSN, timeline history and system id it holds, then copies
//!   each file into the repository with its sha256. An incremental backup
//!   stores only files not already in its parent chain (RocksDB SST files
//!   are immutable, so name + size + sha256 identify them); small mutable
//!   files (MANIFEST, OPTIONS, CURRENT, logs) are always stored. The
//!   manifest is written last: a backup without one does not exist.
//! - **archive** (`archive`): a task on the node reads its own `wal` column
//!   family (primary or replica alike) and ships records in segments (every
//!   `archive_max_records` or each `archive_interval_ms`), each checksummed
//!   in the index. WAL retention keeps every record not yet archived.
//! - **restore** (`restore`): files of the manifest chain are copied into
//!   `TARGET/db-1`, each checked against its sha256, then (PITR) archived
//!   records after the base are applied up to the target LSN or commit time
//!   through the replica apply path, and a new timeline starts there.
//! - **verify** / **prune**: re-read everything against its checksum and
//!   test-restore; apply the retention policy.
//!
//! Invariants: a manifest names only files that are fully written; every
//! byte read back is checked (sha256 for files and segments, AES-GCM's tag
//! when the repository is encrypted) before it is used; a restore never
//! writes into a non-empty directory.

pub mod archive;
pub mod copy;
pub mod create;
pub mod crypto;
pub mod http;
pub mod manifest;
pub mod pace;
pub mod progress;
pub mod prune;
pub mod repo;
pub mod restore;
pub mod segment;
pub mod verify;

pub use archive::{ArchiveConfig, BackupHooks};
pub use copy::CopyOptions;
pub use create::{take_backup, BackupRequest};
pub use manifest::{BackupKind, FileEntry, Manifest};
pub use progress::ProgressSnapshot;
pub use progress::{Progress, ProgressSink};
pub use prune::{prune, PrunePolicy, PruneReport};
pub use repo::{BackupRepository, FsRepository, Repo};
pub use restore::{restore, RestoreReport, RestoreTarget};
pub use verify::{verify_archive, verify_backup, VerifyReport};

use crate::error::NodeError;

/// A backup error with a message.
pub(crate) fn err(msg: impl Into<String>) -> NodeError {
    NodeError::Backup(msg.into())
}

/// Hex sha256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Microseconds since the Unix epoch as RFC 3339 (UTC, microseconds).
pub fn micros_to_rfc3339(micros: u64) -> String {
    let secs = i64::try_from(micros / 1_000_000).unwrap_or(i64::MAX);
    let nanos = u32::try_from((micros % 1_000_000) * 1000).unwrap_or(0);
    chrono::DateTime::from_timestamp(secs, nanos)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_else(|| micros.to_string())
}

/// Parses an RFC 3339 time into microseconds since the Unix epoch.
pub fn parse_time(text: &str) -> Result<u64, NodeError> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| err(format!("{text:?} is not an RFC 3339 time: {e}")))?;
    u64::try_from(t.timestamp_micros()).map_err(|_| err(format!("{text:?} is before 1970")))
}
