//! The `interval` type: months, days and microseconds kept apart, as in
//! PostgreSQL (a month is not a fixed number of days, a day is not always
//! 24 hours across a DST change).
//!
//! The three fields are never folded into each other implicitly: `1 mon` and
//! `30 days` are different values that compare *equal*, because comparison
//! (and hashing for GROUP BY, via `cmp_key`) uses PostgreSQL's "span" of
//! `months * 30 days + days * 24h + micros`. Only `justify_*` move amounts
//! between fields.
//!
//! Text input accepts PostgreSQL's `postgres` style (`1 year 2 mons 3 days
//! 04:05:06`, `@ 1 day ago`, `-1 day`, bare seconds) and ISO 8601 durations
//! (`P1Y2M3DT4H5M6S`); output is the default `postgres` IntervalStyle.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::SqlState;

/// Microseconds in one second / minute / hour / day.
pub const USECS_PER_SEC: i64 = 1_000_000;
pub const USECS_PER_MINUTE: i64 = 60 * USECS_PER_SEC;
pub const USECS_PER_HOUR: i64 = 60 * USECS_PER_MINUTE;
pub const USECS_PER_DAY: i64 = 24 * USECS_PER_HOUR;

/// An interval value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Interval {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

fn out_of_range() -> Error {
    Error::new(SqlState::DATETIME_FIELD_OVERFLOW, "interval out of range")
}

impl Interval {
    /// An interval from its three fields.
    pub fn new(months: i32, days: i32, micros: i64) -> Self {
        Interval {
            months,
            days,
            micros,
        }
    }

    /// The span PostgreSQL compares by: 30-day months, 24-hour days.
    pub fn cmp_key(&self) -> i128 {
        self.months as i128 * 30 * USECS_PER_DAY as i128
            + self.days as i128 * USECS_PER_DAY as i128
            + self.micros as i128
    }

    /// Field-wise sum (`22008` on overflow).
    pub fn checked_add(&self, o: &Interval) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_add(o.months).ok_or_else(out_of_range)?,
            days: self.days.checked_add(o.days).ok_or_else(out_of_range)?,
            micros: self.micros.checked_add(o.micros).ok_or_else(out_of_range)?,
        })
    }

    /// Field-wise negation.
    pub fn checked_neg(&self) -> Result<Interval> {
        Ok(Interval {
            months: self.months.checked_neg().ok_or_else(out_of_range)?,
            days: self.days.checked_neg().ok_or_else(out_of_range)?,
            micros: self.micros.checked_neg().ok_or_else(out_of_range)?,
        })
    }

    /// Field-wise difference.
    pub fn checked_sub(&self, o: &Interval) -> Result<Interval> {
        self.checked_add(&o.checked_neg()?)
    }

    /// `interval * float8`, spilling fractional months into days and
    /// fractional days into time like PostgreSQL's `interval_mul`.
    pub fn mul_f64(&self, factor: f64) -> Result<Interval> {
        if !factor.is_finite() {
            return Err(out_of_range());
        }
        let month_f = self.months as f64 * factor;
        let day_f = self.days as f64 * factor;
        if month_f.abs() >= i32::MAX as f64 || day_f.abs() >= i32::MAX as f64 {
            return Err(out_of_range());
        }
        let months = month_f.trunc() as i32;
        let mut days = day_f.trunc() as i32;
        let month_remainder_days = tsround((month_f - months as f64) * 30.0);
        let mut sec_remainder = tsround(
            (day_f - days as f64 + month_remainder_days - month_remainder_days.trunc()) * 86400.0,
        );
        if sec_remainder.abs() >= 86400.0 {
            let whole = (sec_remainder / 86400.0).trunc();
            days = days.checked_add(whole as i32).ok_or_else(out_of_range)?;
            sec_remainder -= whole * 86400.0;
        }
        days = days
            .checked_add(month_remainder_days.trunc() as i32)
            .ok_or_else(out_of_range)?;
        let micros = (self.micros as f64 * factor + sec_remainder * 1e6).round_ties_even();
        if !micros.is_finite() || micros.abs() >= i64::MAX as f64 {
            return Err(out_of_range());
        }
        Ok(Interval {
            months,
            days,
            micros: micros as i64,
        })
    }

    /// `interval / float8` (`22012` for zero).
    pub fn div_f64(&self, divisor: f64) -> Result<Interval> {
        if divisor == 0.0 {
            return Err(Error::division_by_zero());
        }
        self.mul_f64(1.0 / divisor)
    }

    /// `justify_hours`: whole 24-hour runs of time become days.
    pub fn justify_hours(&self) -> Result<Interval> {
        let mut r = *self;
        let extra = r.micros / USECS_PER_DAY;
        r.micros -= extra * USECS_PER_DAY;
        r.days = i32::try_from(r.days as i64 + extra).map_err(|_| out_of_range())?;
        if r.days > 0 && r.micros < 0 {
            r.micros += USECS_PER_DAY;
            r.days -= 1;
        } else if r.days < 0 && r.micros > 0 {
            r.micros -= USECS_PER_DAY;
            r.days += 1;
        }
        Ok(r)
    }

    /// `justify_days`: whole 30-day runs become months.
    pub fn justify_days(&self) -> Result<Interval> {
        let mut r = *self;
        let extra = r.days / 30;
        r.days -= extra * 30;
        r.months = r.months.checked_add(extra).ok_or_else(out_of_range)?;
        if r.months > 0 && r.days < 0 {
            r.days += 30;
            r.months -= 1;
        } else if r.months < 0 && r.days > 0 {
            r.days -= 30;
            r.months += 1;
        }
        Ok(r)
    }

    /// `justify_interval`: both, with the signs made consistent.
    pub fn justify_interval(&self) -> Result<Interval> {
        let mut r = *self;
        let extra = r.micros / USECS_PER_DAY;
        r.micros -= extra * USECS_PER_DAY;
        r.days = i32::try_from(r.days as i64 + extra).map_err(|_| out_of_range())?;
        let extra = r.days / 30;
        r.days -= extra * 30;
        r.months = r.months.checked_add(extra).ok_or_else(out_of_range)?;
        if r.months > 0 && (r.days < 0 || (r.days == 0 && r.micros < 0)) {
            r.days += 30;
            r.months -= 1;
        } else if r.months < 0 && (r.days > 0 || (r.days == 0 && r.micros > 0)) {
            r.days -= 30;
            r.months += 1;
        }
        if r.days > 0 && r.micros < 0 {
            r.micros += USECS_PER_DAY;
            r.days -= 1;
        } else if r.days < 0 && r.micros > 0 {
            r.micros -= USECS_PER_DAY;
            r.days += 1;
        }
        Ok(r)
    }

    /// The interval as seconds (`extract(epoch from interval)`): 365.25-day
    /// years and 30-day months, as PostgreSQL does.
    pub fn epoch_seconds(&self) -> f64 {
        let years = (self.months / 12) as f64;
        let months = (self.months % 12) as f64;
        years * 365.25 * 86400.0
            + months * 30.0 * 86400.0
            + self.days as f64 * 86400.0
            + self.micros as f64 / 1e6
    }

    /// PostgreSQL's `postgres` IntervalStyle output.
    pub fn format(&self) -> String {
        let mut out = String::new();
        let mut is_zero = true;
        let mut is_before = false;
        let years = self.months / 12;
        let mons = self.months % 12;
        for (value, unit) in [(years, "year"), (mons, "mon"), (self.days, "day")] {
            if value == 0 {
                continue;
            }
            if !is_zero {
                out.push(' ');
            }
            if is_before && value > 0 {
                out.push('+');
            }
            out.push_str(&format!(
                "{value} {unit}{}",
                if value != 1 { "s" } else { "" }
            ));
            is_before = value < 0;
            is_zero = false;
        }
        if is_zero || self.micros != 0 {
            if !is_zero {
                out.push(' ');
            }
            if self.micros < 0 {
                out.push('-');
            } else if is_before {
                out.push('+');
            }
            out.push_str(&format_hms(self.micros.unsigned_abs()));
        }
        out
    }

    /// Parses interval text input (`22007` on bad syntax).
    pub fn parse(text: &str) -> Result<Interval> {
        let bad = || {
            Error::new(
                SqlState::INVALID_DATETIME_FORMAT,
                format!("invalid input syntax for type interval: \"{text}\""),
            )
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad());
        }
        if let Some(rest) = t.strip_prefix('P').or_else(|| t.strip_prefix('p')) {
            return parse_iso(rest).ok_or_else(bad);
        }
        parse_postgres(t).map_err(|e| if e { out_of_range() } else { bad() })
    }
}

/// `hh:mm:ss[.ffffff]` of an unsigned number of microseconds; hours may
/// exceed 24 and two digits.
pub fn format_hms(micros: u64) -> String {
    let us = USECS_PER_SEC as u64;
    let hours = micros / (USECS_PER_HOUR as u64);
    let mins = (micros / (USECS_PER_MINUTE as u64)) % 60;
    let secs = (micros / us) % 60;
    let frac = micros % us;
    let mut s = format!("{hours:02}:{mins:02}:{secs:02}");
    push_fraction(&mut s, frac);
    s
}

/// Appends `.ffffff` with trailing zeros removed (nothing for zero).
pub fn push_fraction(s: &mut String, frac_micros: u64) {
    if frac_micros != 0 {
        let f = format!("{frac_micros:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
}

fn tsround(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Accumulates parsed fields in floating point so fractional units spill
/// downwards (`1.5 days` = 1 day 12:00:00), then checks ranges once.
#[derive(Default)]
struct Acc {
    months: f64,
    days: f64,
    micros: f64,
}

impl Acc {
    fn add(&mut self, value: f64, unit: &str) -> bool {
        match unit {
            "millennium" | "millennia" | "millenniums" | "mil" | "mils" => {
                self.add_months(value * 12000.0)
            }
            "century" | "centuries" | "cent" | "c" => self.add_months(value * 1200.0),
            "decade" | "decades" | "dec" | "decs" => self.add_months(value * 120.0),
            "year" | "years" | "y" | "yr" | "yrs" => self.add_months(value * 12.0),
            "month" | "months" | "mon" | "mons" => self.add_months(value),
            "week" | "weeks" | "w" => self.add_days(value * 7.0),
            "day" | "days" | "d" => self.add_days(value),
            "hour" | "hours" | "h" | "hr" | "hrs" => self.micros += value * USECS_PER_HOUR as f64,
            "minute" | "minutes" | "m" | "min" | "mins" => {
                self.micros += value * USECS_PER_MINUTE as f64
            }
            "second" | "seconds" | "s" | "sec" | "secs" => {
                self.micros += value * USECS_PER_SEC as f64
            }
            "millisecond" | "milliseconds" | "ms" | "msec" | "msecs" => {
                self.micros += value * 1000.0
            }
            "microsecond" | "microseconds" | "us" | "usec" | "usecs" => self.micros += value,
            _ => return false,
        }
        true
    }

    fn add_months(&mut self, m: f64) {
        let whole = m.trunc();
        self.months += whole;
        self.add_days(tsround((m - whole) * 30.0));
    }

    fn add_days(&mut self, d: f64) {
        let whole = d.trunc();
        self.days += whole;
        self.micros += ((d - whole) * USECS_PER_DAY as f64).round();
    }

    fn finish(self, negate: bool) -> std::result::Result<Interval, bool> {
        let sign = if negate { -1.0 } else { 1.0 };
        let (m, d, us) = (
            self.months * sign,
            self.days * sign,
            (self.micros * sign).round(),
        );
        if m.abs() > i32::MAX as f64 || d.abs() > i32::MAX as f64 || us.abs() >= i64::MAX as f64 {
            return Err(true);
        }
        Ok(Interval {
            months: m as i32,
            days: d as i32,
            micros: us as i64,
        })
    }
}

/// Parses `[-]h:m[:s[.f]]` into microseconds.
fn parse_clock(tok: &str) -> Option<f64> {
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let parts: Vec<&str> = body.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let h: f64 = parse_unsigned(parts.first()?)?;
    let m: f64 = parse_unsigned(parts.get(1)?)?;
    let s: f64 = match parts.get(2) {
        Some(p) => parse_unsigned(p)?,
        None => 0.0,
    };
    if m >= 60.0 || s >= 60.0 && parts.len() == 3 && s > 60.0 {
        return None;
    }
    let total = h * USECS_PER_HOUR as f64 + m * USECS_PER_MINUTE as f64 + s * USECS_PER_SEC as f64;
    Some(if neg { -total } else { total })
}

fn parse_unsigned(s: &str) -> Option<f64> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    s.parse().ok()
}

/// `Err(true)` is overflow, `Err(false)` bad syntax.
fn parse_postgres(t: &str) -> std::result::Result<Interval, bool> {
    let lower = t.to_ascii_lowercase();
    let mut s = lower.as_str();
    if let Some(r) = s.strip_prefix('@') {
        s = r;
    }
    // Split numbers from unit words even without spaces (`1day`, `3h`).
    let mut toks: Vec<String> = Vec::new();
    for word in s.split_whitespace() {
        let mut cur = String::new();
        let mut cur_alpha = None;
        for c in word.chars() {
            let alpha = c.is_ascii_alphabetic();
            if let Some(prev) = cur_alpha {
                if prev != alpha && !cur.is_empty() {
                    toks.push(std::mem::take(&mut cur));
                }
            }
            cur_alpha = Some(alpha);
            cur.push(c);
        }
        if !cur.is_empty() {
            toks.push(cur);
        }
    }
    let mut negate = false;
    if toks.last().map(String::as_str) == Some("ago") {
        negate = true;
        toks.pop();
    }
    if toks.is_empty() {
        return Err(false);
    }
    let mut acc = Acc::default();
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        if tok.contains(':') {
            acc.micros += parse_clock(tok).ok_or(false)?;
            i += 1;
            continue;
        }
        let value: f64 = match tok.parse::<f64>() {
            Ok(v)
                if v.is_finite()
                    && tok.chars().all(|c| c.is_ascii_digit() || "+-.".contains(c)) =>
            {
                v
            }
            _ => return Err(false),
        };
        match toks.get(i + 1) {
            Some(unit) if unit.chars().all(|c| c.is_ascii_alphabetic()) => {
                if !acc.add(value, unit) {
                    return Err(false);
                }
                i += 2;
            }
            // A bare trailing number is seconds (`'10'::interval` = 00:00:10).
            None => {
                acc.micros += value * USECS_PER_SEC as f64;
                i += 1;
            }
            Some(_) => return Err(false),
        }
    }
    acc.finish(negate)
}

/// ISO 8601 `PnYnMnWnDTnHnMnS` (after the `P`).
fn parse_iso(rest: &str) -> Option<Interval> {
    let mut acc = Acc::default();
    let mut in_time = false;
    let mut num = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c {
            'T' | 't' => {
                if !num.is_empty() {
                    return None;
                }
                in_time = true;
            }
            '0'..='9' | '.' | '-' | '+' => num.push(c),
            _ => {
                let v: f64 = num.parse().ok()?;
                num.clear();
                let unit = match (c.to_ascii_uppercase(), in_time) {
                    ('Y', false) => "year",
                    ('M', false) => "month",
                    ('W', false) => "week",
                    ('D', false) => "day",
                    ('H', true) => "hour",
                    ('M', true) => "minute",
                    ('S', true) => "second",
                    _ => return None,
                };
                acc.add(v, unit);
                any = true;
            }
        }
    }
    if !num.is_empty() || !any {
        return None;
    }
    acc.finish(false).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        Interval::parse(s)
            .map(|i| i.format())
            .unwrap_or_else(|e| e.message())
    }

    #[test]
    fn format_matches_postgres() {
        assert_eq!(
            p("1 year 2 mons 3 days 04:05:06"),
            "1 year 2 mons 3 days 04:05:06"
        );
        assert_eq!(p("-1 second"), "-00:00:01");
        assert_eq!(p("0"), "00:00:00");
        assert_eq!(p("-1 year 2 mons"), "-10 mons");
        assert_eq!(p("-1 day 2 hours"), "-1 days +02:00:00");
        assert_eq!(p("1.5 days"), "1 day 12:00:00");
        assert_eq!(p("2 hours 30 minutes"), "02:30:00");
        assert_eq!(p("-1 day"), "-1 days");
        assert_eq!(p("@ 1 day ago"), "-1 days");
        assert_eq!(p("P1Y2M3DT4H5M6S"), "1 year 2 mons 3 days 04:05:06");
        assert_eq!(p("1.5 years"), "1 year 6 mons");
        assert_eq!(p("100 hours"), "100:00:00");
        assert_eq!(p("0.5 seconds"), "00:00:00.5");
        assert_eq!(p("1 week"), "7 days");
        assert_eq!(p("abc"), "invalid input syntax for type interval: \"abc\"");
        assert_eq!(p(""), "invalid input syntax for type interval: \"\"");
    }

    #[test]
    fn justify_and_compare() {
        let i = Interval::new(0, 0, 25 * USECS_PER_HOUR);
        assert_eq!(
            i.justify_hours().map(|i| i.format()).ok(),
            Some("1 day 01:00:00".into())
        );
        assert_eq!(
            Interval::new(1, 0, 0).cmp_key(),
            Interval::new(0, 30, 0).cmp_key()
        );
        let m = Interval::new(1, 0, 0).mul_f64(0.5).map(|i| i.format()).ok();
        assert_eq!(m, Some("15 days".into()));
    }
}
