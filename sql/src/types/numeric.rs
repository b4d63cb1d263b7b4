//! `numeric` and floating-point helpers: parsing, PostgreSQL's output of
//! floats, typmod rounding, division scale and the base-10000 digit form of
//! the binary wire format.
//!
//! `numeric` values are `rust_decimal::Decimal`, which holds 28-29
//! significant digits and a scale up to 28. That is narrower than
//! PostgreSQL (131072 digits before the point); anything beyond it reports
//! `22003` "value overflows numeric format" instead of losing digits
//! silently. The scale of a `Decimal` is the numeric's display scale, so
//! `1.50` keeps printing as `1.50`.

use rust_decimal::prelude::*;
use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::SqlState;

/// `22003` "value overflows numeric format".
pub fn overflow() -> Error {
    Error::new(
        SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
        "value overflows numeric format",
    )
}

/// Parses `numeric` text input (`1`, `-1.50`, `.5`, `1e3`, with spaces).
pub fn parse_numeric(text: &str) -> Result<Decimal> {
    let t = text.trim();
    let bad = || Error::invalid_text("numeric", text);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if t.eq_ignore_ascii_case("nan")
        || body.eq_ignore_ascii_case("infinity")
        || body.eq_ignore_ascii_case("inf")
    {
        return Err(Error::unsupported(format!(
            "numeric value \"{t}\" is not supported"
        )));
    }
    let (mant, exp) = match body.find(['e', 'E']) {
        Some(p) => (&body[..p], Some(&body[p + 1..])),
        None => (body, None),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let exp: i64 = match exp {
        Some(e) => {
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            e.parse().map_err(|_| overflow())?
        }
        None => 0,
    };
    let negative = t.starts_with('-');
    // Build mantissa digits and scale, then shift by the exponent.
    let mut digits: String = format!("{int}{frac}");
    let mut scale = frac.len() as i64 - exp;
    if scale < 0 {
        if digits.trim_start_matches('0').len() as i64 - scale > 29
            && digits.bytes().any(|b| b != b'0')
        {
            return Err(overflow());
        }
        digits.extend(std::iter::repeat_n('0', (-scale).min(40) as usize));
        scale = 0;
    }
    let trimmed = digits.trim_start_matches('0');
    if trimmed.len() > 29
        || scale > 28 && trimmed.len() as i64 > 0 && scale - (trimmed.len() as i64) > 28
    {
        // Too many significant digits: round away the extras if they are
        // all after the point, else overflow.
        let int_digits = trimmed.len() as i64 - scale;
        if int_digits > 28 {
            return Err(overflow());
        }
    }
    let mantissa: i128 = if trimmed.is_empty() {
        0
    } else {
        trimmed
            .get(..trimmed.len().min(38))
            .unwrap_or("0")
            .parse()
            .map_err(|_| overflow())?
    };
    let dropped = trimmed.len().saturating_sub(38) as i64;
    let scale = scale - dropped;
    let mut d = if scale > 28 {
        // More fractional digits than Decimal holds: round to 28.
        let shift = (scale - 28) as u32;
        let divisor = 10i128.checked_pow(shift).unwrap_or(0);
        let m = if divisor == 0 {
            0
        } else {
            (mantissa + divisor / 2) / divisor
        };
        Decimal::try_from_i128_with_scale(m, 28).map_err(|_| overflow())?
    } else {
        Decimal::try_from_i128_with_scale(mantissa, scale.max(0) as u32).map_err(|_| overflow())?
    };
    // PostgreSQL has no negative zero: `-0.0` reads as `0.0`.
    if negative && !d.is_zero() {
        d.set_sign_negative(true);
    }
    Ok(d)
}

/// Rounds to `scale` digits after the point, half away from zero (`numeric`).
pub fn round_scale(d: Decimal, scale: i64) -> Decimal {
    if scale >= 0 {
        let s = scale.min(28) as u32;
        let mut r = d.round_dp_with_strategy(s, RoundingStrategy::MidpointAwayFromZero);
        r.rescale(s);
        r
    } else {
        let factor = Decimal::from_i128_with_scale(10i128.pow((-scale).min(28) as u32), 0);
        let r = (d / factor).round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
        r.checked_mul(factor).unwrap_or(r).normalize().trunc()
    }
}

/// Applies `numeric(p, s)`: round to `s`, then `22003` "numeric field
/// overflow" if more than `p - s` digits remain before the point.
pub fn apply_typmod(d: Decimal, precision: u32, scale: u32) -> Result<Decimal> {
    let r = round_scale(d, scale as i64);
    let int_digits = integer_digits(&r);
    if int_digits > precision.saturating_sub(scale) as usize {
        let limit = precision.saturating_sub(scale);
        let detail = if limit == 0 {
            format!("A field with precision {precision}, scale {scale} must round to an absolute value less than 1.")
        } else {
            format!("A field with precision {precision}, scale {scale} must round to an absolute value less than 10^{limit}.")
        };
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            "numeric field overflow",
        )
        .with_detail(detail));
    }
    Ok(r)
}

/// Digits before the decimal point, not counting leading zeros.
fn integer_digits(d: &Decimal) -> usize {
    let t = d.abs().trunc();
    if t.is_zero() {
        0
    } else {
        t.mantissa().unsigned_abs().to_string().len()
    }
}

/// The base-10000 weight and first digit of a non-zero value, as
/// PostgreSQL's `select_div_scale` sees them.
pub fn weight_and_first(d: &Decimal) -> (i64, i64) {
    if d.is_zero() {
        return (0, 0);
    }
    let m = d.mantissa().unsigned_abs().to_string();
    // Decimal exponent of the leading digit.
    let e = m.len() as i64 - 1 - d.scale() as i64;
    let weight = e.div_euclid(4);
    // Leading base-10000 group: the digits from position (weight*4) down.
    let group_digits = (e - weight * 4 + 1) as usize;
    let first: i64 = m
        .get(..group_digits.min(m.len()))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let first = first * 10i64.pow(group_digits.saturating_sub(m.len()) as u32);
    (weight, first)
}

/// The result scale of `a / b` per PostgreSQL's `select_div_scale`.
pub fn div_scale(a: &Decimal, b: &Decimal) -> u32 {
    let (w1, f1) = weight_and_first(a);
    let (w2, f2) = weight_and_first(b);
    let mut qweight = w1 - w2;
    if f1 <= f2 {
        qweight -= 1;
    }
    let rscale = (16 - qweight * 4)
        .max(a.scale() as i64)
        .max(b.scale() as i64)
        .max(0);
    rscale.min(1000) as u32
}

/// `numeric / numeric` with PostgreSQL's result scale (capped at what a
/// Decimal can hold).
pub fn div(a: &Decimal, b: &Decimal) -> Result<Decimal> {
    if b.is_zero() {
        return Err(Error::division_by_zero());
    }
    let q = a.checked_div(*b).ok_or_else(overflow)?;
    let scale = div_scale(a, b) as i64;
    // Keep as many digits as fit: the 96-bit mantissa limits the scale.
    let fit = 28i64 - integer_digits(&q) as i64;
    Ok(round_scale(q, scale.min(fit.max(0))))
}

/// The base-10000 form used by numeric's binary format: (digits, weight, dscale).
pub fn to_base10000(d: &Decimal) -> (Vec<i16>, i16, u16) {
    let scale = d.scale();
    if d.is_zero() {
        return (Vec::new(), 0, scale as u16);
    }
    let m = d.mantissa().unsigned_abs().to_string();
    let (int_part, frac_part) = if m.len() > scale as usize {
        (
            m[..m.len() - scale as usize].to_string(),
            m[m.len() - scale as usize..].to_string(),
        )
    } else {
        (
            String::new(),
            format!("{}{}", "0".repeat(scale as usize - m.len()), m),
        )
    };
    // Pad the integer part on the left and the fraction on the right to
    // whole groups of four.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_s = format!("{}{}", "0".repeat(int_pad), int_part);
    let frac_pad = (4 - frac_part.len() % 4) % 4;
    let frac_s = format!("{}{}", frac_part, "0".repeat(frac_pad));
    let group = |s: &str| -> Vec<i16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| {
                std::str::from_utf8(c)
                    .ok()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0)
            })
            .collect()
    };
    let int_groups = group(&int_s);
    let frac_groups = group(&frac_s);
    let mut weight = int_groups.len() as i16 - 1;
    let mut digits: Vec<i16> = int_groups.into_iter().chain(frac_groups).collect();
    while digits.first() == Some(&0) {
        digits.remove(0);
        weight -= 1;
    }
    while digits.last() == Some(&0) {
        digits.pop();
    }
    (digits, weight, scale as u16)
}

/// Rebuilds a Decimal from base-10000 digits (`22003` if it does not fit).
pub fn from_base10000(digits: &[i16], weight: i16, negative: bool, dscale: u16) -> Result<Decimal> {
    let mut s = String::new();
    for (i, dg) in digits.iter().enumerate() {
        if !(0..10000).contains(dg) {
            return Err(Error::new(
                SqlState::INVALID_BINARY_REPRESENTATION,
                "invalid digit in external \"numeric\" value",
            ));
        }
        let pos = weight as i64 - i as i64;
        let _ = pos;
        s.push_str(&format!("{dg:04}"));
    }
    // The digits string holds groups from `weight` downwards.
    let total_groups = digits.len() as i64;
    let frac_groups = (total_groups - weight as i64 - 1).max(0);
    let int_groups = weight as i64 + 1;
    let text = if int_groups <= 0 {
        format!("0.{}{}", "0000".repeat((-int_groups) as usize), s)
    } else if frac_groups == 0 {
        format!(
            "{}{}",
            s,
            "0000".repeat((int_groups - total_groups).max(0) as usize)
        )
    } else {
        let split = (int_groups * 4) as usize;
        format!("{}.{}", &s[..split.min(s.len())], &s[split.min(s.len())..])
    };
    if text.len() > 200 {
        return Err(overflow());
    }
    let d = parse_numeric(&text)?;
    let mut r = round_scale(d, dscale as i64);
    if negative {
        r.set_sign_negative(true);
    }
    Ok(r)
}

/// `float8` output: shortest round-trip digits, fixed notation for decimal
/// exponents -4..15, else `1e+30` style, as PostgreSQL 15 prints.
pub fn format_f64(v: f64) -> String {
    format_float(
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        format!("{v:e}"),
        15,
    )
}

/// `float4` output: as `float8` but fixed notation for exponents -4..6.
pub fn format_f32(v: f32) -> String {
    format_float(
        v.is_nan(),
        v.is_infinite(),
        v.is_sign_negative(),
        format!("{v:e}"),
        6,
    )
}

fn format_float(nan: bool, inf: bool, neg: bool, sci: String, max_fixed: i32) -> String {
    if nan {
        return "NaN".into();
    }
    if inf {
        return if neg {
            "-Infinity".into()
        } else {
            "Infinity".into()
        };
    }
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mant.starts_with('-');
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if digits.bytes().all(|b| b == b'0') {
        return format!("{sign}0");
    }
    if (-4..max_fixed).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let rest = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{rest}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

/// Parses float input (`NaN`, `Infinity`, `-inf`, `1e5`, spaces trimmed);
/// `22003` when a finite input overflows.
pub fn parse_f64(text: &str, type_name: &str) -> Result<f64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let body = lower.strip_prefix(['+', '-']).unwrap_or(&lower);
    let special = matches!(body, "infinity" | "inf" | "nan");
    let ok_chars = t
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if t.is_empty() || !(special || ok_chars) || body == "nan" && lower != "nan" {
        return Err(Error::invalid_text(type_name, text));
    }
    let v: f64 = t
        .parse()
        .map_err(|_| Error::invalid_text(type_name, text))?;
    if !special && v.is_infinite() {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("\"{t}\" is out of range for type {type_name}"),
        ));
    }
    if !special && v == 0.0 && t.bytes().any(|b| (b'1'..=b'9').contains(&b)) && mantissa_nonzero(t)
    {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("\"{t}\" is out of range for type {type_name}"),
        ));
    }
    Ok(v)
}

fn mantissa_nonzero(t: &str) -> bool {
    let mant = t.split(['e', 'E']).next().unwrap_or("");
    mant.bytes().any(|b| (b'1'..=b'9').contains(&b))
}

/// Parses `real` input, checking the narrower range.
pub fn parse_f32(text: &str) -> Result<f32> {
    let v = parse_f64(text, "real")?;
    if v.is_finite() && (v as f32).is_infinite() || v != 0.0 && v.is_finite() && (v as f32) == 0.0 {
        return Err(Error::new(
            SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
            format!("\"{}\" is out of range for type real", text.trim()),
        ));
    }
    Ok(v as f32)
}

/// A numeric as float8 (exact for the digits a float holds).
pub fn to_f64(d: &Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// A finite float as numeric (`22003` when it does not fit).
pub fn from_f64(v: f64) -> Result<Decimal> {
    if !v.is_finite() {
        return Err(Error::unsupported(
            "cannot convert infinity or NaN to numeric",
        ));
    }
    // Go through the float's shortest text so 0.1 becomes 0.1, not 0.1000000000000000055.
    parse_numeric(&format!("{v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_postgres() {
        assert_eq!(format_f64(1.0), "1");
        assert_eq!(format_f64(0.1), "0.1");
        assert_eq!(format_f64(1e30), "1e+30");
        assert_eq!(format_f64(-0.0), "-0");
        assert_eq!(format_f64(f64::NAN), "NaN");
        assert_eq!(format_f64(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(format_f64(123456789012345.0), "123456789012345");
        assert_eq!(format_f64(1e15), "1e+15");
        assert_eq!(format_f64(0.0001), "0.0001");
        assert_eq!(format_f64(0.00001), "1e-05");
        assert_eq!(format_f64(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(format_f32(1.1), "1.1");
        assert_eq!(format_f32(1234567.0), "1.234567e+06");
        assert_eq!(format_f32(123456.0), "123456");
    }

    #[test]
    fn numeric_parse_and_scale() {
        let p = |s: &str| {
            parse_numeric(s)
                .map(|d| d.to_string())
                .unwrap_or_else(|e| e.message())
        };
        assert_eq!(p(" 1.50 "), "1.50");
        assert_eq!(p("1e3"), "1000");
        assert_eq!(p("-.5"), "-0.5");
        assert_eq!(p("abc"), "invalid input syntax for type numeric: \"abc\"");
        assert_eq!(p("1e100"), "value overflows numeric format");
        let one = Decimal::ONE;
        let three = Decimal::from(3);
        assert_eq!(
            div(&one, &three).map(|d| d.to_string()).ok().as_deref(),
            Some("0.33333333333333333333")
        );
        assert_eq!(
            div(&Decimal::from(10), &Decimal::from(4))
                .map(|d| d.to_string())
                .ok()
                .as_deref(),
            Some("2.5000000000000000")
        );
        let r = apply_typmod(parse_numeric("123.456").unwrap_or_default(), 5, 2);
        assert_eq!(r.map(|d| d.to_string()).ok().as_deref(), Some("123.46"));
        let r = apply_typmod(parse_numeric("1234.5").unwrap_or_default(), 5, 2);
        assert_eq!(
            r.map_err(|e| e.message()).err().as_deref(),
            Some("numeric field overflow")
        );
        assert_eq!(
            round_scale(parse_numeric("2.5").unwrap_or_default(), 0).to_string(),
            "3"
        );
    }

    #[test]
    fn base10000_round_trip() {
        for s in [
            "0",
            "1.50",
            "12345.6789",
            "0.0001",
            "-98765432.1",
            "10000",
            "0.00005",
        ] {
            let d = parse_numeric(s).unwrap_or_default();
            let (digits, weight, dscale) = to_base10000(&d);
            let back = from_base10000(&digits, weight, d.is_sign_negative(), dscale)
                .map(|d| d.to_string());
            assert_eq!(back.ok().as_deref(), Some(s), "{s}: {digits:?} {weight}");
        }
        assert_eq!(to_base10000(&Decimal::from(10000)), (vec![1], 1, 0));
    }
}
