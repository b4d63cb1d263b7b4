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
pub use super::system_constraints::constraint_defs;
use super::system_constraints::{
    key_column_usage, pg_constraint, referential_constraints, table_constraints,
};
pub use super::system_rows::index_defs;
use super::system_rows::{
    info_schema_type, numeric_precision, numeric_scale, pg_attribute, pg_class, pg_index, pg_type,
    udt_name,
};
use super::Plan;
use crate::catalog::{Relation, TableDef};
use crate::error::{Error, Result};
use crate::expr::Row;
use crate::types::oid::{type_name, type_oid};
use crate::types::{DataType, Value};
use crate::SqlState;

pub(super) const PG_CATALOG_NS: u32 = 11;
pub(super) const PUBLIC_NS: u32 = 2200;
const INFO_SCHEMA_NS: u32 = 13183;
pub(crate) const OWNER: u32 = 10;

pub(super) fn t(s: &str) -> Value {
    Value::Text(s.to_string())
}
pub(super) fn o(v: u32) -> Value {
    Value::Oid(v)
}
pub(super) fn bo(v: bool) -> Value {
    Value::Bool(v)
}
pub(super) fn i2(v: i16) -> Value {
    Value::Int2(v)
}
pub(super) fn i4(v: i32) -> Value {
    Value::Int4(v)
}

/// A column default as PostgreSQL deparses it: a bare string literal gets
/// the column's type as a cast (`'x'::character varying`, `'a'::text`),
/// since the stored expression is the coerced constant.
fn default_display(d: &str, ty: &DataType) -> String {
    let d = d.trim();
    let bare_literal = d.len() >= 2
        && d.starts_with('\'')
        && d.ends_with('\'')
        && !d[1..d.len() - 1].replace("''", "").contains('\'');
    if !bare_literal {
        return d.to_string();
    }
    let inner = &d[1..d.len() - 1];
    let numeric = matches!(
        ty,
        DataType::Int2
            | DataType::Int4
            | DataType::Int8
            | DataType::Numeric(_)
            | DataType::Float4
            | DataType::Float8
    );
    // A non-negative numeric constant deparses bare ('5' -> 5).
    if numeric && !inner.starts_with('-') && inner.trim().parse::<f64>().is_ok() {
        return inner.trim().to_string();
    }
    let name = match ty {
        DataType::Varchar(_) => "character varying".to_string(),
        DataType::Char(_) => "bpchar".to_string(),
        DataType::Numeric(_) => "numeric".to_string(),
        other => crate::types::oid::type_name(other),
    };
    format!("{d}::{name}")
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

pub(super) struct Snapshot {
    pub(super) tables: Vec<Arc<TableDef>>,
    pub(super) relations: Vec<Arc<Relation>>,
}

/// All built-in types we describe in pg_type.
pub(super) fn builtin_types() -> Vec<DataType> {
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

pub(super) fn relkind(rel: &Relation) -> &'static str {
    match rel {
        Relation::Table(_) => "r",
        Relation::Index { .. } => "i",
        Relation::Sequence(_) => "S",
        Relation::View(_) => "v",
    }
}

pub(super) fn cols(list: &[(&str, DataType)]) -> Vec<(String, DataType)> {
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
    if !info {
        if let Some(found) = super::system_replication::view(b, name)? {
            return Ok(Some(found));
        }
        if let Some(found) = crate::subscription::views::view(b, name)? {
            return Ok(Some(found));
        }
        if let Some(found) = crate::publication::views::view(b, name)? {
            return Ok(Some(found));
        }
    }
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
        (false, "pg_constraint") => pg_constraint(&snap.tables),
        (true, "table_constraints") => table_constraints(b.session.database(), &snap.tables),
        (true, "key_column_usage") => key_column_usage(b.session.database(), &snap.tables),
        (true, "referential_constraints") => {
            referential_constraints(b.session.database(), &snap.tables)
        }
        (false, "pg_attrdef") => {
            let mut rows = Vec::new();
            for tb in &snap.tables {
                for (i, c) in tb.columns.iter().enumerate() {
                    if let Some(d) = &c.default {
                        rows.push(vec![
                            o(tb.id * 1000 + i as u32),
                            o(tb.id),
                            i2(i as i16 + 1),
                            t(&default_display(d, &c.data_type)),
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
        // No range types exist; asyncpg's type introspection joins it.
        (false, "pg_range") => (
            cols(&[
                ("rngtypid", T::Oid),
                ("rngsubtype", T::Oid),
                ("rngmultitypid", T::Oid),
                ("rngcollation", T::Oid),
                ("rngsubopc", T::Oid),
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
        "session authorization" => "session_authorization".to_string(),
        // `SHOW prefix.name` arrives as two identifiers.
        _ if variable.len() > 1 => variable
            .iter()
            .map(|i| i.value.to_lowercase())
            .collect::<Vec<_>>()
            .join("."),
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
