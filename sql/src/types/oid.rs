//! Type OIDs and names as PostgreSQL 15 reports them.
//!
//! These numbers reach clients in RowDescription and ParameterDescription
//! and in `pg_type`/`pg_attribute` queries that drivers run, so they must
//! be PostgreSQL's real values. `type_name` is what `format_type(oid,
//! typmod)` prints, which is also the spelling used in error messages
//! ("invalid input syntax for type integer").

use super::DataType;

/// Scalar types with their OID and array-type OID.
const TABLE: &[(u32, u32, &str)] = &[
    (16, 1000, "bool"),
    (17, 1001, "bytea"),
    (18, 1002, "char"),
    (19, 1003, "name"),
    (20, 1016, "int8"),
    (21, 1005, "int2"),
    (23, 1007, "int4"),
    (24, 1008, "regproc"),
    (25, 1009, "text"),
    (26, 1028, "oid"),
    (114, 199, "json"),
    (700, 1021, "float4"),
    (701, 1022, "float8"),
    (1042, 1014, "bpchar"),
    (1043, 1015, "varchar"),
    (1082, 1182, "date"),
    (1083, 1183, "time"),
    (1114, 1115, "timestamp"),
    (1184, 1185, "timestamptz"),
    (1186, 1187, "interval"),
    (1700, 1231, "numeric"),
    (2205, 2210, "regclass"),
    (2206, 2211, "regtype"),
    (2950, 2951, "uuid"),
    (3220, 3221, "pg_lsn"),
    (3802, 3807, "jsonb"),
];

/// `array_in`, the input function of every array type (`pg_type.typinput`).
pub const ARRAY_IN_OID: u32 = 750;

/// The pg_type OID of a type.
pub fn type_oid(ty: &DataType) -> u32 {
    match ty {
        DataType::Bool => 16,
        DataType::Bytea => 17,
        DataType::InternalChar => 18,
        DataType::Name => 19,
        DataType::Int8 => 20,
        DataType::Int2 => 21,
        DataType::Int4 => 23,
        DataType::RegProc => 24,
        DataType::Text => 25,
        DataType::Oid => 26,
        DataType::Json => 114,
        DataType::Float4 => 700,
        DataType::Float8 => 701,
        DataType::Unknown => 705,
        DataType::Char(_) => 1042,
        DataType::Varchar(_) => 1043,
        DataType::Date => 1082,
        DataType::Time => 1083,
        DataType::Timestamp => 1114,
        DataType::TimestampTz => 1184,
        DataType::Interval => 1186,
        DataType::Numeric(_) => 1700,
        DataType::RegClass => 2205,
        DataType::RegType => 2206,
        DataType::Void => 2278,
        DataType::Uuid => 2950,
        DataType::PgLsn => 3220,
        DataType::Jsonb => 3802,
        DataType::Array(elem) => {
            let e = type_oid(elem);
            TABLE
                .iter()
                .find(|(o, _, _)| *o == e)
                .map(|(_, a, _)| *a)
                .unwrap_or(1009)
        }
    }
}

/// The type for a pg_type OID, if we support it.
pub fn from_oid(oid: u32) -> Option<DataType> {
    Some(match oid {
        16 => DataType::Bool,
        17 => DataType::Bytea,
        18 => DataType::InternalChar,
        19 => DataType::Name,
        20 => DataType::Int8,
        21 => DataType::Int2,
        23 => DataType::Int4,
        24 => DataType::RegProc,
        25 => DataType::Text,
        26 => DataType::Oid,
        114 => DataType::Json,
        700 => DataType::Float4,
        701 => DataType::Float8,
        705 => DataType::Unknown,
        1042 => DataType::Char(1),
        1043 => DataType::Varchar(None),
        1082 => DataType::Date,
        1083 => DataType::Time,
        1114 => DataType::Timestamp,
        1184 => DataType::TimestampTz,
        1186 => DataType::Interval,
        1700 => DataType::Numeric(None),
        2205 => DataType::RegClass,
        2206 => DataType::RegType,
        2278 => DataType::Void,
        2950 => DataType::Uuid,
        3220 => DataType::PgLsn,
        3802 => DataType::Jsonb,
        0 => return None,
        other => {
            let (elem, _, _) = TABLE.iter().find(|(_, a, _)| *a == other)?;
            let elem = match from_oid(*elem)? {
                // An array parameter of bpchar has no length.
                DataType::Char(_) => DataType::Char(1),
                e => e,
            };
            DataType::Array(Box::new(elem))
        }
    })
}

/// The name `format_type()` gives, e.g. `integer`, `character varying(10)`.
pub fn type_name(ty: &DataType) -> String {
    match ty {
        DataType::Bool => "boolean".into(),
        DataType::Int2 => "smallint".into(),
        DataType::Int4 => "integer".into(),
        DataType::Int8 => "bigint".into(),
        DataType::Float4 => "real".into(),
        DataType::Float8 => "double precision".into(),
        DataType::Numeric(None) => "numeric".into(),
        DataType::Numeric(Some((p, s))) => format!("numeric({p},{s})"),
        DataType::Text => "text".into(),
        DataType::Varchar(None) => "character varying".into(),
        DataType::Varchar(Some(n)) => format!("character varying({n})"),
        DataType::Char(n) => format!("character({n})"),
        DataType::Name => "name".into(),
        DataType::Bytea => "bytea".into(),
        DataType::Date => "date".into(),
        DataType::Time => "time without time zone".into(),
        DataType::Timestamp => "timestamp without time zone".into(),
        DataType::TimestampTz => "timestamp with time zone".into(),
        DataType::Interval => "interval".into(),
        DataType::Uuid => "uuid".into(),
        DataType::PgLsn => "pg_lsn".into(),
        DataType::Json => "json".into(),
        DataType::Jsonb => "jsonb".into(),
        DataType::Oid => "oid".into(),
        DataType::RegClass => "regclass".into(),
        DataType::RegType => "regtype".into(),
        DataType::RegProc => "regproc".into(),
        DataType::InternalChar => "\"char\"".into(),
        DataType::Array(elem) => format!("{}[]", type_name(elem)),
        DataType::Unknown => "unknown".into(),
        DataType::Void => "void".into(),
    }
}

/// The `pg_type.typname` (internal name): `int4`, `varchar`, `_int4`.
pub fn internal_name(ty: &DataType) -> String {
    match ty {
        DataType::Array(elem) => format!("_{}", internal_name(elem)),
        DataType::Unknown => "unknown".into(),
        DataType::Void => "void".into(),
        other => {
            let oid = type_oid(other);
            TABLE
                .iter()
                .find(|(o, _, _)| *o == oid)
                .map(|(_, _, n)| n.to_string())
                .unwrap_or_else(|| "text".into())
        }
    }
}

/// The type for an OID and an `atttypmod` (`varchar` with 14 is
/// `varchar(10)`, `numeric` with 655366 is `numeric(10,2)`).
pub fn from_oid_typmod(oid: u32, typmod: i32) -> Option<DataType> {
    let base = from_oid(oid)?;
    Some(apply_typmod(base, typmod))
}

fn apply_typmod(t: DataType, typmod: i32) -> DataType {
    let m = typmod - 4;
    match t {
        DataType::Varchar(_) if typmod >= 4 => DataType::Varchar(Some(m as u32)),
        DataType::Char(_) if typmod >= 4 => DataType::Char(m as u32),
        DataType::Numeric(_) if typmod >= 4 => {
            DataType::Numeric(Some(((m >> 16) as u32 & 0xffff, m as u32 & 0xffff)))
        }
        DataType::Array(e) => DataType::Array(Box::new(apply_typmod(*e, typmod))),
        other => other,
    }
}

/// SQL `format_type(oid, typmod)`: `-` for OID 0, `???` for unknown OIDs,
/// `bpchar` for `character` without a length, as PostgreSQL prints.
pub fn format_type(oid: u32, typmod: i32) -> String {
    if oid == 0 {
        return "-".into();
    }
    match from_oid_typmod(oid, typmod) {
        None => "???".into(),
        Some(DataType::Char(_)) if typmod < 4 => "bpchar".into(),
        Some(DataType::Array(e)) if matches!(*e, DataType::Char(_)) && typmod < 4 => {
            "bpchar[]".into()
        }
        Some(t) => type_name(&t),
    }
}

/// `typlen`: the fixed size in bytes, or -1 for variable length (-2 for
/// the C-string `unknown`).
pub fn type_len(ty: &DataType) -> i16 {
    match ty {
        DataType::Bool | DataType::InternalChar => 1,
        DataType::Int2 => 2,
        DataType::Int4 | DataType::Float4 | DataType::Date | DataType::Oid => 4,
        DataType::RegClass | DataType::RegType | DataType::RegProc | DataType::Void => 4,
        DataType::Int8
        | DataType::PgLsn
        | DataType::Float8
        | DataType::Time
        | DataType::Timestamp
        | DataType::TimestampTz => 8,
        DataType::Interval | DataType::Uuid => 16,
        DataType::Name => 64,
        DataType::Unknown => -2,
        _ => -1,
    }
}

/// `atttypmod`: the type modifier (e.g. varchar(10) is 14), or -1.
pub fn type_modifier(ty: &DataType) -> i32 {
    match ty {
        DataType::Varchar(Some(n)) | DataType::Char(n) => (*n as i32).saturating_add(4),
        DataType::Numeric(Some((p, s))) => {
            (((*p as i32) << 16) | (*s as i32 & 0xffff)).saturating_add(4)
        }
        _ => -1,
    }
}

/// Maps a type name as written in SQL (`int`, `character varying`,
/// `double precision`, `_int4`, `int[]`) with its modifiers to a type.
/// `None` for names we do not know; the planner reports `42704`.
pub fn parse_type_name(name: &str, modifiers: &[u32]) -> Option<DataType> {
    let lower = name.trim().to_ascii_lowercase();
    let collapsed = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    let n = collapsed.as_str();
    if let Some(elem) = n.strip_suffix("[]") {
        return parse_type_name(elem, modifiers).map(|e| DataType::Array(Box::new(e)));
    }
    if let Some(elem) = n.strip_prefix('_') {
        return parse_type_name(elem, modifiers).map(|e| DataType::Array(Box::new(e)));
    }
    let m0 = modifiers.first().copied();
    Some(match n {
        "bool" | "boolean" => DataType::Bool,
        "int2" | "smallint" | "smallserial" | "serial2" => DataType::Int2,
        "int" | "int4" | "integer" | "serial" | "serial4" => DataType::Int4,
        "int8" | "bigint" | "bigserial" | "serial8" => DataType::Int8,
        "real" | "float4" => DataType::Float4,
        "double precision" | "float8" => DataType::Float8,
        // float(p): 1-24 is real, 25-53 double precision.
        "float" => match m0 {
            Some(p) if (1..=24).contains(&p) => DataType::Float4,
            Some(p) if p > 53 || p == 0 => return None,
            _ => DataType::Float8,
        },
        "numeric" | "decimal" | "dec" => match modifiers {
            [] => DataType::Numeric(None),
            [p] => DataType::Numeric(Some((*p, 0))),
            [p, s, ..] => DataType::Numeric(Some((*p, *s))),
        },
        "text" => DataType::Text,
        "varchar" | "character varying" | "char varying" => DataType::Varchar(m0),
        "char" | "character" | "bpchar" => DataType::Char(m0.unwrap_or(1)),
        "\"char\"" => DataType::InternalChar,
        "name" => DataType::Name,
        "bytea" => DataType::Bytea,
        "date" => DataType::Date,
        "time" | "time without time zone" => DataType::Time,
        "timestamp" | "timestamp without time zone" => DataType::Timestamp,
        "timestamptz" | "timestamp with time zone" => DataType::TimestampTz,
        "interval" => DataType::Interval,
        "uuid" => DataType::Uuid,
        "pg_lsn" => DataType::PgLsn,
        "json" => DataType::Json,
        "jsonb" => DataType::Jsonb,
        "oid" => DataType::Oid,
        "regclass" => DataType::RegClass,
        "regtype" => DataType::RegType,
        "regproc" => DataType::RegProc,
        "unknown" => DataType::Unknown,
        "void" => DataType::Void,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_names() {
        let arr = |t: DataType| DataType::Array(Box::new(t));
        assert_eq!(type_oid(&arr(DataType::Int4)), 1007);
        assert_eq!(type_oid(&arr(DataType::Varchar(Some(3)))), 1015);
        assert_eq!(from_oid(1016), Some(arr(DataType::Int8)));
        assert_eq!(
            type_name(&DataType::Varchar(Some(10))),
            "character varying(10)"
        );
        assert_eq!(type_name(&arr(DataType::Int4)), "integer[]");
        assert_eq!(type_modifier(&DataType::Varchar(Some(10))), 14);
        assert_eq!(type_modifier(&DataType::Numeric(Some((10, 2)))), 655366);
        assert_eq!(
            parse_type_name("Double  Precision", &[]),
            Some(DataType::Float8)
        );
        assert_eq!(parse_type_name("int[]", &[]), Some(arr(DataType::Int4)));
        assert_eq!(
            parse_type_name("decimal", &[10, 2]),
            Some(DataType::Numeric(Some((10, 2))))
        );
        assert_eq!(internal_name(&arr(DataType::Int4)), "_int4");
        assert_eq!(format_type(1042, -1), "bpchar");
        assert_eq!(format_type(1042, 9), "character(5)");
        assert_eq!(format_type(1043, -1), "character varying");
        assert_eq!(format_type(1700, 655366), "numeric(10,2)");
        assert_eq!(format_type(1015, 14), "character varying(10)[]");
        assert_eq!(format_type(0, -1), "-");
        assert_eq!(format_type(99999, -1), "???");
        assert_eq!(format_type(18, -1), "\"char\"");
        assert_eq!(format_type(23, 5), "integer");
        for oid in [
            16, 17, 18, 19, 20, 21, 23, 25, 26, 114, 700, 701, 1043, 1082, 1114, 1184, 1186, 1700,
            2950, 3802,
        ] {
            let t = from_oid(oid);
            assert_eq!(t.as_ref().map(type_oid), Some(oid));
        }
    }
}
