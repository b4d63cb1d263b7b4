//! Executing a Window node: window functions over partitions and frames.
//!
//! The node materialises its input (a window may look at any row of its
//! partition). Calls that share a window specification (PARTITION BY,
//! ORDER BY, frame) are evaluated together: the row indexes are sorted once
//! by (partition keys, order keys) with a stable sort, cut into partitions
//! (equal partition keys, NULLs equal) and within a partition into peer
//! groups (equal ORDER BY keys; with no ORDER BY every row is a peer of every
//! other). Each call then fills one value per row.
//!
//! Ranking functions (`row_number`, `rank`, `dense_rank`, `percent_rank`,
//! `cume_dist`, `ntile`) and `lag`/`lead` look at the partition, never at
//! the frame. Aggregates and `first_value`/`last_value`/`nth_value` read
//! the frame of each row, `[start, end)` positions in the partition, as
//! ROWS (physical offsets), GROUPS (peer-group offsets) or RANGE (the ORDER
//! BY value plus/minus an offset; CURRENT ROW means the peer group). The
//! default frame is RANGE UNBOUNDED PRECEDING .. CURRENT ROW, so rows that
//! tie on the ORDER BY keys get the same running aggregate, as in
//! PostgreSQL. A frame starting at UNBOUNDED PRECEDING only ever grows, so
//! its aggregate is fed incrementally (and one ending at UNBOUNDED FOLLOWING
//! backwards, when the aggregate does not care about feeding order); other
//! frames are aggregated afresh per row (reusing the previous value when the
//! frame did not move).
//!
//! Output rows are the input rows, each followed by its window values, in
//! the order of the last specification's sort (PostgreSQL likewise emits
//! rows in its last window's sort order; callers needing an order add
//! ORDER BY).

use std::cmp::Ordering;

use super::agg::Accumulator;
use super::relational::compare_keys;
use super::{open, ExecCtx, RowIter};
use crate::error::{Error, Result};
use crate::expr::Row;
use crate::plan::window::{FrameBound, FrameUnits, WindowCall, WindowFunc, WindowSpec};
use crate::plan::{AggCall, AggFunc, Plan, SortKey};
use crate::types::ops::{binary_op, BinaryOp};
use crate::types::{DataType, Value};
use crate::SqlState;

/// One partition, sorted: row indexes into the input and their keys.
struct Partition<'r> {
    /// Input row index of each position.
    rows: &'r [usize],
    /// ORDER BY key values of each position.
    keys: &'r [Row],
    /// Peer group number of each position.
    group: Vec<usize>,
    /// First position of each peer group.
    group_start: Vec<usize>,
}

impl Partition<'_> {
    fn len(&self) -> usize {
        self.rows.len()
    }

    /// Exclusive end of peer group `g`.
    fn group_end(&self, g: usize) -> usize {
        self.group_start.get(g + 1).copied().unwrap_or(self.len())
    }
}

/// Opens a Window node.
pub fn open_window(input: &Plan, calls: &[WindowCall], ctx: &ExecCtx) -> Result<RowIter> {
    let rows: Vec<Row> = open(input, ctx)?.collect::<Result<_>>()?;
    ctx.check_cancel()?;
    let mut values: Vec<Vec<Value>> = vec![vec![Value::Null; rows.len()]; calls.len()];
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let mut done = vec![false; calls.len()];
    for first in 0..calls.len() {
        if done[first] {
            continue;
        }
        let spec = &calls[first].spec;
        let members: Vec<usize> = (first..calls.len())
            .filter(|&i| !done[i] && calls[i].spec == *spec)
            .collect();
        order = evaluate_spec(&rows, spec, calls, &members, &mut values, ctx)?;
        for i in members {
            done[i] = true;
        }
    }
    let mut rows: Vec<Option<Row>> = rows.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(rows.len());
    for i in order {
        let Some(mut row) = rows.get_mut(i).and_then(Option::take) else {
            return Err(Error::internal("window row emitted twice"));
        };
        for v in values.iter_mut() {
            row.push(std::mem::replace(&mut v[i], Value::Null));
        }
        out.push(row);
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}

/// Sorts the rows for one specification and evaluates the calls in
/// `members`; returns the sorted row order.
fn evaluate_spec(
    rows: &[Row],
    spec: &WindowSpec,
    calls: &[WindowCall],
    members: &[usize],
    values: &mut [Vec<Value>],
    ctx: &ExecCtx,
) -> Result<Vec<usize>> {
    let part_keys: Vec<SortKey> = spec
        .partition
        .iter()
        .map(|e| SortKey {
            expr: e.clone(),
            desc: false,
            nulls_first: false,
        })
        .collect();
    let mut sorted: Vec<(Row, Row, usize)> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let p = spec
            .partition
            .iter()
            .map(|e| e.eval(r, ctx))
            .collect::<Result<Row>>()?;
        let o = spec
            .order
            .iter()
            .map(|k| k.expr.eval(r, ctx))
            .collect::<Result<Row>>()?;
        sorted.push((p, o, i));
    }
    sorted.sort_by(|a, b| {
        compare_keys(&a.0, &b.0, &part_keys).then_with(|| compare_keys(&a.1, &b.1, &spec.order))
    });
    ctx.check_cancel()?;
    let idx: Vec<usize> = sorted.iter().map(|s| s.2).collect();
    let keys: Vec<Row> = sorted.iter().map(|s| s.1.clone()).collect();
    let mut start = 0;
    while start < sorted.len() {
        let mut end = start + 1;
        while end < sorted.len()
            && compare_keys(&sorted[start].0, &sorted[end].0, &part_keys) == Ordering::Equal
        {
            end += 1;
        }
        let pkeys = &keys[start..end];
        let mut group = Vec::with_capacity(end - start);
        let mut group_start = Vec::new();
        for p in 0..pkeys.len() {
            if p == 0 || compare_keys(&pkeys[p - 1], &pkeys[p], &spec.order) != Ordering::Equal {
                group_start.push(p);
            }
            group.push(group_start.len() - 1);
        }
        let part = Partition {
            rows: &idx[start..end],
            keys: pkeys,
            group,
            group_start,
        };
        for &c in members {
            let call = &calls[c];
            let out = partition_values(rows, &part, call, ctx)?;
            for (v, &r) in out.into_iter().zip(part.rows) {
                values[c][r] = v;
            }
        }
        ctx.check_cancel()?;
        start = end;
    }
    Ok(idx)
}

/// The values of one call for every position of one partition.
fn partition_values(
    rows: &[Row],
    part: &Partition,
    call: &WindowCall,
    ctx: &ExecCtx,
) -> Result<Vec<Value>> {
    let n = part.len();
    let row = |pos: usize| -> &Row { &rows[part.rows[pos]] };
    let arg = |i: usize, pos: usize| -> Result<Value> {
        match call.args.get(i) {
            Some(e) => e.eval(row(pos), ctx),
            None => Ok(Value::Null),
        }
    };
    let mut out = Vec::with_capacity(n);
    match &call.func {
        WindowFunc::RowNumber => out.extend((1..=n).map(|i| Value::Int8(i as i64))),
        WindowFunc::Rank => {
            out.extend((0..n).map(|p| Value::Int8(part.group_start[part.group[p]] as i64 + 1)))
        }
        WindowFunc::DenseRank => out.extend((0..n).map(|p| Value::Int8(part.group[p] as i64 + 1))),
        WindowFunc::PercentRank => out.extend((0..n).map(|p| {
            let rank = part.group_start[part.group[p]];
            Value::Float8(if n > 1 {
                rank as f64 / (n - 1) as f64
            } else {
                0.0
            })
        })),
        WindowFunc::CumeDist => out
            .extend((0..n).map(|p| Value::Float8(part.group_end(part.group[p]) as f64 / n as f64))),
        WindowFunc::Ntile => {
            let buckets = match arg(0, 0)? {
                Value::Null => None,
                v => Some(as_i64(&v)?),
            };
            match buckets {
                None => out.extend((0..n).map(|_| Value::Null)),
                Some(b) if b <= 0 => {
                    return Err(Error::new(
                        SqlState("22014"),
                        "argument of ntile must be greater than zero",
                    ))
                }
                Some(b) => {
                    let b = b as usize;
                    let (q, r) = (n / b, n % b);
                    let big = r * (q + 1);
                    out.extend((0..n).map(|p| {
                        let bucket = if p < big {
                            p / (q + 1)
                        } else {
                            r + (p - big) / q.max(1)
                        };
                        Value::Int4(bucket as i32 + 1)
                    }));
                }
            }
        }
        WindowFunc::Lag | WindowFunc::Lead => {
            for p in 0..n {
                let offset = if call.args.len() > 1 {
                    match arg(1, p)? {
                        Value::Null => {
                            out.push(Value::Null);
                            continue;
                        }
                        v => as_i64(&v)?,
                    }
                } else {
                    1
                };
                let target = if call.func == WindowFunc::Lag {
                    p as i64 - offset
                } else {
                    p as i64 + offset
                };
                out.push(if target >= 0 && (target as usize) < n {
                    arg(0, target as usize)?
                } else {
                    arg(2, p)?
                });
            }
        }
        WindowFunc::FirstValue | WindowFunc::LastValue | WindowFunc::NthValue => {
            for p in 0..n {
                let (s, e) = frame(part, call, p, ctx)?;
                let at = match call.func {
                    WindowFunc::FirstValue => Some(s),
                    WindowFunc::LastValue => e.checked_sub(1),
                    _ => match arg(1, p)? {
                        Value::Null => None,
                        v => {
                            let k = as_i64(&v)?;
                            if k <= 0 {
                                return Err(Error::new(
                                    SqlState("22016"),
                                    "argument of nth_value must be greater than zero",
                                ));
                            }
                            s.checked_add(k as usize - 1)
                        }
                    },
                };
                out.push(match at {
                    Some(i) if i >= s && i < e => arg(0, i)?,
                    _ => Value::Null,
                });
            }
        }
        WindowFunc::Agg(agg) => return aggregate_values(rows, part, call, agg, ctx),
    }
    Ok(out)
}

/// An aggregate over each position's frame. A frame that starts at the
/// partition start only grows, so one accumulator is fed forward; a frame
/// that ends at the partition end only shrinks, so for aggregates whose
/// result does not depend on feeding order (exact arithmetic, counts,
/// extremes; not floats, whose rounding does, nor collecting aggregates)
/// one accumulator is fed backward; any other frame is aggregated afresh,
/// forward, like PostgreSQL does for aggregates without an inverse.
fn aggregate_values(
    rows: &[Row],
    part: &Partition,
    call: &WindowCall,
    agg: &AggCall,
    ctx: &ExecCtx,
) -> Result<Vec<Value>> {
    let n = part.len();
    let row = |pos: usize| -> &Row { &rows[part.rows[pos]] };
    let frames = (0..n)
        .map(|p| frame(part, call, p, ctx))
        .collect::<Result<Vec<_>>>()?;
    let mut out = vec![Value::Null; n];
    let fr = &call.spec.frame;
    let inexact = |t: &DataType| matches!(t, DataType::Float4 | DataType::Float8);
    let order_free = !inexact(&agg.result_type)
        && !inexact(&agg.arg_type)
        && !matches!(
            agg.func,
            AggFunc::StringAgg
                | AggFunc::ArrayAgg
                | AggFunc::JsonAgg(_)
                | AggFunc::JsonObjectAgg(_)
        );
    if fr.start == FrameBound::UnboundedPreceding {
        let mut acc = Accumulator::new(agg);
        let (mut fed, mut last) = (0, None);
        for (p, &(_, e)) in frames.iter().enumerate() {
            if last.as_ref().is_none_or(|(le, _)| *le != e) {
                while fed < e {
                    acc.add(row(fed), ctx)?;
                    fed += 1;
                }
                last = Some((e, acc.clone().finish()?));
            }
            out[p] = last.as_ref().map(|(_, v)| v.clone()).unwrap_or(Value::Null);
        }
    } else if fr.end == FrameBound::UnboundedFollowing && order_free {
        let mut acc = Accumulator::new(agg);
        let (mut fed, mut last) = (n, None);
        for p in (0..n).rev() {
            let s = frames[p].0;
            if last.as_ref().is_none_or(|(ls, _)| *ls != s) {
                while fed > s {
                    fed -= 1;
                    acc.add(row(fed), ctx)?;
                }
                last = Some((s, acc.clone().finish()?));
            }
            out[p] = last.as_ref().map(|(_, v)| v.clone()).unwrap_or(Value::Null);
        }
    } else {
        let mut last: Option<((usize, usize), Value)> = None;
        for (p, &(s, e)) in frames.iter().enumerate() {
            if p % 1024 == 1023 {
                // Frames aggregated afresh cost up to n² over a partition.
                ctx.check_cancel()?;
            }
            if let Some((f, v)) = &last {
                if *f == (s, e) {
                    out[p] = v.clone();
                    continue;
                }
            }
            let mut fresh = Accumulator::new(agg);
            for q in s..e {
                fresh.add(row(q), ctx)?;
            }
            let v = fresh.finish()?;
            out[p] = v.clone();
            last = Some(((s, e), v));
        }
    }
    Ok(out)
}

fn as_i64(v: &Value) -> Result<i64> {
    match v {
        Value::Int2(i) => Ok(i64::from(*i)),
        Value::Int4(i) => Ok(i64::from(*i)),
        Value::Int8(i) => Ok(*i),
        other => Err(Error::internal(format!(
            "window offset is not an integer: {other:?}"
        ))),
    }
}

/// A frame offset: evaluated, non-null and non-negative.
fn offset_value(
    e: &crate::expr::Expr,
    start: bool,
    units: FrameUnits,
    ctx: &ExecCtx,
) -> Result<Value> {
    let which = if start { "starting" } else { "ending" };
    let v = e.eval(&[], ctx)?;
    if v.is_null() {
        return Err(Error::new(
            SqlState::NULL_VALUE_NOT_ALLOWED,
            format!("frame {which} offset must not be null"),
        ));
    }
    let negative = match &v {
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) => as_i64(&v)? < 0,
        Value::Numeric(d) => d.is_sign_negative() && !d.is_zero(),
        Value::Float4(f) => *f < 0.0,
        Value::Float8(f) => *f < 0.0,
        Value::Interval(_) => {
            crate::types::compare::compare(&v, &Value::Interval(Default::default()))?.is_lt()
        }
        _ => false,
    };
    if negative {
        return Err(Error::new(
            SqlState("22013"),
            if units == FrameUnits::Range {
                "invalid preceding or following size in window function".to_string()
            } else {
                format!("frame {which} offset must not be negative")
            },
        ));
    }
    Ok(v)
}

/// The frame `[start, end)` of position `p`.
fn frame(part: &Partition, call: &WindowCall, p: usize, ctx: &ExecCtx) -> Result<(usize, usize)> {
    let fr = &call.spec.frame;
    let s = bound(part, call, &fr.start, p, true, ctx)?;
    let e = bound(part, call, &fr.end, p, false, ctx)?;
    Ok((s, e.max(s)))
}

/// One end of a frame as a position (start inclusive, end exclusive).
fn bound(
    part: &Partition,
    call: &WindowCall,
    b: &FrameBound,
    p: usize,
    start: bool,
    ctx: &ExecCtx,
) -> Result<usize> {
    let n = part.len();
    let g = part.group[p];
    let units = call.spec.frame.units;
    Ok(match b {
        FrameBound::UnboundedPreceding => 0,
        FrameBound::UnboundedFollowing => n,
        FrameBound::CurrentRow => match (units, start) {
            (FrameUnits::Rows, true) => p,
            (FrameUnits::Rows, false) => p + 1,
            (_, true) => part.group_start[g],
            (_, false) => part.group_end(g),
        },
        FrameBound::Preceding(e) | FrameBound::Following(e) => {
            let following = matches!(b, FrameBound::Following(_));
            let v = offset_value(e, start, units, ctx)?;
            match units {
                FrameUnits::Rows => {
                    let k = as_i64(&v)?.max(0) as usize;
                    let target = if following {
                        p.saturating_add(k)
                    } else {
                        match p.checked_sub(k) {
                            Some(t) => t,
                            // Before the partition: an empty start / end.
                            None => return Ok(0),
                        }
                    };
                    if start {
                        target.min(n)
                    } else {
                        target.saturating_add(1).min(n)
                    }
                }
                FrameUnits::Groups => {
                    let k = as_i64(&v)?.max(0) as usize;
                    let groups = part.group_start.len();
                    let target = if following {
                        g.saturating_add(k)
                    } else {
                        match g.checked_sub(k) {
                            Some(t) => t,
                            None => return Ok(0),
                        }
                    };
                    if target >= groups {
                        n
                    } else if start {
                        part.group_start[target]
                    } else {
                        part.group_end(target)
                    }
                }
                FrameUnits::Range => range_bound(part, call, &v, p, following, start)?,
            }
        }
    })
}

/// A RANGE offset bound: the first position whose ORDER BY value is not
/// before (start) / is after (end) the current value moved by the offset
/// towards the frame side, in the window's sort order.
fn range_bound(
    part: &Partition,
    call: &WindowCall,
    offset: &Value,
    p: usize,
    following: bool,
    start: bool,
) -> Result<usize> {
    let Some(key) = call.spec.order.first() else {
        return Ok(if start { 0 } else { part.len() });
    };
    let current = part.keys[p].first().cloned().unwrap_or(Value::Null);
    let target = if current.is_null() {
        Value::Null
    } else {
        // Moving "forward" in sort order adds for ASC and subtracts for DESC.
        let add = following != key.desc;
        let op = if add { BinaryOp::Add } else { BinaryOp::Sub };
        match binary_op(op, &current, offset) {
            Ok(v) => v,
            // Out of the type's range: the bound lies beyond every non-null
            // value, in the direction it moved.
            Err(_) => {
                let nulls = part
                    .keys
                    .iter()
                    .filter(|k| k.first().is_none_or(Value::is_null))
                    .count();
                let non_null_start = if key.nulls_first { nulls } else { 0 };
                return Ok(if add {
                    non_null_start + part.len() - nulls
                } else {
                    non_null_start
                });
            }
        }
    };
    let keys = std::slice::from_ref(key);
    let probe = [target];
    Ok(part.keys.partition_point(|k| {
        let ord = compare_keys(k, &probe, keys);
        if start {
            ord == Ordering::Less
        } else {
            ord != Ordering::Greater
        }
    }))
}
