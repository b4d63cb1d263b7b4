//! Bind-time preparation for referential actions.
//!
//! A DELETE or UPDATE of a referenced table may change rows of its
//! children (CASCADE, SET NULL, SET DEFAULT), and those rows must get their
//! DEFAULT expressions and pass their CHECK constraints. Expressions are
//! bound by the planner, which the executor cannot reach, so the binder
//! collects the rules of every table reachable through `referenced_by`
//! from the statement's target (a breadth-first walk; cycles are visited
//! once) into `FkRules`, which travels in the plan.

use std::collections::HashMap;
use std::sync::Arc;

use crate::catalog::TableDef;
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::bind::Binder;

/// A table reachable by referential actions, with its bound rules.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundTable {
    pub def: Arc<TableDef>,
    /// Bound DEFAULT per column.
    pub defaults: Vec<Option<Expr>>,
    /// Bound CHECK constraints (name, predicate over the row).
    pub checks: Vec<(String, Expr)>,
}

/// The children a statement may cascade into, by table name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FkRules {
    pub tables: HashMap<String, BoundTable>,
}

impl Binder<'_> {
    /// The rules of every table reachable from `target` through foreign
    /// keys that reference it; `None` when nothing references `target`.
    pub fn fk_rules(&mut self, target: &Arc<TableDef>) -> Result<Option<Arc<FkRules>>> {
        if target.referenced_by.is_empty() {
            return Ok(None);
        }
        let mut rules = FkRules::default();
        let mut queue: Vec<Arc<TableDef>> = vec![target.clone()];
        while let Some(table) = queue.pop() {
            for child_name in &table.referenced_by {
                if rules.tables.contains_key(child_name) {
                    continue;
                }
                let child = if *child_name == target.name {
                    target.clone()
                } else {
                    self.catalog.table(child_name)?
                };
                let (defaults, checks) = self.table_rules(&child)?;
                rules.tables.insert(
                    child_name.clone(),
                    BoundTable {
                        def: child.clone(),
                        defaults,
                        checks,
                    },
                );
                if !child.referenced_by.is_empty() {
                    queue.push(child);
                }
            }
        }
        Ok(Some(Arc::new(rules)))
    }
}
