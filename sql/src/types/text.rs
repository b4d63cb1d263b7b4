//! The text format: parsing input and producing PostgreSQL's exact output.

use super::{DataType, Value};
use crate::error::{Error, Result};

/// Formats a non-NULL value as PostgreSQL's text output would.
pub fn format(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Text(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Parses text input for a type (`22P02` and friends on bad input).
pub fn parse(text: &str, ty: &DataType) -> Result<Value> {
    let t = text.trim();
    match ty {
        DataType::Int4 => t
            .parse()
            .map(Value::Int4)
            .map_err(|_| Error::invalid_text("integer", text)),
        DataType::Int8 => t
            .parse()
            .map(Value::Int8)
            .map_err(|_| Error::invalid_text("bigint", text)),
        _ => Ok(Value::Text(text.to_string())),
    }
}
