//! Built-in scalar functions (string, math, date/time, JSON, misc).
//!
//! Functions that need the session (now(), current_user, nextval, ...) are
//! evaluated by the executor; everything here is pure.

pub mod pattern;

use crate::error::{Error, Result};
use crate::types::{DataType, Value};
use crate::SqlState;

/// The return type of `name(args...)`, or `42883` when there is no such function.
pub fn return_type(name: &str, args: &[DataType]) -> Result<DataType> {
    match name {
        "lower" | "upper" => Ok(DataType::Text),
        "length" => Ok(DataType::Int4),
        "abs" if !args.is_empty() => Ok(args[0].clone()),
        _ => Err(Error::new(SqlState::UNDEFINED_FUNCTION, format!("function {name} does not exist"))),
    }
}

/// Calls a pure function. NULL arguments are passed through: most functions
/// are strict and return NULL themselves (`concat`, `coalesce`-likes are not).
pub fn call(name: &str, args: &[Value]) -> Result<Value> {
    if args.iter().any(Value::is_null) && name != "concat" {
        return Ok(Value::Null);
    }
    match (name, args) {
        ("lower", [Value::Text(s)]) => Ok(Value::Text(s.to_lowercase())),
        ("upper", [Value::Text(s)]) => Ok(Value::Text(s.to_uppercase())),
        ("length", [Value::Text(s)]) => Ok(Value::Int4(s.chars().count() as i32)),
        _ => Err(Error::new(SqlState::UNDEFINED_FUNCTION, format!("function {name} does not exist"))),
    }
}

/// Whether a function is strict (NULL in, NULL out without being called).
pub fn is_strict(name: &str) -> bool {
    !matches!(name, "concat" | "concat_ws" | "format" | "coalesce" | "greatest" | "least" | "num_nulls" | "num_nonnulls")
}
