//! Raw filter terms: the part of a scan filter that is checked on the
//! encoded row, before it is decoded.
//!
//! A full scan reads every row of the table but its filter often keeps few
//! (`WHERE f = 7` keeps one in a thousand). Decoding each row into values
//! only to drop it dominates such a scan, so the conjuncts of the filter of
//! the form `column <op> integer constant` (either side, any comparison)
//! are pulled out and checked straight on the stored bytes: the row format
//! is tagged, so finding column `i` is a walk over `i` lengths, and an
//! integer is compared as `i64` (exact for every integer width).
//!
//! The filter passes when every conjunct is TRUE, so:
//! - a term that is FALSE, or NULL (a NULL column), drops the row: the
//!   conjunction can no longer be TRUE;
//! - a row whose column is not an integer (not expected: the planner types
//!   the comparison) is *undecided*: the caller evaluates the whole filter
//!   on the decoded row, exactly as without this module;
//! - when every term holds, the rest of the filter (the other conjuncts,
//!   if any) is evaluated on the decoded row.
//!
//! The only visible difference from evaluating the filter left to right is
//! that a row the terms drop never evaluates the other conjuncts, so an
//! error they would raise on it (a division by zero) is not raised;
//! PostgreSQL also orders the conditions of a scan by cost, not as written.

use std::cmp::Ordering;

use crate::encoding::row::{self, RawColumn};
use crate::error::Result;
use crate::expr::Expr;
use crate::types::ops::BinaryOp;
use crate::types::Value;

/// One `column <op> constant` conjunct (`op` oriented as column first).
#[derive(Debug, Clone)]
struct Term {
    column: usize,
    op: BinaryOp,
    value: i64,
}

/// The raw terms of a filter and what remains of it.
#[derive(Debug, Clone)]
pub struct RawFilter {
    terms: Vec<Term>,
    /// The other conjuncts, ANDed (`None`: the terms are the whole filter).
    rest: Option<Expr>,
}

/// What the raw terms say about a row.
pub enum Verdict {
    /// Some term is FALSE or NULL: the filter cannot pass.
    Drop,
    /// Every term is TRUE: `rest` decides.
    Terms,
    /// A term could not be checked raw: evaluate the whole filter.
    Undecided,
}

impl RawFilter {
    /// Splits `filter` over a table of `width` stored columns; `None` when
    /// no conjunct can be checked raw.
    pub fn split(filter: &Expr, width: usize) -> Option<RawFilter> {
        let mut conjuncts = Vec::new();
        flatten_and(filter, &mut conjuncts);
        let mut terms = Vec::new();
        let mut rest: Option<Expr> = None;
        for c in conjuncts {
            match term_of(c).filter(|t| t.column < width) {
                Some(t) => terms.push(t),
                None => {
                    rest = Some(match rest {
                        None => c.clone(),
                        Some(r) => Expr::And(Box::new(r), Box::new(c.clone())),
                    })
                }
            }
        }
        if terms.is_empty() {
            return None;
        }
        Some(RawFilter { terms, rest })
    }

    /// The conjuncts the terms do not cover.
    pub fn rest(&self) -> Option<&Expr> {
        self.rest.as_ref()
    }

    /// Checks the terms on an encoded row.
    pub fn check(&self, bytes: &[u8]) -> Result<Verdict> {
        for t in &self.terms {
            let v = match row::raw_column(bytes, t.column)? {
                RawColumn::Null => return Ok(Verdict::Drop),
                RawColumn::Int(v) => v,
                RawColumn::Other => return Ok(Verdict::Undecided),
            };
            let ord = v.cmp(&t.value);
            let holds = match t.op {
                BinaryOp::Eq => ord == Ordering::Equal,
                BinaryOp::NotEq => ord != Ordering::Equal,
                BinaryOp::Lt => ord == Ordering::Less,
                BinaryOp::LtEq => ord != Ordering::Greater,
                BinaryOp::Gt => ord == Ordering::Greater,
                BinaryOp::GtEq => ord != Ordering::Less,
                _ => return Ok(Verdict::Undecided),
            };
            if !holds {
                return Ok(Verdict::Drop);
            }
        }
        Ok(Verdict::Terms)
    }
}

fn flatten_and<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::And(l, r) => {
            flatten_and(l, out);
            flatten_and(r, out);
        }
        other => out.push(other),
    }
}

fn int_literal(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(Value::Int2(v)) => Some(i64::from(*v)),
        Expr::Literal(Value::Int4(v)) => Some(i64::from(*v)),
        Expr::Literal(Value::Int8(v)) => Some(*v),
        _ => None,
    }
}

/// `op` with its operands swapped (`5 < c` is `c > 5`).
fn flipped(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::NotEq => BinaryOp::NotEq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    })
}

fn term_of(e: &Expr) -> Option<Term> {
    let Expr::Binary(op, l, r) = e else {
        return None;
    };
    flipped(*op)?;
    match (l.as_ref(), r.as_ref()) {
        (Expr::Column(c), lit) => Some(Term {
            column: *c,
            op: *op,
            value: int_literal(lit)?,
        }),
        (lit, Expr::Column(c)) => Some(Term {
            column: *c,
            op: flipped(*op)?,
            value: int_literal(lit)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::row::encode_row;

    fn cmp(op: BinaryOp, l: Expr, r: Expr) -> Expr {
        Expr::Binary(op, Box::new(l), Box::new(r))
    }

    #[test]
    fn terms_and_rest() {
        let f = Expr::And(
            Box::new(cmp(
                BinaryOp::Lt,
                Expr::Literal(Value::Int4(3)),
                Expr::Column(1),
            )),
            Box::new(Expr::IsNull(Box::new(Expr::Column(2)))),
        );
        let raw = RawFilter::split(&f, 3);
        assert!(raw.as_ref().is_some_and(|r| r.rest().is_some()));
        let Some(raw) = raw else { return };
        let row = |x: Value| encode_row(&[Value::Text("a".into()), x, Value::Null]);
        assert!(matches!(
            raw.check(&row(Value::Int8(4))),
            Ok(Verdict::Terms)
        ));
        assert!(matches!(raw.check(&row(Value::Int2(3))), Ok(Verdict::Drop)));
        assert!(matches!(raw.check(&row(Value::Null)), Ok(Verdict::Drop)));
        assert!(matches!(
            raw.check(&row(Value::Float8(9.0))),
            Ok(Verdict::Undecided)
        ));
        // A column past the stored width is never a raw term.
        assert!(RawFilter::split(
            &cmp(BinaryOp::Eq, Expr::Column(5), Expr::Literal(Value::Int4(1))),
            3
        )
        .is_none());
    }
}
