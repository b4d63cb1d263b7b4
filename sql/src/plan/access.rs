//! Access paths: turning WHERE predicates on a table into key lookups.
//!
//! `add_filter` attaches a predicate to a plan. When the plan is a table
//! scan, the predicate's AND-ed conjuncts are inspected: equality of every
//! primary key column with a row-independent value (a literal, a parameter,
//! an outer reference) becomes a point lookup; an IN list on a one-column
//! key becomes several; a range on the first key column becomes a range
//! scan; the same for secondary indexes. The full predicate is still
//! evaluated on every row read, so an access path only has to be a superset
//! of the matching rows — it can never change a result, only its cost.

use super::{Access, Plan};
use crate::catalog::TableDef;
use crate::expr::Expr;
use crate::types::ops::BinaryOp;

/// Attaches `pred` to `plan`, choosing an access path for table scans.
pub fn add_filter(plan: Plan, pred: Expr) -> Plan {
    match plan {
        Plan::Scan {
            db,
            table,
            access: Access::Full,
            filter: None,
            with_key,
        } => {
            let access = choose_access(&table, &pred);
            Plan::Scan {
                db,
                table,
                access,
                filter: Some(pred),
                with_key,
            }
        }
        other => Plan::Filter {
            input: Box::new(other),
            predicate: pred,
        },
    }
}

/// The conjuncts of an AND tree.
pub fn conjuncts(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::And(a, b) => {
            let mut v = conjuncts(a);
            v.extend(conjuncts(b));
            v
        }
        other => vec![other],
    }
}

/// Whether an expression is independent of the current row.
fn row_independent(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) | Expr::Param(_) | Expr::Outer(..) => true,
        Expr::Cast(x, _) | Expr::Unary(_, x) => row_independent(x),
        Expr::Binary(_, a, b) => row_independent(a) && row_independent(b),
        Expr::Function(name, args) => {
            !matches!(name.as_str(), "random" | "gen_random_uuid")
                && args.iter().all(row_independent)
        }
        _ => false,
    }
}

/// `column = value` (either way round): the column and the value.
fn equality(e: &Expr) -> Option<(usize, &Expr)> {
    if let Expr::Binary(BinaryOp::Eq, a, b) = e {
        match (&**a, &**b) {
            (Expr::Column(i), v) if row_independent(v) => return Some((*i, v)),
            (v, Expr::Column(i)) if row_independent(v) => return Some((*i, v)),
            _ => {}
        }
    }
    None
}

/// Bounds on a column: (column, low, high) with inclusivity.
type Bound = Option<(Expr, bool)>;

fn range(e: &Expr) -> Option<(usize, Bound, Bound)> {
    match e {
        Expr::Binary(op, a, b) => {
            let (col, v, flipped) = match (&**a, &**b) {
                (Expr::Column(i), v) if row_independent(v) => (*i, v, false),
                (v, Expr::Column(i)) if row_independent(v) => (*i, v, true),
                _ => return None,
            };
            let op = if flipped {
                match op {
                    BinaryOp::Lt => BinaryOp::Gt,
                    BinaryOp::LtEq => BinaryOp::GtEq,
                    BinaryOp::Gt => BinaryOp::Lt,
                    BinaryOp::GtEq => BinaryOp::LtEq,
                    other => *other,
                }
            } else {
                *op
            };
            let v = v.clone();
            match op {
                BinaryOp::Gt => Some((col, Some((v, false)), None)),
                BinaryOp::GtEq => Some((col, Some((v, true)), None)),
                BinaryOp::Lt => Some((col, None, Some((v, false)))),
                BinaryOp::LtEq => Some((col, None, Some((v, true)))),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Key tuples for `columns` from equalities (and one IN list on a single
/// column), if every column is pinned.
fn key_tuples(columns: &[usize], conj: &[&Expr]) -> Option<Vec<Vec<Expr>>> {
    if columns.len() == 1 {
        for c in conj {
            if let Expr::InList {
                expr,
                list,
                negated: false,
            } = c
            {
                if **expr == Expr::Column(columns[0]) && list.iter().all(row_independent) {
                    return Some(list.iter().map(|v| vec![v.clone()]).collect());
                }
            }
        }
    }
    let mut tuple = Vec::with_capacity(columns.len());
    for col in columns {
        let v = conj.iter().find_map(|c| {
            equality(c)
                .filter(|(i, _)| i == col)
                .map(|(_, v)| v.clone())
        })?;
        tuple.push(v);
    }
    Some(vec![tuple])
}

fn column_range(col: usize, conj: &[&Expr]) -> Option<(Bound, Bound)> {
    let mut low = None;
    let mut high = None;
    for c in conj {
        if let Some((i, l, h)) = range(c) {
            if i == col {
                low = low.or(l);
                high = high.or(h);
            }
        }
    }
    if low.is_none() && high.is_none() {
        return None;
    }
    Some((low, high))
}

fn choose_access(table: &TableDef, pred: &Expr) -> Access {
    let conj = conjuncts(pred);
    if !table.primary_key.is_empty() {
        if let Some(keys) = key_tuples(&table.primary_key, &conj) {
            return Access::PrimaryKey(keys);
        }
    }
    for index in &table.indexes {
        // Use the longest pinned prefix of an index.
        for n in (1..=index.columns.len()).rev() {
            if let Some(keys) = key_tuples(&index.columns[..n], &conj) {
                return Access::Index {
                    index: index.clone(),
                    keys,
                };
            }
        }
    }
    if let Some(first) = table.primary_key.first() {
        if let Some((low, high)) = column_range(*first, &conj) {
            return Access::PrimaryRange { low, high };
        }
    }
    for index in &table.indexes {
        if let Some(first) = index.columns.first() {
            if let Some((low, high)) = column_range(*first, &conj) {
                return Access::IndexRange {
                    index: index.clone(),
                    low,
                    high,
                };
            }
        }
    }
    Access::Full
}

/// Splits a join condition into hashable (left expr, right expr) equalities
/// and the rest. Right-side column references are rebased to the right row.
pub fn split_equi_join(pred: Expr, left_width: usize) -> (Vec<(Expr, Expr)>, Option<Expr>) {
    let mut equi = Vec::new();
    let mut rest: Option<Expr> = None;
    for c in conjuncts(&pred) {
        let mut handled = false;
        if let Expr::Binary(BinaryOp::Eq, a, b) = c {
            let side = |e: &Expr| -> Option<bool> {
                let cols = columns_of(e)?;
                if cols.is_empty() {
                    return None;
                }
                if cols.iter().all(|i| *i < left_width) {
                    Some(true)
                } else if cols.iter().all(|i| *i >= left_width) {
                    Some(false)
                } else {
                    None
                }
            };
            match (side(a), side(b)) {
                (Some(true), Some(false)) => {
                    equi.push(((**a).clone(), rebase((**b).clone(), left_width)));
                    handled = true;
                }
                (Some(false), Some(true)) => {
                    equi.push(((**b).clone(), rebase((**a).clone(), left_width)));
                    handled = true;
                }
                _ => {}
            }
        }
        if !handled {
            rest = Some(match rest {
                None => c.clone(),
                Some(r) => Expr::And(Box::new(r), Box::new(c.clone())),
            });
        }
    }
    (equi, rest)
}

/// Column positions an expression reads; `None` if it has anything that
/// prevents evaluating it on one side alone (subqueries, outer refs).
fn columns_of(e: &Expr) -> Option<Vec<usize>> {
    match e {
        Expr::Column(i) => Some(vec![*i]),
        Expr::Literal(_) | Expr::Param(_) => Some(vec![]),
        Expr::Cast(x, _) | Expr::Unary(_, x) => columns_of(x),
        Expr::Binary(_, a, b) => {
            let mut v = columns_of(a)?;
            v.extend(columns_of(b)?);
            Some(v)
        }
        Expr::Function(_, args) | Expr::Coalesce(args) => {
            let mut v = Vec::new();
            for a in args {
                v.extend(columns_of(a)?);
            }
            Some(v)
        }
        _ => None,
    }
}

fn rebase(e: Expr, by: usize) -> Expr {
    match e {
        Expr::Column(i) => Expr::Column(i - by),
        Expr::Cast(x, t) => Expr::Cast(Box::new(rebase(*x, by)), t),
        Expr::Unary(op, x) => Expr::Unary(op, Box::new(rebase(*x, by))),
        Expr::Binary(op, a, b) => {
            Expr::Binary(op, Box::new(rebase(*a, by)), Box::new(rebase(*b, by)))
        }
        Expr::Function(n, args) => {
            Expr::Function(n, args.into_iter().map(|a| rebase(a, by)).collect())
        }
        Expr::Coalesce(args) => Expr::Coalesce(args.into_iter().map(|a| rebase(a, by)).collect()),
        other => other,
    }
}

/// Rewrites a left-side join key for use inside the right side of a lateral
/// join: left columns become outer references one level up, and existing
/// outer references move one level further out. `None` for expressions we
/// do not rewrite (subqueries and the like).
fn lift_to_outer(e: &Expr) -> Option<Expr> {
    Some(match e {
        Expr::Column(i) => Expr::Outer(1, *i),
        Expr::Outer(d, i) => Expr::Outer(d + 1, *i),
        Expr::Literal(_) | Expr::Param(_) => e.clone(),
        Expr::Cast(x, t) => Expr::Cast(Box::new(lift_to_outer(x)?), t.clone()),
        Expr::Unary(op, x) => Expr::Unary(*op, Box::new(lift_to_outer(x)?)),
        Expr::Binary(op, a, b) => Expr::Binary(
            *op,
            Box::new(lift_to_outer(a)?),
            Box::new(lift_to_outer(b)?),
        ),
        Expr::Function(n, args) => Expr::Function(
            n.clone(),
            args.iter().map(lift_to_outer).collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// Plans an equi-join whose right side is a table with a matching primary
/// key or index as an index nested-loop join: each left row reads its
/// matches by key instead of hashing the whole right table. Returns the
/// inputs back when that does not apply.
pub fn index_join(
    left: Plan,
    right: Plan,
    kind: super::JoinKind,
    equi: &[(Expr, Expr)],
    rest: &Option<Expr>,
) -> Result<Plan, Box<(Plan, Plan)>> {
    use super::JoinKind;
    let applicable =
        !equi.is_empty() && (kind == JoinKind::Inner || (kind == JoinKind::Left && rest.is_none()));
    let Plan::Scan {
        db,
        table,
        access: Access::Full,
        filter: None,
        with_key: false,
    } = right
    else {
        return Err(Box::new((left, right)));
    };
    let rebuild = |table| Plan::Scan {
        db,
        table,
        access: Access::Full,
        filter: None,
        with_key: false,
    };
    if !applicable {
        return Err(Box::new((left, rebuild(table))));
    }
    let mut pred: Option<Expr> = None;
    for (l, r) in equi {
        let (Expr::Column(_), Some(outer)) = (r, lift_to_outer(l)) else {
            return Err(Box::new((left, rebuild(table))));
        };
        let eq = Expr::Binary(BinaryOp::Eq, Box::new(r.clone()), Box::new(outer));
        pred = Some(match pred {
            None => eq,
            Some(p) => Expr::And(Box::new(p), Box::new(eq)),
        });
    }
    let Some(pred) = pred else {
        return Err(Box::new((left, rebuild(table))));
    };
    let access = choose_access(&table, &pred);
    if !matches!(access, Access::PrimaryKey(_) | Access::Index { .. }) {
        return Err(Box::new((left, rebuild(table))));
    }
    let right_width = table.columns.len();
    let inner = Plan::Scan {
        db,
        table,
        access,
        filter: Some(pred),
        with_key: false,
    };
    let plan = Plan::Lateral {
        left: Box::new(left),
        right: std::sync::Arc::new(inner),
        left_outer_join: kind == JoinKind::Left,
        right_width,
    };
    Ok(match rest {
        Some(r) if kind == JoinKind::Inner => Plan::Filter {
            input: Box::new(plan),
            predicate: r.clone(),
        },
        _ => plan,
    })
}
