//! COPY's text and CSV row formats (the field layer; the protocol's
//! CopyData framing is the executor's).
//!
//! Text format: fields separated by a delimiter (tab by default), NULL as
//! `\N`, and backslash escapes for the delimiter, newline, carriage return,
//! tab and backslash itself; input also accepts `\b \f \v`, octal `\ooo`
//! and hex `\xHH`. CSV: fields separated by commas, quoted with `"` when
//! they contain the delimiter, a quote, CR or LF, or are the empty string
//! (an unquoted empty field is NULL), quotes doubled inside. Values are
//! rendered with `text::format`, so COPY TO prints what SELECT prints.

use super::{text, Value};
use crate::error::{Error, Result};
use crate::SqlState;

fn bad_copy(msg: impl Into<String>) -> Error {
    Error::new(SqlState::INVALID_TEXT_REPRESENTATION, msg)
}

/// One row in COPY text format, with the trailing newline.
pub fn format_text_row(values: &[Value], delimiter: char) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        if v.is_null() {
            out.push_str("\\N");
            continue;
        }
        for c in text::format(v).chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c == delimiter => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out.push('\n');
    out
}

/// Splits one COPY text line (without its newline) into fields; `None` is NULL.
pub fn parse_text_line(line: &str, delimiter: char) -> Result<Vec<Option<String>>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut raw_null = true;
    let mut chars = line.chars().peekable();
    let mut field_is_marker = false;
    loop {
        match chars.next() {
            None => break,
            Some(c) if c == delimiter => {
                fields.push(finish(&mut cur, field_is_marker));
                field_is_marker = false;
                raw_null = true;
            }
            Some('\\') => {
                let Some(n) = chars.next() else {
                    return Err(bad_copy("unexpected end of line after backslash"));
                };
                match n {
                    'N' if raw_null
                        && cur.is_empty()
                        && chars.peek().is_none_or(|c| *c == delimiter) =>
                    {
                        field_is_marker = true;
                    }
                    'b' => cur.push('\u{8}'),
                    'f' => cur.push('\u{c}'),
                    'n' => cur.push('\n'),
                    'r' => cur.push('\r'),
                    't' => cur.push('\t'),
                    'v' => cur.push('\u{b}'),
                    'x' => {
                        let mut v = 0u32;
                        let mut digits = 0;
                        while digits < 2 {
                            match chars.peek().and_then(|c| c.to_digit(16)) {
                                Some(d) => {
                                    v = v * 16 + d;
                                    chars.next();
                                    digits += 1;
                                }
                                None => break,
                            }
                        }
                        if digits == 0 {
                            cur.push('x');
                        } else {
                            cur.push(char::from_u32(v).unwrap_or('\u{fffd}'));
                        }
                    }
                    '0'..='7' => {
                        let mut v = n.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    v = v * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        cur.push(char::from_u32(v & 0xff).unwrap_or('\u{fffd}'));
                    }
                    other => cur.push(other),
                }
                raw_null = false;
            }
            Some(c) => {
                cur.push(c);
                raw_null = false;
            }
        }
    }
    fields.push(finish(&mut cur, field_is_marker));
    Ok(fields)
}

fn finish(cur: &mut String, is_null: bool) -> Option<String> {
    let s = std::mem::take(cur);
    if is_null {
        None
    } else {
        Some(s)
    }
}

/// One row in CSV format, with the trailing newline.
pub fn format_csv_row(values: &[Value], delimiter: char) -> String {
    let mut out = String::new();
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(delimiter);
        }
        if v.is_null() {
            continue;
        }
        let s = text::format(v);
        let quote = s.is_empty() || s.contains([delimiter, '"', '\n', '\r']) || s == "\\.";
        if quote {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&s);
        }
    }
    out.push('\n');
    out
}

/// Parses CSV data into rows of fields (`None` is an unquoted empty field,
/// i.e. NULL). Quoted fields may span lines. A line `\.` ends the data.
pub fn parse_csv(data: &str, delimiter: char) -> Result<Vec<Vec<Option<String>>>> {
    let mut rows = Vec::new();
    let mut row: Vec<Option<String>> = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut at_line_start = true;
    let mut chars = data.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        if at_line_start && c == '\\' && chars.peek() == Some(&'.') {
            let rest: String = chars.clone().take(2).collect();
            if rest == "." || rest == ".\n" || rest == ".\r" {
                break;
            }
        }
        at_line_start = false;
        match c {
            '"' => {
                quoted = true;
                was_quoted = true;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                row.push(csv_field(&mut cur, was_quoted));
                was_quoted = false;
                rows.push(std::mem::take(&mut row));
                at_line_start = true;
            }
            c if c == delimiter => {
                row.push(csv_field(&mut cur, was_quoted));
                was_quoted = false;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return Err(bad_copy("unterminated CSV quoted field"));
    }
    if !cur.is_empty() || was_quoted || !row.is_empty() {
        row.push(csv_field(&mut cur, was_quoted));
        rows.push(row);
    }
    Ok(rows)
}

fn csv_field(cur: &mut String, was_quoted: bool) -> Option<String> {
    let s = std::mem::take(cur);
    if s.is_empty() && !was_quoted {
        None
    } else {
        Some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let row = vec![
            Value::Int4(1),
            Value::Null,
            Value::Text("a\tb\\c\nd".into()),
            Value::Bool(true),
        ];
        let line = format_text_row(&row, '\t');
        assert_eq!(line, "1\t\\N\ta\\tb\\\\c\\nd\tt\n");
        let fields = parse_text_line(line.trim_end_matches('\n'), '\t').ok();
        let expect = vec![
            Some("1".to_string()),
            None,
            Some("a\tb\\c\nd".to_string()),
            Some("t".to_string()),
        ];
        assert_eq!(fields, Some(expect));
        assert_eq!(
            parse_text_line("\\x41\\101\\N", ',').ok(),
            Some(vec![Some("AAN".to_string())])
        );
        assert!(parse_text_line("abc\\", '\t').is_err());
    }

    #[test]
    fn csv_round_trip() {
        let row = vec![
            Value::Text("a,b".into()),
            Value::Null,
            Value::Text(String::new()),
            Value::Text("say \"hi\"".into()),
        ];
        let line = format_csv_row(&row, ',');
        assert_eq!(line, "\"a,b\",,\"\",\"say \"\"hi\"\"\"\n");
        let rows = parse_csv(&format!("{line}x,\"multi\nline\"\n\\.\nignored"), ',').ok();
        let expect = vec![
            vec![
                Some("a,b".to_string()),
                None,
                Some(String::new()),
                Some("say \"hi\"".to_string()),
            ],
            vec![Some("x".to_string()), Some("multi\nline".to_string())],
        ];
        assert_eq!(rows, Some(expect));
        assert!(parse_csv("\"open", ',').is_err());
    }
}
