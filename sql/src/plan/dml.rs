//! Binding INSERT, UPDATE and DELETE into `DmlPlan`s.
//!
//! The row source of UPDATE and DELETE is an ordinary scan plan with the
//! hidden `ctid` column (the row's storage key) appended, so the executor
//! can lock and rewrite exactly the rows the scan found; UPDATE ... FROM
//! and DELETE ... USING join further tables after that column.

use std::sync::Arc;

use sqlparser::ast;

use super::bind::{ident, Binder};
use super::scope::{Scope, ScopeColumn};
use super::{Access, JoinKind, Plan};
use crate::catalog::TableDef;
use crate::error::{Error, Result};
use crate::expr::Expr;
use crate::foreign_key::FkRules;
use crate::types::{cast, DataType};
use crate::SqlState;

/// What to do on a unique conflict in INSERT.
#[derive(Debug, Clone, PartialEq)]
pub enum OnConflict {
    Nothing,
    /// Assignments and WHERE over (existing row ++ excluded row).
    Update {
        assignments: Vec<(usize, Expr)>,
        predicate: Option<Expr>,
    },
}

/// Bound DEFAULTs (per column) and CHECKs (name, predicate) of a table.
pub type TableRules = (Vec<Option<Expr>>, Vec<(String, Expr)>);

/// The rows an INSERT stores.
#[derive(Debug, Clone, PartialEq)]
pub enum InsertSource {
    /// VALUES rows; `None` is the DEFAULT keyword.
    Values(Vec<Vec<Option<Expr>>>),
    Query(Box<Plan>),
}

/// A bound INSERT.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertPlan {
    pub db: u32,
    pub table: Arc<TableDef>,
    /// For each source column, the table column it fills.
    pub targets: Vec<usize>,
    pub source: InsertSource,
    /// The type of each source column.
    pub source_types: Vec<DataType>,
    /// Bound DEFAULT per table column.
    pub defaults: Vec<Option<Expr>>,
    /// Bound CHECK constraints (name, predicate over the table row).
    pub checks: Vec<(String, Expr)>,
    pub on_conflict: Option<(Option<Vec<usize>>, OnConflict)>,
    pub returning: Option<Vec<Expr>>,
    /// Rules of the tables referential actions may reach (ON CONFLICT DO
    /// UPDATE of a referenced key); `None` when nothing references the table.
    pub fk: Option<Arc<FkRules>>,
}

/// A bound UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatePlan {
    pub db: u32,
    pub table: Arc<TableDef>,
    /// Rows of the table (+ ctid, + FROM columns).
    pub source: Plan,
    /// The WHERE predicate over the table row alone, to re-check a row that
    /// changed while we waited for its lock (None with FROM).
    pub recheck: Option<Expr>,
    pub assignments: Vec<(usize, Expr)>,
    pub checks: Vec<(String, Expr)>,
    pub returning: Option<Vec<Expr>>,
    /// Rules of the tables referential actions may reach.
    pub fk: Option<Arc<FkRules>>,
}

/// A bound DELETE.
#[derive(Debug, Clone, PartialEq)]
pub struct DeletePlan {
    pub db: u32,
    pub table: Arc<TableDef>,
    pub source: Plan,
    pub recheck: Option<Expr>,
    pub returning: Option<Vec<Expr>>,
    /// Rules of the tables referential actions may reach.
    pub fk: Option<Arc<FkRules>>,
}

/// A data-changing statement.
#[derive(Debug, Clone, PartialEq)]
pub enum DmlPlan {
    Insert(InsertPlan),
    Update(UpdatePlan),
    Delete(DeletePlan),
    /// `WITH ... INSERT|UPDATE|DELETE`: the CTEs are materialised first.
    With {
        ctes: Vec<(usize, super::CteDef)>,
        body: Box<DmlPlan>,
    },
}

/// The INSERT, UPDATE or DELETE a `DmlPlan` runs, under any WITH.
#[derive(Debug, Clone, Copy)]
pub enum DmlStatement<'a> {
    Insert(&'a InsertPlan),
    Update(&'a UpdatePlan),
    Delete(&'a DeletePlan),
}

impl DmlPlan {
    /// The INSERT, UPDATE or DELETE itself, under any WITH.
    pub fn statement(&self) -> DmlStatement<'_> {
        match self {
            DmlPlan::Insert(p) => DmlStatement::Insert(p),
            DmlPlan::Update(p) => DmlStatement::Update(p),
            DmlPlan::Delete(p) => DmlStatement::Delete(p),
            DmlPlan::With { body, .. } => body.statement(),
        }
    }
}

/// The scope of a table's columns (plus `ctid` when `with_key`).
pub fn table_scope(table: &TableDef, alias: &str, with_key: bool) -> Scope {
    let mut columns: Vec<ScopeColumn> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| ScopeColumn {
            table: Some(alias.to_string()),
            name: c.name.clone(),
            data_type: c.data_type.clone(),
            table_oid: table.id,
            column_id: i as i16 + 1,
            hidden: false,
        })
        .collect();
    if with_key {
        columns.push(ScopeColumn {
            table: Some(alias.to_string()),
            name: "ctid".into(),
            data_type: DataType::Bytea,
            table_oid: table.id,
            column_id: -1,
            hidden: true,
        });
    }
    Scope { columns }
}

fn object_name_last(name: &ast::ObjectName) -> String {
    super::func::function_name(name)
}

impl<'a> Binder<'a> {
    /// Binds CHECK constraints and DEFAULTs of a table.
    pub fn table_rules(&mut self, table: &TableDef) -> Result<TableRules> {
        let scope = table_scope(table, &table.name, false);
        let empty = Scope::default();
        let mut defaults = Vec::new();
        for c in &table.columns {
            defaults.push(match &c.default {
                Some(sql) => {
                    let e = parse_expr(sql)?;
                    let (x, t) = self.expr(&e, &empty)?;
                    Some(self.coerce(x, &t, &c.data_type)?)
                }
                None => None,
            });
        }
        let mut checks = Vec::new();
        for ch in &table.checks {
            let e = parse_expr(&ch.expr)?;
            checks.push((ch.name.clone(), self.predicate(&e, &scope, "CHECK")?));
        }
        Ok((defaults, checks))
    }

    fn returning(
        &mut self,
        items: &Option<Vec<ast::SelectItem>>,
        scope: &Scope,
    ) -> Result<Option<(Vec<Expr>, Scope)>> {
        let Some(items) = items else { return Ok(None) };
        let mut exprs = Vec::new();
        let mut cols = Vec::new();
        for item in items {
            match item {
                ast::SelectItem::Wildcard(_) => {
                    for i in scope.star(None) {
                        exprs.push(Expr::Column(i));
                        cols.push(scope.columns[i].clone());
                    }
                }
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => {
                    let name = match item {
                        ast::SelectItem::ExprWithAlias { alias, .. } => ident(alias),
                        _ => super::names::output_name(e),
                    };
                    let (x, t) = self.expr(e, scope)?;
                    let t = if t == DataType::Unknown {
                        DataType::Text
                    } else {
                        t
                    };
                    exprs.push(x);
                    cols.push(ScopeColumn {
                        table: None,
                        name,
                        data_type: t,
                        table_oid: 0,
                        column_id: 0,
                        hidden: false,
                    });
                }
                _ => return Err(Error::unsupported("RETURNING item")),
            }
        }
        Ok(Some((exprs, Scope { columns: cols })))
    }

    /// Binds an INSERT; returns the plan and the RETURNING scope.
    pub fn insert(&mut self, ins: &ast::Insert) -> Result<(DmlPlan, Option<Scope>)> {
        let ast::TableObject::TableName(name) = &ins.table else {
            return Err(Error::unsupported("INSERT into a table function"));
        };
        let table = self.catalog.table(&object_name_last(name))?;
        let alias = ins
            .table_alias
            .as_ref()
            .map(|a| ident(&a.alias))
            .unwrap_or_else(|| table.name.clone());
        let targets: Vec<usize> = if ins.columns.is_empty() {
            (0..table.columns.len()).collect()
        } else {
            let mut t = Vec::new();
            for c in &ins.columns {
                let n = object_name_last(c);
                let i = table.column_index(&n).ok_or_else(|| {
                    Error::new(
                        SqlState::UNDEFINED_COLUMN,
                        format!(
                            "column \"{n}\" of relation \"{}\" does not exist",
                            table.name
                        ),
                    )
                })?;
                if t.contains(&i) {
                    return Err(Error::new(
                        SqlState::DUPLICATE_COLUMN,
                        format!("column \"{n}\" specified more than once"),
                    ));
                }
                t.push(i);
            }
            t
        };
        let (source, source_types) = match &ins.source {
            None => (InsertSource::Values(vec![vec![]]), vec![]),
            Some(q) => self
                .refusing_windows(Some("window functions are not allowed in VALUES"), |b| {
                    b.insert_source(q, &table, &targets)
                })?,
        };
        if source_types.len() > targets.len() {
            return Err(Error::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        if !ins.columns.is_empty() && ins.source.is_some() && source_types.len() < targets.len() {
            return Err(Error::syntax(
                "INSERT has more target columns than expressions",
            ));
        }
        let targets = targets[..source_types.len()].to_vec();
        let (defaults, checks) = self.table_rules(&table)?;
        let scope = table_scope(&table, &alias, false);
        let on_conflict = match &ins.on {
            Some(ast::OnInsert::OnConflict(oc)) => Some(self.on_conflict(oc, &table, &alias)?),
            Some(_) => return Err(Error::unsupported("ON DUPLICATE KEY")),
            None => None,
        };
        let ret = self.returning(&ins.returning, &scope)?;
        let (returning, ret_scope) = match ret {
            Some((e, s)) => (Some(e), Some(s)),
            None => (None, None),
        };
        let fk = match &on_conflict {
            Some((_, OnConflict::Update { .. })) => self.fk_rules(&table)?,
            _ => None,
        };
        let plan = InsertPlan {
            fk,
            db: self.catalog.db,
            table,
            targets,
            source,
            source_types,
            defaults,
            checks,
            on_conflict,
            returning,
        };
        Ok((DmlPlan::Insert(plan), ret_scope))
    }

    /// The rows to insert. VALUES items may be DEFAULT; literals are typed
    /// by their target columns.
    fn insert_source(
        &mut self,
        q: &ast::Query,
        table: &TableDef,
        targets: &[usize],
    ) -> Result<(InsertSource, Vec<DataType>)> {
        if let (ast::SetExpr::Values(values), None, None) = (&*q.body, &q.order_by, &q.limit_clause)
        {
            let empty = Scope::default();
            let mut rows = Vec::new();
            let width = values.rows.first().map(|r| r.content.len()).unwrap_or(0);
            for row in &values.rows {
                if row.content.len() != width {
                    return Err(Error::syntax("VALUES lists must all be the same length"));
                }
                if width > targets.len() {
                    return Err(Error::syntax(
                        "INSERT has more expressions than target columns",
                    ));
                }
                let mut bound = Vec::new();
                for (i, e) in row.content.iter().enumerate() {
                    let col = &table.columns[targets[i]];
                    if is_default_keyword(e) {
                        bound.push(None);
                        continue;
                    }
                    let (x, t) = self.expr(e, &empty)?;
                    bound.push(Some(self.assignable(x, &t, &col.data_type, &col.name)?));
                }
                rows.push(bound);
            }
            let types = (0..width)
                .map(|i| table.columns[targets[i]].data_type.clone())
                .collect();
            return Ok((InsertSource::Values(rows), types));
        }
        let (plan, scope) = self.query(q)?;
        if scope.len() > targets.len() {
            return Err(Error::syntax(
                "INSERT has more expressions than target columns",
            ));
        }
        let literals = untyped_literal_items(q);
        let mut exprs = Vec::new();
        for (i, c) in scope.columns.iter().enumerate() {
            let col = &table.columns[targets[i]];
            // PostgreSQL types a bare string literal in the SELECT list of
            // INSERT ... SELECT by its target column, not as text.
            if literals.get(i) == Some(&true) && c.data_type == DataType::Text {
                // Lengths are left to the write's assignment check (22001),
                // as an explicit cast to varchar(n) would truncate.
                exprs.push(Expr::Cast(
                    Box::new(Expr::Column(i)),
                    strip_len(&col.data_type),
                ));
                continue;
            }
            exprs.push(self.assignable(
                Expr::Column(i),
                &c.data_type,
                &col.data_type,
                &col.name,
            )?);
        }
        let types = scope
            .columns
            .iter()
            .enumerate()
            .map(|(i, _)| table.columns[targets[i]].data_type.clone())
            .collect();
        Ok((
            InsertSource::Query(Box::new(Plan::Project {
                input: Box::new(plan),
                exprs,
            })),
            types,
        ))
    }

    /// Checks that a value of type `from` may be stored in a column of type
    /// `to` (PostgreSQL's assignment casts) and converts unknown literals.
    pub(crate) fn assignable(
        &mut self,
        x: Expr,
        from: &DataType,
        to: &DataType,
        column: &str,
    ) -> Result<Expr> {
        if *from == DataType::Unknown {
            return match x {
                Expr::Literal(crate::types::Value::Text(s)) => Ok(Expr::Literal(cast::assign(
                    crate::types::text::parse(&s, &strip_len(to))?,
                    to,
                )?)),
                other => self.coerce_unknown(other, from, to),
            };
        }
        if !assignment_allowed(from, to) {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                format!(
                    "column \"{column}\" is of type {} but expression is of type {}",
                    crate::types::oid::type_name(to),
                    crate::types::oid::type_name(from)
                ),
            )
            .with_hint("You will need to rewrite or cast the expression."));
        }
        Ok(x)
    }

    fn on_conflict(
        &mut self,
        oc: &ast::OnConflict,
        table: &Arc<TableDef>,
        alias: &str,
    ) -> Result<(Option<Vec<usize>>, OnConflict)> {
        let target = match &oc.conflict_target {
            Some(ast::ConflictTarget::Columns(cols)) => {
                let mut v = Vec::new();
                for c in cols {
                    let n = ident(c);
                    v.push(table.column_index(&n).ok_or_else(|| {
                        Error::new(
                            SqlState::UNDEFINED_COLUMN,
                            format!("column \"{n}\" does not exist"),
                        )
                    })?);
                }
                let matches_key = table
                    .primary_key_columns()
                    .is_some_and(|pk| same_set(&pk, &v))
                    || table
                        .indexes
                        .iter()
                        .any(|i| i.unique && same_set(&i.columns, &v));
                if !matches_key {
                    return Err(Error::new(SqlState::INVALID_COLUMN_REFERENCE, "there is no unique or exclusion constraint matching the ON CONFLICT specification"));
                }
                Some(v)
            }
            Some(ast::ConflictTarget::OnConstraint(_)) => None,
            None => None,
        };
        let action = match &oc.action {
            ast::OnConflictAction::DoNothing => OnConflict::Nothing,
            ast::OnConflictAction::DoUpdate(du) => {
                if target.is_none() {
                    return Err(Error::syntax(
                        "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                    ));
                }
                let scope =
                    table_scope(table, alias, false).join(&table_scope(table, "excluded", false));
                let assignments = self.assignments(&du.assignments, table, &scope)?;
                let predicate = du
                    .selection
                    .as_ref()
                    .map(|w| self.predicate(w, &scope, "WHERE"))
                    .transpose()?;
                OnConflict::Update {
                    assignments,
                    predicate,
                }
            }
        };
        Ok((target, action))
    }

    fn assignments(
        &mut self,
        list: &[ast::Assignment],
        table: &TableDef,
        scope: &Scope,
    ) -> Result<Vec<(usize, Expr)>> {
        let mut out = Vec::new();
        for a in list {
            let names: Vec<String> = match &a.target {
                ast::AssignmentTarget::ColumnName(n) => vec![object_name_last(n)],
                ast::AssignmentTarget::Tuple(ns) => ns.iter().map(object_name_last).collect(),
            };
            if names.len() != 1 {
                // SET (a, b) = (x, y): one assignment per column.
                let values = match &a.value {
                    ast::Expr::Tuple(v) => v.clone(),
                    _ => {
                        return Err(Error::unsupported(
                            "multi-column assignment from a subquery",
                        ))
                    }
                };
                if values.len() != names.len() {
                    return Err(Error::syntax(
                        "number of columns does not match number of values",
                    ));
                }
                let split: Vec<ast::Assignment> = names
                    .iter()
                    .zip(values)
                    .map(|(n, v)| ast::Assignment {
                        target: ast::AssignmentTarget::ColumnName(ast::ObjectName::from(vec![
                            ast::Ident::new(n.clone()),
                        ])),
                        value: v,
                    })
                    .collect();
                for (i, e) in self.assignments(&split, table, scope)? {
                    if out.iter().any(|(j, _)| *j == i) {
                        return Err(Error::new(
                            SqlState::DUPLICATE_COLUMN,
                            format!(
                                "multiple assignments to same column \"{}\"",
                                table.columns[i].name
                            ),
                        ));
                    }
                    out.push((i, e));
                }
                continue;
            }
            let n = &names[0];
            let i = table.column_index(n).ok_or_else(|| {
                Error::new(
                    SqlState::UNDEFINED_COLUMN,
                    format!(
                        "column \"{n}\" of relation \"{}\" does not exist",
                        table.name
                    ),
                )
            })?;
            if out.iter().any(|(j, _)| *j == i) {
                return Err(Error::new(
                    SqlState::DUPLICATE_COLUMN,
                    format!("multiple assignments to same column \"{n}\""),
                ));
            }
            let col = &table.columns[i];
            let x = if is_default_keyword(&a.value) {
                match &col.default {
                    Some(sql) => {
                        let e = parse_expr(sql)?;
                        let (x, t) = self.expr(&e, &Scope::default())?;
                        self.coerce(x, &t, &col.data_type)?
                    }
                    None => Expr::Literal(crate::types::Value::Null),
                }
            } else {
                let (x, t) = self.expr(&a.value, scope)?;
                self.assignable(x, &t, &col.data_type, n)?
            };
            out.push((i, x));
        }
        Ok(out)
    }

    /// Binds an UPDATE.
    pub fn update(&mut self, up: &ast::Update) -> Result<(DmlPlan, Option<Scope>)> {
        let (table, alias) = self.dml_target(&up.table.relation)?;
        let base_scope = table_scope(&table, &alias, true);
        let base = Plan::Scan {
            db: self.catalog.db,
            table: table.clone(),
            access: Access::Full,
            filter: None,
            with_key: true,
        };
        let from = match &up.from {
            Some(
                ast::UpdateTableFromKind::AfterSet(f) | ast::UpdateTableFromKind::BeforeSet(f),
            ) => f.clone(),
            None => vec![],
        };
        let (source, scope, recheck) =
            self.dml_source(base, base_scope, &from, up.selection.as_ref())?;
        let assignments = self
            .refusing_windows(Some("window functions are not allowed in UPDATE"), |b| {
                b.assignments(&up.assignments, &table, &scope)
            })?;
        let (_, checks) = self.table_rules(&table)?;
        let ret = self.returning(&up.returning, &scope)?;
        let (returning, ret_scope) = match ret {
            Some((e, s)) => (Some(e), Some(s)),
            None => (None, None),
        };
        let fk = self.fk_rules(&table)?;
        Ok((
            DmlPlan::Update(UpdatePlan {
                fk,
                db: self.catalog.db,
                table,
                source,
                recheck,
                assignments,
                checks,
                returning,
            }),
            ret_scope,
        ))
    }

    /// Binds a DELETE.
    pub fn delete(&mut self, del: &ast::Delete) -> Result<(DmlPlan, Option<Scope>)> {
        let from = match &del.from {
            ast::FromTable::WithFromKeyword(f) | ast::FromTable::WithoutKeyword(f) => f,
        };
        let Some(first) = from.first() else {
            return Err(Error::syntax("DELETE needs a table"));
        };
        let (table, alias) = self.dml_target(&first.relation)?;
        let base_scope = table_scope(&table, &alias, true);
        let base = Plan::Scan {
            db: self.catalog.db,
            table: table.clone(),
            access: Access::Full,
            filter: None,
            with_key: true,
        };
        let using = del.using.clone().unwrap_or_default();
        let (source, scope, recheck) =
            self.dml_source(base, base_scope, &using, del.selection.as_ref())?;
        let ret = self.returning(&del.returning, &scope)?;
        let (returning, ret_scope) = match ret {
            Some((e, s)) => (Some(e), Some(s)),
            None => (None, None),
        };
        let fk = self.fk_rules(&table)?;
        Ok((
            DmlPlan::Delete(DeletePlan {
                fk,
                db: self.catalog.db,
                table,
                source,
                recheck,
                returning,
            }),
            ret_scope,
        ))
    }

    fn dml_target(&mut self, tf: &ast::TableFactor) -> Result<(Arc<TableDef>, String)> {
        match tf {
            ast::TableFactor::Table { name, alias, .. } => {
                let n = object_name_last(name);
                let table = self.catalog.table(&n)?;
                let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or(n);
                Ok((table, alias))
            }
            _ => Err(Error::unsupported("UPDATE/DELETE target must be a table")),
        }
    }

    fn dml_source(
        &mut self,
        base: Plan,
        base_scope: Scope,
        from: &[ast::TableWithJoins],
        selection: Option<&ast::Expr>,
    ) -> Result<(Plan, Scope, Option<Expr>)> {
        if from.is_empty() {
            let pred = selection
                .map(|w| self.predicate(w, &base_scope, "WHERE"))
                .transpose()?;
            let plan = match &pred {
                Some(p) => super::access::add_filter(base, p.clone()),
                None => base,
            };
            return Ok((plan, base_scope, pred));
        }
        let (fp, fs) = self.from(from)?;
        let scope = base_scope.join(&fs);
        let (lw, rw) = (base_scope.len(), fs.len());
        let (equi, on) = match selection {
            Some(w) => super::access::split_equi_join(self.predicate(w, &scope, "WHERE")?, lw),
            None => (vec![], None),
        };
        let plan = Plan::Join {
            left: Box::new(base),
            right: Box::new(fp),
            kind: JoinKind::Inner,
            equi,
            on,
            left_width: lw,
            right_width: rw,
        };
        Ok((plan, scope, None))
    }
}

fn same_set(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().all(|x| b.contains(x))
}

/// Whether an expression is the DEFAULT keyword.
pub fn is_default_keyword(e: &ast::Expr) -> bool {
    matches!(e, ast::Expr::Identifier(id) if id.quote_style.is_none() && id.value.eq_ignore_ascii_case("default"))
}

/// Parses a stored SQL expression (DEFAULT, CHECK).
pub fn parse_expr(sql: &str) -> Result<ast::Expr> {
    let dialect = sqlparser::dialect::PostgreSqlDialect {};
    sqlparser::parser::Parser::new(&dialect)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| Error::syntax(e.to_string()))
}

/// A type without its length limit (so over-long literals reach the
/// assignment check and fail with 22001, not at parse time).
fn strip_len(t: &DataType) -> DataType {
    match t {
        DataType::Varchar(_) | DataType::Char(_) => DataType::Text,
        other => other.clone(),
    }
}

/// PostgreSQL's assignment-cast rules, simplified: numbers convert among
/// themselves, text-like types among themselves, anything to text, date
/// and timestamps among themselves, json and jsonb; everything else must be
/// cast explicitly.
pub fn assignment_allowed(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    let numeric = |t: &T| {
        matches!(
            t,
            T::Int2 | T::Int4 | T::Int8 | T::Float4 | T::Float8 | T::Numeric(_)
        )
    };
    let texty = |t: &T| matches!(t, T::Text | T::Varchar(_) | T::Char(_) | T::Name);
    let temporal = |t: &T| matches!(t, T::Date | T::Timestamp | T::TimestampTz);
    let oidish = |t: &T| {
        matches!(
            t,
            T::Oid | T::RegClass | T::RegType | T::RegProc | T::Int4 | T::Int8
        )
    };
    from == to
        || matches!(from, T::Void)
        || (numeric(from) && numeric(to))
        || (texty(to) && !matches!(from, T::Array(_)))
        || (texty(from) && texty(to))
        || (temporal(from) && temporal(to))
        || (matches!(from, T::Json | T::Jsonb) && matches!(to, T::Json | T::Jsonb))
        || (oidish(from) && oidish(to))
        || match (from, to) {
            (T::Array(a), T::Array(b)) => assignment_allowed(a, b),
            _ => false,
        }
}

/// For a plain `SELECT` body: which select-list items are bare string
/// literals (type unknown until the INSERT target types them).
fn untyped_literal_items(q: &ast::Query) -> Vec<bool> {
    let ast::SetExpr::Select(sel) = &*q.body else {
        return Vec::new();
    };
    // A `*` expands to several columns: positions would no longer line up.
    if sel.projection.iter().any(|i| {
        matches!(
            i,
            ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..)
        )
    }) {
        return Vec::new();
    }
    sel.projection
        .iter()
        .map(|item| {
            let e = match item {
                ast::SelectItem::UnnamedExpr(e)
                | ast::SelectItem::ExprWithAlias { expr: e, .. } => e,
                _ => return false,
            };
            matches!(
                e,
                ast::Expr::Value(v) if matches!(v.value, ast::Value::SingleQuotedString(_))
            )
        })
        .collect()
}
