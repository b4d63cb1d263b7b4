//! Arithmetic on numbers and date/time values, with PostgreSQL's result
//! types and overflow rules.
//!
//! Numbers are first classified by the widest operand (`Kind`): two
//! integers compute in the wider integer type and overflow with that
//! type's message ("smallint/integer/bigint out of range"); any numeric
//! makes the operation numeric; any float makes it float (float4 only when
//! both sides are float4, as PostgreSQL resolves `int + real` to float8).
//! Date/time arithmetic follows PostgreSQL's operator table: `date ± int`,
//! `date - date`, `date/timestamp ± interval`, `timestamp - timestamp`
//! (justified into days and time), `time ± interval`, `interval * float`.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::prelude::*;
use rust_decimal::Decimal;

use super::cast::as_f64;
use super::interval::USECS_PER_DAY;
use super::{numeric, DataType, Interval, Value};
use crate::error::{Error, Result};
use crate::SqlState;

/// The arithmetic operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// The type a numeric operation computes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Int2,
    Int4,
    Int8,
    Numeric,
    Float4,
    Float8,
}

impl Kind {
    /// The kind of a numeric type (`None` for non-numbers).
    pub fn of_type(t: &DataType) -> Option<Kind> {
        Some(match t {
            DataType::Int2 => Kind::Int2,
            DataType::Int4 => Kind::Int4,
            DataType::Int8 => Kind::Int8,
            DataType::Numeric(_) => Kind::Numeric,
            DataType::Float4 => Kind::Float4,
            DataType::Float8 => Kind::Float8,
            _ => return None,
        })
    }

    /// The kind of a value.
    pub fn of_value(v: &Value) -> Option<Kind> {
        Kind::of_type(&v.natural_type())
    }

    /// The data type a kind stands for.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Int2 => DataType::Int2,
            Kind::Int4 => DataType::Int4,
            Kind::Int8 => DataType::Int8,
            Kind::Numeric => DataType::Numeric(None),
            Kind::Float4 => DataType::Float4,
            Kind::Float8 => DataType::Float8,
        }
    }

    /// The kind `a op b` computes in.
    pub fn combine(a: Kind, b: Kind) -> Kind {
        match (a, b) {
            (Kind::Float4, Kind::Float4) => Kind::Float4,
            (x, y) if x >= Kind::Float4 || y >= Kind::Float4 => Kind::Float8,
            (x, y) => x.max(y),
        }
    }

    fn int_name(self) -> &'static str {
        match self {
            Kind::Int2 => "smallint",
            Kind::Int4 => "integer",
            _ => "bigint",
        }
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(x) => Some(*x as i64),
        Value::Int4(x) => Some(*x as i64),
        Value::Int8(x) => Some(*x),
        Value::Oid(x) => Some(*x as i64),
        _ => None,
    }
}

/// A numeric value as Decimal (integers and numerics only).
pub fn as_decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Numeric(d) => Some(*d),
        other => as_i64(other).map(Decimal::from),
    }
}

fn float_overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value out of range: overflow",
    )
}

/// Checks a float result the way PostgreSQL's `float_overflow_error` does:
/// infinity out of finite inputs is an overflow.
fn check_float(r: f64, a: f64, b: f64) -> Result<f64> {
    if r.is_infinite() && a.is_finite() && b.is_finite() {
        return Err(float_overflow());
    }
    Ok(r)
}

/// `a op b` for two numbers.
pub fn numeric_op(op: Arith, a: &Value, b: &Value) -> Result<Value> {
    let (ka, kb) = match (Kind::of_value(a), Kind::of_value(b)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(Error::internal("numeric_op on non-numbers")),
    };
    let kind = Kind::combine(ka, kb);
    match kind {
        Kind::Int2 | Kind::Int4 | Kind::Int8 => {
            let (x, y) = (as_i64(a).unwrap_or(0), as_i64(b).unwrap_or(0));
            let (min, max) = match kind {
                Kind::Int2 => (i16::MIN as i64, i16::MAX as i64),
                Kind::Int4 => (i32::MIN as i64, i32::MAX as i64),
                _ => (i64::MIN, i64::MAX),
            };
            let r = match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div if y == 0 => return Err(Error::division_by_zero()),
                Arith::Div => x.checked_div(y),
                Arith::Mod if y == 0 => return Err(Error::division_by_zero()),
                // MIN % -1 is 0 in PostgreSQL, not an overflow.
                Arith::Mod => Some(x.checked_rem(y).unwrap_or(0)),
            };
            let r = r
                .filter(|r| (min..=max).contains(r))
                .ok_or_else(|| Error::out_of_range(kind.int_name()))?;
            Ok(match kind {
                Kind::Int2 => Value::Int2(r as i16),
                Kind::Int4 => Value::Int4(r as i32),
                _ => Value::Int8(r),
            })
        }
        Kind::Numeric => {
            let (x, y) = (
                as_decimal(a).unwrap_or_default(),
                as_decimal(b).unwrap_or_default(),
            );
            let r = match op {
                Arith::Add => x.checked_add(y),
                Arith::Sub => x.checked_sub(y),
                Arith::Mul => x.checked_mul(y),
                Arith::Div => return numeric::div(&x, &y).map(Value::Numeric),
                Arith::Mod if y.is_zero() => return Err(Error::division_by_zero()),
                // The remainder shows the larger of the operands' scales.
                Arith::Mod => x.checked_rem(y).map(|mut r| {
                    r.rescale(x.scale().max(y.scale()));
                    r
                }),
            };
            r.map(Value::Numeric).ok_or_else(numeric::overflow)
        }
        Kind::Float4 | Kind::Float8 => {
            let (x, y) = (as_f64(a), as_f64(b));
            let r = match op {
                Arith::Add => x + y,
                Arith::Sub => x - y,
                Arith::Mul => x * y,
                Arith::Div if y == 0.0 => return Err(Error::division_by_zero()),
                Arith::Div => x / y,
                Arith::Mod if y == 0.0 => return Err(Error::division_by_zero()),
                Arith::Mod => x % y,
            };
            if kind == Kind::Float4 {
                let r32 = (x as f32, y as f32);
                let v = match op {
                    Arith::Add => r32.0 + r32.1,
                    Arith::Sub => r32.0 - r32.1,
                    Arith::Mul => r32.0 * r32.1,
                    Arith::Div => r32.0 / r32.1,
                    Arith::Mod => r32.0 % r32.1,
                };
                check_float(v as f64, x, y)?;
                Ok(Value::Float4(v))
            } else {
                Ok(Value::Float8(check_float(r, x, y)?))
            }
        }
    }
}

/// `a ^ b`: float8 unless numeric is involved without floats.
pub fn power(a: &Value, b: &Value) -> Result<Value> {
    let kind = match (Kind::of_value(a), Kind::of_value(b)) {
        (Some(x), Some(y)) => Kind::combine(x, y),
        _ => return Err(Error::internal("power on non-numbers")),
    };
    if kind == Kind::Numeric {
        let (x, y) = (
            as_decimal(a).unwrap_or_default(),
            as_decimal(b).unwrap_or_default(),
        );
        return numeric_power(x, y).map(Value::Numeric);
    }
    power_f64(as_f64(a), as_f64(b)).map(Value::Float8)
}

/// float8 power with PostgreSQL's errors.
pub fn power_f64(x: f64, y: f64) -> Result<f64> {
    if x == 0.0 && y < 0.0 {
        return Err(Error::new(
            SqlState("2201F"),
            "zero raised to a negative power is undefined",
        ));
    }
    if x < 0.0 && y.fract() != 0.0 && y.is_finite() {
        return Err(Error::new(
            SqlState("2201F"),
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let r = x.powf(y);
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(float_overflow());
    }
    if r == 0.0
        && x != 0.0
        && x.is_finite()
        && y.is_finite()
        && x.abs() != 1.0
        && y.abs() > 1.0
        && x.abs() > 1.0
    {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "value out of range: underflow",
        ));
    }
    Ok(r)
}

/// numeric power; the result scale follows PostgreSQL (16 significant
/// digits after the point for integral exponents, `16 - log10(result)`
/// otherwise), capped by what a Decimal holds.
pub fn numeric_power(x: Decimal, y: Decimal) -> Result<Decimal> {
    if x.is_zero() && y.is_sign_negative() {
        return Err(Error::new(
            SqlState("2201F"),
            "zero raised to a negative power is undefined",
        ));
    }
    if x.is_sign_negative() && !y.fract().is_zero() {
        return Err(Error::new(
            SqlState("2201F"),
            "a negative number raised to a non-integer power yields a complex result",
        ));
    }
    let min_scale = x.scale().max(y.scale()) as i64;
    let (r, scale) = if y.fract().is_zero() {
        let e = y.to_i64().ok_or_else(numeric::overflow)?;
        let r = if e >= 0 {
            x.checked_powi(e).ok_or_else(numeric::overflow)?
        } else {
            let p = x
                .checked_powi(e.checked_neg().ok_or_else(numeric::overflow)?)
                .ok_or_else(numeric::overflow)?;
            Decimal::ONE.checked_div(p).ok_or_else(numeric::overflow)?
        };
        (r, 16.max(min_scale))
    } else {
        let r = x.checked_powd(y).ok_or_else(numeric::overflow)?;
        let lg = numeric::to_f64(&r).abs().log10().trunc() as i64;
        (r, (16 - lg).max(min_scale))
    };
    let int_digits = r.abs().trunc().to_string().trim_start_matches('0').len() as i64;
    Ok(numeric::round_scale(r, scale.min(28 - int_digits).max(0)))
}

fn dt_overflow() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
}

/// `timestamp + interval`: months first (clamping the day to the month's
/// end), then days, then time — PostgreSQL's order.
pub fn ts_plus_interval(ts: NaiveDateTime, iv: &Interval) -> Result<NaiveDateTime> {
    // Infinity plus anything finite stays infinite.
    if super::datetime::is_infinite(&ts) {
        return Ok(ts);
    }
    let mut t = ts;
    if iv.months != 0 {
        let m = Months::new(iv.months.unsigned_abs());
        t = if iv.months > 0 {
            t.checked_add_months(m)
        } else {
            t.checked_sub_months(m)
        }
        .ok_or_else(dt_overflow)?;
    }
    t = t
        .checked_add_signed(Duration::days(iv.days as i64))
        .ok_or_else(dt_overflow)?;
    t = t
        .checked_add_signed(Duration::microseconds(iv.micros))
        .ok_or_else(dt_overflow)?;
    Ok(t)
}

/// `timestamptz + interval`: months and days move the wall clock in the
/// session's zone (so a day across a DST change is 23 or 25 hours), the
/// time part moves the instant, as in PostgreSQL.
pub fn tz_plus_interval(t: &DateTime<Utc>, iv: &Interval) -> Result<DateTime<Utc>> {
    let mut utc = t.naive_utc();
    if super::datetime::is_infinite(&utc) {
        return Ok(*t);
    }
    if iv.months != 0 || iv.days != 0 {
        let zone = super::zone::current();
        let local = ts_plus_interval(zone.to_local(&utc), &Interval::new(iv.months, iv.days, 0))?;
        utc = zone.to_utc(&local).ok_or_else(dt_overflow)?;
    }
    utc = utc
        .checked_add_signed(Duration::microseconds(iv.micros))
        .ok_or_else(dt_overflow)?;
    Ok(utc.and_utc())
}

/// `timestamp - timestamp` = interval of days and time (justified hours).
pub fn ts_minus_ts(a: NaiveDateTime, b: NaiveDateTime) -> Result<Interval> {
    let us = (a - b)
        .num_microseconds()
        .ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range"))?;
    Interval::new(0, 0, us).justify_hours()
}

fn midnight(d: NaiveDate) -> NaiveDateTime {
    d.and_time(NaiveTime::MIN)
}

fn time_plus(t: NaiveTime, micros: i64) -> NaiveTime {
    let us = micros.rem_euclid(USECS_PER_DAY);
    t.overflowing_add_signed(Duration::microseconds(us)).0
}

/// Date/time arithmetic; `None` when the operand types do not form a
/// date/time operator (the caller reports `42883`).
pub fn datetime_op(op: Arith, a: &Value, b: &Value) -> Option<Result<Value>> {
    use Value::*;
    let neg = |i: &super::Interval| i.checked_neg();
    Some(match (op, a, b) {
        (Arith::Add, Date(d), Int4(n)) | (Arith::Add, Int4(n), Date(d)) => d
            .checked_add_signed(Duration::days(*n as i64))
            .map(Date)
            .ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")),
        (Arith::Sub, Date(d), Int4(n)) => d
            .checked_sub_signed(Duration::days(*n as i64))
            .map(Date)
            .ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "date out of range")),
        (Arith::Sub, Date(x), Date(y)) => Ok(Int4((*x - *y).num_days() as i32)),
        // pg_lsn - pg_lsn: the distance in bytes (numeric, may be negative).
        (Arith::Sub, PgLsn(x), PgLsn(y)) => Ok(Numeric(rust_decimal::Decimal::from(
            i128::from(*x) - i128::from(*y),
        ))),
        (Arith::Add, PgLsn(x), n) | (Arith::Add, n, PgLsn(x)) if is_exact(n) => {
            lsn_offset(*x, n, false)
        }
        (Arith::Sub, PgLsn(x), n) if is_exact(n) => lsn_offset(*x, n, true),
        (Arith::Add, Date(d), Interval(i)) | (Arith::Add, Interval(i), Date(d)) => {
            ts_plus_interval(midnight(*d), i).map(Timestamp)
        }
        (Arith::Sub, Date(d), Interval(i)) => neg(i)
            .and_then(|n| ts_plus_interval(midnight(*d), &n))
            .map(Timestamp),
        (Arith::Add, Date(d), Time(t)) | (Arith::Add, Time(t), Date(d)) => {
            Ok(Timestamp(d.and_time(*t)))
        }
        (Arith::Add, Timestamp(t), Interval(i)) | (Arith::Add, Interval(i), Timestamp(t)) => {
            ts_plus_interval(*t, i).map(Timestamp)
        }
        (Arith::Sub, Timestamp(t), Interval(i)) => {
            neg(i).and_then(|n| ts_plus_interval(*t, &n)).map(Timestamp)
        }
        (Arith::Add, TimestampTz(t), Interval(i)) | (Arith::Add, Interval(i), TimestampTz(t)) => {
            tz_plus_interval(t, i).map(TimestampTz)
        }
        (Arith::Sub, TimestampTz(t), Interval(i)) => neg(i)
            .and_then(|n| tz_plus_interval(t, &n))
            .map(TimestampTz),
        (Arith::Sub, x, y)
            if dt_key(x).is_some()
                && dt_key(y).is_some()
                && !matches!((x, y), (Date(_), Date(_))) =>
        {
            let (a, b) = super::compare::datetime_pair(x, y)?;
            ts_minus_ts(a, b).map(Interval)
        }
        (Arith::Add, Time(t), Interval(i)) | (Arith::Add, Interval(i), Time(t)) => {
            Ok(Time(time_plus(*t, i.micros)))
        }
        (Arith::Sub, Time(t), Interval(i)) => Ok(Time(time_plus(*t, i.micros.wrapping_neg()))),
        (Arith::Sub, Time(x), Time(y)) => Ok(Interval(super::Interval::new(
            0,
            0,
            (*x - *y).num_microseconds().unwrap_or(0),
        ))),
        (Arith::Add, Interval(x), Interval(y)) => x.checked_add(y).map(Interval),
        (Arith::Sub, Interval(x), Interval(y)) => x.checked_sub(y).map(Interval),
        (Arith::Mul, Interval(i), n) | (Arith::Mul, n, Interval(i))
            if Kind::of_value(n).is_some() =>
        {
            i.mul_f64(as_f64(n)).map(Interval)
        }
        (Arith::Div, Interval(i), n) if Kind::of_value(n).is_some() => {
            i.div_f64(as_f64(n)).map(Interval)
        }
        _ => return None,
    })
}

/// Integers and numerics: what `pg_lsn + numeric` accepts.
fn is_exact(v: &Value) -> bool {
    matches!(
        v,
        Value::Int2(_) | Value::Int4(_) | Value::Int8(_) | Value::Numeric(_)
    )
}

/// `pg_lsn ± numeric` (PostgreSQL 14+): rounds to a whole byte; the result
/// must stay within 0 ..= 2^64-1.
fn lsn_offset(lsn: u64, n: &Value, negate: bool) -> Result<Value> {
    let out_of_range = || Error::new(SqlState::NUMERIC_VALUE_OUT_OF_RANGE, "pg_lsn out of range");
    let d = as_decimal(n).ok_or_else(out_of_range)?;
    let d = if negate { -d } else { d };
    let total = Decimal::from(lsn)
        .checked_add(d)
        .ok_or_else(out_of_range)?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    let v: u64 = total.try_into().map_err(|_| out_of_range())?;
    Ok(Value::PgLsn(v))
}

fn dt_key(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Date(d) => Some(midnight(*d)),
        Value::Timestamp(t) => Some(*t),
        Value::TimestampTz(t) => Some(t.naive_utc()),
        _ => None,
    }
}

/// The result type of date/time arithmetic, mirroring `datetime_op`.
pub fn datetime_op_type(op: Arith, a: &DataType, b: &DataType) -> Option<DataType> {
    use DataType::*;
    Some(match (op, a, b) {
        (Arith::Add, Date, Int4 | Int2)
        | (Arith::Add, Int4 | Int2, Date)
        | (Arith::Sub, Date, Int4 | Int2) => Date,
        (Arith::Sub, Date, Date) => Int4,
        (Arith::Sub, PgLsn, PgLsn) => Numeric(None),
        (Arith::Add, PgLsn, Int2 | Int4 | Int8 | Numeric(_))
        | (Arith::Add, Int2 | Int4 | Int8 | Numeric(_), PgLsn)
        | (Arith::Sub, PgLsn, Int2 | Int4 | Int8 | Numeric(_)) => PgLsn,
        (Arith::Add, Date, Interval)
        | (Arith::Add, Interval, Date)
        | (Arith::Sub, Date, Interval) => Timestamp,
        (Arith::Add, Date, Time) | (Arith::Add, Time, Date) => Timestamp,
        (Arith::Add, Timestamp, Interval)
        | (Arith::Add, Interval, Timestamp)
        | (Arith::Sub, Timestamp, Interval) => Timestamp,
        (Arith::Add, TimestampTz, Interval)
        | (Arith::Add, Interval, TimestampTz)
        | (Arith::Sub, TimestampTz, Interval) => TimestampTz,
        (Arith::Sub, Timestamp | Date, Timestamp) | (Arith::Sub, Timestamp, Date) => Interval,
        (Arith::Sub, TimestampTz, TimestampTz | Timestamp | Date)
        | (Arith::Sub, Timestamp | Date, TimestampTz) => Interval,
        (Arith::Add, Time, Interval)
        | (Arith::Add, Interval, Time)
        | (Arith::Sub, Time, Interval) => Time,
        (Arith::Sub, Time, Time) => Interval,
        (Arith::Add | Arith::Sub, Interval, Interval) => Interval,
        (Arith::Mul, Interval, n) | (Arith::Mul, n, Interval) if Kind::of_type(n).is_some() => {
            Interval
        }
        (Arith::Div, Interval, n) if Kind::of_type(n).is_some() => Interval,
        _ => return None,
    })
}

/// `extract`'s day-of-week helper shared with functions: Sunday = 0.
pub fn dow(d: &NaiveDate) -> u32 {
    d.weekday().num_days_from_sunday()
}
