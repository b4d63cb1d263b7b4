//! Cheap split keys for parallel fan-out, from RocksDB's size estimates.
//!
//! `rustydb_split_points` wants keys that cut a table's key range into parts
//! holding similar numbers of rows, without reading the table. RocksDB can
//! estimate the on-disk bytes of any key range from its SST index blocks
//! (`get_approximate_sizes_cf`, microseconds per call), so we bisect: treat
//! the 16 bytes after the common prefix of `from` and `to` as an integer,
//! and for each cut `i/parts` search the key whose prefix range `[from, key)`
//! holds `i/parts` of the bytes. Bytes track rows as long as row sizes do
//! not vary wildly along the key, which is the usual case.
//!
//! The estimate only sees flushed files. When the memtable is large next to
//! the range's flushed bytes (a table just loaded), it is flushed first, once;
//! when the range is small, `None` tells the caller to sample by scanning,
//! which is cheap for small tables and exact.

use rocksdb::{FlushOptions, Range, DB};
use rustydb_sql::Result;

use super::engine::{cf, CF_DATA};
use crate::error::NodeError;

/// Ranges with fewer flushed bytes than this are sampled by the caller.
const SMALL_BYTES: u64 = 2 << 20;
/// A memtable at least this big, and big next to the range, is flushed.
const FLUSH_MIN_BYTES: u64 = 4 << 20;
/// Bytes of key compared as an integer while bisecting.
const WIDTH: usize = 16;

/// Keys cutting `from..to` into `parts` parts of similar size, ascending;
/// `None` when the range is too small to estimate (see the module notes).
pub(crate) fn approximate_split_keys(
    db: &DB,
    from: &[u8],
    to: &[u8],
    parts: usize,
) -> Result<Option<Vec<Vec<u8>>>> {
    if parts < 2 || from >= to {
        return Ok(Some(Vec::new()));
    }
    let data = cf(db, CF_DATA)?;
    let size = |end: &[u8]| -> u64 {
        db.get_approximate_sizes_cf(data, &[Range::new(from, end)])
            .first()
            .copied()
            .unwrap_or(0)
    };
    let mut total = size(to);
    let memtable = db
        .property_int_value_cf(data, "rocksdb.cur-size-all-mem-tables")
        .map_err(NodeError::from)?
        .unwrap_or(0);
    if memtable >= FLUSH_MIN_BYTES && memtable > total / 8 {
        let mut opts = FlushOptions::default();
        opts.set_wait(true);
        db.flush_cf_opt(data, &opts).map_err(NodeError::from)?;
        total = size(to);
        tracing::debug!(
            memtable,
            total,
            "flushed the memtable to estimate split points"
        );
    }
    if total < SMALL_BYTES {
        return Ok(None);
    }
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let prefix = from.get(..common).unwrap_or_default();
    let position = |k: &[u8]| -> u128 {
        let mut buf = [0u8; WIDTH];
        for (slot, byte) in buf.iter_mut().zip(k.iter().skip(common)) {
            *slot = *byte;
        }
        u128::from_be_bytes(buf)
    };
    let key_at = |x: u128| -> Vec<u8> {
        let mut k = prefix.to_vec();
        k.extend_from_slice(&x.to_be_bytes());
        k
    };
    let (start, end) = (position(from), position(to));
    let mut keys = Vec::with_capacity(parts - 1);
    let mut lo_floor = start;
    for i in 1..parts {
        let target = u128::from(total) * i as u128 / parts as u128;
        let (mut lo, mut hi) = (lo_floor, end);
        // Invariant: size([from, key_at(lo))) < target <= size([from, key_at(hi))).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if u128::from(size(&key_at(mid))) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        keys.push(key_at(hi));
        lo_floor = hi.saturating_sub(1).max(start);
    }
    Ok(Some(keys))
}
