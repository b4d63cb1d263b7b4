//! Execution: running a `Plan` as a pull-based iterator of rows.
//!
//! `open` turns a plan node into a `RowIter` (a boxed iterator of
//! `Result<Row>`); parents pull from children, so a scan feeding a filter
//! and an aggregate never holds the whole table in memory. Sorts, hash join
//! build sides, DISTINCT and set operations materialise what they must.
//!
//! Every iterator owns a clone of the `ExecCtx`: the statement's
//! transaction (shared behind a mutex, so several open scans can page
//! through storage in turn), bound parameters, the outer-row stack for
//! correlated subqueries, materialised CTEs, and the session facts that
//! functions like `now()` and `nextval()` need.

pub mod agg;
pub(crate) mod agg_stats;
pub mod catalog_fn;
pub mod ctx;
pub mod dml;
pub mod join;
pub mod keyed_fetch;
pub mod raw_filter;
pub mod relational;
pub mod replication_fn;
pub mod scan;
pub mod window;

pub use ctx::{ExecCtx, SessionFacts};

use crate::error::Result;
use crate::expr::Row;
use crate::plan::Plan;

/// A stream of rows.
pub type RowIter = Box<dyn Iterator<Item = Result<Row>>>;

/// Opens a plan node for execution.
pub fn open(plan: &Plan, ctx: &ExecCtx) -> Result<RowIter> {
    ctx.check_cancel()?;
    match plan {
        Plan::Scan {
            db,
            table,
            access,
            filter,
            with_key,
        } => scan::open_scan(
            *db,
            table.clone(),
            access,
            filter.clone(),
            *with_key,
            None,
            ctx,
        ),
        Plan::Rows { rows, .. } => {
            let rows = rows.clone();
            Ok(Box::new((0..rows.len()).map(move |i| Ok(rows[i].clone()))))
        }
        Plan::Values { rows, .. } => {
            let ctx = ctx.clone();
            let rows = rows.clone();
            Ok(Box::new(rows.into_iter().map(move |r| {
                r.iter().map(|e| e.eval(&[], &ctx)).collect()
            })))
        }
        Plan::Filter { input, predicate } => {
            let input = open(input, ctx)?;
            let ctx = ctx.clone();
            let predicate = predicate.clone();
            Ok(Box::new(input.filter_map(move |r| match r {
                Ok(row) => match predicate.eval_predicate(&row, &ctx) {
                    Ok(true) => Some(Ok(row)),
                    Ok(false) => None,
                    Err(e) => Some(Err(e)),
                },
                Err(e) => Some(Err(e)),
            })))
        }
        Plan::Project { input, exprs } => {
            let input = open_for(input, exprs.iter(), ctx)?;
            let ctx = ctx.clone();
            let exprs = exprs.clone();
            Ok(Box::new(input.map(move |r| {
                r.and_then(|row| exprs.iter().map(|e| e.eval(&row, &ctx)).collect())
            })))
        }
        Plan::Truncate { input, width } => {
            let input = open(input, ctx)?;
            let width = *width;
            Ok(Box::new(input.map(move |r| {
                r.map(|mut row| {
                    row.truncate(width);
                    row
                })
            })))
        }
        Plan::Join { .. } => join::open_join(plan, ctx),
        Plan::Lateral {
            left,
            right,
            left_outer_join,
            right_width,
        } => join::open_lateral(left, right.clone(), *left_outer_join, *right_width, ctx),
        Plan::Aggregate {
            input,
            group_by,
            aggregates,
        } => agg::open_aggregate(input, group_by, aggregates, ctx),
        Plan::Sort { input, keys } => relational::open_sort(input, keys, ctx),
        Plan::Limit {
            input,
            limit,
            offset,
        } => relational::open_limit(input, limit.as_ref(), offset.as_ref(), ctx),
        Plan::Distinct { input } => relational::open_distinct(input, ctx),
        Plan::DistinctOn { input, keys } => relational::open_distinct_on(input, keys, ctx),
        Plan::SetOp {
            kind,
            all,
            left,
            right,
        } => relational::open_setop(*kind, *all, left, right, ctx),
        Plan::CteScan { id, .. } => {
            let rows = ctx.cte(*id)?;
            Ok(Box::new((0..rows.len()).map(move |i| Ok(rows[i].clone()))))
        }
        Plan::With { ctes, body } => {
            for (id, def) in ctes {
                relational::materialize_cte(*id, def, ctx)?;
            }
            open(body, ctx)
        }
        Plan::Window { input, calls } => window::open_window(input, calls, ctx),
        Plan::ProjectSet { input, exprs } => relational::open_project_set(input, exprs, ctx),
        Plan::LockRows {
            input,
            filter,
            width,
        } => scan::open_lock_rows(input, filter.clone(), *width, ctx),
    }
}

/// Opens `input` for a consumer that reads its rows only through `exprs`:
/// a table scan then decodes just the columns those expressions read.
pub(crate) fn open_for<'a>(
    input: &Plan,
    exprs: impl IntoIterator<Item = &'a crate::expr::Expr>,
    ctx: &ExecCtx,
) -> Result<RowIter> {
    let Plan::Scan {
        db,
        table,
        access,
        filter,
        with_key,
    } = input
    else {
        return open(input, ctx);
    };
    ctx.check_cancel()?;
    let mut used = Vec::new();
    let known = exprs.into_iter().all(|e| e.mark_columns(&mut used));
    scan::open_scan(
        *db,
        table.clone(),
        access,
        filter.clone(),
        *with_key,
        known.then_some(used),
        ctx,
    )
}

/// Runs a plan to completion.
pub fn collect(plan: &Plan, ctx: &ExecCtx) -> Result<Vec<Row>> {
    open(plan, ctx)?.collect()
}
