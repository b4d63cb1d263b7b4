//! The binary wire format (PostgreSQL's send/recv functions).
//!
//! Layouts, all big-endian:
//! - bool: 1 byte; int2/int4/int8, oid and reg*: two's complement; float4/8: IEEE 754;
//! - numeric: `ndigits, weight, sign (0x0000/0x4000), dscale` as int16, then
//!   `ndigits` base-10000 digits as int16;
//! - text, varchar, char, name, json, unknown: the UTF-8 bytes; jsonb: version byte 1 then text;
//! - date: int32 days since 2000-01-01; time: int64 microseconds since midnight;
//!   timestamp/timestamptz: int64 microseconds since 2000-01-01 00:00 (UTC);
//! - interval: int64 microseconds, int32 days, int32 months; uuid: 16 bytes;
//! - arrays: `ndim, has_nulls, element oid`, then `length, lower bound` per
//!   dimension, then per element an int32 length (-1 for NULL) and its bytes.
//!
//! `decode` never panics on client bytes: short input is `22P03`
//! "insufficient data left in message", leftovers and impossible values are
//! `22P03` "incorrect binary data format".

use chrono::{Duration, NaiveTime, Timelike};

use super::{datetime, numeric, oid, DataType, Interval, Value};
use crate::error::{Error, Result};
use crate::SqlState;

fn insufficient() -> Error {
    Error::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        "insufficient data left in message",
    )
}

fn bad_format() -> Error {
    Error::new(
        SqlState::INVALID_BINARY_REPRESENTATION,
        "incorrect binary data format",
    )
}

fn range_err(what: &str) -> Error {
    Error::new(
        SqlState::DATETIME_FIELD_OVERFLOW,
        format!("{what} out of range"),
    )
}

/// Encodes a non-NULL value in binary format for the given column type.
pub fn encode(value: &Value, ty: &DataType) -> Result<Vec<u8>> {
    // Values are produced by the executor with the column's family, but
    // cast first when the declared type differs (e.g. an int4 value in an
    // int8 column), so the byte width matches what the client was told.
    let v = match (value, ty) {
        (Value::Array(_), DataType::Array(_)) | (_, DataType::Unknown | DataType::Void) => {
            value.clone()
        }
        (v, t) if v.natural_type() == *t => v.clone(),
        (
            Value::Text(_),
            DataType::Varchar(_) | DataType::Char(_) | DataType::Name | DataType::InternalChar,
        ) => value.clone(),
        (Value::Numeric(_), DataType::Numeric(_)) => value.clone(),
        (Value::Oid(_), DataType::RegClass | DataType::RegType | DataType::RegProc) => {
            value.clone()
        }
        (v, t) => super::cast::cast(v.clone(), t)?,
    };
    let mut out = Vec::new();
    match &v {
        Value::Null => return Err(Error::internal("NULL has no binary encoding")),
        Value::Bool(b) => out.push(*b as u8),
        Value::Int2(x) => out.extend(x.to_be_bytes()),
        Value::Int4(x) => out.extend(x.to_be_bytes()),
        Value::Int8(x) => out.extend(x.to_be_bytes()),
        Value::Oid(x) => out.extend(x.to_be_bytes()),
        Value::PgLsn(x) => out.extend(x.to_be_bytes()),
        Value::Float4(x) => out.extend(x.to_be_bytes()),
        Value::Float8(x) => out.extend(x.to_be_bytes()),
        Value::Numeric(d) => {
            let (digits, weight, dscale) = numeric::to_base10000(d);
            out.extend((digits.len() as i16).to_be_bytes());
            out.extend(weight.to_be_bytes());
            let sign: u16 = if d.is_sign_negative() && !d.is_zero() {
                0x4000
            } else {
                0
            };
            out.extend(sign.to_be_bytes());
            out.extend(dscale.to_be_bytes());
            for dg in digits {
                out.extend(dg.to_be_bytes());
            }
        }
        Value::Text(s) | Value::Json(s) => out.extend(s.as_bytes()),
        Value::Jsonb(j) => {
            out.push(1);
            out.extend(super::json::format_jsonb(j).as_bytes());
        }
        Value::Bytea(b) => out.extend(b),
        Value::Date(d) if *d == chrono::NaiveDate::MAX => out.extend(i32::MAX.to_be_bytes()),
        Value::Date(d) if *d == chrono::NaiveDate::MIN => out.extend(i32::MIN.to_be_bytes()),
        Value::Date(d) => {
            let days = (*d - datetime::pg_epoch().date()).num_days();
            out.extend((days as i32).to_be_bytes());
        }
        Value::Time(t) => {
            let us =
                t.num_seconds_from_midnight() as i64 * 1_000_000 + (t.nanosecond() / 1000) as i64;
            out.extend(us.to_be_bytes());
        }
        Value::Timestamp(t) => out.extend(micros_since_epoch(t)?.to_be_bytes()),
        Value::TimestampTz(t) => out.extend(micros_since_epoch(&t.naive_utc())?.to_be_bytes()),
        Value::Interval(i) => {
            out.extend(i.micros.to_be_bytes());
            out.extend(i.days.to_be_bytes());
            out.extend(i.months.to_be_bytes());
        }
        Value::Uuid(u) => out.extend(u.as_bytes()),
        Value::Array(items) => {
            let elem = match ty {
                DataType::Array(e) => (**e).clone(),
                _ => v.natural_type(),
            };
            let elem = match elem {
                DataType::Array(inner) => *inner,
                e => e,
            };
            let ndim: i32 = if items.is_empty() { 0 } else { 1 };
            out.extend(ndim.to_be_bytes());
            out.extend((items.iter().any(Value::is_null) as i32).to_be_bytes());
            out.extend(oid::type_oid(&elem).to_be_bytes());
            if ndim == 1 {
                out.extend((items.len() as i32).to_be_bytes());
                out.extend(1i32.to_be_bytes());
            }
            for item in items {
                if item.is_null() {
                    out.extend((-1i32).to_be_bytes());
                } else {
                    let b = encode(item, &elem)?;
                    out.extend((b.len() as i32).to_be_bytes());
                    out.extend(b);
                }
            }
        }
    }
    Ok(out)
}

fn micros_since_epoch(t: &chrono::NaiveDateTime) -> Result<i64> {
    // PostgreSQL's infinities are the extreme int64 values.
    if *t == chrono::NaiveDateTime::MAX {
        return Ok(i64::MAX);
    }
    if *t == chrono::NaiveDateTime::MIN {
        return Ok(i64::MIN);
    }
    (*t - datetime::pg_epoch())
        .num_microseconds()
        .ok_or_else(|| range_err("timestamp"))
}

/// A cursor over client bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(insufficient)?;
        let s = self.buf.get(self.pos..end).ok_or_else(insufficient)?;
        self.pos = end;
        Ok(s)
    }

    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| insufficient())
    }

    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.arr()?))
    }

    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.arr()?))
    }

    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.arr()?))
    }

    fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }
}

fn utf8(b: &[u8]) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = b.get(at).copied().unwrap_or(0);
        Error::new(
            SqlState::CHARACTER_NOT_IN_REPERTOIRE,
            format!("invalid byte sequence for encoding \"UTF8\": 0x{byte:02x}"),
        )
    })
}

/// Decodes a binary-format parameter of the given type.
pub fn decode(bytes: &[u8], ty: &DataType) -> Result<Value> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let v = decode_from(&mut r, ty)?;
    if r.pos != bytes.len() {
        return Err(bad_format());
    }
    Ok(v)
}

fn decode_from(r: &mut Reader<'_>, ty: &DataType) -> Result<Value> {
    Ok(match ty {
        DataType::Bool => Value::Bool(r.arr::<1>()?[0] != 0),
        DataType::Int2 => Value::Int2(r.i16()?),
        DataType::Int4 => Value::Int4(r.i32()?),
        DataType::Int8 => Value::Int8(r.i64()?),
        DataType::Oid | DataType::RegClass | DataType::RegType | DataType::RegProc => {
            Value::Oid(u32::from_be_bytes(r.arr()?))
        }
        DataType::PgLsn => Value::PgLsn(u64::from_be_bytes(r.arr()?)),
        DataType::Float4 => Value::Float4(f32::from_be_bytes(r.arr()?)),
        DataType::Float8 => Value::Float8(f64::from_be_bytes(r.arr()?)),
        DataType::Numeric(tm) => {
            let ndigits = r.i16()?;
            let weight = r.i16()?;
            let sign = r.i16()? as u16;
            let dscale = r.i16()?;
            if ndigits < 0 || dscale < 0 {
                return Err(bad_format());
            }
            let negative = match sign {
                0x0000 => false,
                0x4000 => true,
                0xC000 => return Err(Error::unsupported("numeric NaN is not supported")),
                _ => {
                    return Err(Error::new(
                        SqlState::INVALID_BINARY_REPRESENTATION,
                        "invalid sign in external \"numeric\" value",
                    ))
                }
            };
            let digits = (0..ndigits).map(|_| r.i16()).collect::<Result<Vec<_>>>()?;
            let d = numeric::from_base10000(&digits, weight, negative, dscale as u16)?;
            match tm {
                Some((p, s)) => Value::Numeric(numeric::apply_typmod(d, *p, *s)?),
                None => Value::Numeric(d),
            }
        }
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::InternalChar
        | DataType::Unknown
        | DataType::Void => Value::Text(utf8(r.rest())?),
        DataType::Json => {
            let s = utf8(r.rest())?;
            Value::Json(super::json::parse_json(&s)?)
        }
        DataType::Jsonb => {
            let version = r.arr::<1>()?[0];
            if version != 1 {
                return Err(Error::new(
                    SqlState::INVALID_BINARY_REPRESENTATION,
                    format!("unsupported jsonb version number {version}"),
                ));
            }
            Value::Jsonb(super::json::parse_jsonb(&utf8(r.rest())?)?)
        }
        DataType::Bytea => Value::Bytea(r.rest().to_vec()),
        DataType::Date => {
            let days = r.i32()?;
            if days == i32::MAX || days == i32::MIN {
                let inf = if days == i32::MAX {
                    chrono::NaiveDate::MAX
                } else {
                    chrono::NaiveDate::MIN
                };
                return Ok(Value::Date(inf));
            }
            let d = datetime::pg_epoch()
                .date()
                .checked_add_signed(Duration::days(days as i64))
                .ok_or_else(|| range_err("date"))?;
            Value::Date(d)
        }
        DataType::Time => {
            let us = r.i64()?;
            if !(0..86_400_000_000).contains(&us) {
                return Err(range_err("time"));
            }
            Value::Time(NaiveTime::MIN + Duration::microseconds(us))
        }
        DataType::Timestamp | DataType::TimestampTz => {
            let us = r.i64()?;
            let t = match us {
                i64::MAX => chrono::NaiveDateTime::MAX,
                i64::MIN => chrono::NaiveDateTime::MIN,
                _ => datetime::pg_epoch()
                    .checked_add_signed(Duration::microseconds(us))
                    .ok_or_else(|| range_err("timestamp"))?,
            };
            if *ty == DataType::Timestamp {
                Value::Timestamp(t)
            } else {
                Value::TimestampTz(t.and_utc())
            }
        }
        DataType::Interval => {
            let micros = r.i64()?;
            let days = r.i32()?;
            let months = r.i32()?;
            Value::Interval(Interval::new(months, days, micros))
        }
        DataType::Uuid => Value::Uuid(uuid::Uuid::from_bytes(r.arr()?)),
        DataType::Array(elem) => decode_array(r, elem)?,
    })
}

fn decode_array(r: &mut Reader<'_>, elem: &DataType) -> Result<Value> {
    let ndim = r.i32()?;
    let _has_nulls = r.i32()?;
    let elem_oid = r.i32()? as u32;
    if ndim == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    if ndim != 1 {
        return Err(Error::unsupported(
            "multidimensional arrays are not supported",
        ));
    }
    if elem_oid != oid::type_oid(elem) && oid::from_oid(elem_oid).is_none() {
        return Err(Error::new(
            SqlState::DATATYPE_MISMATCH,
            "wrong element type".to_string(),
        ));
    }
    let elem_ty = oid::from_oid(elem_oid)
        .map(|t| if t == *elem { t } else { elem.clone() })
        .unwrap_or_else(|| elem.clone());
    let len = r.i32()?;
    let _lower = r.i32()?;
    if len < 0 || len as usize > r.buf.len() {
        return Err(insufficient());
    }
    let mut items = Vec::with_capacity(len as usize);
    for _ in 0..len {
        let n = r.i32()?;
        if n == -1 {
            items.push(Value::Null);
            continue;
        }
        let n = usize::try_from(n).map_err(|_| bad_format())?;
        let bytes = r.take(n)?;
        items.push(decode(bytes, &elem_ty)?);
    }
    Ok(Value::Array(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::{format, parse};

    fn round_trip(text: &str, ty: DataType) -> String {
        let v = parse(text, &ty).unwrap_or(Value::Null);
        let bytes = encode(&v, &ty).unwrap_or_default();
        decode(&bytes, &ty)
            .map(|v| format(&v))
            .unwrap_or_else(|e| e.message())
    }

    #[test]
    fn round_trips() {
        for (s, t) in [
            ("t", DataType::Bool),
            ("-5", DataType::Int2),
            ("123456", DataType::Int4),
            ("-9223372036854775808", DataType::Int8),
            ("1.5", DataType::Float4),
            ("0.1", DataType::Float8),
            ("-12345.6789", DataType::Numeric(None)),
            ("0.00", DataType::Numeric(None)),
            ("héllo", DataType::Text),
            ("\\x00ff", DataType::Bytea),
            ("2024-01-31", DataType::Date),
            ("1999-12-31", DataType::Date),
            ("13:45:00.5", DataType::Time),
            ("2024-01-31 13:45:00", DataType::Timestamp),
            ("2024-01-31 13:45:00+00", DataType::TimestampTz),
            ("infinity", DataType::Timestamp),
            ("-infinity", DataType::Date),
            ("1 year 2 mons 3 days 04:05:06", DataType::Interval),
            ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", DataType::Uuid),
            ("{\"a\": [1, 2]}", DataType::Jsonb),
            ("{1,NULL,3}", DataType::Array(Box::new(DataType::Int4))),
            ("{}", DataType::Array(Box::new(DataType::Text))),
        ] {
            assert_eq!(round_trip(s, t.clone()), s, "{t:?}");
        }
    }

    #[test]
    fn exact_layouts_and_errors() {
        let v = parse("2000-01-02", &DataType::Date).unwrap_or(Value::Null);
        assert_eq!(encode(&v, &DataType::Date).ok(), Some(vec![0, 0, 0, 1]));
        let n = parse("12345.678", &DataType::Numeric(None)).unwrap_or(Value::Null);
        let expect = vec![0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];
        assert_eq!(encode(&n, &DataType::Numeric(None)).ok(), Some(expect));
        assert_eq!(
            encode(&Value::Int4(7), &DataType::Int8).ok(),
            Some(7i64.to_be_bytes().to_vec())
        );
        let e = decode(&[0, 1], &DataType::Int4).map_err(|e| e.message());
        assert_eq!(
            e.err().as_deref(),
            Some("insufficient data left in message")
        );
        let e = decode(&[0, 0, 0, 1, 0], &DataType::Int4).map_err(|e| e.message());
        assert_eq!(e.err().as_deref(), Some("incorrect binary data format"));
        assert!(decode(&[0xff, 0xfe], &DataType::Text).is_err());
        assert!(decode(
            &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1],
            &DataType::Array(Box::new(DataType::Int4))
        )
        .is_err());
        assert!(decode(
            &[0, 1, 0x7f, 0xff, 0, 0, 0, 0, 0x27, 0x10],
            &DataType::Numeric(None)
        )
        .is_err());
    }
}
