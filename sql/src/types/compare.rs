//! Ordering and equality of values.
//!
//! `compare` is SQL comparison of two non-NULL values: it accepts values of
//! different but comparable types (integers of any width against numeric
//! and floats, date against timestamp, text against varchar — all `Text`
//! here) and fails with `42883` "operator does not exist" otherwise, as
//! PostgreSQL does when no `=` operator exists for the pair. Text compares
//! bytewise (C collation). Floats follow PostgreSQL, not IEEE: NaN equals
//! NaN and is greater than every other number, and -0 equals 0.
//!
//! `sort_cmp` is the total order ORDER BY, DISTINCT and GROUP BY rely on:
//! it never fails (incomparable values fall back to an order by type, then
//! text) and puts NULL last.

use std::cmp::Ordering;

use rust_decimal::Decimal;

use super::{json, oid, DataType, Value};
use crate::error::{Error, Result};
use crate::SqlState;

/// Compares two non-NULL values of comparable types.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    compare_with(a, b, "=")
}

/// `42883` "operator does not exist: integer = text".
pub fn no_operator(a: &Value, b: &Value, op: &str) -> Error {
    Error::new(
        SqlState::UNDEFINED_FUNCTION,
        format!(
            "operator does not exist: {} {op} {}",
            oid::type_name(&a.natural_type()),
            oid::type_name(&b.natural_type())
        ),
    )
    .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

/// As `compare`, naming `op` in the error.
pub fn compare_with(a: &Value, b: &Value, op: &str) -> Result<Ordering> {
    use Value::*;
    Ok(match (a, b) {
        // Hot paths first: same-width integers (keys, counters).
        (Int4(x), Int4(y)) => x.cmp(y),
        (Int8(x), Int8(y)) => x.cmp(y),
        (Bool(x), Bool(y)) => x.cmp(y),
        (Text(x), Text(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bytea(x), Bytea(y)) => x.cmp(y),
        (Uuid(x), Uuid(y)) => x.cmp(y),
        (PgLsn(x), PgLsn(y)) => x.cmp(y),
        (Time(x), Time(y)) => x.cmp(y),
        (Interval(x), Interval(y)) => x.cmp_key().cmp(&y.cmp_key()),
        (Jsonb(x), Jsonb(y)) => jsonb_cmp(x, y),
        (Array(x), Array(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                let o = match (p.is_null(), q.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ => compare_with(p, q, op)?,
                };
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            x.len().cmp(&y.len())
        }
        _ => {
            if let Some((x, y)) = datetime_pair(a, b) {
                return Ok(x.cmp(&y));
            }
            if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
                return Ok(num_cmp(&x, &y));
            }
            return Err(no_operator(a, b, op));
        }
    })
}

/// A number in the widest form needed to compare it.
#[derive(Debug, Clone, Copy)]
pub enum Num {
    Int(i64),
    Dec(Decimal),
    Float(f64),
}

/// The numeric view of integer, oid, numeric and float values.
pub fn as_num(v: &Value) -> Option<Num> {
    Some(match v {
        Value::Int2(x) => Num::Int(*x as i64),
        Value::Int4(x) => Num::Int(*x as i64),
        Value::Int8(x) => Num::Int(*x),
        Value::Oid(x) => Num::Int(*x as i64),
        Value::Numeric(d) => Num::Dec(*d),
        Value::Float4(f) => Num::Float(*f as f64),
        Value::Float8(f) => Num::Float(*f),
        _ => return None,
    })
}

/// PostgreSQL float ordering: NaN is equal to NaN and above everything.
pub fn float_cmp(x: f64, y: f64) -> Ordering {
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
    }
}

fn num_cmp(x: &Num, y: &Num) -> Ordering {
    match (x, y) {
        (Num::Int(a), Num::Int(b)) => a.cmp(b),
        (Num::Float(a), Num::Float(b)) => float_cmp(*a, *b),
        (Num::Float(a), other) | (other, Num::Float(a)) => {
            let o = match other {
                Num::Int(i) => *i as f64,
                Num::Dec(d) => super::numeric::to_f64(d),
                Num::Float(f) => *f,
            };
            let ord = float_cmp(*a, o);
            if matches!(x, Num::Float(_)) {
                ord
            } else {
                ord.reverse()
            }
        }
        (Num::Dec(a), Num::Dec(b)) => a.cmp(b),
        (Num::Dec(a), Num::Int(b)) => a.cmp(&Decimal::from(*b)),
        (Num::Int(a), Num::Dec(b)) => Decimal::from(*a).cmp(b),
    }
}

/// Dates, timestamps and timestamptz on one axis (timestamptz as UTC).
fn datetime_key(v: &Value) -> Option<chrono::NaiveDateTime> {
    match v {
        Value::Date(d) => Some(d.and_time(chrono::NaiveTime::MIN)),
        Value::Timestamp(t) => Some(*t),
        Value::TimestampTz(t) => Some(t.naive_utc()),
        _ => None,
    }
}

/// Two date/time values on one axis. When exactly one is a timestamptz,
/// the other (a date or timestamp) is read as local time in the session's
/// zone, as PostgreSQL casts it before comparing or subtracting.
pub(crate) fn datetime_pair(
    a: &Value,
    b: &Value,
) -> Option<(chrono::NaiveDateTime, chrono::NaiveDateTime)> {
    let (x, y) = (datetime_key(a)?, datetime_key(b)?);
    let tz = |v: &Value| matches!(v, Value::TimestampTz(_));
    let zone = super::zone::current();
    Some(match (tz(a), tz(b)) {
        (true, false) => (x, zone.to_utc(&y)?),
        (false, true) => (zone.to_utc(&x)?, y),
        _ => (x, y),
    })
}

/// jsonb ordering: Object > Array > Boolean > Number > String > Null;
/// containers by size first, then member by member.
pub fn jsonb_cmp(a: &serde_json::Value, b: &serde_json::Value) -> Ordering {
    use serde_json::Value as J;
    let rank = |v: &J| match v {
        J::Null => 0,
        J::String(_) => 1,
        J::Number(_) => 2,
        J::Bool(_) => 3,
        J::Array(_) => 4,
        J::Object(_) => 5,
    };
    match (a, b) {
        (J::String(x), J::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (J::Number(x), J::Number(y)) => {
            let dx = x.to_string().parse::<Decimal>().ok();
            let dy = y.to_string().parse::<Decimal>().ok();
            match (dx, dy) {
                (Some(p), Some(q)) => p.cmp(&q),
                _ => float_cmp(
                    x.as_f64().unwrap_or(f64::NAN),
                    y.as_f64().unwrap_or(f64::NAN),
                ),
            }
        }
        (J::Bool(x), J::Bool(y)) => x.cmp(y),
        (J::Array(x), J::Array(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|(p, q)| jsonb_cmp(p, q))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        (J::Object(x), J::Object(y)) => x.len().cmp(&y.len()).then_with(|| {
            x.iter()
                .zip(y)
                .map(|((kx, vx), (ky, vy))| json::key_cmp(kx, ky).then_with(|| jsonb_cmp(vx, vy)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        }),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v.natural_type() {
        DataType::Bool => 1,
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Numeric(_)
        | DataType::Float4
        | DataType::Float8
        | DataType::Oid => 2,
        DataType::Text => 3,
        DataType::Bytea => 4,
        DataType::Date | DataType::Timestamp | DataType::TimestampTz => 5,
        DataType::Time => 6,
        DataType::Interval => 7,
        DataType::Uuid => 8,
        DataType::Json => 9,
        DataType::Jsonb => 10,
        DataType::Array(_) => 11,
        _ => 12,
    }
}

/// The total order used by ORDER BY, DISTINCT and GROUP BY: NULL sorts last
/// (greatest), NaN greater than all numbers.
pub fn sort_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        (Value::Json(x), Value::Json(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| sort_cmp(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => compare(a, b).unwrap_or_else(|_| {
            type_rank(a)
                .cmp(&type_rank(b))
                .then_with(|| super::text::format(a).cmp(&super::text::format(b)))
        }),
    }
}

/// A byte key for hashing in GROUP BY / DISTINCT / hash joins: values
/// that `compare` finds equal get equal keys (`1.0` and `1.00`, `-0` and
/// `0`, NaN and NaN, `1 mon` and `30 days`, a date and the timestamp at its
/// midnight, integers of any width and integral numerics). NULL has its
/// own key, so callers that need SQL's "NULLs are distinct" must check.
pub fn group_key(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    push_key(v, &mut out);
    out
}

fn push_key(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.push(0),
        Value::Bool(b) => out.extend([1, *b as u8]),
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Oid(_) | Value::Numeric(_) => {
            let d = match as_num(v) {
                Some(Num::Int(i)) => Decimal::from(i),
                Some(Num::Dec(d)) => d,
                _ => Decimal::ZERO,
            };
            out.push(2);
            out.extend(d.normalize().to_string().as_bytes());
        }
        Value::Float4(_) | Value::Float8(_) => {
            let f = super::cast::as_f64(v);
            // An integral float keys like the equal integer/numeric.
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
                out.push(2);
                out.extend(Decimal::from(f as i64).to_string().as_bytes());
            } else {
                let bits = if f.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    f.to_bits()
                };
                out.push(3);
                out.extend(bits.to_be_bytes());
            }
        }
        Value::Text(s) => {
            out.push(4);
            out.extend(s.as_bytes());
        }
        Value::Bytea(b) => {
            out.push(5);
            out.extend(b);
        }
        Value::Date(_) | Value::Timestamp(_) | Value::TimestampTz(_) => {
            let t = datetime_key(v).unwrap_or_default();
            out.push(6);
            out.extend(t.and_utc().timestamp_micros().to_be_bytes());
        }
        Value::Time(t) => {
            out.push(7);
            out.extend(super::text::format(&Value::Time(*t)).as_bytes());
        }
        Value::Interval(i) => {
            out.push(8);
            out.extend(i.cmp_key().to_be_bytes());
        }
        Value::Uuid(u) => {
            out.push(9);
            out.extend(u.as_bytes());
        }
        Value::PgLsn(x) => {
            out.push(13);
            out.extend(x.to_be_bytes());
        }
        Value::Json(s) => {
            out.push(10);
            out.extend(s.as_bytes());
        }
        Value::Jsonb(j) => {
            out.push(11);
            out.extend(json::format_jsonb(j).as_bytes());
        }
        Value::Array(items) => {
            out.push(12);
            out.extend((items.len() as u32).to_be_bytes());
            for item in items {
                let k = group_key(item);
                out.extend((k.len() as u32).to_be_bytes());
                out.extend(k);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::parse;

    #[test]
    fn cross_type_numbers() {
        assert_eq!(
            compare(&Value::Int4(1), &Value::Int8(2)).ok(),
            Some(Ordering::Less)
        );
        let d = parse("1.0", &DataType::Numeric(None)).unwrap_or(Value::Null);
        assert_eq!(compare(&Value::Int2(1), &d).ok(), Some(Ordering::Equal));
        assert_eq!(
            compare(&Value::Float8(f64::NAN), &Value::Float8(1e300)).ok(),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare(&Value::Float8(f64::NAN), &Value::Float8(f64::NAN)).ok(),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(&Value::Float8(-0.0), &Value::Int4(0)).ok(),
            Some(Ordering::Equal)
        );
        let e = compare(&Value::Int4(1), &Value::Text("1".into())).map_err(|e| e.message());
        assert_eq!(
            e.err().as_deref(),
            Some("operator does not exist: integer = text")
        );
    }

    #[test]
    fn group_keys_follow_equality() {
        let n = |s: &str| parse(s, &DataType::Numeric(None)).unwrap_or(Value::Null);
        assert_eq!(group_key(&n("1.0")), group_key(&n("1.00")));
        assert_eq!(group_key(&n("1.0")), group_key(&Value::Int8(1)));
        assert_eq!(
            group_key(&Value::Float8(-0.0)),
            group_key(&Value::Float8(0.0))
        );
        assert_eq!(
            group_key(&Value::Float8(f64::NAN)),
            group_key(&Value::Float8(-f64::NAN))
        );
        let iv = |s: &str| parse(s, &DataType::Interval).unwrap_or(Value::Null);
        assert_eq!(group_key(&iv("1 mon")), group_key(&iv("30 days")));
        assert_ne!(
            group_key(&Value::Text("1".into())),
            group_key(&Value::Int4(1))
        );
        assert_ne!(
            group_key(&Value::Array(vec![Value::Null])),
            group_key(&Value::Array(vec![]))
        );
    }

    #[test]
    fn dates_text_and_nulls() {
        let d = parse("2024-01-31", &DataType::Date).unwrap_or(Value::Null);
        let t = parse("2024-01-31 00:00:01", &DataType::Timestamp).unwrap_or(Value::Null);
        assert_eq!(compare(&d, &t).ok(), Some(Ordering::Less));
        assert_eq!(
            compare(&Value::Text("B".into()), &Value::Text("a".into())).ok(),
            Some(Ordering::Less)
        );
        assert_eq!(sort_cmp(&Value::Null, &Value::Int4(5)), Ordering::Greater);
        assert_eq!(
            sort_cmp(&Value::Int4(1), &Value::Text("x".into())),
            Ordering::Less
        );
        let a = Value::Array(vec![Value::Int4(1), Value::Null]);
        let b = Value::Array(vec![Value::Int4(1), Value::Int4(9)]);
        assert_eq!(compare(&a, &b).ok(), Some(Ordering::Greater));
    }
}
