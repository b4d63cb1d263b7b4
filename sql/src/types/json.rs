//! `json` and `jsonb` text handling.
//!
//! `json` is stored as the text the client sent (after validation), so it
//! prints back byte for byte. `jsonb` is a `serde_json::Value` kept in
//! canonical form: object keys unique (the last duplicate wins) and sorted
//! the way PostgreSQL's jsonb sorts them — shorter keys first, then by
//! bytes. `canonical` must be applied to every jsonb value built anywhere
//! (parsing, `jsonb_build_object`, `||`), so equality and output agree
//! with PostgreSQL.
//!
//! Output of jsonb uses PostgreSQL's spacing: `{"a": 1, "b": [1, 2]}`.

use serde_json::{Map, Value as Json};

use crate::error::{Error, Result};
use crate::SqlState;

/// `22P02` "invalid input syntax for type json" with serde's reason as DETAIL.
fn invalid(err: &serde_json::Error) -> Error {
    Error::new(
        SqlState::INVALID_JSON_TEXT,
        "invalid input syntax for type json",
    )
    .with_detail(err.to_string())
}

/// Parses JSON text into a tree (not canonicalised).
pub fn parse_tree(text: &str) -> Result<Json> {
    serde_json::from_str(text).map_err(|e| invalid(&e))
}

/// Validates `json` input, returning the text unchanged.
pub fn parse_json(text: &str) -> Result<String> {
    parse_tree(text)?;
    Ok(text.to_string())
}

/// Parses `jsonb` input into canonical form.
pub fn parse_jsonb(text: &str) -> Result<Json> {
    Ok(canonical(parse_tree(text)?))
}

/// jsonb's key order: by length, then bytewise.
pub fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.len()
        .cmp(&b.len())
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

/// Sorts object keys jsonb's way (recursively); later duplicates already
/// replaced earlier ones when the map was built.
pub fn canonical(v: Json) -> Json {
    match v {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> =
                map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            entries.sort_by(|a, b| key_cmp(&a.0, &b.0));
            Json::Object(entries.into_iter().collect::<Map<String, Json>>())
        }
        Json::Array(items) => Json::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// PostgreSQL's jsonb text output.
pub fn format_jsonb(v: &Json) -> String {
    let mut out = String::new();
    write_jsonb(v, &mut out);
    out
}

fn write_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

fn write_jsonb(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_jsonb(item, out);
            }
            out.push(']');
        }
        Json::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(k, out);
                out.push_str(": ");
                write_jsonb(item, out);
            }
            out.push('}');
        }
    }
}

/// `jsonb_pretty`: four-space indentation, as PostgreSQL prints it.
pub fn pretty(v: &Json) -> String {
    let mut out = String::new();
    write_pretty(v, 0, &mut out);
    out
}

fn write_pretty(v: &Json, level: usize, out: &mut String) {
    let pad = |n: usize| "    ".repeat(n);
    match v {
        // Empty containers still break the line, as PostgreSQL prints them.
        Json::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(level + 1));
                write_pretty(item, level + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push(']');
        }
        Json::Object(map) => {
            out.push_str("{\n");
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(&pad(level + 1));
                write_string(k, out);
                out.push_str(": ");
                write_pretty(item, level + 1, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&pad(level));
            out.push('}');
        }
        other => write_jsonb(other, out),
    }
}

/// The `jsonb_typeof` / `json_typeof` name.
pub fn type_of(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// The text a `->>` style accessor yields: strings unquoted, null as SQL
/// NULL (`None`), everything else as jsonb text.
pub fn as_text(v: &Json) -> Option<String> {
    match v {
        Json::Null => None,
        Json::String(s) => Some(s.clone()),
        other => Some(format_jsonb(other)),
    }
}

/// `@>` containment, PostgreSQL's rules: objects contain sub-objects,
/// arrays contain any-order subsets, and an array contains a scalar.
pub fn contains(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => y
            .iter()
            .all(|(k, bv)| x.get(k).is_some_and(|av| contains(av, bv))),
        (Json::Array(x), Json::Array(y)) => y.iter().all(|bv| {
            x.iter().any(|av| match (av, bv) {
                (Json::Array(_), Json::Array(_)) | (Json::Object(_), Json::Object(_)) => {
                    contains(av, bv)
                }
                _ => scalar_eq(av, bv),
            })
        }),
        (Json::Array(x), scalar) if !scalar.is_array() && !scalar.is_object() => {
            x.iter().any(|av| scalar_eq(av, scalar))
        }
        _ => scalar_eq(a, b),
    }
}

/// Equality of scalars with numbers compared by value (1 = 1.0).
pub fn scalar_eq(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_output() {
        let v =
            parse_jsonb(r#"{"b": [1,2], "a": 1, "aa": null, "a": 2}"#).map(|v| format_jsonb(&v));
        assert_eq!(
            v.ok().as_deref(),
            Some(r#"{"a": 2, "b": [1, 2], "aa": null}"#)
        );
        assert!(parse_json("{bad").is_err());
        let p = parse_jsonb(r#"{"a":[1,{"b":2}]}"#).map(|v| pretty(&v));
        assert_eq!(
            p.ok().as_deref(),
            Some(
                "{\n    \"a\": [\n        1,\n        {\n            \"b\": 2\n        }\n    ]\n}"
            )
        );
    }

    #[test]
    fn containment() {
        let a = parse_jsonb(r#"{"a": 1, "b": [1, 2, 3]}"#).unwrap_or_default();
        let b = parse_jsonb(r#"{"b": [3, 1]}"#).unwrap_or_default();
        assert!(contains(&a, &b));
        assert!(!contains(&b, &a));
    }
}
