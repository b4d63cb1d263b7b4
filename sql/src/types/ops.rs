//! Operators: arithmetic, concatenation, JSON access, pattern matching.

use super::{DataType, Value};
use crate::error::{Error, Result};

/// A binary operator, after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// `->`
    JsonGet,
    /// `->>`
    JsonGetText,
    /// `#>`
    JsonPath,
    /// `#>>`
    JsonPathText,
    /// `@>`
    Contains,
    /// `<@`
    ContainedBy,
    /// `?`
    JsonHasKey,
    /// `&&`
    Overlaps,
    /// `~`, `~*`, `!~`, `!~*`
    RegexMatch,
    RegexIMatch,
    RegexNotMatch,
    RegexNotIMatch,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    BitNot,
    /// `|/` square root, `@` absolute value
    Sqrt,
    Abs,
}

/// The result type of `l op r`, or `42883` when no such operator exists.
pub fn binary_op_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType> {
    use BinaryOp::*;
    match op {
        Eq | NotEq | Lt | LtEq | Gt | GtEq => Ok(DataType::Bool),
        Concat => Ok(DataType::Text),
        _ if l == r => Ok(l.clone()),
        _ => Err(Error::new(
            crate::SqlState::UNDEFINED_FUNCTION,
            format!("operator does not exist: {l:?} {op:?} {r:?}"),
        )),
    }
}

/// Evaluates `l op r` for non-NULL operands (NULL handling is the caller's).
pub fn binary_op(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    use BinaryOp::*;
    match (op, l, r) {
        (Add, Value::Int4(a), Value::Int4(b)) => a
            .checked_add(*b)
            .map(Value::Int4)
            .ok_or_else(|| Error::out_of_range("integer")),
        (Sub, Value::Int4(a), Value::Int4(b)) => a
            .checked_sub(*b)
            .map(Value::Int4)
            .ok_or_else(|| Error::out_of_range("integer")),
        (Eq, a, b) => Ok(Value::Bool(super::compare::compare(a, b)?.is_eq())),
        _ => Err(Error::unsupported(format!("operator {op:?}"))),
    }
}

/// The result type of `op v`.
pub fn unary_op_type(_op: UnaryOp, v: &DataType) -> Result<DataType> {
    Ok(v.clone())
}

/// Evaluates `op v` for a non-NULL operand.
pub fn unary_op(op: UnaryOp, v: &Value) -> Result<Value> {
    match (op, v) {
        (UnaryOp::Neg, Value::Int4(a)) => a
            .checked_neg()
            .map(Value::Int4)
            .ok_or_else(|| Error::out_of_range("integer")),
        (UnaryOp::Plus, v) => Ok(v.clone()),
        _ => Err(Error::unsupported(format!("operator {op:?}"))),
    }
}
