//! System views over publications and slots.
//!
//! Built at bind time from the statement's own snapshot, like every other
//! system view (see `plan::system`):
//!
//! - `pg_publication`, `pg_publication_rel`, `pg_publication_tables`:
//!   PostgreSQL 15's columns; `rowfilter` is deparsed in PostgreSQL's style
//!   (`(b > 5)`, `'x'::text`), `prqual` holds the same text (PostgreSQL
//!   stores a node tree there, which nobody reads directly);
//! - `rustydb_publication_masks`: one row per masked column;
//! - `rustydb_replication_slots`: slots with lag in records and whether
//!   this node streams them now.

use std::collections::HashMap;
use std::sync::Arc;

use sqlparser::ast;

use super::PublicationDef;
use crate::catalog::{Relation, TableDef};
use crate::error::Result;
use crate::expr::Row;
use crate::plan::bind::Binder;
use crate::plan::scope::Scope;
use crate::plan::Plan;
use crate::types::{DataType, Value};

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}

fn cols(list: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    list.iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
}

/// The view named `name`, if it is one of ours.
pub fn view(b: &mut Binder, name: &str) -> Result<Option<(Plan, Scope)>> {
    use DataType as T;
    if !matches!(
        name,
        "pg_publication"
            | "pg_publication_rel"
            | "pg_publication_tables"
            | "rustydb_publication_masks"
            | "rustydb_replication_slots"
    ) {
        return Ok(None);
    }
    let db = b.catalog.db;
    let pubs = super::list(b.catalog.txn, db)?;
    let tables: HashMap<u32, Arc<TableDef>> = b
        .catalog
        .relations()?
        .iter()
        .filter_map(|r| match &**r {
            Relation::Table(t) => Some((t.id, t.clone())),
            _ => None,
        })
        .collect();
    let (columns, rows): (Vec<(String, DataType)>, Vec<Row>) = match name {
        "pg_publication" => (
            cols(&[
                ("oid", T::Oid),
                ("pubname", T::Name),
                ("pubowner", T::Oid),
                ("puballtables", T::Bool),
                ("pubinsert", T::Bool),
                ("pubupdate", T::Bool),
                ("pubdelete", T::Bool),
                ("pubtruncate", T::Bool),
                ("pubviaroot", T::Bool),
            ]),
            pubs.iter()
                .map(|p| {
                    vec![
                        Value::Oid(p.id),
                        t(&p.name),
                        Value::Oid(crate::plan::system::OWNER),
                        Value::Bool(p.all_tables),
                        Value::Bool(p.publish.insert),
                        Value::Bool(p.publish.update),
                        Value::Bool(p.publish.delete),
                        Value::Bool(p.publish.truncate),
                        Value::Bool(p.via_root),
                    ]
                })
                .collect(),
        ),
        "pg_publication_rel" => (
            cols(&[
                ("oid", T::Oid),
                ("prpubid", T::Oid),
                ("prrelid", T::Oid),
                ("prqual", T::Text),
                // int2vector in PostgreSQL (0-based); psql's \dRp+ walks it
                // with generate_series(0, array_upper(..)), which also covers
                // a 1-based int2[].
                ("prattrs", T::Array(Box::new(T::Int2))),
            ]),
            pubs.iter()
                .flat_map(|p| {
                    p.tables.iter().filter_map(|pt| {
                        let table = tables.get(&pt.table_id)?;
                        let attrs = pt.columns.as_ref().map(|cs| {
                            cs.iter()
                                .filter_map(|c| table.column_index(c))
                                .map(|i| Value::Int2(i16::try_from(i + 1).unwrap_or(i16::MAX)))
                                .collect::<Vec<_>>()
                        });
                        Some(vec![
                            // The pair is unique; a stable synthetic oid.
                            Value::Oid(p.id.wrapping_mul(31).wrapping_add(pt.table_id)),
                            Value::Oid(p.id),
                            Value::Oid(pt.table_id),
                            pt.row_filter
                                .as_deref()
                                .map_or(Value::Null, |f| t(&deparse_filter(f, table))),
                            attrs.map_or(Value::Null, Value::Array),
                        ])
                    })
                })
                .collect(),
        ),
        "pg_publication_tables" => (
            cols(&[
                ("pubname", T::Name),
                ("schemaname", T::Name),
                ("tablename", T::Name),
                ("attnames", T::Array(Box::new(T::Name))),
                ("rowfilter", T::Text),
            ]),
            publication_tables(&pubs, &tables),
        ),
        "rustydb_publication_masks" => (
            cols(&[
                ("pubname", T::Name),
                ("schemaname", T::Name),
                ("tablename", T::Name),
                ("attname", T::Name),
                ("mask", T::Text),
            ]),
            pubs.iter()
                .flat_map(|p| {
                    p.masks.iter().filter_map(|m| {
                        let table = tables.get(&m.table_id)?;
                        Some(vec![
                            t(&p.name),
                            t("public"),
                            t(&table.name),
                            t(&m.column),
                            t(&m.mask.display()),
                        ])
                    })
                })
                .collect(),
        ),
        _ => {
            let current = b.session.current_lsn();
            let slots = super::slots::list(b.catalog.txn)?;
            (
                cols(&[
                    ("slot_name", T::Name),
                    ("publication", T::Name),
                    ("database", T::Name),
                    ("confirmed_lsn", T::PgLsn),
                    ("lag_records", T::Int8),
                    ("active", T::Bool),
                    ("invalidated", T::Bool),
                    ("invalidation_reason", T::Text),
                ]),
                slots
                    .iter()
                    .map(|s| {
                        vec![
                            t(&s.name),
                            t(&s.publication),
                            t(&s.database),
                            Value::PgLsn(s.confirmed_lsn),
                            Value::Int8(
                                i64::try_from(current.saturating_sub(s.confirmed_lsn))
                                    .unwrap_or(i64::MAX),
                            ),
                            Value::Bool(b.session.slot_active(&s.name)),
                            Value::Bool(s.invalidated.is_some()),
                            s.invalidated.as_deref().map_or(Value::Null, t),
                        ]
                    })
                    .collect(),
            )
        }
    };
    let width = columns.len();
    let scope = Scope::computed(columns).with_alias(name);
    Ok(Some((
        Plan::Rows {
            rows: Arc::new(rows),
            width,
        },
        scope,
    )))
}

/// `pg_publication_tables`: one row per (publication, published table), in
/// publication then table-name order.
fn publication_tables(pubs: &[PublicationDef], tables: &HashMap<u32, Arc<TableDef>>) -> Vec<Row> {
    let mut sorted: Vec<&Arc<TableDef>> = tables.values().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut rows = Vec::new();
    for p in pubs {
        for table in &sorted {
            if !p.publishes(table.id) {
                continue;
            }
            let entry = p.table(table.id);
            let names: Vec<Value> = match entry.and_then(|e| e.columns.as_ref()) {
                Some(cs) => cs.iter().map(|c| t(c)).collect(),
                None => table.columns.iter().map(|c| t(&c.name)).collect(),
            };
            rows.push(vec![
                t(&p.name),
                t("public"),
                t(&table.name),
                Value::Array(names),
                entry
                    .and_then(|e| e.row_filter.as_deref())
                    .map_or(Value::Null, |f| t(&deparse_filter(f, table))),
            ]);
        }
    }
    rows
}

/// A stored row filter as PostgreSQL deparses it (`pg_get_expr`): every
/// operator parenthesised, string constants cast to their column's type.
pub fn deparse_filter(text: &str, table: &TableDef) -> String {
    match crate::plan::dml::parse_expr(text) {
        Ok(e) => deparse(&e, table, None),
        Err(_) => text.to_string(),
    }
}

fn deparse(e: &ast::Expr, table: &TableDef, hint: Option<&DataType>) -> String {
    use ast::Expr as E;
    match e {
        E::Nested(inner) => deparse(inner, table, hint),
        E::Identifier(id) => id.value.clone(),
        E::CompoundIdentifier(parts) => parts.last().map(|p| p.value.clone()).unwrap_or_default(),
        E::BinaryOp { left, op, right } => {
            let (lt, rt) = (column_type(left, table), column_type(right, table));
            let op = match op {
                ast::BinaryOperator::And => "AND".to_string(),
                ast::BinaryOperator::Or => "OR".to_string(),
                other => other.to_string(),
            };
            format!(
                "({} {op} {})",
                deparse(left, table, rt.as_ref()),
                deparse(right, table, lt.as_ref())
            )
        }
        E::UnaryOp {
            op: ast::UnaryOperator::Not,
            expr,
        } => format!("(NOT {})", deparse(expr, table, None)),
        E::IsNull(x) => format!("({} IS NULL)", deparse(x, table, None)),
        E::IsNotNull(x) => format!("({} IS NOT NULL)", deparse(x, table, None)),
        E::IsTrue(x) => format!("({} IS TRUE)", deparse(x, table, None)),
        E::IsFalse(x) => format!("({} IS FALSE)", deparse(x, table, None)),
        E::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) => {
                let ty = match hint {
                    Some(DataType::Varchar(_)) => "character varying".to_string(),
                    Some(DataType::Char(_)) => "bpchar".to_string(),
                    Some(other) => crate::types::oid::type_name(other),
                    None => "text".to_string(),
                };
                format!("'{}'::{ty}", s.replace('\'', "''"))
            }
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

fn column_type(e: &ast::Expr, table: &TableDef) -> Option<DataType> {
    match e {
        ast::Expr::Identifier(id) => table
            .column_index(&id.value)
            .and_then(|i| table.columns.get(i))
            .map(|c| c.data_type.clone()),
        ast::Expr::Nested(inner) => column_type(inner, table),
        _ => None,
    }
}
