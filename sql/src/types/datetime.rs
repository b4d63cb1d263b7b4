//! Text input and output of `date`, `time`, `timestamp` and `timestamptz`.
//!
//! Input is tokenised loosely, as PostgreSQL's datetime parser is: a date
//! (`2024-01-31`, `2024/01/31`, `01/31/2024` (DateStyle MDY), `20240131`,
//! `Jan 31 2024`, `31 January 2024`), an optional time after a space or `T`
//! (`10:00`, `10:00:00.123456`, `10pm` is not supported), an optional zone
//! (`Z`, `UTC`, `GMT`, `+02`, `-05:30`, `+0200`) and an optional `BC`. The
//! special words `epoch`, `today`, `yesterday`, `tomorrow` and `allballs`
//! are understood. `infinity` and `-infinity` are represented by chrono's
//! extreme values (`NaiveDate::MAX`, `NaiveDateTime::MIN`, ...), which
//! format back as the words and sort after/before every finite value.
//!
//! `timestamptz` values are instants (UTC); text without an offset is read
//! in the session's TimeZone and output is shown in it (`zone::current`).
//! A zone in the text may also be an abbreviation (`PST`) or an IANA name
//! (`Europe/Paris`).
//! Output follows DateStyle `ISO, MDY`, with years before 1 AD shown as
//! `0001-01-01 BC` (chrono's year 0 is 1 BC).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};

use super::interval::push_fraction;
use super::zone::{self, Zone};
use crate::error::{Error, Result};
use crate::SqlState;

/// The parts found in a date/time string.
#[derive(Debug, Default)]
struct Parsed {
    date: Option<NaiveDate>,
    time: Option<NaiveTime>,
    /// The zone the text names (an offset, abbreviation or IANA name).
    zone: Option<Zone>,
    /// `infinity` (true) or `-infinity` (false).
    infinity: Option<bool>,
}

fn bad(ty: &str, text: &str) -> Error {
    Error::new(
        SqlState::INVALID_DATETIME_FORMAT,
        format!("invalid input syntax for type {ty}: \"{text}\""),
    )
}

fn field_overflow(text: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("date/time field value out of range: \"{text}\""),
    )
}

fn month_of(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let n = name.to_ascii_lowercase();
    let n = n.trim_end_matches('.');
    if n.len() < 3 {
        return None;
    }
    NAMES
        .iter()
        .position(|m| n.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Builds a date, with `22008` for fields out of range (`2024-13-01`).
fn make_date(y: i64, m: i64, d: i64, bc: bool, text: &str) -> Result<NaiveDate> {
    let year = if bc { 1 - y } else { y };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || y == 0 && !bc {
        return Err(field_overflow(text));
    }
    let year = i32::try_from(year).map_err(|_| field_overflow(text))?;
    NaiveDate::from_ymd_opt(year, m as u32, d as u32).ok_or_else(|| field_overflow(text))
}

/// Parses `hh:mm[:ss[.ffffff]]`.
fn parse_time_token(tok: &str) -> Option<NaiveTime> {
    let mut parts = tok.split(':');
    let h = num(parts.next()?)?;
    let m = num(parts.next()?)?;
    let (s, us) = match parts.next() {
        Some(sec) => {
            let (whole, frac) = sec.split_once('.').unwrap_or((sec, ""));
            let s = num(whole)?;
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Round to microseconds, as PostgreSQL does.
            let digits: String = frac.chars().chain(std::iter::repeat('0')).take(7).collect();
            let v: i64 = digits.parse().ok()?;
            (s, (v + 5) / 10)
        }
        None => (0, 0),
    };
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    let base = NaiveTime::from_hms_opt(h as u32, m as u32, s as u32)?;
    // `us` may round up to a whole second.
    Some(base + Duration::microseconds(us))
}

/// Parses a zone suffix: `Z`, `UTC`, `+hh`, `+hh:mm`, `+hhmm`.
fn parse_zone(tok: &str) -> Option<i32> {
    let up = tok.to_ascii_uppercase();
    if matches!(up.as_str(), "Z" | "UTC" | "GMT" | "UT" | "ZULU") {
        return Some(0);
    }
    let sign = match tok.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = tok.get(1..)?;
    let (h, m, s) = if let Some((h, rest)) = body.split_once(':') {
        let (m, s) = rest.split_once(':').unwrap_or((rest, "0"));
        (num(h)?, num(m)?, num(s)?)
    } else if body.len() <= 2 {
        (num(body)?, 0, 0)
    } else if body.len() == 4 {
        (num(body.get(..2)?)?, num(body.get(2..)?)?, 0)
    } else {
        return None;
    };
    if h > 15 || m > 59 || s > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + s) as i32)
}

/// Splits input into words: whitespace, `T` between date and time, and a
/// sign that starts a zone after a time (`10:00+02`).
fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',') {
        if word.is_empty() {
            continue;
        }
        let mut w = word.to_string();
        // `2024-01-31T10:00:00Z`
        if let Some(pos) = w.find(['T', 't']) {
            let (d, t) = w.split_at(pos);
            if d.len() >= 8 && d.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
                out.push(d.to_string());
                w = t.get(1..).unwrap_or("").to_string();
            }
        }
        // A time followed directly by a zone: split at the sign or `Z`.
        if w.contains(':') || w.bytes().next().is_some_and(|b| b.is_ascii_digit()) && w.len() == 6 {
            if let Some(pos) = w
                .get(1..)
                .and_then(|r| r.find(['+', '-', 'Z', 'z']))
                .map(|p| p + 1)
            {
                let zone = w.split_off(pos);
                out.push(w);
                out.push(zone);
                continue;
            }
        }
        if !w.is_empty() {
            out.push(w);
        }
    }
    out
}

fn parse_parts(text: &str, ty: &str) -> Result<Parsed> {
    let lower = text.trim().to_ascii_lowercase();
    let today = zone::current().to_local(&Utc::now().naive_utc()).date();
    let mut p = Parsed::default();
    match lower.as_str() {
        "epoch" => {
            p.date = NaiveDate::from_ymd_opt(1970, 1, 1);
            p.time = Some(NaiveTime::MIN);
            return Ok(p);
        }
        "today" => p.date = Some(today),
        "yesterday" => p.date = today.pred_opt(),
        "tomorrow" => p.date = today.succ_opt(),
        "allballs" => p.time = Some(NaiveTime::MIN),
        "infinity" | "+infinity" | "-infinity" => {
            p.infinity = Some(!lower.starts_with('-'));
            return Ok(p);
        }
        _ => {}
    }
    if p.date.is_some() || p.time.is_some() {
        return Ok(p);
    }
    let toks = tokenize(text);
    if toks.is_empty() {
        return Err(bad(ty, text));
    }
    let bc = toks.iter().any(|t| t.eq_ignore_ascii_case("bc"));
    let mut meridiem: Option<bool> = None;
    let mut month_name: Option<u32> = None;
    let mut loose_nums: Vec<&str> = Vec::new();
    for tok in &toks {
        let t = tok.as_str();
        if t.eq_ignore_ascii_case("bc") || t.eq_ignore_ascii_case("ad") {
            continue;
        }
        if t.eq_ignore_ascii_case("am") || t.eq_ignore_ascii_case("pm") {
            meridiem = Some(t.eq_ignore_ascii_case("pm"));
            continue;
        }
        // `hhmmss` after a date (ISO basic format).
        if p.date.is_some() && p.time.is_none() && t.len() == 6 && num(t).is_some() {
            let spaced = format!("{}:{}:{}", &t[..2], &t[2..4], &t[4..]);
            p.time = Some(parse_time_token(&spaced).ok_or_else(|| field_overflow(text))?);
            continue;
        }
        if p.time.is_none() && t.contains(':') && !t.starts_with(['+', '-']) {
            p.time = Some(parse_time_token(t).ok_or_else(|| field_or_bad(t, ty, text))?);
            continue;
        }
        if p.time.is_some() && p.zone.is_none() {
            if let Some(z) = parse_zone(t) {
                p.zone = Some(Zone::Fixed(z));
                continue;
            }
        }
        if p.date.is_some()
            && p.zone.is_none()
            && t.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        {
            if let Some(z) = named_zone(t) {
                p.zone = Some(z);
                continue;
            }
        }
        if p.date.is_none() {
            if let Some(d) = parse_date_token(t, bc, text)? {
                p.date = Some(d);
                continue;
            }
        }
        if let Some(m) = month_of(t) {
            if month_name.is_some() {
                return Err(bad(ty, text));
            }
            month_name = Some(m);
            continue;
        }
        if t.bytes().all(|b| b.is_ascii_digit()) {
            loose_nums.push(t);
            continue;
        }
        if matches!(t.to_ascii_uppercase().as_str(), "Z" | "UTC" | "GMT") && p.zone.is_none() {
            p.zone = Some(Zone::UTC);
            continue;
        }
        return Err(bad(ty, text));
    }
    if let Some(pm) = meridiem {
        let t = p.time.ok_or_else(|| bad(ty, text))?;
        let h = t.hour();
        if !(1..=12).contains(&h) {
            return Err(field_overflow(text));
        }
        let h24 = h % 12 + if pm { 12 } else { 0 };
        p.time = t.with_hour(h24);
    }
    if let Some(m) = month_name {
        // `Jan 31 2024` or `31 Jan 2024`: the 3-or-more-digit number (or the
        // later one) is the year.
        let [a, b] = loose_nums.as_slice() else {
            return Err(bad(ty, text));
        };
        let (day, year) = if a.len() > 2 { (b, a) } else { (a, b) };
        p.date = Some(make_date(
            num(year).ok_or_else(|| bad(ty, text))?,
            m as i64,
            num(day).ok_or_else(|| bad(ty, text))?,
            bc,
            text,
        )?);
    } else if !loose_nums.is_empty() {
        return Err(bad(ty, text));
    }
    Ok(p)
}

fn field_or_bad(tok: &str, ty: &str, text: &str) -> Error {
    // Well-formed digits with out-of-range values are a field overflow.
    if tok
        .split(':')
        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
    {
        field_overflow(text)
    } else {
        bad(ty, text)
    }
}

/// A date token: `yyyy-mm-dd`, `yyyy/mm/dd`, `mm/dd/yyyy`, `mm-dd-yyyy`, `yyyymmdd`.
fn parse_date_token(t: &str, bc: bool, text: &str) -> Result<Option<NaiveDate>> {
    let parts: Vec<&str> = t.split(['-', '/', '.']).collect();
    if parts.len() == 3 && parts.iter().all(|p| num(p).is_some()) {
        let n: Vec<i64> = parts.iter().filter_map(|p| num(p)).collect();
        let (y, m, d) = if parts[0].len() >= 3 {
            (n[0], n[1], n[2])
        } else {
            (n[2], n[0], n[1])
        };
        return make_date(y, m, d, bc, text).map(Some);
    }
    if parts.len() == 3 && parts[0].len() >= 3 {
        if let (Some(y), Some(m), Some(d)) = (num(parts[0]), month_of(parts[1]), num(parts[2])) {
            return make_date(y, m as i64, d, bc, text).map(Some);
        }
    }
    if parts.len() == 3 {
        if let (Some(d), Some(m), Some(y)) = (num(parts[0]), month_of(parts[1]), num(parts[2])) {
            return make_date(y, m as i64, d, bc, text).map(Some);
        }
    }
    if parts.len() == 1 && (t.len() == 8 || t.len() == 6) && num(t).is_some() {
        let split = t.len() - 4;
        let (y, m, d) = (
            num(&t[..split]),
            num(&t[split..split + 2]),
            num(&t[split + 2..]),
        );
        if let (Some(y), Some(m), Some(d)) = (y, m, d) {
            let y = if t.len() == 6 {
                y + if y < 70 { 2000 } else { 1900 }
            } else {
                y
            };
            return make_date(y, m, d, bc, text).map(Some);
        }
    }
    Ok(None)
}

/// `date` input.
pub fn parse_date(text: &str) -> Result<NaiveDate> {
    let p = parse_parts(text, "date")?;
    match p.infinity {
        Some(true) => Ok(NaiveDate::MAX),
        Some(false) => Ok(NaiveDate::MIN),
        None => p.date.ok_or_else(|| bad("date", text)),
    }
}

/// `time` input (a date or zone in the text is ignored, as in PostgreSQL).
pub fn parse_time(text: &str) -> Result<NaiveTime> {
    let p = parse_parts(text, "time")?;
    p.time.ok_or_else(|| bad("time", text))
}

/// `timestamp` input: a zone in the text is ignored.
pub fn parse_timestamp(text: &str) -> Result<NaiveDateTime> {
    let p = parse_parts(text, "timestamp")?;
    if let Some(pos) = p.infinity {
        return Ok(if pos {
            NaiveDateTime::MAX
        } else {
            NaiveDateTime::MIN
        });
    }
    let date = p.date.ok_or_else(|| bad("timestamp", text))?;
    Ok(date.and_time(p.time.unwrap_or(NaiveTime::MIN)))
}

/// `timestamptz` input, read in the session's zone unless the text names one.
pub fn parse_timestamptz(text: &str) -> Result<DateTime<Utc>> {
    parse_timestamptz_in(text, zone::current())
}

/// `timestamptz` input for a session whose TimeZone is `session` (used
/// when the text names no zone).
pub fn parse_timestamptz_in(text: &str, session: Zone) -> Result<DateTime<Utc>> {
    let p = parse_parts(text, "timestamp with time zone")?;
    if let Some(pos) = p.infinity {
        return Ok(if pos {
            DateTime::<Utc>::MAX_UTC
        } else {
            DateTime::<Utc>::MIN_UTC
        });
    }
    let date = p
        .date
        .ok_or_else(|| bad("timestamp with time zone", text))?;
    let local = date.and_time(p.time.unwrap_or(NaiveTime::MIN));
    let utc = p
        .zone
        .unwrap_or(session)
        .to_utc(&local)
        .ok_or_else(|| field_overflow(text))?;
    Ok(utc.and_utc())
}

fn year_text(year: i32) -> (String, bool) {
    if year <= 0 {
        (format!("{:04}", 1 - year as i64), true)
    } else {
        (format!("{year:04}"), false)
    }
}

/// `2024-01-31` (or `0044-03-15 BC`).
pub fn format_date(d: &NaiveDate) -> String {
    if let Some(inf) = infinity_text(*d == NaiveDate::MAX, *d == NaiveDate::MIN) {
        return inf;
    }
    let (y, bc) = year_text(d.year());
    format!(
        "{y}-{:02}-{:02}{}",
        d.month(),
        d.day(),
        if bc { " BC" } else { "" }
    )
}

/// `13:45:00` or `13:45:00.5`.
pub fn format_time(t: &NaiveTime) -> String {
    let mut s = format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
    push_fraction(&mut s, (t.nanosecond() / 1000).min(999_999) as u64);
    s
}

/// `infinity`/`-infinity`: the extreme chrono values stand for them.
fn infinity_text(max: bool, min: bool) -> Option<String> {
    match (max, min) {
        (true, _) => Some("infinity".into()),
        (_, true) => Some("-infinity".into()),
        _ => None,
    }
}

/// A date as the timestamp at its midnight, infinities preserved.
pub fn date_to_ts(d: &NaiveDate) -> NaiveDateTime {
    match *d {
        NaiveDate::MAX => NaiveDateTime::MAX,
        NaiveDate::MIN => NaiveDateTime::MIN,
        d => d.and_time(NaiveTime::MIN),
    }
}

/// A timestamp's date, infinities preserved.
pub fn ts_to_date(t: &NaiveDateTime) -> NaiveDate {
    match *t {
        NaiveDateTime::MAX => NaiveDate::MAX,
        NaiveDateTime::MIN => NaiveDate::MIN,
        t => t.date(),
    }
}

/// Whether a date/timestamp value is one of the infinities.
pub fn is_infinite(ts: &NaiveDateTime) -> bool {
    *ts == NaiveDateTime::MAX || *ts == NaiveDateTime::MIN
}

fn format_ts_parts(ts: &NaiveDateTime, zone: &str) -> String {
    if let Some(inf) = infinity_text(*ts == NaiveDateTime::MAX, *ts == NaiveDateTime::MIN) {
        return inf;
    }
    let (y, bc) = year_text(ts.year());
    format!(
        "{y}-{:02}-{:02} {}{zone}{}",
        ts.month(),
        ts.day(),
        format_time(&ts.time()),
        if bc { " BC" } else { "" }
    )
}

/// `2024-01-31 13:45:00`.
pub fn format_timestamp(ts: &NaiveDateTime) -> String {
    format_ts_parts(ts, "")
}

/// `2024-01-31 13:45:00+00`, in the session's zone.
pub fn format_timestamptz(ts: &DateTime<Utc>) -> String {
    format_timestamptz_in(ts, zone::current())
}

/// `timestamptz` output in `zone`: `2024-01-31 15:45:00+02`, `...+05:30`.
pub fn format_timestamptz_in(ts: &DateTime<Utc>, zone: Zone) -> String {
    let utc = ts.naive_utc();
    if is_infinite(&utc) {
        return format_ts_parts(&utc, "");
    }
    let offset = zone.offset_at(&utc);
    let local = zone.to_local(&utc);
    format_ts_parts(&local, &zone::offset_text(offset))
}

/// A zone named by a word in date/time input: an abbreviation or an IANA
/// name (not a POSIX spelling, which would swallow ordinary words).
fn named_zone(word: &str) -> Option<Zone> {
    if let Some(off) = zone::abbreviation(word) {
        return Some(Zone::Fixed(off));
    }
    if word.contains('/') || word.len() >= 3 {
        return zone::parse_named(word).filter(|z| matches!(z, Zone::Named(_)));
    }
    None
}

/// The PostgreSQL epoch, 2000-01-01, used by the binary formats.
pub fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> String {
        parse_timestamp(s)
            .map(|t| format_timestamp(&t))
            .unwrap_or_else(|e| e.message())
    }

    fn tz(s: &str) -> String {
        parse_timestamptz(s)
            .map(|t| format_timestamptz(&t))
            .unwrap_or_else(|e| e.message())
    }

    #[test]
    fn parse_and_format() {
        assert_eq!(ts("2024-01-31"), "2024-01-31 00:00:00");
        assert_eq!(ts("2024-01-31 10:00"), "2024-01-31 10:00:00");
        assert_eq!(ts("2024-01-31T10:00:00Z"), "2024-01-31 10:00:00");
        assert_eq!(ts("2024-01-31 10:00:00.5"), "2024-01-31 10:00:00.5");
        assert_eq!(ts("Jan 31 2024 10:00"), "2024-01-31 10:00:00");
        assert_eq!(ts("epoch"), "1970-01-01 00:00:00");
        assert_eq!(ts("2024-01-05 10:00:00 PM"), "2024-01-05 22:00:00");
        assert_eq!(ts("2024-01-05 12:30 am"), "2024-01-05 00:30:00");
        assert_eq!(ts("20240105 101112"), "2024-01-05 10:11:12");
        assert_eq!(tz("2024-01-31 10:00:00+02"), "2024-01-31 08:00:00+00");
        assert_eq!(tz("2024-01-31T10:00:00Z"), "2024-01-31 10:00:00+00");
        assert_eq!(tz("2024-01-31 10:00:00-05:30"), "2024-01-31 15:30:00+00");
        let t = parse_timestamptz_in("2024-01-31 10:00", Zone::Fixed(19800))
            .map(|t| format_timestamptz_in(&t, Zone::Fixed(19800)));
        assert_eq!(t.ok().as_deref(), Some("2024-01-31 10:00:00+05:30"));
        let t = parse_timestamptz("2024-01-31 10:00Z")
            .map(|t| format_timestamptz_in(&t, Zone::Fixed(-7200)));
        assert_eq!(t.ok().as_deref(), Some("2024-01-31 08:00:00-02"));
        assert_eq!(tz("2024-07-01 12:00 PST"), "2024-07-01 20:00:00+00");
        assert_eq!(
            tz("2024-07-01 12:00 Europe/Paris"),
            "2024-07-01 10:00:00+00"
        );
        assert_eq!(
            ts("abc"),
            "invalid input syntax for type timestamp: \"abc\""
        );
        assert_eq!(
            ts("2024-13-01"),
            "date/time field value out of range: \"2024-13-01\""
        );
        let d = parse_date("01/31/2024").map(|d| format_date(&d)).ok();
        assert_eq!(d.as_deref(), Some("2024-01-31"));
        let d = parse_date("0044-03-15 BC").map(|d| format_date(&d)).ok();
        assert_eq!(d.as_deref(), Some("0044-03-15 BC"));
        let t = parse_time("13:45:00.500").map(|t| format_time(&t)).ok();
        assert_eq!(t.as_deref(), Some("13:45:00.5"));
        assert!(parse_date("2023-02-29").is_err());
        assert_eq!(ts("infinity"), "infinity");
        assert_eq!(tz("-infinity"), "-infinity");
        let d = parse_date("infinity").map(|d| format_date(&d)).ok();
        assert_eq!(d.as_deref(), Some("infinity"));
        assert!(parse_time("25:00").is_err());
    }
}
