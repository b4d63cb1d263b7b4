//! Binding the fan-out table functions (see `crate::fanout`):
//!
//! - `rustydb_snapshot_range()` → one row `(oldest_lsn bigint, newest_lsn
//!   bigint)`: every LSN in between can be read exactly on this node now
//!   (`SET rustydb.read_lsn`). NULLs on a storage without LSN snapshots.
//! - `rustydb_split_points(table text, n int)` → up to `n-1` rows
//!   `(bound text)`, see `crate::fanout::split`.
//!
//! Like the system views, they are evaluated while binding, through the
//! statement's transaction (so under `rustydb.read_lsn` they read that
//! snapshot), and become a `Plan::Rows`. Arguments must be constants.

use std::sync::Arc;

use sqlparser::ast;

use super::bind::Binder;
use super::scope::Scope;
use super::Plan;
use crate::error::{Error, Result};
use crate::expr::Row;
use crate::types::{DataType, Value};
use crate::SqlState;

/// The function `name` if it is one of ours: its rows and columns.
pub fn table_function(
    b: &mut Binder,
    name: &str,
    args: &[ast::Expr],
) -> Result<Option<(Plan, Scope)>> {
    let (rows, columns) = match name {
        "rustydb_snapshot_range" => {
            if !args.is_empty() {
                return Err(no_such(name, args.len()));
            }
            let row = match b.catalog.txn.snapshot_range() {
                Some((oldest, newest)) => vec![lsn_value(oldest.0), lsn_value(newest.0)],
                None => vec![Value::Null, Value::Null],
            };
            (
                vec![row],
                vec![
                    ("oldest_lsn".to_string(), DataType::Int8),
                    ("newest_lsn".to_string(), DataType::Int8),
                ],
            )
        }
        "rustydb_split_points" => {
            let [table, parts] = args else {
                return Err(no_such(name, args.len()));
            };
            let table = constant_text(table)?;
            let parts = constant_text(parts)?;
            let parts: i64 = parts.trim().parse().map_err(|_| {
                Error::new(
                    SqlState::INVALID_TEXT_REPRESENTATION,
                    format!("invalid input syntax for type integer: \"{parts}\""),
                )
            })?;
            let def = b.catalog.table(&relation_name(&table))?;
            let db = b.catalog.db;
            let bounds = crate::fanout::split::split_points(&mut *b.catalog.txn, db, &def, parts)?;
            (
                bounds.into_iter().map(|s| vec![Value::Text(s)]).collect(),
                vec![("bound".to_string(), DataType::Text)],
            )
        }
        _ => return Ok(None),
    };
    let width = columns.len();
    let rows: Vec<Row> = rows;
    Ok(Some((
        Plan::Rows {
            rows: Arc::new(rows),
            width,
        },
        Scope::computed(columns),
    )))
}

fn lsn_value(lsn: u64) -> Value {
    Value::Int8(i64::try_from(lsn).unwrap_or(i64::MAX))
}

fn no_such(name: &str, nargs: usize) -> Error {
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!("function {name} with {nargs} argument(s) does not exist"),
    )
}

/// `schema.table`, `table` or `"Quoted"`: the relation name (schemas other
/// than the default are not separate namespaces here).
fn relation_name(text: &str) -> String {
    let last = text.rsplit('.').next().unwrap_or(text).trim();
    match last.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => last.to_lowercase(),
    }
}

/// A literal argument's text (strings, numbers, casts of them, negation).
fn constant_text(e: &ast::Expr) -> Result<String> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => Ok(s.clone()),
            ast::Value::Number(n, _) => Ok(n.clone()),
            _ => Err(not_constant(e)),
        },
        ast::Expr::Cast { expr, .. } | ast::Expr::Nested(expr) => constant_text(expr),
        ast::Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => Ok(format!("-{}", constant_text(expr)?)),
        _ => Err(not_constant(e)),
    }
}

fn not_constant(e: &ast::Expr) -> Error {
    Error::new(
        SqlState::FEATURE_NOT_SUPPORTED,
        format!("arguments of fan-out functions must be constants, got {e}"),
    )
}
