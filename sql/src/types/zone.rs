//! Time zones: the session's `TimeZone` and the zones named in literals and
//! `AT TIME ZONE`.
//!
//! A `timestamptz` is an instant (stored as UTC); the session's TimeZone
//! decides how it is shown, how text without an offset is read, and where
//! day boundaries fall (casts to `date`, `date_trunc`, `extract`, adding
//! days or months across a DST change). PostgreSQL keeps that zone in a
//! per-backend global; RustyDB serves each connection on a thread of its
//! own, so the zone lives in a thread-local (`current`), set by the session
//! before it runs a statement and by the server before it encodes rows. A
//! thread that never set it works in UTC.
//!
//! Zones come from the IANA database compiled into `chrono-tz` (the same
//! names PostgreSQL accepts: `Europe/Paris`, `EST5EDT`, `UTC`), plus fixed
//! offsets. The spellings follow PostgreSQL:
//! - `SET TimeZone`: an IANA name, a number of hours east of UTC (`-7`,
//!   `5.5`, shown as `<-07>+07`), or a POSIX-style `ABC+3` (hours *west*);
//! - literals and `AT TIME ZONE`: the common abbreviations (`PST`, `CEST`)
//!   as fixed offsets, IANA names, and POSIX-style numeric offsets
//!   (`+05` = five hours west, as `AT TIME ZONE '+05'` means in PostgreSQL).
//!
//! A local time that a DST change skips (`02:30` on a spring-forward day)
//! is read with the offset in force before the change, and one that occurs
//! twice (fall-back) with the offset after it: PostgreSQL's rule.

use std::cell::Cell;

use chrono::{Duration, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::{OffsetName, Tz};

/// A time zone: a fixed offset or a zone with rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// Seconds east of UTC.
    Fixed(i32),
    Named(Tz),
}

impl Zone {
    pub const UTC: Zone = Zone::Fixed(0);

    /// The offset east of UTC, in seconds, in force at a UTC instant.
    pub fn offset_at(&self, utc: &NaiveDateTime) -> i32 {
        match self {
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
        }
    }

    /// The zone's abbreviation at a UTC instant (`EDT`), as `to_char`'s
    /// `TZ` prints it; a fixed offset prints as `+05:30`-style text.
    pub fn abbreviation_at(&self, utc: &NaiveDateTime) -> String {
        match self {
            Zone::Named(tz) => match tz.offset_from_utc_datetime(utc).abbreviation() {
                Some(a) => a.to_string(),
                None => offset_text(self.offset_at(utc)),
            },
            Zone::Fixed(s) => offset_text(*s),
        }
    }

    /// The local wall-clock time of a UTC instant (infinities unchanged).
    pub fn to_local(&self, utc: &NaiveDateTime) -> NaiveDateTime {
        if super::datetime::is_infinite(utc) {
            return *utc;
        }
        utc.checked_add_signed(Duration::seconds(self.offset_at(utc) as i64))
            .unwrap_or(*utc)
    }

    /// The UTC instant of a local wall-clock time in this zone, or `None`
    /// when it falls outside the representable range.
    pub fn to_utc(&self, local: &NaiveDateTime) -> Option<NaiveDateTime> {
        if super::datetime::is_infinite(local) {
            return Some(*local);
        }
        let offset = match self {
            Zone::Fixed(s) => *s,
            Zone::Named(tz) => match tz.offset_from_local_datetime(local) {
                LocalResult::Single(o) => o.fix().local_minus_utc(),
                // Fall-back: the later instant (the offset after the change).
                LocalResult::Ambiguous(_, after) => after.fix().local_minus_utc(),
                // Spring-forward gap: the offset in force before the change.
                LocalResult::None => {
                    let before = local.checked_sub_signed(Duration::days(1))?;
                    tz.offset_from_utc_datetime(&before).fix().local_minus_utc()
                }
            },
        };
        local.checked_sub_signed(Duration::seconds(offset as i64))
    }
}

/// `+05:30`, `-03`, `+00`: an offset as PostgreSQL prints it in output.
pub fn offset_text(offset: i32) -> String {
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.unsigned_abs();
    let (h, m, s) = (a / 3600, (a / 60) % 60, a % 60);
    match (m, s) {
        (0, 0) => format!("{sign}{h:02}"),
        (_, 0) => format!("{sign}{h:02}:{m:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{s:02}"),
    }
}

thread_local! {
    static CURRENT: Cell<Zone> = const { Cell::new(Zone::UTC) };
}

/// The zone of the session this thread is serving.
pub fn current() -> Zone {
    CURRENT.with(|c| c.get())
}

/// Makes `zone` the zone of this thread's session.
pub fn set_current(zone: Zone) {
    CURRENT.with(|c| c.set(zone));
}

/// An IANA zone by name, case-insensitively (`america/new_york`).
fn named(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
            .copied()
    })
}

/// Reads a `SET TimeZone` value: the zone and the name `SHOW` prints.
pub fn parse_setting(value: &str) -> Option<(Zone, String)> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    // A number: hours east of UTC (the SQL-standard `SET TIME ZONE -7`).
    if v.bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.'))
    {
        let hours: f64 = v.parse().ok()?;
        let secs = (hours * 3600.0).round();
        if !secs.is_finite() || secs.abs() > 15.0 * 3600.0 + 59.0 * 60.0 {
            return None;
        }
        let secs = secs as i32;
        return Some((Zone::Fixed(secs), posix_name(secs)));
    }
    if let Some(tz) = named(v) {
        return Some((Zone::Named(tz), tz.name().to_string()));
    }
    // `<+05:30>-05:30`: the name SHOW gives a zone set as a number.
    if let Some(rest) = v.strip_prefix('<') {
        let (_, offset) = rest.split_once('>')?;
        return Some((Zone::Fixed(-hms_offset(offset)?), v.to_string()));
    }
    // POSIX `ABC+3` / `ABC-05:30`: hours west of UTC, no DST rule.
    let split = v.find(['+', '-'])?;
    let (abbr, offset) = v.split_at(split);
    if abbr.len() < 3 || !abbr.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let east = -hms_offset(offset)?;
    Some((Zone::Fixed(east), v.to_string()))
}

/// A zone set as a fixed offset east of UTC (a number of hours or an
/// interval), with the name `SHOW TimeZone` prints for it.
pub fn fixed_setting(east: i32) -> (Zone, String) {
    (Zone::Fixed(east), posix_name(east))
}

/// `<+05:30>-05:30`: how PostgreSQL names a zone set as a number of hours.
fn posix_name(east: i32) -> String {
    let iso = offset_text(east);
    let posix = offset_text(-east);
    format!("<{iso}>{posix}")
}

/// `+hh`, `-hh:mm`, `+hhmm`, `hh:mm:ss`: seconds, positive for a `+`.
fn hms_offset(text: &str) -> Option<i32> {
    let (sign, body) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        b'0'..=b'9' => (1, text),
        _ => return None,
    };
    let num = |s: &str| -> Option<i32> {
        if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let parts: Vec<&str> = body.split(':').collect();
    let secs = match parts.as_slice() {
        [h] if h.len() == 4 && h.bytes().all(|b| b.is_ascii_digit()) => {
            num(&h[..2])? * 3600 + num(&h[2..])? * 60
        }
        [h] => num(h)? * 3600,
        [h, m] => num(h)? * 3600 + num(m)? * 60,
        [h, m, s] => num(h)? * 3600 + num(m)? * 60 + num(s)?,
        _ => return None,
    };
    (secs <= 15 * 3600 + 59 * 60).then_some(sign * secs)
}

/// The time zone abbreviations PostgreSQL's `Default` set knows, as fixed
/// offsets east of UTC (the ones applications commonly write).
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("UTC", 0),
    ("UT", 0),
    ("GMT", 0),
    ("Z", 0),
    ("ZULU", 0),
    ("WET", 0),
    ("WEST", 3600),
    ("BST", 3600),
    ("CET", 3600),
    ("CEST", 7200),
    ("MET", 3600),
    ("MEST", 7200),
    ("EET", 7200),
    ("EEST", 10800),
    ("MSK", 10800),
    ("IST", 7200),
    ("JST", 9 * 3600),
    ("KST", 9 * 3600),
    ("HKT", 8 * 3600),
    ("AWST", 8 * 3600),
    ("ACST", 9 * 3600 + 1800),
    ("ACDT", 10 * 3600 + 1800),
    ("AEST", 10 * 3600),
    ("AEDT", 11 * 3600),
    ("NZST", 12 * 3600),
    ("NZDT", 13 * 3600),
    ("AST", -4 * 3600),
    ("ADT", -3 * 3600),
    ("NST", -(3 * 3600 + 1800)),
    ("NDT", -(2 * 3600 + 1800)),
    ("EST", -5 * 3600),
    ("EDT", -4 * 3600),
    ("CST", -6 * 3600),
    ("CDT", -5 * 3600),
    ("MST", -7 * 3600),
    ("MDT", -6 * 3600),
    ("PST", -8 * 3600),
    ("PDT", -7 * 3600),
    ("AKST", -9 * 3600),
    ("AKDT", -8 * 3600),
    ("HST", -10 * 3600),
];

/// A zone abbreviation (`PST`), as a fixed offset east of UTC.
pub fn abbreviation(name: &str) -> Option<i32> {
    let up = name.to_ascii_uppercase();
    ABBREVIATIONS
        .iter()
        .find(|(a, _)| *a == up)
        .map(|(_, off)| *off)
}

/// A zone named in a literal (`… Europe/Paris`, `… PST`) or in
/// `AT TIME ZONE`: an abbreviation, an IANA name, or a POSIX-style numeric
/// offset (`+05` is five hours *west*, as PostgreSQL reads it there).
pub fn parse_named(name: &str) -> Option<Zone> {
    let n = name.trim();
    if let Some(off) = abbreviation(n) {
        return Some(Zone::Fixed(off));
    }
    if n.starts_with(['+', '-']) || n.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
        return hms_offset(n).map(|s| Zone::Fixed(-s));
    }
    if let Some(tz) = named(n) {
        return Some(Zone::Named(tz));
    }
    // POSIX `ABC+3`.
    parse_setting(n)
        .filter(|_| n.contains(['+', '-']))
        .map(|(z, _)| z)
}

/// The zone a server starts with when nothing configures one: the
/// system's, as `initdb` picks it (`TZ`, then `/etc/timezone`, then the
/// `/etc/localtime` link), else UTC. Looked up once per process.
pub fn system_default() -> &'static (Zone, String) {
    static DEFAULT: std::sync::OnceLock<(Zone, String)> = std::sync::OnceLock::new();
    DEFAULT.get_or_init(find_system_default)
}

fn find_system_default() -> (Zone, String) {
    let from_env = std::env::var("TZ")
        .ok()
        .map(|s| s.trim_start_matches(':').to_string());
    let from_file = || {
        std::fs::read_to_string("/etc/timezone")
            .ok()
            .map(|s| s.trim().to_string())
    };
    let from_link = || {
        let target = std::fs::read_link("/etc/localtime").ok()?;
        let text = target.to_string_lossy().to_string();
        text.split_once("zoneinfo/").map(|(_, n)| n.to_string())
    };
    [from_env, from_file(), from_link()]
        .into_iter()
        .flatten()
        .find_map(|n| named(&n).map(|tz| (Zone::Named(tz), tz.name().to_string())))
        .unwrap_or((Zone::UTC, "UTC".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, 0))
            .unwrap_or_default()
    }

    #[test]
    fn dst_edges_resolve_like_postgres() {
        let (ny, name) = parse_setting("america/new_york").unwrap_or((Zone::UTC, String::new()));
        assert_eq!(name, "America/New_York");
        // 01:30 happens twice on 2024-11-03: the later one (-05).
        assert_eq!(
            ny.to_utc(&at(2024, 11, 3, 1, 30)),
            Some(at(2024, 11, 3, 6, 30))
        );
        // 02:30 does not exist on 2024-03-10: read with -05, shown 03:30-04.
        let utc = ny.to_utc(&at(2024, 3, 10, 2, 30)).unwrap_or_default();
        assert_eq!(utc, at(2024, 3, 10, 7, 30));
        assert_eq!(ny.to_local(&utc), at(2024, 3, 10, 3, 30));
        assert_eq!(ny.abbreviation_at(&at(2024, 7, 1, 12, 0)), "EDT");
    }

    #[test]
    fn settings_and_names_follow_postgres_spelling() {
        let name = |v: &str| parse_setting(v).map(|(_, n)| n);
        assert_eq!(name("-7").as_deref(), Some("<-07>+07"));
        assert_eq!(name("+3").as_deref(), Some("<+03>-03"));
        assert_eq!(name("5.5").as_deref(), Some("<+05:30>-05:30"));
        assert_eq!(
            parse_setting("UTC+3").map(|(z, _)| z),
            Some(Zone::Fixed(-3 * 3600))
        );
        assert_eq!(name("nonsense"), None);
        assert_eq!(
            parse_setting("<+05:30>-05:30").map(|(z, _)| z),
            Some(Zone::Fixed(19800))
        );
        assert_eq!(parse_named("+05"), Some(Zone::Fixed(-5 * 3600)));
        assert_eq!(parse_named("pst"), Some(Zone::Fixed(-8 * 3600)));
        assert!(matches!(parse_named("Asia/Tokyo"), Some(Zone::Named(_))));
        assert_eq!(parse_named("Mars/Olympus"), None);
    }
}
