//! Row encoding: how a table row is stored as a value.
//!
//! A row is a column count followed by one tagged value per column. The tag
//! says how the payload is laid out, so a row decodes without its schema
//! (the schema still decides the column types the client sees). The format
//! is private to RustyDB and versioned by its first byte; decoding never
//! trusts a length it has not checked against the remaining bytes.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use rust_decimal::Decimal;

use super::keycode::corrupt;
use crate::error::Result;
use crate::types::{Interval, Value};

const FORMAT_V1: u8 = 1;

mod tag {
    pub const NULL: u8 = 0;
    pub const FALSE: u8 = 1;
    pub const TRUE: u8 = 2;
    pub const INT2: u8 = 3;
    pub const INT4: u8 = 4;
    pub const INT8: u8 = 5;
    pub const FLOAT4: u8 = 6;
    pub const FLOAT8: u8 = 7;
    pub const NUMERIC: u8 = 8;
    pub const TEXT: u8 = 9;
    pub const BYTEA: u8 = 10;
    pub const DATE: u8 = 11;
    pub const TIME: u8 = 12;
    pub const TIMESTAMP: u8 = 13;
    pub const TIMESTAMPTZ: u8 = 14;
    pub const INTERVAL: u8 = 15;
    pub const UUID: u8 = 16;
    pub const JSON: u8 = 17;
    pub const JSONB: u8 = 18;
    pub const OID: u8 = 19;
    pub const ARRAY: u8 = 20;
    pub const PG_LSN: u8 = 21;
}

/// Encodes a row.
pub fn encode_row(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + values.len() * 9);
    out.push(FORMAT_V1);
    put_len(&mut out, values.len());
    for v in values {
        encode_one(&mut out, v);
    }
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // LEB128 varint.
    let mut n = n as u64;
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

fn encode_one(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.push(tag::NULL),
        Value::Bool(false) => out.push(tag::FALSE),
        Value::Bool(true) => out.push(tag::TRUE),
        Value::Int2(x) => {
            out.push(tag::INT2);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Int4(x) => {
            out.push(tag::INT4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Int8(x) => {
            out.push(tag::INT8);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Float4(x) => {
            out.push(tag::FLOAT4);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Float8(x) => {
            out.push(tag::FLOAT8);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Numeric(d) => {
            out.push(tag::NUMERIC);
            out.extend_from_slice(&d.serialize());
        }
        Value::Text(s) => {
            out.push(tag::TEXT);
            put_bytes(out, s.as_bytes());
        }
        Value::Bytea(b) => {
            out.push(tag::BYTEA);
            put_bytes(out, b);
        }
        Value::Date(d) => {
            out.push(tag::DATE);
            out.extend_from_slice(&chrono::Datelike::num_days_from_ce(d).to_le_bytes());
        }
        Value::Time(t) => {
            out.push(tag::TIME);
            let micros = i64::from(chrono::Timelike::num_seconds_from_midnight(t)) * 1_000_000
                + i64::from(chrono::Timelike::nanosecond(t) / 1000);
            out.extend_from_slice(&micros.to_le_bytes());
        }
        Value::Timestamp(ts) => {
            out.push(tag::TIMESTAMP);
            out.extend_from_slice(&ts.and_utc().timestamp_micros().to_le_bytes());
        }
        Value::TimestampTz(ts) => {
            out.push(tag::TIMESTAMPTZ);
            out.extend_from_slice(&ts.timestamp_micros().to_le_bytes());
        }
        Value::Interval(iv) => {
            out.push(tag::INTERVAL);
            out.extend_from_slice(&iv.months.to_le_bytes());
            out.extend_from_slice(&iv.days.to_le_bytes());
            out.extend_from_slice(&iv.micros.to_le_bytes());
        }
        Value::Uuid(u) => {
            out.push(tag::UUID);
            out.extend_from_slice(u.as_bytes());
        }
        Value::Json(s) => {
            out.push(tag::JSON);
            put_bytes(out, s.as_bytes());
        }
        Value::Jsonb(j) => {
            out.push(tag::JSONB);
            put_bytes(out, j.to_string().as_bytes());
        }
        Value::Oid(x) => {
            out.push(tag::OID);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::PgLsn(x) => {
            out.push(tag::PG_LSN);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Array(items) => {
            out.push(tag::ARRAY);
            put_len(out, items.len());
            for item in items {
                encode_one(out, item);
            }
        }
    }
}

/// Decodes a row.
pub fn decode_row(bytes: &[u8]) -> Result<Vec<Value>> {
    let mut r = Reader { bytes, pos: 0 };
    if r.byte()? != FORMAT_V1 {
        return Err(corrupt("row format"));
    }
    let n = r.len()?;
    let mut values = Vec::with_capacity(n.min(4096));
    for _ in 0..n {
        values.push(r.value(0)?);
    }
    Ok(values)
}

/// Decodes a row into `out` (cleared first, its allocation reused). With
/// `wanted`, only the columns whose entry is true are decoded; the others
/// (and any past the mask's end) are skipped over and read as NULL, so
/// positions stay those of the full row. Table scans use this to build only
/// the columns their filter and their consumer read: skipping a text column
/// costs a length read instead of a `String`.
pub fn decode_row_into(bytes: &[u8], wanted: Option<&[bool]>, out: &mut Vec<Value>) -> Result<()> {
    out.clear();
    let mut r = Reader { bytes, pos: 0 };
    if r.byte()? != FORMAT_V1 {
        return Err(corrupt("row format"));
    }
    let n = r.len()?;
    out.reserve(n.min(4096));
    match wanted {
        None => {
            for _ in 0..n {
                out.push(r.value(0)?);
            }
        }
        Some(mask) => {
            for i in 0..n {
                if mask.get(i).copied().unwrap_or(false) {
                    out.push(r.value(0)?);
                } else {
                    r.skip(0)?;
                    out.push(Value::Null);
                }
            }
        }
    }
    Ok(())
}

/// One column of an encoded row, as `raw_column` finds it.
pub enum RawColumn {
    Null,
    /// An integer of any width.
    Int(i64),
    /// Any other type, or a column past the row's end.
    Other,
}

/// Column `col` of an encoded row without decoding the others (they are
/// skipped): scan filters check integer conditions with it.
pub fn raw_column(bytes: &[u8], col: usize) -> Result<RawColumn> {
    let mut r = Reader { bytes, pos: 0 };
    if r.byte()? != FORMAT_V1 {
        return Err(corrupt("row format"));
    }
    if col >= r.len()? {
        return Ok(RawColumn::Other);
    }
    for _ in 0..col {
        r.skip(0)?;
    }
    Ok(match r.byte()? {
        tag::NULL => RawColumn::Null,
        tag::INT2 => RawColumn::Int(i64::from(i16::from_le_bytes(r.array()?))),
        tag::INT4 => RawColumn::Int(i64::from(i32::from_le_bytes(r.array()?))),
        tag::INT8 => RawColumn::Int(i64::from_le_bytes(r.array()?)),
        _ => RawColumn::Other,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or_else(|| corrupt("row"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| corrupt("row"))
    }

    fn len(&mut self) -> Result<usize> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).map_err(|_| corrupt("row length"));
            }
        }
        Err(corrupt("row length"))
    }

    fn string(&mut self) -> Result<String> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("row text"))
    }

    /// Steps over one value without building it (its payload is not
    /// checked beyond its length: nobody reads it).
    fn skip(&mut self, depth: usize) -> Result<()> {
        if depth > 16 {
            return Err(corrupt("row nesting"));
        }
        let fixed = match self.byte()? {
            tag::NULL | tag::FALSE | tag::TRUE => 0,
            tag::INT2 => 2,
            tag::INT4 | tag::FLOAT4 | tag::DATE | tag::OID => 4,
            tag::INT8
            | tag::FLOAT8
            | tag::TIME
            | tag::TIMESTAMP
            | tag::TIMESTAMPTZ
            | tag::PG_LSN => 8,
            tag::NUMERIC | tag::INTERVAL | tag::UUID => 16,
            tag::TEXT | tag::BYTEA | tag::JSON | tag::JSONB => self.len()?,
            tag::ARRAY => {
                let n = self.len()?;
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
                0
            }
            _ => return Err(corrupt("row tag")),
        };
        self.take(fixed)?;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > 16 {
            return Err(corrupt("row nesting"));
        }
        Ok(match self.byte()? {
            tag::NULL => Value::Null,
            tag::FALSE => Value::Bool(false),
            tag::TRUE => Value::Bool(true),
            tag::INT2 => Value::Int2(i16::from_le_bytes(self.array()?)),
            tag::INT4 => Value::Int4(i32::from_le_bytes(self.array()?)),
            tag::INT8 => Value::Int8(i64::from_le_bytes(self.array()?)),
            tag::FLOAT4 => Value::Float4(f32::from_le_bytes(self.array()?)),
            tag::FLOAT8 => Value::Float8(f64::from_le_bytes(self.array()?)),
            tag::NUMERIC => Value::Numeric(Decimal::deserialize(self.array()?)),
            tag::TEXT => Value::Text(self.string()?),
            tag::BYTEA => {
                let n = self.len()?;
                Value::Bytea(self.take(n)?.to_vec())
            }
            tag::DATE => {
                let days = i32::from_le_bytes(self.array()?);
                Value::Date(
                    NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| corrupt("date"))?,
                )
            }
            tag::TIME => {
                let micros = i64::from_le_bytes(self.array()?);
                let secs =
                    u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| corrupt("time"))?;
                let nanos = (micros.rem_euclid(1_000_000) * 1000) as u32;
                Value::Time(
                    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                        .ok_or_else(|| corrupt("time"))?,
                )
            }
            tag::TIMESTAMP => {
                let micros = i64::from_le_bytes(self.array()?);
                Value::Timestamp(
                    DateTime::from_timestamp_micros(micros)
                        .ok_or_else(|| corrupt("timestamp"))?
                        .naive_utc(),
                )
            }
            tag::TIMESTAMPTZ => {
                let micros = i64::from_le_bytes(self.array()?);
                Value::TimestampTz(
                    Utc.timestamp_micros(micros)
                        .single()
                        .ok_or_else(|| corrupt("timestamptz"))?,
                )
            }
            tag::INTERVAL => {
                let months = i32::from_le_bytes(self.array()?);
                let days = i32::from_le_bytes(self.array()?);
                let micros = i64::from_le_bytes(self.array()?);
                Value::Interval(Interval {
                    months,
                    days,
                    micros,
                })
            }
            tag::UUID => Value::Uuid(uuid::Uuid::from_bytes(self.array()?)),
            tag::JSON => Value::Json(self.string()?),
            tag::JSONB => {
                let s = self.string()?;
                Value::Jsonb(serde_json::from_str(&s).map_err(|_| corrupt("jsonb"))?)
            }
            tag::OID => Value::Oid(u32::from_le_bytes(self.array()?)),
            tag::PG_LSN => Value::PgLsn(u64::from_le_bytes(self.array()?)),
            tag::ARRAY => {
                let n = self.len()?;
                let mut items = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    items.push(self.value(depth + 1)?);
                }
                Value::Array(items)
            }
            _ => return Err(corrupt("row tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let row = vec![
            Value::Null,
            Value::Bool(true),
            Value::Int4(-7),
            Value::Int8(1 << 40),
            Value::Float8(1.5),
            Value::Numeric("12.340".parse().unwrap_or_default()),
            Value::Text("héllo".into()),
            Value::Bytea(vec![0, 1, 255]),
            Value::Array(vec![Value::Int4(1), Value::Null]),
        ];
        assert_eq!(decode_row(&encode_row(&row)), Ok(row));
    }

    #[test]
    fn masked_decode_skips_columns() {
        let row = vec![
            Value::Int4(1),
            Value::Text("skip me".into()),
            Value::Array(vec![Value::Text("x".into()), Value::Null]),
            Value::Numeric("1.5".parse().unwrap_or_default()),
            Value::Interval(Interval {
                months: 1,
                days: 2,
                micros: 3,
            }),
            Value::Int8(9),
        ];
        let bytes = encode_row(&row);
        let mut out = vec![Value::Bool(true)];
        decode_row_into(&bytes, Some(&[true, false, false, false, true]), &mut out)
            .unwrap_or_default();
        assert_eq!(
            out,
            vec![
                Value::Int4(1),
                Value::Null,
                Value::Null,
                Value::Null,
                row[4].clone(),
                Value::Null
            ]
        );
        decode_row_into(&bytes, None, &mut out).unwrap_or_default();
        assert_eq!(out, row);
        assert!(decode_row_into(&bytes[..bytes.len() - 1], Some(&[]), &mut out).is_err());
    }

    #[test]
    fn garbage_is_an_error() {
        for bad in [
            &[][..],
            &[1, 5, 9, 200],
            &[1, 1, 99],
            &[2],
            &[
                1, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ],
        ] {
            assert!(decode_row(bad).is_err());
        }
    }
}
