//! `(s1, e1) OVERLAPS (s2, e2)`, rewritten to plain comparisons before
//! binding. Each period is normalised to (start, end) with LEAST/GREATEST
//! (PostgreSQL swaps reversed endpoints); an interval second element means
//! `start + interval`. Periods are half-open, so two periods overlap when
//! they start together or one starts strictly inside the other:
//! `s1 = s2 OR (s1 > s2 AND s1 < e2) OR (s2 > s1 AND s2 < e1)`.
//! NULL endpoints make the comparisons NULL, as three-valued logic gives.

use sqlparser::ast;

use crate::error::{Error, Result};

/// The rewritten expression, or a syntax error when a side is not a pair.
pub fn rewrite(left: &ast::Expr, right: &ast::Expr) -> Result<ast::Expr> {
    let (s1, e1) = period(left)?;
    let (s2, e2) = period(right)?;
    let cmp = |l: &ast::Expr, op: ast::BinaryOperator, r: &ast::Expr| ast::Expr::BinaryOp {
        left: Box::new(l.clone()),
        op,
        right: Box::new(r.clone()),
    };
    let and = |l: ast::Expr, r: ast::Expr| cmp(&l, ast::BinaryOperator::And, &r);
    let or = |l: ast::Expr, r: ast::Expr| cmp(&l, ast::BinaryOperator::Or, &r);
    use ast::BinaryOperator as B;
    let same = cmp(&s1, B::Eq, &s2);
    let first_inside = and(cmp(&s1, B::Gt, &s2), cmp(&s1, B::Lt, &e2));
    let second_inside = and(cmp(&s2, B::Gt, &s1), cmp(&s2, B::Lt, &e1));
    Ok(ast::Expr::Nested(Box::new(or(
        or(same, first_inside),
        second_inside,
    ))))
}

/// A `(start, end_or_interval)` pair as normalised (start, end) expressions.
fn period(e: &ast::Expr) -> Result<(ast::Expr, ast::Expr)> {
    let items = match e {
        ast::Expr::Tuple(items) if items.len() == 2 => items,
        ast::Expr::Nested(inner) => return period(inner),
        _ => return Err(Error::syntax("OVERLAPS needs two (start, end) pairs")),
    };
    let start = items[0].clone();
    let second = items[1].clone();
    // An interval literal or cast to interval: the end is start + interval.
    let is_interval = match &second {
        ast::Expr::Interval(_) => true,
        ast::Expr::Cast { data_type, .. } => matches!(data_type, ast::DataType::Interval { .. }),
        _ => false,
    };
    let end = if is_interval {
        ast::Expr::Nested(Box::new(ast::Expr::BinaryOp {
            left: Box::new(start.clone()),
            op: ast::BinaryOperator::Plus,
            right: Box::new(second),
        }))
    } else {
        second
    };
    Ok((call("least", &start, &end), call("greatest", &start, &end)))
}

fn call(name: &str, a: &ast::Expr, b: &ast::Expr) -> ast::Expr {
    let arg = |e: &ast::Expr| ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e.clone()));
    ast::Expr::Function(ast::Function {
        name: ast::ObjectName::from(vec![ast::Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: ast::FunctionArguments::None,
        args: ast::FunctionArguments::List(ast::FunctionArgumentList {
            duplicate_treatment: None,
            args: vec![arg(a), arg(b)],
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}
