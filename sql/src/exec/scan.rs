//! Table scans: full, primary-key lookups and ranges, index lookups and ranges.

use std::sync::Arc;

use super::raw_filter::{RawFilter, Verdict};
use super::{ExecCtx, RowIter};
use crate::catalog::{IndexDef, TableDef};
use crate::encoding::keycode::{self, prefix_end};
use crate::encoding::{keys, row};
use crate::error::Result;
use crate::expr::{Expr, Row};
use crate::plan::Access;
use crate::storage::ScanPage;
use crate::types::{cast, compare, Value};

const PAGE: usize = 512;

/// Opens a scan of `table` by `access`, applying `filter` to every row.
/// `needed` marks the columns the consumer reads (`None`: all of them);
/// the others come out as NULL, which saves building values nobody reads.
pub fn open_scan(
    db: u32,
    table: Arc<TableDef>,
    access: &Access,
    filter: Option<Expr>,
    with_key: bool,
    needed: Option<Vec<bool>>,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let prefix = keys::object_prefix(db, table.id);
    let plen = prefix.len();
    // The filter's columns must be decoded too; a filter that may read the
    // row otherwise (a correlated subquery) needs all of them.
    let wanted: Option<Arc<[bool]>> = needed.and_then(|mut used| {
        let known = filter.as_ref().is_none_or(|f| f.mark_columns(&mut used));
        let partial = (0..table.columns.len()).any(|i| !used.get(i).copied().unwrap_or(false));
        (known && partial).then(|| used.into())
    });
    // With `with_key`, each row carries its storage key (minus the table
    // prefix) as a trailing hidden `ctid` column, for UPDATE and DELETE.
    let decode_wanted = wanted.clone();
    let decode = move |k: &[u8], v: &[u8]| -> Result<Row> {
        let mut row = Vec::new();
        row::decode_row_into(v, decode_wanted.as_deref(), &mut row)?;
        if with_key {
            row.push(Value::Bytea(k.get(plen..).unwrap_or_default().to_vec()));
        }
        Ok(row)
    };
    let rows: RowIter = match access {
        Access::Full => {
            let end = prefix_end(&prefix);
            let raw = filter
                .as_ref()
                .and_then(|f| RawFilter::split(f, table.columns.len()));
            let scan = TableScan::new(
                ctx.clone(),
                prefix,
                end,
                plen,
                with_key,
                wanted,
                filter,
                raw,
            );
            return Ok(Box::new(scan));
        }
        Access::PrimaryKey(tuples) => {
            let mut found = Vec::new();
            for tuple in tuples {
                let Some(key_values) = key_values(&table, &table.primary_key, tuple, ctx)? else {
                    continue;
                };
                let mut key = prefix.clone();
                key.extend(keycode::encode_values(&key_values)?);
                if let Some(raw) = ctx.txn.lock().get(&key)? {
                    found.push(decode(&key, &raw)?);
                }
            }
            Box::new(found.into_iter().map(Ok))
        }
        Access::PrimaryRange { low, high } => {
            let col = table.primary_key.first().copied().unwrap_or(0);
            let (from, to) = range_bounds(&table, col, &prefix, low.as_ref(), high.as_ref(), ctx)?;
            let raw = filter
                .as_ref()
                .and_then(|f| RawFilter::split(f, table.columns.len()));
            let scan = TableScan::new(ctx.clone(), from, to, plen, with_key, wanted, filter, raw);
            return Ok(Box::new(scan));
        }
        Access::Index {
            index,
            keys: tuples,
        } => {
            let mut pks = Vec::new();
            for tuple in tuples {
                let Some(vals) = key_values(&table, &index.columns[..tuple.len()], tuple, ctx)?
                else {
                    continue;
                };
                let mut p = keys::object_prefix(db, index.id);
                p.extend(keycode::encode_values(&vals)?);
                if index.unique && vals.len() == index.columns.len() {
                    // Every column pinned to a non-NULL value: the entry of
                    // a unique index is keyed by the values alone, so one
                    // point read finds it (no iterator needed).
                    if let Some(pk) = ctx.txn.lock().get(&p)? {
                        pks.push(pk);
                    }
                    continue;
                }
                let end = prefix_end(&p);
                for entry in RangeScan::new(ctx.clone(), p, end) {
                    pks.push(entry?.1);
                }
            }
            fetch_rows(ctx.clone(), prefix, pks, decode)
        }
        Access::IndexRange { index, low, high } => {
            let col = index.columns.first().copied().unwrap_or(0);
            let iprefix = keys::object_prefix(db, index.id);
            let (from, to) = range_bounds(&table, col, &iprefix, low.as_ref(), high.as_ref(), ctx)?;
            let pks = RangeScan::new(ctx.clone(), from, to)
                .map(|r| r.map(|(_, v)| v))
                .collect::<Result<Vec<_>>>()?;
            // Many keys: read them in storage order with short scans.
            super::keyed_fetch::fetch_sorted(ctx.clone(), prefix, pks, decode)
        }
    };
    match filter {
        None => Ok(rows),
        Some(f) => {
            let ctx = ctx.clone();
            Ok(Box::new(rows.filter_map(move |r| match r {
                Ok(row) => match f.eval_predicate(&row, &ctx) {
                    Ok(true) => Some(Ok(row)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                },
                Err(e) => Some(Err(e)),
            })))
        }
    }
}

/// Reads rows by their primary key bytes (from index entries).
fn fetch_rows(
    ctx: ExecCtx,
    prefix: Vec<u8>,
    pks: Vec<Vec<u8>>,
    decode: impl Fn(&[u8], &[u8]) -> Result<Row> + 'static,
) -> RowIter {
    Box::new(pks.into_iter().filter_map(move |pk| {
        let mut key = prefix.clone();
        key.extend_from_slice(&pk);
        let got = ctx.txn.lock().get(&key);
        match got {
            Ok(Some(raw)) => Some(decode(&key, &raw)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }))
}

/// Evaluates key expressions and converts them to the columns' types.
/// `None` when a value cannot equal any stored key (e.g. 2.5 for an int).
pub fn key_values(
    table: &TableDef,
    columns: &[usize],
    exprs: &[Expr],
    ctx: &ExecCtx,
) -> Result<Option<Vec<Value>>> {
    let mut out = Vec::with_capacity(exprs.len());
    for (col, e) in columns.iter().zip(exprs) {
        let v = e.eval(&[], ctx)?;
        match exact_cast(v, table, *col) {
            Some(v) if !v.is_null() => out.push(v),
            _ => return Ok(None),
        }
    }
    Ok(Some(out))
}

fn exact_cast(v: Value, table: &TableDef, col: usize) -> Option<Value> {
    let ty = &table.columns.get(col)?.data_type;
    let converted = cast::cast(v.clone(), ty).ok()?;
    match compare::compare(&converted, &v) {
        Ok(o) if o.is_eq() => Some(converted),
        _ => None,
    }
}

fn range_bounds(
    table: &TableDef,
    col: usize,
    prefix: &[u8],
    low: Option<&(Expr, bool)>,
    high: Option<&(Expr, bool)>,
    ctx: &ExecCtx,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut from = prefix.to_vec();
    let mut to = prefix_end(prefix);
    if let Some((e, inclusive)) = low {
        if let Some(v) = exact_cast(e.eval(&[], ctx)?, table, col).filter(|v| !v.is_null()) {
            let mut k = prefix.to_vec();
            keycode::encode_value(&mut k, &v)?;
            from = if *inclusive { k } else { prefix_end(&k) };
        }
    }
    if let Some((e, inclusive)) = high {
        if let Some(v) = exact_cast(e.eval(&[], ctx)?, table, col).filter(|v| !v.is_null()) {
            let mut k = prefix.to_vec();
            keycode::encode_value(&mut k, &v)?;
            to = if *inclusive { prefix_end(&k) } else { k };
        }
    }
    Ok((from, to))
}

/// Pages through a key range of the statement's transaction.
pub struct RangeScan {
    ctx: ExecCtx,
    next: Vec<u8>,
    end: Vec<u8>,
    buffer: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    done: bool,
}

impl RangeScan {
    /// Scans `from <= key < end`.
    pub fn new(ctx: ExecCtx, from: Vec<u8>, end: Vec<u8>) -> Self {
        RangeScan {
            ctx,
            next: from,
            end,
            buffer: Vec::new().into_iter(),
            done: false,
        }
    }
}

impl Iterator for RangeScan {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(kv) = self.buffer.next() {
            return Some(Ok(kv));
        }
        if self.done || self.next >= self.end {
            return None;
        }
        if let Err(e) = self.ctx.check_cancel() {
            self.done = true;
            return Some(Err(e));
        }
        let page = match self.ctx.txn.lock().scan(&self.next, &self.end, PAGE) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        };
        if page.len() < PAGE {
            self.done = true;
        }
        if let Some((last, _)) = page.last() {
            self.next = last.clone();
            self.next.push(0);
        }
        self.buffer = page.into_iter();
        self.buffer.next().map(Ok)
    }
}

/// Rows of a table's key range, read a packed page at a time: each row is
/// decoded (only the wanted columns) into a scratch row and tested against
/// the filter there, so a row the filter drops costs no allocation at all.
/// Pages grow from `FIRST_PAGE` rows to `MAX_PAGE` rows (or `PAGE_BYTES`),
/// so a LIMIT that stops early reads little while a full scan pays one
/// storage call, one iterator seek, per few thousand rows.
struct TableScan {
    ctx: ExecCtx,
    next: Vec<u8>,
    end: Vec<u8>,
    page: ScanPage,
    pos: usize,
    page_rows: usize,
    done: bool,
    plen: usize,
    with_key: bool,
    wanted: Option<Arc<[bool]>>,
    filter: Option<Expr>,
    /// The filter's integer conditions, checked before decoding.
    raw: Option<RawFilter>,
    scratch: Row,
}

const FIRST_PAGE: usize = 64;
const MAX_PAGE: usize = 8192;
const PAGE_BYTES: usize = 1 << 20;

impl TableScan {
    #[allow(clippy::too_many_arguments)]
    fn new(
        ctx: ExecCtx,
        from: Vec<u8>,
        end: Vec<u8>,
        plen: usize,
        with_key: bool,
        wanted: Option<Arc<[bool]>>,
        filter: Option<Expr>,
        raw: Option<RawFilter>,
    ) -> Self {
        TableScan {
            ctx,
            next: from,
            end,
            page: ScanPage::default(),
            pos: 0,
            page_rows: FIRST_PAGE,
            done: false,
            plen,
            with_key,
            wanted,
            filter,
            raw,
            scratch: Vec::new(),
        }
    }

    /// Reads the next page; false at the end of the range.
    fn fill(&mut self) -> Result<bool> {
        if self.done || self.next >= self.end {
            return Ok(false);
        }
        self.ctx.check_cancel()?;
        let limit = self.page_rows;
        self.ctx
            .txn
            .lock()
            .scan_page(&self.next, &self.end, limit, PAGE_BYTES, &mut self.page)?;
        self.pos = 0;
        self.page_rows = (self.page_rows * 2).min(MAX_PAGE);
        let Some(last) = self.page.last_key() else {
            self.done = true;
            return Ok(false);
        };
        // A short page (by rows and bytes) means the range is exhausted.
        if self.page.len() < limit && self.page.bytes() < PAGE_BYTES {
            self.done = true;
        }
        self.next.clear();
        self.next.extend_from_slice(last);
        self.next.push(0);
        Ok(true)
    }

    /// Decodes pair `pos` of the page into the scratch row; whether it
    /// passes the filter.
    fn decode_at(&mut self, pos: usize) -> Result<bool> {
        let Some((key, value)) = self.page.get(pos) else {
            return Ok(false);
        };
        // What is left to evaluate on the decoded row.
        let filter = match &self.raw {
            None => self.filter.as_ref(),
            Some(raw) => match raw.check(value)? {
                Verdict::Drop => return Ok(false),
                Verdict::Terms => raw.rest(),
                Verdict::Undecided => self.filter.as_ref(),
            },
        };
        row::decode_row_into(value, self.wanted.as_deref(), &mut self.scratch)?;
        if self.with_key {
            let pk = key.get(self.plen..).unwrap_or_default().to_vec();
            self.scratch.push(Value::Bytea(pk));
        }
        match filter {
            None => Ok(true),
            Some(f) => f.eval_predicate(&self.scratch, &self.ctx),
        }
    }
}

impl Iterator for TableScan {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Result<Row>> {
        loop {
            if self.pos >= self.page.len() {
                match self.fill() {
                    Ok(true) => continue,
                    Ok(false) => return None,
                    Err(e) => {
                        self.done = true;
                        self.page.clear();
                        return Some(Err(e));
                    }
                }
            }
            let pos = self.pos;
            self.pos += 1;
            match self.decode_at(pos) {
                Ok(true) => {
                    let width = self.scratch.len();
                    let row = std::mem::replace(&mut self.scratch, Vec::with_capacity(width));
                    return Some(Ok(row));
                }
                Ok(false) => {}
                Err(e) => {
                    self.done = true;
                    self.page.clear();
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Reads every row of a table (used by DDL and DML).
pub fn all_rows(
    ctx: &ExecCtx,
    db: u32,
    table: &TableDef,
) -> impl Iterator<Item = Result<(Vec<u8>, Row)>> {
    let prefix = keys::object_prefix(db, table.id);
    let end = prefix_end(&prefix);
    RangeScan::new(ctx.clone(), prefix, end)
        .map(|r| r.and_then(|(k, v)| Ok((k, row::decode_row(&v)?))))
}

/// An index's key for a row (values, and the pk for non-unique ones).
pub fn index_entry_key(
    db: u32,
    index: &IndexDef,
    row: &[Value],
    pk: &[u8],
) -> Result<(Vec<u8>, bool)> {
    let mut key = keys::object_prefix(db, index.id);
    let values: Vec<Value> = index
        .columns
        .iter()
        .map(|c| row.get(*c).cloned().unwrap_or(Value::Null))
        .collect();
    let has_null = values.iter().any(Value::is_null);
    key.extend(keycode::encode_values(&values)?);
    // Unique entries are keyed by the values alone, so a second row with
    // the same values collides on the key; NULLs never collide.
    let unique_key = index.unique && !has_null;
    if !unique_key {
        key.extend_from_slice(pk);
    }
    Ok((key, unique_key))
}

/// Opens a LockRows node (SELECT ... FOR UPDATE): the input is a table scan
/// whose rows end with their storage key. Each row is locked; if another
/// transaction changed it meanwhile, the latest version is re-checked
/// against the scan's filter (READ COMMITTED) or the lock fails with 40001
/// (REPEATABLE READ, inside the storage).
pub fn open_lock_rows(
    input: &crate::plan::Plan,
    filter: Option<Expr>,
    width: usize,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let (db, table_id) = match input {
        crate::plan::Plan::Scan { db, table, .. } => (*db, table.id),
        _ => return Err(crate::Error::internal("FOR UPDATE over a non-scan")),
    };
    let rows = super::open(input, ctx)?;
    let ctx = ctx.clone();
    let prefix = keys::object_prefix(db, table_id);
    Ok(Box::new(rows.filter_map(move |r| {
        let step = || -> Result<Option<Row>> {
            let mut row = r?;
            let Some(Value::Bytea(pk)) = row.pop() else {
                return Err(crate::Error::internal(
                    "row key missing from FOR UPDATE scan",
                ));
            };
            let mut key = prefix.clone();
            key.extend_from_slice(&pk);
            let latest = ctx.txn.lock().lock(&key)?;
            let Some(raw) = latest else { return Ok(None) };
            if raw == row::encode_row(&row) {
                return Ok(Some(row));
            }
            let mut fresh = row::decode_row(&raw)?;
            fresh.truncate(width);
            if let Some(f) = &filter {
                let mut probe = fresh.clone();
                probe.push(Value::Bytea(pk));
                if !f.eval_predicate(&probe, &ctx)? {
                    return Ok(None);
                }
            }
            Ok(Some(fresh))
        };
        step().transpose()
    })))
}
