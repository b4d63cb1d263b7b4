//! Built-in scalar functions (string, math, date/time, JSON, arrays, misc).
//!
//! Functions that need the session (now(), current_user, nextval, ...) are
//! evaluated by the executor; everything here is pure.
//!
//! Each family module offers two entry points with the same shape:
//! `signature(name, arg_types) -> Option<DataType>` (the planner's view:
//! does a function of this name accept these types, and what does it
//! return) and `call(name, args) -> Option<Result<Value>>` (evaluation).
//! `None` means "not mine / no such overload"; the dispatcher here tries
//! each family and otherwise reports `42883` "function foo(integer) does
//! not exist" exactly as PostgreSQL words it. Argument types of
//! `DataType::Unknown` (untyped literals) are accepted wherever text or a
//! number is, and at run time such arguments arrive as `Value::Text`, so
//! the helpers below convert leniently.

pub mod array;
pub mod datetime;
pub mod datetime_make;
pub mod formatting;
pub mod json;
pub mod math;
pub mod pattern;
pub mod record;
pub mod srf;
pub mod string;
pub mod string_format;
pub mod to_number;

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::types::{compare, oid, text, DataType, Value};
use crate::SqlState;

/// `42883` with PostgreSQL's wording and hint.
pub fn no_function(name: &str, args: &[DataType]) -> Error {
    let list: Vec<String> = args.iter().map(oid::type_name).collect();
    Error::new(SqlState::UNDEFINED_FUNCTION, format!("function {name}({}) does not exist", list.join(", ")))
        .with_hint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

/// The return type of `name(args...)`, or `42883` when there is no such function.
pub fn return_type(name: &str, args: &[DataType]) -> Result<DataType> {
    let found = string::signature(name, args)
        .or_else(|| math::signature(name, args))
        .or_else(|| datetime::signature(name, args))
        .or_else(|| json::signature(name, args))
        .or_else(|| array::signature(name, args))
        .or_else(|| misc_signature(name, args));
    found.ok_or_else(|| no_function(name, args))
}

/// Calls a pure function. NULL arguments of strict functions yield NULL
/// without calling; non-strict ones (`concat`, `greatest`, ...) see them.
pub fn call(name: &str, args: &[Value]) -> Result<Value> {
    if is_strict(name) && args.iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let found = string::call(name, args)
        .or_else(|| math::call(name, args))
        .or_else(|| datetime::call(name, args))
        .or_else(|| json::call(name, args))
        .or_else(|| array::call(name, args))
        .or_else(|| record::call(name, args))
        .or_else(|| misc_call(name, args));
    match found {
        Some(r) => r,
        None => Err(no_function(
            name,
            &args.iter().map(Value::natural_type).collect::<Vec<_>>(),
        )),
    }
}

/// Whether a function is strict (NULL in, NULL out without being called).
pub fn is_strict(name: &str) -> bool {
    !matches!(
        name,
        "concat"
            | "concat_ws"
            | "format"
            | "coalesce"
            | "greatest"
            | "least"
            | "num_nulls"
            | "num_nonnulls"
            | "quote_nullable"
            | "json_build_object"
            | "jsonb_build_object"
            | "json_build_array"
            | "jsonb_build_array"
            | "to_json"
            | "to_jsonb"
            | "array_append"
            | "array_prepend"
            | "array_cat"
            | "array_position"
            | "array_remove"
            | "array_replace"
            | "array_to_string"
            | "string_to_array"
            | "make_interval"
            | "gen_random_uuid"
            | "random"
            | "pi"
            | "jsonb_set"
            | "rustydb_record"
            | "rustydb_record_fields"
            | "rustydb_record_json"
            | "rustydb_record_jsonb"
    )
}

/// Whether a function may return different results for the same
/// arguments (the planner must not fold it into a constant or cache it).
pub fn is_volatile(name: &str, nargs: usize) -> bool {
    matches!(name, "random" | "gen_random_uuid") || (name == "age" && nargs == 1)
}

fn misc_signature(name: &str, args: &[DataType]) -> Option<DataType> {
    match name {
        "greatest" | "least" if !args.is_empty() => args
            .iter()
            .try_fold(DataType::Unknown, |acc, t| {
                crate::types::cast::common_type(&acc, t)
            })
            .map(|t| {
                if t == DataType::Unknown {
                    DataType::Text
                } else {
                    t
                }
            }),
        "num_nulls" | "num_nonnulls" => Some(DataType::Int4),
        "gen_random_uuid" if args.is_empty() => Some(DataType::Uuid),
        "to_number" if args.len() == 2 && args.iter().all(is_text) => Some(DataType::Numeric(None)),
        _ => None,
    }
}

fn misc_call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    Some(match name {
        "greatest" => greatest_least(true, args),
        "least" => greatest_least(false, args),
        "num_nulls" => Ok(Value::Int4(
            args.iter().filter(|v| v.is_null()).count() as i32
        )),
        "num_nonnulls" => Ok(Value::Int4(
            args.iter().filter(|v| !v.is_null()).count() as i32
        )),
        "gen_random_uuid" if args.is_empty() => Ok(Value::Uuid(uuid::Uuid::new_v4())),
        "to_number" if args.len() == 2 => {
            to_number::to_number(&text_arg(&args[0]), &text_arg(&args[1]))
        }
        _ => return None,
    })
}

/// GREATEST / LEAST: NULLs are ignored; all NULL gives NULL.
pub fn greatest_least(is_greatest: bool, args: &[Value]) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for v in args.iter().filter(|v| !v.is_null()) {
        best = Some(match best {
            None => v,
            Some(b) => {
                let o = compare::compare(v, b)?;
                if (is_greatest && o.is_gt()) || (!is_greatest && o.is_lt()) {
                    v
                } else {
                    b
                }
            }
        });
    }
    Ok(best.cloned().unwrap_or(Value::Null))
}

// ---- argument helpers shared by the family modules ----

/// A type usable where text is expected (string types and untyped literals).
pub(crate) fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Text
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Name
            | DataType::Unknown
            | DataType::InternalChar
    )
}

/// A type usable where an integer is expected.
pub(crate) fn is_int(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Int2 | DataType::Int4 | DataType::Int8 | DataType::Unknown
    )
}

/// A type usable where a number is expected.
pub(crate) fn is_num(t: &DataType) -> bool {
    is_int(t)
        || matches!(
            t,
            DataType::Numeric(_) | DataType::Float4 | DataType::Float8
        )
}

/// Any value as text (its output form).
pub(crate) fn text_arg(v: &Value) -> String {
    match v {
        Value::Text(s) => s.clone(),
        other => text::format(other),
    }
}

/// An integer argument (numeric and float round; text parses).
pub(crate) fn int_arg(v: &Value) -> Result<i64> {
    match v {
        Value::Int2(x) => Ok(*x as i64),
        Value::Int4(x) => Ok(*x as i64),
        Value::Int8(x) => Ok(*x),
        Value::Text(s) => text::parse_int(s, i64::MIN, i64::MAX, "bigint"),
        other => match crate::types::cast::cast(other.clone(), &DataType::Int8)? {
            Value::Int8(x) => Ok(x),
            _ => Err(Error::invalid_text("bigint", &text::format(other))),
        },
    }
}

/// An int4 argument with the int4 range check.
pub(crate) fn i32_arg(v: &Value) -> Result<i32> {
    i32::try_from(int_arg(v)?).map_err(|_| Error::out_of_range("integer"))
}

/// A float argument.
pub(crate) fn f64_arg(v: &Value) -> Result<f64> {
    match v {
        Value::Text(s) => crate::types::numeric::parse_f64(s, "double precision"),
        other if compare::as_num(other).is_some() => Ok(crate::types::cast::as_f64(other)),
        other => Err(Error::invalid_text(
            "double precision",
            &text::format(other),
        )),
    }
}

/// A numeric argument.
pub(crate) fn dec_arg(v: &Value) -> Result<Decimal> {
    match v {
        Value::Text(s) => crate::types::numeric::parse_numeric(s),
        Value::Numeric(d) => Ok(*d),
        other => match crate::types::cast::cast(other.clone(), &DataType::Numeric(None))? {
            Value::Numeric(d) => Ok(d),
            _ => Err(Error::invalid_text("numeric", &text::format(other))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_and_errors() {
        let e = return_type("nosuch", &[DataType::Int4]).map_err(|e| e.message());
        assert_eq!(
            e.err().as_deref(),
            Some("function nosuch(integer) does not exist")
        );
        let e = return_type("length", &[DataType::Int4]).map_err(|e| e.message());
        assert_eq!(
            e.err().as_deref(),
            Some("function length(integer) does not exist")
        );
        assert_eq!(call("upper", &[Value::Null]).ok(), Some(Value::Null));
        let g = greatest_least(true, &[Value::Int4(1), Value::Null, Value::Int8(3)]);
        assert_eq!(g.ok(), Some(Value::Int8(3)));
        assert_eq!(
            call("num_nulls", &[Value::Null, Value::Int4(1)]).ok(),
            Some(Value::Int4(1))
        );
        assert_eq!(
            return_type("greatest", &[DataType::Int4, DataType::Numeric(None)]).ok(),
            Some(DataType::Numeric(None))
        );
    }
}
