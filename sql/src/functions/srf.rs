//! Set-returning functions: generate_series, unnest, jsonb_array_elements...

use crate::error::{Error, Result};
use crate::types::ops::{binary_op, BinaryOp};
use crate::types::{cast, compare, DataType, Value};
use crate::SqlState;

/// The most rows one call may produce.
const MAX_ROWS: usize = 10_000_000;

/// Calls a set-returning function, returning its rows (one value each).
pub fn call(name: &str, args: &[Value]) -> Result<Vec<Value>> {
    if args.iter().any(Value::is_null) {
        return Ok(vec![]);
    }
    match (name, args) {
        ("generate_series", [start, stop]) => series(start, stop, &step_one(start)),
        // Dates run as timestamptz, the candidate PostgreSQL picks.
        ("generate_series", [start @ Value::Date(_), stop, step]) => series(
            &cast::cast(start.clone(), &DataType::TimestampTz)?,
            &cast::cast(stop.clone(), &DataType::TimestampTz)?,
            step,
        ),
        ("generate_series", [start, stop, step]) => series(start, stop, step),
        ("unnest", [Value::Array(items)]) => Ok(items.clone()),
        // No table is partitioned: a relation's only ancestor is itself.
        ("pg_partition_ancestors", [v]) => match v {
            Value::Text(s) => Ok(s
                .trim()
                .parse::<u32>()
                .map(Value::Oid)
                .into_iter()
                .collect()),
            other => Ok(vec![cast::cast(other.clone(), &DataType::Oid)?]),
        },
        ("generate_subscripts", [Value::Array(items), _]) => {
            Ok((1..=items.len() as i32).map(Value::Int4).collect())
        }
        (
            "jsonb_array_elements"
            | "json_array_elements"
            | "jsonb_array_elements_text"
            | "json_array_elements_text",
            [v],
        ) => {
            let json = json_of(v)?;
            let serde_json::Value::Array(items) = json else {
                return Err(Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "cannot extract elements from an object",
                ));
            };
            let as_text = name.ends_with("_text");
            let binary = name.starts_with("jsonb");
            Ok(items
                .into_iter()
                .map(|i| element(i, as_text, binary))
                .collect())
        }
        (
            "jsonb_each.key" | "json_each.key" | "jsonb_each_text.key" | "json_each_text.key",
            [v],
        ) => Ok(object_of(name, v)?
            .into_iter()
            .map(|(k, _)| Value::Text(k))
            .collect()),
        (
            "jsonb_each.value"
            | "json_each.value"
            | "jsonb_each_text.value"
            | "json_each_text.value",
            [v],
        ) => {
            let as_text = name.contains("_text");
            let binary = name.starts_with("jsonb");
            Ok(object_of(name, v)?
                .into_iter()
                .map(|(_, j)| element(j, as_text, binary))
                .collect())
        }
        (
            "jsonb_each.record"
            | "json_each.record"
            | "jsonb_each_text.record"
            | "json_each_text.record",
            [v],
        ) => {
            let as_text = name.contains("_text");
            let binary = name.starts_with("jsonb");
            Ok(object_of(name, v)?
                .into_iter()
                .map(|(k, j)| {
                    let value = element(j, as_text, binary);
                    Value::Text(super::record::record_text(&[Value::Text(k), value]))
                })
                .collect())
        }
        ("jsonb_object_keys" | "json_object_keys", [v]) => match json_of(v)? {
            serde_json::Value::Object(m) => Ok(m.keys().map(|k| Value::Text(k.clone())).collect()),
            _ => Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot call json_object_keys on a non-object",
            )),
        },
        ("regexp_matches", [Value::Text(s), Value::Text(p)]) => {
            super::string_format::regexp_matches(s, p, None)
        }
        ("regexp_matches", [Value::Text(s), Value::Text(p), Value::Text(f)]) => {
            super::string_format::regexp_matches(s, p, Some(f))
        }
        ("regexp_split_to_table", [Value::Text(s), Value::Text(p)]) => {
            let re = regex_lite(p)?;
            Ok(re.split(s).map(|x| Value::Text(x.to_string())).collect())
        }
        _ => Err(Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("function {name} with these arguments does not exist"),
        )),
    }
}

/// One element of a JSON array or object as the SQL value the `_text`,
/// jsonb or json variant returns (`_text`: strings unquoted, JSON null as
/// SQL NULL).
fn element(j: serde_json::Value, as_text: bool, binary: bool) -> Value {
    match (as_text, j) {
        (true, serde_json::Value::String(s)) => Value::Text(s),
        (true, serde_json::Value::Null) => Value::Null,
        (true, other) => Value::Text(other.to_string()),
        (false, other) if binary => Value::Jsonb(other),
        (false, other) => Value::Json(other.to_string()),
    }
}

/// The members of a JSON object, for the `*_each` functions (their name,
/// without the `.key`/`.value` suffix, goes into PostgreSQL's message).
fn object_of(name: &str, v: &Value) -> Result<Vec<(String, serde_json::Value)>> {
    let func = name.split('.').next().unwrap_or(name);
    match json_of(v)? {
        serde_json::Value::Object(m) => Ok(m.into_iter().collect()),
        _ => Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("cannot call {func} on a non-object"),
        )),
    }
}

fn regex_lite(p: &str) -> Result<SplitPattern> {
    Ok(SplitPattern(p.to_string()))
}

struct SplitPattern(String);

impl SplitPattern {
    fn split<'a>(&'a self, s: &'a str) -> impl Iterator<Item = &'a str> {
        // Literal patterns only, plus the common whitespace class.
        let p = self.0.as_str();
        let parts: Vec<&str> = if p == "\\s+" {
            s.split_whitespace().collect()
        } else {
            s.split(p).collect()
        };
        parts.into_iter()
    }
}

fn json_of(v: &Value) -> Result<serde_json::Value> {
    match v {
        Value::Jsonb(j) => Ok(j.clone()),
        Value::Json(s) | Value::Text(s) => serde_json::from_str(s).map_err(|_| {
            Error::new(
                SqlState::INVALID_TEXT_REPRESENTATION,
                "invalid input syntax for type json",
            )
        }),
        _ => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            "argument must be json",
        )),
    }
}

fn step_one(start: &Value) -> Value {
    match start {
        Value::Int8(_) => Value::Int8(1),
        Value::Numeric(_) => Value::Numeric(1.into()),
        _ => Value::Int4(1),
    }
}

fn series(start: &Value, stop: &Value, step: &Value) -> Result<Vec<Value>> {
    let zero = binary_op(BinaryOp::Sub, step, step)?;
    let dir = compare::compare(step, &zero)?;
    if dir.is_eq() {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "step size cannot equal zero",
        ));
    }
    let mut out = Vec::new();
    let mut cur = start.clone();
    loop {
        let c = compare::compare(&cur, stop)?;
        if (dir.is_gt() && c.is_gt()) || (dir.is_lt() && c.is_lt()) {
            break;
        }
        out.push(cur.clone());
        if out.len() > MAX_ROWS {
            return Err(Error::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                "generate_series produced too many rows",
            ));
        }
        cur = match binary_op(BinaryOp::Add, &cur, step) {
            Ok(v) => v,
            Err(_) => break,
        };
    }
    Ok(out)
}
