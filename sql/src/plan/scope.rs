//! Name resolution: which input column a name refers to.
//!
//! A `Scope` lists the columns a plan node outputs, each with the table
//! alias it can be qualified by. Resolving `name` or `alias.name` finds the
//! one matching column (`42702` when several match, `None` when none does,
//! so the binder can try enclosing queries' scopes for correlated
//! subqueries before reporting `42703`).

use crate::error::{Error, Result};
use crate::types::DataType;
use crate::SqlState;

/// One column visible to expressions.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// The alias of the table (or subquery) it belongs to.
    pub table: Option<String>,
    pub name: String,
    pub data_type: DataType,
    /// Where it comes from, for RowDescription.
    pub table_oid: u32,
    pub column_id: i16,
    /// Columns in `USING` joins that `*` shows once.
    pub hidden: bool,
}

/// The columns of a plan node's output.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

impl Scope {
    /// A scope of unqualified computed columns.
    pub fn computed(columns: impl IntoIterator<Item = (String, DataType)>) -> Self {
        Scope {
            columns: columns
                .into_iter()
                .map(|(name, data_type)| ScopeColumn {
                    table: None,
                    name,
                    data_type,
                    table_oid: 0,
                    column_id: 0,
                    hidden: false,
                })
                .collect(),
        }
    }

    /// Renames the table qualifier of every column.
    pub fn with_alias(mut self, alias: &str) -> Self {
        for c in &mut self.columns {
            c.table = Some(alias.to_string());
        }
        self
    }

    /// Concatenates two scopes (a join's output).
    pub fn join(&self, other: &Scope) -> Scope {
        let mut columns = self.columns.clone();
        columns.extend(other.columns.iter().cloned());
        Scope { columns }
    }

    /// The number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Finds a column by optional qualifier and name.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> Result<Option<usize>> {
        let mut found = None;
        for (i, c) in self.columns.iter().enumerate() {
            if c.name != name {
                continue;
            }
            if let Some(t) = table {
                if c.table.as_deref() != Some(t) {
                    continue;
                }
            } else if c.hidden {
                continue;
            }
            if found.is_some() {
                return Err(Error::new(
                    SqlState::AMBIGUOUS_COLUMN,
                    format!("column reference \"{name}\" is ambiguous"),
                ));
            }
            found = Some(i);
        }
        if found.is_none() && table.is_none() {
            // A USING column hidden on one side is still reachable by name.
            found = self.columns.iter().position(|c| c.name == name);
        }
        Ok(found)
    }

    /// Whether a table alias is in scope.
    pub fn has_table(&self, table: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.table.as_deref() == Some(table))
    }

    /// The positions `*` or `alias.*` expands to.
    pub fn star(&self, table: Option<&str>) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| match table {
                Some(t) => c.table.as_deref() == Some(t),
                None => !c.hidden,
            })
            .map(|(i, _)| i)
            .collect()
    }
}
