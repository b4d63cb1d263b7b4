//! Planning set operations (UNION / INTERSECT / EXCEPT), VALUES, `TABLE t`
//! and ORDER BY over their output columns.

use sqlparser::ast;

use super::bind::Binder;
use super::names::sort_options;
use super::scope::Scope;
use super::select::cast_outputs;
use super::{Plan, SetOpKind, SortKey};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::{cast, DataType};
use crate::SqlState;

impl<'a> Binder<'a> {
    /// Plans a set expression (without ORDER BY / LIMIT).
    pub fn set_expr(&mut self, s: &ast::SetExpr) -> Result<(Plan, Scope)> {
        match s {
            ast::SetExpr::Select(sel) => self.select(sel, &[]),
            ast::SetExpr::Query(q) => self.query(q),
            ast::SetExpr::Values(v) => self.values(v),
            ast::SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                let (lp, ls) = self.set_expr(left)?;
                let (rp, rs) = self.set_expr(right)?;
                let kind = match op {
                    ast::SetOperator::Union => SetOpKind::Union,
                    ast::SetOperator::Intersect => SetOpKind::Intersect,
                    ast::SetOperator::Except | ast::SetOperator::Minus => SetOpKind::Except,
                };
                let name = format!("{op}");
                if ls.len() != rs.len() {
                    return Err(Error::syntax(format!(
                        "each {name} query must have the same number of columns"
                    )));
                }
                // Unify column types pairwise, casting each side as needed.
                let mut types = Vec::new();
                for (l, r) in ls.columns.iter().zip(&rs.columns) {
                    let t = cast::common_type(&l.data_type, &r.data_type).ok_or_else(|| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "{name} types {} and {} cannot be matched",
                                crate::types::oid::type_name(&l.data_type),
                                crate::types::oid::type_name(&r.data_type)
                            ),
                        )
                    })?;
                    types.push(if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    });
                }
                let lp = cast_outputs(lp, &ls, &types);
                let rp = cast_outputs(rp, &rs, &types);
                let all = matches!(set_quantifier, ast::SetQuantifier::All);
                let scope = Scope::computed(
                    ls.columns
                        .iter()
                        .zip(types)
                        .map(|(c, t)| (c.name.clone(), t)),
                );
                Ok((
                    Plan::SetOp {
                        kind,
                        all,
                        left: Box::new(lp),
                        right: Box::new(rp),
                    },
                    scope,
                ))
            }
            ast::SetExpr::Table(t) => {
                let name = t.table_name.clone().unwrap_or_default();
                self.select_star_from(&name)
            }
            _ => Err(Error::unsupported("this query form is not supported")),
        }
    }

    fn select_star_from(&mut self, name: &str) -> Result<(Plan, Scope)> {
        let q = crate::parse::parse(&format!("SELECT * FROM {name}"))?;
        match q.first() {
            Some(ast::Statement::Query(q)) => self.query(q),
            _ => Err(Error::internal("TABLE shorthand")),
        }
    }

    fn values(&mut self, v: &ast::Values) -> Result<(Plan, Scope)> {
        self.refusing_windows(Some("window functions are not allowed in VALUES"), |b| {
            b.values_inner(v)
        })
    }

    fn values_inner(&mut self, v: &ast::Values) -> Result<(Plan, Scope)> {
        let empty = Scope::default();
        let mut rows = Vec::new();
        let mut types: Vec<DataType> = Vec::new();
        let width = v.rows.first().map(|r| r.content.len()).unwrap_or(0);
        for row in &v.rows {
            if row.content.len() != width {
                return Err(Error::syntax("VALUES lists must all be the same length"));
            }
            let mut bound = Vec::new();
            for (i, e) in row.content.iter().enumerate() {
                let (x, t) = self.expr(e, &empty)?;
                if types.len() <= i {
                    types.push(t.clone());
                } else {
                    types[i] = cast::common_type(&types[i], &t).ok_or_else(|| {
                        Error::new(
                            SqlState::DATATYPE_MISMATCH,
                            format!(
                                "VALUES types {} and {} cannot be matched",
                                crate::types::oid::type_name(&types[i]),
                                crate::types::oid::type_name(&t)
                            ),
                        )
                    })?;
                }
                bound.push((x, t));
            }
            rows.push(bound);
        }
        let types: Vec<DataType> = types
            .into_iter()
            .map(|t| {
                if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                }
            })
            .collect();
        let mut out = Vec::new();
        for row in rows {
            let mut r = Vec::new();
            for (i, (x, t)) in row.into_iter().enumerate() {
                r.push(self.coerce(x, &t, &types[i])?);
            }
            out.push(r);
        }
        let scope = Scope::computed(
            types
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("column{}", i + 1), t)),
        );
        Ok((Plan::Values { rows: out, width }, scope))
    }

    /// ORDER BY over a set operation's or VALUES' output columns.
    pub(super) fn order_outputs(
        &mut self,
        plan: Plan,
        scope: Scope,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Scope)> {
        if order_by.is_empty() {
            return Ok((plan, scope));
        }
        let mut keys = Vec::new();
        for o in order_by {
            let (desc, nulls_first) = sort_options(&o.options)?;
            let expr = match self.output_position(&o.expr, &scope)? {
                Some(i) => Expr::Column(i),
                None => self.expr(&o.expr, &scope)?.0,
            };
            keys.push(SortKey {
                expr,
                desc,
                nulls_first,
            });
        }
        Ok((
            Plan::Sort {
                input: Box::new(plan),
                keys,
            },
            scope,
        ))
    }
}
