//! The text format: parsing input and producing PostgreSQL's exact output.
//!
//! `format` is what a client sees in a text-format DataRow and what a cast
//! to `text` yields; `parse` is the type's input function, used for
//! text-format parameters, string literals assigned to typed columns and
//! explicit casts from text. Both must agree with PostgreSQL 15 byte for
//! byte, including error codes and messages, because clients and tests
//! compare them verbatim. The per-family details live in `numeric`,
//! `datetime`, `interval` and `json`; this module dispatches and owns the
//! small types (bool, integers, bytea, uuid) and array literals.

use super::{datetime, json, numeric, DataType, Interval, Value};
use crate::error::{Error, Result};
use crate::SqlState;

/// Formats a non-NULL value as PostgreSQL's text output would.
pub fn format(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::Int2(v) => v.to_string(),
        Value::Int4(v) => v.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Float4(v) => numeric::format_f32(*v),
        Value::Float8(v) => numeric::format_f64(*v),
        Value::Numeric(d) => d.to_string(),
        Value::Text(s) | Value::Json(s) => s.clone(),
        Value::Bytea(b) => format!("\\x{}", hex::encode(b)),
        Value::Date(d) => datetime::format_date(d),
        Value::Time(t) => datetime::format_time(t),
        Value::Timestamp(t) => datetime::format_timestamp(t),
        Value::TimestampTz(t) => datetime::format_timestamptz(t),
        Value::Interval(i) => i.format(),
        Value::Uuid(u) => u.hyphenated().to_string(),
        Value::Jsonb(j) => json::format_jsonb(j),
        Value::Oid(o) => o.to_string(),
        Value::PgLsn(v) => crate::storage::Lsn(*v).to_string(),
        Value::Array(items) => format_array(items),
    }
}

/// `{1,2,NULL}` with PostgreSQL's quoting of elements.
pub fn format_array(items: &[Value]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if item.is_null() {
            out.push_str("NULL");
            continue;
        }
        let s = format(item);
        let needs_quotes = s.is_empty()
            || s.eq_ignore_ascii_case("null")
            || s.chars()
                .any(|c| matches!(c, '{' | '}' | ',' | '"' | '\\') || c.is_ascii_whitespace());
        // Nested arrays print their own braces unquoted.
        if needs_quotes && !matches!(item, Value::Array(_)) {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        } else {
            out.push_str(&s);
        }
    }
    out.push('}');
    out
}

fn out_of_range_for(text: &str, type_name: &str) -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        format!("value \"{text}\" is out of range for type {type_name}"),
    )
}

/// Parses an integer with PostgreSQL's rules: surrounding whitespace is
/// allowed, then an optional sign and digits only.
pub fn parse_int(text: &str, min: i64, max: i64, type_name: &str) -> Result<i64> {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace());
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_text(type_name, text));
    }
    let v: i128 = if digits.len() > 30 {
        i128::MAX
    } else {
        t.parse().unwrap_or(i128::MAX)
    };
    if v < min as i128 || v > max as i128 {
        return Err(out_of_range_for(text, type_name));
    }
    Ok(v as i64)
}

/// PostgreSQL's boolean input: unique prefixes of true/false/yes/no, and
/// on/off/1/0.
pub fn parse_bool(text: &str) -> Result<bool> {
    let t = text.trim().to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(Error::invalid_text("boolean", text))
    }
}

/// bytea input: `\x` hex (whitespace between byte pairs allowed) or the
/// escape format (`\\`, `\ooo` octal, other bytes literal).
pub fn parse_bytea(text: &str) -> Result<Vec<u8>> {
    if let Some(hexpart) = text
        .strip_prefix("\\x")
        .or_else(|| text.strip_prefix("\\X"))
    {
        let mut out = Vec::with_capacity(hexpart.len() / 2);
        let mut chars = hexpart.chars().filter(|c| !c.is_ascii_whitespace());
        while let Some(hi) = chars.next() {
            let bad_digit = |c: char| {
                Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    format!("invalid hexadecimal digit: \"{c}\""),
                )
            };
            let h = hi.to_digit(16).ok_or_else(|| bad_digit(hi))?;
            let lo = chars.next().ok_or_else(|| {
                Error::new(
                    SqlState::INVALID_PARAMETER_VALUE,
                    "invalid hexadecimal data: odd number of digits",
                )
            })?;
            let l = lo.to_digit(16).ok_or_else(|| bad_digit(lo))?;
            out.push((h * 16 + l) as u8);
        }
        return Ok(out);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match bytes.get(i + 1..i + 4) {
            Some([b'\\', ..]) => {
                out.push(b'\\');
                i += 2;
            }
            Some([a, b, c])
                if (b'0'..=b'3').contains(a)
                    && (b'0'..=b'7').contains(b)
                    && (b'0'..=b'7').contains(c) =>
            {
                out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
                i += 4;
            }
            _ if bytes.get(i + 1) == Some(&b'\\') => {
                out.push(b'\\');
                i += 2;
            }
            _ => {
                return Err(Error::new(
                    SqlState::INVALID_TEXT_REPRESENTATION,
                    "invalid input syntax for type bytea",
                ))
            }
        }
    }
    Ok(out)
}

/// `pg_lsn` input: two hex halves of 1 to 8 digits around a slash, with
/// nothing else (PostgreSQL's `pg_lsn_in`).
pub fn parse_pg_lsn(text: &str) -> Result<u64> {
    let bad = || {
        Error::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type pg_lsn: \"{text}\""),
        )
    };
    let (hi, lo) = text.split_once('/').ok_or_else(bad)?;
    let half = |s: &str| {
        if s.is_empty() || s.len() > 8 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        u64::from_str_radix(s, 16).map_err(|_| bad())
    };
    Ok(half(hi)? << 32 | half(lo)?)
}

/// Parses text input for a type (`22P02` and friends on bad input).
pub fn parse(text: &str, ty: &DataType) -> Result<Value> {
    match ty {
        DataType::Bool => parse_bool(text).map(Value::Bool),
        DataType::Int2 => parse_int(text, i16::MIN as i64, i16::MAX as i64, "smallint")
            .map(|v| Value::Int2(v as i16)),
        DataType::Int4 => parse_int(text, i32::MIN as i64, i32::MAX as i64, "integer")
            .map(|v| Value::Int4(v as i32)),
        DataType::Int8 => parse_int(text, i64::MIN, i64::MAX, "bigint").map(Value::Int8),
        DataType::RegProc if text.trim().trim_start_matches("pg_catalog.") == "array_in" => {
            // pgjdbc's TypeInfoCache asks `typinput = 'pg_catalog.array_in'::regproc`;
            // pg_type.typinput holds this OID (PostgreSQL's) for array types.
            Ok(Value::Oid(super::oid::ARRAY_IN_OID))
        }
        // A system catalog's name (SQLAlchemy binds 'pg_catalog.pg_constraint'
        // as a parameter and casts it to regclass): its well-known OID.
        DataType::RegClass
            if crate::plan::system::system_table_oid(
                text.trim().trim_start_matches("pg_catalog."),
            )
            .is_some() =>
        {
            Ok(Value::Oid(
                crate::plan::system::system_table_oid(
                    text.trim().trim_start_matches("pg_catalog."),
                )
                .unwrap_or_default(),
            ))
        }
        DataType::Oid | DataType::RegClass | DataType::RegType | DataType::RegProc => {
            // Names of relations/types are resolved by the planner, which
            // knows the catalog; here only numeric OIDs parse.
            let name = super::oid::type_name(ty);
            let v = parse_int(text, i32::MIN as i64, u32::MAX as i64, &name)?;
            Ok(Value::Oid(v as u32))
        }
        DataType::PgLsn => parse_pg_lsn(text).map(Value::PgLsn),
        DataType::Float4 => numeric::parse_f32(text).map(Value::Float4),
        DataType::Float8 => numeric::parse_f64(text, "double precision").map(Value::Float8),
        DataType::Numeric(tm) => {
            let d = numeric::parse_numeric(text)?;
            match tm {
                Some((p, s)) => numeric::apply_typmod(d, *p, *s).map(Value::Numeric),
                None => Ok(Value::Numeric(d)),
            }
        }
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Unknown
        | DataType::Void => Ok(Value::Text(text.to_string())),
        DataType::Name => Ok(Value::Text(truncate_bytes(text, 63).to_string())),
        DataType::InternalChar => Ok(Value::Text(truncate_bytes(text, 1).to_string())),
        DataType::Bytea => parse_bytea(text).map(Value::Bytea),
        DataType::Date => datetime::parse_date(text).map(Value::Date),
        DataType::Time => datetime::parse_time(text).map(Value::Time),
        DataType::Timestamp => datetime::parse_timestamp(text).map(Value::Timestamp),
        DataType::TimestampTz => datetime::parse_timestamptz(text).map(Value::TimestampTz),
        DataType::Interval => Interval::parse(text).map(Value::Interval),
        DataType::Uuid => parse_uuid(text).map(Value::Uuid),
        DataType::Json => json::parse_json(text).map(Value::Json),
        DataType::Jsonb => json::parse_jsonb(text).map(Value::Jsonb),
        DataType::Array(elem) => parse_array(text, elem),
    }
}

/// The longest prefix of `s` of at most `max` bytes ending on a char boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// uuid input: hyphens optional (in groups of four digits), braces allowed.
pub fn parse_uuid(text: &str) -> Result<uuid::Uuid> {
    let t = text.trim();
    let ok = t.len() <= 40
        && t.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'{' || b == b'}');
    if ok {
        if let Ok(u) = uuid::Uuid::try_parse(t) {
            return Ok(u);
        }
        let compact: String = t
            .trim_start_matches('{')
            .trim_end_matches('}')
            .chars()
            .filter(|c| *c != '-')
            .collect();
        if compact.len() == 32 && t.starts_with('{') == t.ends_with('}') {
            if let Ok(u) = uuid::Uuid::try_parse(&compact) {
                return Ok(u);
            }
        }
    }
    Err(Error::invalid_text("uuid", text))
}

fn malformed_array(text: &str, detail: &str) -> Error {
    Error::new(
        SqlState::INVALID_TEXT_REPRESENTATION,
        format!("malformed array literal: \"{text}\""),
    )
    .with_detail(detail.to_string())
}

/// Array input: `{1,2,NULL}`, `{"a b","x\"y"}`, `{}`; one dimension.
pub fn parse_array(text: &str, elem: &DataType) -> Result<Value> {
    let t = text.trim();
    let body = t.strip_prefix('{').ok_or_else(|| {
        malformed_array(
            text,
            "Array value must start with \"{\" or dimension information.",
        )
    })?;
    let mut items = Vec::new();
    let mut chars = body.chars().peekable();
    let mut expect_item = true;
    let mut closed = false;
    let mut first = true;
    while let Some(&c) = chars.peek() {
        if c.is_ascii_whitespace() {
            chars.next();
            continue;
        }
        if c == '}' {
            if expect_item && !first {
                return Err(malformed_array(text, "Unexpected \"}\" character."));
            }
            chars.next();
            closed = true;
            break;
        }
        if !expect_item {
            if c == ',' {
                chars.next();
                expect_item = true;
                continue;
            }
            return Err(malformed_array(text, "Expected \",\" or \"}\" character."));
        }
        if c == '{' {
            return Err(Error::unsupported(
                "multidimensional arrays are not supported",
            ));
        }
        let mut s = String::new();
        let mut quoted = false;
        if c == '"' {
            quoted = true;
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => s.push(
                        chars
                            .next()
                            .ok_or_else(|| malformed_array(text, "Unexpected end of input."))?,
                    ),
                    Some(ch) => s.push(ch),
                    None => return Err(malformed_array(text, "Unexpected end of input.")),
                }
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch == ',' || ch == '}' {
                    break;
                }
                if ch == '"' || ch == '{' {
                    return Err(malformed_array(text, "Unexpected array element."));
                }
                chars.next();
                if ch == '\\' {
                    s.push(
                        chars
                            .next()
                            .ok_or_else(|| malformed_array(text, "Unexpected end of input."))?,
                    );
                } else {
                    s.push(ch);
                }
            }
            let trimmed = s.trim_end().len();
            s.truncate(trimmed);
        }
        if !quoted && s.eq_ignore_ascii_case("null") {
            items.push(Value::Null);
        } else {
            items.push(parse(&s, elem)?);
        }
        expect_item = false;
        first = false;
    }
    if !closed {
        return Err(malformed_array(text, "Unexpected end of input."));
    }
    if chars.any(|c| !c.is_ascii_whitespace()) {
        return Err(malformed_array(text, "Junk after closing right brace."));
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(s: &str, ty: DataType) -> String {
        parse(s, &ty)
            .map(|v| format(&v))
            .unwrap_or_else(|e| format!("{}: {}", e.state(), e.message()))
    }

    #[test]
    fn scalars() {
        assert_eq!(rt(" 42 ", DataType::Int4), "42");
        assert_eq!(
            rt("abc", DataType::Int4),
            "22P02: invalid input syntax for type integer: \"abc\""
        );
        assert_eq!(
            rt("", DataType::Int4),
            "22P02: invalid input syntax for type integer: \"\""
        );
        assert_eq!(
            rt("99999999999", DataType::Int4),
            "22003: value \"99999999999\" is out of range for type integer"
        );
        assert_eq!(
            rt("40000", DataType::Int2),
            "22003: value \"40000\" is out of range for type smallint"
        );
        assert_eq!(rt("yes", DataType::Bool), "t");
        assert_eq!(rt("OFF", DataType::Bool), "f");
        assert_eq!(
            rt("o", DataType::Bool),
            "22P02: invalid input syntax for type boolean: \"o\""
        );
        assert_eq!(rt("1.50", DataType::Numeric(None)), "1.50");
        assert_eq!(rt("NaN", DataType::Float8), "NaN");
        assert_eq!(rt("-Infinity", DataType::Float8), "-Infinity");
        assert_eq!(
            rt("1e400", DataType::Float8),
            "22003: \"1e400\" is out of range for type double precision"
        );
        assert_eq!(rt("\\x0102", DataType::Bytea), "\\x0102");
        assert_eq!(rt("a\\\\b\\001", DataType::Bytea), "\\x615c6201");
        assert_eq!(
            rt("\\xzz", DataType::Bytea),
            "22023: invalid hexadecimal digit: \"z\""
        );
        assert_eq!(
            rt("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", DataType::Uuid),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(
            rt("{a0eebc999c0b4ef8bb6d6bb9bd380a11}", DataType::Uuid),
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
        );
        assert_eq!(
            rt("x", DataType::Uuid),
            "22P02: invalid input syntax for type uuid: \"x\""
        );
        assert_eq!(
            rt(r#"{"b":1,"a":[1,2]}"#, DataType::Jsonb),
            r#"{"a": [1, 2], "b": 1}"#
        );
        assert_eq!(rt(r#"{"b":1}"#, DataType::Json), r#"{"b":1}"#);
        assert_eq!(
            rt("{", DataType::Json),
            "22P02: invalid input syntax for type json"
        );
    }

    #[test]
    fn arrays() {
        let int_arr = DataType::Array(Box::new(DataType::Int4));
        let text_arr = DataType::Array(Box::new(DataType::Text));
        assert_eq!(rt("{1, 2 ,NULL}", int_arr.clone()), "{1,2,NULL}");
        assert_eq!(rt("{}", int_arr.clone()), "{}");
        assert_eq!(
            rt(r#"{"a b","x\"y",c,"NULL",""}"#, text_arr.clone()),
            r#"{"a b","x\"y",c,"NULL",""}"#
        );
        assert_eq!(
            rt("{1,x}", int_arr.clone()),
            "22P02: invalid input syntax for type integer: \"x\""
        );
        assert_eq!(
            rt("1,2", int_arr.clone()),
            "22P02: malformed array literal: \"1,2\""
        );
        assert_eq!(
            rt("{1,2", int_arr),
            "22P02: malformed array literal: \"{1,2\""
        );
        assert_eq!(
            rt("{\"\\\\x01\"}", DataType::Array(Box::new(DataType::Bytea))),
            "{\"\\\\x01\"}"
        );
    }
}
