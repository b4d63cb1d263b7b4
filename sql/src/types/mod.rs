//! PostgreSQL data types and values.
//!
//! `DataType` is what the planner knows about an expression before it runs
//! (it becomes the column type in RowDescription and the parameter types in
//! ParameterDescription); `Value` is what the executor computes. A `Value`
//! does not carry its declared type: `Text` serves text, varchar, char and
//! name alike, and the column's `DataType` decides how it is coerced and
//! described.
//!
//! Submodules:
//! - `oid`: type OIDs and names as PostgreSQL 15 reports them;
//! - `text`: the text format (input parsing and output), matching PostgreSQL's
//!   output exactly (floats, numeric scale, dates, intervals, bytea hex, bool `t`/`f`);
//! - `binary`: the binary wire format for the common types;
//! - `cast`: explicit and implicit casts (`CAST`, `::`, assignment coercion);
//! - `compare`: ordering and equality with SQL NULL logic;
//! - `ops`: arithmetic and other operators, with overflow checks;
//! - `datetime`, `interval`, `numeric`, `json`: the per-family text formats
//!   and arithmetic helpers the modules above share;
//! - `arith`, `container`, `resolve`: operator evaluation and resolution;
//! - `copy`: COPY's text and CSV field formats;
//! - `zone`: the session TimeZone and named zones.

pub mod arith;
pub mod binary;
pub mod cast;
pub mod compare;
pub mod container;
pub mod copy;
pub mod datetime;
pub mod interval;
pub mod json;
pub mod numeric;
pub mod oid;
pub mod ops;
pub mod resolve;
pub mod text;
pub mod zone;

pub use interval::Interval;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The type of a column, parameter or expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DataType {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    /// `numeric(precision, scale)`; `None` is unconstrained `numeric`.
    Numeric(Option<(u32, u32)>),
    Text,
    /// `varchar(n)`; `None` is unbounded `varchar`.
    Varchar(Option<u32>),
    /// `char(n)` (blank-padded).
    Char(u32),
    /// The `name` type of the system catalogs.
    Name,
    Bytea,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Uuid,
    Json,
    Jsonb,
    Oid,
    /// `pg_lsn`: a WAL position, shown as two hex halves (`0/2A`).
    PgLsn,
    /// `regclass`, `regtype`, `regproc` and friends are shown as `Oid`-like.
    RegClass,
    RegType,
    RegProc,
    /// `char` (single byte, the catalogs' `"char"`).
    InternalChar,
    /// One-dimensional array of the element type.
    Array(Box<DataType>),
    /// A string literal or parameter whose type is not decided yet.
    Unknown,
    /// The type of a `NULL` literal before coercion, and of `void` functions.
    Void,
}

/// A computed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int2(i16),
    Int4(i32),
    Int8(i64),
    Float4(f32),
    Float8(f64),
    Numeric(Decimal),
    Text(String),
    Bytea(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
    TimestampTz(DateTime<Utc>),
    Interval(Interval),
    Uuid(uuid::Uuid),
    /// `json` keeps the text as given.
    Json(String),
    Jsonb(serde_json::Value),
    Oid(u32),
    PgLsn(u64),
    Array(Vec<Value>),
}

impl Value {
    /// Whether this is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The natural type of a value (what an untyped context infers).
    pub fn natural_type(&self) -> DataType {
        match self {
            Value::Null => DataType::Unknown,
            Value::Bool(_) => DataType::Bool,
            Value::Int2(_) => DataType::Int2,
            Value::Int4(_) => DataType::Int4,
            Value::Int8(_) => DataType::Int8,
            Value::Float4(_) => DataType::Float4,
            Value::Float8(_) => DataType::Float8,
            Value::Numeric(_) => DataType::Numeric(None),
            Value::Text(_) => DataType::Text,
            Value::Bytea(_) => DataType::Bytea,
            Value::Date(_) => DataType::Date,
            Value::Time(_) => DataType::Time,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::TimestampTz(_) => DataType::TimestampTz,
            Value::Interval(_) => DataType::Interval,
            Value::Uuid(_) => DataType::Uuid,
            Value::Json(_) => DataType::Json,
            Value::Jsonb(_) => DataType::Jsonb,
            Value::Oid(_) => DataType::Oid,
            Value::PgLsn(_) => DataType::PgLsn,
            Value::Array(items) => DataType::Array(Box::new(
                items
                    .iter()
                    .find(|v| !v.is_null())
                    .map(Value::natural_type)
                    .unwrap_or(DataType::Text),
            )),
        }
    }
}
