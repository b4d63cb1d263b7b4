//! The tail of the WAL, kept in memory for the WAL senders.
//!
//! A sender that is caught up needs exactly the records the committer has
//! just written. Reading them back from the `wal` column family costs a
//! hop to a blocking thread and a RocksDB iterator per batch, which sits on
//! the critical path of every synchronous commit (commit → records on the
//! wire → replica fsync → ack). The committer therefore also appends each
//! encoded record here, right after its batch is durable, and senders take
//! their next batch from this buffer without blocking whenever it covers
//! the LSN they need; otherwise (a replica catching up from further back)
//! they fall back to the column family.
//!
//! Invariants: the entries are consecutive LSNs `first ..= first + len - 1`;
//! only durable records are ever added; a rewind clears the buffer (those
//! LSNs are reused by different records); the buffer is bounded by bytes
//! and by record count, dropping the oldest entries first.

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use rustydb_sql::storage::Lsn;

/// Byte cap of the buffered records.
const MAX_BYTES: usize = 8 << 20;
/// Record cap of the buffer.
const MAX_RECORDS: usize = 16_384;

#[derive(Default)]
struct Inner {
    /// LSN of the front entry (meaningless while empty).
    first: u64,
    records: VecDeque<Arc<[u8]>>,
    bytes: usize,
}

/// Recently written, durable WAL records (encoded), by LSN.
#[derive(Default)]
pub(crate) struct RecentWal {
    inner: Mutex<Inner>,
}

impl RecentWal {
    /// Appends the durable records of one batch, the first at `first`.
    /// A batch that does not continue the buffer replaces it.
    pub(crate) fn push(&self, first: u64, records: Vec<Arc<[u8]>>) {
        let mut inner = self.inner.lock();
        let next = inner.first + inner.records.len() as u64;
        if inner.records.is_empty() || next != first {
            inner.records.clear();
            inner.bytes = 0;
            inner.first = first;
        }
        for record in records {
            inner.bytes += record.len();
            inner.records.push_back(record);
        }
        while inner.records.len() > MAX_RECORDS
            || (inner.bytes > MAX_BYTES && inner.records.len() > 1)
        {
            if let Some(old) = inner.records.pop_front() {
                inner.bytes -= old.len();
                inner.first += 1;
            }
        }
    }

    /// Forgets everything (the log was rewound or replaced).
    pub(crate) fn clear(&self) {
        let mut inner = self.inner.lock();
        inner.records.clear();
        inner.bytes = 0;
    }

    /// Records from `from` up to `last` (at most `max_records`, and stopping
    /// once `max_bytes` is reached), or `None` when the buffer does not hold
    /// `from` (read the column family instead).
    pub(crate) fn read(
        &self,
        from: u64,
        last: u64,
        max_records: usize,
        max_bytes: usize,
    ) -> Option<Vec<(Lsn, Arc<[u8]>)>> {
        let inner = self.inner.lock();
        if inner.records.is_empty() || from < inner.first {
            return None;
        }
        let start = usize::try_from(from - inner.first).ok()?;
        if start >= inner.records.len() {
            return None;
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for (lsn, record) in (from..).zip(inner.records.iter().skip(start)) {
            if lsn > last || out.len() >= max_records || bytes >= max_bytes {
                break;
            }
            bytes += record.len();
            out.push((Lsn(lsn), record.clone()));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(n: u8) -> Arc<[u8]> {
        Arc::from(vec![n; 4])
    }

    #[test]
    fn reads_only_what_it_holds() {
        let wal = RecentWal::default();
        assert!(wal.read(1, 10, 100, 1 << 20).is_none());
        wal.push(5, vec![rec(5), rec(6)]);
        wal.push(7, vec![rec(7)]);
        assert!(wal.read(4, 10, 100, 1 << 20).is_none());
        assert!(wal.read(8, 10, 100, 1 << 20).is_none());
        let got = wal.read(6, 10, 100, 1 << 20).unwrap_or_default();
        let lsns: Vec<u64> = got.iter().map(|(l, _)| l.0).collect();
        assert_eq!(lsns, vec![6, 7]);
        assert_eq!(got.first().map(|(_, r)| r[0]), Some(6));
        // Capped by the caller's last LSN and record count.
        assert_eq!(wal.read(5, 6, 100, 1 << 20).map(|v| v.len()), Some(2));
        assert_eq!(wal.read(5, 10, 1, 1 << 20).map(|v| v.len()), Some(1));
    }

    #[test]
    fn a_gap_or_a_rewind_restarts_the_buffer() {
        let wal = RecentWal::default();
        wal.push(1, vec![rec(1), rec(2)]);
        wal.push(9, vec![rec(9)]);
        assert!(wal.read(1, 10, 100, 1 << 20).is_none());
        assert_eq!(wal.read(9, 10, 100, 1 << 20).map(|v| v.len()), Some(1));
        wal.clear();
        assert!(wal.read(9, 10, 100, 1 << 20).is_none());
    }

    #[test]
    fn drops_the_oldest_beyond_the_cap() {
        let wal = RecentWal::default();
        for i in 0..(MAX_RECORDS as u64 + 10) {
            wal.push(i + 1, vec![rec(1)]);
        }
        assert!(wal.read(1, u64::MAX, 10, 1 << 20).is_none());
        assert!(wal.read(11, u64::MAX, 10, 1 << 20).is_some());
    }
}
