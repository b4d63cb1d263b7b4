//! Sorting, LIMIT/OFFSET, DISTINCT, set operations, CTEs and set-returning
//! functions in the select list.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use super::join::hash_key;
use super::{collect, open, ExecCtx, RowIter};
use crate::encoding::keycode;
use crate::error::{Error, Result};
use crate::expr::{Expr, Row};
use crate::plan::{CteDef, Plan, ProjectSetItem, SetOpKind, SortKey};
use crate::types::{compare, Value};
use crate::SqlState;

/// The most rows a recursive CTE may produce before we refuse (a runaway
/// recursion must not exhaust memory).
const MAX_RECURSIVE_ROWS: usize = 10_000_000;

/// Compares two precomputed sort-key rows.
pub fn compare_keys(a: &[Value], b: &[Value], keys: &[SortKey]) -> Ordering {
    for (i, k) in keys.iter().enumerate() {
        let (x, y) = (
            a.get(i).unwrap_or(&Value::Null),
            b.get(i).unwrap_or(&Value::Null),
        );
        let ord = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => {
                if k.nulls_first {
                    Ordering::Less
                } else {
                    Ordering::Greater
                }
            }
            (false, true) => {
                if k.nulls_first {
                    Ordering::Greater
                } else {
                    Ordering::Less
                }
            }
            (false, false) => {
                let o = compare::sort_cmp(x, y);
                if k.desc {
                    o.reverse()
                } else {
                    o
                }
            }
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

/// Opens a Sort node (materialising its input).
pub fn open_sort(input: &Plan, keys: &[SortKey], ctx: &ExecCtx) -> Result<RowIter> {
    let mut rows: Vec<(Row, Row)> = Vec::new();
    for r in open(input, ctx)? {
        let r = r?;
        let k = keys
            .iter()
            .map(|k| k.expr.eval(&r, ctx))
            .collect::<Result<Vec<_>>>()?;
        rows.push((k, r));
    }
    ctx.check_cancel()?;
    rows.sort_by(|(a, _), (b, _)| compare_keys(a, b, keys));
    Ok(Box::new(rows.into_iter().map(|(_, r)| Ok(r))))
}

fn count_value(e: Option<&Expr>, ctx: &ExecCtx, what: &str) -> Result<Option<usize>> {
    let Some(e) = e else { return Ok(None) };
    match e.eval(&[], ctx)? {
        Value::Null => Ok(None),
        Value::Int8(n) if n < 0 => Err(Error::new(
            if what == "LIMIT" {
                SqlState::INVALID_ROW_COUNT_IN_LIMIT
            } else {
                SqlState::INVALID_ROW_COUNT_IN_OFFSET
            },
            format!("{what} must not be negative"),
        )),
        Value::Int8(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
        other => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "argument of {what} must be type bigint, not {:?}",
                other.natural_type()
            ),
        )),
    }
}

/// Opens a Limit node.
pub fn open_limit(
    input: &Plan,
    limit: Option<&Expr>,
    offset: Option<&Expr>,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let limit = count_value(limit, ctx, "LIMIT")?;
    let offset = count_value(offset, ctx, "OFFSET")?.unwrap_or(0);
    if limit == Some(0) {
        return Ok(Box::new(std::iter::empty()));
    }
    let rows = open(input, ctx)?.skip(offset);
    match limit {
        Some(n) => Ok(Box::new(rows.take(n))),
        None => Ok(Box::new(rows)),
    }
}

fn row_key(row: &[Value]) -> Result<Vec<u8>> {
    // NULLs are equal for DISTINCT and set operations.
    let mut out = Vec::new();
    for v in row {
        match hash_key(std::slice::from_ref(v))? {
            Some(k) => out.extend(k),
            None => keycode::encode_value(&mut out, &Value::Null)?,
        }
    }
    Ok(out)
}

/// Opens a DISTINCT node.
pub fn open_distinct(input: &Plan, ctx: &ExecCtx) -> Result<RowIter> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in open(input, ctx)? {
        let r = r?;
        if seen.insert(row_key(&r)?) {
            out.push(r);
        }
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}

/// Opens a DISTINCT ON node (input already sorted by the keys).
pub fn open_distinct_on(input: &Plan, keys: &[Expr], ctx: &ExecCtx) -> Result<RowIter> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in open(input, ctx)? {
        let r = r?;
        let k = keys
            .iter()
            .map(|e| e.eval(&r, ctx))
            .collect::<Result<Vec<_>>>()?;
        if seen.insert(row_key(&k)?) {
            out.push(r);
        }
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}

/// Opens a set operation.
pub fn open_setop(
    kind: SetOpKind,
    all: bool,
    left: &Plan,
    right: &Plan,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    if kind == SetOpKind::Union && all {
        let l = open(left, ctx)?;
        let r = open(right, ctx)?;
        return Ok(Box::new(l.chain(r)));
    }
    let left_rows = collect(left, ctx)?;
    let right_rows = collect(right, ctx)?;
    let mut counts: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut out = Vec::new();
    match kind {
        SetOpKind::Union => {
            for r in left_rows.into_iter().chain(right_rows) {
                let k = row_key(&r)?;
                if counts.insert(k, 1).is_none() {
                    out.push(r);
                }
            }
        }
        SetOpKind::Intersect | SetOpKind::Except => {
            for r in &right_rows {
                *counts.entry(row_key(r)?).or_default() += 1;
            }
            let mut emitted = HashSet::new();
            for r in left_rows {
                let k = row_key(&r)?;
                let c = counts.get(&k).copied().unwrap_or(0);
                let keep = match (kind, all) {
                    (SetOpKind::Intersect, true) => c > 0,
                    (SetOpKind::Intersect, false) => c > 0 && emitted.insert(k.clone()),
                    (_, true) => c == 0,
                    (_, false) => c == 0 && emitted.insert(k.clone()),
                };
                if all && c > 0 {
                    counts.insert(k, c - 1);
                }
                if keep {
                    out.push(r);
                }
            }
        }
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}

/// Runs a CTE and stores its rows in the context.
pub fn materialize_cte(id: usize, def: &CteDef, ctx: &ExecCtx) -> Result<()> {
    match def {
        CteDef::Plain(plan) => {
            let rows = collect(plan, ctx)?;
            ctx.set_cte(id, rows);
        }
        CteDef::Modify(plan) => {
            let done = super::dml::execute(plan, ctx)?;
            ctx.set_cte(id, done.returning);
        }
        CteDef::Recursive {
            anchor,
            recursive,
            union_all,
        } => {
            let mut all_rows = collect(anchor, ctx)?;
            let mut seen = HashSet::new();
            if !union_all {
                let mut unique = Vec::new();
                for r in all_rows {
                    if seen.insert(row_key(&r)?) {
                        unique.push(r);
                    }
                }
                all_rows = unique;
            }
            let mut working = all_rows.clone();
            while !working.is_empty() {
                ctx.check_cancel()?;
                ctx.set_cte(id, working);
                let mut next = Vec::new();
                for r in collect(recursive, ctx)? {
                    if *union_all || seen.insert(row_key(&r)?) {
                        next.push(r);
                    }
                }
                all_rows.extend(next.iter().cloned());
                if all_rows.len() > MAX_RECURSIVE_ROWS {
                    return Err(Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "recursive query produced too many rows",
                    ));
                }
                working = next;
            }
            ctx.set_cte(id, all_rows);
        }
    }
    Ok(())
}

/// Opens a ProjectSet: set-returning calls expand each input row.
pub fn open_project_set(input: &Plan, items: &[ProjectSetItem], ctx: &ExecCtx) -> Result<RowIter> {
    let mut out = Vec::new();
    for r in open(input, ctx)? {
        let r = r?;
        let mut columns: Vec<Vec<Value>> = Vec::with_capacity(items.len());
        let mut scalars: Vec<Option<Value>> = Vec::with_capacity(items.len());
        for item in items {
            match item {
                ProjectSetItem::Scalar(e) => {
                    scalars.push(Some(e.eval(&r, ctx)?));
                    columns.push(vec![]);
                }
                ProjectSetItem::Srf(name, args) => {
                    let args = args
                        .iter()
                        .map(|a| a.eval(&r, ctx))
                        .collect::<Result<Vec<_>>>()?;
                    scalars.push(None);
                    columns.push(crate::functions::srf::call(name, &args)?);
                }
            }
        }
        let n = columns
            .iter()
            .zip(&scalars)
            .filter(|(_, s)| s.is_none())
            .map(|(c, _)| c.len())
            .max()
            .unwrap_or(1);
        for i in 0..n {
            let row: Row = columns
                .iter()
                .zip(&scalars)
                .map(|(col, s)| match s {
                    Some(v) => v.clone(),
                    None => col.get(i).cloned().unwrap_or(Value::Null),
                })
                .collect();
            out.push(row);
        }
        if out.len() > MAX_RECURSIVE_ROWS {
            return Err(Error::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                "set-returning function produced too many rows",
            ));
        }
    }
    Ok(Box::new(out.into_iter().map(Ok)))
}
