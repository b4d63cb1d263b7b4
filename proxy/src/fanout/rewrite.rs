//! Fragment SQL and the final (merge) query.
//!
//! Fragment `i` of `n` is the analysed query with
//! `(<original WHERE>) AND <driving>.<pk> >= b[i-1] AND <driving>.<pk> < b[i]`
//! (the first without a lower bound, the last without an upper one), so
//! the fragments read disjoint key ranges that cover the table. Then, by
//! shape:
//!
//! * aggregate: the select list becomes the partial columns `c0..`, GROUP
//!   BY the group keys plus distinct-aggregate arguments; HAVING, ORDER BY,
//!   DISTINCT and LIMIT move to the final query;
//! * scan merged by concatenation ([`ScanMerge::Concat`]: no ORDER BY, or
//!   ORDER BY the driving key first): fragments keep ORDER BY and get
//!   `LIMIT offset+limit`; the proxy concatenates them in key order
//!   (reversed for DESC) and cuts OFFSET/LIMIT;
//! * any other scan ([`ScanMerge::Final`]): ORDER BY keys not in the select
//!   list become hidden columns `__rdb_sK` at the end, LIMIT becomes
//!   `offset+limit` when there is one, and the final query sorts, removes
//!   duplicates and cuts.
//!
//! The final query reads the fragments' rows as a typed `VALUES` list
//! (built by [`super::merge`]) named `p(c0, c1, ...)` and is evaluated by
//! one backend, so sorting, grouping, HAVING, DISTINCT, numeric division
//! and text formatting are exactly the server's own.

use sqlparser::ast::{Expr, GroupByExpr, Ident, LimitClause, SelectItem, SetExpr, Value};

use super::analyze::{FanoutPlan, PlanKind, Reason, ScanShape};
use super::lower::{AggShape, SumType};

/// Where to split: the driving table's first key column and the bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub pk: String,
    /// SQL type name to cast bounds to (`None`: an untyped literal).
    pub pk_type: Option<String>,
    /// Increasing bounds; `bounds.len() + 1` fragments.
    pub bounds: Vec<String>,
}

/// How a scan's fragments are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanMerge {
    /// Concatenate in key order (`reverse`: descending key).
    Concat { reverse: bool },
    /// Evaluate the final query on a backend.
    Final,
}

/// The merge strategy of a scan, given the driving key column.
pub fn scan_merge(shape: &ScanShape, qualifier: &str, pk: &str) -> ScanMerge {
    if shape.distinct {
        return ScanMerge::Final;
    }
    let Some(first) = shape.order.first() else {
        return ScanMerge::Concat { reverse: false };
    };
    let is_pk = match &first.expr {
        Expr::Identifier(id) => id.value == pk,
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, c] => c.value == pk && q.to_string() == qualifier,
            _ => false,
        },
        _ => false,
    };
    if is_pk {
        ScanMerge::Concat {
            reverse: first.desc,
        }
    } else {
        ScanMerge::Final
    }
}

/// SQL quoting of a string literal (standard_conforming_strings).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The range predicate of fragment `i`.
fn range_predicate(plan: &FanoutPlan, split: &Split, i: usize) -> Option<String> {
    let column = format!(
        "{}.{}",
        plan.driving.qualifier,
        Ident::with_quote('"', &split.pk)
    );
    let bound = |b: &str| match &split.pk_type {
        Some(t) => format!("{}::{t}", literal(b)),
        None => literal(b),
    };
    let lower = i
        .checked_sub(1)
        .and_then(|j| split.bounds.get(j))
        .map(|b| format!("{column} >= {}", bound(b)));
    let upper = split
        .bounds
        .get(i)
        .map(|b| format!("{column} < {}", bound(b)));
    match (lower, upper) {
        (Some(l), Some(u)) => Some(format!("{l} AND {u}")),
        (Some(p), None) | (None, Some(p)) => Some(p),
        (None, None) => None,
    }
}

/// Every fragment's SQL, in key order.
pub fn fragments(plan: &FanoutPlan, split: &Split) -> Result<Vec<String>, Reason> {
    (0..=split.bounds.len())
        .map(|i| fragment(plan, split, i))
        .collect()
}

fn fragment(plan: &FanoutPlan, split: &Split, i: usize) -> Result<String, Reason> {
    let mut query = plan.query.clone();
    let SetExpr::Select(select) = query.body.as_mut() else {
        return Err("set_operation");
    };
    if let Some(range) = range_predicate(plan, split, i) {
        let range = super::analyze::parse_expr(&range).ok_or("range_predicate")?;
        select.selection = Some(match select.selection.take() {
            Some(w) => Expr::BinaryOp {
                left: Box::new(Expr::Nested(Box::new(w))),
                op: sqlparser::ast::BinaryOperator::And,
                right: Box::new(range),
            },
            None => range,
        });
    }
    match &plan.kind {
        PlanKind::Aggregate(agg) => {
            select.projection = agg
                .columns
                .iter()
                .enumerate()
                .map(|(k, e)| SelectItem::ExprWithAlias {
                    expr: e.clone(),
                    alias: Ident::new(format!("c{k}")),
                })
                .collect();
            select.group_by = GroupByExpr::Expressions(agg.fragment_group_by.clone(), vec![]);
            select.having = None;
            select.distinct = None;
            query.order_by = None;
            query.limit_clause = None;
        }
        PlanKind::Scan(scan) => {
            let merge = scan_merge(scan, &plan.driving.qualifier, &split.pk);
            if merge == ScanMerge::Final {
                for (k, key) in scan.order.iter().enumerate() {
                    if key.column.is_none() {
                        select.projection.push(SelectItem::ExprWithAlias {
                            expr: key.expr.clone(),
                            alias: Ident::new(format!("__rdb_s{k}")),
                        });
                    }
                }
            }
            match scan.limit {
                Some(limit) => {
                    let keep = limit.saturating_add(scan.offset.unwrap_or(0));
                    query.limit_clause = Some(LimitClause::LimitOffset {
                        limit: Some(Expr::Value(Value::Number(keep.to_string(), false).into())),
                        offset: None,
                        limit_by: vec![],
                    });
                }
                None => {
                    query.limit_clause = None;
                    if merge == ScanMerge::Final {
                        query.order_by = None;
                    }
                }
            }
        }
    }
    Ok(query.to_string())
}

/// The columns a scan's final query selects and sorts by: `(visible
/// columns, ORDER BY items)`, given the fragment's column count.
fn scan_final_columns(scan: &ScanShape, fragment_columns: usize) -> (usize, Vec<String>) {
    let hidden = scan.order.iter().filter(|k| k.column.is_none()).count();
    let visible = fragment_columns.saturating_sub(hidden);
    let mut next_hidden = visible;
    let order = scan
        .order
        .iter()
        .map(|key| {
            let col = match key.column {
                Some(c) => c,
                None => {
                    next_hidden += 1;
                    next_hidden - 1
                }
            };
            order_item(&format!("c{col}"), key.desc, key.nulls_first)
        })
        .collect();
    (visible, order)
}

fn order_item(target: &str, desc: bool, nulls_first: Option<bool>) -> String {
    let mut s = target.to_string();
    if desc {
        s.push_str(" DESC");
    }
    match nulls_first {
        Some(true) => s.push_str(" NULLS FIRST"),
        Some(false) => s.push_str(" NULLS LAST"),
        None => {}
    }
    s
}

/// Number of visible (client) columns of a scan's fragments.
pub fn scan_visible_columns(scan: &ScanShape, fragment_columns: usize) -> usize {
    scan_final_columns(scan, fragment_columns).0
}

fn limit_offset(limit: Option<u64>, offset: Option<u64>) -> String {
    let mut s = String::new();
    if let Some(l) = limit {
        s.push_str(&format!(" LIMIT {l}"));
    }
    if let Some(o) = offset {
        s.push_str(&format!(" OFFSET {o}"));
    }
    s
}

/// The final query of a scan around `relation` (the partial rows).
pub fn scan_final_sql(scan: &ScanShape, fragment_columns: usize, relation: &[u8]) -> Vec<u8> {
    let (visible, order) = scan_final_columns(scan, fragment_columns);
    let cols: Vec<String> = (0..visible).map(|c| format!("c{c}")).collect();
    let mut sql = format!(
        "SELECT {}{} FROM ",
        if scan.distinct { "DISTINCT " } else { "" },
        cols.join(", ")
    )
    .into_bytes();
    sql.extend_from_slice(relation);
    let mut tail = String::new();
    if !order.is_empty() {
        tail.push_str(" ORDER BY ");
        tail.push_str(&order.join(", "));
    }
    tail.push_str(&limit_offset(scan.limit, scan.offset));
    sql.extend_from_slice(tail.as_bytes());
    sql
}

/// The final query of an aggregate around `relation`; `None` when a
/// partial's type has no exact merge.
pub fn aggregate_final_sql(
    agg: &AggShape,
    type_of: impl Fn(usize) -> SumType,
    relation: &[u8],
) -> Option<Vec<u8>> {
    let mut finals = Vec::with_capacity(agg.merges.len());
    for m in &agg.merges {
        finals.push(m.final_sql(&type_of)?);
    }
    let fill = |text: &str| {
        let mut out = text.to_string();
        // Highest number first, so `__rdb_m1__` never eats `__rdb_m12__`.
        for (n, f) in finals.iter().enumerate().rev() {
            out = out.replace(&format!("__rdb_m{n}__"), f);
        }
        out
    };
    let outputs: Vec<String> = agg.outputs.iter().map(|o| fill(o)).collect();
    let mut sql = format!(
        "SELECT {}{} FROM ",
        if agg.distinct { "DISTINCT " } else { "" },
        outputs.join(", ")
    )
    .into_bytes();
    sql.extend_from_slice(relation);
    let mut tail = String::new();
    if agg.group_keys > 0 {
        let keys: Vec<String> = (0..agg.group_keys).map(|k| format!("c{k}")).collect();
        tail.push_str(&format!(" GROUP BY {}", keys.join(", ")));
    }
    if let Some(h) = &agg.having {
        tail.push_str(&format!(" HAVING {}", fill(h)));
    }
    if !agg.order_by.is_empty() {
        let items: Vec<String> = agg.order_by.iter().map(|o| fill(o)).collect();
        tail.push_str(&format!(" ORDER BY {}", items.join(", ")));
    }
    tail.push_str(&limit_offset(agg.limit, agg.offset));
    sql.extend_from_slice(tail.as_bytes());
    Some(sql)
}
