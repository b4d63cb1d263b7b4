//! `rustydb_split_points(table, n)`: primary-key values that cut a table
//! into `n` ranges of similar row counts.
//!
//! The proxy runs fragment `i` of a fan-out query with
//! `pk >= b(i-1) AND pk < b(i)` on the driving table, so the bounds are
//! values of the table's first primary-key column, strictly increasing.
//!
//! Where the keys come from: a table with an inline primary key stores each
//! row under its encoded key, so the rows' key range is the table's object
//! prefix; a table whose key was added by `ALTER TABLE ... ADD PRIMARY KEY`
//! keeps rows under a hidden row id and the key in its unique `_pkey` index,
//! whose entries are keyed by the encoded key values (the entry's value is
//! the row's key). Either way that range is ordered by the first key column.
//!
//! Choosing the cuts without a full scan: the storage estimates keys that
//! split the range's bytes evenly (`Transaction::approximate_split_keys`,
//! RocksDB's size estimates on the node); for each, the first entry at or
//! after it in the transaction's snapshot gives a real key value. When the
//! storage cannot estimate (a small table, the in-memory engine) we scan the
//! range twice, counting and then taking the entries at offsets
//! `count * i / n`; that is exact and cheap for small tables.

use crate::catalog::TableDef;
use crate::encoding::keycode::{self, prefix_end};
use crate::encoding::{keys, row};
use crate::error::{Error, Result};
use crate::storage::Transaction;
use crate::types::Value;
use crate::SqlState;

/// Page size for the fallback scans.
const PAGE: usize = 1024;

/// Which key range is ordered by the first primary-key column.
struct KeySpace {
    from: Vec<u8>,
    to: Vec<u8>,
    /// `Some(row prefix)` when entries are index entries whose value is the
    /// row key suffix; `None` when entries are the rows themselves.
    rows_via: Option<Vec<u8>>,
    /// Position of the first key column in the row.
    column: usize,
}

/// Split points of `table` into `parts` ranges, as text, strictly increasing.
pub fn split_points(
    txn: &mut dyn Transaction,
    db: u32,
    table: &TableDef,
    parts: i64,
) -> Result<Vec<String>> {
    if parts < 1 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("number of ranges must be at least 1, got {parts}"),
        ));
    }
    let parts = usize::try_from(parts.min(10_000)).unwrap_or(1);
    let Some(space) = key_space(db, table) else {
        return Ok(Vec::new());
    };
    if parts == 1 {
        return Ok(Vec::new());
    }
    let entries = match txn.approximate_split_keys(&space.from, &space.to, parts)? {
        Some(cuts) => {
            let mut found = Vec::with_capacity(cuts.len());
            for cut in cuts {
                if let Some(entry) = txn.scan(&cut, &space.to, 1)?.into_iter().next() {
                    found.push(entry);
                }
            }
            found
        }
        None => sampled(txn, &space, parts)?,
    };
    let mut out = Vec::with_capacity(entries.len());
    let mut last: Option<Vec<u8>> = None;
    let first_key = txn.scan(&space.from, &space.to, 1)?.into_iter().next();
    let first_value = match first_key {
        Some((k, v)) => Some(encoded(&column_value(txn, &space, &k, &v)?)?),
        None => None,
    };
    for (k, v) in entries {
        let value = column_value(txn, &space, &k, &v)?;
        let enc = encoded(&value)?;
        // Strictly increasing, and never the smallest value (that would leave
        // the first range empty).
        if last.as_ref().is_some_and(|l| enc <= *l) || first_value.as_ref() == Some(&enc) {
            continue;
        }
        out.push(crate::types::text::format(&value));
        last = Some(enc);
    }
    Ok(out)
}

fn encoded(value: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    keycode::encode_value(&mut out, value)?;
    Ok(out)
}

fn key_space(db: u32, table: &TableDef) -> Option<KeySpace> {
    if let Some(&column) = table.primary_key.first() {
        let from = keys::object_prefix(db, table.id);
        let to = prefix_end(&from);
        return Some(KeySpace {
            from,
            to,
            rows_via: None,
            column,
        });
    }
    let index = table.indexes.iter().find(|i| i.primary)?;
    let column = *index.columns.first()?;
    let from = keys::object_prefix(db, index.id);
    let to = prefix_end(&from);
    Some(KeySpace {
        from,
        to,
        rows_via: Some(keys::object_prefix(db, table.id)),
        column,
    })
}

/// The first key column's value for one entry of the key space.
fn column_value(
    txn: &mut dyn Transaction,
    space: &KeySpace,
    _key: &[u8],
    value: &[u8],
) -> Result<Value> {
    let row_bytes = match &space.rows_via {
        None => value.to_vec(),
        Some(prefix) => {
            let mut key = prefix.clone();
            key.extend_from_slice(value);
            txn.get(&key)?.ok_or_else(|| {
                Error::Storage("primary key index entry without its row".to_string())
            })?
        }
    };
    let row = row::decode_row(&row_bytes)?;
    row.into_iter()
        .nth(space.column)
        .ok_or_else(|| keycode::corrupt("row shorter than its primary key column"))
}

/// Entries at offsets `count * i / parts` (exact; scans the range twice).
fn sampled(
    txn: &mut dyn Transaction,
    space: &KeySpace,
    parts: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut count = 0usize;
    walk(txn, space, |_, _| {
        count += 1;
        true
    })?;
    let mut wanted: Vec<usize> = (1..parts).map(|i| count * i / parts).collect();
    wanted.dedup();
    let mut out = Vec::with_capacity(wanted.len());
    let mut position = 0usize;
    let mut next = wanted.iter().copied().peekable();
    walk(txn, space, |k, v| {
        while next.peek() == Some(&position) {
            out.push((k.to_vec(), v.to_vec()));
            next.next();
        }
        position += 1;
        next.peek().is_some()
    })?;
    Ok(out)
}

/// Calls `f` on every entry of the key space in order until it returns false.
fn walk(
    txn: &mut dyn Transaction,
    space: &KeySpace,
    mut f: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    let mut from = space.from.clone();
    loop {
        let page = txn.scan(&from, &space.to, PAGE)?;
        let full = page.len() == PAGE;
        let Some(last) = page.last().map(|(k, _)| k.clone()) else {
            return Ok(());
        };
        for (k, v) in &page {
            if !f(k, v) {
                return Ok(());
            }
        }
        if !full {
            return Ok(());
        }
        from = last;
        from.push(0);
    }
}
