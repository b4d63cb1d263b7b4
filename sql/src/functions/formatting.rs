//! `to_char`, `to_date` and `to_timestamp(text, fmt)`: PostgreSQL's
//! template patterns.
//!
//! Date/time templates are scanned left to right, longest pattern first
//! (`HH24` before `HH`, `Month` before `Mon` before `MM`); the case of a
//! name pattern picks the case of the output (`MONTH`, `Month`, `month`);
//! `FM` suppresses padding of the next pattern; `"..."` is literal text and
//! `\` escapes one character; anything else is copied. Names are padded
//! to 9 characters as PostgreSQL does. Numeric templates support `9`, `0`,
//! `.`/`D`, `,`/`G`, `S`, `MI`, `PL`, `FM`; a value too wide for the
//! template prints as `#`s.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::prelude::*;

use super::datetime::ts_of;
use super::dec_arg;
use crate::error::{Error, Result};
use crate::types::{numeric, Value};
use crate::SqlState;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

const PATTERNS: &[&str] = &[
    "HH24", "HH12", "HH", "MI", "SSSS", "SS", "MS", "US", "A.M.", "P.M.", "a.m.", "p.m.", "AM",
    "PM", "am", "pm", "IYYY", "YYYY", "YYY", "YY", "Y", "MONTH", "Month", "month", "MON", "Mon",
    "mon", "MM", "DAY", "Day", "day", "DY", "Dy", "dy", "DDD", "DD", "D", "ID", "IW", "WW", "Q",
    "CC", "J", "TZ", "tz", "OF",
];

enum Piece {
    /// `th`: `Some(true)` for an upper-case `TH` ordinal suffix.
    Pattern {
        pat: &'static str,
        fm: bool,
        th: Option<bool>,
    },
    Literal(char),
}

fn tokenize(fmt: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut rest = fmt;
    let mut fm = false;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            fm = true;
            rest = r;
            continue;
        }
        if let Some(p) = PATTERNS.iter().find(|p| rest.starts_with(**p)) {
            rest = &rest[p.len()..];
            let th = if let Some(r) = rest.strip_prefix("TH") {
                rest = r;
                Some(true)
            } else if let Some(r) = rest.strip_prefix("th") {
                rest = r;
                Some(false)
            } else {
                None
            };
            out.push(Piece::Pattern { pat: p, fm, th });
            fm = false;
            continue;
        }
        let mut chars = rest.chars();
        let c = chars.next().unwrap_or(' ');
        rest = chars.as_str();
        match c {
            '"' => {
                let end = rest.find('"').unwrap_or(rest.len());
                out.extend(rest[..end].chars().map(Piece::Literal));
                rest = rest.get(end + 1..).unwrap_or("");
            }
            '\\' => {
                let mut cs = rest.chars();
                if let Some(n) = cs.next() {
                    out.push(Piece::Literal(n));
                }
                rest = cs.as_str();
            }
            other => out.push(Piece::Literal(other)),
        }
    }
    out
}

fn cased(name: &str, pat: &str, pad: usize, fm: bool) -> String {
    let s = if pat.chars().all(|c| c.is_ascii_uppercase()) {
        name.to_uppercase()
    } else if pat.chars().all(|c| c.is_ascii_lowercase()) {
        name.to_lowercase()
    } else {
        name.to_string()
    };
    if fm {
        s
    } else {
        format!("{s:<pad$}")
    }
}

fn num(v: i64, width: usize, fm: bool) -> String {
    if fm {
        v.to_string()
    } else if v < 0 {
        format!("-{:0width$}", -v, width = width)
    } else {
        format!("{v:0width$}")
    }
}

/// `st`/`nd`/`rd`/`th` for the number just printed (11-13 take `th`).
fn ordinal_suffix(num: &str, upper: bool) -> String {
    let n: u64 = num.trim().parse().unwrap_or(0);
    let s = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    if upper {
        s.to_uppercase()
    } else {
        s.to_string()
    }
}

/// `to_char` of a date/time or number.
pub fn to_char(v: &Value, fmt: &str) -> Result<String> {
    if let Value::Interval(i) = v {
        let base = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap_or_default()
            .and_time(NaiveTime::MIN);
        let t = crate::types::arith::ts_plus_interval(
            base,
            &crate::types::Interval::new(0, 0, i.micros.rem_euclid(86_400_000_000)),
        )?;
        let hours = i.micros / 3_600_000_000;
        return Ok(format_ts(&t, fmt, Some(hours), None));
    }
    if let Value::Time(t) = v {
        let ts = NaiveDate::from_ymd_opt(2000, 1, 1)
            .unwrap_or_default()
            .and_time(*t);
        return Ok(format_ts(&ts, fmt, None, None));
    }
    if let Some(ts) = ts_of(v).filter(|_| !matches!(v, Value::Text(_))) {
        // Only a timestamptz has a zone to print (its session-zone view).
        let zone = match v {
            Value::TimestampTz(t) => {
                let z = crate::types::zone::current();
                Some((
                    z.abbreviation_at(&t.naive_utc()),
                    z.offset_at(&t.naive_utc()),
                ))
            }
            _ => None,
        };
        return Ok(format_ts(&ts, fmt, None, zone));
    }
    to_char_number(&dec_arg(v)?, fmt)
}

/// `zone`: the abbreviation and offset that `TZ` and `OF` print (none for
/// a timestamp without time zone, which prints them empty).
fn format_ts(
    t: &NaiveDateTime,
    fmt: &str,
    interval_hours: Option<i64>,
    zone: Option<(String, i32)>,
) -> String {
    let mut out = String::new();
    let h24 = interval_hours.unwrap_or(t.hour() as i64);
    let h12 = if t.hour().is_multiple_of(12) {
        12
    } else {
        t.hour() % 12
    } as i64;
    let y = t.year() as i64;
    for piece in tokenize(fmt) {
        let (pat, fm, th) = match piece {
            Piece::Literal(c) => {
                out.push(c);
                continue;
            }
            Piece::Pattern { pat, fm, th } => (pat, fm, th),
        };
        let month = MONTHS.get(t.month0() as usize).copied().unwrap_or("");
        let day = DAYS
            .get(t.weekday().num_days_from_sunday() as usize)
            .copied()
            .unwrap_or("");
        let pm = t.hour() >= 12;
        let s = match pat {
            "HH24" => num(h24, 2, fm),
            "HH12" | "HH" => num(h12, 2, fm),
            "MI" => num(t.minute() as i64, 2, fm),
            "SS" => num(t.second() as i64, 2, fm),
            "SSSS" => t.num_seconds_from_midnight().to_string(),
            "MS" => num((t.nanosecond() / 1_000_000) as i64, 3, fm),
            "US" => num((t.nanosecond() / 1000) as i64, 6, fm),
            "AM" | "PM" => (if pm { "PM" } else { "AM" }).into(),
            "am" | "pm" => (if pm { "pm" } else { "am" }).into(),
            "A.M." | "P.M." => (if pm { "P.M." } else { "A.M." }).into(),
            "a.m." | "p.m." => (if pm { "p.m." } else { "a.m." }).into(),
            "YYYY" => num(y, 4, fm),
            "IYYY" => num(t.iso_week().year() as i64, 4, fm),
            "YYY" => num(y % 1000, 3, fm),
            "YY" => num(y % 100, 2, fm),
            "Y" => num(y % 10, 1, fm),
            "MONTH" | "Month" | "month" => cased(month, pat, 9, fm),
            "MON" | "Mon" | "mon" => cased(month.get(..3).unwrap_or(""), pat, 3, true),
            "MM" => num(t.month() as i64, 2, fm),
            "DAY" | "Day" | "day" => cased(day, pat, 9, fm),
            "DY" | "Dy" | "dy" => cased(day.get(..3).unwrap_or(""), pat, 3, true),
            "DDD" => num(t.ordinal() as i64, 3, fm),
            "DD" => num(t.day() as i64, 2, fm),
            "D" => (t.weekday().num_days_from_sunday() + 1).to_string(),
            "ID" => t.weekday().number_from_monday().to_string(),
            "IW" => num(t.iso_week().week() as i64, 2, fm),
            "WW" => num(((t.ordinal() - 1) / 7 + 1) as i64, 2, fm),
            "Q" => ((t.month() - 1) / 3 + 1).to_string(),
            "CC" => num(if y > 0 { (y + 99) / 100 } else { y / 100 - 1 }, 2, fm),
            "J" => (t.date().num_days_from_ce() as i64 + 1_721_425).to_string(),
            "TZ" => zone
                .as_ref()
                .map(|z| z.0.to_uppercase())
                .unwrap_or_default(),
            "tz" => zone
                .as_ref()
                .map(|z| z.0.to_lowercase())
                .unwrap_or_default(),
            "OF" => crate::types::zone::offset_text(zone.as_ref().map_or(0, |z| z.1)),
            _ => String::new(),
        };
        out.push_str(&s);
        if let Some(upper) = th {
            out.push_str(&ordinal_suffix(&s, upper));
        }
    }
    out
}

/// `to_char(numeric, template)`.
fn to_char_number(d: &Decimal, fmt: &str) -> Result<String> {
    let fm = fmt.contains("FM") || fmt.contains("fm");
    let f = fmt.replace("FM", "").replace("fm", "");
    let explicit_sign = f.contains('S') || f.contains("MI") || f.contains("PL");
    let (int_fmt, frac_fmt) = match f.find(['.', 'D']) {
        Some(p) => (&f[..p], Some(&f[p + 1..])),
        None => (f.as_str(), None),
    };
    let int_fmt: String = int_fmt
        .chars()
        .filter(|c| matches!(c, '9' | '0' | ',' | 'G'))
        .collect();
    let frac_fmt: String = frac_fmt
        .unwrap_or("")
        .chars()
        .filter(|c| matches!(c, '9' | '0'))
        .collect();
    let frac_n = frac_fmt.len() as i64;
    let r = numeric::round_scale(*d, frac_n);
    let neg = r.is_sign_negative() && !r.is_zero();
    let digits = r.abs().trunc().to_string();
    let int_digits = if r.abs().trunc().is_zero() {
        ""
    } else {
        digits.as_str()
    };
    let positions = int_fmt.chars().filter(|c| *c == '9' || *c == '0').count();
    if int_digits.len() > positions {
        // Too wide: every digit position shows `#`; signs keep their place.
        let sign = if neg { "-" } else { " " };
        let hashes: String = f
            .replace("MI", if neg { "-" } else { " " })
            .replace("PL", if neg { " " } else { "+" })
            .replace('S', if neg { "-" } else { "+" })
            .chars()
            .map(|c| match c {
                '9' | '0' => '#',
                'D' => '.',
                'G' => ',',
                c => c,
            })
            .collect();
        let lead = if explicit_sign || fm { "" } else { sign };
        return Ok(format!("{lead}{hashes}"));
    }
    // Integer part, right to left.
    let mut int_out: Vec<char> = Vec::new();
    let mut di = int_digits.chars().rev();
    let first_zero = int_fmt.find('0');
    let fmt_chars: Vec<char> = int_fmt.chars().collect();
    let mut shown_any = false;
    let mut remaining = int_digits.len();
    for (i, c) in fmt_chars.iter().enumerate().rev() {
        match c {
            '9' | '0' => {
                let forced = first_zero.is_some_and(|z| z <= i);
                let is_units = i
                    == fmt_chars
                        .iter()
                        .rposition(|c| *c == '9' || *c == '0')
                        .unwrap_or(0);
                if let Some(dg) = di.next() {
                    int_out.push(dg);
                    shown_any = true;
                    remaining -= 1;
                } else if forced || (is_units && int_digits.is_empty() && frac_n == 0) {
                    int_out.push('0');
                    shown_any = true;
                } else {
                    int_out.push(' ');
                }
            }
            _ => int_out.push(
                if remaining > 0 || (shown_any && first_zero.is_some_and(|z| z < i)) {
                    ','
                } else {
                    ' '
                },
            ),
        }
    }
    int_out.reverse();
    let mut int_s: String = int_out.into_iter().collect();
    // The sign goes right before the first visible character.
    let sign = if neg {
        "-"
    } else if explicit_sign && f.contains('S') {
        "+"
    } else {
        " "
    };
    let lead = int_s.len() - int_s.trim_start().len();
    int_s = format!(
        "{}{}{}",
        " ".repeat(lead),
        if explicit_sign && !neg && !f.contains('S') {
            " "
        } else {
            sign
        },
        int_s.trim_start()
    );
    let mut out = int_s;
    if f.contains(['.', 'D']) {
        let frac_digits = r.abs().fract().to_string();
        let fd: Vec<char> = frac_digits
            .split('.')
            .nth(1)
            .unwrap_or("")
            .chars()
            .collect();
        let mut frac: String = (0..frac_fmt.len())
            .map(|i| fd.get(i).copied().unwrap_or('0'))
            .collect();
        if fm {
            // FM drops trailing zeros that only 9s asked for.
            let keep = frac_fmt.rfind('0').map(|p| p + 1).unwrap_or(0);
            while frac.len() > keep && frac.ends_with('0') {
                frac.pop();
            }
        }
        out.push('.');
        out.push_str(&frac);
    }
    Ok(if fm {
        out.trim_start().to_string()
    } else {
        out
    })
}

fn bad_value(s: &str, pat: &str) -> Error {
    Error::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid value \"{s}\" for \"{pat}\""),
    )
}

/// Parses text with a template (`to_timestamp`, `to_date`).
pub fn parse_with_format(input: &str, fmt: &str) -> Result<NaiveDateTime> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut us) =
        (1i64, 1i64, 1i64, 0i64, 0i64, 0i64, 0i64);
    let mut pm: Option<bool> = None;
    let mut rest = input;
    for piece in tokenize(fmt) {
        match piece {
            Piece::Literal(c) => {
                if c.is_whitespace() {
                    rest = rest.trim_start();
                } else if let Some(ch) = rest.chars().next() {
                    if !ch.is_ascii_alphanumeric() || ch == c {
                        rest = &rest[ch.len_utf8()..];
                    }
                }
            }
            Piece::Pattern { pat, .. } => {
                rest = rest.trim_start();
                let take_num = |rest: &mut &str, max: usize| -> Result<i64> {
                    let neg = rest.starts_with('-');
                    let body = if neg { &rest[1..] } else { *rest };
                    let n = body
                        .bytes()
                        .take(max)
                        .take_while(u8::is_ascii_digit)
                        .count();
                    let v: i64 = body[..n].parse().map_err(|_| {
                        bad_value(rest.get(..max.min(rest.len())).unwrap_or(""), pat)
                    })?;
                    *rest = &body[n..];
                    Ok(if neg { -v } else { v })
                };
                match pat {
                    "YYYY" | "IYYY" => y = take_num(&mut rest, 9)?,
                    "YYY" | "YY" => {
                        let v = take_num(&mut rest, pat.len())?;
                        y = if pat == "YY" && v < 70 {
                            2000 + v
                        } else if pat == "YY" {
                            1900 + v
                        } else {
                            2000 + v
                        };
                    }
                    "MM" => mo = take_num(&mut rest, 2)?,
                    "DD" => d = take_num(&mut rest, 2)?,
                    "DDD" => d = take_num(&mut rest, 3)?,
                    "HH24" | "HH12" | "HH" => h = take_num(&mut rest, 2)?,
                    "MI" => mi = take_num(&mut rest, 2)?,
                    "SS" => s = take_num(&mut rest, 2)?,
                    "MS" => us = take_num(&mut rest, 3)? * 1000,
                    "US" => us = take_num(&mut rest, 6)?,
                    "AM" | "PM" | "am" | "pm" | "A.M." | "P.M." | "a.m." | "p.m." => {
                        let up = rest.to_ascii_uppercase();
                        pm = Some(up.starts_with('P'));
                        let n = if up.starts_with("A.M.") || up.starts_with("P.M.") {
                            4
                        } else {
                            2
                        };
                        rest = rest.get(n..).unwrap_or("");
                    }
                    "MONTH" | "Month" | "month" | "MON" | "Mon" | "mon" => {
                        let lower = rest.to_ascii_lowercase();
                        let idx = MONTHS
                            .iter()
                            .position(|m| lower.starts_with(&m[..3].to_ascii_lowercase()))
                            .ok_or_else(|| bad_value(rest, pat))?;
                        mo = idx as i64 + 1;
                        let full = MONTHS[idx].to_ascii_lowercase();
                        let n = if pat.len() > 3 && lower.starts_with(&full) {
                            full.len()
                        } else {
                            3
                        };
                        rest = rest.get(n..).unwrap_or("");
                    }
                    "DAY" | "Day" | "day" | "DY" | "Dy" | "dy" => {
                        let n = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
                        rest = &rest[n..];
                    }
                    "TZ" | "tz" | "OF" => {
                        let n = rest.chars().take_while(|c| !c.is_whitespace()).count();
                        rest = &rest[n..];
                    }
                    _ => {
                        take_num(&mut rest, 9)?;
                    }
                }
            }
        }
    }
    if let Some(p) = pm {
        if !(1..=12).contains(&h) {
            return Err(Error::new(
                SqlState::INVALID_DATETIME_FORMAT,
                format!("hour \"{h}\" is invalid for the 12-hour clock"),
            ));
        }
        h = h % 12 + if p { 12 } else { 0 };
    }
    let out_of_range = || {
        Error::new(
            SqlState::DATETIME_FIELD_OVERFLOW,
            format!("date/time field value out of range: \"{input}\""),
        )
    };
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(y).map_err(|_| out_of_range())?,
        u32::try_from(mo).map_err(|_| out_of_range())?,
        u32::try_from(d).map_err(|_| out_of_range())?,
    )
    .ok_or_else(out_of_range)?;
    let time = NaiveTime::from_hms_micro_opt(
        u32::try_from(h).map_err(|_| out_of_range())?,
        u32::try_from(mi).map_err(|_| out_of_range())?,
        u32::try_from(s).map_err(|_| out_of_range())?,
        u32::try_from(us).map_err(|_| out_of_range())?,
    )
    .ok_or_else(out_of_range)?;
    Ok(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{text::parse, DataType};

    #[test]
    fn to_char_matches_postgres() {
        let ts = parse("2024-01-05 13:04:05", &DataType::Timestamp).unwrap_or(Value::Null);
        let got = to_char(&ts, "YYYY-MM-DD HH24:MI:SS Mon Month Day Dy HH12 AM").ok();
        assert_eq!(
            got.as_deref(),
            Some("2024-01-05 13:04:05 Jan January   Friday    Fri 01 PM")
        );
        assert_eq!(
            to_char(&ts, "FMMonth FMDD, \"of\" YYYY").ok().as_deref(),
            Some("January 5, of 2024")
        );
        let n = |s: &str| Value::Numeric(numeric::parse_numeric(s).unwrap_or_default());
        assert_eq!(
            to_char(&n("1234.5"), "FM9999.00").ok().as_deref(),
            Some("1234.50")
        );
        assert_eq!(
            to_char(&Value::Int4(42), "999").ok().as_deref(),
            Some("  42")
        );
        assert_eq!(
            to_char(&Value::Int4(-42), "999").ok().as_deref(),
            Some(" -42")
        );
        assert_eq!(
            to_char(&Value::Int4(5), "0999").ok().as_deref(),
            Some(" 0005")
        );
        assert_eq!(
            to_char(&Value::Int4(1234), "99").ok().as_deref(),
            Some(" ##")
        );
        assert_eq!(
            to_char(&Value::Int4(1234567), "9,999,999").ok().as_deref(),
            Some(" 1,234,567")
        );
        assert_eq!(
            to_char(&n("3.14159"), "FM990.99").ok().as_deref(),
            Some("3.14")
        );
    }

    #[test]
    fn parse_templates() {
        let t = parse_with_format("2024-01-31 10:00", "YYYY-MM-DD HH24:MI").map(|t| t.to_string());
        assert_eq!(t.ok().as_deref(), Some("2024-01-31 10:00:00"));
        let t = parse_with_format("05 Jan 2024 01:02 PM", "DD Mon YYYY HH12:MI AM")
            .map(|t| t.to_string());
        assert_eq!(t.ok().as_deref(), Some("2024-01-05 13:02:00"));
        assert!(parse_with_format("2024-13-01", "YYYY-MM-DD").is_err());
    }
}
