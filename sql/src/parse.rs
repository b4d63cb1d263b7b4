//! Parsing SQL text into statements (sqlparser, PostgreSQL dialect).

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

use crate::error::{Error, Result};

/// A parsed statement.
pub type Statement = sqlparser::ast::Statement;

/// The deepest expression nesting we accept before refusing with `54001`,
/// so hostile input cannot exhaust the stack.
const MAX_NESTING: usize = 200;

/// The first word of `sql` after whitespace and comments (empty when it
/// starts with something else). The rewrites below and the statements
/// sqlparser has no grammar for are keyed on it, so that ordinary
/// statements pay one short scan instead of a tokenization each.
pub fn first_word(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            // Unterminated or nested comments are left to the parser.
            match after.find("*/") {
                Some(i) if !after[..i].contains("/*") => rest = &after[i + 2..],
                _ => return "",
            }
        } else {
            break;
        }
    }
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    &rest[..end]
}

/// Whether `sql` starts with one of the (lowercase) `words`.
pub fn starts_with_word(sql: &str, words: &[&str]) -> bool {
    let first = first_word(sql);
    words.iter().any(|w| first.eq_ignore_ascii_case(w))
}

/// Parses a string holding zero or more statements.
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    if starts_with_word(sql, &["vacuum", "analyze", "analyse"]) {
        if let Some(stmt) = maintenance(sql) {
            return stmt;
        }
    }
    if starts_with_word(sql, &["create"]) {
        if let Some(fixed) = create_sequence_order(sql) {
            return parse_plain(&fixed);
        }
    }
    let copy_fixed;
    let sql = if starts_with_word(sql, &["copy"]) {
        copy_fixed = copy_booleans(sql);
        copy_fixed.as_str()
    } else {
        sql
    };
    // BETWEEN SYMMETRIC: marked in the text, expanded after parsing.
    let symmetric = crate::between_symmetric::rewrite(sql);
    let sql = symmetric.as_deref().unwrap_or(sql);
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(MAX_NESTING)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map(|mut statements| {
            if symmetric.is_some() {
                crate::between_symmetric::expand(&mut statements);
            }
            statements
        })
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

/// COPY options written `freeze on` / `header off` (PostgreSQL's boolean
/// spellings) become `true` / `false`, which sqlparser understands.
fn copy_booleans(sql: &str) -> String {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = RE.get_or_init(|| regex::Regex::new(r"(?i)\b(freeze|header)\s+(on|off)\b").ok());
    match re {
        Some(re) => re
            .replace_all(sql, |c: &regex::Captures| {
                let v = if c[2].eq_ignore_ascii_case("on") {
                    "true"
                } else {
                    "false"
                };
                format!("{} {v}", &c[1])
            })
            .into_owned(),
        None => sql.to_string(),
    }
}

/// PostgreSQL accepts CREATE SEQUENCE options in any order; sqlparser wants
/// them in one. Rewrites a single CREATE SEQUENCE into that order.
fn create_sequence_order(sql: &str) -> Option<String> {
    let trimmed = sql.trim().trim_end_matches(';').trim();
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    let kw_at = |k: usize, w: &str| words.get(k).is_some_and(|x| x.eq_ignore_ascii_case(w));
    if !kw_at(0, "create") || !kw_at(1, "sequence") || trimmed.contains(';') {
        return None;
    }
    let mut head = String::from("CREATE SEQUENCE");
    let mut i = 2;
    if kw_at(2, "if") {
        head.push_str(" IF NOT EXISTS");
        i = 5;
    }
    let name = *words.get(i)?;
    let rest = &words[i + 1..];
    let kw = |k: usize, w: &str| rest.get(k).is_some_and(|x| x.eq_ignore_ascii_case(w));
    let mut parts: [Option<String>; 8] = Default::default();
    let mut j = 0;
    while j < rest.len() {
        if kw(j, "as") {
            parts[0] = Some(format!("AS {}", rest.get(j + 1)?));
            j += 2;
        } else if kw(j, "increment") {
            j += if kw(j + 1, "by") { 2 } else { 1 };
            parts[1] = Some(format!("INCREMENT BY {}", rest.get(j)?));
            j += 1;
        } else if kw(j, "minvalue") {
            parts[2] = Some(format!("MINVALUE {}", rest.get(j + 1)?));
            j += 2;
        } else if kw(j, "maxvalue") {
            parts[3] = Some(format!("MAXVALUE {}", rest.get(j + 1)?));
            j += 2;
        } else if kw(j, "no") && kw(j + 1, "minvalue") {
            parts[2] = Some("NO MINVALUE".into());
            j += 2;
        } else if kw(j, "no") && kw(j + 1, "maxvalue") {
            parts[3] = Some("NO MAXVALUE".into());
            j += 2;
        } else if kw(j, "start") {
            j += if kw(j + 1, "with") { 2 } else { 1 };
            parts[4] = Some(format!("START WITH {}", rest.get(j)?));
            j += 1;
        } else if kw(j, "cache") {
            parts[5] = Some(format!("CACHE {}", rest.get(j + 1)?));
            j += 2;
        } else if kw(j, "no") && kw(j + 1, "cycle") {
            parts[6] = Some("NO CYCLE".into());
            j += 2;
        } else if kw(j, "cycle") {
            parts[6] = Some("CYCLE".into());
            j += 1;
        } else if kw(j, "owned") && kw(j + 1, "by") {
            parts[7] = Some(format!("OWNED BY {}", rest.get(j + 2)?));
            j += 3;
        } else {
            return None;
        }
    }
    let mut out = format!("{head} {name}");
    for p in parts.into_iter().flatten() {
        out.push(' ');
        out.push_str(&p);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_word_skips_space_and_comments() {
        assert_eq!(first_word("  SELECT 1"), "SELECT");
        assert_eq!(first_word("-- note\n  vacuum;"), "vacuum");
        assert_eq!(first_word("/* a */ /* b */create table t()"), "create");
        assert_eq!(first_word("/* a /* b */ */ drop x"), "");
        assert_eq!(first_word("-- only a comment"), "");
        assert_eq!(first_word("(select 1)"), "");
        assert!(starts_with_word("\tCoPy t FROM stdin", &["copy"]));
        assert!(!starts_with_word("copying", &["copy"]));
    }
}
