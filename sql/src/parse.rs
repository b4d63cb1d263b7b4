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
    if let Some(stmt) = maintenance(sql) {
        return stmt;
    }
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

/// `VACUUM [options] [table, ...]` and `ANALYZE [table, ...]` in the forms
/// PostgreSQL accepts (sqlparser only knows a few): they do nothing here,
/// so the table list is only checked for shape.
fn maintenance(sql: &str) -> Option<Result<Vec<Statement>>> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    let lower = trimmed.to_lowercase();
    let keyword = ["vacuum", "analyze", "analyse"]
        .into_iter()
        .find(|k| lower == *k || lower.starts_with(&format!("{k} ")))?;
    if trimmed.contains(';') {
        return None;
    }
    let rest = &lower[keyword.len()..];
    let ok = rest.chars().all(|c| {
        c.is_alphanumeric() || matches!(c, '_' | ',' | ' ' | '.' | '(' | ')' | '"' | '\n' | '\t')
    });
    if !ok {
        return Some(Err(Error::syntax(format!(
            "syntax error at or near \"{}\"",
            rest.trim()
        ))));
    }
    Some(parse_plain(if keyword == "vacuum" {
        "VACUUM"
    } else {
        "ANALYZE"
    }))
}

fn parse_plain(sql: &str) -> Result<Vec<Statement>> {
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| Error::syntax(e.to_string()))
}
