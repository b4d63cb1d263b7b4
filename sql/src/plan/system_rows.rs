//! Rows of the larger system catalogs (pg_class, pg_attribute, pg_type,
//! pg_index, pg_constraint) and the definitions psql asks for
//! (`pg_get_indexdef`, `pg_get_constraintdef`), built from a catalog snapshot.

use super::system::{
    bo, builtin_types, cols, i2, i4, o, relkind, t, Snapshot, OWNER, PG_CATALOG_NS, PUBLIC_NS,
};
use crate::catalog::{Relation, TableDef};
use crate::expr::Row;
use crate::types::oid::{type_len, type_modifier, type_name, type_oid};
use crate::types::{DataType, Value};

pub(super) fn pg_class(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let rows = snap
        .relations
        .iter()
        .map(|r| {
            // relhastriggers: foreign keys are triggers in PostgreSQL, and
            // psql prints a table's foreign keys only when it is set.
            let (natts, checks, hasindex, triggers) = match &**r {
                Relation::Table(tb) => (
                    tb.columns.len() as i16,
                    tb.checks.len() as i16,
                    !tb.indexes.is_empty() || !tb.primary_key.is_empty(),
                    !tb.foreign_keys.is_empty() || !tb.referenced_by.is_empty(),
                ),
                Relation::Sequence(_) => (3, 0, false, false),
                _ => (0, 0, false, false),
            };
            let am = match &**r {
                Relation::Table(_) => 2,
                Relation::Index { .. } => 403,
                _ => 0,
            };
            vec![
                o(r.id()),
                t(r.name()),
                o(PUBLIC_NS),
                o(0),
                o(OWNER),
                o(am),
                o(r.id()),
                o(0),
                i4(0),
                Value::Float4(-1.0),
                o(0),
                bo(hasindex),
                bo(false),
                t("p"),
                t(relkind(r)),
                i2(natts),
                i2(checks),
                bo(false),
                bo(triggers),
                bo(false),
                bo(false),
                bo(false),
                bo(true),
                t("d"),
                bo(false),
                o(0),
                Value::Null,
                Value::Null,
                o(0),
            ]
        })
        .collect();
    (
        cols(&[
            ("oid", T::Oid),
            ("relname", T::Name),
            ("relnamespace", T::Oid),
            ("reltype", T::Oid),
            ("relowner", T::Oid),
            ("relam", T::Oid),
            ("relfilenode", T::Oid),
            ("reltablespace", T::Oid),
            ("relpages", T::Int4),
            ("reltuples", T::Float4),
            ("reltoastrelid", T::Oid),
            ("relhasindex", T::Bool),
            ("relisshared", T::Bool),
            ("relpersistence", T::InternalChar),
            ("relkind", T::InternalChar),
            ("relnatts", T::Int2),
            ("relchecks", T::Int2),
            ("relhasrules", T::Bool),
            ("relhastriggers", T::Bool),
            ("relhassubclass", T::Bool),
            ("relrowsecurity", T::Bool),
            ("relforcerowsecurity", T::Bool),
            ("relispopulated", T::Bool),
            ("relreplident", T::InternalChar),
            ("relispartition", T::Bool),
            ("reloftype", T::Oid),
            ("reloptions", T::Array(Box::new(T::Text))),
            ("relacl", T::Text),
            ("relpartbound", T::Oid),
        ]),
        rows,
    )
}

pub(super) fn pg_attribute(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in &snap.tables {
        let pk = tb.primary_key_columns().unwrap_or_default();
        for (i, c) in tb.columns.iter().enumerate() {
            rows.push(vec![
                o(tb.id),
                t(&c.name),
                o(type_oid(&c.data_type)),
                i2(type_len(&c.data_type)),
                i2(i as i16 + 1),
                i4(type_modifier(&c.data_type)),
                bo(!c.nullable || pk.contains(&i)),
                bo(c.default.is_some()),
                t(""),
                t(""),
                bo(false),
                o(
                    if matches!(
                        c.data_type,
                        DataType::Text | DataType::Varchar(_) | DataType::Char(_)
                    ) {
                        100
                    } else {
                        0
                    },
                ),
                i4(0),
                bo(true),
            ]);
        }
    }
    (
        cols(&[
            ("attrelid", T::Oid),
            ("attname", T::Name),
            ("atttypid", T::Oid),
            ("attlen", T::Int2),
            ("attnum", T::Int2),
            ("atttypmod", T::Int4),
            ("attnotnull", T::Bool),
            ("atthasdef", T::Bool),
            ("attidentity", T::InternalChar),
            ("attgenerated", T::InternalChar),
            ("attisdropped", T::Bool),
            ("attcollation", T::Oid),
            ("attndims", T::Int4),
            ("attislocal", T::Bool),
        ]),
        rows,
    )
}

pub(super) fn pg_type() -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let rows = builtin_types()
        .iter()
        .map(|ty| {
            let (elem, array, cat) = match ty {
                T::Array(e) => (type_oid(e), 0, "A"),
                other => (0, type_oid(&T::Array(Box::new(other.clone()))), "U"),
            };
            let name = crate::types::oid::internal_name(ty);
            vec![
                o(type_oid(ty)),
                t(&name),
                o(PG_CATALOG_NS),
                o(OWNER),
                i2(type_len(ty)),
                bo(type_len(ty) > 0 && type_len(ty) <= 8),
                t("b"),
                t(cat),
                bo(true),
                t(","),
                o(0),
                o(elem),
                o(array),
                // Only array_in is told apart (pgjdbc's is_array test);
                // scalar input functions are not modelled.
                o(if elem != 0 {
                    crate::types::oid::ARRAY_IN_OID
                } else {
                    0
                }),
                o(0),
                i4(-1),
                i4(0),
                o(
                    if matches!(ty, T::Text | T::Varchar(_) | T::Char(_) | T::Name) {
                        100
                    } else {
                        0
                    },
                ),
            ]
        })
        .collect();
    (
        cols(&[
            ("oid", T::Oid),
            ("typname", T::Name),
            ("typnamespace", T::Oid),
            ("typowner", T::Oid),
            ("typlen", T::Int2),
            ("typbyval", T::Bool),
            ("typtype", T::InternalChar),
            ("typcategory", T::InternalChar),
            ("typisdefined", T::Bool),
            ("typdelim", T::InternalChar),
            ("typrelid", T::Oid),
            ("typelem", T::Oid),
            ("typarray", T::Oid),
            ("typinput", T::RegProc),
            ("typbasetype", T::Oid),
            ("typtypmod", T::Int4),
            ("typndims", T::Int4),
            ("typcollation", T::Oid),
        ]),
        rows,
    )
}

/// (index name, CREATE INDEX text) for a table's primary key and indexes.
pub fn index_defs(tb: &TableDef) -> Vec<(String, String)> {
    let names = |c: &[usize]| {
        c.iter()
            .map(|i| tb.columns[*i].name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    if !tb.primary_key.is_empty() {
        let n = tb
            .primary_key_name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", tb.name));
        out.push((
            n.clone(),
            format!(
                "CREATE UNIQUE INDEX {n} ON public.{} USING btree ({})",
                tb.name,
                names(&tb.primary_key)
            ),
        ));
    }
    for ix in &tb.indexes {
        let u = if ix.unique { "UNIQUE " } else { "" };
        out.push((
            ix.name.clone(),
            format!(
                "CREATE {u}INDEX {} ON public.{} USING btree ({})",
                ix.name,
                tb.name,
                names(&ix.columns)
            ),
        ));
    }
    out
}

pub(super) fn pg_index(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in &snap.tables {
        let key = |c: &[usize]| {
            c.iter()
                .map(|i| (i + 1).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !tb.primary_key.is_empty() {
            rows.push(vec![
                o(tb.id + 1_000_000),
                o(tb.id),
                i2(tb.primary_key.len() as i16),
                bo(true),
                bo(true),
                bo(false),
                bo(true),
                bo(true),
                t(&key(&tb.primary_key)),
                bo(false),
            ]);
        }
        for ix in &tb.indexes {
            rows.push(vec![
                o(ix.id),
                o(tb.id),
                i2(ix.columns.len() as i16),
                bo(ix.unique),
                bo(ix.primary),
                bo(false),
                bo(true),
                bo(true),
                t(&key(&ix.columns)),
                bo(false),
            ]);
        }
    }
    (
        cols(&[
            ("indexrelid", T::Oid),
            ("indrelid", T::Oid),
            ("indnatts", T::Int2),
            ("indisunique", T::Bool),
            ("indisprimary", T::Bool),
            ("indisclustered", T::Bool),
            ("indisvalid", T::Bool),
            ("indisready", T::Bool),
            ("indkey", T::Text),
            ("indisreplident", T::Bool),
        ]),
        rows,
    )
}

pub(super) fn info_schema_type(t: &DataType) -> String {
    match t {
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Numeric(_) => "numeric".into(),
        DataType::Array(_) => "ARRAY".into(),
        other => type_name(other),
    }
}

pub(super) fn udt_name(t: &DataType) -> String {
    crate::types::oid::internal_name(t)
}

pub(super) fn numeric_precision(t: &DataType) -> Value {
    match t {
        DataType::Int2 => i4(16),
        DataType::Int4 => i4(32),
        DataType::Int8 => i4(64),
        DataType::Float4 => i4(24),
        DataType::Float8 => i4(53),
        DataType::Numeric(Some((p, _))) => i4(*p as i32),
        _ => Value::Null,
    }
}

pub(super) fn numeric_scale(t: &DataType) -> Value {
    match t {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => i4(0),
        DataType::Numeric(Some((_, s))) => i4(*s as i32),
        _ => Value::Null,
    }
}
