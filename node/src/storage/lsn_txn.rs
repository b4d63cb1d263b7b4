//! `LsnTransaction`: a read-only transaction pinned at one LSN.
//!
//! `RocksStorage::begin_at(N)` looks `N` up in the node's `LsnSnapshots`,
//! waiting (bounded) while the node has not applied `N` yet, and returns this
//! transaction: the shared RocksDB snapshot at the end of `N`'s group plus
//! the overlay of before-images that takes it back to exactly `N`. Reads
//! merge the overlay over the snapshot (the overlay plays the part a write
//! buffer plays in `RocksTransaction`); every write fails with `25006`.
//! `new_statement` keeps the snapshot: all statements of a transaction
//! started at `N` read `N`, whatever its isolation level.
//!
//! Errors (SQLSTATE and text are the fan-out contract):
//! - `55000` `snapshot at LSN N is not available on this node (applied M)`
//!   after `WAIT` without `N` being applied;
//! - `72000` `snapshot at LSN N is too old (oldest retained O)`.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustydb_sql::storage::{KeyValue, Lsn, SavepointId, ScanPage, Transaction, TxnOptions};
use rustydb_sql::{Error, Result, SqlState};

use super::engine::Shared;
use super::lsn_snapshots::Lookup;
use super::snapshot::{OwnedSnapshot, WriteBuffer};

/// How long `begin_at` waits for an LSN the node has not applied yet.
const WAIT: Duration = Duration::from_secs(5);
/// Poll interval while waiting (the wait is rare: the proxy picks LSNs
/// nodes already hold).
const POLL: Duration = Duration::from_millis(2);

/// SQLSTATE 72000, snapshot_too_old.
pub(crate) const SNAPSHOT_TOO_OLD: SqlState = SqlState("72000");

/// A read-only transaction at one LSN.
pub(crate) struct LsnTransaction {
    shared: Arc<Shared>,
    snap: Arc<OwnedSnapshot>,
    overlay: WriteBuffer,
    options: TxnOptions,
    next_savepoint: u64,
}

/// Begins a transaction reading exactly the state at `lsn`.
pub(crate) fn begin_at(
    shared: Arc<Shared>,
    lsn: Lsn,
    options: TxnOptions,
) -> Result<Box<dyn Transaction>> {
    let deadline = Instant::now() + WAIT;
    loop {
        match shared.snapshots.lookup(lsn.0) {
            Lookup::Found(snap, overlay) => {
                return Ok(Box::new(LsnTransaction {
                    shared,
                    snap,
                    overlay,
                    options,
                    next_savepoint: 1,
                }))
            }
            Lookup::TooOld { oldest } => {
                return Err(Error::new(
                    SNAPSHOT_TOO_OLD,
                    format!(
                        "snapshot at LSN {} is too old (oldest retained {oldest})",
                        lsn.0
                    ),
                ))
            }
            Lookup::NotYet { newest } => {
                let canceled = options
                    .cancel
                    .as_deref()
                    .is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed));
                if Instant::now() >= deadline || canceled {
                    return Err(Error::new(
                        SqlState::OBJECT_NOT_IN_PREREQUISITE_STATE,
                        format!(
                            "snapshot at LSN {} is not available on this node (applied {newest})",
                            lsn.0
                        ),
                    ));
                }
                std::thread::sleep(POLL);
            }
        }
    }
}

fn read_only() -> Error {
    Error::new(
        SqlState::READ_ONLY_SQL_TRANSACTION,
        "cannot execute write in a read-only transaction",
    )
    .with_hint("The session reads at a fixed LSN (rustydb.read_lsn); RESET it to write.")
}

impl LsnTransaction {
    fn cancel_flag(&self) -> Option<&AtomicBool> {
        self.options.cancel.as_deref()
    }
}

impl Transaction for LsnTransaction {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        if let Some(own) = self.overlay.get(key) {
            return Ok(own.clone());
        }
        Ok(self.snap.get(key)?.map(|(_, value)| value))
    }

    fn lock(&mut self, _key: &[u8]) -> Result<Option<Vec<u8>>> {
        Err(read_only())
    }

    fn put(&mut self, _key: &[u8], _value: &[u8]) -> Result<()> {
        Err(read_only())
    }

    fn delete(&mut self, _key: &[u8]) -> Result<()> {
        Err(read_only())
    }

    fn scan(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.snap
            .scan(&self.overlay, from, to, limit, false, self.cancel_flag())
    }

    fn scan_page(
        &mut self,
        from: &[u8],
        to: &[u8],
        limit: usize,
        max_bytes: usize,
        page: &mut ScanPage,
    ) -> Result<()> {
        self.snap.scan_page(
            &self.overlay,
            from,
            to,
            limit,
            max_bytes,
            self.cancel_flag(),
            page,
        )
    }

    fn scan_rev(&mut self, from: &[u8], to: &[u8], limit: usize) -> Result<Vec<KeyValue>> {
        self.snap
            .scan(&self.overlay, from, to, limit, true, self.cancel_flag())
    }

    fn new_statement(&mut self) {}

    fn savepoint(&mut self) -> SavepointId {
        // Nothing to undo in a read-only transaction; ids only need to be
        // distinct for `rollback_to` to accept them.
        let id = SavepointId(self.next_savepoint);
        self.next_savepoint += 1;
        id
    }

    fn rollback_to(&mut self, _savepoint: SavepointId) -> Result<()> {
        Ok(())
    }

    fn has_writes(&self) -> bool {
        false
    }

    fn commit(self: Box<Self>) -> Result<Option<Lsn>> {
        Ok(None)
    }

    fn rollback(self: Box<Self>) {}

    fn snapshot_range(&self) -> Option<(Lsn, Lsn)> {
        let (oldest, newest) = self.shared.snapshots.range();
        Some((Lsn(oldest), Lsn(newest)))
    }

    fn approximate_split_keys(
        &mut self,
        from: &[u8],
        to: &[u8],
        parts: usize,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        super::split::approximate_split_keys(&self.shared.db, from, to, parts)
    }
}
