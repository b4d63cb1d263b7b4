//! String functions that produce or consume SQL/encoded text: identifier
//! and literal quoting, `format()`, the `regexp_*` family and
//! `encode`/`decode` (hex, base64, escape).
//!
//! Split from `string` so each file stays small; `string::call` dispatches
//! here. Quoting follows PostgreSQL's rules so generated SQL round-trips:
//! identifiers are quoted unless plain lower-case and not reserved,
//! literals with backslashes become `E''` strings.

use base64::Engine as _;

use super::{pattern, text_arg};
use crate::error::{Error, Result};
use crate::types::Value;
use crate::SqlState;

#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
    "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce", "collate",
    "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog", "current_date",
    "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "dec", "decimal",
    "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists", "extract", "false", "fetch",
    "float", "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group", "grouping", "having", "ilike",
    "in", "initially", "inner", "inout", "int", "integer", "intersect", "interval", "into", "is", "isnull", "join",
    "lateral", "leading", "least", "left", "like", "limit", "localtime", "localtimestamp", "national", "natural",
    "nchar", "none", "normalize", "not", "notnull", "null", "nullif", "numeric", "offset", "on", "only", "or",
    "order", "out", "outer", "overlaps", "overlay", "placing", "position", "precision", "primary", "real",
    "references", "returning", "right", "row", "select", "session_user", "setof", "similar", "smallint", "some",
    "substring", "symmetric", "table", "tablesample", "then", "time", "timestamp", "to", "trailing", "treat", "trim",
    "true", "union", "unique", "user", "using", "values", "varchar", "variadic", "verbose", "when", "where", "window",
    "with",
];

/// `quote_ident`: quotes unless the name is a plain lower-case identifier
/// that is not a reserved word.
pub fn quote_ident(s: &str) -> String {
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !KEYWORDS.contains(&s);
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('"', "\"\""))
    }
}

/// `quote_literal`: doubles quotes; backslashes make it an `E''` literal.
pub fn quote_literal(s: &str) -> String {
    let body = s.replace('\'', "''");
    if s.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// One `%…` specifier of `format()`: `%[n$][-][width|*[m$]]type`.
struct FormatSpec {
    /// The value's 1-based argument position, when given as `n$`.
    position: Option<usize>,
    left_align: bool,
    width: Width,
    conversion: char,
}

enum Width {
    None,
    Fixed(usize),
    /// `*`: the next argument, or `*m$`: argument `m`.
    FromArgument(Option<usize>),
}

fn format_error(message: &str) -> Error {
    Error::new(SqlState::INVALID_PARAMETER_VALUE, message.to_string())
}

fn take_number(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Option<usize>> {
    let mut digits = String::new();
    while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
        digits.push(d);
        chars.next();
    }
    if digits.is_empty() {
        return Ok(None);
    }
    digits
        .parse::<i32>()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| format_error("number is out of range"))
}

/// Parses what follows a `%` (PostgreSQL's text_format_parse_format).
fn parse_spec(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<FormatSpec> {
    let unterminated = || format_error("unterminated format() type specifier");
    let mut spec = FormatSpec {
        position: None,
        left_align: false,
        width: Width::None,
        conversion: '%',
    };
    if let Some(n) = take_number(chars)? {
        if chars.peek() == Some(&'$') {
            chars.next();
            if n == 0 {
                return Err(format_error(
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
            spec.position = Some(n);
        } else {
            spec.width = Width::Fixed(n);
            spec.conversion = chars.next().ok_or_else(unterminated)?;
            return Ok(spec);
        }
    }
    while chars.peek() == Some(&'-') {
        spec.left_align = true;
        chars.next();
    }
    if chars.peek() == Some(&'*') {
        chars.next();
        let position = take_number(chars)?;
        if position.is_some() {
            if chars.next() != Some('$') {
                return Err(format_error(
                    "width argument position must be ended by \"$\"",
                ));
            }
            if position == Some(0) {
                return Err(format_error(
                    "format specifies argument 0, but arguments are numbered from 1",
                ));
            }
        }
        spec.width = Width::FromArgument(position);
    } else if let Some(n) = take_number(chars)? {
        spec.width = Width::Fixed(n);
    }
    spec.conversion = chars.next().ok_or_else(unterminated)?;
    Ok(spec)
}

/// Pads `s` to `width` characters: on the left unless left-aligned.
fn pad(out: &mut String, s: &str, width: usize, left_align: bool) {
    let len = s.chars().count();
    let fill = " ".repeat(width.saturating_sub(len));
    if left_align {
        out.push_str(s);
        out.push_str(&fill);
    } else {
        out.push_str(&fill);
        out.push_str(s);
    }
}

/// `format(fmt, args...)`: `%s`, `%I`, `%L` and `%%`, with PostgreSQL's
/// argument positions (`%2$s`), `-` flag and widths (`%10s`, `%*s`, `%*1$s`).
pub(crate) fn format(fmt: &str, args: &[Value]) -> Result<String> {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    // The 0-based index of the next argument an unpositioned spec takes.
    let mut next_arg = 0usize;
    let too_few = || format_error("too few arguments for format()");
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let spec = parse_spec(&mut chars)?;
        if !matches!(spec.conversion, 's' | 'I' | 'L') {
            return Err(format_error(&format!(
                "unrecognized format() type specifier \"{}\"",
                spec.conversion
            )));
        }
        let (mut width, mut left_align) = (0usize, spec.left_align);
        if let Width::Fixed(n) = spec.width {
            width = n;
        }
        if let Width::FromArgument(position) = spec.width {
            let idx = match position {
                Some(n) => n - 1,
                None => next_arg,
            };
            next_arg = idx + 1;
            let arg = args.get(idx).ok_or_else(too_few)?;
            if !arg.is_null() {
                let n = match crate::types::cast::cast(arg.clone(), &crate::types::DataType::Int4)?
                {
                    Value::Int4(n) => i64::from(n),
                    _ => 0,
                };
                left_align |= n < 0;
                width = usize::try_from(n.unsigned_abs())
                    .map_err(|_| format_error("number is out of range"))?;
            }
        }
        let idx = match spec.position {
            Some(n) => n - 1,
            None => next_arg,
        };
        next_arg = idx + 1;
        let arg = args.get(idx).ok_or_else(too_few)?;
        let piece = match spec.conversion {
            'I' if arg.is_null() => {
                return Err(Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    "null values cannot be formatted as an SQL identifier",
                ))
            }
            'I' => quote_ident(&text_arg(arg)),
            'L' if arg.is_null() => "NULL".to_string(),
            'L' => quote_literal(&text_arg(arg)),
            _ if arg.is_null() => String::new(),
            _ => text_arg(arg),
        };
        pad(&mut out, &piece, width, left_align);
    }
    Ok(out)
}

fn flags(f: Option<&str>) -> Result<(bool, bool)> {
    let f = f.unwrap_or("");
    for c in f.chars() {
        if !matches!(c, 'g' | 'i' | 'c' | 'n') {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("invalid regular expression option: \"{c}\""),
            ));
        }
    }
    Ok((
        f.contains('g'),
        f.contains('i') && f.rfind('i') > f.rfind('c'),
    ))
}

pub(crate) fn regexp_replace(s: &str, pat: &str, rep: &str, fl: Option<&str>) -> Result<Value> {
    let (global, ci) = flags(fl)?;
    let re = pattern::compiled(pat, ci)?;
    // PostgreSQL's `\1` and `\&` become the regex crate's `${1}` / `${0}`.
    let mut r = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => r.push_str("$$"),
            '\\' => match chars.next() {
                Some(d @ '0'..='9') => r.push_str(&format!("${{{d}}}")),
                Some('&') => r.push_str("${0}"),
                Some(o) => r.push(o),
                None => r.push('\\'),
            },
            o => r.push(o),
        }
    }
    let out = if global {
        re.replace_all(s, r.as_str())
    } else {
        re.replace(s, r.as_str())
    };
    Ok(Value::Text(out.into_owned()))
}

/// `regexp_matches`: one row per match (every match with the `g` flag, else
/// the first), each the array of capture groups (or the whole match).
pub(crate) fn regexp_matches(s: &str, pat: &str, fl: Option<&str>) -> Result<Vec<Value>> {
    let (global, ci) = flags(fl)?;
    let re = pattern::compiled(pat, ci)?;
    let row = |c: regex::Captures<'_>| -> Value {
        if c.len() == 1 {
            return Value::Array(vec![Value::Text(
                c.get(0).map(|m| m.as_str()).unwrap_or("").to_string(),
            )]);
        }
        Value::Array(
            c.iter()
                .skip(1)
                .map(|m| {
                    m.map(|m| Value::Text(m.as_str().to_string()))
                        .unwrap_or(Value::Null)
                })
                .collect(),
        )
    };
    Ok(if global {
        re.captures_iter(s).map(row).collect()
    } else {
        re.captures(s).map(row).into_iter().collect()
    })
}

pub(crate) fn regexp_match(s: &str, pat: &str, fl: Option<&str>) -> Result<Value> {
    let (_, ci) = flags(fl)?;
    let re = pattern::compiled(pat, ci)?;
    Ok(match re.captures(s) {
        None => Value::Null,
        Some(c) if c.len() == 1 => Value::Array(vec![Value::Text(
            c.get(0).map(|m| m.as_str()).unwrap_or("").to_string(),
        )]),
        Some(c) => Value::Array(
            c.iter()
                .skip(1)
                .map(|m| {
                    m.map(|m| Value::Text(m.as_str().to_string()))
                        .unwrap_or(Value::Null)
                })
                .collect(),
        ),
    })
}

fn unknown_encoding(f: &str) -> Error {
    Error::new(
        SqlState::INVALID_PARAMETER_VALUE,
        format!("unrecognized encoding: \"{f}\""),
    )
}

pub(crate) fn encode(b: &[u8], f: &str) -> Result<String> {
    Ok(match f.to_ascii_lowercase().as_str() {
        "hex" => hex::encode(b),
        "base64" => {
            // PostgreSQL wraps base64 output at 76 characters.
            let s = base64::engine::general_purpose::STANDARD.encode(b);
            s.as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        }
        "escape" => {
            let mut out = String::new();
            for &byte in b {
                match byte {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80..=0xff => out.push_str(&format!("\\{byte:03o}")),
                    _ => out.push(byte as char),
                }
            }
            out
        }
        _ => return Err(unknown_encoding(f)),
    })
}

pub(crate) fn decode(s: &str, f: &str) -> Result<Vec<u8>> {
    match f.to_ascii_lowercase().as_str() {
        "hex" => crate::types::text::parse_bytea(&format!("\\x{s}")),
        "base64" => {
            let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .map_err(|_| {
                    Error::new(
                        SqlState::INVALID_PARAMETER_VALUE,
                        "invalid base64 end sequence",
                    )
                })
        }
        "escape" => crate::types::text::parse_bytea(s),
        _ => Err(unknown_encoding(f)),
    }
}
