//! Whole-row references: a FROM item's alias used as a value
//! (`SELECT row_to_json(r) FROM t r`, `json_agg(r)`, `SELECT e FROM
//! jsonb_array_elements(...) e`).
//!
//! There is no record type among the engine's values, so a whole-row
//! reference binds to a call of the internal function [`RECORD_FN`] whose
//! first argument is the column names (a text array literal) and whose
//! other arguments are the columns; it evaluates to the record's text form
//! `(1,b)`. The JSON functions that take a record (`row_to_json`,
//! `to_json`, `to_jsonb`, `json_agg`, `jsonb_agg`) recognise that call and
//! swap it for the JSON-building variant, so the names become keys. A
//! function returning a scalar in FROM is the exception PostgreSQL makes:
//! its alias stands for the scalar itself.

use super::bind::{Binder, Bound};
use super::scope::Scope;
use crate::expr::Expr;
use crate::types::{DataType, Value};

/// The record constructor: `(names[], col1, col2, ...)` → record text.
pub const RECORD_FN: &str = "rustydb_record";
/// The record's fields as an array (for comparing records as values).
pub const RECORD_FIELDS_FN: &str = "rustydb_record_fields";
/// The same record as `row_to_json` writes it.
pub const RECORD_JSON_FN: &str = "rustydb_record_json";
/// The same record as `to_jsonb` builds it.
pub const RECORD_JSONB_FN: &str = "rustydb_record_jsonb";

impl Binder<'_> {
    /// The whole-row value of the FROM item `name` in `scope`, if there is
    /// such an item.
    pub(crate) fn whole_row(&self, name: &str, scope: &Scope) -> Option<Bound> {
        let columns: Vec<usize> = (0..scope.len())
            .filter(|&i| {
                scope
                    .columns
                    .get(i)
                    .is_some_and(|c| c.table.as_deref() == Some(name) && c.name != "ctid")
            })
            .collect();
        if columns.is_empty() {
            return None;
        }
        if let [only] = columns.as_slice() {
            if self.scalar_items.iter().any(|s| s == name) {
                let ty = scope.columns.get(*only)?.data_type.clone();
                return Some((Expr::Column(*only), ty));
            }
        }
        let names = columns
            .iter()
            .filter_map(|&i| scope.columns.get(i))
            .map(|c| Value::Text(c.name.clone()))
            .collect();
        let mut args = vec![Expr::Literal(Value::Array(names))];
        args.extend(columns.into_iter().map(Expr::Column));
        Some((Expr::Function(RECORD_FN.into(), args), DataType::Text))
    }
}

/// A row constructor `(a, b)` / `ROW(a, b)`: a record with the anonymous
/// field names PostgreSQL gives it (f1, f2, ...).
pub(crate) fn row_constructor(
    b: &mut Binder<'_>,
    items: Vec<Bound>,
) -> crate::error::Result<Bound> {
    let names = (1..=items.len())
        .map(|i| Value::Text(format!("f{i}")))
        .collect();
    let mut args = vec![Expr::Literal(Value::Array(names))];
    for (e, t) in items {
        let target = if t == DataType::Unknown {
            DataType::Text
        } else {
            t.clone()
        };
        args.push(b.coerce_unknown(e, &t, &target)?);
    }
    Ok((Expr::Function(RECORD_FN.into(), args), DataType::Text))
}

/// `row_to_json(r)`, `to_json(r)`, `to_jsonb(r)` of a whole-row reference.
pub(crate) fn record_to_json(name: &str, args: &[Bound]) -> Option<Bound> {
    let [(Expr::Function(f, fields), _)] = args else {
        return None;
    };
    if f != RECORD_FN {
        return None;
    }
    match name {
        "row_to_json" | "to_json" => Some((
            Expr::Function(RECORD_JSON_FN.into(), fields.clone()),
            DataType::Json,
        )),
        "to_jsonb" => Some((
            Expr::Function(RECORD_JSONB_FN.into(), fields.clone()),
            DataType::Jsonb,
        )),
        _ => None,
    }
}

/// The argument of `count([DISTINCT] (a, b))`: the fields as an array, so
/// DISTINCT compares them as values (`1.0` equals `1.00`) rather than as
/// the record's text. The array is never NULL, like the record.
pub(crate) fn count_record_arg(e: Expr) -> Expr {
    match e {
        Expr::Function(f, fields) if f == RECORD_FN => {
            Expr::Function(RECORD_FIELDS_FN.into(), fields)
        }
        other => other,
    }
}

/// The argument of `json_agg(r)` / `jsonb_agg(r)`: the record as JSON.
pub(crate) fn agg_record_arg(binary: bool, e: Expr) -> Expr {
    match e {
        Expr::Function(f, fields) if f == RECORD_FN => Expr::Function(
            if binary {
                RECORD_JSONB_FN
            } else {
                RECORD_JSON_FN
            }
            .into(),
            fields,
        ),
        other => other,
    }
}
