//! System catalogs: `pg_catalog` and `information_schema` as virtual tables.
//!
//! Drivers and psql learn about the database by querying these views. Each
//! is materialised at bind time from the current catalog snapshot (so it is
//! consistent with the statement's transaction) and planned like any other
//! FROM item. OIDs are the object ids our catalog hands out; the built-in
//! namespaces, types and access methods use PostgreSQL's well-known OIDs.

use std::sync::Arc;

use sqlparser::ast;

use super::bind::Binder;
use super::scope::Scope;
use super::Plan;
use crate::catalog::{Relation, TableDef};
use crate::error::{Error, Result};
use crate::expr::Row;
use crate::types::oid::{type_len, type_modifier, type_name, type_oid};
use crate::types::{DataType, Value};
use crate::SqlState;

const PG_CATALOG_NS: u32 = 11;
const PUBLIC_NS: u32 = 2200;
const INFO_SCHEMA_NS: u32 = 13183;
const OWNER: u32 = 10;

fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}
fn o(v: u32) -> Value {
    Value::Oid(v)
}
fn bo(v: bool) -> Value {
    Value::Bool(v)
}
fn i2(v: i16) -> Value {
    Value::Int2(v)
}
fn i4(v: i32) -> Value {
    Value::Int4(v)
}

/// The name of a virtual table by its well-known OID.
pub fn system_table_name(oid: u32) -> Option<&'static str> {
    [
        "pg_class",
        "pg_attribute",
        "pg_type",
        "pg_namespace",
        "pg_index",
        "pg_constraint",
        "pg_database",
        "pg_proc",
        "pg_am",
        "pg_description",
    ]
    .into_iter()
    .find(|n| system_table_oid(n) == Some(oid))
}

/// Well-known OIDs of the virtual tables themselves (for `'pg_class'::regclass`).
pub fn system_table_oid(name: &str) -> Option<u32> {
    Some(match name {
        "pg_class" => 1259,
        "pg_attribute" => 1249,
        "pg_type" => 1247,
        "pg_namespace" => 2615,
        "pg_index" => 2610,
        "pg_constraint" => 2606,
        "pg_database" => 1262,
        "pg_proc" => 1255,
        "pg_am" => 2601,
        "pg_description" => 2609,
        _ => return None,
    })
}

struct Snapshot {
    tables: Vec<Arc<TableDef>>,
    relations: Vec<Arc<Relation>>,
}

/// All built-in types we describe in pg_type.
fn builtin_types() -> Vec<DataType> {
    use DataType as T;
    let base = vec![
        T::Bool,
        T::Bytea,
        T::InternalChar,
        T::Name,
        T::Int8,
        T::Int2,
        T::Int4,
        T::RegProc,
        T::Text,
        T::Oid,
        T::Json,
        T::Float4,
        T::Float8,
        T::Char(1),
        T::Varchar(None),
        T::Date,
        T::Time,
        T::Timestamp,
        T::TimestampTz,
        T::Interval,
        T::Numeric(None),
        T::RegClass,
        T::RegType,
        T::Uuid,
        T::Jsonb,
    ];
    let mut all = base.clone();
    all.extend(base.into_iter().map(|e| T::Array(Box::new(e))));
    all
}

fn relkind(rel: &Relation) -> &'static str {
    match rel {
        Relation::Table(_) => "r",
        Relation::Index { .. } => "i",
        Relation::Sequence(_) => "S",
        Relation::View(_) => "v",
    }
}

fn cols(list: &[(&str, DataType)]) -> Vec<(String, DataType)> {
    list.iter()
        .map(|(n, t)| (n.to_string(), t.clone()))
        .collect()
}

/// Resolves a system table by name, if it is one.
pub fn system_table(
    b: &mut Binder,
    schema: Option<&str>,
    name: &str,
) -> Result<Option<(Plan, Scope)>> {
    use DataType as T;
    let info = schema == Some("information_schema");
    let snap = {
        let relations = b.catalog.relations()?;
        let tables = relations
            .iter()
            .filter_map(|r| match &**r {
                Relation::Table(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        Snapshot { tables, relations }
    };
    let (columns, rows): (Vec<(String, DataType)>, Vec<Row>) = match (info, name) {
        (false, "pg_namespace") => (
            cols(&[
                ("oid", T::Oid),
                ("nspname", T::Name),
                ("nspowner", T::Oid),
                ("nspacl", T::Text),
            ]),
            vec![
                vec![o(PG_CATALOG_NS), t("pg_catalog"), o(OWNER), Value::Null],
                vec![o(PUBLIC_NS), t("public"), o(OWNER), Value::Null],
                vec![
                    o(INFO_SCHEMA_NS),
                    t("information_schema"),
                    o(OWNER),
                    Value::Null,
                ],
            ],
        ),
        (false, "pg_class") => pg_class(&snap),
        (false, "pg_attribute") => pg_attribute(&snap),
        (false, "pg_type") => pg_type(),
        (false, "pg_index") => pg_index(&snap),
        (false, "pg_constraint") => pg_constraint(&snap),
        (false, "pg_attrdef") => {
            let mut rows = Vec::new();
            for tb in &snap.tables {
                for (i, c) in tb.columns.iter().enumerate() {
                    if let Some(d) = &c.default {
                        rows.push(vec![
                            o(tb.id * 1000 + i as u32),
                            o(tb.id),
                            i2(i as i16 + 1),
                            t(d),
                        ]);
                    }
                }
            }
            (
                cols(&[
                    ("oid", T::Oid),
                    ("adrelid", T::Oid),
                    ("adnum", T::Int2),
                    ("adbin", T::Text),
                ]),
                rows,
            )
        }
        (false, "pg_database") => {
            let rows = b
                .session
                .databases()
                .into_iter()
                .map(|(id, n)| {
                    vec![
                        o(id),
                        t(&n),
                        o(OWNER),
                        i4(6),
                        t("c"),
                        bo(false),
                        bo(true),
                        i4(-1),
                        t("C"),
                        t("C"),
                        o(1663),
                        Value::Null,
                        Value::Null,
                    ]
                })
                .collect();
            (
                cols(&[
                    ("oid", T::Oid),
                    ("datname", T::Name),
                    ("datdba", T::Oid),
                    ("encoding", T::Int4),
                    ("datlocprovider", T::InternalChar),
                    ("datistemplate", T::Bool),
                    ("datallowconn", T::Bool),
                    ("datconnlimit", T::Int4),
                    ("datcollate", T::Text),
                    ("datctype", T::Text),
                    ("dattablespace", T::Oid),
                    ("datacl", T::Array(Box::new(T::Text))),
                    ("daticulocale", T::Text),
                ]),
                rows,
            )
        }
        (false, "pg_roles" | "pg_user" | "pg_authid" | "pg_shadow") => {
            let user = b.session.user().to_string();
            (
                cols(&[
                    ("oid", T::Oid),
                    ("rolname", T::Name),
                    ("rolsuper", T::Bool),
                    ("rolinherit", T::Bool),
                    ("rolcreaterole", T::Bool),
                    ("rolcreatedb", T::Bool),
                    ("rolcanlogin", T::Bool),
                    ("rolreplication", T::Bool),
                    ("rolconnlimit", T::Int4),
                    ("rolvaliduntil", T::TimestampTz),
                    ("rolbypassrls", T::Bool),
                    ("usename", T::Name),
                    ("usesysid", T::Oid),
                    ("usesuper", T::Bool),
                ]),
                vec![vec![
                    o(OWNER),
                    t(&user),
                    bo(true),
                    bo(true),
                    bo(true),
                    bo(true),
                    bo(true),
                    bo(true),
                    i4(-1),
                    Value::Null,
                    bo(true),
                    t(&user),
                    o(OWNER),
                    bo(true),
                ]],
            )
        }
        (false, "pg_settings") => {
            let rows = b
                .session
                .settings()
                .into_iter()
                .map(|(n, v)| {
                    vec![
                        t(crate::engine::reported_name(&n)),
                        t(&v),
                        Value::Null,
                        t("Ungrouped"),
                        t(""),
                        t("user"),
                        t("string"),
                        t("default"),
                        t(&v),
                        t(&v),
                    ]
                })
                .collect();
            (
                cols(&[
                    ("name", T::Text),
                    ("setting", T::Text),
                    ("unit", T::Text),
                    ("category", T::Text),
                    ("short_desc", T::Text),
                    ("context", T::Text),
                    ("vartype", T::Text),
                    ("source", T::Text),
                    ("boot_val", T::Text),
                    ("reset_val", T::Text),
                ]),
                rows,
            )
        }
        (false, "pg_tables") => {
            let rows = snap
                .tables
                .iter()
                .map(|tb| {
                    vec![
                        t("public"),
                        t(&tb.name),
                        t("postgres"),
                        Value::Null,
                        bo(!tb.indexes.is_empty() || !tb.primary_key.is_empty()),
                        bo(false),
                        bo(false),
                        bo(false),
                    ]
                })
                .collect();
            (
                cols(&[
                    ("schemaname", T::Name),
                    ("tablename", T::Name),
                    ("tableowner", T::Name),
                    ("tablespace", T::Name),
                    ("hasindexes", T::Bool),
                    ("hasrules", T::Bool),
                    ("hastriggers", T::Bool),
                    ("rowsecurity", T::Bool),
                ]),
                rows,
            )
        }
        (false, "pg_indexes") => {
            let mut rows = Vec::new();
            for tb in &snap.tables {
                for (name, def) in index_defs(tb) {
                    rows.push(vec![
                        t("public"),
                        t(&tb.name),
                        t(&name),
                        Value::Null,
                        t(&def),
                    ]);
                }
            }
            (
                cols(&[
                    ("schemaname", T::Name),
                    ("tablename", T::Name),
                    ("indexname", T::Name),
                    ("tablespace", T::Name),
                    ("indexdef", T::Text),
                ]),
                rows,
            )
        }
        (false, "pg_am") => (
            cols(&[
                ("oid", T::Oid),
                ("amname", T::Name),
                ("amhandler", T::Oid),
                ("amtype", T::InternalChar),
            ]),
            vec![
                vec![o(2), t("heap"), o(3), t("t")],
                vec![o(403), t("btree"), o(330), t("i")],
            ],
        ),
        (false, "pg_tablespace") => (
            cols(&[("oid", T::Oid), ("spcname", T::Name), ("spcowner", T::Oid)]),
            vec![
                vec![o(1663), t("pg_default"), o(OWNER)],
                vec![o(1664), t("pg_global"), o(OWNER)],
            ],
        ),
        (false, "pg_description") => (
            cols(&[
                ("objoid", T::Oid),
                ("classoid", T::Oid),
                ("objsubid", T::Int4),
                ("description", T::Text),
            ]),
            vec![],
        ),
        (false, "pg_inherits") => (
            cols(&[
                ("inhrelid", T::Oid),
                ("inhparent", T::Oid),
                ("inhseqno", T::Int4),
                ("inhdetachpending", T::Bool),
            ]),
            vec![],
        ),
        (false, "pg_partitioned_table") => (
            cols(&[
                ("partrelid", T::Oid),
                ("partstrat", T::InternalChar),
                ("partnatts", T::Int2),
                ("partdefid", T::Oid),
            ]),
            vec![],
        ),
        (false, "pg_trigger") => (
            cols(&[
                ("oid", T::Oid),
                ("tgrelid", T::Oid),
                ("tgname", T::Name),
                ("tgenabled", T::InternalChar),
                ("tgisinternal", T::Bool),
                ("tgparentid", T::Oid),
            ]),
            vec![],
        ),
        (false, "pg_policy") => (
            cols(&[
                ("oid", T::Oid),
                ("polname", T::Name),
                ("polrelid", T::Oid),
                ("polcmd", T::InternalChar),
                ("polpermissive", T::Bool),
                ("polroles", T::Array(Box::new(T::Oid))),
                ("polqual", T::Text),
                ("polwithcheck", T::Text),
            ]),
            vec![],
        ),
        (false, "pg_statistic_ext") => (
            cols(&[
                ("oid", T::Oid),
                ("stxrelid", T::Oid),
                ("stxname", T::Name),
                ("stxnamespace", T::Oid),
                ("stxkeys", T::Text),
                ("stxstattarget", T::Int4),
                ("stxkind", T::Array(Box::new(T::Text))),
            ]),
            vec![],
        ),
        (false, "pg_publication") => (
            cols(&[
                ("oid", T::Oid),
                ("pubname", T::Name),
                ("puballtables", T::Bool),
                ("pubinsert", T::Bool),
                ("pubupdate", T::Bool),
                ("pubdelete", T::Bool),
                ("pubtruncate", T::Bool),
                ("pubviaroot", T::Bool),
            ]),
            vec![],
        ),
        (false, "pg_publication_rel") => (
            cols(&[
                ("oid", T::Oid),
                ("prpubid", T::Oid),
                ("prrelid", T::Oid),
                ("prqual", T::Text),
                ("prattrs", T::Array(Box::new(T::Int2))),
            ]),
            vec![],
        ),
        (false, "pg_publication_namespace") => (
            cols(&[("oid", T::Oid), ("pnpubid", T::Oid), ("pnnspid", T::Oid)]),
            vec![],
        ),
        (false, "pg_collation") => (
            cols(&[
                ("oid", T::Oid),
                ("collname", T::Name),
                ("collnamespace", T::Oid),
            ]),
            vec![
                vec![o(100), t("default"), o(PG_CATALOG_NS)],
                vec![o(950), t("C"), o(PG_CATALOG_NS)],
            ],
        ),
        (false, "pg_extension") => (
            cols(&[
                ("oid", T::Oid),
                ("extname", T::Name),
                ("extowner", T::Oid),
                ("extnamespace", T::Oid),
                ("extversion", T::Text),
            ]),
            vec![],
        ),
        (false, "pg_proc") => (
            cols(&[
                ("oid", T::Oid),
                ("proname", T::Name),
                ("pronamespace", T::Oid),
                ("prorettype", T::Oid),
                ("prokind", T::InternalChar),
                ("proargtypes", T::Text),
            ]),
            vec![],
        ),
        (false, "pg_sequence") => {
            let rows = snap
                .relations
                .iter()
                .filter_map(|r| match &**r {
                    Relation::Sequence(s) => Some(vec![
                        o(s.id),
                        o(type_oid(&s.data_type)),
                        Value::Int8(s.start),
                        Value::Int8(s.increment),
                        Value::Int8(s.max),
                        Value::Int8(s.min),
                        Value::Int8(1),
                        bo(s.cycle),
                    ]),
                    _ => None,
                })
                .collect();
            (
                cols(&[
                    ("seqrelid", T::Oid),
                    ("seqtypid", T::Oid),
                    ("seqstart", T::Int8),
                    ("seqincrement", T::Int8),
                    ("seqmax", T::Int8),
                    ("seqmin", T::Int8),
                    ("seqcache", T::Int8),
                    ("seqcycle", T::Bool),
                ]),
                rows,
            )
        }
        (false, "pg_views") => {
            let rows = snap
                .relations
                .iter()
                .filter_map(|r| match &**r {
                    Relation::View(v) => {
                        Some(vec![t("public"), t(&v.name), t("postgres"), t(&v.query)])
                    }
                    _ => None,
                })
                .collect();
            (
                cols(&[
                    ("schemaname", T::Name),
                    ("viewname", T::Name),
                    ("viewowner", T::Name),
                    ("definition", T::Text),
                ]),
                rows,
            )
        }
        (true, "tables") => {
            let db = b.session.database().to_string();
            let rows = snap
                .relations
                .iter()
                .filter_map(|r| match &**r {
                    Relation::Table(tb) => {
                        Some(vec![t(&db), t("public"), t(&tb.name), t("BASE TABLE")])
                    }
                    Relation::View(v) => Some(vec![t(&db), t("public"), t(&v.name), t("VIEW")]),
                    _ => None,
                })
                .collect();
            (
                cols(&[
                    ("table_catalog", T::Name),
                    ("table_schema", T::Name),
                    ("table_name", T::Name),
                    ("table_type", T::Text),
                ]),
                rows,
            )
        }
        (true, "columns") => {
            let db = b.session.database().to_string();
            let mut rows = Vec::new();
            for tb in &snap.tables {
                for (i, c) in tb.columns.iter().enumerate() {
                    let max_len = match c.data_type {
                        DataType::Varchar(Some(n)) | DataType::Char(n) => i4(n as i32),
                        _ => Value::Null,
                    };
                    rows.push(vec![
                        t(&db),
                        t("public"),
                        t(&tb.name),
                        t(&c.name),
                        i4(i as i32 + 1),
                        c.default.as_deref().map(t).unwrap_or(Value::Null),
                        t(if c.nullable { "YES" } else { "NO" }),
                        t(&info_schema_type(&c.data_type)),
                        max_len,
                        t(&udt_name(&c.data_type)),
                        numeric_precision(&c.data_type),
                        numeric_scale(&c.data_type),
                        i4(
                            if matches!(
                                c.data_type,
                                DataType::Int2
                                    | DataType::Int4
                                    | DataType::Int8
                                    | DataType::Numeric(Some(_))
                            ) {
                                10
                            } else {
                                2
                            },
                        ),
                    ]);
                }
            }
            (
                cols(&[
                    ("table_catalog", T::Name),
                    ("table_schema", T::Name),
                    ("table_name", T::Name),
                    ("column_name", T::Name),
                    ("ordinal_position", T::Int4),
                    ("column_default", T::Text),
                    ("is_nullable", T::Text),
                    ("data_type", T::Text),
                    ("character_maximum_length", T::Int4),
                    ("udt_name", T::Name),
                    ("numeric_precision", T::Int4),
                    ("numeric_scale", T::Int4),
                    ("numeric_precision_radix", T::Int4),
                ]),
                rows,
            )
        }
        (true, "sequences") => {
            let db = b.session.database().to_string();
            let rows = snap
                .relations
                .iter()
                .filter_map(|r| match &**r {
                    Relation::Sequence(s) => Some(vec![
                        t(&db),
                        t("public"),
                        t(&s.name),
                        t(&type_name(&s.data_type)),
                        t(&s.start.to_string()),
                        t(&s.min.to_string()),
                        t(&s.max.to_string()),
                        t(&s.increment.to_string()),
                        t(if s.cycle { "YES" } else { "NO" }),
                    ]),
                    _ => None,
                })
                .collect();
            (
                cols(&[
                    ("sequence_catalog", T::Name),
                    ("sequence_schema", T::Name),
                    ("sequence_name", T::Name),
                    ("data_type", T::Text),
                    ("start_value", T::Text),
                    ("minimum_value", T::Text),
                    ("maximum_value", T::Text),
                    ("increment", T::Text),
                    ("cycle_option", T::Text),
                ]),
                rows,
            )
        }
        (true, "schemata") => (
            cols(&[
                ("catalog_name", T::Name),
                ("schema_name", T::Name),
                ("schema_owner", T::Name),
            ]),
            ["pg_catalog", "public", "information_schema"]
                .iter()
                .map(|s| vec![t(b.session.database()), t(s), t("postgres")])
                .collect(),
        ),
        _ => return Ok(None),
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

fn pg_class(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let rows = snap
        .relations
        .iter()
        .map(|r| {
            let (natts, checks, hasindex) = match &**r {
                Relation::Table(tb) => (
                    tb.columns.len() as i16,
                    tb.checks.len() as i16,
                    !tb.indexes.is_empty() || !tb.primary_key.is_empty(),
                ),
                Relation::Sequence(_) => (3, 0, false),
                _ => (0, 0, false),
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
                bo(false),
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

fn pg_attribute(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
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

fn pg_type() -> (Vec<(String, DataType)>, Vec<Row>) {
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
                o(0),
                o(elem),
                o(array),
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
            ("typrelid", T::Oid),
            ("typelem", T::Oid),
            ("typarray", T::Oid),
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

fn pg_index(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
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

/// (constraint oid, definition) of a table's constraints.
pub fn constraint_defs(tb: &TableDef) -> Vec<(u32, String)> {
    let names = |c: &[usize]| {
        c.iter()
            .map(|i| tb.columns[*i].name.clone())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    if !tb.primary_key.is_empty() {
        out.push((
            tb.id + 2_000_000,
            format!("PRIMARY KEY ({})", names(&tb.primary_key)),
        ));
    }
    for ix in &tb.indexes {
        if ix.primary || ix.unique {
            out.push((
                ix.id + 2_000_000,
                format!(
                    "{} ({})",
                    if ix.primary { "PRIMARY KEY" } else { "UNIQUE" },
                    names(&ix.columns)
                ),
            ));
        }
    }
    for (i, c) in tb.checks.iter().enumerate() {
        out.push((
            tb.id * 100 + i as u32 + 3_000_000,
            format!("CHECK ({})", c.expr),
        ));
    }
    out
}

fn pg_constraint(snap: &Snapshot) -> (Vec<(String, DataType)>, Vec<Row>) {
    use DataType as T;
    let mut rows = Vec::new();
    for tb in &snap.tables {
        let names = |c: &[usize]| {
            c.iter()
                .map(|i| tb.columns[*i].name.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !tb.primary_key.is_empty() {
            let n = tb
                .primary_key_name
                .clone()
                .unwrap_or_else(|| format!("{}_pkey", tb.name));
            rows.push(vec![
                o(tb.id + 2_000_000),
                t(&n),
                o(PUBLIC_NS),
                t("p"),
                bo(false),
                bo(false),
                o(tb.id),
                o(tb.id + 1_000_000),
                t(&format!("PRIMARY KEY ({})", names(&tb.primary_key))),
            ]);
        }
        for ix in &tb.indexes {
            if ix.primary || ix.unique {
                let kind = if ix.primary { "p" } else { "u" };
                let def = format!(
                    "{} ({})",
                    if ix.primary { "PRIMARY KEY" } else { "UNIQUE" },
                    names(&ix.columns)
                );
                rows.push(vec![
                    o(ix.id + 2_000_000),
                    t(&ix.name),
                    o(PUBLIC_NS),
                    t(kind),
                    bo(false),
                    bo(false),
                    o(tb.id),
                    o(ix.id),
                    t(&def),
                ]);
            }
        }
        for (i, c) in tb.checks.iter().enumerate() {
            rows.push(vec![
                o(tb.id * 100 + i as u32 + 3_000_000),
                t(&c.name),
                o(PUBLIC_NS),
                t("c"),
                bo(false),
                bo(false),
                o(tb.id),
                o(0),
                t(&format!("CHECK ({})", c.expr)),
            ]);
        }
    }
    (
        cols(&[
            ("oid", T::Oid),
            ("conname", T::Name),
            ("connamespace", T::Oid),
            ("contype", T::InternalChar),
            ("condeferrable", T::Bool),
            ("condeferred", T::Bool),
            ("conrelid", T::Oid),
            ("conindid", T::Oid),
            ("condef", T::Text),
        ]),
        rows,
    )
}

fn info_schema_type(t: &DataType) -> String {
    match t {
        DataType::Varchar(_) => "character varying".into(),
        DataType::Char(_) => "character".into(),
        DataType::Numeric(_) => "numeric".into(),
        DataType::Array(_) => "ARRAY".into(),
        other => type_name(other),
    }
}

fn udt_name(t: &DataType) -> String {
    crate::types::oid::internal_name(t)
}

/// `SHOW name` / `SHOW ALL`.
pub fn show(b: &mut Binder, variable: &[ast::Ident]) -> Result<(Plan, Scope)> {
    let name = variable
        .iter()
        .map(|i| i.value.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    let name = match name.as_str() {
        "time zone" => "timezone".to_string(),
        "transaction isolation level" => "transaction_isolation".to_string(),
        other => other.to_string(),
    };
    if name == "all" {
        let rows: Vec<Row> = b
            .session
            .settings()
            .into_iter()
            .map(|(n, v)| vec![t(crate::engine::reported_name(&n)), t(&v), t("")])
            .collect();
        let scope = Scope::computed([
            ("name".to_string(), DataType::Text),
            ("setting".into(), DataType::Text),
            ("description".into(), DataType::Text),
        ]);
        return Ok((
            Plan::Rows {
                width: 3,
                rows: Arc::new(rows),
            },
            scope,
        ));
    }
    let value = b.session.setting(&name).ok_or_else(|| {
        Error::new(
            SqlState::UNDEFINED_OBJECT,
            format!("unrecognized configuration parameter \"{name}\""),
        )
    })?;
    let scope = Scope::computed([(
        crate::engine::reported_name(&name).to_string(),
        DataType::Text,
    )]);
    Ok((
        Plan::Rows {
            width: 1,
            rows: Arc::new(vec![vec![t(&value)]]),
        },
        scope,
    ))
}

fn numeric_precision(t: &DataType) -> Value {
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

fn numeric_scale(t: &DataType) -> Value {
    match t {
        DataType::Int2 | DataType::Int4 | DataType::Int8 => i4(0),
        DataType::Numeric(Some((_, s))) => i4(*s as i32),
        _ => Value::Null,
    }
}
