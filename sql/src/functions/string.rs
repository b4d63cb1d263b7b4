//! String functions: length, case, substrings, trimming, padding, search
//! and replace, quoting, `format`, regular expressions, encodings.
//!
//! Positions and lengths count characters, not bytes (the database
//! encoding is UTF-8), except `octet_length`/`bit_length`. Semantics follow
//! PostgreSQL at the edges: `substr` with a start before 1 shortens the
//! result, negative counts in `left`/`right` mean "all but", `split_part`
//! with a negative field counts from the end, and error codes match.

use md5::Digest;

use super::string_format::{
    decode, encode, format, quote_ident, quote_literal, regexp_match, regexp_replace,
};
use super::{i32_arg, int_arg, is_int, is_text, pattern, text_arg};
use crate::error::{Error, Result};
use crate::types::{DataType, Value};
use crate::SqlState;

/// Signatures of the string functions.
pub fn signature(name: &str, a: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let t = |i: usize| a.get(i).is_some_and(is_text);
    let n = |i: usize| a.get(i).is_some_and(is_int);
    let len = a.len();
    Some(match name {
        "length" | "char_length" | "character_length" if len == 1 && (t(0) || a[0] == Bytea) => {
            Int4
        }
        "octet_length" | "bit_length" if len == 1 && (t(0) || a[0] == Bytea) => Int4,
        "lower" | "upper" | "initcap" | "reverse" | "md5" | "quote_ident" | "quote_literal"
            if len == 1 && t(0) =>
        {
            Text
        }
        "md5" if len == 1 && a[0] == Bytea => Text,
        "quote_literal" | "quote_nullable" if len == 1 => Text,
        "substr" | "substring" if (len == 2 || len == 3) && t(0) && n(1) && (len == 2 || n(2)) => {
            Text
        }
        "substring" if len == 2 && t(0) && t(1) => Text,
        "substr" | "substring"
            if (len == 2 || len == 3) && a[0] == Bytea && n(1) && (len == 2 || n(2)) =>
        {
            Bytea
        }
        "position" | "strpos" if len == 2 && t(0) && t(1) => Int4,
        "trim" | "btrim" | "ltrim" | "rtrim"
            if (len == 1 || len == 2) && t(0) && (len == 1 || t(1)) =>
        {
            Text
        }
        "replace" | "translate" if len == 3 && t(0) && t(1) && t(2) => Text,
        "concat" => Text,
        "concat_ws" if len >= 1 && t(0) => Text,
        "format" if len >= 1 && t(0) => Text,
        "left" | "right" | "repeat" if len == 2 && t(0) && n(1) => Text,
        "lpad" | "rpad" if (len == 2 || len == 3) && t(0) && n(1) && (len == 2 || t(2)) => Text,
        "split_part" if len == 3 && t(0) && t(1) && n(2) => Text,
        "to_hex" if len == 1 && n(0) => Text,
        "ascii" if len == 1 && t(0) => Int4,
        "chr" if len == 1 && n(0) => Text,
        "starts_with" if len == 2 && t(0) && t(1) => Bool,
        "overlay" if (len == 3 || len == 4) && t(0) && t(1) && n(2) && (len == 3 || n(3)) => Text,
        "sha224" | "sha256" | "sha384" | "sha512"
            if len == 1 && matches!(a[0], Bytea | Unknown) =>
        {
            Bytea
        }
        "regexp_replace" if (len == 3 || len == 4) && a.iter().all(is_text) => Text,
        "regexp_match" | "regexp_matches" if (len == 2 || len == 3) && a.iter().all(is_text) => {
            Array(Box::new(Text))
        }
        "encode" if len == 2 && (a[0] == Bytea || a[0] == Unknown) && t(1) => Text,
        "decode" if len == 2 && t(0) && t(1) => Bytea,
        "convert_from" if len == 2 && (a[0] == Bytea || a[0] == Unknown) && t(1) => Text,
        _ => return None,
    })
}

fn chars_len(s: &str) -> i32 {
    s.chars().count().min(i32::MAX as usize) as i32
}

/// Calls a string function.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value>> {
    let s = |i: usize| a.get(i).map(text_arg).unwrap_or_default();
    let text = |x: String| Ok(Value::Text(x));
    Some(match (name, a.len()) {
        ("length" | "char_length" | "character_length", 1) => match &a[0] {
            Value::Bytea(b) => Ok(Value::Int4(b.len() as i32)),
            v => Ok(Value::Int4(chars_len(&text_arg(v)))),
        },
        ("octet_length", 1) => Ok(Value::Int4(byte_len(&a[0]))),
        ("bit_length", 1) => Ok(Value::Int4(byte_len(&a[0]).saturating_mul(8))),
        ("lower", 1) => text(s(0).to_lowercase()),
        ("upper", 1) => text(s(0).to_uppercase()),
        ("initcap", 1) => text(initcap(&s(0))),
        ("reverse", 1) => text(s(0).chars().rev().collect()),
        ("md5", 1) => {
            let bytes = match &a[0] {
                Value::Bytea(b) => b.clone(),
                v => text_arg(v).into_bytes(),
            };
            text(hex::encode(md5::Md5::digest(&bytes)))
        }
        ("substr" | "substring", 2 | 3) => substr(a),
        ("position" | "strpos", 2) => Ok(Value::Int4(strpos(&s(0), &s(1)))),
        ("trim" | "btrim", 1 | 2) => {
            text(trim(&s(0), a.get(1).map(text_arg).as_deref(), true, true))
        }
        ("ltrim", 1 | 2) => text(trim(&s(0), a.get(1).map(text_arg).as_deref(), true, false)),
        ("rtrim", 1 | 2) => text(trim(&s(0), a.get(1).map(text_arg).as_deref(), false, true)),
        ("replace", 3) => {
            let from = s(1);
            text(if from.is_empty() {
                s(0)
            } else {
                s(0).replace(&from, &s(2))
            })
        }
        ("translate", 3) => text(translate(&s(0), &s(1), &s(2))),
        ("concat", _) => text(
            a.iter()
                .filter(|v| !v.is_null())
                .map(concat_piece)
                .collect(),
        ),
        ("concat_ws", n) if n >= 1 => {
            if a[0].is_null() {
                return Some(Ok(Value::Null));
            }
            let parts: Vec<String> = a[1..]
                .iter()
                .filter(|v| !v.is_null())
                .map(concat_piece)
                .collect();
            text(parts.join(&s(0)))
        }
        ("format", n) if n >= 1 => {
            if a[0].is_null() {
                return Some(Ok(Value::Null));
            }
            format(&s(0), &a[1..]).map(Value::Text)
        }
        ("left", 2) | ("right", 2) => {
            i32_arg(&a[1]).map(|n| Value::Text(left_right(&s(0), n, name == "left")))
        }
        ("repeat", 2) => i32_arg(&a[1]).and_then(|n| {
            let n = n.max(0) as usize;
            if s(0).len().saturating_mul(n) > 1 << 30 {
                return Err(Error::new(
                    SqlState::PROGRAM_LIMIT_EXCEEDED,
                    "requested length too large",
                ));
            }
            Ok(Value::Text(s(0).repeat(n)))
        }),
        ("lpad" | "rpad", 2 | 3) => {
            let fill = if a.len() == 3 { s(2) } else { " ".to_string() };
            i32_arg(&a[1])
                .and_then(|n| pad(&s(0), n, &fill, name == "lpad"))
                .map(Value::Text)
        }
        ("split_part", 3) => i32_arg(&a[2])
            .and_then(|n| split_part(&s(0), &s(1), n))
            .map(Value::Text),
        ("to_hex", 1) => int_arg(&a[0]).map(|v| {
            Value::Text(match &a[0] {
                Value::Int8(_) => format!("{v:x}"),
                _ => format!("{:x}", v as i32),
            })
        }),
        ("ascii", 1) => Ok(Value::Int4(
            s(0).chars().next().map(|c| c as i32).unwrap_or(0),
        )),
        ("chr", 1) => int_arg(&a[0]).and_then(|c| {
            if c == 0 {
                return Err(Error::new(
                    SqlState("54000"),
                    "null character not permitted",
                ));
            }
            u32::try_from(c)
                .ok()
                .and_then(char::from_u32)
                .map(|c| Value::Text(c.to_string()))
                .ok_or_else(|| {
                    Error::new(
                        SqlState::PROGRAM_LIMIT_EXCEEDED,
                        "requested character too large for encoding",
                    )
                })
        }),
        ("starts_with", 2) => Ok(Value::Bool(s(0).starts_with(&s(1)))),
        ("overlay", 3 | 4) => overlay(a),
        ("sha224" | "sha256" | "sha384" | "sha512", 1) => sha(name, &a[0]),
        ("quote_ident", 1) => text(quote_ident(&s(0))),
        ("quote_literal", 1) => text(quote_literal(&s(0))),
        ("quote_nullable", 1) => text(if a[0].is_null() {
            "NULL".into()
        } else {
            quote_literal(&s(0))
        }),
        ("regexp_replace", 3 | 4) => {
            regexp_replace(&s(0), &s(1), &s(2), a.get(3).map(text_arg).as_deref())
        }
        ("regexp_match" | "regexp_matches", 2 | 3) => {
            regexp_match(&s(0), &s(1), a.get(2).map(text_arg).as_deref())
        }
        ("encode", 2) => match &a[0] {
            Value::Bytea(b) => encode(b, &s(1)).map(Value::Text),
            v => crate::types::text::parse_bytea(&text_arg(v))
                .and_then(|b| encode(&b, &s(1)))
                .map(Value::Text),
        },
        ("decode", 2) => decode(&s(0), &s(1)).map(Value::Bytea),
        ("convert_from", 2) => convert_from(&a[0], &s(1)),
        _ => return None,
    })
}

/// `overlay(s placing r from start [for count])`: `count` defaults to the
/// length of `r`.
fn overlay(a: &[Value]) -> Result<Value> {
    let s = text_arg(&a[0]);
    let r = text_arg(&a[1]);
    let start = int_arg(&a[2])?;
    let count = match a.get(3) {
        Some(v) => int_arg(v)?,
        None => r.chars().count() as i64,
    };
    if start < 1 || count < 0 {
        return Err(Error::new(
            SqlState("22011"),
            "negative substring length not allowed",
        ));
    }
    let head: String = s.chars().take((start - 1) as usize).collect();
    let tail: String = s
        .chars()
        .skip((start - 1).saturating_add(count) as usize)
        .collect();
    Ok(Value::Text(format!("{head}{r}{tail}")))
}

/// The SHA-2 family over bytea (an untyped literal reads as bytea).
fn sha(name: &str, v: &Value) -> Result<Value> {
    use sha2::Digest as _;
    let bytes = match v {
        Value::Bytea(b) => b.clone(),
        other => crate::types::text::parse_bytea(&text_arg(other))?,
    };
    Ok(Value::Bytea(match name {
        "sha224" => sha2::Sha224::digest(&bytes).to_vec(),
        "sha256" => sha2::Sha256::digest(&bytes).to_vec(),
        "sha384" => sha2::Sha384::digest(&bytes).to_vec(),
        _ => sha2::Sha512::digest(&bytes).to_vec(),
    }))
}

fn byte_len(v: &Value) -> i32 {
    match v {
        Value::Bytea(b) => b.len() as i32,
        other => text_arg(other).len().min(i32::MAX as usize) as i32,
    }
}

/// `concat` converts booleans as their output (`t`), unlike `||`.
fn concat_piece(v: &Value) -> String {
    text_arg(v)
}

fn initcap(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

fn substr(a: &[Value]) -> Result<Value> {
    // substring(text, pattern): the regex form.
    if let (Some(Value::Text(_)), Some(Value::Text(p)), 2) = (a.first(), a.get(1), a.len()) {
        if p.trim().parse::<i64>().is_err() {
            let s = text_arg(&a[0]);
            let re = pattern::compiled(p, false)?;
            return Ok(match re.captures(&s) {
                Some(c) => c
                    .get(1)
                    .or_else(|| c.get(0))
                    .map(|m| Value::Text(m.as_str().to_string()))
                    .unwrap_or(Value::Null),
                None => Value::Null,
            });
        }
    }
    let start = int_arg(&a[1])?;
    let count = match a.get(2) {
        Some(v) => {
            let c = int_arg(v)?;
            if c < 0 {
                return Err(Error::new(
                    SqlState("22011"),
                    "negative substring length not allowed",
                ));
            }
            Some(c)
        }
        None => None,
    };
    // Characters [start, start+count) counted from 1, clipped to the string.
    let from = start.max(1);
    let to = count.map(|c| start.saturating_add(c));
    if let Value::Bytea(b) = &a[0] {
        let lo = (from - 1).min(b.len() as i64) as usize;
        let hi = to
            .map(|t| (t - 1).clamp(lo as i64, b.len() as i64) as usize)
            .unwrap_or(b.len());
        return Ok(Value::Bytea(b[lo..hi].to_vec()));
    }
    let s = text_arg(&a[0]);
    let take = match to {
        Some(t) if t <= from => 0,
        Some(t) => (t - from) as usize,
        None => usize::MAX,
    };
    Ok(Value::Text(
        s.chars().skip((from - 1) as usize).take(take).collect(),
    ))
}

fn strpos(s: &str, sub: &str) -> i32 {
    match s.find(sub) {
        Some(byte) => s[..byte].chars().count() as i32 + 1,
        None => 0,
    }
}

fn trim(s: &str, chars: Option<&str>, left: bool, right: bool) -> String {
    let set: Vec<char> = chars.unwrap_or(" ").chars().collect();
    let f = |c: char| set.contains(&c);
    let mut r = s;
    if left {
        r = r.trim_start_matches(f);
    }
    if right {
        r = r.trim_end_matches(f);
    }
    r.to_string()
}

fn translate(s: &str, from: &str, to: &str) -> String {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    s.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect()
}

fn left_right(s: &str, n: i32, left: bool) -> String {
    let len = s.chars().count() as i64;
    let n = n as i64;
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) } as usize;
    if left {
        s.chars().take(keep).collect()
    } else {
        s.chars().skip(len as usize - keep).collect()
    }
}

fn pad(s: &str, len: i32, fill: &str, left: bool) -> Result<String> {
    let len = len.max(0) as usize;
    if len > 1 << 28 {
        return Err(Error::new(
            SqlState::PROGRAM_LIMIT_EXCEEDED,
            "requested length too large",
        ));
    }
    let cur = s.chars().count();
    if cur >= len || fill.is_empty() {
        return Ok(s.chars().take(len).collect());
    }
    let padding: String = fill.chars().cycle().take(len - cur).collect();
    Ok(if left {
        format!("{padding}{s}")
    } else {
        format!("{s}{padding}")
    })
}

fn split_part(s: &str, delim: &str, n: i32) -> Result<String> {
    if n == 0 {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "field position must not be zero",
        ));
    }
    let parts: Vec<&str> = if delim.is_empty() {
        vec![s]
    } else {
        s.split(delim).collect()
    };
    let idx = if n > 0 {
        n as i64 - 1
    } else {
        parts.len() as i64 + n as i64
    };
    Ok(usize::try_from(idx)
        .ok()
        .and_then(|i| parts.get(i))
        .map(|p| p.to_string())
        .unwrap_or_default())
}

/// `convert_from(bytes, encoding)`: only UTF8 (the server encoding) is
/// known; invalid bytes are 22021 as in PostgreSQL.
fn convert_from(v: &Value, enc: &str) -> Result<Value> {
    let bytes = match v {
        Value::Bytea(b) => b.clone(),
        other => crate::types::text::parse_bytea(&text_arg(other))?,
    };
    let e = enc.to_ascii_uppercase().replace(['-', '_'], "");
    if e != "UTF8" && e != "UNICODE" && e != "SQLASCII" {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            format!("invalid source encoding name \"{enc}\""),
        ));
    }
    match String::from_utf8(bytes) {
        Ok(s) if !s.contains('\0') => Ok(Value::Text(s)),
        Ok(_) => Err(Error::new(
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            "invalid byte sequence for encoding \"UTF8\": 0x00",
        )),
        Err(err) => {
            let bad = err
                .as_bytes()
                .get(err.utf8_error().valid_up_to())
                .copied()
                .unwrap_or(0);
            Err(Error::new(
                SqlState::CHARACTER_NOT_IN_REPERTOIRE,
                format!("invalid byte sequence for encoding \"UTF8\": 0x{bad:02x}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args) {
            Ok(v) => crate::types::text::format(&v),
            Err(e) => format!("{}: {}", e.state(), e.message()),
        }
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn matches_postgres() {
        let i = Value::Int4;
        assert_eq!(c("quote_ident", &[t("Foo")]), "\"Foo\"");
        assert_eq!(c("quote_ident", &[t("select")]), "\"select\"");
        assert_eq!(c("quote_ident", &[t("abc")]), "abc");
        assert_eq!(c("quote_literal", &[t("it's")]), "'it''s'");
        assert_eq!(
            c(
                "format",
                &[t("%s|%I|%L|%L"), t("a"), t("B c"), t("x"), Value::Null]
            ),
            "a|\"B c\"|'x'|NULL"
        );
        assert_eq!(c("to_hex", &[i(-1)]), "ffffffff");
        assert_eq!(c("split_part", &[t("a,b,c"), t(","), i(-1)]), "c");
        assert_eq!(c("initcap", &[t("hELLO wORLD-foo")]), "Hello World-Foo");
        assert_eq!(c("lpad", &[t("abc"), i(2)]), "ab");
        assert_eq!(c("rpad", &[t("ab"), i(5), t("xy")]), "abxyx");
        assert_eq!(c("substr", &[t("hello"), i(0), i(3)]), "he");
        assert_eq!(c("substring", &[t("hello"), i(-1)]), "hello");
        assert_eq!(
            c("substr", &[t("hello"), i(2), i(-1)]),
            "22011: negative substring length not allowed"
        );
        assert_eq!(c("left", &[t("abc"), i(-1)]), "ab");
        assert_eq!(c("right", &[t("abc"), i(2)]), "bc");
        assert_eq!(c("regexp_replace", &[t("aaa"), t("a"), t("b")]), "baa");
        assert_eq!(
            c("regexp_replace", &[t("aAa"), t("a"), t("b"), t("gi")]),
            "bbb"
        );
        assert_eq!(
            c("regexp_replace", &[t("abc"), t("(b)"), t("[\\1]")]),
            "a[b]c"
        );
        assert_eq!(
            c("regexp_match", &[t("foo123bar"), t("([a-z]+)(\\d+)")]),
            "{foo,123}"
        );
        assert_eq!(
            c("encode", &[Value::Bytea(b"hello".to_vec()), t("base64")]),
            "aGVsbG8="
        );
        assert_eq!(
            c("encode", &[Value::Bytea(vec![b'a', b'b', 1]), t("escape")]),
            "ab\u{1}"
        );
        assert_eq!(c("decode", &[t("aGVsbG8="), t("base64")]), "\\x68656c6c6f");
        assert_eq!(c("md5", &[t("abc")]), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(c("chr", &[i(65)]), "A");
        assert_eq!(c("ascii", &[t("A")]), "65");
        assert_eq!(c("translate", &[t("12345"), t("143"), t("ax")]), "a2x5");
        assert_eq!(c("btrim", &[t("xxaxx"), t("x")]), "a");
        assert_eq!(c("trim", &[t("  a  ")]), "a");
        assert_eq!(
            c("concat", &[t("a"), Value::Null, i(1), Value::Bool(true)]),
            "a1t"
        );
        assert_eq!(
            c("concat_ws", &[t(","), t("a"), Value::Null, t("b")]),
            "a,b"
        );
        assert_eq!(c("strpos", &[t("héllo"), t("l")]), "3");
        assert_eq!(c("length", &[t("héllo")]), "5");
        assert_eq!(c("octet_length", &[t("héllo")]), "6");
        assert_eq!(c("repeat", &[t("ab"), i(3)]), "ababab");
    }
}
