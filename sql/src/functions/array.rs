//! Array functions (one-dimensional arrays, lower bound 1).
//!
//! Searching (`array_position`, `array_remove`, `array_replace`) uses
//! IS NOT DISTINCT FROM, so NULL finds NULL, as in PostgreSQL. The
//! builders (`array_append`, `array_cat`, ...) are not strict: a NULL
//! array acts as an empty one. An empty array has no dimensions, so
//! `array_length('{}', 1)` is NULL.

use super::{i32_arg, is_int, is_text, text_arg};
use crate::error::Result;
use crate::types::{compare, DataType, Value};

fn is_array(t: Option<&DataType>) -> bool {
    matches!(
        t,
        Some(DataType::Array(_) | DataType::Unknown | DataType::Void)
    )
}

/// Signatures of the array functions.
pub fn signature(name: &str, a: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let len = a.len();
    let arr = |i: usize| is_array(a.get(i));
    let array_type = |i: usize| match a.get(i) {
        Some(t @ Array(_)) => t.clone(),
        _ => Array(Box::new(Text)),
    };
    Some(match name {
        "array_length" | "array_upper" | "array_lower" if len == 2 && arr(0) && is_int(&a[1]) => {
            Int4
        }
        "array_ndims" | "cardinality" if len == 1 && arr(0) => Int4,
        "array_append" if len == 2 && arr(0) => match &a[0] {
            Array(_) => a[0].clone(),
            _ => Array(Box::new(a[1].clone())),
        },
        "array_prepend" if len == 2 && arr(1) => match &a[1] {
            Array(_) => a[1].clone(),
            _ => Array(Box::new(a[0].clone())),
        },
        "array_cat" if len == 2 && arr(0) && arr(1) => {
            if matches!(a[0], Array(_)) {
                array_type(0)
            } else {
                array_type(1)
            }
        }
        "array_position" if (len == 2 || len == 3) && arr(0) => Int4,
        "array_remove" if len == 2 && arr(0) => array_type(0),
        "array_replace" if len == 3 && arr(0) => array_type(0),
        "array_to_string" if (len == 2 || len == 3) && arr(0) && is_text(&a[1]) => Text,
        "string_to_array" if (len == 2 || len == 3) && is_text(&a[0]) => Array(Box::new(Text)),
        _ => return None,
    })
}

fn items(v: &Value) -> Result<Vec<Value>> {
    Ok(match v {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        Value::Text(s) => match crate::types::text::parse_array(s, &DataType::Text)? {
            Value::Array(items) => items,
            _ => Vec::new(),
        },
        other => vec![other.clone()],
    })
}

/// IS NOT DISTINCT FROM.
fn same(a: &Value, b: &Value) -> bool {
    match (a.is_null(), b.is_null()) {
        (true, true) => true,
        (false, false) => compare::compare(a, b).map(|o| o.is_eq()).unwrap_or(false),
        _ => false,
    }
}

fn dim_query(a: &[Value], f: impl Fn(usize) -> i32) -> Result<Value> {
    if a[0].is_null() || a[1].is_null() {
        return Ok(Value::Null);
    }
    let list = items(&a[0])?;
    let dim = i32_arg(&a[1])?;
    Ok(if dim != 1 || list.is_empty() {
        Value::Null
    } else {
        Value::Int4(f(list.len()))
    })
}

/// Calls an array function.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value>> {
    Some(match (name, a.len()) {
        ("array_length" | "array_upper", 2) => dim_query(a, |n| n as i32),
        ("array_lower", 2) => dim_query(a, |_| 1),
        ("array_ndims", 1) => items(&a[0]).map(|l| {
            if l.is_empty() {
                Value::Null
            } else {
                Value::Int4(1)
            }
        }),
        // Every element of every dimension counts: a nested array is a
        // further dimension of the same array.
        ("cardinality", 1) => items(&a[0]).map(|l| Value::Int4(leaf_count(&l) as i32)),
        ("array_append", 2) => items(&a[0]).map(|mut l| {
            l.push(a[1].clone());
            Value::Array(l)
        }),
        ("array_prepend", 2) => {
            items(&a[1]).map(|l| Value::Array([a[0].clone()].into_iter().chain(l).collect()))
        }
        ("array_cat", 2) => {
            if a[0].is_null() && a[1].is_null() {
                return Some(Ok(Value::Null));
            }
            items(&a[0])
                .and_then(|x| Ok(Value::Array(x.into_iter().chain(items(&a[1])?).collect())))
        }
        ("array_position", 2 | 3) => (|| {
            if a[0].is_null() {
                return Ok(Value::Null);
            }
            let list = items(&a[0])?;
            let start = match a.get(2) {
                Some(v) if !v.is_null() => (i32_arg(v)?.max(1) - 1) as usize,
                _ => 0,
            };
            Ok(list
                .iter()
                .enumerate()
                .skip(start)
                .find(|(_, v)| same(v, &a[1]))
                .map(|(i, _)| Value::Int4(i as i32 + 1))
                .unwrap_or(Value::Null))
        })(),
        ("array_remove", 2) => {
            if a[0].is_null() {
                return Some(Ok(Value::Null));
            }
            items(&a[0]).map(|l| Value::Array(l.into_iter().filter(|v| !same(v, &a[1])).collect()))
        }
        ("array_replace", 3) => {
            if a[0].is_null() {
                return Some(Ok(Value::Null));
            }
            items(&a[0]).map(|l| {
                Value::Array(
                    l.into_iter()
                        .map(|v| if same(&v, &a[1]) { a[2].clone() } else { v })
                        .collect(),
                )
            })
        }
        ("array_to_string", 2 | 3) => {
            if a[0].is_null() || a[1].is_null() {
                return Some(Ok(Value::Null));
            }
            let null_str = a.get(2).filter(|v| !v.is_null()).map(text_arg);
            items(&a[0]).map(|l| {
                let parts: Vec<String> = l
                    .iter()
                    .filter_map(|v| {
                        if v.is_null() {
                            null_str.clone()
                        } else {
                            Some(text_arg(v))
                        }
                    })
                    .collect();
                Value::Text(parts.join(&text_arg(&a[1])))
            })
        }
        ("string_to_array", 2 | 3) => {
            if a[0].is_null() {
                return Some(Ok(Value::Null));
            }
            let s = text_arg(&a[0]);
            let null_str = a.get(2).filter(|v| !v.is_null()).map(text_arg);
            let parts: Vec<String> = match &a[1] {
                Value::Null => s.chars().map(|c| c.to_string()).collect(),
                d if text_arg(d).is_empty() => vec![s.clone()],
                d => s.split(text_arg(d).as_str()).map(str::to_string).collect(),
            };
            let parts = if s.is_empty() { Vec::new() } else { parts };
            Ok(Value::Array(
                parts
                    .into_iter()
                    .map(|p| {
                        if Some(&p) == null_str.as_ref() {
                            Value::Null
                        } else {
                            Value::Text(p)
                        }
                    })
                    .collect(),
            ))
        }
        _ => return None,
    })
}

/// The number of elements of an array of any dimensions.
fn leaf_count(items: &[Value]) -> usize {
    items
        .iter()
        .map(|v| match v {
            Value::Array(inner) => leaf_count(inner),
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use crate::types::text::format;
    use crate::types::Value;

    fn c(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args) {
            Ok(v) => format(&v),
            Err(e) => format!("{}: {}", e.state(), e.message()),
        }
    }

    #[test]
    fn matches_postgres() {
        let i = Value::Int4;
        let t = |s: &str| Value::Text(s.into());
        let arr = Value::Array(vec![i(1), Value::Null, i(3)]);
        assert_eq!(
            c("array_to_string", &[arr.clone(), t(","), t("*")]),
            "1,*,3"
        );
        assert_eq!(c("array_to_string", &[arr.clone(), t(",")]), "1,3");
        assert_eq!(c("string_to_array", &[t("abc"), Value::Null]), "{a,b,c}");
        assert_eq!(
            c("string_to_array", &[t("a,b,,c"), t(","), t("")]),
            "{a,b,NULL,c}"
        );
        assert_eq!(c("array_length", &[Value::Array(vec![]), i(1)]), "");
        assert_eq!(c("array_length", &[arr.clone(), i(1)]), "3");
        assert_eq!(c("array_position", &[arr.clone(), Value::Null]), "2");
        assert_eq!(
            c(
                "array_replace",
                &[Value::Array(vec![i(1), i(2), i(1)]), i(1), i(9)]
            ),
            "{9,2,9}"
        );
        assert_eq!(c("array_append", &[Value::Null, i(1)]), "{1}");
        assert_eq!(
            c("array_cat", &[arr.clone(), Value::Array(vec![i(4)])]),
            "{1,NULL,3,4}"
        );
        assert_eq!(c("array_remove", &[arr, Value::Null]), "{1,3}");
        assert_eq!(c("cardinality", &[Value::Array(vec![i(1), i(2)])]), "2");
    }
}
