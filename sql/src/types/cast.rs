//! Casts: explicit (`CAST`, `::`), assignment (INSERT/UPDATE into a column)
//! and implicit (operands of operators, UNION branches).
//!
//! `cast` converts a value to a target type with PostgreSQL's semantics:
//! integer narrowing checks range (`22003` "integer out of range"), floats
//! round to the nearest integer (ties to even, like `rint`), numeric rounds
//! half away from zero and applies its typmod, anything converts to text
//! through its output function and text converts to anything through the
//! target's input function. Explicit casts to `varchar(n)`/`char(n)`
//! truncate silently; `assign` instead raises `22001` unless only spaces
//! would be cut, as PostgreSQL's assignment coercion does.
//!
//! `can_implicit` and `common_type` encode PostgreSQL's type resolution for
//! operators, CASE/COALESCE/UNION: numbers widen along int2 < int4 < int8 <
//! numeric < float4 < float8, `unknown` adopts the other side, the string
//! types unify to text and date < timestamp < timestamptz.

use chrono::{NaiveTime, Timelike};
use rust_decimal::prelude::*;

use super::{datetime, json, numeric, oid, text, DataType, Interval, Value};
use crate::error::{Error, Result};
use crate::SqlState;

fn cannot_cast(v: &Value, to: &DataType) -> Error {
    Error::new(
        SqlState::CANNOT_COERCE,
        format!(
            "cannot cast type {} to {}",
            oid::type_name(&v.natural_type()),
            oid::type_name(to)
        ),
    )
}

fn int_range(v: i64, to: &DataType) -> Result<Value> {
    match to {
        DataType::Int2 => i16::try_from(v)
            .map(Value::Int2)
            .map_err(|_| Error::out_of_range("smallint")),
        DataType::Int4 => i32::try_from(v)
            .map(Value::Int4)
            .map_err(|_| Error::out_of_range("integer")),
        _ => Ok(Value::Int8(v)),
    }
}

fn int_type_name(to: &DataType) -> &'static str {
    match to {
        DataType::Int2 => "smallint",
        DataType::Int4 => "integer",
        _ => "bigint",
    }
}

/// Float to integer: round to nearest (ties to even), range-checked.
fn float_to_int(f: f64, to: &DataType) -> Result<Value> {
    let r = f.round_ties_even();
    if !r.is_finite() || !(i64::MIN as f64..i64::MAX as f64).contains(&r) {
        return Err(Error::out_of_range(int_type_name(to)));
    }
    int_range(r as i64, to)
}

/// Numeric to integer: round half away from zero, range-checked.
fn numeric_to_int(d: &Decimal, to: &DataType) -> Result<Value> {
    let r = d.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let v = r
        .to_i64()
        .ok_or_else(|| Error::out_of_range(int_type_name(to)))?;
    int_range(v, to)
}

fn to_numeric(v: &Value) -> Option<Result<Decimal>> {
    Some(match v {
        Value::Int2(x) => Ok(Decimal::from(*x)),
        Value::Int4(x) => Ok(Decimal::from(*x)),
        Value::Int8(x) => Ok(Decimal::from(*x)),
        Value::Oid(x) => Ok(Decimal::from(*x)),
        Value::Numeric(d) => Ok(*d),
        Value::Float4(f) if f.is_finite() => numeric::parse_numeric(&format!("{f}")),
        Value::Float4(f) => numeric::from_f64(*f as f64),
        Value::Float8(f) => numeric::from_f64(*f),
        Value::Bool(b) => Ok(Decimal::from(*b as i32)),
        _ => return None,
    })
}

/// The text a value yields when cast to a string type (`true`, not `t`).
fn to_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        other => text::format(other),
    }
}

/// An explicit cast.
pub fn cast(value: Value, to: &DataType) -> Result<Value> {
    match to {
        DataType::Varchar(Some(n)) => {
            let s = string_of(value);
            return Ok(s
                .map(|s| Value::Text(truncate_chars(&s, *n as usize).to_string()))
                .unwrap_or(Value::Null));
        }
        DataType::Char(n) => {
            let s = string_of(value);
            return Ok(s
                .map(|s| Value::Text(pad(truncate_chars(&s, *n as usize), *n as usize)))
                .unwrap_or(Value::Null));
        }
        _ => {}
    }
    convert(value, to)
}

fn string_of(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Text(s) => Some(s),
        other => Some(to_text(&other)),
    }
}

fn truncate_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn pad(s: &str, n: usize) -> String {
    let len = s.chars().count();
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', n.saturating_sub(len)));
    out
}

/// The conversions shared by explicit and assignment casts.
fn convert(value: Value, to: &DataType) -> Result<Value> {
    use DataType as T;
    use Value as V;
    Ok(match (value, to) {
        (V::Null, _) => V::Null,
        (v, T::Unknown | T::Void) => v,
        (V::Text(s), T::Text | T::Varchar(_) | T::Char(_)) => V::Text(s),
        (V::Text(s), t) => text::parse(&s, t)?,
        (V::Json(s), T::Jsonb) => V::Jsonb(json::parse_jsonb(&s)?),
        (V::Jsonb(j), T::Json) => V::Json(json::format_jsonb(&j)),
        (
            V::Jsonb(j),
            t @ (T::Int2 | T::Int4 | T::Int8 | T::Numeric(_) | T::Float4 | T::Float8 | T::Bool),
        ) => jsonb_scalar(&j, t)?,
        (v, T::Text | T::Varchar(None)) => V::Text(to_text(&v)),
        (v, T::Name) => V::Text(text::truncate_bytes(&to_text(&v), 63).to_string()),
        (v, T::InternalChar) => V::Text(text::truncate_bytes(&to_text(&v), 1).to_string()),
        (v @ V::Bool(_), T::Bool) => v,
        (V::Bool(b), t @ (T::Int2 | T::Int4 | T::Int8)) => int_range(b as i64, t)?,
        (V::Int2(x), T::Bool) => V::Bool(x != 0),
        (V::Int4(x), T::Bool) => V::Bool(x != 0),
        (V::Int8(x), T::Bool) => V::Bool(x != 0),
        (V::Int2(x), t @ (T::Int2 | T::Int4 | T::Int8)) => int_range(x as i64, t)?,
        (V::Int4(x), t @ (T::Int2 | T::Int4 | T::Int8)) => int_range(x as i64, t)?,
        (V::Int8(x), t @ (T::Int2 | T::Int4 | T::Int8)) => int_range(x, t)?,
        (V::Oid(x), t @ (T::Int4 | T::Int2)) => int_range(x as i32 as i64, t)?,
        (V::Oid(x), T::Int8) => V::Int8(x as i64),
        (V::Float4(f), t @ (T::Int2 | T::Int4 | T::Int8)) => float_to_int(f as f64, t)?,
        (V::Float8(f), t @ (T::Int2 | T::Int4 | T::Int8)) => float_to_int(f, t)?,
        (V::Numeric(d), t @ (T::Int2 | T::Int4 | T::Int8)) => numeric_to_int(&d, t)?,
        (V::Int2(x), T::Oid | T::RegClass | T::RegType | T::RegProc) => V::Oid(x as i32 as u32),
        (V::Int4(x), T::Oid | T::RegClass | T::RegType | T::RegProc) => V::Oid(x as u32),
        (V::Int8(x), T::Oid | T::RegClass | T::RegType | T::RegProc) => V::Oid(
            u32::try_from(x)
                .or_else(|_| i32::try_from(x).map(|v| v as u32))
                .map_err(|_| Error::out_of_range("OID"))?,
        ),
        (v @ V::Oid(_), T::Oid | T::RegClass | T::RegType | T::RegProc) => v,
        (V::Float8(f), T::Float4) => {
            let r = f as f32;
            if f.is_finite() && r.is_infinite() {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            if f != 0.0 && f.is_finite() && r == 0.0 {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: underflow",
                ));
            }
            V::Float4(r)
        }
        (V::Float4(f), T::Float8) => V::Float8(f as f64),
        (v @ (V::Float4(_) | V::Float8(_)), T::Numeric(tm)) => {
            let f = match v {
                V::Float4(f) => f as f64,
                V::Float8(f) => f,
                _ => 0.0,
            };
            if f.is_nan() || f.is_infinite() {
                return Err(Error::unsupported(
                    "numeric NaN and Infinity are not supported",
                ));
            }
            let d = to_numeric(&v).unwrap_or(Ok(Decimal::ZERO))?;
            numeric_typmod(d, tm)?
        }
        (v, T::Numeric(tm)) if to_numeric(&v).is_some() => {
            let d = to_numeric(&v).unwrap_or(Ok(Decimal::ZERO))?;
            numeric_typmod(d, tm)?
        }
        (v, T::Float8) if super::compare::as_num(&v).is_some() => V::Float8(as_f64(&v)),
        (v, T::Float4) if super::compare::as_num(&v).is_some() => {
            let f = as_f64(&v);
            if f.is_finite() && (f as f32).is_infinite() {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            V::Float4(f as f32)
        }
        (V::Date(d), T::Timestamp) => V::Timestamp(datetime::date_to_ts(&d)),
        (V::Date(d), T::TimestampTz) => V::TimestampTz(local_to_tz(&datetime::date_to_ts(&d))?),
        (V::Timestamp(t), T::Date) => V::Date(datetime::ts_to_date(&t)),
        (V::Timestamp(t), T::TimestampTz) => V::TimestampTz(local_to_tz(&t)?),
        (V::Timestamp(t), T::Time) => V::Time(t.time()),
        (V::TimestampTz(t), T::Date) => V::Date(datetime::ts_to_date(&tz_to_local(&t))),
        (V::TimestampTz(t), T::Timestamp) => V::Timestamp(tz_to_local(&t)),
        (V::TimestampTz(t), T::Time) => V::Time(tz_to_local(&t).time()),
        (V::Time(t), T::Interval) => {
            let us =
                t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
            V::Interval(Interval::new(0, 0, us))
        }
        (V::Interval(i), T::Time) => {
            let us = i.micros.rem_euclid(super::interval::USECS_PER_DAY);
            let t = NaiveTime::MIN + chrono::Duration::microseconds(us);
            V::Time(t)
        }
        (V::Array(items), T::Array(elem)) => V::Array(
            items
                .into_iter()
                .map(|v| cast(v, elem))
                .collect::<Result<Vec<_>>>()?,
        ),
        (V::Bytea(b), T::Bytea) => V::Bytea(b),
        (v, t) if v.natural_type() == *t => v,
        (v, t @ (T::Json | T::Jsonb)) if !matches!(v, V::Array(_)) => {
            return Err(cannot_cast(&v, t));
        }
        (v, t) => return Err(cannot_cast(&v, t)),
    })
}

fn numeric_typmod(d: Decimal, tm: &Option<(u32, u32)>) -> Result<Value> {
    Ok(Value::Numeric(match tm {
        Some((p, s)) => numeric::apply_typmod(d, *p, *s)?,
        None => d,
    }))
}

/// Any numeric value as float8.
pub fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Int2(x) => *x as f64,
        Value::Int4(x) => *x as f64,
        Value::Int8(x) => *x as f64,
        Value::Oid(x) => *x as f64,
        Value::Float4(f) => *f as f64,
        Value::Float8(f) => *f,
        Value::Numeric(d) => numeric::to_f64(d),
        _ => f64::NAN,
    }
}

/// `jsonb::int` and friends: only matching scalars convert.
fn jsonb_scalar(j: &serde_json::Value, to: &DataType) -> Result<Value> {
    let kind = json::type_of(j);
    let fail = || {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("cannot cast jsonb {kind} to type {}", oid::type_name(to)),
        )
    };
    match (j, to) {
        (serde_json::Value::Bool(b), DataType::Bool) => Ok(Value::Bool(*b)),
        (serde_json::Value::Number(n), t) if !matches!(t, DataType::Bool) => {
            let d = numeric::parse_numeric(&n.to_string())?;
            cast(Value::Numeric(d), t)
        }
        _ => Err(fail()),
    }
}

/// Assignment coercion into a column of type `to` (length checks, rounding).
pub fn assign(value: Value, to: &DataType) -> Result<Value> {
    let limit = match to {
        DataType::Varchar(Some(n)) | DataType::Char(n) => *n as usize,
        _ => return convert(value, to),
    };
    let Some(s) = string_of(value) else {
        return Ok(Value::Null);
    };
    let len = s.chars().count();
    let s = if len > limit {
        let kept = truncate_chars(&s, limit);
        // PostgreSQL drops excess trailing spaces silently.
        if s[kept.len()..].chars().any(|c| c != ' ') {
            return Err(Error::new(
                SqlState::STRING_DATA_RIGHT_TRUNCATION,
                format!("value too long for type {}", oid::type_name(to)),
            ));
        }
        kept.to_string()
    } else {
        s
    };
    Ok(Value::Text(if matches!(to, DataType::Char(_)) {
        pad(&s, limit)
    } else {
        s
    }))
}

/// Position in the numeric promotion chain.
fn num_rank(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Int2 => 1,
        DataType::Int4 => 2,
        DataType::Int8 => 3,
        DataType::Numeric(_) => 4,
        DataType::Float4 => 5,
        DataType::Float8 => 6,
        _ => return None,
    })
}

fn is_string(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Text | DataType::Varchar(_) | DataType::Char(_) | DataType::Name
    )
}

fn dt_rank(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Date => 1,
        DataType::Timestamp => 2,
        DataType::TimestampTz => 3,
        _ => return None,
    })
}

/// Whether `from` converts to `to` implicitly.
pub fn can_implicit(from: &DataType, to: &DataType) -> bool {
    if from == to || matches!(from, DataType::Unknown) {
        return true;
    }
    match (from, to) {
        (DataType::Numeric(_), DataType::Numeric(_)) => true,
        (DataType::Varchar(_), DataType::Varchar(_)) | (DataType::Char(_), DataType::Char(_)) => {
            true
        }
        (f, t) if num_rank(f).is_some() && num_rank(t).is_some() => num_rank(f) <= num_rank(t),
        (f, t) if is_string(f) && is_string(t) => {
            !matches!(t, DataType::Name | DataType::Char(_))
                || matches!(f, DataType::Text | DataType::Varchar(_))
        }
        (f, t) if dt_rank(f).is_some() && dt_rank(t).is_some() => dt_rank(f) <= dt_rank(t),
        (
            DataType::Int2 | DataType::Int4 | DataType::Int8,
            DataType::Oid | DataType::RegClass | DataType::RegType | DataType::RegProc,
        ) => true,
        (
            DataType::Oid,
            DataType::RegClass | DataType::RegType | DataType::RegProc | DataType::Int8,
        ) => true,
        (DataType::Time, DataType::Interval) => true,
        (DataType::Array(a), DataType::Array(b)) => can_implicit(a, b),
        _ => false,
    }
}

/// Whether a value of type `from` may be stored in a column of type `to`
/// (INSERT/UPDATE): implicit casts plus PostgreSQL's assignment casts —
/// numbers narrow (with a range check at run time), anything converts to
/// a string type through its output function, json and jsonb convert both
/// ways, timestamps narrow to dates and times.
pub fn can_assign(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    if can_implicit(from, to) {
        return true;
    }
    match (from, to) {
        (f, t) if num_rank(f).is_some() && num_rank(t).is_some() => true,
        (_, T::Text | T::Varchar(_) | T::Char(_) | T::Name) => true,
        (T::Json, T::Jsonb) | (T::Jsonb, T::Json) => true,
        (T::Timestamp | T::TimestampTz, T::Date | T::Time) | (T::TimestampTz, T::Timestamp) => true,
        (T::Interval, T::Time) => true,
        (T::Oid | T::RegClass | T::RegType | T::RegProc, T::Int4 | T::Int8) => true,
        (T::Array(a), T::Array(b)) => can_assign(a, b),
        _ => false,
    }
}

/// The type two operands / branches are unified to, if any.
pub fn common_type(a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType as T;
    Some(match (a, b) {
        (T::Unknown, T::Unknown) => T::Text,
        (x, T::Unknown | T::Void) | (T::Unknown | T::Void, x) => x.clone(),
        (x, y) if x == y => x.clone(),
        (T::Numeric(_), T::Numeric(_)) => T::Numeric(None),
        (T::Varchar(_), T::Varchar(_)) => T::Varchar(None),
        // char(n) of different lengths unify to unsized bpchar; text prints the same.
        (T::Char(_), T::Char(_)) => T::Text,
        (x, y) if num_rank(x).is_some() && num_rank(y).is_some() => {
            if num_rank(x) >= num_rank(y) {
                strip_typmod(x)
            } else {
                strip_typmod(y)
            }
        }
        (x, y) if is_string(x) && is_string(y) => T::Text,
        (x, y) if dt_rank(x).is_some() && dt_rank(y).is_some() => {
            if dt_rank(x) >= dt_rank(y) {
                x.clone()
            } else {
                y.clone()
            }
        }
        (T::Time, T::Interval) | (T::Interval, T::Time) => T::Interval,
        (T::Oid, T::Int2 | T::Int4 | T::Int8) | (T::Int2 | T::Int4 | T::Int8, T::Oid) => T::Oid,
        // oid = regclass (psql: `confrelid IN (SELECT ...::regclass)`).
        (T::Oid, T::RegClass | T::RegType | T::RegProc)
        | (T::RegClass | T::RegType | T::RegProc, T::Oid) => T::Oid,
        (T::Array(x), T::Array(y)) => T::Array(Box::new(common_type(x, y)?)),
        _ => return None,
    })
}

fn strip_typmod(t: &DataType) -> DataType {
    match t {
        DataType::Numeric(_) => DataType::Numeric(None),
        other => other.clone(),
    }
}

/// A timestamptz as local time in the session's zone.
fn tz_to_local(t: &chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    super::zone::current().to_local(&t.naive_utc())
}

/// Local time in the session's zone as a timestamptz.
fn local_to_tz(t: &chrono::NaiveDateTime) -> Result<chrono::DateTime<chrono::Utc>> {
    super::zone::current()
        .to_utc(t)
        .map(|u| u.and_utc())
        .ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: Value, t: DataType) -> String {
        cast(v, &t)
            .map(|v| text::format(&v))
            .unwrap_or_else(|e| format!("{}: {}", e.state(), e.message()))
    }

    fn a(v: Value, t: DataType) -> String {
        assign(v, &t)
            .map(|v| text::format(&v))
            .unwrap_or_else(|e| format!("{}: {}", e.state(), e.message()))
    }

    #[test]
    fn numbers() {
        assert_eq!(
            c(Value::Int4(70000), DataType::Int2),
            "22003: smallint out of range"
        );
        assert_eq!(
            c(Value::Int8(1 << 40), DataType::Int4),
            "22003: integer out of range"
        );
        assert_eq!(c(Value::Float8(2.5), DataType::Int4), "2");
        assert_eq!(c(Value::Float8(3.5), DataType::Int4), "4");
        assert_eq!(
            c(Value::Float8(f64::NAN), DataType::Int4),
            "22003: integer out of range"
        );
        let n = |s: &str| text::parse(s, &DataType::Numeric(None)).unwrap_or(Value::Null);
        assert_eq!(c(n("2.5"), DataType::Int4), "3");
        assert_eq!(c(n("-2.5"), DataType::Int4), "-3");
        assert_eq!(c(n("123.456"), DataType::Numeric(Some((5, 2)))), "123.46");
        assert_eq!(
            c(n("1234.5"), DataType::Numeric(Some((5, 2)))),
            "22003: numeric field overflow"
        );
        assert_eq!(c(Value::Int4(1), DataType::Numeric(Some((5, 2)))), "1.00");
        assert_eq!(c(Value::Float8(0.1), DataType::Numeric(None)), "0.1");
        assert_eq!(c(n("1.5"), DataType::Float8), "1.5");
        assert_eq!(c(Value::Bool(true), DataType::Int4), "1");
        assert_eq!(c(Value::Int4(0), DataType::Bool), "f");
        assert_eq!(
            c(Value::Float8(1e300), DataType::Float4),
            "22003: value out of range: overflow"
        );
    }

    #[test]
    fn strings() {
        assert_eq!(c(Value::Bool(true), DataType::Text), "true");
        assert_eq!(
            c(Value::Text("abcdef".into()), DataType::Varchar(Some(3))),
            "abc"
        );
        assert_eq!(c(Value::Text("ab".into()), DataType::Char(4)), "ab  ");
        assert_eq!(
            a(Value::Text("abcdef".into()), DataType::Varchar(Some(5))),
            "22001: value too long for type character varying(5)"
        );
        assert_eq!(
            a(Value::Text("abc   ".into()), DataType::Varchar(Some(5))),
            "abc  "
        );
        assert_eq!(
            a(Value::Text("abcdef".into()), DataType::Char(3)),
            "22001: value too long for type character(3)"
        );
        assert_eq!(a(Value::Text("a".into()), DataType::Char(3)), "a  ");
        assert_eq!(a(Value::Text("12".into()), DataType::Int4), "12");
        assert_eq!(a(Value::Float8(1.5), DataType::Int4), "2");
        assert_eq!(
            c(Value::Int4(5), DataType::Date),
            "42846: cannot cast type integer to date"
        );
        assert_eq!(
            c(Value::Text("{\"a\":1}".into()), DataType::Jsonb),
            "{\"a\": 1}"
        );
    }

    #[test]
    fn resolution() {
        assert_eq!(
            common_type(&DataType::Int4, &DataType::Int8),
            Some(DataType::Int8)
        );
        assert_eq!(
            common_type(&DataType::Int8, &DataType::Numeric(Some((5, 2)))),
            Some(DataType::Numeric(None))
        );
        assert_eq!(
            common_type(&DataType::Unknown, &DataType::Date),
            Some(DataType::Date)
        );
        assert_eq!(
            common_type(&DataType::Varchar(Some(3)), &DataType::Text),
            Some(DataType::Text)
        );
        assert_eq!(
            common_type(&DataType::Date, &DataType::TimestampTz),
            Some(DataType::TimestampTz)
        );
        assert_eq!(common_type(&DataType::Int4, &DataType::Text), None);
        assert!(can_implicit(&DataType::Int4, &DataType::Float8));
        assert!(!can_implicit(&DataType::Float8, &DataType::Int4));
        assert!(can_implicit(&DataType::Varchar(Some(2)), &DataType::Text));
        assert!(can_assign(&DataType::Float8, &DataType::Int4));
        assert!(can_assign(&DataType::Int4, &DataType::Varchar(Some(3))));
        assert!(!can_assign(&DataType::Text, &DataType::Int4));
        assert!(can_assign(&DataType::Unknown, &DataType::Int4));
    }
}
