//! Order-preserving key encoding.
//!
//! `encode_value` appends a value so that comparing two encodings byte by
//! byte gives the same order as comparing the values in SQL (for values of
//! one column type). Each value starts with a marker byte: `0x01` for a
//! value, `0xFF` for NULL, so NULL sorts after everything, as PostgreSQL's
//! B-tree does by default. Variable-length payloads (text, bytea, numeric
//! digits) escape `0x00` as `0x00 0xFF` and end with `0x00 0x01`, so a
//! shorter string sorts before its extensions and concatenated values never
//! run into each other.
//!
//! All integer widths are encoded as `i64`, so an `int4` key and an `int8`
//! probe value for it encode the same way; numerics are normalised
//! (`1.0` = `1.00`), since PostgreSQL considers them equal.

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::types::Value;

const VALUE: u8 = 0x01;
const NULL: u8 = 0xFF;

/// Appends the order-preserving encoding of `value` to `out`.
pub fn encode_value(out: &mut Vec<u8>, value: &Value) -> Result<()> {
    if value.is_null() {
        out.push(NULL);
        return Ok(());
    }
    out.push(VALUE);
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Int2(v) => encode_i64(out, i64::from(*v)),
        Value::Int4(v) => encode_i64(out, i64::from(*v)),
        Value::Int8(v) => encode_i64(out, *v),
        Value::Oid(v) => encode_i64(out, i64::from(*v)),
        // Order-preserving for the full u64 range (the sign bit flip in
        // encode_i64 then orders it as unsigned).
        Value::PgLsn(v) => encode_i64(out, (*v ^ (1 << 63)) as i64),
        Value::Float4(v) => encode_f64(out, f64::from(*v)),
        Value::Float8(v) => encode_f64(out, *v),
        Value::Numeric(d) => encode_decimal(out, d),
        Value::Text(s) | Value::Json(s) => encode_bytes(out, s.as_bytes()),
        Value::Bytea(b) => encode_bytes(out, b),
        Value::Date(d) => {
            let days = i64::from(chrono::Datelike::num_days_from_ce(d));
            encode_i64(out, days)
        }
        Value::Time(t) => {
            let micros = chrono::Timelike::num_seconds_from_midnight(t) as i64 * 1_000_000
                + i64::from(chrono::Timelike::nanosecond(t) / 1000);
            encode_i64(out, micros)
        }
        Value::Timestamp(ts) => encode_i64(out, ts.and_utc().timestamp_micros()),
        Value::TimestampTz(ts) => encode_i64(out, ts.timestamp_micros()),
        Value::Interval(iv) => {
            // PostgreSQL orders intervals by their span with 30-day months.
            let total = i128::from(iv.months) * 30 * 86_400_000_000
                + i128::from(iv.days) * 86_400_000_000
                + i128::from(iv.micros);
            out.extend_from_slice(&((total as u128) ^ (1u128 << 127)).to_be_bytes());
        }
        Value::Uuid(u) => out.extend_from_slice(u.as_bytes()),
        Value::Jsonb(j) => encode_bytes(out, j.to_string().as_bytes()),
        Value::Array(items) => {
            for item in items {
                out.push(0x02);
                encode_value(out, item)?;
            }
            out.push(0x01);
        }
    }
    Ok(())
}

/// Encodes a list of values (a composite key).
pub fn encode_values(values: &[Value]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(values.len() * 9);
    for v in values {
        encode_value(&mut out, v)?;
    }
    Ok(out)
}

fn encode_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&((v as u64) ^ (1 << 63)).to_be_bytes());
}

fn encode_f64(out: &mut Vec<u8>, v: f64) {
    // -0.0 equals 0.0 and all NaNs are equal (and greatest) in PostgreSQL.
    let v = if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    };
    let bits = v.to_bits();
    let ordered = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    out.extend_from_slice(&ordered.to_be_bytes());
}

fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x01]);
}

/// Numerics: sign class, then (for non-zero) a decimal exponent and the
/// significant digits, inverted for negative numbers.
fn encode_decimal(out: &mut Vec<u8>, d: &Decimal) {
    let d = d.normalize();
    if d.is_zero() {
        out.push(0x80);
        return;
    }
    let negative = d.is_sign_negative();
    let mantissa = d.mantissa().unsigned_abs().to_string();
    // value = 0.DIGITS * 10^exponent
    let exponent = mantissa.len() as i32 - d.scale() as i32;
    let mut body = Vec::with_capacity(mantissa.len() + 3);
    body.extend_from_slice(&((exponent + 0x8000) as u16).to_be_bytes());
    body.extend(mantissa.bytes().map(|c| c - b'0' + 1));
    body.push(0x00);
    if negative {
        out.push(0x7F);
        out.extend(body.iter().map(|b| !b));
    } else {
        out.push(0x81);
        out.extend(body);
    }
}

/// Appends exactly what `encode_value(Value::Numeric(v.into()))` appends,
/// without the `Decimal` and its digit string (hash keys of integer GROUP
/// BY columns are built per row). An integer normalises to itself (scale 0,
/// trailing zeros kept), so its digits are those of `|v|` and its exponent
/// is their count.
pub fn encode_int_as_numeric(out: &mut Vec<u8>, v: i64) {
    out.push(VALUE);
    if v == 0 {
        out.push(0x80);
        return;
    }
    let mut digits = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut len = 0;
    while n > 0 {
        // Digits are stored as 1..=10 (`digit + 1`), lowest first here.
        digits[len] = (n % 10) as u8 + 1;
        n /= 10;
        len += 1;
    }
    let exponent = ((len as i32 + 0x8000) as u16).to_be_bytes();
    let flip = |b: u8| if v < 0 { !b } else { b };
    out.push(if v < 0 { 0x7F } else { 0x81 });
    out.extend(exponent.iter().map(|b| flip(*b)));
    out.extend(digits[..len].iter().rev().map(|b| flip(*b)));
    out.push(flip(0x00));
}

/// The key just past every key that starts with `prefix` (for range ends).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return end;
        }
    }
    vec![0xFF; prefix.len() + 1]
}

/// Error for a key that does not decode (corruption).
pub fn corrupt(what: &str) -> Error {
    Error::Storage(format!("corrupt {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: Value) -> Vec<u8> {
        encode_values(&[v]).unwrap_or_default()
    }

    #[test]
    fn integer_as_numeric_matches_decimal() {
        let mut samples = vec![0, 1, -1, 7, 10, 100, -100, 120, 99999, i64::MAX, i64::MIN];
        let mut x: i64 = 1;
        for _ in 0..200 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            samples.push(x >> (x as u64 % 60));
            samples.push(-(x >> 40));
        }
        for v in samples {
            let mut fast = Vec::new();
            encode_int_as_numeric(&mut fast, v);
            assert_eq!(fast, enc(Value::Numeric(Decimal::from(v))), "{v}");
        }
    }

    #[test]
    fn integers_order() {
        let vals = [i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        for w in vals.windows(2) {
            assert!(enc(Value::Int8(w[0])) < enc(Value::Int8(w[1])));
        }
        assert_eq!(enc(Value::Int4(5)), enc(Value::Int8(5)));
        assert!(enc(Value::Int4(5)) < enc(Value::Null));
    }

    #[test]
    fn text_order_and_prefixes() {
        let vals = ["", "a", "a\0", "a\0b", "ab", "b"];
        for w in vals.windows(2) {
            assert!(
                enc(Value::Text(w[0].into())) < enc(Value::Text(w[1].into())),
                "{w:?}"
            );
        }
    }

    #[test]
    fn numeric_order() {
        let vals = [
            "-100.5", "-100", "-2", "-1.5", "-0.001", "0", "0.001", "0.5", "1", "1.5", "10",
            "123.45",
        ];
        let ds: Vec<Decimal> = vals.iter().map(|s| s.parse().unwrap_or_default()).collect();
        for w in ds.windows(2) {
            assert!(
                enc(Value::Numeric(w[0])) < enc(Value::Numeric(w[1])),
                "{w:?}"
            );
        }
        let a: Decimal = "1.0".parse().unwrap_or_default();
        let b: Decimal = "1.00".parse().unwrap_or_default();
        assert_eq!(enc(Value::Numeric(a)), enc(Value::Numeric(b)));
    }

    #[test]
    fn float_order() {
        let vals = [f64::NEG_INFINITY, -2.5, -0.0, 0.5, f64::INFINITY, f64::NAN];
        for w in vals.windows(2) {
            assert!(
                enc(Value::Float8(w[0])) <= enc(Value::Float8(w[1])),
                "{w:?}"
            );
        }
    }
}
