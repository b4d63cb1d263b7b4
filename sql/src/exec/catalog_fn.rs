//! System-catalog helper functions that psql and drivers call:
//! `format_type`, `pg_get_indexdef`, `pg_get_constraintdef`,
//! `pg_get_userbyid`, `pg_table_is_visible`, privilege checks, and OID to
//! name conversions for `::regclass` / `::regtype`.

use super::ExecCtx;
use crate::catalog::Relation;
use crate::error::Result;
use crate::types::oid::{from_oid, type_name};
use crate::types::{DataType, Value};

/// The result type of a catalog helper, or `None` if `name` is not one.
pub fn return_type(name: &str, nargs: usize) -> Option<DataType> {
    Some(match (name, nargs) {
        ("format_type", 2)
        | ("pg_get_indexdef", 1 | 3)
        | ("pg_get_constraintdef", 1 | 2)
        | ("pg_get_expr", 2 | 3)
        | ("pg_get_userbyid", 1)
        | ("pg_encoding_to_char", 1) => DataType::Text,
        ("obj_description" | "col_description" | "shobj_description", 1 | 2)
        | ("pg_get_statisticsobjdef_columns", 1)
        // pg_trigger is empty (foreign keys are not triggers here): NULL.
        | ("pg_get_triggerdef", 1 | 2)
        | ("pg_get_viewdef", 1 | 2) => DataType::Text,
        ("pg_get_serial_sequence", 2)
        | ("regclass_out" | "regtype_out", 1)
        | ("to_regclass", 1) => DataType::Text,
        // psycopg's TypeInfo.fetch (SQLAlchemy's first connect) compares
        // `pg_type.oid = to_regtype(name)`; an OID compares with that.
        ("to_regtype", 1) => DataType::Oid,
        ("pg_sleep", 1) => DataType::Void,
        (
            "pg_table_is_visible"
            | "pg_type_is_visible"
            | "pg_collation_is_visible"
            | "pg_relation_is_publishable",
            _,
        ) => DataType::Bool,
        (
            "has_table_privilege"
            | "has_schema_privilege"
            | "has_database_privilege"
            | "has_column_privilege"
            | "has_sequence_privilege"
            | "has_function_privilege"
            | "pg_has_role",
            _,
        ) => DataType::Bool,
        (
            "pg_total_relation_size"
            | "pg_relation_size"
            | "pg_table_size"
            | "pg_indexes_size"
            | "pg_database_size",
            1,
        ) => DataType::Int8,
        ("pg_size_pretty", 1) => DataType::Text,
        ("pg_postmaster_start_time", 0) => DataType::TimestampTz,
        _ => return None,
    })
}

fn oid_arg(args: &[Value], i: usize) -> Option<u32> {
    match args.get(i)? {
        Value::Oid(o) => Some(*o),
        Value::Int4(v) => u32::try_from(*v).ok(),
        Value::Int8(v) => u32::try_from(*v).ok(),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn int_arg(args: &[Value], i: usize) -> Option<i64> {
    match args.get(i)? {
        Value::Int2(v) => Some(i64::from(*v)),
        Value::Int4(v) => Some(i64::from(*v)),
        Value::Int8(v) => Some(*v),
        Value::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `format_type(type_oid, typmod)`.
pub fn format_type(oid: u32, typmod: i64) -> Option<String> {
    let ty = from_oid(oid)?;
    let ty = match (ty, typmod) {
        (DataType::Varchar(_), m) if m >= 4 => DataType::Varchar(Some((m - 4) as u32)),
        (DataType::Char(_), m) if m >= 4 => DataType::Char((m - 4) as u32),
        (DataType::Char(_), _) => return Some("character".into()),
        (DataType::Numeric(_), m) if m >= 4 => {
            let m = m - 4;
            DataType::Numeric(Some(((m >> 16) as u32, (m & 0xffff) as u32)))
        }
        (t, _) => t,
    };
    Some(type_name(&ty))
}

/// Calls a catalog helper.
pub fn call(ctx: &ExecCtx, name: &str, args: &[Value]) -> Result<Value> {
    if args.first().is_some_and(Value::is_null) && !matches!(name, "has_table_privilege") {
        return Ok(Value::Null);
    }
    let text = |s: String| Value::Text(s);
    Ok(match name {
        "format_type" => match oid_arg(args, 0) {
            Some(oid) => format_type(oid, int_arg(args, 1).unwrap_or(-1))
                .map(text)
                .unwrap_or_else(|| text("???".into())),
            None => Value::Null,
        },
        "pg_get_userbyid" => text(ctx.facts.user.clone()),
        "pg_encoding_to_char" => text("UTF8".into()),
        "pg_get_expr" => args.first().cloned().unwrap_or(Value::Null),
        "pg_table_is_visible" | "pg_type_is_visible" | "pg_collation_is_visible" => {
            Value::Bool(true)
        }
        "pg_relation_is_publishable" => Value::Bool(false),
        "obj_description"
        | "col_description"
        | "shobj_description"
        | "pg_get_statisticsobjdef_columns" => Value::Null,
        n if n.starts_with("has_") || n == "pg_has_role" => Value::Bool(true),
        "pg_total_relation_size"
        | "pg_relation_size"
        | "pg_table_size"
        | "pg_indexes_size"
        | "pg_database_size" => Value::Int8(0),
        "pg_size_pretty" => text(format!("{} bytes", int_arg(args, 0).unwrap_or(0))),
        "pg_postmaster_start_time" => Value::TimestampTz(ctx.facts.txn_start),
        "regtype_out" => match oid_arg(args, 0).and_then(from_oid) {
            Some(t) => text(type_name(&t)),
            None => text(format!("{}", oid_arg(args, 0).unwrap_or(0))),
        },
        "pg_sleep" => {
            let secs = match args.first() {
                Some(Value::Int2(v)) => f64::from(*v),
                Some(Value::Int4(v)) => f64::from(*v),
                Some(Value::Int8(v)) => *v as f64,
                Some(Value::Float4(v)) => f64::from(*v),
                Some(Value::Float8(v)) => *v,
                Some(Value::Numeric(d)) => d.to_string().parse().unwrap_or(0.0),
                Some(Value::Text(s)) => s.trim().parse().map_err(|_| {
                    crate::error::Error::new(
                        crate::SqlState::INVALID_TEXT_REPRESENTATION,
                        format!("invalid input syntax for type double precision: \"{s}\""),
                    )
                })?,
                _ => 0.0,
            };
            ctx.sleep(secs)?;
            text(String::new())
        }
        "to_regtype" => match args.first() {
            Some(Value::Text(s)) => {
                let name = s.trim();
                let name = name.strip_prefix("pg_catalog.").unwrap_or(name);
                match crate::types::oid::parse_type_name(name, &[]) {
                    Some(t) => Value::Oid(crate::types::oid::type_oid(&t)),
                    None => Value::Null,
                }
            }
            _ => Value::Null,
        },
        "regclass_out"
        | "pg_get_indexdef"
        | "pg_get_constraintdef"
        | "pg_get_serial_sequence"
        | "to_regclass"
        | "pg_get_viewdef" => by_catalog(ctx, name, args)?,
        _ => Value::Null,
    })
}

fn by_catalog(ctx: &ExecCtx, name: &str, args: &[Value]) -> Result<Value> {
    let relations = ctx.with_catalog(|c| c.relations())?;
    let oid = oid_arg(args, 0);
    let text = |s: String| Ok(Value::Text(s));
    match name {
        "regclass_out" => {
            let Some(oid) = oid else {
                return Ok(Value::Null);
            };
            match relations.iter().find(|r| r.id() == oid) {
                Some(r) => text(r.name().to_string()),
                None => match crate::plan::system::system_table_name(oid) {
                    Some(n) => text(n.to_string()),
                    None => text(oid.to_string()),
                },
            }
        }
        "to_regclass" => {
            let n = match args.first() {
                Some(Value::Text(s)) => s.rsplit('.').next().unwrap_or(s).to_string(),
                _ => return Ok(Value::Null),
            };
            Ok(relations
                .iter()
                .find(|r| r.name() == n)
                .map(|r| Value::Text(r.name().to_string()))
                .unwrap_or(Value::Null))
        }
        "pg_get_serial_sequence" => {
            let (Some(Value::Text(t)), Some(Value::Text(c))) = (args.first(), args.get(1)) else {
                return Ok(Value::Null);
            };
            let t = t.rsplit('.').next().unwrap_or(t);
            Ok(relations
                .iter()
                .find_map(|r| match &**r {
                    Relation::Sequence(s)
                        if s.owned_by
                            .as_ref()
                            .is_some_and(|(tb, col)| tb == t && col == c) =>
                    {
                        Some(Value::Text(format!("public.{}", s.name)))
                    }
                    _ => None,
                })
                .unwrap_or(Value::Null))
        }
        "pg_get_viewdef" => Ok(relations
            .iter()
            .find_map(|r| match &**r {
                Relation::View(v) if Some(v.id) == oid => {
                    Some(Value::Text(format!(" {};", v.query)))
                }
                _ => None,
            })
            .unwrap_or(Value::Null)),
        "pg_get_indexdef" => {
            for r in &relations {
                if let Relation::Table(tb) = &**r {
                    let pk_oid = tb.id + 1_000_000;
                    for (ix_name, def) in crate::plan::system::index_defs(tb) {
                        let ix_oid = tb
                            .indexes
                            .iter()
                            .find(|i| i.name == ix_name)
                            .map(|i| i.id)
                            .unwrap_or(pk_oid);
                        if Some(ix_oid) == oid {
                            return text(def);
                        }
                    }
                }
            }
            Ok(Value::Null)
        }
        "pg_get_constraintdef" => {
            for r in &relations {
                if let Relation::Table(tb) = &**r {
                    for (coid, def) in crate::plan::system::constraint_defs(tb, &relations) {
                        if Some(coid) == oid {
                            return text(def);
                        }
                    }
                }
            }
            Ok(Value::Null)
        }
        _ => Ok(Value::Null),
    }
}
