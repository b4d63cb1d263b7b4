//! Mathematical functions.
//!
//! Overload resolution follows PostgreSQL: a function that exists for both
//! `numeric` and `double precision` returns numeric for a numeric argument
//! and float8 for integers and floats (the preferred type), so `ceil(1)`
//! is float8 but `ceil(1.5)` is numeric. Numeric results of transcendental
//! functions get PostgreSQL's scale: 16 significant digits counted from
//! the result's magnitude (`ln(2)` = 0.6931471805599453, `exp(10)` =
//! 22026.465794806717), never less than the argument's scale.

use rust_decimal::prelude::*;
use rust_decimal::Decimal;

use super::{dec_arg, f64_arg, int_arg, is_int, is_num};
use crate::error::{Error, Result};
use crate::types::arith::{self, Arith, Kind};
use crate::types::{numeric, DataType, Value};
use crate::SqlState;

fn float_or_numeric(t: &DataType) -> DataType {
    match t {
        DataType::Numeric(_) => DataType::Numeric(None),
        _ => DataType::Float8,
    }
}

/// Signatures of the math functions.
pub fn signature(name: &str, a: &[DataType]) -> Option<DataType> {
    use DataType::*;
    let n = |i: usize| a.get(i).is_some_and(is_num);
    let len = a.len();
    Some(match name {
        "abs" if len == 1 && n(0) => match &a[0] {
            Unknown => Float8,
            Numeric(_) => Numeric(None),
            t => t.clone(),
        },
        "ceil" | "ceiling" | "floor" | "sign" | "sqrt" | "exp" | "ln" | "log10"
            if len == 1 && n(0) =>
        {
            float_or_numeric(&a[0])
        }
        "round" | "trunc" if len == 1 && n(0) => float_or_numeric(&a[0]),
        "round" | "trunc"
            if len == 2 && n(0) && !matches!(a[0], Float4 | Float8) && is_int(&a[1]) =>
        {
            Numeric(None)
        }
        "log" if len == 1 && n(0) => float_or_numeric(&a[0]),
        "log" if len == 2 && n(0) && n(1) => Numeric(None),
        "mod" | "gcd" | "lcm" if len == 2 && n(0) && n(1) => {
            match (Kind::of_type(&a[0]), Kind::of_type(&a[1])) {
                (Some(x), Some(y)) if Kind::combine(x, y) <= Kind::Int8 => {
                    Kind::combine(x, y).data_type()
                }
                _ => Numeric(None),
            }
        }
        "div" if len == 2 && n(0) && n(1) => Numeric(None),
        "factorial" if len == 1 && is_int(&a[0]) => Numeric(None),
        "scale" if len == 1 && n(0) => Int4,
        "trim_scale" if len == 1 && n(0) => Numeric(None),
        "power" | "pow" if len == 2 && n(0) && n(1) => {
            if matches!(a[0], Numeric(_)) && !matches!(a[1], Float4 | Float8)
                || matches!(a[1], Numeric(_)) && !matches!(a[0], Float4 | Float8)
            {
                Numeric(None)
            } else {
                Float8
            }
        }
        "cbrt" | "degrees" | "radians" | "sin" | "cos" | "tan" | "cot" | "asin" | "acos"
        | "atan"
            if len == 1 && n(0) =>
        {
            Float8
        }
        "atan2" if len == 2 && n(0) && n(1) => Float8,
        "pi" | "random" if len == 0 => Float8,
        "width_bucket" if len == 4 && a.iter().all(is_num) => Int4,
        _ => return None,
    })
}

fn is_numeric(v: &Value) -> bool {
    matches!(v, Value::Numeric(_))
}

/// PostgreSQL's `estimate_ln_dweight`: the decimal weight of `ln(x)`,
/// from which ln/log pick their result scale.
fn ln_dweight(x: &Decimal) -> i64 {
    let f = numeric::to_f64(x);
    if (0.9..=1.1).contains(&f) {
        // Exact decimal exponent of the leading digit of |x - 1|.
        let d = (*x - Decimal::ONE).abs();
        if d.is_zero() {
            0
        } else {
            d.mantissa().unsigned_abs().to_string().len() as i64 - 1 - d.scale() as i64
        }
    } else {
        f.ln().abs().log10().trunc() as i64
    }
}

fn fit(r: Decimal, scale: i64) -> Decimal {
    let int_digits = r.abs().trunc().to_string().trim_start_matches('0').len() as i64;
    numeric::round_scale(r, scale.min(28 - int_digits).max(0))
}

fn log_domain(x: f64) -> Result<()> {
    if x == 0.0 {
        return Err(Error::new(
            SqlState("2201E"),
            "cannot take logarithm of zero",
        ));
    }
    if x < 0.0 {
        return Err(Error::new(
            SqlState("2201E"),
            "cannot take logarithm of a negative number",
        ));
    }
    Ok(())
}

fn numeric_ln(d: &Decimal) -> Result<Decimal> {
    log_domain(numeric::to_f64(d))?;
    d.checked_ln().ok_or_else(numeric::overflow)
}

fn f(v: f64) -> Result<Value> {
    Ok(Value::Float8(v))
}

/// Calls a math function.
pub fn call(name: &str, a: &[Value]) -> Option<Result<Value>> {
    let num = a.first().is_some_and(is_numeric);
    Some(match (name, a.len()) {
        ("abs", 1) => match &a[0] {
            Value::Text(_) => f64_arg(&a[0]).map(|x| Value::Float8(x.abs())),
            v => crate::types::ops::unary_op(crate::types::ops::UnaryOp::Abs, v),
        },
        ("ceil" | "ceiling", 1) if num => dec_arg(&a[0]).map(|d| Value::Numeric(d.ceil())),
        ("floor", 1) if num => dec_arg(&a[0]).map(|d| Value::Numeric(d.floor())),
        ("ceil" | "ceiling", 1) => f64_arg(&a[0]).and_then(|x| f(x.ceil())),
        ("floor", 1) => f64_arg(&a[0]).and_then(|x| f(x.floor())),
        ("round", 1) if num => dec_arg(&a[0]).map(|d| Value::Numeric(numeric::round_scale(d, 0))),
        ("round", 1) => f64_arg(&a[0]).and_then(|x| f(x.round_ties_even())),
        ("trunc", 1) if num => dec_arg(&a[0]).map(|d| Value::Numeric(d.trunc())),
        ("trunc", 1) => f64_arg(&a[0]).and_then(|x| f(x.trunc())),
        ("round", 2) => (|| {
            let d = dec_arg(&a[0])?;
            let s = int_arg(&a[1])?;
            Ok(Value::Numeric(numeric::round_scale(d, s.clamp(-28, 28))))
        })(),
        ("trunc", 2) => (|| {
            let d = dec_arg(&a[0])?;
            let s = int_arg(&a[1])?.clamp(-28, 28);
            Ok(Value::Numeric(if s >= 0 {
                let mut r = d.trunc_with_scale(s as u32);
                r.rescale(s as u32);
                r
            } else {
                let factor = Decimal::from_i128_with_scale(10i128.pow((-s) as u32), 0);
                (d / factor).trunc() * factor
            }))
        })(),
        ("sign", 1) if num => dec_arg(&a[0]).map(|d| {
            Value::Numeric(if d.is_zero() {
                Decimal::ZERO
            } else if d.is_sign_negative() {
                Decimal::NEGATIVE_ONE
            } else {
                Decimal::ONE
            })
        }),
        ("sign", 1) => f64_arg(&a[0]).and_then(|x| {
            f(if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            })
        }),
        ("sqrt", 1) if num => (|| {
            let d = dec_arg(&a[0])?;
            if d.is_sign_negative() && !d.is_zero() {
                return Err(Error::new(
                    SqlState("2201F"),
                    "cannot take square root of a negative number",
                ));
            }
            let (weight, _) = numeric::weight_and_first(&d);
            let sweight = (weight + 1) * 4 / 2 - 1;
            let r = d.sqrt().ok_or_else(numeric::overflow)?;
            Ok(Value::Numeric(fit(r, (16 - sweight).max(d.scale() as i64))))
        })(),
        ("sqrt", 1) => f64_arg(&a[0]).and_then(|x| {
            crate::types::ops::unary_op(crate::types::ops::UnaryOp::Sqrt, &Value::Float8(x))
        }),
        ("cbrt", 1) => f64_arg(&a[0]).and_then(|x| f(x.cbrt())),
        ("exp", 1) if num => (|| {
            let d = dec_arg(&a[0])?;
            let r = d.checked_exp().ok_or_else(numeric::overflow)?;
            let dweight = (numeric::to_f64(&d) * std::f64::consts::LOG10_E).trunc() as i64;
            Ok(Value::Numeric(fit(r, (16 - dweight).max(d.scale() as i64))))
        })(),
        ("exp", 1) => f64_arg(&a[0]).and_then(|x| {
            let r = x.exp();
            if r.is_infinite() && x.is_finite() {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "value out of range: overflow",
                ));
            }
            f(r)
        }),
        ("ln", 1) if num => (|| {
            let d = dec_arg(&a[0])?;
            let r = numeric_ln(&d)?;
            Ok(Value::Numeric(fit(
                r,
                (16 - ln_dweight(&d)).max(d.scale() as i64),
            )))
        })(),
        ("ln", 1) => f64_arg(&a[0]).and_then(|x| log_domain(x).and_then(|_| f(x.ln()))),
        ("log10" | "log", 1) if num => (|| {
            let d = dec_arg(&a[0])?;
            let r = numeric_ln(&d)?
                .checked_div(Decimal::TEN.ln())
                .ok_or_else(numeric::overflow)?;
            let dw = ln_dweight(&d) - ln_dweight(&Decimal::TEN);
            Ok(Value::Numeric(fit(r, (16 - dw).max(d.scale() as i64))))
        })(),
        ("log10" | "log", 1) => {
            f64_arg(&a[0]).and_then(|x| log_domain(x).and_then(|_| f(x.log10())))
        }
        ("log", 2) => (|| {
            let b = dec_arg(&a[0])?;
            let x = dec_arg(&a[1])?;
            let lb = numeric_ln(&b)?;
            if lb.is_zero() {
                return Err(Error::division_by_zero());
            }
            let r = numeric_ln(&x)?
                .checked_div(lb)
                .ok_or_else(numeric::overflow)?;
            let dw = ln_dweight(&x) - ln_dweight(&b);
            Ok(Value::Numeric(fit(
                r,
                (16 - dw).max(b.scale().max(x.scale()) as i64),
            )))
        })(),
        ("mod", 2) => arith::numeric_op(Arith::Mod, &num_value(&a[0]), &num_value(&a[1])),
        ("div", 2) => (|| {
            let x = dec_arg(&a[0])?;
            let y = dec_arg(&a[1])?;
            if y.is_zero() {
                return Err(Error::division_by_zero());
            }
            Ok(Value::Numeric(
                x.checked_div(y).ok_or_else(numeric::overflow)?.trunc(),
            ))
        })(),
        ("power" | "pow", 2) => {
            let (x, y) = (num_value(&a[0]), num_value(&a[1]));
            if matches!(x, Value::Numeric(_)) || matches!(y, Value::Numeric(_)) {
                arith::power(&x, &y)
            } else {
                f64_arg(&x)
                    .and_then(|p| arith::power_f64(p, f64_arg(&y)?))
                    .map(Value::Float8)
            }
        }
        ("gcd" | "lcm", 2) => gcd_lcm(name == "gcd", &a[0], &a[1]),
        ("factorial", 1) => (|| {
            let n = dec_arg(&a[0])?;
            if n.is_sign_negative() {
                return Err(Error::new(
                    crate::SqlState::INVALID_PARAMETER_VALUE,
                    "factorial of a negative number is undefined",
                ));
            }
            let mut acc = rust_decimal::Decimal::ONE;
            let mut i = rust_decimal::Decimal::ONE;
            while i <= n {
                acc = acc.checked_mul(i).ok_or_else(numeric::overflow)?;
                i += rust_decimal::Decimal::ONE;
            }
            Ok(Value::Numeric(acc))
        })(),
        ("scale", 1) => dec_arg(&a[0]).map(|d| Value::Int4(d.scale() as i32)),
        ("trim_scale", 1) => dec_arg(&a[0]).map(|d| Value::Numeric(d.normalize())),
        ("pi", 0) => f(std::f64::consts::PI),
        ("random", 0) => f(rand::random::<f64>()),
        ("degrees", 1) => f64_arg(&a[0]).and_then(|x| f(x.to_degrees())),
        ("radians", 1) => f64_arg(&a[0]).and_then(|x| f(x.to_radians())),
        ("sin", 1) => f64_arg(&a[0]).and_then(|x| f(x.sin())),
        ("cos", 1) => f64_arg(&a[0]).and_then(|x| f(x.cos())),
        ("tan", 1) => f64_arg(&a[0]).and_then(|x| f(x.tan())),
        ("cot", 1) => f64_arg(&a[0]).and_then(|x| f(1.0 / x.tan())),
        ("asin" | "acos", 1) => f64_arg(&a[0]).and_then(|x| {
            if !(-1.0..=1.0).contains(&x) {
                return Err(Error::new(
                    SqlState::NUMERIC_VALUE_OUT_OF_RANGE,
                    "input is out of range",
                ));
            }
            f(if name == "asin" { x.asin() } else { x.acos() })
        }),
        ("atan", 1) => f64_arg(&a[0]).and_then(|x| f(x.atan())),
        ("atan2", 2) => f64_arg(&a[0]).and_then(|y| f(y.atan2(f64_arg(&a[1])?))),
        ("width_bucket", 4) => width_bucket(a),
        _ => return None,
    })
}

/// Untyped text arguments become numeric so mixed calls still compute.
fn num_value(v: &Value) -> Value {
    match v {
        Value::Text(s) => numeric::parse_numeric(s)
            .map(Value::Numeric)
            .unwrap_or(Value::Null),
        other => other.clone(),
    }
}

fn gcd_lcm(is_gcd: bool, x: &Value, y: &Value) -> Result<Value> {
    let kind = match (Kind::of_value(x), Kind::of_value(y)) {
        (Some(p), Some(q)) => Kind::combine(p, q),
        _ => Kind::Numeric,
    };
    if kind <= Kind::Int8 {
        let (p, q) = (int_arg(x)? as i128, int_arg(y)? as i128);
        let g = gcd(p.abs(), q.abs());
        let r = if is_gcd {
            g
        } else if g == 0 {
            0
        } else {
            (p / g * q).abs()
        };
        let out = crate::types::cast::cast(
            Value::Numeric(Decimal::from_i128(r).ok_or_else(numeric::overflow)?),
            &kind.data_type(),
        );
        return out.map_err(|_| {
            Error::out_of_range(if kind == Kind::Int8 {
                "bigint"
            } else {
                "integer"
            })
        });
    }
    let (p, q) = (dec_arg(x)?, dec_arg(y)?);
    if !p.fract().is_zero() || !q.fract().is_zero() {
        return Err(Error::unsupported("gcd/lcm of fractional numerics"));
    }
    let (pi, qi) = (
        p.to_i128().ok_or_else(numeric::overflow)?,
        q.to_i128().ok_or_else(numeric::overflow)?,
    );
    let g = gcd(pi.abs(), qi.abs());
    let r = if is_gcd {
        g
    } else if g == 0 {
        0
    } else {
        (pi / g)
            .checked_mul(qi)
            .ok_or_else(numeric::overflow)?
            .abs()
    };
    Ok(Value::Numeric(
        Decimal::from_i128(r).ok_or_else(numeric::overflow)?,
    ))
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn width_bucket(a: &[Value]) -> Result<Value> {
    let (x, lo, hi) = (f64_arg(&a[0])?, f64_arg(&a[1])?, f64_arg(&a[2])?);
    let n = int_arg(&a[3])?;
    if n <= 0 {
        return Err(Error::new(
            SqlState("2201G"),
            "count must be greater than zero",
        ));
    }
    if lo == hi || !lo.is_finite() || !hi.is_finite() {
        return Err(Error::new(
            SqlState("2201G"),
            "lower bound cannot equal upper bound",
        ));
    }
    let b = if lo < hi {
        if x < lo {
            0
        } else if x >= hi {
            n + 1
        } else {
            ((x - lo) / (hi - lo) * n as f64).floor() as i64 + 1
        }
    } else if x > lo {
        0
    } else if x <= hi {
        n + 1
    } else {
        ((lo - x) / (lo - hi) * n as f64).floor() as i64 + 1
    };
    Ok(Value::Int4(
        i32::try_from(b).map_err(|_| Error::out_of_range("integer"))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, args: &[Value]) -> String {
        match super::super::call(name, args) {
            Ok(v) => crate::types::text::format(&v),
            Err(e) => format!("{}: {}", e.state(), e.message()),
        }
    }

    fn n(s: &str) -> Value {
        Value::Numeric(numeric::parse_numeric(s).unwrap_or_default())
    }

    #[test]
    fn matches_postgres() {
        assert_eq!(c("round", &[n("2.5")]), "3");
        assert_eq!(c("round", &[n("-2.5")]), "-3");
        assert_eq!(c("round", &[Value::Float8(2.5)]), "2");
        assert_eq!(c("round", &[n("1.2345"), Value::Int4(2)]), "1.23");
        assert_eq!(c("round", &[n("1234.5"), Value::Int4(-2)]), "1200");
        assert_eq!(c("trunc", &[n("1.789"), Value::Int4(1)]), "1.7");
        assert_eq!(c("sqrt", &[Value::Int4(2)]), "1.4142135623730951");
        assert_eq!(c("sqrt", &[n("2")]), "1.414213562373095");
        assert_eq!(c("sqrt", &[n("16")]), "4.000000000000000");
        assert_eq!(c("ln", &[n("2")]), "0.6931471805599453");
        assert_eq!(c("ln", &[n("10")]), "2.3025850929940457");
        assert_eq!(c("ln", &[n("1.01")]), "0.009950330853168083");
        assert_eq!(c("ln", &[n("1.0001")]), "0.00009999500033330834");
        assert_eq!(c("exp", &[n("-10")]), "0.00004539992976248485");
        assert_eq!(c("exp", &[n("10")]), "22026.465794806717");
        assert_eq!(c("log", &[n("2"), n("1.1")]), "0.13750352374993491");
        assert_eq!(c("log10", &[n("0.5")]), "-0.3010299956639812");
        assert_eq!(c("exp", &[n("1")]), "2.7182818284590452");
        assert_eq!(c("log", &[Value::Int4(100)]), "2");
        assert_eq!(c("log", &[n("1000")]), "3.0000000000000000");
        assert_eq!(c("log10", &[n("2")]), "0.3010299956639812");
        assert_eq!(c("log", &[n("2"), n("8")]), "3.0000000000000000");
        assert_eq!(c("mod", &[n("-7.5"), Value::Int4(2)]), "-1.5");
        assert_eq!(
            c("mod", &[Value::Int4(7), Value::Int4(0)]),
            "22012: division by zero"
        );
        assert_eq!(c("div", &[n("7.5"), Value::Int4(2)]), "3");
        assert_eq!(c("sign", &[n("-2.5")]), "-1");
        assert_eq!(c("ceil", &[n("-1.5")]), "-1");
        assert_eq!(c("floor", &[Value::Float8(-1.5)]), "-2");
        assert_eq!(c("power", &[n("2"), n("0.5")]), "1.4142135623730950");
        assert_eq!(c("power", &[Value::Int4(2), Value::Int4(3)]), "8");
        assert_eq!(c("gcd", &[Value::Int4(4), Value::Int4(6)]), "2");
        assert_eq!(c("lcm", &[Value::Int4(4), Value::Int4(6)]), "12");
        assert_eq!(
            c("ln", &[Value::Int4(0)]),
            "2201E: cannot take logarithm of zero"
        );
        assert_eq!(c("pi", &[]), "3.141592653589793");
        assert_eq!(
            c(
                "width_bucket",
                &[
                    Value::Float8(5.35),
                    Value::Float8(0.024),
                    Value::Float8(10.06),
                    Value::Int4(5)
                ]
            ),
            "3"
        );
        assert_eq!(signature("ceil", &[DataType::Int4]), Some(DataType::Float8));
        assert_eq!(
            signature("ceil", &[DataType::Numeric(None)]),
            Some(DataType::Numeric(None))
        );
        assert_eq!(
            signature("mod", &[DataType::Int4, DataType::Int8]),
            Some(DataType::Int8)
        );
    }
}
