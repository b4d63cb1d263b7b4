//! Record values built for whole-row references (see
//! `plan/whole_row.rs`): their text form and their JSON forms. The first
//! argument is the array of column names, the rest are the columns.

use serde_json::{Map, Value as Json};

use super::json::to_json_value;
use crate::error::Result;
use crate::types::{json as tj, text, Value};

/// Calls one of the record functions, or `None` for another name.
pub fn call(name: &str, args: &[Value]) -> Option<Result<Value>> {
    let (names, values) = match args.split_first() {
        Some((Value::Array(names), values)) => (names, values),
        _ => return None,
    };
    let keys = names.iter().map(|n| match n {
        Value::Text(s) => s.clone(),
        other => text::format(other),
    });
    Some(match name {
        "rustydb_record" => Ok(Value::Text(record_text(values))),
        "rustydb_record_fields" => Ok(Value::Array(values.to_vec())),
        "rustydb_record_json" => (|| {
            let mut parts = Vec::with_capacity(values.len());
            for (k, v) in keys.zip(values) {
                let value = match v {
                    Value::Json(raw) => raw.clone(),
                    // numeric keeps its scale (1.50), as PostgreSQL writes it.
                    Value::Numeric(_) => text::format(v),
                    other => serde_json::to_string(&to_json_value(other)?).unwrap_or_default(),
                };
                let key = serde_json::to_string(&Json::String(k)).unwrap_or_default();
                parts.push(format!("{key}:{value}"));
            }
            Ok(Value::Json(format!("{{{}}}", parts.join(","))))
        })(),
        "rustydb_record_jsonb" => (|| {
            let mut m = Map::new();
            for (k, v) in keys.zip(values) {
                m.insert(k, to_json_value(v)?);
            }
            Ok(Value::Jsonb(tj::canonical(Json::Object(m))))
        })(),
        _ => return None,
    })
}

/// PostgreSQL's record_out: `(a,b)`, NULL as nothing, a field quoted when
/// it is empty or holds a quote, backslash, parenthesis, comma or space.
pub(crate) fn record_text(values: &[Value]) -> String {
    let fields: Vec<String> = values
        .iter()
        .map(|v| {
            if v.is_null() {
                return String::new();
            }
            let s = text::format(v);
            let quote = s.is_empty()
                || s.chars()
                    .any(|c| matches!(c, '"' | '\\' | '(' | ')' | ',') || c.is_whitespace());
            if !quote {
                return s;
            }
            let mut out = String::from("\"");
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push(c);
                }
                out.push(c);
            }
            out.push('"');
            out
        })
        .collect();
    format!("({})", fields.join(","))
}
