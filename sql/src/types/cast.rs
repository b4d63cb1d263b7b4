//! Casts: explicit (`CAST`, `::`), assignment (INSERT/UPDATE into a column)
//! and implicit (operands of operators, UNION branches).

use super::{text, DataType, Value};
use crate::error::Result;

/// An explicit cast.
pub fn cast(value: Value, to: &DataType) -> Result<Value> {
    match (value, to) {
        (Value::Null, _) => Ok(Value::Null),
        (Value::Text(s), t) => text::parse(&s, t),
        (Value::Int4(v), DataType::Int8) => Ok(Value::Int8(v as i64)),
        (Value::Int4(v), DataType::Text) => Ok(Value::Text(v.to_string())),
        (v, _) => Ok(v),
    }
}

/// Assignment coercion into a column of type `to` (length checks, rounding).
pub fn assign(value: Value, to: &DataType) -> Result<Value> {
    cast(value, to)
}

/// Whether `from` converts to `to` implicitly.
pub fn can_implicit(from: &DataType, to: &DataType) -> bool {
    from == to || matches!(from, DataType::Unknown)
}

/// The type two operands / branches are unified to, if any.
pub fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    if a == b || matches!(b, DataType::Unknown) {
        Some(a.clone())
    } else if matches!(a, DataType::Unknown) {
        Some(b.clone())
    } else {
        None
    }
}
