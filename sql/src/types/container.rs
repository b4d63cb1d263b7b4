//! Operators on strings, arrays and JSON: `||`, `->`, `->>`, `#>`, `#>>`,
//! `@>`, `<@`, `?`, `&&` and jsonb `-`.
//!
//! `||` follows PostgreSQL's overloads: `array || array`, `array || elem`,
//! `elem || array`, `jsonb || jsonb` (objects merge with the right side
//! winning, anything else concatenates as arrays), `bytea || bytea`, and
//! otherwise text concatenation where a non-text operand is converted with
//! its cast-to-text (`'a' || true` is `atrue`). JSON accessors return
//! `Value::Null` when the key or index is missing, as PostgreSQL does.

use serde_json::Value as Json;

use super::{json, text, Value};
use crate::error::{Error, Result};
use crate::SqlState;

/// A value as text the way `||` converts it.
pub fn concat_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => if *b { "true" } else { "false" }.to_string(),
        other => text::format(other),
    }
}

/// `l || r` for non-NULL operands.
pub fn concat(l: &Value, r: &Value) -> Result<Value> {
    Ok(match (l, r) {
        (Value::Array(a), Value::Array(b)) => Value::Array(a.iter().chain(b).cloned().collect()),
        (Value::Array(a), e) => Value::Array(a.iter().cloned().chain([e.clone()]).collect()),
        (e, Value::Array(b)) => {
            Value::Array([e.clone()].into_iter().chain(b.iter().cloned()).collect())
        }
        (Value::Jsonb(a), Value::Jsonb(b)) => Value::Jsonb(jsonb_concat(a, b)),
        (Value::Bytea(a), Value::Bytea(b)) => Value::Bytea([a.as_slice(), b.as_slice()].concat()),
        (a, b) => Value::Text(format!("{}{}", concat_text(a), concat_text(b))),
    })
}

fn jsonb_concat(a: &Json, b: &Json) -> Json {
    match (a, b) {
        (Json::Object(x), Json::Object(y)) => {
            let mut m = x.clone();
            for (k, v) in y {
                m.insert(k.clone(), v.clone());
            }
            json::canonical(Json::Object(m))
        }
        _ => {
            let as_vec = |v: &Json| match v {
                Json::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            Json::Array(as_vec(a).into_iter().chain(as_vec(b)).collect())
        }
    }
}

/// The JSON tree of a json or jsonb value.
fn tree(v: &Value) -> Result<Option<Json>> {
    Ok(match v {
        Value::Jsonb(j) => Some(j.clone()),
        Value::Json(s) => Some(json::parse_tree(s)?),
        _ => None,
    })
}

/// One step of `->`: an object key or an array index (negative from the end).
pub fn json_step<'a>(j: &'a Json, key: &Value) -> Option<&'a Json> {
    match (j, key) {
        (Json::Object(m), Value::Text(k)) => m.get(k),
        (Json::Array(items), k) => {
            let idx = match k {
                Value::Int2(i) => *i as i64,
                Value::Int4(i) => *i as i64,
                Value::Int8(i) => *i,
                // A path element of `#>` is text; it indexes arrays if numeric.
                Value::Text(s) => s.trim().parse::<i64>().ok()?,
                _ => return None,
            };
            let idx = if idx < 0 {
                items.len() as i64 + idx
            } else {
                idx
            };
            usize::try_from(idx).ok().and_then(|i| items.get(i))
        }
        _ => None,
    }
}

/// Wraps a JSON result in the operand's type (json stays json).
fn wrap(orig: &Value, j: &Json) -> Value {
    match orig {
        Value::Json(_) => Value::Json(serde_json::to_string(j).unwrap_or_default()),
        _ => Value::Jsonb(j.clone()),
    }
}

/// Path elements of `#>` (a text array, or its literal form).
fn path_of(v: &Value) -> Result<Vec<Value>> {
    match v {
        Value::Array(items) => Ok(items.clone()),
        Value::Text(s) => match text::parse_array(s, &super::DataType::Text)? {
            Value::Array(items) => Ok(items),
            _ => Ok(Vec::new()),
        },
        _ => Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            "path must be a text array",
        )),
    }
}

/// `->` / `->>` (`as_text`).
pub fn json_get(l: &Value, key: &Value, as_text: bool) -> Result<Value> {
    let Some(j) = tree(l)? else {
        return Err(Error::internal("-> on a non-json value"));
    };
    Ok(match json_step(&j, key) {
        None => Value::Null,
        Some(found) if as_text => json::as_text(found).map(Value::Text).unwrap_or(Value::Null),
        Some(found) => wrap(l, found),
    })
}

/// `#>` / `#>>`.
pub fn json_path(l: &Value, path: &Value, as_text: bool) -> Result<Value> {
    let Some(j) = tree(l)? else {
        return Err(Error::internal("#> on a non-json value"));
    };
    let mut cur = &j;
    for step in path_of(path)? {
        if step.is_null() {
            return Ok(Value::Null);
        }
        match json_step(cur, &step) {
            Some(next) => cur = next,
            None => return Ok(Value::Null),
        }
    }
    Ok(if as_text {
        json::as_text(cur).map(Value::Text).unwrap_or(Value::Null)
    } else {
        wrap(l, cur)
    })
}

/// jsonb `?`: a top-level key, or a string element of a top-level array.
pub fn json_has_key(l: &Value, key: &str) -> Result<bool> {
    let Some(j) = tree(l)? else { return Ok(false) };
    Ok(match &j {
        Json::Object(m) => m.contains_key(key),
        Json::Array(items) => items.iter().any(|v| v.as_str() == Some(key)),
        Json::String(s) => s == key,
        _ => false,
    })
}

/// jsonb `-`: remove a key (or matching string elements) or an array index.
pub fn jsonb_delete(l: &Json, key: &Value) -> Result<Json> {
    Ok(match (l, key) {
        (Json::Object(m), Value::Text(k)) => {
            let mut m = m.clone();
            m.shift_remove(k);
            Json::Object(m)
        }
        (Json::Array(items), Value::Text(k)) => Json::Array(
            items
                .iter()
                .filter(|v| v.as_str() != Some(k))
                .cloned()
                .collect(),
        ),
        (Json::Array(items), Value::Int4(_) | Value::Int8(_) | Value::Int2(_)) => {
            let i = match key {
                Value::Int2(i) => *i as i64,
                Value::Int4(i) => *i as i64,
                Value::Int8(i) => *i,
                _ => 0,
            };
            let idx = if i < 0 { items.len() as i64 + i } else { i };
            items
                .iter()
                .enumerate()
                .filter(|(n, _)| *n as i64 != idx)
                .map(|(_, v)| v.clone())
                .collect()
        }
        (Json::Object(_), _) => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot delete from object using integer index",
            ))
        }
        _ => {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "cannot delete from scalar",
            ))
        }
    })
}

/// `@>` for jsonb and arrays.
pub fn contains(l: &Value, r: &Value) -> Result<bool> {
    match (l, r) {
        (Value::Array(a), Value::Array(b)) => Ok(b
            .iter()
            .all(|x| !x.is_null() && a.iter().any(|y| elem_eq(x, y)))),
        _ => match (tree(l)?, tree(r)?) {
            (Some(a), Some(b)) => Ok(json::contains(&a, &b)),
            _ => Err(super::compare::no_operator(l, r, "@>")),
        },
    }
}

/// `&&` for arrays: any common non-NULL element.
pub fn overlaps(l: &Value, r: &Value) -> Result<bool> {
    match (l, r) {
        (Value::Array(a), Value::Array(b)) => Ok(a
            .iter()
            .any(|x| !x.is_null() && b.iter().any(|y| elem_eq(x, y)))),
        _ => Err(super::compare::no_operator(l, r, "&&")),
    }
}

fn elem_eq(x: &Value, y: &Value) -> bool {
    !x.is_null()
        && !y.is_null()
        && super::compare::compare(x, y)
            .map(|o| o.is_eq())
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataType;

    fn jb(s: &str) -> Value {
        text::parse(s, &DataType::Jsonb).unwrap_or(Value::Null)
    }

    #[test]
    fn json_access() {
        let v = jb(r#"{"a": {"b": [1, 2]}}"#);
        let got = json_path(&v, &Value::Text("{a,b,1}".into()), false).map(|v| text::format(&v));
        assert_eq!(got.ok().as_deref(), Some("2"));
        let got = json_get(&v, &Value::Text("a".into()), true).map(|v| text::format(&v));
        assert_eq!(got.ok().as_deref(), Some(r#"{"b": [1, 2]}"#));
        assert_eq!(
            json_get(&v, &Value::Text("zz".into()), true).ok(),
            Some(Value::Null)
        );
        let arr = Value::Json("[1,2]".into());
        assert_eq!(
            json_get(&arr, &Value::Int4(-1), false).ok(),
            Some(Value::Json("2".into()))
        );
        assert_eq!(json_has_key(&jb(r#"["a"]"#), "a").ok(), Some(true));
    }

    #[test]
    fn concat_and_contain() {
        let r = concat(&jb(r#"{"a":1}"#), &jb("[2]")).map(|v| text::format(&v));
        assert_eq!(r.ok().as_deref(), Some(r#"[{"a": 1}, 2]"#));
        let r = concat(&Value::Text("a".into()), &Value::Bool(true)).map(|v| text::format(&v));
        assert_eq!(r.ok().as_deref(), Some("atrue"));
        let a = Value::Array(vec![Value::Int4(1), Value::Null]);
        assert_eq!(
            contains(&a, &Value::Array(vec![Value::Null])).ok(),
            Some(false)
        );
        assert_eq!(
            contains(&a, &Value::Array(vec![Value::Int4(1)])).ok(),
            Some(true)
        );
        let d = jsonb_delete(
            &serde_json::json!({"a": 1, "b": 2}),
            &Value::Text("a".into()),
        )
        .map(|j| json::format_jsonb(&j));
        assert_eq!(d.ok().as_deref(), Some(r#"{"b": 2}"#));
    }
}
