//! GROUP BY ROLLUP / CUBE / GROUPING SETS and `grouping(...)`.
//!
//! The GROUP BY list is flattened into the distinct grouping expressions
//! (the Aggregate's group columns, as for a plain GROUP BY, so the select
//! list binds against them unchanged) plus the list of grouping sets, each
//! a set of positions in that list. Several GROUP BY items combine as
//! PostgreSQL does: the cross product of their sets (`a, ROLLUP(b)` is
//! `{a,b}, {a}`).
//!
//! Execution is a UNION ALL of one Aggregate per grouping set over the
//! same input, each projected back to the full layout (group columns, then
//! aggregates) with NULL in the group columns its set leaves out. A
//! `grouping(a, b)` call is an aggregate call whose only argument lists
//! the positions it asks about; each branch replaces that by the constant
//! bit mask for its set (a bit is 1 when the expression is not grouped,
//! the first argument being the most significant bit).

use sqlparser::ast;

use super::{AggCall, AggFunc, Plan, SetOpKind};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::Value;
use crate::SqlState;

/// The most grouping sets one query may expand to (CUBE doubles per item).
const MAX_SETS: usize = 4096;

/// Grouping sets: each a list of positions in the grouping expressions.
pub(crate) type Sets = Vec<Vec<usize>>;

/// Flattens a GROUP BY list: the distinct grouping expressions and, when
/// the list uses ROLLUP, CUBE or GROUPING SETS, the grouping sets.
pub(crate) fn expand(list: &[ast::Expr]) -> Result<(Vec<ast::Expr>, Option<Sets>)> {
    let special = list.iter().any(|e| {
        matches!(
            e,
            ast::Expr::Rollup(_) | ast::Expr::Cube(_) | ast::Expr::GroupingSets(_)
        )
    });
    if !special {
        return Ok((list.to_vec(), None));
    }
    let mut exprs: Vec<ast::Expr> = Vec::new();
    let mut position = |e: &ast::Expr| -> usize {
        match exprs.iter().position(|x| x == e) {
            Some(i) => i,
            None => {
                exprs.push(e.clone());
                exprs.len() - 1
            }
        }
    };
    // The sets of each GROUP BY item; the query's sets are their product.
    let mut product: Vec<Vec<usize>> = vec![vec![]];
    for item in list {
        let item_sets: Vec<Vec<usize>> = match item {
            ast::Expr::Rollup(parts) => {
                let parts: Vec<Vec<usize>> = parts
                    .iter()
                    .map(|p| p.iter().map(&mut position).collect())
                    .collect();
                (0..=parts.len())
                    .rev()
                    .map(|n| parts.iter().take(n).flatten().copied().collect())
                    .collect()
            }
            ast::Expr::Cube(parts) => {
                let parts: Vec<Vec<usize>> = parts
                    .iter()
                    .map(|p| p.iter().map(&mut position).collect())
                    .collect();
                if parts.len() > 12 {
                    return Err(Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "CUBE is limited to 12 elements",
                    ));
                }
                (0..(1usize << parts.len()))
                    .rev()
                    .map(|mask| {
                        parts
                            .iter()
                            .enumerate()
                            .filter(|(i, _)| mask & (1 << (parts.len() - 1 - i)) != 0)
                            .flat_map(|(_, p)| p.iter().copied())
                            .collect()
                    })
                    .collect()
            }
            ast::Expr::GroupingSets(sets) => sets
                .iter()
                .map(|s| s.iter().map(&mut position).collect())
                .collect(),
            plain => vec![vec![position(plain)]],
        };
        let mut next = Vec::with_capacity(product.len() * item_sets.len());
        for base in &product {
            for s in &item_sets {
                let mut combined = base.clone();
                combined.extend(s.iter().filter(|i| !base.contains(i)));
                next.push(combined);
            }
        }
        if next.len() > MAX_SETS {
            return Err(Error::new(
                SqlState::STATEMENT_TOO_COMPLEX,
                "too many grouping sets present",
            ));
        }
        product = next;
    }
    for s in &mut product {
        s.sort_unstable();
    }
    Ok((exprs, Some(product)))
}

/// A `grouping(...)` call asking about the group columns at `positions`.
pub(crate) fn grouping_call(positions: Vec<usize>) -> AggCall {
    let list = positions
        .into_iter()
        .map(|p| Value::Int4(i32::try_from(p).unwrap_or(i32::MAX)))
        .collect();
    AggCall {
        func: AggFunc::Grouping,
        args: vec![Expr::Literal(Value::Array(list))],
        distinct: false,
        filter: None,
        order_by: vec![],
        result_type: crate::types::DataType::Int4,
        arg_type: crate::types::DataType::Int4,
    }
}

/// The aggregate calls for one grouping set: `grouping(...)` calls become
/// their constant answer for that set.
fn calls_for_set(aggs: &[AggCall], set: &[usize]) -> Vec<AggCall> {
    aggs.iter()
        .map(|a| {
            let Some(Expr::Literal(Value::Array(asked))) =
                a.args.first().filter(|_| a.func == AggFunc::Grouping)
            else {
                return a.clone();
            };
            let mask = asked.iter().fold(0i32, |acc, p| {
                let grouped = matches!(p, Value::Int4(i) if usize::try_from(*i).is_ok_and(|i| set.contains(&i)));
                (acc << 1) | i32::from(!grouped)
            });
            AggCall {
                args: vec![Expr::Literal(Value::Int4(mask))],
                ..a.clone()
            }
        })
        .collect()
}

/// The Aggregate plan: one node for a plain GROUP BY, else the UNION ALL
/// of one node per grouping set (see the module doc).
pub(crate) fn aggregate_plan(
    input: Plan,
    groups: Vec<Expr>,
    aggs: Vec<AggCall>,
    sets: Option<Vec<Vec<usize>>>,
) -> Plan {
    let Some(sets) = sets else {
        let all: Vec<usize> = (0..groups.len()).collect();
        return Plan::Aggregate {
            input: Box::new(input),
            aggregates: calls_for_set(&aggs, &all),
            group_by: groups,
        };
    };
    let mut combined: Option<Plan> = None;
    for set in &sets {
        let group_by: Vec<Expr> = set.iter().filter_map(|&i| groups.get(i).cloned()).collect();
        let kept = group_by.len();
        let node = Plan::Aggregate {
            input: Box::new(input.clone()),
            group_by,
            aggregates: calls_for_set(&aggs, set),
        };
        let mut exprs = Vec::with_capacity(groups.len() + aggs.len());
        for g in 0..groups.len() {
            exprs.push(match set.iter().position(|&i| i == g) {
                Some(p) => Expr::Column(p),
                None => Expr::Literal(Value::Null),
            });
        }
        exprs.extend((0..aggs.len()).map(|k| Expr::Column(kept + k)));
        let branch = Plan::Project {
            input: Box::new(node),
            exprs,
        };
        combined = Some(match combined {
            None => branch,
            Some(left) => Plan::SetOp {
                kind: SetOpKind::Union,
                all: true,
                left: Box::new(left),
                right: Box::new(branch),
            },
        });
    }
    combined.unwrap_or(Plan::Values {
        rows: vec![],
        width: groups.len() + aggs.len(),
    })
}
