//! `x [NOT] BETWEEN SYMMETRIC a AND b` (and the explicit default,
//! `BETWEEN ASYMMETRIC`), which sqlparser does not know.
//!
//! Two steps around the parser:
//! 1. [`rewrite`] runs on the statement text before parsing. It tokenizes
//!    it (so a `symmetric` inside a string, a quoted identifier or a
//!    comment is never touched), and for each `BETWEEN SYMMETRIC` token
//!    pair it lets sqlparser itself find where the bounds end (each bound
//!    is a sub-expression at BETWEEN's precedence, exactly as the parser
//!    reads them), then splices the text
//!    `BETWEEN rustydb_between_symmetric(<a>, <b>) AND NULL` in its place,
//!    byte-exact from the original text. `ASYMMETRIC` is simply dropped.
//! 2. [`expand`] runs on the parsed statements: a BETWEEN whose low bound
//!    is that marker call becomes what PostgreSQL's parser makes of it,
//!    `(x BETWEEN a AND b OR x BETWEEN b AND a)`, or for NOT BETWEEN
//!    `(x NOT BETWEEN a AND b AND x NOT BETWEEN b AND a)`; like
//!    PostgreSQL, `x` appears (and is evaluated) twice.
//!
//! The marker's name is not a function anyone can call: if a statement
//! used it directly, it is left alone and fails as an unknown function.

use std::ops::ControlFlow;

use sqlparser::ast::{self, Expr};
use sqlparser::dialect::{Dialect, PostgreSqlDialect, Precedence};
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

/// The function name standing for "the bounds of a symmetric BETWEEN".
const MARKER: &str = "rustydb_between_symmetric";

/// The most BETWEEN SYMMETRIC rewrites one statement text gets (each pass
/// rewrites one; a bound keeps this finite even for odd input).
const MAX_REWRITES: usize = 64;

/// Rewrites every `BETWEEN [A]SYMMETRIC` of `sql`, or `None` when there is
/// none (or the text does not tokenize: the parser then reports it).
pub fn rewrite(sql: &str) -> Option<String> {
    if !sql.to_ascii_lowercase().contains("symmetric") {
        return None;
    }
    let mut text = sql.to_string();
    let mut changed = false;
    for _ in 0..MAX_REWRITES {
        match rewrite_one(&text) {
            Some(next) => {
                text = next;
                changed = true;
            }
            None => break,
        }
    }
    changed.then_some(text)
}

/// Rewrites the first `BETWEEN [A]SYMMETRIC` of `sql`.
fn rewrite_one(sql: &str) -> Option<String> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .ok()?;
    let offsets = LineOffsets::new(sql);
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))
        .collect();
    for pair in significant.windows(2) {
        let (b, s) = (pair[0], pair[1]);
        if !is_word(&tokens[b], "between") {
            continue;
        }
        let symmetric = is_word(&tokens[s], "symmetric");
        if !symmetric && !is_word(&tokens[s], "asymmetric") {
            continue;
        }
        let kw_start = offsets.byte(tokens[s].span.start)?;
        let kw_end = offsets.byte(tokens[s].span.end)?;
        if !symmetric {
            return Some(format!("{}{}", &sql[..kw_start], &sql[kw_end..]));
        }
        let (low, after_low) = bound(&tokens, s + 1, &offsets)?;
        let and = (after_low..tokens.len())
            .find(|&i| !matches!(tokens[i].token, Token::Whitespace(_)))?;
        if !matches!(&tokens[and].token, Token::Word(w) if w.keyword == Keyword::AND) {
            return None;
        }
        let (high, _) = bound(&tokens, and + 1, &offsets)?;
        return Some(format!(
            "{}{MARKER}({}, {}) AND NULL{}",
            &sql[..kw_start],
            &sql[low.0..low.1],
            &sql[high.0..high.1],
            &sql[high.1..]
        ));
    }
    None
}

/// The byte range of the BETWEEN bound starting at token `from`, and the
/// index of the first token after it.
fn bound(
    tokens: &[TokenWithSpan],
    from: usize,
    offsets: &LineOffsets,
) -> Option<((usize, usize), usize)> {
    let dialect = PostgreSqlDialect {};
    let rest: Vec<TokenWithSpan> = tokens.get(from..)?.to_vec();
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(rest);
    parser
        .parse_subexpr(dialect.prec_value(Precedence::Between))
        .ok()?;
    let end = from + parser.index();
    let used: Vec<&TokenWithSpan> = tokens
        .get(from..end)?
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_) | Token::EOF))
        .collect();
    let start = offsets.byte(used.first()?.span.start)?;
    let stop = offsets.byte(used.last()?.span.end)?;
    (start < stop).then_some(((start, stop), end))
}

fn is_word(t: &TokenWithSpan, word: &str) -> bool {
    matches!(&t.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

/// Turns the tokenizer's (line, column) locations into byte offsets.
struct LineOffsets<'a> {
    sql: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineOffsets<'a> {
    fn new(sql: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        LineOffsets { sql, starts }
    }

    /// The byte offset of a 1-based (line, column-in-characters) location.
    fn byte(&self, at: Location) -> Option<usize> {
        let line_start = *self
            .starts
            .get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let col = usize::try_from(at.column).ok()?.checked_sub(1)?;
        let line = self.sql.get(line_start..)?;
        match line.char_indices().nth(col) {
            Some((i, _)) => Some(line_start + i),
            // A location just past the last character.
            None => Some(self.sql.len()),
        }
    }
}

/// Expands the marked BETWEENs of parsed statements (see the module doc).
pub fn expand(statements: &mut Vec<ast::Statement>) {
    let _ = ast::visit_expressions_mut(statements, |e| {
        if let Expr::Between {
            expr,
            negated,
            low,
            high,
        } = e
        {
            if let Some((a, b)) = marked_bounds(low) {
                let _ = high;
                let between = |lo: &Expr, hi: &Expr| Expr::Between {
                    expr: expr.clone(),
                    negated: *negated,
                    low: Box::new(lo.clone()),
                    high: Box::new(hi.clone()),
                };
                let op = if *negated {
                    ast::BinaryOperator::And
                } else {
                    ast::BinaryOperator::Or
                };
                *e = Expr::Nested(Box::new(Expr::BinaryOp {
                    left: Box::new(between(&a, &b)),
                    op,
                    right: Box::new(between(&b, &a)),
                }));
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// The two bounds of a marker call `rustydb_between_symmetric(a, b)`.
fn marked_bounds(e: &Expr) -> Option<(Expr, Expr)> {
    let Expr::Function(f) = e else { return None };
    if !f.name.to_string().eq_ignore_ascii_case(MARKER) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &f.args else {
        return None;
    };
    match list.args.as_slice() {
        [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a)), ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(b))] => {
            Some((a.clone(), b.clone()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_outside_strings_only() {
        assert_eq!(rewrite("SELECT 1"), None);
        assert_eq!(rewrite("SELECT 'between symmetric 1 and 2'"), None);
        assert_eq!(rewrite("SELECT 1 -- between symmetric 1 and 2"), None);
        assert_eq!(
            rewrite("SELECT x BETWEEN SYMMETRIC 10 AND 1 + 2 AND y FROM t").as_deref(),
            Some("SELECT x BETWEEN rustydb_between_symmetric(10, 1 + 2) AND NULL AND y FROM t")
        );
        assert_eq!(
            rewrite("SELECT 'é' NOT BETWEEN symmetric 'z' AND 'a'").as_deref(),
            Some("SELECT 'é' NOT BETWEEN rustydb_between_symmetric('z', 'a') AND NULL")
        );
        assert_eq!(
            rewrite("SELECT 2 BETWEEN ASYMMETRIC 1 AND 3").as_deref(),
            Some("SELECT 2 BETWEEN  1 AND 3")
        );
    }
}
