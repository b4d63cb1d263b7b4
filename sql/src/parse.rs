//! Parsing SQL text into statements (sqlparser, PostgreSQL dialect).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// A parsed statement.
pub type Statement = sqlparser::ast::Statement;

/// The deepest expression nesting we accept before refusing with `54001`,
/// so hostile input cannot exhaust the stack.
const MAX_NESTING: usize = 200;

/// Parses a string holding zero or more statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            let msg = e.to_string();
            if msg.contains("recursion limit") {
                Error::new(
                    crate::SqlState::STATEMENT_TOO_COMPLEX,
                    "stack depth limit exceeded",
                )
            } else {
                Error::syntax(msg.trim_start_matches("sql parser error: ").to_string())
            }
        })
}
