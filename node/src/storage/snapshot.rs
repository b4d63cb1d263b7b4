//! Snapshot reads: point gets and merged range scans.
//!
//! MVCC is RocksDB's own: a transaction reads through a RocksDB snapshot
//! (a sequence number pinned in the DB), so a point read of the latest
//! version is one `get`, as fast as RocksDB gets. RocksDB snapshots borrow
//! the `DB`; `OwnedSnapshot` keeps the `Arc<DB>` and the snapshot together
//! (a `self_cell`), which lets a transaction own its snapshot without
//! `unsafe` in this crate.
//!
//! Every stored value is `[commit lsn u64 BE][user bytes]`. The LSN stamp is
//! how REPEATABLE READ detects a write conflict: if the stamp of the latest
//! version differs from the stamp the snapshot sees, someone committed the
//! key after the snapshot. Reads strip the stamp.
//!
//! `scan` merges the snapshot's keys with the transaction's own write buffer
//! (an ordered map key → Some(value) | None for delete): the buffer wins on
//! equal keys and its deletes hide snapshot keys. Both sides are walked in
//! the same direction; at most `limit` visible pairs are returned.

use std::cmp::Ordering as CmpOrdering;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rocksdb::{ReadOptions, SnapshotWithThreadMode, DB};
use rustydb_sql::storage::{KeyValue, ScanPage};
use rustydb_sql::{Error, SqlState};

use super::engine::{cf, CF_DATA};
use crate::error::NodeError;

type Snap<'a> = SnapshotWithThreadMode<'a, DB>;

self_cell::self_cell!(
    /// A RocksDB snapshot that owns a reference to its database.
    pub(crate) struct OwnedSnapshot {
        owner: Arc<DB>,
        #[covariant]
        dependent: Snap,
    }
);

/// A transaction's uncommitted writes: `None` is a delete.
pub(crate) type WriteBuffer = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// One entry of a `WriteBuffer` as its iterators yield it.
type BufferEntry<'a> = (&'a Vec<u8>, &'a Option<Vec<u8>>);

/// How many rows a scan walks between looks at the cancel flag.
const CANCEL_CHECK_EVERY: usize = 1024;

/// Splits a stored value into its commit LSN and the user's bytes.
pub(crate) fn decode_value(raw: &[u8]) -> Result<(u64, &[u8]), NodeError> {
    match raw.split_first_chunk::<8>() {
        Some((stamp, rest)) => Ok((u64::from_be_bytes(*stamp), rest)),
        None => Err(NodeError::Corrupt(format!(
            "stored value of {} bytes lacks its LSN stamp",
            raw.len()
        ))),
    }
}

impl OwnedSnapshot {
    /// Takes a snapshot of the current committed state.
    pub(crate) fn take(db: Arc<DB>) -> OwnedSnapshot {
        OwnedSnapshot::new(db, |db| db.snapshot())
    }

    /// The LSN of the last commit the snapshot holds, exactly: the
    /// `last_lsn` meta entry is written in the same batch as each commit's
    /// data (primary and replica alike).
    pub(crate) fn last_lsn(&self) -> Result<u64, NodeError> {
        self.with_dependent(|db, snap| {
            let meta = cf(db, super::engine::CF_META)?;
            match snap.get_pinned_cf_opt(
                meta,
                super::engine::META_LAST_LSN,
                ReadOptions::default(),
            )? {
                Some(raw) => super::engine::read_u64(&raw, "last_lsn"),
                None => Ok(0),
            }
        })
    }

    /// Reads a key as of the snapshot: `(commit lsn, value)`.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<(u64, Vec<u8>)>, NodeError> {
        self.with_dependent(|db, snap| {
            let data = cf(db, CF_DATA)?;
            match snap.get_pinned_cf_opt(data, key, ReadOptions::default())? {
                None => Ok(None),
                Some(raw) => {
                    let (lsn, value) = decode_value(&raw)?;
                    Ok(Some((lsn, value.to_vec())))
                }
            }
        })
    }

    /// Up to `limit` visible pairs with `from <= key < to`, ascending or
    /// (when `reverse`) descending, with `writes` merged over the snapshot.
    pub(crate) fn scan(
        &self,
        writes: &WriteBuffer,
        from: &[u8],
        to: &[u8],
        limit: usize,
        reverse: bool,
        cancel: Option<&AtomicBool>,
    ) -> Result<Vec<KeyValue>, Error> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.scan_each(writes, from, to, reverse, cancel, |key, value| {
            out.push((key.to_vec(), value.to_vec()));
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Ascending `scan` into one packed page (see `ScanPage`): the page ends
    /// at `limit` pairs or once it holds `max_bytes`, whichever comes first.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn scan_page(
        &self,
        writes: &WriteBuffer,
        from: &[u8],
        to: &[u8],
        limit: usize,
        max_bytes: usize,
        cancel: Option<&AtomicBool>,
        page: &mut ScanPage,
    ) -> Result<(), Error> {
        page.clear();
        if limit == 0 {
            return Ok(());
        }
        self.scan_each(writes, from, to, false, cancel, |key, value| {
            page.push(key, value);
            page.len() < limit && page.bytes() < max_bytes
        })
    }

    /// Walks the visible pairs with `from <= key < to` in order, `writes`
    /// merged over the snapshot, handing each (key, value without its LSN
    /// stamp) to `sink` by reference until it returns false or the range
    /// ends. Nothing is copied here: the sink decides what to keep.
    fn scan_each(
        &self,
        writes: &WriteBuffer,
        from: &[u8],
        to: &[u8],
        reverse: bool,
        cancel: Option<&AtomicBool>,
        mut sink: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), Error> {
        if from >= to {
            return Ok(());
        }
        // Paged scans may never reach CANCEL_CHECK_EVERY rows in one call,
        // so look at the flag on entry too.
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(canceled());
        }
        let range = writes.range::<[u8], _>((Bound::Included(from), Bound::Excluded(to)));
        let mut own: Box<dyn Iterator<Item = BufferEntry<'_>>> = if reverse {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut own_next = own.next();
        self.with_dependent(|db, snap| {
            let data = cf(db, CF_DATA)?;
            let mut opts = ReadOptions::default();
            // Both bounds: RocksDB stops at the range end by itself instead
            // of stepping onto the next table's first key.
            opts.set_iterate_lower_bound(from);
            opts.set_iterate_upper_bound(to);
            let mut iter = snap.raw_iterator_cf_opt(data, opts);
            if reverse {
                iter.seek_to_last();
            } else {
                iter.seek(from);
            }
            let mut steps = 0usize;
            loop {
                steps += 1;
                if steps.is_multiple_of(CANCEL_CHECK_EVERY)
                    && cancel.is_some_and(|c| c.load(Ordering::Relaxed))
                {
                    return Err(canceled());
                }
                // Which side comes next in scan order: the snapshot (`Less`),
                // the buffer (`Greater`), or both on the same key (`Equal`).
                let order = match (iter.key(), own_next) {
                    (None, None) => break,
                    (Some(_), None) => CmpOrdering::Less,
                    (None, Some(_)) => CmpOrdering::Greater,
                    (Some(db_key), Some((own_key, _))) => {
                        let o = db_key.cmp(own_key.as_slice());
                        if reverse {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                let mut more = true;
                if order == CmpOrdering::Less {
                    if let Some((key, raw)) = iter.item() {
                        let (_, value) = decode_value(raw)?;
                        more = sink(key, value);
                    }
                } else if let Some((key, value)) = own_next {
                    if let Some(value) = value {
                        more = sink(key, value);
                    }
                    own_next = own.next();
                }
                if order != CmpOrdering::Greater {
                    if reverse {
                        iter.prev();
                    } else {
                        iter.next();
                    }
                }
                if !more {
                    break;
                }
            }
            iter.status().map_err(NodeError::from)?;
            Ok(())
        })
    }
}

fn canceled() -> Error {
    Error::new(
        SqlState::QUERY_CANCELED,
        "canceling statement due to user request",
    )
}
