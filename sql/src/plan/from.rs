//! Planning FROM: tables, views, CTEs, subqueries, table functions, joins.

use std::sync::Arc;

use sqlparser::ast;

use super::bind::{ident, Binder};
use super::scope::{Scope, ScopeColumn};
use super::{Access, JoinKind, Plan, ProjectSetItem};
use crate::catalog::Relation;
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::{DataType, Value};
use crate::SqlState;

/// Set-returning functions allowed in FROM and in select lists.
pub fn is_srf(name: &str) -> bool {
    matches!(
        name,
        "generate_series"
            | "unnest"
            | "jsonb_array_elements"
            | "json_array_elements"
            | "jsonb_array_elements_text"
            | "json_array_elements_text"
            | "jsonb_object_keys"
            | "json_object_keys"
            | "regexp_split_to_table"
            | "regexp_matches"
            | "generate_subscripts"
            | "pg_partition_ancestors"
            | "jsonb_each.record"
            | "json_each.record"
            | "jsonb_each_text.record"
            | "json_each_text.record"
    )
}

/// The output type of a set-returning function.
pub fn srf_type(name: &str, args: &[DataType]) -> Result<DataType> {
    Ok(match name {
        "generate_series" => match args.first() {
            Some(DataType::Int8) | Some(DataType::Numeric(_)) => args[0].clone(),
            Some(DataType::Timestamp) => DataType::Timestamp,
            Some(DataType::TimestampTz) | Some(DataType::Date) => DataType::TimestampTz,
            _ if args.contains(&DataType::Int8) => DataType::Int8,
            _ => DataType::Int4,
        },
        "unnest" => match args.first() {
            Some(DataType::Array(e)) => (**e).clone(),
            _ => DataType::Text,
        },
        "jsonb_array_elements" => DataType::Jsonb,
        "json_array_elements" => DataType::Json,
        "generate_subscripts" => DataType::Int4,
        "pg_partition_ancestors" => DataType::RegClass,
        "regexp_matches" => DataType::Array(Box::new(DataType::Text)),
        _ => DataType::Text,
    })
}

/// `f(...) WITH ORDINALITY`: a bigint column numbering the function's rows
/// from 1, in the order it produced them (a ROWS window's row_number).
fn with_ordinality_column(
    plan: Plan,
    mut scope: Scope,
    alias: Option<&ast::TableAlias>,
) -> Result<(Plan, Scope)> {
    use super::window::{Frame, FrameBound, FrameUnits, WindowCall, WindowFunc, WindowSpec};
    let call = WindowCall {
        func: WindowFunc::RowNumber,
        args: vec![],
        spec: WindowSpec {
            partition: vec![],
            order: vec![],
            frame: Frame {
                units: FrameUnits::Rows,
                start: FrameBound::UnboundedPreceding,
                end: FrameBound::CurrentRow,
            },
        },
        result_type: DataType::Int8,
    };
    let table = scope.columns.first().and_then(|c| c.table.clone());
    let name = alias
        .and_then(|a| a.columns.get(scope.len()))
        .map(|c| ident(&c.name))
        .unwrap_or_else(|| "ordinality".to_string());
    scope.columns.push(ScopeColumn {
        table,
        name,
        data_type: DataType::Int8,
        table_oid: 0,
        column_id: 0,
        hidden: false,
    });
    // A correlated function is the right side of a LATERAL: number the
    // rows of each call there.
    let plan = match plan {
        Plan::Lateral {
            left,
            right,
            left_outer_join,
            right_width,
        } => Plan::Lateral {
            left,
            right: Arc::new(Plan::Window {
                input: Box::new((*right).clone()),
                calls: vec![call],
            }),
            left_outer_join,
            right_width: right_width + 1,
        },
        other => Plan::Window {
            input: Box::new(other),
            calls: vec![call],
        },
    };
    Ok((plan, scope))
}

impl<'a> Binder<'a> {
    /// Plans a FROM list (comma-separated items are cross joined).
    pub fn from(&mut self, from: &[ast::TableWithJoins]) -> Result<(Plan, Scope)> {
        let mut acc: Option<(Plan, Scope)> = None;
        for twj in from {
            let item = self.table_with_joins(twj, acc.as_ref().map(|(_, s)| s))?;
            acc = Some(match acc {
                None => match item {
                    (
                        Plan::Lateral {
                            left,
                            right,
                            right_width,
                            ..
                        },
                        scope,
                    ) if is_lateral_placeholder(&left) => {
                        let left = Box::new(Plan::Values {
                            rows: vec![vec![]],
                            width: 0,
                        });
                        (
                            Plan::Lateral {
                                left,
                                right,
                                left_outer_join: false,
                                right_width,
                            },
                            scope,
                        )
                    }
                    other => other,
                },
                Some((lp, ls)) => self.join_plans(lp, ls, item, JoinKind::Cross, None)?,
            });
        }
        Ok(acc.unwrap_or((
            Plan::Values {
                rows: vec![vec![]],
                width: 0,
            },
            Scope::default(),
        )))
    }

    fn table_with_joins(
        &mut self,
        twj: &ast::TableWithJoins,
        left_of: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        let mut acc = self.table_factor(&twj.relation, left_of)?;
        for j in &twj.joins {
            use ast::JoinOperator as J;
            let (kind, constraint) = match &j.join_operator {
                J::Join(ast::JoinConstraint::None) | J::Inner(ast::JoinConstraint::None) => {
                    return Err(Error::syntax("syntax error at end of input"));
                }
                J::Join(c) | J::Inner(c) => (JoinKind::Inner, Some(c)),
                J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, Some(c)),
                J::Right(c) | J::RightOuter(c) => (JoinKind::Right, Some(c)),
                J::FullOuter(c) => (JoinKind::Full, Some(c)),
                J::CrossJoin(_) => (JoinKind::Cross, None),
                other => return Err(Error::unsupported(format!("join type {other:?}"))),
            };
            let right = self.table_factor(&j.relation, Some(&acc.1))?;
            acc = self.join_plans(acc.0, acc.1, right, kind, constraint)?;
        }
        Ok(acc)
    }

    fn join_plans(
        &mut self,
        lp: Plan,
        ls: Scope,
        (rp, mut rs): (Plan, Scope),
        kind: JoinKind,
        constraint: Option<&ast::JoinConstraint>,
    ) -> Result<(Plan, Scope)> {
        let left_width = ls.len();
        let right_width = rs.len();
        let placeholder = matches!(&rp, Plan::Lateral { left, .. } if is_lateral_placeholder(left));
        if !placeholder {
            if let Some(t) = rs
                .columns
                .iter()
                .filter_map(|c| c.table.as_deref())
                .find(|t| ls.has_table(t))
            {
                return Err(Error::new(
                    SqlState::DUPLICATE_ALIAS,
                    format!("table name \"{t}\" specified more than once"),
                ));
            }
        }
        if let (true, Plan::Lateral { right, .. }) = (placeholder, &rp) {
            let right = right.clone();
            let scope = ls.join(&rs);
            let left_outer_join = kind == JoinKind::Left;
            let mut plan = Plan::Lateral {
                left: Box::new(lp),
                right,
                left_outer_join,
                right_width,
            };
            if let Some(ast::JoinConstraint::On(on)) = constraint {
                let pred = self.predicate(on, &scope, "JOIN/ON")?;
                if !matches!(pred, Expr::Literal(Value::Bool(true))) {
                    if left_outer_join {
                        return Err(Error::unsupported(
                            "LEFT JOIN LATERAL with a join condition other than true",
                        ));
                    }
                    plan = Plan::Filter {
                        input: Box::new(plan),
                        predicate: pred,
                    };
                }
            }
            return Ok((plan, scope));
        }
        let mut on = None;
        let mut using: Vec<String> = Vec::new();
        match constraint {
            Some(ast::JoinConstraint::On(e)) => {
                let scope = ls.join(&rs);
                on = Some(self.predicate(e, &scope, "JOIN/ON")?);
            }
            Some(ast::JoinConstraint::Using(cols)) => {
                using = cols
                    .iter()
                    .map(|c| c.to_string().trim_matches('"').to_string())
                    .collect();
                on = self.using_condition(&ls, &mut rs, &using)?;
            }
            Some(ast::JoinConstraint::Natural) => {
                using = ls
                    .columns
                    .iter()
                    .filter(|c| !c.hidden && rs.columns.iter().any(|r| r.name == c.name))
                    .map(|c| c.name.clone())
                    .collect();
                on = self.using_condition(&ls, &mut rs, &using)?;
            }
            Some(ast::JoinConstraint::None) | None => {
                if kind != JoinKind::Cross && kind != JoinKind::Inner {
                    return Err(Error::syntax("syntax error: join requires a condition"));
                }
            }
        }
        let scope = ls.join(&rs);
        let (equi, rest) = match on {
            Some(pred) => super::access::split_equi_join(pred, left_width),
            None => (vec![], None),
        };
        let kind = if kind == JoinKind::Cross {
            JoinKind::Inner
        } else {
            kind
        };
        let plan = match super::access::index_join(lp, rp, kind, &equi, &rest) {
            Ok(plan) => plan,
            Err(inputs) => {
                let (lp, rp) = *inputs;
                Plan::Join {
                    left: Box::new(lp),
                    right: Box::new(rp),
                    kind,
                    equi,
                    on: rest,
                    left_width,
                    right_width,
                }
            }
        };
        if using.is_empty() {
            return Ok((plan, scope));
        }
        self.merge_using_columns(plan, scope, &ls, &using, kind)
    }

    /// USING / NATURAL joins show each join column once, first, as PostgreSQL
    /// does: the left value for inner and left joins, the right one for right
    /// joins, COALESCE of both for full joins. The sides' own columns stay
    /// reachable by qualified name.
    fn merge_using_columns(
        &mut self,
        plan: Plan,
        scope: Scope,
        ls: &Scope,
        using: &[String],
        kind: JoinKind,
    ) -> Result<(Plan, Scope)> {
        let left_width = ls.len();
        let mut exprs = Vec::new();
        let mut columns = Vec::new();
        for name in using {
            let li = ls.resolve(None, name)?.unwrap_or(0);
            let ri = scope.columns[left_width..]
                .iter()
                .position(|c| c.name == *name)
                .map(|i| i + left_width)
                .unwrap_or(li);
            let lt = scope.columns[li].data_type.clone();
            let rt = scope.columns[ri].data_type.clone();
            let ty = crate::types::cast::common_type(&lt, &rt).unwrap_or(lt.clone());
            let l = self.coerce(Expr::Column(li), &lt, &ty)?;
            let r = self.coerce(Expr::Column(ri), &rt, &ty)?;
            exprs.push(match kind {
                JoinKind::Right => r,
                JoinKind::Full => Expr::Coalesce(vec![l, r]),
                _ => l,
            });
            columns.push(ScopeColumn {
                table: None,
                name: name.clone(),
                data_type: ty,
                table_oid: 0,
                column_id: 0,
                hidden: false,
            });
        }
        for (i, c) in scope.columns.iter().enumerate() {
            exprs.push(Expr::Column(i));
            let mut c = c.clone();
            if using.contains(&c.name) {
                c.hidden = true;
            }
            columns.push(c);
        }
        Ok((
            Plan::Project {
                input: Box::new(plan),
                exprs,
            },
            Scope { columns },
        ))
    }

    fn using_condition(
        &mut self,
        ls: &Scope,
        rs: &mut Scope,
        names: &[String],
    ) -> Result<Option<Expr>> {
        let mut cond: Option<Expr> = None;
        for n in names {
            let li = ls.resolve(None, n)?.ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{n}\" specified in USING clause does not exist in left table"
                    ),
                )
            })?;
            let ri = rs.resolve(None, n)?.ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{n}\" specified in USING clause does not exist in right table"
                    ),
                )
            })?;
            let (eq, _) = self.apply_binary(
                crate::types::ops::BinaryOp::Eq,
                Expr::Column(li),
                ls.columns[li].data_type.clone(),
                Expr::Column(ls.len() + ri),
                rs.columns[ri].data_type.clone(),
            )?;
            rs.columns[ri].hidden = true;
            cond = Some(match cond {
                None => eq,
                Some(c) => Expr::And(Box::new(c), Box::new(eq)),
            });
        }
        Ok(cond)
    }

    fn table_factor(
        &mut self,
        tf: &ast::TableFactor,
        left_of: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        match tf {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_ordinality,
                ..
            } => {
                if let Some(args) = args {
                    let fname = super::func::function_name(name);
                    let list: Vec<ast::Expr> = args
                        .args
                        .iter()
                        .filter_map(|a| match a {
                            ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => {
                                Some(e.clone())
                            }
                            _ => None,
                        })
                        .collect();
                    // The alias's second column names the ordinality.
                    let first_only = alias.as_ref().map(|a| {
                        let mut a = a.clone();
                        if *with_ordinality {
                            a.columns.truncate(1);
                        }
                        a
                    });
                    let (plan, scope) =
                        self.table_function(&fname, &list, first_only.as_ref(), left_of)?;
                    if !*with_ordinality {
                        return Ok((plan, scope));
                    }
                    return with_ordinality_column(plan, scope, alias.as_ref());
                }
                let parts: Vec<String> = name
                    .0
                    .iter()
                    .map(|p| match p {
                        ast::ObjectNamePart::Identifier(id) => ident(id),
                        ast::ObjectNamePart::Function(f) => ident(&f.name),
                    })
                    .collect();
                let (schema, rel) = match parts.as_slice() {
                    [r] => (None, r.clone()),
                    [s, r] => (Some(s.clone()), r.clone()),
                    [_, s, r] => (Some(s.clone()), r.clone()),
                    _ => return Err(Error::syntax(format!("improper relation name: {name}"))),
                };
                let alias_name = alias
                    .as_ref()
                    .map(|a| ident(&a.name))
                    .unwrap_or_else(|| rel.clone());
                let (plan, scope) = self.named_relation(schema.as_deref(), &rel)?;
                let scope = apply_alias(scope, &alias_name, alias.as_ref())?;
                Ok((plan, scope))
            }
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                let (plan, scope) = if *lateral {
                    let outer = left_of.cloned().unwrap_or_default();
                    let (plan, scope) = self.subquery(subquery, &outer)?;
                    (
                        Plan::Lateral {
                            left: Box::new(Plan::Values {
                                rows: vec![],
                                width: 0,
                            }),
                            right: plan,
                            left_outer_join: false,
                            right_width: scope.len(),
                        },
                        scope,
                    )
                } else {
                    self.query(subquery)?
                };
                let Some(alias_name) = alias.as_ref().map(|a| ident(&a.name)) else {
                    return Err(Error::syntax("subquery in FROM must have an alias")
                        .with_hint("For example, FROM (SELECT ...) [AS] foo."));
                };
                Ok((plan, apply_alias(scope, &alias_name, alias.as_ref())?))
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let (plan, scope) = self.table_with_joins(table_with_joins, left_of)?;
                match alias {
                    Some(a) => Ok((plan, apply_alias(scope, &ident(&a.name), Some(a))?)),
                    None => Ok((plan, scope)),
                }
            }
            ast::TableFactor::Function {
                name, args, alias, ..
            } => {
                let fname = super::func::function_name(name);
                let list: Vec<ast::Expr> = args
                    .iter()
                    .filter_map(|a| match a {
                        ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Some(e.clone()),
                        _ => None,
                    })
                    .collect();
                self.table_function(&fname, &list, alias.as_ref(), left_of)
            }
            ast::TableFactor::UNNEST {
                alias, array_exprs, ..
            } => self.table_function("unnest", array_exprs, alias.as_ref(), left_of),
            other => Err(Error::unsupported(format!(
                "FROM item not supported: {other}"
            ))),
        }
    }

    /// A set-returning function in FROM. It may reference earlier FROM
    /// items (implicitly LATERAL, as in PostgreSQL).
    fn table_function(
        &mut self,
        name: &str,
        args: &[ast::Expr],
        alias: Option<&ast::TableAlias>,
        left_of: Option<&Scope>,
    ) -> Result<(Plan, Scope)> {
        if let Some((plan, scope)) = super::fanout_fns::table_function(self, name, args)? {
            let alias_name = alias
                .map(|a| ident(&a.name))
                .unwrap_or_else(|| name.to_string());
            return Ok((plan, apply_alias(scope, &alias_name, alias)?));
        }
        if !is_srf(name) && !is_record_srf(name) {
            return Err(Error::new(
                SqlState::UNDEFINED_FUNCTION,
                format!("function {name} does not exist or is not a set-returning function"),
            ));
        }
        let outer = left_of.cloned().unwrap_or_default();
        self.outer.push(outer);
        let bound: Result<Vec<(Expr, DataType)>> = args
            .iter()
            .map(|a| self.expr(a, &Scope::default()))
            .collect();
        self.outer.pop();
        let mut exprs = Vec::new();
        let mut types = Vec::new();
        for (e, t) in bound? {
            let target = if t == DataType::Unknown {
                DataType::Text
            } else {
                t.clone()
            };
            exprs.push(self.coerce_unknown(e, &t, &target)?);
            types.push(target);
        }
        let ty = srf_type(name, &types)?;
        let correlated = exprs.iter().any(has_outer);
        let base = Plan::Values {
            rows: vec![vec![]],
            width: 0,
        };
        let alias_name = alias
            .map(|a| ident(&a.name))
            .unwrap_or_else(|| name.to_string());
        // (function the executor calls, column name, column type) per
        // output column; several calls in one ProjectSet advance in step.
        let outputs = srf_columns(name, &alias_name, ty);
        if outputs.len() == 1 {
            self.scalar_items.push(alias_name.clone());
        }
        let inner = Plan::ProjectSet {
            input: Box::new(base),
            exprs: outputs
                .iter()
                .map(|(f, _, _)| ProjectSetItem::Srf(f.clone(), exprs.clone()))
                .collect(),
        };
        let scope = Scope {
            columns: outputs
                .into_iter()
                .map(|(_, column, data_type)| ScopeColumn {
                    table: Some(alias_name.clone()),
                    name: column,
                    data_type,
                    table_oid: 0,
                    column_id: 0,
                    hidden: false,
                })
                .collect(),
        };
        let scope = apply_alias(scope, &alias_name, alias)?;
        if correlated {
            let width = scope.len();
            return Ok((
                Plan::Lateral {
                    left: Box::new(Plan::Values {
                        rows: vec![],
                        width: 0,
                    }),
                    right: Arc::new(inner),
                    left_outer_join: false,
                    right_width: width,
                },
                scope,
            ));
        }
        Ok((inner, scope))
    }

    /// A table, view, sequence, CTE or system catalog by name.
    fn named_relation(&mut self, schema: Option<&str>, name: &str) -> Result<(Plan, Scope)> {
        if schema.is_none() {
            if let Some(cte) = self.ctes.iter().rev().find(|c| c.name == name) {
                if !cte.readable {
                    return Err(Error::new(
                        SqlState::FEATURE_NOT_SUPPORTED,
                        format!("WITH query \"{name}\" does not have a RETURNING clause"),
                    ));
                }
                return Ok((
                    Plan::CteScan {
                        id: cte.id,
                        width: cte.scope.len(),
                    },
                    cte.scope.clone(),
                ));
            }
        }
        let user_schema = matches!(schema, None | Some("public"));
        if user_schema {
            if let Some(rel) = self.catalog.relation(name)? {
                return self.relation_plan(&rel);
            }
        }
        if matches!(
            schema,
            None | Some("pg_catalog") | Some("information_schema")
        ) {
            if let Some(found) = super::system::system_table(self, schema, name)? {
                return Ok(found);
            }
        }
        let shown = match schema {
            Some(s) => format!("{s}.{name}"),
            None => name.to_string(),
        };
        Err(Error::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{shown}\" does not exist"),
        ))
    }

    pub(crate) fn relation_plan(&mut self, rel: &Relation) -> Result<(Plan, Scope)> {
        match rel {
            Relation::Table(t) => {
                let scope = Scope {
                    columns: t
                        .columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| ScopeColumn {
                            table: Some(t.name.clone()),
                            name: c.name.clone(),
                            data_type: c.data_type.clone(),
                            table_oid: t.id,
                            column_id: i as i16 + 1,
                            hidden: false,
                        })
                        .collect(),
                };
                Ok((
                    Plan::Scan {
                        db: self.catalog.db,
                        table: t.clone(),
                        access: Access::Full,
                        filter: None,
                        with_key: false,
                    },
                    scope,
                ))
            }
            Relation::View(v) => {
                let stmts = crate::parse::parse(&v.query)?;
                let Some(ast::Statement::Query(q)) = stmts.first() else {
                    return Err(Error::internal("view definition is not a query"));
                };
                let saved = std::mem::take(&mut self.outer);
                let saved_ctes = std::mem::take(&mut self.ctes);
                let r = self.query(q);
                self.outer = saved;
                self.ctes = saved_ctes;
                let (plan, mut scope) = r?;
                for (c, n) in scope.columns.iter_mut().zip(&v.columns) {
                    c.name = n.clone();
                }
                Ok((plan, scope.with_alias(&v.name)))
            }
            Relation::Sequence(s) => {
                let state = self.session.sequence_state(s)?;
                let rows = vec![vec![
                    Value::Int8(state.0),
                    Value::Int8(0),
                    Value::Bool(state.1),
                ]];
                let scope = Scope::computed([
                    ("last_value".to_string(), DataType::Int8),
                    ("log_cnt".into(), DataType::Int8),
                    ("is_called".into(), DataType::Bool),
                ])
                .with_alias(&s.name);
                Ok((
                    Plan::Rows {
                        rows: Arc::new(rows),
                        width: 3,
                    },
                    scope,
                ))
            }
            Relation::Index { name, .. } => Err(Error::new(
                SqlState::WRONG_OBJECT_TYPE,
                format!("\"{name}\" is an index"),
            )),
        }
    }

    /// Projects the select list; set-returning calls become a ProjectSet.
    pub(crate) fn project_with_srfs(&mut self, input: Plan, exprs: Vec<Expr>) -> Result<Plan> {
        let has_srf = exprs
            .iter()
            .any(|e| matches!(e, Expr::Function(n, _) if is_srf(n)));
        if !has_srf {
            if exprs.iter().enumerate().all(|(i, e)| *e == Expr::Column(i))
                && exprs.len() == input.width()
            {
                return Ok(input);
            }
            return Ok(Plan::Project {
                input: Box::new(input),
                exprs,
            });
        }
        let items = exprs
            .into_iter()
            .map(|e| match e {
                Expr::Function(n, args) if is_srf(&n) => ProjectSetItem::Srf(n, args),
                other => ProjectSetItem::Scalar(other),
            })
            .collect();
        Ok(Plan::ProjectSet {
            input: Box::new(input),
            exprs: items,
        })
    }
}

/// The output columns of a set-returning function in FROM: the function
/// the executor calls for each, the column's name and type. Functions with
/// OUT parameters name their columns after them (`value`, `key`); the
/// others' single column takes the FROM item's name. The `*_each` functions
/// are two calls in step over the same object: its keys and its values.
fn srf_columns(name: &str, alias: &str, ty: DataType) -> Vec<(String, String, DataType)> {
    match name {
        "jsonb_each" | "json_each" | "jsonb_each_text" | "json_each_text" => {
            let value = if name.ends_with("_text") {
                DataType::Text
            } else if name.starts_with("jsonb") {
                DataType::Jsonb
            } else {
                DataType::Json
            };
            vec![
                (format!("{name}.key"), "key".into(), DataType::Text),
                (format!("{name}.value"), "value".into(), value),
            ]
        }
        "jsonb_array_elements"
        | "json_array_elements"
        | "jsonb_array_elements_text"
        | "json_array_elements_text" => vec![(name.into(), "value".into(), ty)],
        _ => vec![(name.into(), alias.into(), ty)],
    }
}

/// Whether `name` is a set-returning function that returns records, so it
/// is only callable in FROM (where its columns are spread out).
pub(crate) fn is_record_srf(name: &str) -> bool {
    matches!(
        name,
        "jsonb_each" | "json_each" | "jsonb_each_text" | "json_each_text"
    )
}

/// The empty left input of a LATERAL item before it is joined to what
/// stands to its left in FROM.
fn is_lateral_placeholder(plan: &Plan) -> bool {
    matches!(plan, Plan::Values { rows, width: 0 } if rows.is_empty())
}

fn has_outer(e: &Expr) -> bool {
    format!("{e:?}").contains("Outer(")
}

/// Applies `AS alias (c1, c2, ...)` to a scope.
fn apply_alias(scope: Scope, alias: &str, def: Option<&ast::TableAlias>) -> Result<Scope> {
    let mut scope = scope.with_alias(alias);
    if let Some(def) = def {
        if def.columns.len() > scope.len() {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                format!(
                    "table \"{alias}\" has {} columns available but {} columns specified",
                    scope.len(),
                    def.columns.len()
                ),
            ));
        }
        for (c, n) in scope.columns.iter_mut().zip(&def.columns) {
            c.name = ident(&n.name);
        }
    }
    Ok(scope)
}
