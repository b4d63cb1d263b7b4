//! openraft's `RaftLogStorage` over the member's RocksDB store.
//!
//! RaftCore calls these methods one at a time (writes are serialised by
//! openraft), so the only concurrency is readers (replication tasks, via
//! clones of `LogStore`) reading while the core appends: RocksDB gives them
//! a consistent view of each key.
//!
//! Durability: `save_vote`, `append`, `truncate` and `purge` return only
//! after their batch is fsynced (see `store.rs`); `append` reports
//! `LogFlushed` after that fsync, so a follower never acknowledges an entry
//! a power cut could lose, and a member never forgets whom it voted for.
//!
//! Invariant: the log is dense. Entries are appended in order, `truncate`
//! removes a suffix and `purge` a prefix (remembering the last purged id so
//! `get_log_state` can answer for an empty log after a snapshot).

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};

use super::store::{index_key, Op, Store, StoreError, CF_LOG, CF_META, KEY_LAST_PURGED, KEY_VOTE};
use super::types::{storage_err, Entry, LogId, StorageError, TypeConfig, Vote};

/// The Raft log and vote of one member. Cheap to clone (shares the store).
#[derive(Clone)]
pub(crate) struct LogStore {
    store: Arc<Store>,
}

impl LogStore {
    pub(crate) fn new(store: Arc<Store>) -> LogStore {
        LogStore { store }
    }

    fn decode(bytes: &[u8]) -> Result<Entry, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

fn logs_err(verb: ErrorVerb) -> impl Fn(StoreError) -> StorageError {
    move |e| storage_err(ErrorSubject::Logs, verb, e)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(&s) => s,
            Bound::Excluded(&s) => s.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&e) => e.saturating_add(1),
            Bound::Excluded(&e) => e,
            Bound::Unbounded => u64::MAX,
        };
        let raw = self
            .store
            .log_range(start, end)
            .map_err(logs_err(ErrorVerb::Read))?;
        let mut entries = Vec::with_capacity(raw.len());
        for bytes in &raw {
            entries.push(
                Self::decode(bytes)
                    .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, e))?,
            );
        }
        Ok(entries)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let last_purged: Option<LogId> = self
            .store
            .get_json(CF_META, KEY_LAST_PURGED)
            .map_err(logs_err(ErrorVerb::Read))?;
        let last = match self.store.last_log().map_err(logs_err(ErrorVerb::Read))? {
            Some(bytes) => Some(
                Self::decode(&bytes)
                    .map_err(|e| storage_err(ErrorSubject::Logs, ErrorVerb::Read, e))?
                    .log_id,
            ),
            None => last_purged,
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let op = Op::put_json(CF_META, KEY_VOTE.to_vec(), "vote", vote)
            .map_err(|e| storage_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        self.store
            .write(vec![op])
            .await
            .map_err(|e| storage_err(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.store
            .get_json(CF_META, KEY_VOTE)
            .map_err(|e| storage_err(ErrorSubject::Vote, ErrorVerb::Read, e))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut ops = Vec::new();
        for entry in entries {
            let op = Op::put_json(CF_LOG, index_key(entry.log_id.index), "log entry", &entry)
                .map_err(logs_err(ErrorVerb::Write))?;
            ops.push(op);
        }
        match self.store.write(ops).await {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                callback.log_io_completed(Err(std::io::Error::other(message)));
                Err(logs_err(ErrorVerb::Write)(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "raft log: truncate from");
        let op = Op::DeleteRange {
            cf: CF_LOG,
            from: index_key(log_id.index),
            to: index_key(u64::MAX),
        };
        self.store
            .write(vec![op])
            .await
            .map_err(logs_err(ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "raft log: purge up to");
        // The marker and the deletion go in one batch: after a crash either
        // both happened or neither did.
        let marker = Op::put_json(CF_META, KEY_LAST_PURGED.to_vec(), "last purged", &log_id)
            .map_err(logs_err(ErrorVerb::Delete))?;
        let delete = Op::DeleteRange {
            cf: CF_LOG,
            from: index_key(0),
            to: index_key(log_id.index.saturating_add(1)),
        };
        self.store
            .write(vec![marker, delete])
            .await
            .map_err(logs_err(ErrorVerb::Delete))
    }
}
