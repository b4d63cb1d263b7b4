//! Fetching many rows by primary key in storage order.
//!
//! An index range scan (`Access::IndexRange`) yields the row keys of the
//! matching rows; reading each with a point `get` costs one storage lookup
//! per row, which for a large range (a fan-out fragment over a third of
//! `pgbench_accounts`, whose key was added by ALTER TABLE and lives in an
//! index) is many times slower than scanning the same rows. Here the keys are
//! sorted and read with short range scans that start at the next wanted key:
//!
//! ```text
//!   wanted (sorted): k1 k2 k3 ............ k9 k10
//!   scan(k1, limit) → rows k1 k2 k3 x x   (x: not wanted, skipped)
//!   scan(k9, limit) → rows k9 k10 ...
//! ```
//!
//! The page size adapts: it doubles (up to `MAX_PAGE`) while most rows read
//! are wanted (dense keys: a sequential scan) and halves down to 1 when
//! most are not (sparse keys: one seek per key, like a point get). Rows come
//! out in storage-key order, not index order; nothing relies on the order
//! of an index range scan (ORDER BY always sorts).

use std::collections::VecDeque;

use super::{ExecCtx, RowIter};
use crate::error::Result;
use crate::expr::Row;

const MAX_PAGE: usize = 512;

/// Reads the rows with keys `prefix + pk` for every `pk` (missing ones are
/// skipped), in key order.
pub fn fetch_sorted(
    ctx: ExecCtx,
    prefix: Vec<u8>,
    mut pks: Vec<Vec<u8>>,
    decode: impl Fn(&[u8], &[u8]) -> Result<Row> + 'static,
) -> RowIter {
    pks.sort_unstable();
    pks.dedup();
    let end = pks.last().map(|last| {
        let mut k = prefix.clone();
        k.extend_from_slice(last);
        k.push(0);
        k
    });
    Box::new(KeyedFetch {
        ctx,
        prefix,
        pks,
        pos: 0,
        end: end.unwrap_or_default(),
        page: 16,
        out: VecDeque::new(),
        decode: Box::new(decode),
        failed: false,
    })
}

type Decode = Box<dyn Fn(&[u8], &[u8]) -> Result<Row>>;

struct KeyedFetch {
    ctx: ExecCtx,
    prefix: Vec<u8>,
    pks: Vec<Vec<u8>>,
    /// Next wanted key.
    pos: usize,
    /// Just past the last wanted key.
    end: Vec<u8>,
    page: usize,
    out: VecDeque<Result<Row>>,
    decode: Decode,
    failed: bool,
}

impl KeyedFetch {
    /// Reads one page starting at the next wanted key.
    fn fill(&mut self) -> Result<()> {
        self.ctx.check_cancel()?;
        let Some(next) = self.pks.get(self.pos) else {
            return Ok(());
        };
        let mut from = self.prefix.clone();
        from.extend_from_slice(next);
        let page = self.ctx.txn.lock().scan(&from, &self.end, self.page)?;
        let plen = self.prefix.len();
        let mut hits = 0usize;
        for (key, value) in &page {
            let suffix = key.get(plen..).unwrap_or_default();
            while self
                .pks
                .get(self.pos)
                .is_some_and(|w| w.as_slice() < suffix)
            {
                self.pos += 1;
            }
            if self
                .pks
                .get(self.pos)
                .is_some_and(|w| w.as_slice() == suffix)
            {
                self.out.push_back((self.decode)(key, value));
                self.pos += 1;
                hits += 1;
            }
        }
        if page.len() < self.page {
            // The scan reached `end`: no other wanted key exists.
            self.pos = self.pks.len();
        }
        // Progress is certain: every row read is >= the first wanted key, so
        // the loop above moved `pos` past it (found or not).
        self.page = if hits * 2 >= page.len() {
            (self.page * 2).min(MAX_PAGE)
        } else {
            (self.page / 2).max(1)
        };
        Ok(())
    }
}

impl Iterator for KeyedFetch {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        loop {
            if let Some(row) = self.out.pop_front() {
                return Some(row);
            }
            if self.failed || self.pos >= self.pks.len() {
                return None;
            }
            if let Err(e) = self.fill() {
                self.failed = true;
                return Some(Err(e));
            }
        }
    }
}
