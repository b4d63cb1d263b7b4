//! Bound expressions and their evaluation.
//!
//! The planner turns sqlparser's AST into `Expr`: names are resolved to
//! positions in the input row (`Column`) or in an enclosing query's row
//! (`Outer`, for correlated subqueries), types are checked and inferred, and
//! functions are looked up. Evaluation is a plain recursive walk over one
//! input row, with SQL's three-valued logic: NULL propagates through strict
//! operators, AND/OR follow Kleene logic, comparisons with NULL are NULL.
//!
//! Subqueries are plans; evaluating one runs it with the current row pushed
//! as the outer row, so `Outer(1, i)` inside it reads column `i` of this row.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::exec::ExecCtx;
use crate::functions;
use crate::plan::Plan;
use crate::types::ops::{self, BinaryOp, UnaryOp};
use crate::types::{cast, compare, DataType, Value};
use crate::SqlState;

/// A row of values.
pub type Row = Vec<Value>;

/// Functions that need the session or the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionFn {
    Now,
    StatementTimestamp,
    ClockTimestamp,
    CurrentDate,
    CurrentTime,
    CurrentUser,
    CurrentDatabase,
    CurrentSchema,
    CurrentSchemas,
    Version,
    NextVal,
    CurrVal,
    SetVal,
    CurrentSetting,
    SetConfig,
    BackendPid,
    TxidCurrent,
    PgTypeof(DataType),
    /// A system-catalog helper (pg_get_indexdef, format_type, ...).
    Catalog(String),
    /// A replication function (pg_is_in_recovery, pg_last_wal_replay_lsn, ...).
    Wal(crate::exec::replication_fn::WalFn),
}

/// A bound expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Value),
    /// A column of the input row.
    Column(usize),
    /// A column of an enclosing query's row: (levels up, position).
    Outer(usize, usize),
    /// `$n` (0-based here).
    Param(usize),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Unary(UnaryOp, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    /// `a IS DISTINCT FROM b`.
    IsDistinct(Box<Expr>, Box<Expr>),
    /// `x IS TRUE` (Some(true)), `IS FALSE` (Some(false)), `IS UNKNOWN` (None).
    IsBool(Box<Expr>, Option<bool>),
    Cast(Box<Expr>, DataType),
    Function(String, Vec<Expr>),
    Session(SessionFn, Vec<Expr>),
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Coalesce(Vec<Expr>),
    NullIf(Box<Expr>, Box<Expr>),
    /// GREATEST (true) or LEAST (false).
    Extreme(bool, Vec<Expr>),
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<Box<Expr>>,
        case_insensitive: bool,
        negated: bool,
    },
    /// `expr op ANY/ALL (array)`.
    AnyAll {
        expr: Box<Expr>,
        op: BinaryOp,
        array: Box<Expr>,
        all: bool,
    },
    InSubquery {
        expr: Box<Expr>,
        plan: Arc<Plan>,
        negated: bool,
    },
    /// `(a, b) IN (SELECT x, y ...)`.
    RowInSubquery {
        exprs: Vec<Expr>,
        plan: Arc<Plan>,
        negated: bool,
    },
    /// `expr op ANY/ALL (subquery)`.
    AnyAllSubquery {
        expr: Box<Expr>,
        op: BinaryOp,
        plan: Arc<Plan>,
        all: bool,
    },
    Exists {
        plan: Arc<Plan>,
        negated: bool,
    },
    ScalarSubquery(Arc<Plan>),
    ArraySubquery(Arc<Plan>),
    Array(Vec<Expr>),
    Subscript(Box<Expr>, Box<Expr>),
}

fn as_bool(v: &Value) -> Result<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        other => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            format!(
                "argument must be type boolean, not {:?}",
                other.natural_type()
            ),
        )),
    }
}

/// SQL equality with NULL as unknown.
fn sql_eq(a: &Value, b: &Value) -> Result<Option<bool>> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    Ok(Some(compare::compare(a, b)?.is_eq()))
}

fn compare_op(op: BinaryOp, a: &Value, b: &Value) -> Result<Option<bool>> {
    if a.is_null() || b.is_null() {
        return Ok(None);
    }
    match ops::binary_op(op, a, b)? {
        Value::Bool(r) => Ok(Some(r)),
        Value::Null => Ok(None),
        _ => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            "operator does not return boolean",
        )),
    }
}

/// Folds `any`/`all` over three-valued results.
fn fold_quantified(
    results: impl Iterator<Item = Result<Option<bool>>>,
    all: bool,
) -> Result<Value> {
    let mut saw_null = false;
    for r in results {
        match r? {
            Some(b) if b != all => return Ok(Value::Bool(b)),
            None => saw_null = true,
            _ => {}
        }
    }
    Ok(if saw_null {
        Value::Null
    } else {
        Value::Bool(all)
    })
}

impl Expr {
    /// Evaluates the expression against one row.
    pub fn eval(&self, row: &[Value], ctx: &ExecCtx) -> Result<Value> {
        Ok(match self {
            Expr::Literal(v) => v.clone(),
            Expr::Column(i) => row
                .get(*i)
                .cloned()
                .ok_or_else(|| Error::internal(format!("column {i} out of range")))?,
            Expr::Outer(depth, i) => ctx.outer_value(*depth, *i)?,
            Expr::Param(i) => ctx.param(*i)?,
            Expr::Binary(op, l, r) => {
                let l = l.eval(row, ctx)?;
                let r = r.eval(row, ctx)?;
                if l.is_null() || r.is_null() {
                    if *op == BinaryOp::Concat
                        && (matches!(l, Value::Array(_)) || matches!(r, Value::Array(_)))
                    {
                        return Ok(if l.is_null() { r } else { l });
                    }
                    return Ok(Value::Null);
                }
                ops::binary_op(*op, &l, &r)?
            }
            Expr::Unary(op, e) => match e.eval(row, ctx)? {
                Value::Null => Value::Null,
                v => ops::unary_op(*op, &v)?,
            },
            Expr::And(l, r) => {
                let l = as_bool(&l.eval(row, ctx)?)?;
                if l == Some(false) {
                    return Ok(Value::Bool(false));
                }
                match (l, as_bool(&r.eval(row, ctx)?)?) {
                    (_, Some(false)) => Value::Bool(false),
                    (Some(true), Some(true)) => Value::Bool(true),
                    _ => Value::Null,
                }
            }
            Expr::Or(l, r) => {
                let l = as_bool(&l.eval(row, ctx)?)?;
                if l == Some(true) {
                    return Ok(Value::Bool(true));
                }
                match (l, as_bool(&r.eval(row, ctx)?)?) {
                    (_, Some(true)) => Value::Bool(true),
                    (Some(false), Some(false)) => Value::Bool(false),
                    _ => Value::Null,
                }
            }
            Expr::Not(e) => match as_bool(&e.eval(row, ctx)?)? {
                Some(b) => Value::Bool(!b),
                None => Value::Null,
            },
            Expr::IsNull(e) => Value::Bool(e.eval(row, ctx)?.is_null()),
            Expr::IsDistinct(a, b) => {
                let (a, b) = (a.eval(row, ctx)?, b.eval(row, ctx)?);
                Value::Bool(match (a.is_null(), b.is_null()) {
                    (true, true) => false,
                    (true, false) | (false, true) => true,
                    _ => !compare::compare(&a, &b)?.is_eq(),
                })
            }
            Expr::IsBool(e, want) => Value::Bool(as_bool(&e.eval(row, ctx)?)? == *want),
            Expr::Cast(e, ty) => cast::cast(e.eval(row, ctx)?, ty)?,
            Expr::Function(name, args) => {
                let args = args
                    .iter()
                    .map(|a| a.eval(row, ctx))
                    .collect::<Result<Vec<_>>>()?;
                if functions::is_strict(name) && args.iter().any(Value::is_null) {
                    return Ok(Value::Null);
                }
                functions::call(name, &args)?
            }
            Expr::Session(f, args) => {
                let args = args
                    .iter()
                    .map(|a| a.eval(row, ctx))
                    .collect::<Result<Vec<_>>>()?;
                ctx.session_function(f, args)?
            }
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                let operand = operand.as_ref().map(|o| o.eval(row, ctx)).transpose()?;
                for (cond, result) in whens {
                    let hit = match &operand {
                        Some(o) => sql_eq(o, &cond.eval(row, ctx)?)? == Some(true),
                        None => as_bool(&cond.eval(row, ctx)?)? == Some(true),
                    };
                    if hit {
                        return result.eval(row, ctx);
                    }
                }
                match otherwise {
                    Some(e) => e.eval(row, ctx)?,
                    None => Value::Null,
                }
            }
            Expr::Coalesce(items) => {
                for item in items {
                    let v = item.eval(row, ctx)?;
                    if !v.is_null() {
                        return Ok(v);
                    }
                }
                Value::Null
            }
            Expr::NullIf(a, b) => {
                let a = a.eval(row, ctx)?;
                let b = b.eval(row, ctx)?;
                if sql_eq(&a, &b)? == Some(true) {
                    Value::Null
                } else {
                    a
                }
            }
            Expr::Extreme(greatest, items) => {
                let mut best: Option<Value> = None;
                for item in items {
                    let v = item.eval(row, ctx)?;
                    if v.is_null() {
                        continue;
                    }
                    best = Some(match best {
                        None => v,
                        Some(b) => {
                            let ord = compare::compare(&v, &b)?;
                            if (*greatest && ord.is_gt()) || (!*greatest && ord.is_lt()) {
                                v
                            } else {
                                b
                            }
                        }
                    });
                }
                best.unwrap_or(Value::Null)
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row, ctx)?;
                let r =
                    fold_quantified(list.iter().map(|e| sql_eq(&v, &e.eval(row, ctx)?)), false)?;
                negate(r, *negated)
            }
            Expr::Like {
                expr,
                pattern,
                escape,
                case_insensitive,
                negated,
            } => {
                let v = expr.eval(row, ctx)?;
                let p = pattern.eval(row, ctx)?;
                let esc = match escape {
                    Some(e) => Some(e.eval(row, ctx)?),
                    None => None,
                };
                if v.is_null() || p.is_null() || matches!(esc, Some(Value::Null)) {
                    return Ok(Value::Null);
                }
                let esc_char = match esc {
                    Some(Value::Text(s)) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (None, _) => None,
                            (Some(c), None) => Some(c),
                            _ => {
                                return Err(Error::new(
                                    SqlState::INVALID_ESCAPE_SEQUENCE,
                                    "invalid escape string",
                                )
                                .with_hint("Escape string must be empty or one character."))
                            }
                        }
                    }
                    _ => Some('\\'),
                };
                let text = crate::types::text::format(&v);
                let pat = crate::types::text::format(&p);
                let m = functions::pattern::like(&text, &pat, esc_char, *case_insensitive)?;
                Value::Bool(m != *negated)
            }
            Expr::AnyAll {
                expr,
                op,
                array,
                all,
            } => {
                let v = expr.eval(row, ctx)?;
                match array.eval(row, ctx)? {
                    Value::Null => Value::Null,
                    Value::Array(items) => {
                        fold_quantified(items.iter().map(|i| compare_op(*op, &v, i)), *all)?
                    }
                    _ => {
                        return Err(Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            "op ANY/ALL (array) requires array on right side",
                        ))
                    }
                }
            }
            Expr::InSubquery {
                expr,
                plan,
                negated,
            } => {
                let v = expr.eval(row, ctx)?;
                let rows = ctx.run_subquery(plan, row)?;
                let r = fold_quantified(
                    rows.iter()
                        .map(|r| sql_eq(&v, r.first().unwrap_or(&Value::Null))),
                    false,
                )?;
                negate(r, *negated)
            }
            Expr::RowInSubquery {
                exprs,
                plan,
                negated,
            } => {
                let vals = exprs
                    .iter()
                    .map(|e| e.eval(row, ctx))
                    .collect::<Result<Vec<_>>>()?;
                let rows = ctx.run_subquery(plan, row)?;
                let r = fold_quantified(
                    rows.iter().map(|r| {
                        // Row equality: false if any field differs, NULL if any is unknown.
                        let mut unknown = false;
                        for (v, w) in vals.iter().zip(r.iter()) {
                            match sql_eq(v, w)? {
                                Some(false) => return Ok(Some(false)),
                                None => unknown = true,
                                Some(true) => {}
                            }
                        }
                        Ok(if unknown { None } else { Some(true) })
                    }),
                    false,
                )?;
                negate(r, *negated)
            }
            Expr::AnyAllSubquery {
                expr,
                op,
                plan,
                all,
            } => {
                let v = expr.eval(row, ctx)?;
                let rows = ctx.run_subquery(plan, row)?;
                fold_quantified(
                    rows.iter()
                        .map(|r| compare_op(*op, &v, r.first().unwrap_or(&Value::Null))),
                    *all,
                )?
            }
            Expr::Exists { plan, negated } => {
                Value::Bool(ctx.subquery_has_rows(plan, row)? != *negated)
            }
            Expr::ScalarSubquery(plan) => {
                let rows = ctx.run_subquery(plan, row)?;
                if rows.len() > 1 {
                    return Err(Error::new(
                        SqlState::CARDINALITY_VIOLATION,
                        "more than one row returned by a subquery used as an expression",
                    ));
                }
                rows.first()
                    .and_then(|r| r.first())
                    .cloned()
                    .unwrap_or(Value::Null)
            }
            Expr::ArraySubquery(plan) => {
                let rows = ctx.run_subquery(plan, row)?;
                Value::Array(
                    rows.iter()
                        .map(|r| r.first().cloned().unwrap_or(Value::Null))
                        .collect(),
                )
            }
            Expr::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|e| e.eval(row, ctx))
                    .collect::<Result<_>>()?,
            ),
            Expr::Subscript(a, i) => match (a.eval(row, ctx)?, i.eval(row, ctx)?) {
                (Value::Array(items), Value::Int4(i)) => index_array(items, i64::from(i)),
                (Value::Array(items), Value::Int8(i)) => index_array(items, i),
                (Value::Array(items), Value::Int2(i)) => index_array(items, i64::from(i)),
                _ => Value::Null,
            },
        })
    }

    /// Evaluates a predicate: only TRUE passes (NULL and FALSE do not).
    pub fn eval_predicate(&self, row: &[Value], ctx: &ExecCtx) -> Result<bool> {
        Ok(as_bool(&self.eval(row, ctx)?)? == Some(true))
    }

    /// Marks in `used` every input column the expression reads (growing it
    /// as needed). False when it may read the row some other way: a
    /// subquery sees the whole row as its outer row, so then every column
    /// counts as read. Table scans decode only the marked columns.
    pub fn mark_columns(&self, used: &mut Vec<bool>) -> bool {
        let all = |items: &[Expr], used: &mut Vec<bool>| items.iter().all(|e| e.mark_columns(used));
        match self {
            Expr::Column(i) => {
                if used.len() <= *i {
                    used.resize(*i + 1, false);
                }
                if let Some(slot) = used.get_mut(*i) {
                    *slot = true;
                }
                true
            }
            Expr::Literal(_) | Expr::Outer(..) | Expr::Param(_) => true,
            Expr::Binary(_, l, r)
            | Expr::And(l, r)
            | Expr::Or(l, r)
            | Expr::IsDistinct(l, r)
            | Expr::NullIf(l, r)
            | Expr::Subscript(l, r) => l.mark_columns(used) && r.mark_columns(used),
            Expr::Unary(_, e)
            | Expr::Not(e)
            | Expr::IsNull(e)
            | Expr::IsBool(e, _)
            | Expr::Cast(e, _) => e.mark_columns(used),
            Expr::Function(_, args)
            | Expr::Session(_, args)
            | Expr::Coalesce(args)
            | Expr::Extreme(_, args)
            | Expr::Array(args) => all(args, used),
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => {
                operand.as_ref().is_none_or(|o| o.mark_columns(used))
                    && whens
                        .iter()
                        .all(|(c, r)| c.mark_columns(used) && r.mark_columns(used))
                    && otherwise.as_ref().is_none_or(|o| o.mark_columns(used))
            }
            Expr::InList { expr, list, .. } => expr.mark_columns(used) && all(list, used),
            Expr::Like {
                expr,
                pattern,
                escape,
                ..
            } => {
                expr.mark_columns(used)
                    && pattern.mark_columns(used)
                    && escape.as_ref().is_none_or(|e| e.mark_columns(used))
            }
            Expr::AnyAll { expr, array, .. } => expr.mark_columns(used) && array.mark_columns(used),
            Expr::InSubquery { .. }
            | Expr::RowInSubquery { .. }
            | Expr::AnyAllSubquery { .. }
            | Expr::Exists { .. }
            | Expr::ScalarSubquery(_)
            | Expr::ArraySubquery(_) => false,
        }
    }

    /// Whether the expression reads no row, parameter or outer value (so it
    /// can be evaluated once at plan time).
    pub fn is_constant(&self) -> bool {
        match self {
            Expr::Literal(_) => true,
            Expr::Binary(_, l, r) => l.is_constant() && r.is_constant(),
            Expr::Unary(_, e) | Expr::Cast(e, _) | Expr::Not(e) => e.is_constant(),
            Expr::Function(name, args) => {
                !matches!(name.as_str(), "random" | "gen_random_uuid")
                    && args.iter().all(Expr::is_constant)
            }
            _ => false,
        }
    }
}

fn negate(v: Value, negated: bool) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(b != negated),
        other => other,
    }
}

fn index_array(items: Vec<Value>, i: i64) -> Value {
    usize::try_from(i - 1)
        .ok()
        .and_then(|i| items.into_iter().nth(i))
        .unwrap_or(Value::Null)
}
