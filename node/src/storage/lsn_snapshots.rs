//! Snapshots keyed by LSN: reading the database exactly as of "all records
//! with lsn <= N applied", on a primary and on a replica.
//!
//! Parallel fan-out runs fragments of one query on several nodes, and every
//! fragment must read the same state. The proxy picks an LSN `N` that every
//! chosen node holds and each session does `SET rustydb.read_lsn = N`; this
//! module is what makes `N` readable for a while after newer records land.
//!
//! The difficulty is that the committer makes data visible a *group* at a
//! time: a primary writes the commits with LSNs `first..=last` in one RocksDB
//! batch (one fsync), and a replica applies a batch of received records the
//! same way. A RocksDB snapshot therefore exists only at group ends. To read
//! at an `N` inside a group we take the snapshot at the group's end and put
//! back, over it, the *before-images* of the records `N+1..=end` (every WAL
//! record carries the exact previous committed value of each key it wrote,
//! or "absent"). For each key, the before-image of the earliest of those
//! records is the value as of `N`. That overlay is a `WriteBuffer`, so the
//! merged scan of `snapshot.rs` serves it unchanged.
//!
//! ```text
//!   group ends:      G0 ─────────── G1 ───────── G2 (newest)
//!   entries:         [from=A, to=G1, snap@G1, undo = records A+1..=G1]
//!                    [from=G1+1, to=G2, snap@G2, undo = records G1+2..=G2]
//!   read at N (A <= N <= G1): snap@G1 + earliest before-image per key
//!                             among records N+1..=G1
//! ```
//!
//! Retention: an entry is kept until `retention` has passed since it stopped
//! being the newest (so any `N` stays readable at least that long after a
//! newer one exists); the newest entry is always kept (it is the current
//! state). Groups that follow within `COALESCE` of the newest entry's last
//! extension extend it (its snapshot moves forward, the new records' before-
//! images are appended) instead of pinning one more RocksDB snapshot, so the
//! number of pinned snapshots stays below `retention / COALESCE` whatever
//! the commit rate, and an overlay never spans more than `COALESCE` of
//! commits. Before-images are held in memory; the total number of records
//! kept is capped at `MAX_RECORDS` (oldest entries go first).
//!
//! Invariants: entries cover consecutive, non-overlapping LSN ranges ending
//! at the storage's last LSN; only the committer thread (the single writer of
//! the `data` column family) adds entries, right after its batch is visible
//! and before `current_lsn` moves, so a snapshot at `N` never shows a record
//! past `N` nor misses one before it. A rewind drops everything past the
//! fork point.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::snapshot::{OwnedSnapshot, WriteBuffer};
use crate::wal::Mutation;

/// Groups closer together than this share one RocksDB snapshot.
const COALESCE: Duration = Duration::from_millis(10);
/// Most records whose before-images are kept, over all entries.
const MAX_RECORDS: usize = 100_000;

/// One pinned snapshot and the undo information below it.
struct Entry {
    /// Lowest LSN readable through this entry.
    from: u64,
    /// The LSN the snapshot is at.
    to: u64,
    snap: Arc<OwnedSnapshot>,
    /// Before-images of records `from+1..=to`, in LSN order.
    undo: Vec<Arc<Vec<Mutation>>>,
    /// When `to` last moved (creation or extension).
    touched: Instant,
    /// When a newer entry was started after this one.
    superseded: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<Entry>,
    records: usize,
}

/// What a lookup of an LSN found.
pub(crate) enum Lookup {
    /// The snapshot to read and the before-images to lay over it.
    Found(Arc<OwnedSnapshot>, WriteBuffer),
    /// Not applied here yet; the node is at `newest`.
    NotYet { newest: u64 },
    /// Older than anything kept; `oldest` is the oldest readable LSN.
    TooOld { oldest: u64 },
}

/// The node's LSN-keyed snapshots (one per storage).
pub(crate) struct LsnSnapshots {
    inner: Mutex<Inner>,
    retention: Duration,
}

impl LsnSnapshots {
    /// Starts with the current state (`lsn`, `snap`) as the only entry.
    pub(crate) fn new(lsn: u64, snap: OwnedSnapshot, retention: Duration) -> LsnSnapshots {
        let this = LsnSnapshots {
            inner: Mutex::new(Inner::default()),
            retention,
        };
        this.reset(lsn, snap);
        this
    }

    /// Forgets everything (a rewind changed history) and starts again at
    /// `lsn` with the state `snap`.
    pub(crate) fn reset(&self, lsn: u64, snap: OwnedSnapshot) {
        let mut inner = self.inner.lock();
        inner.entries.clear();
        inner.records = 0;
        inner.entries.push_back(Entry {
            from: lsn,
            to: lsn,
            snap: Arc::new(snap),
            undo: Vec::new(),
            touched: Instant::now(),
            superseded: None,
        });
    }

    /// Records a group `first..` just made visible: `snap` is the state
    /// after it, `before_images[i]` the before-images of record `first + i`.
    /// Called by the committer thread only.
    pub(crate) fn add_group(
        &self,
        first: u64,
        before_images: Vec<Vec<Mutation>>,
        snap: OwnedSnapshot,
    ) {
        if before_images.is_empty() {
            return;
        }
        let last = first + before_images.len() as u64 - 1;
        let now = Instant::now();
        let mut inner = self.inner.lock();
        let extend = inner
            .entries
            .back()
            .is_some_and(|e| e.to + 1 == first && now.duration_since(e.touched) < COALESCE);
        let mut added = 0;
        if extend {
            if let Some(entry) = inner.entries.back_mut() {
                added = before_images.len();
                entry.undo.extend(before_images.into_iter().map(Arc::new));
                entry.to = last;
                entry.snap = Arc::new(snap);
                entry.touched = now;
            }
        } else {
            // Record `first`'s before-images are never needed: reading at
            // `first - 1` uses the previous entry's snapshot.
            let undo: Vec<Arc<Vec<Mutation>>> =
                before_images.into_iter().skip(1).map(Arc::new).collect();
            added = undo.len();
            if inner.entries.back().is_some_and(|e| e.to + 1 != first) {
                // Not contiguous (cannot happen with one writer): older
                // entries would describe another history.
                tracing::warn!(first, "LSN snapshots out of sequence; dropping older ones");
                inner.entries.clear();
                inner.records = 0;
            }
            if let Some(prev) = inner.entries.back_mut() {
                prev.superseded = Some(now);
            }
            inner.entries.push_back(Entry {
                from: first,
                to: last,
                snap: Arc::new(snap),
                undo,
                touched: now,
                superseded: None,
            });
        }
        inner.records += added;
        self.prune(&mut inner, now);
    }

    /// Drops entries past retention or over the record cap; never the newest.
    fn prune(&self, inner: &mut Inner, now: Instant) {
        while inner.entries.len() > 1 {
            // Kept for `retention` after a newer entry replaced it as the
            // current state (an LSN chosen as "newest" must stay readable).
            let expired = inner.entries.front().is_some_and(|e| {
                e.superseded
                    .is_some_and(|t| now.duration_since(t) > self.retention)
            });
            let over = inner.records > MAX_RECORDS;
            if !(expired || over) {
                break;
            }
            if let Some(old) = inner.entries.pop_front() {
                inner.records = inner.records.saturating_sub(old.undo.len());
            }
        }
    }

    /// `(oldest, newest)` readable LSNs now.
    pub(crate) fn range(&self) -> (u64, u64) {
        let mut inner = self.inner.lock();
        self.prune(&mut inner, Instant::now());
        let oldest = inner.entries.front().map_or(0, |e| e.from);
        let newest = inner.entries.back().map_or(0, |e| e.to);
        (oldest, newest)
    }

    /// Finds the state at `lsn`.
    pub(crate) fn lookup(&self, lsn: u64) -> Lookup {
        let (snap, undo) = {
            let mut inner = self.inner.lock();
            self.prune(&mut inner, Instant::now());
            let (oldest, newest) = match (inner.entries.front(), inner.entries.back()) {
                (Some(f), Some(b)) => (f.from, b.to),
                _ => return Lookup::NotYet { newest: 0 },
            };
            if lsn > newest {
                return Lookup::NotYet { newest };
            }
            if lsn < oldest {
                return Lookup::TooOld { oldest };
            }
            let Some(entry) = inner.entries.iter().find(|e| e.from <= lsn && lsn <= e.to) else {
                return Lookup::TooOld { oldest };
            };
            // Records lsn+1..=to sit at undo[lsn+1-(from+1)..].
            let skip = usize::try_from(lsn - entry.from).unwrap_or(usize::MAX);
            let undo: Vec<Arc<Vec<Mutation>>> = entry.undo.iter().skip(skip).cloned().collect();
            (entry.snap.clone(), undo)
        };
        // The earliest record after `lsn` that wrote a key holds its value as
        // of `lsn`: walk in LSN order, first image wins.
        let mut overlay = WriteBuffer::new();
        for images in &undo {
            for (key, before) in images.iter() {
                if !overlay.contains_key(key) {
                    overlay.insert(key.clone(), before.clone());
                }
            }
        }
        Lookup::Found(snap, overlay)
    }
}
