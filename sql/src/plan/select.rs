//! Planning queries: WITH, SELECT, set operations, VALUES, ORDER BY, LIMIT.

use sqlparser::ast;

use super::bind::{ident, AggContext, Binder};
use super::func::contains_aggregate_ast;
use super::names::{output_name, sort_options};
use super::scope::{Scope, ScopeColumn};
use super::window::{refuse_window_in, WindowContext};
use super::{CteDef, Plan, SortKey};
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::types::DataType;
use crate::SqlState;

/// A CTE visible by name.
#[derive(Debug, Clone)]
pub struct CteBinding {
    pub name: String,
    pub id: usize,
    pub scope: Scope,
    /// False for a data-modifying CTE without RETURNING, which PostgreSQL
    /// refuses to read from.
    pub readable: bool,
}

impl<'a> Binder<'a> {
    /// Plans a query.
    pub fn query(&mut self, q: &ast::Query) -> Result<(Plan, Scope)> {
        let top_level = std::mem::replace(&mut self.top_level, false);
        let cte_mark = self.ctes.len();
        let result = self.query_inner(q, top_level);
        self.ctes.truncate(cte_mark);
        result
    }

    fn query_inner(&mut self, q: &ast::Query, top_level: bool) -> Result<(Plan, Scope)> {
        let cte_plans = match &q.with {
            Some(with) => self.with_clause(with, &q.body, top_level)?,
            None => Vec::new(),
        };
        let order_by: Vec<ast::OrderByExpr> = match &q.order_by {
            Some(ast::OrderBy {
                kind: ast::OrderByKind::Expressions(list),
                ..
            }) => list.clone(),
            Some(_) => return Err(Error::unsupported("ORDER BY ALL")),
            None => vec![],
        };
        let (mut plan, scope) = match &*q.body {
            ast::SetExpr::Select(s) => self.select(s, &order_by)?,
            other => {
                let (plan, scope) = self.set_expr(other)?;
                self.order_outputs(plan, scope, &order_by)?
            }
        };
        if !q.locks.is_empty() {
            if q.locks
                .iter()
                .any(|l| l.nonblock.is_some() || l.of.is_some())
            {
                return Err(Error::unsupported(
                    "FOR UPDATE OF / NOWAIT / SKIP LOCKED are not supported yet",
                ));
            }
            plan = super::lock::lock_rows(plan)?;
        }
        let (limit, offset) = match &q.limit_clause {
            Some(ast::LimitClause::LimitOffset { limit, offset, .. }) => {
                (limit.clone(), offset.as_ref().map(|o| o.value.clone()))
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                (Some(limit.clone()), Some(offset.clone()))
            }
            None => (None, None),
        };
        let limit = limit.or_else(|| {
            q.fetch.as_ref().map(|f| {
                f.quantity
                    .clone()
                    .unwrap_or(ast::Expr::value(ast::Value::Number("1".into(), false)))
            })
        });
        if limit.is_some() || offset.is_some() {
            let empty = Scope::default();
            let bind_count = |b: &mut Self, e: Option<ast::Expr>| -> Result<Option<Expr>> {
                match e {
                    None => Ok(None),
                    Some(ast::Expr::Value(v)) if matches!(v.value, ast::Value::Null) => Ok(None),
                    Some(e) => {
                        let (x, t) = b.expr(&e, &empty)?;
                        Ok(Some(b.coerce(x, &t, &DataType::Int8)?))
                    }
                }
            };
            let limit = self
                .refusing_windows(Some("window functions are not allowed in LIMIT"), |b| {
                    bind_count(b, limit)
                })?;
            let offset = self
                .refusing_windows(Some("window functions are not allowed in OFFSET"), |b| {
                    bind_count(b, offset)
                })?;
            plan = Plan::Limit {
                input: Box::new(plan),
                limit,
                offset,
            };
        }
        if !cte_plans.is_empty() {
            plan = Plan::With {
                ctes: cte_plans,
                body: Box::new(plan),
            };
        }
        Ok((plan, scope))
    }

    pub(super) fn cte(&mut self, cte: &ast::Cte, recursive: bool) -> Result<(usize, CteDef)> {
        if let Some(modifying) = self.modifying_cte(cte)? {
            return Ok(modifying);
        }
        let name = ident(&cte.alias.name);
        let id = self.next_cte_id;
        self.next_cte_id += 1;
        let renames: Vec<String> = cte.alias.columns.iter().map(|c| ident(&c.name)).collect();
        if recursive && references_table(&cte.query.body, &name) {
            let is_union = matches!(
                &*cte.query.body,
                ast::SetExpr::SetOperation {
                    op: ast::SetOperator::Union,
                    ..
                }
            );
            if !is_union {
                return Err(Error::new(
                    SqlState::INVALID_RECURSION,
                    format!("recursive query \"{name}\" does not have the form non-recursive-term UNION [ALL] recursive-term"),
                ));
            }
        }
        if recursive {
            if let ast::SetExpr::SetOperation {
                left,
                op: ast::SetOperator::Union,
                set_quantifier,
                right,
            } = &*cte.query.body
            {
                if references_table(right, &name) {
                    let (anchor, anchor_scope) = self.set_expr(left)?;
                    let scope = rename_scope(anchor_scope, &renames, &name)?;
                    self.ctes.push(CteBinding {
                        name: name.clone(),
                        id,
                        scope: scope.clone(),
                        readable: true,
                    });
                    let (rec, rec_scope) = self.set_expr(right)?;
                    if rec_scope.len() != scope.len() {
                        return Err(Error::syntax(
                            "each UNION query must have the same number of columns",
                        ));
                    }
                    let union_all = matches!(set_quantifier, ast::SetQuantifier::All);
                    return Ok((
                        id,
                        CteDef::Recursive {
                            anchor: Box::new(anchor),
                            recursive: Box::new(rec),
                            union_all,
                        },
                    ));
                }
            }
        }
        let (plan, scope) = self.query(&cte.query)?;
        let scope = rename_scope(scope, &renames, &name)?;
        self.ctes.push(CteBinding {
            name,
            id,
            scope,
            readable: true,
        });
        Ok((id, CteDef::Plain(Box::new(plan))))
    }

    /// `ORDER BY 2` or `ORDER BY alias`: the output column it names.
    pub(super) fn output_position(
        &mut self,
        e: &ast::Expr,
        outputs: &Scope,
    ) -> Result<Option<usize>> {
        match e {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(n, _) = &v.value {
                    let pos: usize = n.parse().unwrap_or(0);
                    if pos == 0 || pos > outputs.len() {
                        return Err(Error::new(
                            SqlState::INVALID_COLUMN_REFERENCE,
                            format!("ORDER BY position {n} is not in select list"),
                        ));
                    }
                    return Ok(Some(pos - 1));
                }
                Ok(None)
            }
            ast::Expr::Identifier(id) => {
                let name = ident(id);
                let hits: Vec<usize> = outputs
                    .columns
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.name == name)
                    .map(|(i, _)| i)
                    .collect();
                match hits.as_slice() {
                    [i] => Ok(Some(*i)),
                    [] => Ok(None),
                    _ => Err(Error::new(
                        SqlState::AMBIGUOUS_COLUMN,
                        format!("ORDER BY \"{name}\" is ambiguous"),
                    )),
                }
            }
            _ => Ok(None),
        }
    }

    /// Plans one SELECT block, including ORDER BY (which may use its inputs).
    pub fn select(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Scope)> {
        let saved_window = self.window.take();
        let saved_refusal = self.window_refusal.take();
        let result = self.select_block(s, order_by);
        self.window = saved_window;
        self.window_refusal = saved_refusal;
        result
    }

    fn select_block(
        &mut self,
        s: &ast::Select,
        order_by: &[ast::OrderByExpr],
    ) -> Result<(Plan, Scope)> {
        let (mut plan, scope) = self.from(&s.from)?;
        if let Some(w) = &s.selection {
            refuse_window_in(w, "WHERE")?;
            if contains_aggregate_ast(w) {
                return Err(Error::new(
                    SqlState::GROUPING_ERROR,
                    "aggregate functions are not allowed in WHERE",
                ));
            }
            let pred = self.predicate(w, &scope, "WHERE")?;
            plan = super::access::add_filter(plan, pred);
        }
        let (group_exprs, grouping_sets) = match &s.group_by {
            ast::GroupByExpr::Expressions(list, _) => super::grouping_sets::expand(list)?,
            ast::GroupByExpr::All(_) => return Err(Error::unsupported("GROUP BY ALL")),
        };
        let has_aggs = s.projection.iter().any(|p| match p {
            ast::SelectItem::UnnamedExpr(e) | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                contains_aggregate_ast(e)
            }
            _ => false,
        }) || s.having.as_ref().is_some_and(contains_aggregate_ast)
            || order_by.iter().any(|o| contains_aggregate_ast(&o.expr));
        let grouped = has_aggs || !group_exprs.is_empty() || s.having.is_some();
        for g in &group_exprs {
            refuse_window_in(g, "GROUP BY")?;
        }
        if let Some(h) = &s.having {
            refuse_window_in(h, "HAVING")?;
        }
        self.window = Some(WindowContext::new(&s.named_window)?);

        // Output names first: GROUP BY / ORDER BY may refer to them.
        let items = self.expand_items(&s.projection, &scope)?;
        if grouped {
            let mut groups = Vec::new();
            for g in &group_exprs {
                let g = self.resolve_group_item(g, &items, &scope)?;
                groups.push(self.expr(&g, &scope)?.0);
            }
            self.agg = Some(AggContext {
                groups,
                aggs: vec![],
                input: scope.clone(),
                sets: grouping_sets,
            });
        }
        let result = self.finish_select(plan, &scope, s, &items, order_by, grouped);
        self.agg = None;
        result
    }

    fn finish_select(
        &mut self,
        mut plan: Plan,
        scope: &Scope,
        s: &ast::Select,
        items: &[SelectOutput],
        order_by: &[ast::OrderByExpr],
        grouped: bool,
    ) -> Result<(Plan, Scope)> {
        let mut exprs = Vec::new();
        let mut out_cols = Vec::new();
        for item in items {
            match item {
                SelectOutput::Column(i) => {
                    let (e, _) = if grouped {
                        self.expr(&column_ast(scope, *i), scope)?
                    } else {
                        (Expr::Column(*i), DataType::Unknown)
                    };
                    exprs.push(e);
                    let mut c = scope.columns[*i].clone();
                    c.hidden = false;
                    out_cols.push(c);
                }
                SelectOutput::Expr(e, name) => {
                    let (x, t) = self.expr(e, scope)?;
                    let t = if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    };
                    let x = self
                        .coerce_unknown(x, &DataType::Unknown, &t)
                        .unwrap_or_else(|_| Expr::Literal(crate::types::Value::Null));
                    let (table_oid, column_id) = match (&x, e) {
                        (
                            Expr::Column(i),
                            ast::Expr::Identifier(_) | ast::Expr::CompoundIdentifier(_),
                        ) if !grouped => (scope.columns[*i].table_oid, scope.columns[*i].column_id),
                        _ => (0, 0),
                    };
                    exprs.push(x);
                    out_cols.push(ScopeColumn {
                        table: None,
                        name: name.clone(),
                        data_type: t,
                        table_oid,
                        column_id,
                        hidden: false,
                    });
                }
            }
        }
        let window = self.window.take();
        let having = match &s.having {
            Some(h) => self.predicate(h, scope, "HAVING").map(Some),
            None => Ok(None),
        };
        self.window = window;
        let having = having?;
        let out_scope = Scope { columns: out_cols };
        let width = exprs.len();
        // ORDER BY keys: output positions/aliases, else extra hidden columns.
        let mut keys = Vec::new();
        let mut extra = Vec::new();
        for o in order_by {
            let (desc, nulls_first) = sort_options(&o.options)?;
            let pos = match self.output_position(&o.expr, &out_scope)? {
                Some(i) => i,
                None => {
                    let (x, _) = self.expr(&o.expr, scope)?;
                    match exprs.iter().position(|e| *e == x) {
                        Some(i) => i,
                        None => {
                            extra.push(x);
                            width + extra.len() - 1
                        }
                    }
                }
            };
            keys.push(SortKey {
                expr: Expr::Column(pos),
                desc,
                nulls_first,
            });
        }
        self.check_named_windows(scope, grouped)?;
        let distinct_on = match &s.distinct {
            Some(ast::Distinct::On(list)) => {
                let mut positions = Vec::new();
                for e in list {
                    let pos = match self.output_position(e, &out_scope)? {
                        Some(i) => i,
                        None => {
                            let (x, _) = self.expr(e, scope)?;
                            match exprs.iter().chain(extra.iter()).position(|y| *y == x) {
                                Some(i) => i,
                                None => {
                                    extra.push(x);
                                    width + extra.len() - 1
                                }
                            }
                        }
                    };
                    positions.push(Expr::Column(pos));
                }
                Some(positions)
            }
            _ => None,
        };
        if grouped {
            let agg = self
                .agg
                .take()
                .ok_or_else(|| Error::internal("aggregation state lost"))?;
            plan = super::grouping_sets::aggregate_plan(plan, agg.groups, agg.aggs, agg.sets);
            if let Some(h) = having {
                plan = Plan::Filter {
                    input: Box::new(plan),
                    predicate: h,
                };
            }
        } else if let Some(h) = having {
            plan = Plan::Filter {
                input: Box::new(plan),
                predicate: h,
            };
        }
        let has_extra = !extra.is_empty();
        let plain_distinct = matches!(s.distinct, Some(ast::Distinct::Distinct));
        if plain_distinct && has_extra {
            return Err(Error::new(
                SqlState::INVALID_COLUMN_REFERENCE,
                "for SELECT DISTINCT, ORDER BY expressions must appear in select list",
            ));
        }
        let mut all = exprs;
        all.extend(extra);
        let plan = super::window::attach(plan, self.window.as_mut(), &mut all);
        let mut plan = self.project_with_srfs(plan, all)?;
        if plain_distinct {
            plan = Plan::Distinct {
                input: Box::new(plan),
            };
        }
        if !keys.is_empty() {
            plan = Plan::Sort {
                input: Box::new(plan),
                keys,
            };
        }
        if let Some(on) = distinct_on {
            plan = Plan::DistinctOn {
                input: Box::new(plan),
                keys: on,
            };
        }
        if has_extra {
            plan = Plan::Truncate {
                input: Box::new(plan),
                width,
            };
        }
        Ok((plan, out_scope))
    }

    /// A GROUP BY item: an output position or alias resolves to that item.
    fn resolve_group_item(
        &mut self,
        g: &ast::Expr,
        items: &[SelectOutput],
        scope: &Scope,
    ) -> Result<ast::Expr> {
        let item_ast = |i: usize| -> ast::Expr {
            match &items[i] {
                SelectOutput::Column(c) => column_ast(scope, *c),
                SelectOutput::Expr(e, _) => e.clone(),
            }
        };
        match g {
            ast::Expr::Value(v) => {
                if let ast::Value::Number(n, _) = &v.value {
                    let pos: usize = n.parse().unwrap_or(0);
                    if pos == 0 || pos > items.len() {
                        return Err(Error::new(
                            SqlState::INVALID_COLUMN_REFERENCE,
                            format!("GROUP BY position {n} is not in select list"),
                        ));
                    }
                    return Ok(item_ast(pos - 1));
                }
                Ok(g.clone())
            }
            ast::Expr::Identifier(id) => {
                let name = ident(id);
                if scope.resolve(None, &name)?.is_some() {
                    return Ok(g.clone());
                }
                for (i, item) in items.iter().enumerate() {
                    if let SelectOutput::Expr(_, n) = item {
                        if *n == name {
                            return Ok(item_ast(i));
                        }
                    }
                }
                Ok(g.clone())
            }
            _ => Ok(g.clone()),
        }
    }

    /// Expands `*` and names every select item.
    fn expand_items(
        &mut self,
        projection: &[ast::SelectItem],
        scope: &Scope,
    ) -> Result<Vec<SelectOutput>> {
        let mut out = Vec::new();
        for item in projection {
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    out.push(SelectOutput::Expr(e.clone(), output_name(e)))
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => {
                    out.push(SelectOutput::Expr(expr.clone(), ident(alias)))
                }
                ast::SelectItem::Wildcard(_) => {
                    if scope.is_empty() {
                        return Err(Error::syntax(
                            "SELECT * with no tables specified is not valid",
                        ));
                    }
                    out.extend(scope.star(None).into_iter().map(SelectOutput::Column));
                }
                ast::SelectItem::QualifiedWildcard(kind, _) => {
                    let name = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => {
                            n.0.last().map(|p| match p {
                                ast::ObjectNamePart::Identifier(id) => ident(id),
                                ast::ObjectNamePart::Function(f) => ident(&f.name),
                            })
                        }
                        ast::SelectItemQualifiedWildcardKind::Expr(_) => None,
                    }
                    .unwrap_or_default();
                    let cols = scope.star(Some(&name));
                    if cols.is_empty() {
                        return Err(Error::new(
                            SqlState::UNDEFINED_TABLE,
                            format!("missing FROM-clause entry for table \"{name}\""),
                        ));
                    }
                    out.extend(cols.into_iter().map(SelectOutput::Column));
                }
                ast::SelectItem::ExprWithAliases { .. } => {
                    return Err(Error::unsupported("multiple aliases"))
                }
            }
        }
        Ok(out)
    }
}

/// One output of a select list.
#[allow(clippy::large_enum_variant)]
pub enum SelectOutput {
    /// A column of the input, from `*`.
    Column(usize),
    /// An expression and its output name.
    Expr(ast::Expr, String),
}

/// An AST reference to input column `i` (used to bind `*` under GROUP BY).
fn column_ast(scope: &Scope, i: usize) -> ast::Expr {
    let c = &scope.columns[i];
    let name = ast::Ident::with_quote('"', c.name.clone());
    match &c.table {
        Some(t) => {
            ast::Expr::CompoundIdentifier(vec![ast::Ident::with_quote('"', t.clone()), name])
        }
        None => ast::Expr::Identifier(name),
    }
}

/// Applies CTE column renames.
pub(super) fn rename_scope(scope: Scope, renames: &[String], alias: &str) -> Result<Scope> {
    if renames.len() > scope.len() {
        return Err(Error::new(
            SqlState::INVALID_COLUMN_REFERENCE,
            format!(
                "table \"{alias}\" has {} columns available but {} columns specified",
                scope.len(),
                renames.len()
            ),
        ));
    }
    let mut scope = scope.with_alias(alias);
    for (c, n) in scope.columns.iter_mut().zip(renames) {
        c.name = n.clone();
    }
    Ok(scope)
}

/// Adds casts so a branch of a set operation produces `types`.
pub(super) fn cast_outputs(plan: Plan, scope: &Scope, types: &[DataType]) -> Plan {
    if scope
        .columns
        .iter()
        .zip(types)
        .all(|(c, t)| c.data_type == *t || c.data_type == DataType::Unknown)
    {
        return plan;
    }
    let exprs = scope
        .columns
        .iter()
        .zip(types)
        .enumerate()
        .map(|(i, (c, t))| {
            if c.data_type == *t {
                Expr::Column(i)
            } else {
                Expr::Cast(Box::new(Expr::Column(i)), t.clone())
            }
        })
        .collect();
    Plan::Project {
        input: Box::new(plan),
        exprs,
    }
}

/// Whether a set expression mentions a table name (recursive CTE detection).
fn references_table(s: &ast::SetExpr, name: &str) -> bool {
    let mut found = false;
    let _ = sqlparser::ast::visit_relations(s, |rel| {
        if rel.0.len() == 1 && rel.to_string().trim_matches('"').eq_ignore_ascii_case(name) {
            found = true;
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    });
    found
}
