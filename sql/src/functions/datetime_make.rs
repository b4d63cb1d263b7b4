//! Date/time constructors, differences and zone shifts: `age`,
//! `make_date`, `make_time`, `make_interval`, `timezone` (the function
//! behind `AT TIME ZONE`; split from `datetime`).
//!
//! Zones are UTC and its aliases, numeric offsets in POSIX convention
//! (`'+02'` is two hours *west* of Greenwich, as PostgreSQL reads it) and
//! the common North American / European / Asian abbreviations; region
//! names (`America/New_York`) need a time zone database RustyDB does not
//! ship and report `22023`.
//!
//! `age` reproduces PostgreSQL's field-by-field subtraction with borrows
//! (a negative day count borrows the length of the relevant month), so
//! `age('2024-03-15', '2023-01-31 10:00')` is `1 year 1 mon 14 days 14:00:00`.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::{f64_arg, i32_arg};
use crate::error::{Error, Result};
use crate::types::zone::Zone;
use crate::types::{Interval, Value};
use crate::SqlState;

fn days_in_month(y: i32, m: u32) -> i64 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    match (
        NaiveDate::from_ymd_opt(ny, nm, 1),
        NaiveDate::from_ymd_opt(y, m, 1),
    ) {
        (Some(a), Some(b)) => (a - b).num_days(),
        _ => 30,
    }
}

/// `age(a, b)`: the symbolic years/months/days difference, PostgreSQL's
/// field-by-field borrow algorithm.
pub fn age(a: NaiveDateTime, b: NaiveDateTime) -> Result<Interval> {
    let neg = a < b;
    let field = |t: &NaiveDateTime| {
        [
            t.year() as i64,
            t.month() as i64,
            t.day() as i64,
            t.hour() as i64,
            t.minute() as i64,
            t.second() as i64,
            (t.nanosecond() / 1000) as i64,
        ]
    };
    let (fa, fb) = (field(&a), field(&b));
    let mut d: Vec<i64> = fa.iter().zip(fb.iter()).map(|(x, y)| x - y).collect();
    if neg {
        d.iter_mut().for_each(|x| *x = -*x);
    }
    let limits = [0, 12, 0, 24, 60, 60, 1_000_000];
    for i in (1..7).rev() {
        while d[i] < 0 {
            if i == 2 {
                let (yy, mm) = if neg {
                    (a.year(), a.month())
                } else {
                    (b.year(), b.month())
                };
                d[2] += days_in_month(yy, mm);
            } else {
                d[i] += limits[i];
            }
            d[i - 1] -= 1;
        }
    }
    if neg {
        d.iter_mut().for_each(|x| *x = -*x);
    }
    let months = d[0] * 12 + d[1];
    let micros = ((d[3] * 60 + d[4]) * 60 + d[5]) * 1_000_000 + d[6];
    Ok(Interval::new(
        i32::try_from(months)
            .map_err(|_| Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range"))?,
        d[2] as i32,
        micros,
    ))
}

pub(crate) fn make_date(a: &[Value]) -> Result<NaiveDate> {
    let (y, m, d) = (i32_arg(&a[0])?, i32_arg(&a[1])?, i32_arg(&a[2])?);
    // Negative years are BC: -44 is 44 BC, chrono's -43.
    let year = if y < 0 { y + 1 } else { y };
    let bad = || {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date field value out of range: {y}-{m:02}-{d:02}"),
        )
    };
    if y == 0 || m < 1 || d < 1 {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(year, m as u32, d as u32).ok_or_else(bad)
}

pub(crate) fn make_time(h: &Value, m: &Value, s: &Value) -> Result<NaiveTime> {
    let (h, m, s) = (i32_arg(h)?, i32_arg(m)?, f64_arg(s)?);
    let bad = || {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("time field value out of range: {h}:{m:02}:{s:02}"),
        )
    };
    if !(0..24).contains(&h) || !(0..60).contains(&m) || !(0.0..60.0).contains(&s) {
        return Err(bad());
    }
    let us = (s * 1e6).round() as i64;
    NaiveTime::from_hms_opt(h as u32, m as u32, 0)
        .map(|t| t + Duration::microseconds(us))
        .ok_or_else(bad)
}

pub(crate) fn make_interval(a: &[Value]) -> Result<Value> {
    let get = |i: usize| -> Result<i64> {
        match a.get(i) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => Ok(i32_arg(v)? as i64),
        }
    };
    let secs = match a.get(6) {
        None | Some(Value::Null) => 0.0,
        Some(v) => f64_arg(v)?,
    };
    let overflow = || Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range");
    let months = get(0)? * 12 + get(1)?;
    let days = get(2)? * 7 + get(3)?;
    let micros = (get(4)? * 3600 + get(5)? * 60) as f64 * 1e6 + (secs * 1e6).round();
    if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
        return Err(overflow());
    }
    Ok(Value::Interval(Interval::new(
        i32::try_from(months).map_err(|_| overflow())?,
        i32::try_from(days).map_err(|_| overflow())?,
        micros as i64,
    )))
}

/// `timezone(zone, ts)` (`ts AT TIME ZONE zone`): timestamptz -> local
/// timestamp in the zone, and timestamp (read as local time in the zone)
/// -> timestamptz. The zone is a name (`zone::parse_named`) or an interval
/// (an ISO offset east of UTC).
pub(crate) fn at_time_zone(zone: &Value, v: &Value) -> Result<Value> {
    let zone = match zone {
        Value::Interval(i) if i.months == 0 && i.days == 0 => {
            Zone::Fixed((i.micros / 1_000_000) as i32)
        }
        Value::Interval(_) => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "interval time zone must not include months or days",
            ))
        }
        other => super::datetime::named_zone(&super::text_arg(other))?,
    };
    Ok(match v {
        Value::TimestampTz(t) => Value::Timestamp(zone.to_local(&t.naive_utc())),
        Value::Timestamp(t) => Value::TimestampTz(super::datetime::local_in(zone, t)?),
        // A date is a timestamptz at midnight in the session's zone.
        Value::Date(d) => {
            let midnight = d.and_time(NaiveTime::MIN);
            let utc = super::datetime::local_in(crate::types::zone::current(), &midnight)?;
            Value::Timestamp(zone.to_local(&utc.naive_utc()))
        }
        Value::Text(s) => {
            let ts = crate::types::datetime::parse_timestamp(s)?;
            Value::TimestampTz(super::datetime::local_in(zone, &ts)?)
        }
        _ => {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "AT TIME ZONE needs a timestamp",
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::{format, parse};
    use crate::types::DataType;

    #[test]
    fn time_zones_match_postgres() {
        let tz = parse("2024-01-01 12:00+00", &DataType::TimestampTz).unwrap_or(Value::Null);
        let ts = parse("2024-01-01 12:00", &DataType::Timestamp).unwrap_or(Value::Null);
        let at = |z: &str, v: &Value| {
            at_time_zone(&Value::Text(z.into()), v)
                .map(|v| format(&v))
                .unwrap_or_else(|e| e.message())
        };
        assert_eq!(at("+02", &tz), "2024-01-01 10:00:00");
        assert_eq!(at("UTC", &tz), "2024-01-01 12:00:00");
        assert_eq!(at("UTC", &ts), "2024-01-01 12:00:00+00");
        assert_eq!(at("-03:30", &ts), "2024-01-01 08:30:00+00");
        assert_eq!(at("EST", &tz), "2024-01-01 07:00:00");
        assert_eq!(
            at("Mars/Olympus", &tz),
            "time zone \"Mars/Olympus\" not recognized"
        );
        assert_eq!(at("+0530", &ts), "2024-01-01 17:30:00+00");
        assert!(at_time_zone(&Value::Text("1é2".into()), &ts).is_err());
        assert_eq!(at("Asia/Tokyo", &ts), "2024-01-01 03:00:00+00");
        assert_eq!(at("Asia/Tokyo", &tz), "2024-01-01 21:00:00");
    }
}
