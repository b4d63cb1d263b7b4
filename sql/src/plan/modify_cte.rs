//! Data-modifying statements in WITH: `WITH d AS (DELETE ... RETURNING n)
//! SELECT n FROM d`, and `WITH ... INSERT | UPDATE | DELETE`.
//!
//! A data-modifying CTE is bound as an ordinary INSERT, UPDATE or DELETE
//! plan (`CteDef::Modify`). CTEs are materialised before the statement's
//! body, in order, so each runs exactly once whether or not anything reads
//! it, and readers see its RETURNING rows. A statement whose body is itself
//! an INSERT, UPDATE or DELETE under a WITH becomes `DmlPlan::With`.
//!
//! PostgreSQL runs every part of such a statement on one snapshot: the body
//! does not see what a CTE changed. Here a CTE's changes are already in the
//! transaction when later parts run, so a statement in which another part
//! reads or writes a table that a data-modifying CTE changes is refused
//! (`0A000`) instead of being answered differently. As in PostgreSQL, only
//! the statement's own (top-level) WITH may hold data-modifying statements.

use sqlparser::ast;

use super::bind::{ident, Binder};
use super::dml::{DmlPlan, DmlStatement};
use super::scope::Scope;
use super::select::{rename_scope, CteBinding};
use super::CteDef;
use crate::error::{Error, Result};
use crate::SqlState;

/// The INSERT, UPDATE or DELETE a query body holds, if any.
fn modifying_statement(body: &ast::SetExpr) -> Option<&ast::Statement> {
    match body {
        ast::SetExpr::Insert(s) | ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) => Some(s),
        _ => None,
    }
}

/// Whether a statement-level query is `WITH ... INSERT | UPDATE | DELETE`.
pub(super) fn is_modifying_body(q: &ast::Query) -> bool {
    modifying_statement(&q.body).is_some()
}

fn not_supported(message: impl Into<String>) -> Error {
    Error::new(SqlState::FEATURE_NOT_SUPPORTED, message)
}

/// Whether `part` names `table` (unqualified or in any schema).
fn reads_table<T: ast::Visit>(part: &T, table: &str) -> bool {
    let mut found = false;
    let _ = ast::visit_relations(part, |rel| {
        let last = rel.0.last().map(|p| p.to_string()).unwrap_or_default();
        let last = last.trim_matches('"');
        if last == table || last.eq_ignore_ascii_case(table) && !rel.to_string().contains('"') {
            found = true;
            return std::ops::ControlFlow::Break(());
        }
        std::ops::ControlFlow::Continue(())
    });
    found
}

impl Binder<'_> {
    fn bind_modifying(&mut self, stmt: &ast::Statement) -> Result<(DmlPlan, Option<Scope>)> {
        match stmt {
            ast::Statement::Insert(i) => self.insert(i),
            ast::Statement::Update(u) => self.update(u),
            ast::Statement::Delete(d) => self.delete(d),
            other => Err(not_supported(format!(
                "{} is not supported in WITH",
                other
                    .to_string()
                    .split_whitespace()
                    .next()
                    .unwrap_or("this statement")
            ))),
        }
    }

    /// Binds `cte` when it holds a data-modifying statement (`None`
    /// otherwise).
    pub(super) fn modifying_cte(&mut self, cte: &ast::Cte) -> Result<Option<(usize, CteDef)>> {
        let Some(stmt) = modifying_statement(&cte.query.body) else {
            return Ok(None);
        };
        let name = ident(&cte.alias.name);
        let id = self.next_cte_id;
        self.next_cte_id += 1;
        let (plan, returning) = self.bind_modifying(stmt)?;
        let renames: Vec<String> = cte.alias.columns.iter().map(|c| ident(&c.name)).collect();
        let (scope, readable) = match returning {
            Some(scope) => (rename_scope(scope, &renames, &name)?, true),
            None => (Scope::default(), false),
        };
        self.ctes.push(CteBinding {
            name,
            id,
            scope,
            readable,
        });
        Ok(Some((id, CteDef::Modify(Box::new(plan)))))
    }

    /// Binds a WITH clause; `body` is the rest of the statement.
    pub(super) fn with_clause(
        &mut self,
        with: &ast::With,
        body: &ast::SetExpr,
        top_level: bool,
    ) -> Result<Vec<(usize, CteDef)>> {
        let modifying = with
            .cte_tables
            .iter()
            .any(|c| modifying_statement(&c.query.body).is_some());
        if modifying && !top_level {
            return Err(not_supported(
                "WITH clause containing a data-modifying statement must be at the top level",
            ));
        }
        let mut ctes = Vec::with_capacity(with.cte_tables.len());
        for cte in &with.cte_tables {
            ctes.push(self.cte(cte, with.recursive)?);
        }
        if modifying {
            check_one_snapshot(with, body, &ctes)?;
        }
        Ok(ctes)
    }

    /// Binds `WITH ... INSERT | UPDATE | DELETE` at statement level.
    pub fn modifying_query(&mut self, q: &ast::Query) -> Result<(DmlPlan, Option<Scope>)> {
        let top_level = std::mem::replace(&mut self.top_level, false);
        let cte_mark = self.ctes.len();
        let result = self.modifying_query_inner(q, top_level);
        self.ctes.truncate(cte_mark);
        result
    }

    fn modifying_query_inner(
        &mut self,
        q: &ast::Query,
        top_level: bool,
    ) -> Result<(DmlPlan, Option<Scope>)> {
        let ctes = match &q.with {
            Some(with) => self.with_clause(with, &q.body, top_level)?,
            None => Vec::new(),
        };
        let Some(stmt) = modifying_statement(&q.body) else {
            return Err(Error::internal("not a data-modifying query"));
        };
        let (body, returning) = self.bind_modifying(stmt)?;
        if ctes.is_empty() {
            return Ok((body, returning));
        }
        Ok((
            DmlPlan::With {
                ctes,
                body: Box::new(body),
            },
            returning,
        ))
    }
}

/// Refuses a statement in which a table changed by a data-modifying CTE is
/// also read or written by another part (see the module docs for why).
fn check_one_snapshot(
    with: &ast::With,
    body: &ast::SetExpr,
    ctes: &[(usize, CteDef)],
) -> Result<()> {
    for (i, (_, def)) in ctes.iter().enumerate() {
        let CteDef::Modify(plan) = def else {
            continue;
        };
        let table = match plan.statement() {
            DmlStatement::Insert(p) => &p.table.name,
            DmlStatement::Update(p) => &p.table.name,
            DmlStatement::Delete(p) => &p.table.name,
        };
        let elsewhere = with
            .cte_tables
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && reads_table(&other.query, table))
            || reads_table(body, table);
        if elsewhere {
            return Err(not_supported(format!(
                "table \"{table}\" is changed by a data-modifying WITH query and used elsewhere in the same statement"
            ))
            .with_hint("Run the WITH query as a statement of its own first."));
        }
    }
    Ok(())
}
