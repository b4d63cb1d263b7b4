//! Operator resolution: which operator applies to two operand types.
//!
//! Given the declared types of `l op r`, `resolve_operands` returns the
//! type each operand must be cast to and the result type, following
//! PostgreSQL: an `unknown` literal adopts the type the operator needs
//! (`1 + '2'` is `int + int`, `ts + '1 day'` is `timestamp + interval`),
//! numbers widen to the larger kind, comparisons need both sides in one
//! category (numbers, strings, date/times, ...), and anything else is
//! `42883` "operator does not exist: integer = text".

use super::arith::{self, Arith, Kind};
use super::ops::BinaryOp;
use super::{oid, DataType};
use crate::error::{Error, Result};
use crate::SqlState;

fn no_op(op: &str, l: &DataType, r: &DataType) -> Error {
    Error::new(SqlState::UNDEFINED_FUNCTION, format!("operator does not exist: {} {op} {}", oid::type_name(l), oid::type_name(r)))
        .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

/// Comparison categories: values of one category compare with each other.
fn category(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Bool => 1,
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Numeric(_)
        | DataType::Float4
        | DataType::Float8 => 2,
        DataType::Oid | DataType::RegClass | DataType::RegType | DataType::RegProc => 2,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::InternalChar => 3,
        DataType::Bytea => 4,
        DataType::Date | DataType::Timestamp | DataType::TimestampTz => 5,
        DataType::Time => 6,
        DataType::Interval => 7,
        DataType::Uuid => 8,
        DataType::Jsonb => 9,
        DataType::PgLsn => 10,
        _ => return None,
    })
}

fn comparable(l: &DataType, r: &DataType) -> bool {
    match (l, r) {
        (DataType::Array(a), DataType::Array(b)) => comparable(a, b),
        _ => category(l).is_some() && category(l) == category(r),
    }
}

pub(crate) fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

/// For `op` applied to `l` and `r`: the types to cast the left and right
/// operands to, and the result type (`42883` when no operator exists).
pub fn resolve_operands(
    op: BinaryOp,
    l: &DataType,
    r: &DataType,
) -> Result<(DataType, DataType, DataType)> {
    use BinaryOp::*;
    use DataType as T;
    let fail = || Err(no_op(op.symbol(), l, r));
    // An unknown literal adopts the other side's type, or a type the
    // operator needs.
    let (lt, rt) = match (l, r) {
        (T::Unknown, T::Unknown) => match op {
            Concat | Eq | NotEq | Lt | LtEq | Gt | GtEq | RegexMatch | RegexIMatch
            | RegexNotMatch | RegexNotIMatch => (T::Text, T::Text),
            _ => {
                return Err(Error::new(
                    SqlState::AMBIGUOUS_FUNCTION,
                    format!("operator is not unique: unknown {} unknown", op.symbol()),
                ))
            }
        },
        // date + int, date + interval and date + time all fit: PostgreSQL
        // gives up.
        (T::Date, T::Unknown) | (T::Unknown, T::Date) if op == Add => {
            return Err(Error::new(
                SqlState::AMBIGUOUS_FUNCTION,
                format!("operator is not unique: {} + {}", oid::type_name(l), oid::type_name(r)),
            )
            .with_hint("Could not choose a best candidate operator. You might need to add explicit type casts."));
        }
        (T::Unknown, other) => (adopt(op, other, true), other.clone()),
        (other, T::Unknown) => (other.clone(), adopt(op, other, false)),
        _ => (l.clone(), r.clone()),
    };
    let result = match op {
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            if !comparable(&lt, &rt) {
                return fail();
            }
            T::Bool
        }
        Add | Sub | Mul | Div | Mod => {
            let a = op.arith().unwrap_or(Arith::Add);
            match (Kind::of_type(&lt), Kind::of_type(&rt)) {
                // There is no float `%` in PostgreSQL.
                (Some(x), Some(y)) if op == Mod && Kind::combine(x, y) >= Kind::Float4 => {
                    return fail()
                }
                (Some(x), Some(y)) => Kind::combine(x, y).data_type(),
                _ => match arith::datetime_op_type(a, &lt, &rt) {
                    Some(t) => t,
                    None if op == Sub
                        && lt == T::Jsonb
                        && (is_int(&rt) || category(&rt) == Some(3)) =>
                    {
                        T::Jsonb
                    }
                    None => return fail(),
                },
            }
        }
        Pow => match (Kind::of_type(&lt), Kind::of_type(&rt)) {
            (Some(x), Some(y)) if Kind::combine(x, y) == Kind::Numeric => T::Numeric(None),
            (Some(_), Some(_)) => T::Float8,
            _ => return fail(),
        },
        Concat => match (&lt, &rt) {
            (T::Array(a), T::Array(_)) => T::Array(a.clone()),
            (T::Array(a), _) | (_, T::Array(a)) => T::Array(a.clone()),
            (T::Jsonb, T::Jsonb) => T::Jsonb,
            (T::Bytea, T::Bytea) => T::Bytea,
            (a, b) if category(a) == Some(3) || category(b) == Some(3) => T::Text,
            _ => return fail(),
        },
        BitAnd | BitOr | BitXor => {
            if !is_int(&lt) || !is_int(&rt) {
                return fail();
            }
            Kind::combine(
                Kind::of_type(&lt).unwrap_or(Kind::Int4),
                Kind::of_type(&rt).unwrap_or(Kind::Int4),
            )
            .data_type()
        }
        ShiftLeft | ShiftRight => {
            if !is_int(&lt) || !is_int(&rt) {
                return fail();
            }
            lt.clone()
        }
        JsonGet | JsonPath => match lt {
            T::Json | T::Jsonb => lt.clone(),
            _ => return fail(),
        },
        JsonGetText | JsonPathText => match lt {
            T::Json | T::Jsonb => T::Text,
            _ => return fail(),
        },
        Contains | ContainedBy => match (&lt, &rt) {
            (T::Jsonb, T::Jsonb) => T::Bool,
            (T::Array(a), T::Array(b)) if comparable(a, b) => T::Bool,
            _ => return fail(),
        },
        Overlaps => match (&lt, &rt) {
            (T::Array(a), T::Array(b)) if comparable(a, b) => T::Bool,
            _ => return fail(),
        },
        JsonHasKey => match (&lt, category(&rt)) {
            (T::Jsonb, Some(3)) => T::Bool,
            _ => return fail(),
        },
        RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch => {
            if category(&lt) != Some(3) || category(&rt) != Some(3) {
                return fail();
            }
            T::Bool
        }
    };
    Ok((lt, rt, result))
}

/// The type an `unknown` operand takes opposite `other`.
fn adopt(op: BinaryOp, other: &DataType, unknown_is_left: bool) -> DataType {
    use BinaryOp::*;
    use DataType as T;
    match (op, other) {
        (JsonGet | JsonGetText, _) if !unknown_is_left => T::Text,
        (JsonPath | JsonPathText, _) if !unknown_is_left => T::Array(Box::new(T::Text)),
        (JsonHasKey, _) | (RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch, _) => T::Text,
        (Concat, T::Array(_) | T::Jsonb | T::Bytea) => other.clone(),
        (Concat, _) => T::Text,
        // `ts + '1 day'` is timestamp + interval, but `ts - '...'` reads the
        // literal as the same type (timestamp - timestamp), as PostgreSQL does.
        (Add, T::Timestamp | T::TimestampTz | T::Time) => T::Interval,
        (Mul | Div, T::Interval) => T::Float8,
        (ShiftLeft | ShiftRight, _) if !unknown_is_left => T::Int4,
        (_, T::Varchar(_) | T::Char(_) | T::Name) => T::Text,
        _ => other.clone(),
    }
}

/// The result type of `l op r`, or `42883` when no such operator exists.
pub fn binary_op_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType> {
    resolve_operands(op, l, r).map(|(_, _, t)| t)
}
