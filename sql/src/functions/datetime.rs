//! Date/time functions: `date_part`/`extract`, `date_trunc`, `age`,
//! `make_*`, `justify_*`, `isfinite`, `to_timestamp(float)`; `to_char`,
//! `to_date` and `to_timestamp(text, fmt)` live in `formatting`.
//!
//! `date_part` returns double precision and `extract` returns numeric (as
//! in PostgreSQL 14+; the planner maps `EXTRACT(f FROM x)` to
//! `extract(f, x)`). A `date` argument is treated as a timestamp at
//! midnight, `timestamptz` as local time in the session's zone (fields,
//! truncation and `age` follow the wall clock there; `epoch` does not).

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use rust_decimal::Decimal;

use super::datetime_make::{self, age, make_date, make_interval, make_time};
use super::{f64_arg, formatting, is_num, is_text, text_arg};
use crate::error::{Error, Result};
use crate::types::interval::{USECS_PER_DAY, USECS_PER_HOUR, USECS_PER_MINUTE};
use crate::types::zone::{self, Zone};
use crate::types::{numeric, DataType, Interval, Value};
use crate::SqlState;

fn is_dt(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date
            | DataType::Timestamp
            | DataType::TimestampTz
            | DataType::Time
            | DataType::Interval
            | DataType::Unknown
    )
}

/// Signatures of the date/time functions.
pub fn signature(name: &str, a: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let len = a.len();
    let t = |i: usize| a.get(i).is_some_and(is_text);
    let n = |i: usize| a.get(i).is_some_and(is_num);
    Some(match name {
        "date_part" if len == 2 && t(0) && is_dt(&a[1]) => Float8,
        "extract" if len == 2 && t(0) && is_dt(&a[1]) => Numeric(None),
        "date_trunc" if (len == 2 || len == 3) && t(0) => match &a[1] {
            Timestamp => Timestamp,
            Interval => Interval,
            TimestampTz | Date | Unknown => TimestampTz,
            _ => return None,
        },
        "age"
            if len == 2
                && a.iter()
                    .all(|x| matches!(x, Timestamp | TimestampTz | Date | Unknown)) =>
        {
            Interval
        }
        "age" if len == 1 && matches!(a[0], Timestamp | TimestampTz | Date | Unknown) => Interval,
        "make_date" if len == 3 && a.iter().all(is_num) => Date,
        "make_time" if len == 3 && a.iter().all(is_num) => Time,
        "make_timestamp" if len == 6 && a.iter().all(is_num) => Timestamp,
        "make_timestamptz" if len == 6 && a.iter().all(is_num) => TimestampTz,
        "make_timestamptz" if len == 7 && a[..6].iter().all(is_num) && t(6) => TimestampTz,
        "make_interval" if len <= 7 && a.iter().all(is_num) => Interval,
        "justify_days" | "justify_hours" | "justify_interval"
            if len == 1 && matches!(a[0], Interval | Unknown) =>
        {
            Interval
        }
        "isfinite" if len == 1 && is_dt(&a[0]) => Bool,
        "to_timestamp" if len == 1 && n(0) => TimestampTz,
        "to_timestamp" if len == 2 && t(0) && t(1) => TimestampTz,
        "to_date" if len == 2 && t(0) && t(1) => Date,
        "to_char" if len == 2 && t(1) && (is_dt(&a[0]) || n(0)) && a[0] != Unknown => Text,
        "timezone"
            if len == 2 && (t(0) || a[0] == Interval) && matches!(a[1], TimestampTz | Date) =>
        {
            Timestamp
        }
        "timezone"
            if len == 2 && (t(0) || a[0] == Interval) && matches!(a[1], Timestamp | Unknown) =>
        {
            TimestampTz
        }
        _ => return None,
    })
}

/// Calls a date/time function.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value>> {
    Some(match (name, a.len()) {
        // date_part(text, date) runs on the date cast to timestamp.
        ("date_part", 2) => {
            let src = match &a[1] {
                Value::Date(d) => Value::Timestamp(d.and_time(NaiveTime::MIN)),
                other => other.clone(),
            };
            extract_field(&text_arg(&a[0]), &src).map(|(v, _)| Value::Float8(numeric::to_f64(&v)))
        }
        ("extract", 2) => extract_field(&text_arg(&a[0]), &a[1])
            .map(|(v, scale)| Value::Numeric(numeric::round_scale(v, scale as i64))),
        ("date_trunc", 2) => date_trunc(&text_arg(&a[0]), &a[1], zone::current()),
        ("date_trunc", 3) => {
            named_zone(&text_arg(&a[2])).and_then(|z| date_trunc(&text_arg(&a[0]), &a[1], z))
        }
        ("age", 2) => match (ts_of(&a[0]), ts_of(&a[1])) {
            (Some(x), Some(y)) => age(x, y).map(Value::Interval),
            _ => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "age() needs timestamps",
            )),
        },
        ("age", 1) => match ts_of(&a[0]) {
            Some(x) => {
                let today = zone::current().to_local(&Utc::now().naive_utc()).date();
                age(today.and_time(NaiveTime::MIN), x).map(Value::Interval)
            }
            None => Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "age() needs a timestamp",
            )),
        },
        ("make_date", 3) => make_date(a).map(Value::Date),
        ("make_time", 3) => make_time(&a[0], &a[1], &a[2]).map(Value::Time),
        ("make_timestamp" | "make_timestamptz", 6) => (|| {
            let d = make_date(&a[..3])?;
            let t = make_time(&a[3], &a[4], &a[5])?;
            let ts = d.and_time(t);
            Ok(if name == "make_timestamp" {
                Value::Timestamp(ts)
            } else {
                Value::TimestampTz(local_in(zone::current(), &ts)?)
            })
        })(),
        ("make_timestamptz", 7) => (|| {
            let zone = named_zone(&text_arg(&a[6]))?;
            let ts = make_date(&a[..3])?.and_time(make_time(&a[3], &a[4], &a[5])?);
            Ok(Value::TimestampTz(local_in(zone, &ts)?))
        })(),
        ("make_interval", n) if n <= 7 => make_interval(a),
        ("justify_days", 1) => interval_of(&a[0])
            .and_then(|i| i.justify_days())
            .map(Value::Interval),
        ("justify_hours", 1) => interval_of(&a[0])
            .and_then(|i| i.justify_hours())
            .map(Value::Interval),
        ("justify_interval", 1) => interval_of(&a[0])
            .and_then(|i| i.justify_interval())
            .map(Value::Interval),
        ("isfinite", 1) => Ok(Value::Bool(match &a[0] {
            Value::Date(d) => *d != NaiveDate::MAX && *d != NaiveDate::MIN,
            v => ts_of(v).is_none_or(|t| !crate::types::datetime::is_infinite(&t)),
        })),
        ("to_timestamp", 1) => f64_arg(&a[0]).and_then(|secs| {
            if !secs.is_finite() || secs.abs() > 1e14 {
                return Err(Error::new(
                    SqlState::DATETIME_FIELD_OVERFLOW,
                    "timestamp out of range",
                ));
            }
            let us = (secs * 1e6).round() as i64;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
                .unwrap_or_default()
                .and_time(NaiveTime::MIN);
            epoch
                .checked_add_signed(Duration::microseconds(us))
                .map(|t| Value::TimestampTz(t.and_utc()))
                .ok_or_else(|| {
                    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
                })
        }),
        ("to_timestamp", 2) => formatting::parse_with_format(&text_arg(&a[0]), &text_arg(&a[1]))
            .and_then(|t| local_in(zone::current(), &t))
            .map(Value::TimestampTz),
        ("to_date", 2) => formatting::parse_with_format(&text_arg(&a[0]), &text_arg(&a[1]))
            .map(|t| Value::Date(t.date())),
        // An empty format gives NULL, as in PostgreSQL.
        ("to_char", 2) if text_arg(&a[1]).is_empty() => Ok(Value::Null),
        ("to_char", 2) => formatting::to_char(&a[0], &text_arg(&a[1])).map(Value::Text),
        ("timezone", 2) => datetime_make::at_time_zone(&a[0], &a[1]),
        _ => return None,
    })
}

fn interval_of(v: &Value) -> Result<Interval> {
    match v {
        Value::Interval(i) => Ok(*i),
        other => Interval::parse(&text_arg(other)),
    }
}

/// The timestamp view of date, timestamp and timestamptz (text parses).
pub(crate) fn ts_of(v: &Value) -> Option<NaiveDateTime> {
    match v {
        Value::Date(d) => Some(d.and_time(NaiveTime::MIN)),
        Value::Timestamp(t) => Some(*t),
        Value::TimestampTz(t) => Some(zone::current().to_local(&t.naive_utc())),
        Value::Text(s) => crate::types::datetime::parse_timestamp(s).ok(),
        _ => None,
    }
}

/// A zone named in a function argument, or PostgreSQL's `22023`.
pub(crate) fn named_zone(name: &str) -> Result<Zone> {
    zone::parse_named(name).ok_or_else(|| {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("time zone \"{name}\" not recognized"),
        )
    })
}

/// The instant of a local wall-clock time in `zone`.
pub(crate) fn local_in(zone: Zone, local: &NaiveDateTime) -> Result<chrono::DateTime<Utc>> {
    zone.to_utc(local)
        .map(|u| u.and_utc())
        .ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))
}

const KNOWN_UNITS: &[&str] = &[
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "milliseconds",
    "microseconds",
    "dow",
    "isodow",
    "doy",
    "week",
    "isoyear",
    "quarter",
    "decade",
    "century",
    "millennium",
    "julian",
    "epoch",
    "timezone",
    "timezone_hour",
    "timezone_minute",
];

/// `0A000` "not supported" for a real unit that does not apply to the
/// type, `22023` "not recognized" for a word that is no unit at all.
fn unit_error(field: &str, ty: &str) -> Error {
    if KNOWN_UNITS.contains(&field) {
        Error::new(
            SqlState::FEATURE_NOT_SUPPORTED,
            format!("unit \"{field}\" not supported for type {ty}"),
        )
    } else {
        Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("unit \"{field}\" not recognized for type {ty}"),
        )
    }
}

fn dec(v: i64) -> Decimal {
    Decimal::from(v)
}

/// Seconds with a microsecond fraction as a Decimal.
fn micros_dec(us: i64, divisor: i64) -> Decimal {
    let scale = match divisor {
        1_000_000 => 6,
        1000 => 3,
        _ => 0,
    };
    Decimal::from_i128_with_scale(us as i128, scale)
}

/// The value of a field and the scale `extract` shows it with.
fn extract_field(field: &str, v: &Value) -> Result<(Decimal, u32)> {
    let f = field.trim().to_ascii_lowercase();
    let f = match f.as_str() {
        "years" | "y" | "yr" | "yrs" => "year".to_string(),
        "months" | "mon" | "mons" => "month".into(),
        "days" | "d" => "day".into(),
        "hours" | "h" | "hr" | "hrs" => "hour".into(),
        "minutes" | "m" | "min" | "mins" => "minute".into(),
        "seconds" | "s" | "sec" | "secs" => "second".into(),
        "millisecond" | "ms" | "msec" => "milliseconds".into(),
        "microsecond" | "us" | "usec" => "microseconds".into(),
        _ => f,
    };
    if let Value::Interval(i) = v {
        return extract_interval(&f, i);
    }
    if let Value::Time(t) = v {
        let us = t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
        return Ok(match f.as_str() {
            "hour" => (dec(t.hour() as i64), 0),
            "minute" => (dec(t.minute() as i64), 0),
            "second" => (micros_dec(us % 60_000_000, 1_000_000), 6),
            "milliseconds" => (micros_dec(us % 60_000_000, 1000), 3),
            "microseconds" => (dec(us % 60_000_000), 0),
            "epoch" => (micros_dec(us, 1_000_000), 6),
            _ => return Err(unit_error(&f, "time without time zone")),
        });
    }
    let is_date = matches!(v, Value::Date(_));
    let ts = match (v, ts_of(v)) {
        (Value::Text(s), _) => crate::types::datetime::parse_timestamp(s)?,
        (_, Some(t)) => t,
        _ => {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "extract() needs a date/time value",
            ))
        }
    };
    let y = ts.year() as i64;
    let sec_us = ts.second() as i64 * 1_000_000 + (ts.nanosecond() / 1000) as i64;
    let frac_scale = if is_date { 0 } else { 6 };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN);
    Ok(match f.as_str() {
        "year" => (dec(if y <= 0 { y - 1 } else { y }), 0),
        "month" => (dec(ts.month() as i64), 0),
        "day" => (dec(ts.day() as i64), 0),
        "hour" if !is_date => (dec(ts.hour() as i64), 0),
        "minute" if !is_date => (dec(ts.minute() as i64), 0),
        "second" if !is_date => (micros_dec(sec_us, 1_000_000), 6),
        "milliseconds" if !is_date => (micros_dec(sec_us, 1000), 3),
        "microseconds" if !is_date => (dec(sec_us), 0),
        "dow" => (dec(ts.weekday().num_days_from_sunday() as i64), 0),
        "isodow" => (dec(ts.weekday().number_from_monday() as i64), 0),
        "doy" => (dec(ts.ordinal() as i64), 0),
        "week" => (dec(ts.iso_week().week() as i64), 0),
        "isoyear" => (dec(ts.iso_week().year() as i64), 0),
        "quarter" => (dec((ts.month() as i64 - 1) / 3 + 1), 0),
        "decade" => (dec(y.div_euclid(10)), 0),
        "century" => (
            dec(if y > 0 {
                (y + 99) / 100
            } else {
                -((99 - (y - 1)) / 100)
            }),
            0,
        ),
        "millennium" => (
            dec(if y > 0 {
                (y + 999) / 1000
            } else {
                -((999 - (y - 1)) / 1000)
            }),
            0,
        ),
        "julian" => (dec(ts.date().num_days_from_ce() as i64 + 1_721_425), 0),
        "epoch" => {
            // An instant's epoch does not depend on the zone it is shown in.
            let us = match v {
                Value::TimestampTz(t) if !crate::types::datetime::is_infinite(&t.naive_utc()) => {
                    t.timestamp_micros()
                }
                _ => (ts - epoch).num_microseconds().unwrap_or(0),
            };
            (micros_dec(us, 1_000_000), frac_scale)
        }
        "timezone" | "timezone_hour" | "timezone_minute" => {
            let Value::TimestampTz(t) = v else {
                return Err(unit_error(&f, "timestamp without time zone"));
            };
            let off = zone::current().offset_at(&t.naive_utc()) as i64;
            let n = match f.as_str() {
                "timezone" => off,
                "timezone_hour" => off / 3600,
                _ => (off / 60) % 60,
            };
            (dec(n), 0)
        }
        _ => {
            return Err(unit_error(
                &f,
                if is_date {
                    "date"
                } else {
                    "timestamp without time zone"
                },
            ))
        }
    })
}

fn extract_interval(f: &str, i: &Interval) -> Result<(Decimal, u32)> {
    let sec_us = i.micros % USECS_PER_MINUTE;
    Ok(match f {
        "year" => (dec((i.months / 12) as i64), 0),
        "month" => (dec((i.months % 12) as i64), 0),
        "day" => (dec(i.days as i64), 0),
        "hour" => (dec(i.micros / USECS_PER_HOUR), 0),
        "minute" => (dec((i.micros / USECS_PER_MINUTE) % 60), 0),
        "second" => (micros_dec(sec_us, 1_000_000), 6),
        "milliseconds" => (micros_dec(sec_us, 1000), 3),
        "microseconds" => (dec(sec_us), 0),
        "quarter" => (dec(((i.months % 12) / 3 + 1) as i64), 0),
        "decade" => (dec((i.months / 120) as i64), 0),
        "century" => (dec((i.months / 1200) as i64), 0),
        "millennium" => (dec((i.months / 12000) as i64), 0),
        "epoch" => {
            let years = (i.months / 12) as i128;
            let months = (i.months % 12) as i128;
            // 365.25-day years, 30-day months, in microseconds.
            let us = years * 31_557_600_000_000
                + months * 30 * USECS_PER_DAY as i128
                + i.days as i128 * USECS_PER_DAY as i128
                + i.micros as i128;
            (
                Decimal::try_from_i128_with_scale(us, 6).map_err(|_| numeric::overflow())?,
                6,
            )
        }
        _ => return Err(unit_error(f, "interval")),
    })
}

fn date_trunc(field: &str, v: &Value, zone: Zone) -> Result<Value> {
    let f = field.trim().to_ascii_lowercase();
    if let Value::Interval(i) = v {
        let mut r = *i;
        let trunc_us = |unit: i64| (i.micros / unit) * unit;
        match f.as_str() {
            "millennium" => r = Interval::new(i.months / 12000 * 12000, 0, 0),
            "century" => r = Interval::new(i.months / 1200 * 1200, 0, 0),
            "decade" => r = Interval::new(i.months / 120 * 120, 0, 0),
            "year" => r = Interval::new(i.months / 12 * 12, 0, 0),
            "quarter" => r = Interval::new(i.months / 3 * 3, 0, 0),
            "month" => r = Interval::new(i.months, 0, 0),
            "day" => r.micros = 0,
            "hour" => r.micros = trunc_us(USECS_PER_HOUR),
            "minute" => r.micros = trunc_us(USECS_PER_MINUTE),
            "second" => r.micros = trunc_us(1_000_000),
            "milliseconds" => r.micros = trunc_us(1000),
            "microseconds" => {}
            _ => return Err(unit_error(&f, "interval")),
        }
        return Ok(Value::Interval(r));
    }
    let ts = match v {
        Value::TimestampTz(t) => Some(zone.to_local(&t.naive_utc())),
        other => ts_of(other),
    };
    let ts = ts.ok_or_else(|| {
        Error::new(
            SqlState::DATATYPE_MISMATCH,
            "date_trunc() needs a timestamp",
        )
    })?;
    if crate::types::datetime::is_infinite(&ts) && !matches!(v, Value::Date(_)) {
        return Ok(v.clone());
    }
    let d = ts.date();
    let y = d.year();
    let ymd = |y: i32, m: u32, day: u32| {
        NaiveDate::from_ymd_opt(y, m, day).map(|d| d.and_time(NaiveTime::MIN))
    };
    let hms = |h: u32, mi: u32, s: u32, ns: u32| {
        NaiveTime::from_hms_nano_opt(h, mi, s, ns).map(|t| d.and_time(t))
    };
    let t = ts.time();
    let r = match f.as_str() {
        "millennium" => ymd(((y - 1).div_euclid(1000)) * 1000 + 1, 1, 1),
        "century" => ymd(((y - 1).div_euclid(100)) * 100 + 1, 1, 1),
        "decade" => ymd(y.div_euclid(10) * 10, 1, 1),
        "year" => ymd(y, 1, 1),
        "quarter" => ymd(y, (d.month() - 1) / 3 * 3 + 1, 1),
        "month" => ymd(y, d.month(), 1),
        "week" => Some(
            (d - Duration::days(d.weekday().num_days_from_monday() as i64))
                .and_time(NaiveTime::MIN),
        ),
        "day" => Some(d.and_time(NaiveTime::MIN)),
        "hour" => hms(t.hour(), 0, 0, 0),
        "minute" => hms(t.hour(), t.minute(), 0, 0),
        "second" => hms(t.hour(), t.minute(), t.second(), 0),
        "milliseconds" => hms(
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond() / 1_000_000 * 1_000_000,
        ),
        "microseconds" => Some(ts),
        _ => return Err(unit_error(&f, "timestamp without time zone")),
    };
    let r =
        r.ok_or_else(|| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range"))?;
    Ok(match v {
        Value::Timestamp(_) => Value::Timestamp(r),
        // Below a day the offset stays the instant's own (PostgreSQL does
        // not re-resolve it), so 01:30 EDT truncates to 01:00 EDT even
        // where 01:00 happens twice.
        Value::TimestampTz(t) if !is_day_or_more(&f) => {
            let off = Duration::seconds(zone.offset_at(&t.naive_utc()) as i64);
            let utc = r.checked_sub_signed(off).ok_or_else(|| {
                Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "timestamp out of range")
            })?;
            Value::TimestampTz(utc.and_utc())
        }
        _ => Value::TimestampTz(local_in(zone, &r)?),
    })
}

/// Whether `date_trunc` to this field moves the wall clock by a day or more.
fn is_day_or_more(field: &str) -> bool {
    matches!(
        field,
        "millennium" | "century" | "decade" | "year" | "quarter" | "month" | "week" | "day"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::{format, parse};

    fn c(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args) {
            Ok(v) => format(&v),
            Err(e) => format!("{}: {}", e.state(), e.message()),
        }
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    fn ts(s: &str) -> Value {
        parse(s, &DataType::Timestamp).unwrap_or(Value::Null)
    }

    #[test]
    fn matches_postgres() {
        let d = parse("2024-01-31", &DataType::Date).unwrap_or(Value::Null);
        assert_eq!(c("date_part", &[t("dow"), d.clone()]), "3");
        assert_eq!(
            c("extract", &[t("epoch"), ts("2024-01-31 10:00:00.5")]),
            "1706695200.500000"
        );
        let iv = parse("1 year", &DataType::Interval).unwrap_or(Value::Null);
        assert_eq!(c("date_part", &[t("epoch"), iv]), "31557600");
        let tm = parse("10:11:12.5", &DataType::Time).unwrap_or(Value::Null);
        assert_eq!(c("extract", &[t("second"), tm]), "12.500000");
        assert_eq!(
            c("date_trunc", &[t("month"), ts("2024-01-31 10:00")]),
            "2024-01-01 00:00:00"
        );
        assert_eq!(
            c("date_trunc", &[t("week"), ts("2024-01-31 10:00")]),
            "2024-01-29 00:00:00"
        );
        let iv = parse("1 day 10:34", &DataType::Interval).unwrap_or(Value::Null);
        assert_eq!(c("date_trunc", &[t("hour"), iv]), "1 day 10:00:00");
        assert_eq!(
            c("age", &[ts("2024-03-15"), ts("2023-01-31 10:00")]),
            "1 year 1 mon 14 days 14:00:00"
        );
        assert_eq!(
            c("age", &[ts("2023-01-31 10:00"), ts("2024-03-15")]),
            "-1 years -1 mons -14 days -14:00:00"
        );
        let mi: Vec<Value> = [1, 2, 3, 4, 5, 6]
            .iter()
            .map(|v| Value::Int4(*v))
            .chain([Value::Float8(7.5)])
            .collect();
        assert_eq!(c("make_interval", &mi), "1 year 2 mons 25 days 05:06:07.5");
        assert_eq!(
            c(
                "make_date",
                &[Value::Int4(2024), Value::Int4(13), Value::Int4(1)]
            ),
            "22008: date field value out of range: 2024-13-01"
        );
        assert_eq!(
            c("to_timestamp", &[Value::Int4(0)]),
            "1970-01-01 00:00:00+00"
        );
        assert_eq!(
            c(
                "extract",
                &[
                    t("week"),
                    parse("2024-01-01", &DataType::Date).unwrap_or(Value::Null)
                ]
            ),
            "1"
        );
        assert_eq!(c("date_part", &[t("century"), d]), "21");
        let iv = parse("1 mon -1 hour", &DataType::Interval).unwrap_or(Value::Null);
        assert_eq!(c("justify_interval", &[iv]), "29 days 23:00:00");
    }
}
