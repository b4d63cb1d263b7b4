//! Binding expressions: AST → `Expr` with types.
//!
//! The binder resolves column names against the current `Scope` and then the
//! enclosing queries' scopes (outer references), decides the type of every
//! node, and resolves "unknown" literals and parameters from their context
//! the way PostgreSQL does: in `price > '10'` the string becomes a numeric,
//! in `aid = $1` the parameter becomes an integer. When aggregation is on
//! (`AggContext`), aggregate calls are collected into the Aggregate node and
//! replaced by references to its output, and bare columns must be grouped.

use sqlparser::ast;

use super::func;
use super::scope::{Scope, ScopeColumn};
use super::select::CteBinding;
use super::AggCall;
use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::{cast, DataType};
use crate::SqlState;

/// Session facts the binder needs (for `SHOW`, `current_setting`, catalogs).
pub trait SessionView {
    /// The connected user.
    fn user(&self) -> &str;
    /// The connected database's name.
    fn database(&self) -> &str;
    /// A setting's current value.
    fn setting(&self, name: &str) -> Option<String>;
    /// All settings (name, value), for pg_settings.
    fn settings(&self) -> Vec<(String, String)>;
    /// All databases (oid, name), for pg_database.
    fn databases(&self) -> Vec<(u32, String)>;
    /// (last_value, is_called) of a sequence.
    fn sequence_state(&self, def: &crate::catalog::SequenceDef) -> Result<(i64, bool)>;
    /// The replicas streaming from this node, for pg_stat_replication.
    /// Live state of the subscriptions' apply workers.
    fn subscription_stats(&self) -> Vec<crate::subscription::SubscriptionStat> {
        Vec::new()
    }
    fn replication_stats(&self) -> Vec<crate::storage::ReplicationStat> {
        Vec::new()
    }
    /// Whether this node is streaming a replication slot right now.
    fn slot_active(&self, _name: &str) -> bool {
        false
    }
    /// The LSN of the last commit (for slot lag).
    fn current_lsn(&self) -> u64 {
        0
    }
}

/// Aggregation state while binding a grouped query's outputs.
pub struct AggContext {
    /// Bound GROUP BY expressions (outputs 0..n of the Aggregate node).
    pub groups: Vec<Expr>,
    /// Aggregate calls collected so far (outputs n.. of the node).
    pub aggs: Vec<AggCall>,
    /// The scope of the rows being aggregated.
    pub input: Scope,
    /// The grouping sets (positions in `groups`) of ROLLUP / CUBE /
    /// GROUPING SETS, or `None` for a plain GROUP BY.
    pub sets: Option<Vec<Vec<usize>>>,
}

/// The Aggregate node's output as a scope: each GROUP BY expression that is
/// a plain input column keeps that column's name and table; others (and the
/// aggregates after them) are unnamed, so nothing else resolves.
fn grouped_scope(agg: &AggContext) -> Scope {
    let columns = agg
        .groups
        .iter()
        .map(|g| match g {
            Expr::Column(i) => agg.input.columns.get(*i).cloned(),
            _ => None,
        })
        .map(|c| {
            c.unwrap_or(ScopeColumn {
                table: None,
                name: String::new(),
                data_type: DataType::Unknown,
                table_oid: 0,
                column_id: 0,
                hidden: true,
            })
        })
        .collect();
    Scope { columns }
}

/// Binds statements against one catalog snapshot.
pub struct Binder<'a> {
    pub catalog: Catalog<'a>,
    pub session: &'a dyn SessionView,
    /// Parameter types, filled in as parameters are seen.
    pub params: Vec<Option<DataType>>,
    /// Scopes of enclosing queries, innermost last.
    pub outer: Vec<Scope>,
    /// CTEs visible at this point, innermost last.
    pub ctes: Vec<CteBinding>,
    pub next_cte_id: usize,
    /// Set while binding a grouped query's SELECT list / HAVING / ORDER BY.
    pub agg: Option<AggContext>,
    /// Set while window calls are allowed (a SELECT's outputs and ORDER BY).
    pub window: Option<super::window::WindowContext>,
    /// Why a window call met where none is allowed is refused (the
    /// message); `None` gives the generic "not allowed here".
    pub window_refusal: Option<&'static str>,
    /// True until the statement's own query starts binding: only its WITH
    /// may hold data-modifying statements.
    pub top_level: bool,
    /// Aliases of FROM items that are functions returning a scalar: their
    /// whole-row reference is that scalar (see `whole_row.rs`).
    pub scalar_items: Vec<String>,
}

/// Result of binding: the expression and its type.
pub type Bound = (Expr, DataType);

impl<'a> Binder<'a> {
    /// Binds an expression in `scope`.
    pub fn expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Bound> {
        if self.agg.is_some() {
            return self.agg_expr(e, scope);
        }
        self.plain_expr(e, scope)
    }

    /// Binds a predicate (WHERE, ON, HAVING): must be boolean.
    pub fn predicate(&mut self, e: &ast::Expr, scope: &Scope, clause: &str) -> Result<Expr> {
        let refusal = match clause {
            "WHERE" => Some("window functions are not allowed in WHERE"),
            "JOIN/ON" => Some("window functions are not allowed in JOIN conditions"),
            _ => self.window_refusal,
        };
        let (expr, ty) = self.refusing_windows(refusal, |b| b.expr(e, scope))?;
        let expr = self.coerce_unknown(expr, &ty, &DataType::Bool)?;
        match ty {
            DataType::Bool | DataType::Unknown | DataType::Void => Ok(expr),
            other => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "argument of {clause} must be type boolean, not type {}",
                    crate::types::oid::type_name(&other)
                ),
            )),
        }
    }

    /// In a grouped context: group expressions and aggregates become
    /// references to the Aggregate node's outputs.
    fn agg_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Bound> {
        let Some(mut agg) = self.agg.take() else {
            return self.plain_expr(e, scope);
        };
        let result = self.agg_expr_inner(e, &mut agg);
        self.agg = Some(agg);
        result
    }

    fn agg_expr_inner(&mut self, e: &ast::Expr, agg: &mut AggContext) -> Result<Bound> {
        // A whole GROUP BY expression?
        let input = agg.input.clone();
        if !matches!(e, ast::Expr::Value(_)) && !super::window::contains_window_ast(e) {
            let saved_params = self.params.clone();
            if let Ok((bound, ty)) = self.plain_expr(e, &input) {
                if let Some(i) = agg.groups.iter().position(|g| *g == bound) {
                    return Ok((Expr::Column(i), ty));
                }
            }
            self.params = saved_params;
        }
        if let ast::Expr::Function(f) = e {
            let name = func::function_name(&f.name);
            if name == "grouping" && f.over.is_none() {
                let (args, _, _, _) = func::call_args(f)?;
                let mut positions = Vec::with_capacity(args.len());
                for a in args {
                    let (bound, _) = self.plain_expr(a, &input)?;
                    let Some(i) = agg.groups.iter().position(|g| *g == bound) else {
                        return Err(Error::new(
                            SqlState::GROUPING_ERROR,
                            "arguments to GROUPING must be grouping expressions of the associated query level",
                        ));
                    };
                    positions.push(i);
                }
                agg.aggs
                    .push(super::grouping_sets::grouping_call(positions));
                return Ok((
                    Expr::Column(agg.groups.len() + agg.aggs.len() - 1),
                    DataType::Int4,
                ));
            }
            if func::is_aggregate(&name) && f.over.is_none() {
                let call = self.aggregate_call(&name, f, &input)?;
                let ty = call.result_type.clone();
                agg.aggs.push(call);
                return Ok((Expr::Column(agg.groups.len() + agg.aggs.len() - 1), ty));
            }
        }
        match e {
            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_) => {
                let (bound, ty) = self.plain_expr(e, &input)?;
                if let Expr::Outer(..) = bound {
                    return Ok((bound, ty));
                }
                // PostgreSQL names the column with its table's alias.
                let name = match &bound {
                    Expr::Column(i) => input.columns.get(*i).map(|c| match &c.table {
                        Some(t) => format!("{t}.{}", c.name),
                        None => c.name.clone(),
                    }),
                    _ => None,
                }
                .unwrap_or_else(|| e.to_string().replace('"', ""));
                Err(Error::new(
                    SqlState::GROUPING_ERROR,
                    format!("column \"{name}\" must appear in the GROUP BY clause or be used in an aggregate function"),
                ))
            }
            // Everything else: bind children in the grouped context.
            _ => {
                // Subqueries see the grouped row: GROUP BY columns keep
                // their names so `(SELECT ... WHERE x = t.grouped_col)`
                // binds as an outer reference to the Aggregate output.
                let out_scope = grouped_scope(agg);
                self.agg = Some(std::mem::replace(
                    agg,
                    AggContext {
                        groups: vec![],
                        aggs: vec![],
                        input: Scope::default(),
                        sets: None,
                    },
                ));
                let r = self.plain_expr_with(e, &out_scope, true);
                if let Some(a) = self.agg.take() {
                    *agg = a;
                }
                r
            }
        }
    }

    fn plain_expr(&mut self, e: &ast::Expr, scope: &Scope) -> Result<Bound> {
        let saved = self.agg.take();
        let r = self.plain_expr_with(e, scope, false);
        self.agg = saved;
        r
    }

    /// Binds a child expression: in grouped mode through `agg_expr`.
    pub(crate) fn child(&mut self, e: &ast::Expr, scope: &Scope, grouped: bool) -> Result<Bound> {
        if grouped {
            self.agg_expr(e, scope)
        } else {
            self.plain_expr_with(e, scope, false)
        }
    }

    fn plain_expr_with(&mut self, e: &ast::Expr, scope: &Scope, grouped: bool) -> Result<Bound> {
        use ast::Expr as A;
        match e {
            A::Identifier(id) => self.column(None, &ident(id), scope),
            A::CompoundIdentifier(parts) => {
                let names: Vec<String> = parts.iter().map(ident).collect();
                match names.as_slice() {
                    [t, c] => self.column(Some(t), c, scope),
                    [_, t, c] => self.column(Some(t), c, scope),
                    _ => Err(Error::new(
                        SqlState::SYNTAX_ERROR,
                        format!("improper qualified name: {e}"),
                    )),
                }
            }
            A::Value(v) => self.literal(&v.value),
            A::Nested(inner) => self.child(inner, scope, grouped),
            A::BinaryOp { left, op, right } => self.binary(left, op, right, scope, grouped),
            A::UnaryOp { op, expr } => self.unary(op, expr, scope, grouped),
            A::IsNull(x) | A::IsNotNull(x) if super::bind_ops::row_items(x).is_some() => {
                // A row IS NULL when every field is; IS NOT NULL when none is.
                let items = super::bind_ops::row_items(x).unwrap_or_default();
                let null_test = matches!(e, A::IsNull(_));
                let mut acc: Option<Expr> = None;
                for item in &items {
                    let (v, _) = self.child(item, scope, grouped)?;
                    let is_null = Expr::IsNull(Box::new(v));
                    let test = if null_test {
                        is_null
                    } else {
                        Expr::Not(Box::new(is_null))
                    };
                    acc = Some(match acc {
                        None => test,
                        Some(a) => Expr::And(Box::new(a), Box::new(test)),
                    });
                }
                Ok((
                    acc.unwrap_or(Expr::Literal(crate::types::Value::Bool(true))),
                    DataType::Bool,
                ))
            }
            A::IsNull(x) => Ok((
                Expr::IsNull(Box::new(self.child(x, scope, grouped)?.0)),
                DataType::Bool,
            )),
            A::IsNotNull(x) => Ok((
                Expr::Not(Box::new(Expr::IsNull(Box::new(
                    self.child(x, scope, grouped)?.0,
                )))),
                DataType::Bool,
            )),
            A::IsTrue(x) => self.is_bool(x, Some(true), false, scope, grouped),
            A::IsNotTrue(x) => self.is_bool(x, Some(true), true, scope, grouped),
            A::IsFalse(x) => self.is_bool(x, Some(false), false, scope, grouped),
            A::IsNotFalse(x) => self.is_bool(x, Some(false), true, scope, grouped),
            A::IsUnknown(x) => self.is_bool(x, None, false, scope, grouped),
            A::IsNotUnknown(x) => self.is_bool(x, None, true, scope, grouped),
            A::IsDistinctFrom(a, b) | A::IsNotDistinctFrom(a, b) => {
                let (l, r, _) = self.comparable_pair(a, b, scope, grouped)?;
                let d = Expr::IsDistinct(Box::new(l), Box::new(r));
                Ok((
                    if matches!(e, A::IsDistinctFrom(..)) {
                        d
                    } else {
                        Expr::Not(Box::new(d))
                    },
                    DataType::Bool,
                ))
            }
            A::InList {
                expr,
                list,
                negated,
            } => {
                let (x, xt) = self.child(expr, scope, grouped)?;
                let mut items = Vec::with_capacity(list.len());
                for item in list {
                    items.push(self.child(item, scope, grouped)?);
                }
                let target = super::bind_ops::unify(
                    std::iter::once(&xt).chain(items.iter().map(|(_, t)| t)),
                    "IN",
                )
                .map_err(|_| {
                    operator_error(
                        "=",
                        &xt,
                        &items
                            .iter()
                            .map(|(_, t)| t.clone())
                            .find(|t| cast::common_type(&xt, t).is_none())
                            .unwrap_or(DataType::Unknown),
                    )
                })?;
                let x = self.coerce(x, &xt, &target)?;
                let list = items
                    .into_iter()
                    .map(|(e, t)| self.coerce(e, &t, &target))
                    .collect::<Result<Vec<_>>>()?;
                Ok((
                    Expr::InList {
                        expr: Box::new(x),
                        list,
                        negated: *negated,
                    },
                    DataType::Bool,
                ))
            }
            _ => self.bind_more(e, scope, grouped),
        }
    }
}

/// The text of an identifier, folded like PostgreSQL: unquoted names are
/// lower-cased, quoted ones kept as written.
pub fn ident(id: &ast::Ident) -> String {
    if id.quote_style.is_some() {
        id.value.clone()
    } else {
        id.value.to_lowercase()
    }
}

/// The "operator does not exist" error.
pub fn operator_error(op: &str, l: &DataType, r: &DataType) -> Error {
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("operator does not exist: {} {op} {}", crate::types::oid::type_name(l), crate::types::oid::type_name(r)),
    )
    .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}
