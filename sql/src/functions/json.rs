//! JSON functions: constructors (`to_json`, `json_build_object`, ...),
//! inspection (`json_typeof`, `json_array_length`), path extraction and
//! jsonb editing (`jsonb_set`, `jsonb_strip_nulls`, `jsonb_pretty`).
//!
//! SQL values become JSON the way PostgreSQL's `to_json` does: numbers
//! stay numbers, booleans booleans, arrays arrays, timestamps ISO 8601
//! strings with a `T`, json/jsonb embed as-is, everything else as its text.
//! `json` results reproduce PostgreSQL's own spacing for built objects
//! (`{"a" : 1}`), `jsonb` results are canonical.
//!
//! Known gap: numbers pass through `serde_json::Number` (i64/u64/f64), so
//! `to_jsonb(1.50)` prints `1.5` where PostgreSQL keeps `1.50`.

use serde_json::{Map, Value as Json};

use super::text_arg;
use crate::error::{Error, Result};
use crate::types::{json as tj, DataType, Value};
use crate::SqlState;

/// Signatures of the JSON functions.
pub fn signature(name: &str, a: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let is_json = |i: usize| matches!(a.get(i), Some(Json | Jsonb | Unknown));
    let is_jsonb = |i: usize| matches!(a.get(i), Some(Jsonb | Unknown));
    let len = a.len();
    Some(match name {
        "to_json" | "json_build_object" | "json_build_array" if name != "to_json" || len == 1 => {
            Json
        }
        "to_jsonb" | "jsonb_build_object" | "jsonb_build_array"
            if name != "to_jsonb" || len == 1 =>
        {
            Jsonb
        }
        "json_typeof" | "jsonb_typeof" | "jsonb_pretty" if len == 1 && is_json(0) => Text,
        "json_array_length" | "jsonb_array_length" if len == 1 && is_json(0) => Int4,
        "json_extract_path" if len >= 1 && is_json(0) => Json,
        "jsonb_extract_path" if len >= 1 && is_jsonb(0) => Jsonb,
        "json_extract_path_text" | "jsonb_extract_path_text" if len >= 1 && is_json(0) => Text,
        "jsonb_set" if (len == 3 || len == 4) && is_jsonb(0) => Jsonb,
        "jsonb_strip_nulls" if len == 1 && is_jsonb(0) => Jsonb,
        "json_strip_nulls" if len == 1 && is_json(0) => Json,
        _ => return None,
    })
}

/// A SQL value as JSON (`to_json` semantics).
pub fn to_json_value(v: &Value) -> Result<Json> {
    Ok(match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int2(x) => Json::from(*x),
        Value::Int4(x) => Json::from(*x),
        Value::Int8(x) => Json::from(*x),
        Value::Oid(x) => Json::from(*x),
        Value::Float4(f) if f.is_finite() => {
            serde_json::from_str(&crate::types::text::format(v)).unwrap_or(Json::from(*f as f64))
        }
        Value::Float8(f) if f.is_finite() => {
            serde_json::from_str(&crate::types::text::format(v)).unwrap_or(Json::from(*f))
        }
        Value::Numeric(_) => {
            serde_json::from_str(&crate::types::text::format(v)).unwrap_or(Json::Null)
        }
        Value::Json(s) => tj::parse_tree(s)?,
        Value::Jsonb(j) => j.clone(),
        Value::Array(items) => Json::Array(items.iter().map(to_json_value).collect::<Result<_>>()?),
        Value::Timestamp(t) => Json::String(json_timestamp(t)),
        Value::TimestampTz(t) => {
            // Local time in the session's zone with its `+hh:mm` offset.
            let zone = crate::types::zone::current();
            let off = zone.offset_at(&t.naive_utc());
            let (sign, a) = (if off < 0 { '-' } else { '+' }, off.unsigned_abs());
            Json::String(format!(
                "{}{sign}{:02}:{:02}",
                json_timestamp(&zone.to_local(&t.naive_utc())),
                a / 3600,
                (a / 60) % 60
            ))
        }
        other => Json::String(crate::types::text::format(other)),
    })
}

/// `2024-01-01T12:00:00.5`: ISO 8601 with the fraction trimmed, as
/// PostgreSQL writes timestamps in JSON.
fn json_timestamp(t: &chrono::NaiveDateTime) -> String {
    format!(
        "{}T{}",
        t.format("%Y-%m-%d"),
        crate::types::datetime::format_time(&t.time())
    )
}

/// PostgreSQL's `json` text of built values: compact arrays from `to_json`,
/// `{"k" : v, ...}` objects and `[a, b]` arrays from the build functions.
fn json_text(j: &Json) -> String {
    serde_json::to_string(j).unwrap_or_default()
}

fn kv_pairs(a: &[Value]) -> Result<Vec<(String, &Value)>> {
    if !a.len().is_multiple_of(2) {
        return Err(Error::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "argument list must have even number of elements",
        )
        .with_hint(
            "The arguments of json_build_object() must consist of alternating keys and values.",
        ));
    }
    a.chunks(2)
        .enumerate()
        .map(|(i, kv)| {
            if kv[0].is_null() {
                return Err(Error::new(
                    SqlState::NULL_VALUE_NOT_ALLOWED,
                    format!("argument {}: key must not be null", i * 2 + 1),
                ));
            }
            Ok((text_arg(&kv[0]), &kv[1]))
        })
        .collect()
}

fn tree_of(v: &Value) -> Result<Json> {
    match v {
        Value::Jsonb(j) => Ok(j.clone()),
        Value::Json(s) | Value::Text(s) => tj::parse_tree(s),
        other => to_json_value(other),
    }
}

fn path_args(a: &[Value]) -> Vec<Value> {
    // Variadic text arguments, or one text[] argument.
    match a {
        [Value::Array(items)] => items.clone(),
        _ => a.to_vec(),
    }
}

/// Calls a JSON function.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value>> {
    Some(match (name, a.len()) {
        ("to_json", 1) => to_json_value(&a[0]).map(|j| {
            if a[0].is_null() {
                Value::Null
            } else {
                Value::Json(json_text(&j))
            }
        }),
        ("to_jsonb", 1) => to_json_value(&a[0]).map(|j| {
            if a[0].is_null() {
                Value::Null
            } else {
                Value::Jsonb(tj::canonical(j))
            }
        }),
        ("json_build_object", _) => kv_pairs(a).and_then(|pairs| {
            let parts = pairs
                .into_iter()
                .map(|(k, v)| {
                    Ok(format!(
                        "{} : {}",
                        json_text(&Json::String(k)),
                        json_text(&to_json_value(v)?)
                    ))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Value::Json(format!("{{{}}}", parts.join(", "))))
        }),
        ("jsonb_build_object", _) => kv_pairs(a).and_then(|pairs| {
            let mut m = Map::new();
            for (k, v) in pairs {
                m.insert(k, to_json_value(v)?);
            }
            Ok(Value::Jsonb(tj::canonical(Json::Object(m))))
        }),
        ("json_build_array", _) => a
            .iter()
            .map(|v| to_json_value(v).map(|j| json_text(&j)))
            .collect::<Result<Vec<_>>>()
            .map(|parts| Value::Json(format!("[{}]", parts.join(", ")))),
        ("jsonb_build_array", _) => a
            .iter()
            .map(to_json_value)
            .collect::<Result<Vec<_>>>()
            .map(|items| Value::Jsonb(tj::canonical(Json::Array(items)))),
        ("json_typeof" | "jsonb_typeof", 1) => {
            tree_of(&a[0]).map(|j| Value::Text(tj::type_of(&j).into()))
        }
        ("jsonb_pretty", 1) => tree_of(&a[0]).map(|j| Value::Text(tj::pretty(&tj::canonical(j)))),
        ("json_array_length" | "jsonb_array_length", 1) => tree_of(&a[0]).and_then(|j| match j {
            Json::Array(items) => Ok(Value::Int4(items.len() as i32)),
            Json::Object(_) => Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot get array length of a non-array",
            )),
            _ => Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot get array length of a scalar",
            )),
        }),
        (
            "json_extract_path"
            | "jsonb_extract_path"
            | "json_extract_path_text"
            | "jsonb_extract_path_text",
            n,
        ) if n >= 1 => {
            let path = Value::Array(path_args(&a[1..]));
            let base = match &a[0] {
                Value::Text(s) if name.starts_with("jsonb") => match tj::parse_jsonb(s) {
                    Ok(j) => Value::Jsonb(j),
                    Err(e) => return Some(Err(e)),
                },
                Value::Text(s) => Value::Json(s.clone()),
                other => other.clone(),
            };
            crate::types::container::json_path(&base, &path, name.ends_with("_text"))
        }
        ("jsonb_set", 3 | 4) => jsonb_set(a),
        ("jsonb_strip_nulls" | "json_strip_nulls", 1) => tree_of(&a[0]).map(|j| {
            let s = strip_nulls(j);
            if name == "jsonb_strip_nulls" {
                Value::Jsonb(tj::canonical(s))
            } else {
                Value::Json(json_text(&s))
            }
        }),
        _ => return None,
    })
}

fn strip_nulls(j: Json) -> Json {
    match j {
        Json::Object(m) => Json::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Json::Array(items) => Json::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

fn jsonb_set(a: &[Value]) -> Result<Value> {
    if a[..3].iter().any(Value::is_null) {
        return Ok(Value::Null);
    }
    let mut target = tree_of(&a[0])?;
    let path: Vec<String> = match &a[1] {
        Value::Array(items) => items.iter().map(text_arg).collect(),
        Value::Text(s) => match crate::types::text::parse_array(s, &DataType::Text)? {
            Value::Array(items) => items.iter().map(text_arg).collect(),
            _ => Vec::new(),
        },
        _ => {
            return Err(Error::new(
                SqlState::DATATYPE_MISMATCH,
                "path must be a text array",
            ))
        }
    };
    let new = tree_of(&a[2])?;
    let create = match a.get(3) {
        Some(Value::Bool(b)) => *b,
        _ => true,
    };
    set_path(&mut target, &path, new, create)?;
    Ok(Value::Jsonb(tj::canonical(target)))
}

fn set_path(cur: &mut Json, path: &[String], new: Json, create: bool) -> Result<()> {
    let Some((first, rest)) = path.split_first() else {
        *cur = new;
        return Ok(());
    };
    match cur {
        Json::Object(m) => {
            if rest.is_empty() {
                if create || m.contains_key(first) {
                    m.insert(first.clone(), new);
                }
            } else if let Some(next) = m.get_mut(first) {
                set_path(next, rest, new, create)?;
            }
        }
        Json::Array(items) => {
            let idx: i64 = first.trim().parse().map_err(|_| {
                Error::new(
                    SqlState::INVALID_TEXT_REPRESENTATION,
                    format!("path element at position 1 is not an integer: \"{first}\""),
                )
            })?;
            let len = items.len() as i64;
            let pos = if idx < 0 { len + idx } else { idx };
            if rest.is_empty() {
                if (0..len).contains(&pos) {
                    items[pos as usize] = new;
                } else if create {
                    if pos < 0 {
                        items.insert(0, new);
                    } else {
                        items.push(new);
                    }
                }
            } else if (0..len).contains(&pos) {
                set_path(&mut items[pos as usize], rest, new, create)?;
            }
        }
        _ => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot set path in scalar",
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::format;

    fn c(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args) {
            Ok(v) => format(&v),
            Err(e) => format!("{}: {}", e.state(), e.message()),
        }
    }

    fn t(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn matches_postgres() {
        let arr = Value::Array(vec![Value::Int4(1), Value::Int4(2)]);
        assert_eq!(
            c(
                "json_build_object",
                &[t("a"), Value::Int4(1), t("b"), arr.clone()]
            ),
            "{\"a\" : 1, \"b\" : [1,2]}"
        );
        assert_eq!(
            c(
                "jsonb_build_object",
                &[t("b"), Value::Int4(1), t("a"), t("x")]
            ),
            "{\"a\": \"x\", \"b\": 1}"
        );
        assert_eq!(
            c("json_build_array", &[Value::Int4(1), t("a"), Value::Null]),
            "[1, \"a\", null]"
        );
        let ts = crate::types::text::parse("2024-01-31 13:45:00", &DataType::Timestamp)
            .unwrap_or(Value::Null);
        assert_eq!(c("to_json", &[ts]), "\"2024-01-31T13:45:00\"");
        assert_eq!(c("to_json", &[arr]), "[1,2]");
        assert_eq!(c("to_json", &[t("a\"b")]), "\"a\\\"b\"");
        let target = Value::Jsonb(serde_json::json!({"a": {"b": 1}}));
        assert_eq!(
            c(
                "jsonb_set",
                &[target, t("{a,c}"), Value::Jsonb(serde_json::json!(2))]
            ),
            "{\"a\": {\"b\": 1, \"c\": 2}}"
        );
        assert_eq!(
            c(
                "jsonb_strip_nulls",
                &[Value::Jsonb(serde_json::json!({"a": null, "b": [null]}))]
            ),
            "{\"b\": [null]}"
        );
        assert_eq!(c("json_array_length", &[Value::Json("[1,2]".into())]), "2");
        assert_eq!(
            c("json_array_length", &[Value::Json("{}".into())]),
            "22023: cannot get array length of a non-array"
        );
        assert_eq!(
            c(
                "json_extract_path_text",
                &[Value::Json("{\"a\":{\"b\":\"x\"}}".into()), t("a"), t("b")]
            ),
            "x"
        );
        assert_eq!(
            c("jsonb_typeof", &[Value::Jsonb(serde_json::json!([1]))]),
            "array"
        );
        assert_eq!(c("to_json", &[Value::Bool(true)]), "true");
    }
}
