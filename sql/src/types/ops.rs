//! Operators: arithmetic, concatenation, JSON access, pattern matching.
//!
//! Planning and evaluation are split: `resolve_operands` (and its short
//! form `binary_op_type`) decides, from the operand types alone, which
//! operator applies, what each operand must be cast to (an `unknown`
//! literal adopts the type the operator needs: `1 + '2'` is `int + int`)
//! and the result type, failing with `42883` like PostgreSQL when no
//! operator exists. `binary_op` then evaluates non-NULL values; NULL
//! propagation is the caller's. The arithmetic lives in `arith`, the
//! string/array/JSON operators in `container`.

use super::arith::{self, Arith, Kind};
use super::{compare, container, oid, DataType, Value};
use crate::error::{Error, Result};
use crate::functions::pattern;
use crate::SqlState;

/// A binary operator, after parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    BitAnd,
    BitOr,
    BitXor,
    ShiftLeft,
    ShiftRight,
    /// `->`
    JsonGet,
    /// `->>`
    JsonGetText,
    /// `#>`
    JsonPath,
    /// `#>>`
    JsonPathText,
    /// `@>`
    Contains,
    /// `<@`
    ContainedBy,
    /// `?`
    JsonHasKey,
    /// `&&`
    Overlaps,
    /// `~`, `~*`, `!~`, `!~*`
    RegexMatch,
    RegexIMatch,
    RegexNotMatch,
    RegexNotIMatch,
}

impl BinaryOp {
    /// The operator as written in SQL (for error messages).
    pub fn symbol(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+",
            Sub => "-",
            Mul => "*",
            Div => "/",
            Mod => "%",
            Pow => "^",
            Concat => "||",
            Eq => "=",
            NotEq => "<>",
            Lt => "<",
            LtEq => "<=",
            Gt => ">",
            GtEq => ">=",
            BitAnd => "&",
            BitOr => "|",
            BitXor => "#",
            ShiftLeft => "<<",
            ShiftRight => ">>",
            JsonGet => "->",
            JsonGetText => "->>",
            JsonPath => "#>",
            JsonPathText => "#>>",
            Contains => "@>",
            ContainedBy => "<@",
            JsonHasKey => "?",
            Overlaps => "&&",
            RegexMatch => "~",
            RegexIMatch => "~*",
            RegexNotMatch => "!~",
            RegexNotIMatch => "!~*",
        }
    }

    fn arith(self) -> Option<Arith> {
        Some(match self {
            BinaryOp::Add => Arith::Add,
            BinaryOp::Sub => Arith::Sub,
            BinaryOp::Mul => Arith::Mul,
            BinaryOp::Div => Arith::Div,
            BinaryOp::Mod => Arith::Mod,
            _ => return None,
        })
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Plus,
    BitNot,
    /// `|/` square root, `@` absolute value
    Sqrt,
    Abs,
}

fn no_op(op: &str, l: &DataType, r: &DataType) -> Error {
    Error::new(SqlState::UNDEFINED_FUNCTION, format!("operator does not exist: {} {op} {}", oid::type_name(l), oid::type_name(r)))
        .with_hint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

/// Comparison categories: values of one category compare with each other.
fn category(t: &DataType) -> Option<u8> {
    Some(match t {
        DataType::Bool => 1,
        DataType::Int2
        | DataType::Int4
        | DataType::Int8
        | DataType::Numeric(_)
        | DataType::Float4
        | DataType::Float8 => 2,
        DataType::Oid | DataType::RegClass | DataType::RegType | DataType::RegProc => 2,
        DataType::Text
        | DataType::Varchar(_)
        | DataType::Char(_)
        | DataType::Name
        | DataType::InternalChar => 3,
        DataType::Bytea => 4,
        DataType::Date | DataType::Timestamp | DataType::TimestampTz => 5,
        DataType::Time => 6,
        DataType::Interval => 7,
        DataType::Uuid => 8,
        DataType::Jsonb => 9,
        _ => return None,
    })
}

fn comparable(l: &DataType, r: &DataType) -> bool {
    match (l, r) {
        (DataType::Array(a), DataType::Array(b)) => comparable(a, b),
        _ => category(l).is_some() && category(l) == category(r),
    }
}

fn is_int(t: &DataType) -> bool {
    matches!(t, DataType::Int2 | DataType::Int4 | DataType::Int8)
}

/// For `op` applied to `l` and `r`: the types to cast the left and right
/// operands to, and the result type (`42883` when no operator exists).
pub fn resolve_operands(
    op: BinaryOp,
    l: &DataType,
    r: &DataType,
) -> Result<(DataType, DataType, DataType)> {
    use BinaryOp::*;
    use DataType as T;
    let fail = || Err(no_op(op.symbol(), l, r));
    // An unknown literal adopts the other side's type, or a type the
    // operator needs.
    let (lt, rt) = match (l, r) {
        (T::Unknown, T::Unknown) => match op {
            Concat | Eq | NotEq | Lt | LtEq | Gt | GtEq | RegexMatch | RegexIMatch
            | RegexNotMatch | RegexNotIMatch => (T::Text, T::Text),
            _ => {
                return Err(Error::new(
                    SqlState::AMBIGUOUS_FUNCTION,
                    format!("operator is not unique: unknown {} unknown", op.symbol()),
                ))
            }
        },
        (T::Unknown, other) => (adopt(op, other, true), other.clone()),
        (other, T::Unknown) => (other.clone(), adopt(op, other, false)),
        _ => (l.clone(), r.clone()),
    };
    let result = match op {
        Eq | NotEq | Lt | LtEq | Gt | GtEq => {
            if !comparable(&lt, &rt) {
                return fail();
            }
            T::Bool
        }
        Add | Sub | Mul | Div | Mod => {
            let a = op.arith().unwrap_or(Arith::Add);
            match (Kind::of_type(&lt), Kind::of_type(&rt)) {
                (Some(x), Some(y)) => Kind::combine(x, y).data_type(),
                _ => match arith::datetime_op_type(a, &lt, &rt) {
                    Some(t) => t,
                    None if op == Sub
                        && lt == T::Jsonb
                        && (is_int(&rt) || category(&rt) == Some(3)) =>
                    {
                        T::Jsonb
                    }
                    None => return fail(),
                },
            }
        }
        Pow => match (Kind::of_type(&lt), Kind::of_type(&rt)) {
            (Some(x), Some(y)) if Kind::combine(x, y) == Kind::Numeric => T::Numeric(None),
            (Some(_), Some(_)) => T::Float8,
            _ => return fail(),
        },
        Concat => match (&lt, &rt) {
            (T::Array(a), T::Array(_)) => T::Array(a.clone()),
            (T::Array(a), _) | (_, T::Array(a)) => T::Array(a.clone()),
            (T::Jsonb, T::Jsonb) => T::Jsonb,
            (T::Bytea, T::Bytea) => T::Bytea,
            (a, b) if category(a) == Some(3) || category(b) == Some(3) => T::Text,
            _ => return fail(),
        },
        BitAnd | BitOr | BitXor => {
            if !is_int(&lt) || !is_int(&rt) {
                return fail();
            }
            Kind::combine(
                Kind::of_type(&lt).unwrap_or(Kind::Int4),
                Kind::of_type(&rt).unwrap_or(Kind::Int4),
            )
            .data_type()
        }
        ShiftLeft | ShiftRight => {
            if !is_int(&lt) || !is_int(&rt) {
                return fail();
            }
            lt.clone()
        }
        JsonGet | JsonPath => match lt {
            T::Json | T::Jsonb => lt.clone(),
            _ => return fail(),
        },
        JsonGetText | JsonPathText => match lt {
            T::Json | T::Jsonb => T::Text,
            _ => return fail(),
        },
        Contains | ContainedBy => match (&lt, &rt) {
            (T::Jsonb, T::Jsonb) => T::Bool,
            (T::Array(a), T::Array(b)) if comparable(a, b) => T::Bool,
            _ => return fail(),
        },
        Overlaps => match (&lt, &rt) {
            (T::Array(a), T::Array(b)) if comparable(a, b) => T::Bool,
            _ => return fail(),
        },
        JsonHasKey => match (&lt, category(&rt)) {
            (T::Jsonb, Some(3)) => T::Bool,
            _ => return fail(),
        },
        RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch => {
            if category(&lt) != Some(3) || category(&rt) != Some(3) {
                return fail();
            }
            T::Bool
        }
    };
    Ok((lt, rt, result))
}

/// The type an `unknown` operand takes opposite `other`.
fn adopt(op: BinaryOp, other: &DataType, unknown_is_left: bool) -> DataType {
    use BinaryOp::*;
    use DataType as T;
    match (op, other) {
        (JsonGet | JsonGetText, _) if !unknown_is_left => T::Text,
        (JsonPath | JsonPathText, _) if !unknown_is_left => T::Array(Box::new(T::Text)),
        (JsonHasKey, _) | (RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch, _) => T::Text,
        (Concat, T::Array(_) | T::Jsonb | T::Bytea) => other.clone(),
        (Concat, _) => T::Text,
        (Add | Sub, T::Timestamp | T::TimestampTz | T::Time) if !unknown_is_left => T::Interval,
        (Add, T::Date) => T::Interval,
        (Mul | Div, T::Interval) => T::Float8,
        (ShiftLeft | ShiftRight, _) if !unknown_is_left => T::Int4,
        (_, T::Varchar(_) | T::Char(_) | T::Name) => T::Text,
        _ => other.clone(),
    }
}

/// The result type of `l op r`, or `42883` when no such operator exists.
pub fn binary_op_type(op: BinaryOp, l: &DataType, r: &DataType) -> Result<DataType> {
    resolve_operands(op, l, r).map(|(_, _, t)| t)
}

/// Casts a text operand to the other side's numeric type, so an `unknown`
/// literal the planner did not coerce still computes (`'2' * 3`).
fn coerce_text_operand(l: &Value, r: &Value) -> Result<Option<(Value, Value)>> {
    Ok(match (l, r) {
        (Value::Text(s), other) if Kind::of_value(other).is_some() => {
            Some((super::text::parse(s, &other.natural_type())?, other.clone()))
        }
        (other, Value::Text(s)) if Kind::of_value(other).is_some() => {
            Some((other.clone(), super::text::parse(s, &other.natural_type())?))
        }
        _ => None,
    })
}

fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Int2(x) => Some(*x as i64),
        Value::Int4(x) => Some(*x as i64),
        Value::Int8(x) => Some(*x),
        _ => None,
    }
}

fn int_like(v: i64, like: &Value) -> Value {
    match like {
        Value::Int2(_) => Value::Int2(v as i16),
        Value::Int4(_) => Value::Int4(v as i32),
        _ => Value::Int8(v),
    }
}

fn text_of(v: &Value) -> Option<&str> {
    match v {
        Value::Text(s) => Some(s),
        _ => None,
    }
}

/// Evaluates `l op r` for non-NULL operands (NULL handling is the caller's).
pub fn binary_op(op: BinaryOp, l: &Value, r: &Value) -> Result<Value> {
    use BinaryOp::*;
    let mismatch = || compare::no_operator(l, r, op.symbol());
    match op {
        Eq => Ok(Value::Bool(compare::compare_with(l, r, "=")?.is_eq())),
        NotEq => Ok(Value::Bool(compare::compare_with(l, r, "<>")?.is_ne())),
        Lt => Ok(Value::Bool(compare::compare_with(l, r, "<")?.is_lt())),
        LtEq => Ok(Value::Bool(compare::compare_with(l, r, "<=")?.is_le())),
        Gt => Ok(Value::Bool(compare::compare_with(l, r, ">")?.is_gt())),
        GtEq => Ok(Value::Bool(compare::compare_with(l, r, ">=")?.is_ge())),
        Add | Sub | Mul | Div | Mod => {
            let a = op.arith().unwrap_or(Arith::Add);
            if Kind::of_value(l).is_some() && Kind::of_value(r).is_some() {
                return arith::numeric_op(a, l, r);
            }
            if let Some(res) = arith::datetime_op(a, l, r) {
                return res;
            }
            if let (Sub, Value::Jsonb(j)) = (op, l) {
                return container::jsonb_delete(j, r).map(Value::Jsonb);
            }
            match coerce_text_operand(l, r)? {
                Some((x, y)) => arith::numeric_op(a, &x, &y),
                None => Err(mismatch()),
            }
        }
        Pow => {
            if Kind::of_value(l).is_some() && Kind::of_value(r).is_some() {
                return arith::power(l, r);
            }
            match coerce_text_operand(l, r)? {
                Some((x, y)) => arith::power(&x, &y),
                None => Err(mismatch()),
            }
        }
        Concat => container::concat(l, r),
        BitAnd | BitOr | BitXor | ShiftLeft | ShiftRight => {
            let (Some(x), Some(y)) = (int_of(l), int_of(r)) else {
                return Err(mismatch());
            };
            let wide = if op == ShiftLeft || op == ShiftRight {
                l.clone()
            } else {
                Kind::combine(
                    Kind::of_value(l).unwrap_or(Kind::Int8),
                    Kind::of_value(r).unwrap_or(Kind::Int8),
                )
                .data_type()
                .zero()
            };
            let bits = match wide {
                Value::Int2(_) => 16,
                Value::Int4(_) => 32,
                _ => 64,
            };
            let v = match op {
                BitAnd => x & y,
                BitOr => x | y,
                BitXor => x ^ y,
                // PostgreSQL shifts in the operand's width, modulo its bits.
                ShiftLeft => shift(x, y, bits, true),
                _ => shift(x, y, bits, false),
            };
            Ok(int_like(v, &wide))
        }
        JsonGet => container::json_get(l, r, false),
        JsonGetText => container::json_get(l, r, true),
        JsonPath => container::json_path(l, r, false),
        JsonPathText => container::json_path(l, r, true),
        Contains => container::contains(l, r).map(Value::Bool),
        ContainedBy => container::contains(r, l).map(Value::Bool),
        Overlaps => container::overlaps(l, r).map(Value::Bool),
        JsonHasKey => {
            let key = text_of(r).ok_or_else(mismatch)?;
            container::json_has_key(l, key).map(Value::Bool)
        }
        RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch => {
            let (Some(t), Some(p)) = (text_of(l), text_of(r)) else {
                return Err(mismatch());
            };
            let m = pattern::regex_match(t, p, matches!(op, RegexIMatch | RegexNotIMatch))?;
            Ok(Value::Bool(if matches!(op, RegexMatch | RegexIMatch) {
                m
            } else {
                !m
            }))
        }
    }
}

fn shift(x: i64, y: i64, bits: u32, left: bool) -> i64 {
    let n = (y.rem_euclid(bits as i64)) as u32;
    match bits {
        16 => {
            (if left {
                (x as i16).wrapping_shl(n)
            } else {
                (x as i16).wrapping_shr(n)
            }) as i64
        }
        32 => {
            (if left {
                (x as i32).wrapping_shl(n)
            } else {
                (x as i32).wrapping_shr(n)
            }) as i64
        }
        _ => {
            if left {
                x.wrapping_shl(n)
            } else {
                x.wrapping_shr(n)
            }
        }
    }
}

impl DataType {
    /// A zero value of an integer type (used to pick result widths).
    fn zero(&self) -> Value {
        match self {
            DataType::Int2 => Value::Int2(0),
            DataType::Int4 => Value::Int4(0),
            _ => Value::Int8(0),
        }
    }
}

/// The result type of `op v`.
pub fn unary_op_type(op: UnaryOp, v: &DataType) -> Result<DataType> {
    let fail = || {
        let sym = match op {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
            UnaryOp::BitNot => "~",
            UnaryOp::Sqrt => "|/",
            UnaryOp::Abs => "@",
        };
        Err(Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!("operator does not exist: {sym} {}", oid::type_name(v)),
        ))
    };
    let v = if *v == DataType::Unknown {
        &DataType::Float8
    } else {
        v
    };
    match op {
        UnaryOp::Neg | UnaryOp::Plus | UnaryOp::Abs if Kind::of_type(v).is_some() => Ok(v.clone()),
        UnaryOp::Neg | UnaryOp::Plus if *v == DataType::Interval => Ok(DataType::Interval),
        UnaryOp::BitNot if is_int(v) => Ok(v.clone()),
        UnaryOp::Sqrt if Kind::of_type(v).is_some() => Ok(DataType::Float8),
        _ => fail(),
    }
}

/// Evaluates `op v` for a non-NULL operand.
pub fn unary_op(op: UnaryOp, v: &Value) -> Result<Value> {
    let bad = || {
        Error::new(
            SqlState::UNDEFINED_FUNCTION,
            format!(
                "operator does not exist for type {}",
                oid::type_name(&v.natural_type())
            ),
        )
    };
    match (op, v) {
        (UnaryOp::Plus, v) => Ok(v.clone()),
        (UnaryOp::Neg, Value::Int2(a)) => a
            .checked_neg()
            .map(Value::Int2)
            .ok_or_else(|| Error::out_of_range("smallint")),
        (UnaryOp::Neg, Value::Int4(a)) => a
            .checked_neg()
            .map(Value::Int4)
            .ok_or_else(|| Error::out_of_range("integer")),
        (UnaryOp::Neg, Value::Int8(a)) => a
            .checked_neg()
            .map(Value::Int8)
            .ok_or_else(|| Error::out_of_range("bigint")),
        (UnaryOp::Neg, Value::Numeric(d)) => Ok(Value::Numeric(-*d)),
        (UnaryOp::Neg, Value::Float4(f)) => Ok(Value::Float4(-*f)),
        (UnaryOp::Neg, Value::Float8(f)) => Ok(Value::Float8(-*f)),
        (UnaryOp::Neg, Value::Interval(i)) => i.checked_neg().map(Value::Interval),
        (UnaryOp::Abs, Value::Int2(a)) => a
            .checked_abs()
            .map(Value::Int2)
            .ok_or_else(|| Error::out_of_range("smallint")),
        (UnaryOp::Abs, Value::Int4(a)) => a
            .checked_abs()
            .map(Value::Int4)
            .ok_or_else(|| Error::out_of_range("integer")),
        (UnaryOp::Abs, Value::Int8(a)) => a
            .checked_abs()
            .map(Value::Int8)
            .ok_or_else(|| Error::out_of_range("bigint")),
        (UnaryOp::Abs, Value::Numeric(d)) => Ok(Value::Numeric(d.abs())),
        (UnaryOp::Abs, Value::Float4(f)) => Ok(Value::Float4(f.abs())),
        (UnaryOp::Abs, Value::Float8(f)) => Ok(Value::Float8(f.abs())),
        (UnaryOp::BitNot, Value::Int2(a)) => Ok(Value::Int2(!a)),
        (UnaryOp::BitNot, Value::Int4(a)) => Ok(Value::Int4(!a)),
        (UnaryOp::BitNot, Value::Int8(a)) => Ok(Value::Int8(!a)),
        (UnaryOp::Sqrt, v) if Kind::of_value(v).is_some() => {
            let f = super::cast::as_f64(v);
            if f < 0.0 {
                return Err(Error::new(
                    SqlState("2201F"),
                    "cannot take square root of a negative number",
                ));
            }
            Ok(Value::Float8(f.sqrt()))
        }
        (_, Value::Text(s)) if op != UnaryOp::BitNot => {
            let f = super::numeric::parse_f64(s, "double precision")?;
            unary_op(op, &Value::Float8(f))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::text::{format, parse};

    fn b(op: BinaryOp, l: Value, r: Value) -> String {
        binary_op(op, &l, &r)
            .map(|v| format(&v))
            .unwrap_or_else(|e| format!("{}: {}", e.state(), e.message()))
    }

    fn n(s: &str) -> Value {
        parse(s, &DataType::Numeric(None)).unwrap_or(Value::Null)
    }

    fn p(s: &str, t: DataType) -> Value {
        parse(s, &t).unwrap_or(Value::Null)
    }

    #[test]
    fn arithmetic() {
        use BinaryOp::*;
        assert_eq!(
            b(Add, Value::Int4(i32::MAX), Value::Int4(1)),
            "22003: integer out of range"
        );
        assert_eq!(b(Div, Value::Int4(7), Value::Int4(2)), "3");
        assert_eq!(
            b(Div, Value::Int4(7), Value::Int4(0)),
            "22012: division by zero"
        );
        assert_eq!(b(Mod, Value::Int4(-7), Value::Int4(3)), "-1");
        assert_eq!(b(Div, Value::Int4(1), n("3")), "0.33333333333333333333");
        assert_eq!(b(Div, Value::Int4(7), n("2.0")), "3.5000000000000000");
        assert_eq!(b(Mul, n("1.5"), n("2.25")), "3.375");
        assert_eq!(b(Mod, n("-7.5"), Value::Int4(2)), "-1.5");
        assert_eq!(b(Pow, Value::Int4(2), Value::Int4(3)), "8");
        assert_eq!(b(Pow, n("2"), Value::Int4(10)), "1024.0000000000000000");
        assert_eq!(b(Pow, n("100"), n("0.5")), "10.000000000000000");
        assert_eq!(
            b(Add, Value::Float8(0.1), Value::Float8(0.2)),
            "0.30000000000000004"
        );
        assert_eq!(
            b(Mul, Value::Float8(1e300), Value::Float8(1e300)),
            "22003: value out of range: overflow"
        );
        assert_eq!(b(Mul, Value::Int2(2), Value::Int2(3)), "6");
        assert_eq!(b(ShiftLeft, Value::Int2(1), Value::Int4(2)), "4");
        assert_eq!(b(Add, Value::Int4(1), Value::Text("2".into())), "3");
        assert_eq!(
            binary_op_type(Add, &DataType::Int4, &DataType::Float4).ok(),
            Some(DataType::Float8)
        );
        assert_eq!(
            binary_op_type(Pow, &DataType::Int4, &DataType::Int4).ok(),
            Some(DataType::Float8)
        );
        let e = binary_op_type(Eq, &DataType::Int4, &DataType::Text).map_err(|e| e.message());
        assert_eq!(
            e.err().as_deref(),
            Some("operator does not exist: integer = text")
        );
    }

    #[test]
    fn dates() {
        use BinaryOp::*;
        let d = |s: &str| p(s, DataType::Date);
        let ts = |s: &str| p(s, DataType::Timestamp);
        let iv = |s: &str| p(s, DataType::Interval);
        assert_eq!(b(Sub, d("2024-03-01"), d("2024-02-01")), "29");
        assert_eq!(b(Add, d("2024-01-31"), Value::Int4(1)), "2024-02-01");
        assert_eq!(b(Add, d("2024-01-31"), iv("1 mon")), "2024-02-29 00:00:00");
        assert_eq!(b(Sub, ts("2024-01-02"), ts("2024-01-01 01:00")), "23:00:00");
        assert_eq!(b(Sub, ts("2024-01-03"), ts("2024-01-01")), "2 days");
        assert_eq!(b(Mul, iv("1 hour"), Value::Float8(2.5)), "02:30:00");
        assert_eq!(
            binary_op_type(Add, &DataType::Date, &DataType::Interval).ok(),
            Some(DataType::Timestamp)
        );
        let r = resolve_operands(Add, &DataType::Timestamp, &DataType::Unknown).ok();
        assert_eq!(r.map(|x| x.1), Some(DataType::Interval));
    }

    #[test]
    fn strings_and_unary() {
        use BinaryOp::*;
        assert_eq!(b(Concat, Value::Text("a".into()), Value::Int2(1)), "a1");
        assert_eq!(
            b(Concat, Value::Array(vec![Value::Int4(1)]), Value::Int4(3)),
            "{1,3}"
        );
        assert_eq!(
            b(
                RegexIMatch,
                Value::Text("ABC".into()),
                Value::Text("b".into())
            ),
            "t"
        );
        assert_eq!(
            b(
                RegexNotMatch,
                Value::Text("ABC".into()),
                Value::Text("b".into())
            ),
            "t"
        );
        assert_eq!(
            unary_op(UnaryOp::Neg, &Value::Int4(i32::MIN))
                .map_err(|e| e.message())
                .err()
                .as_deref(),
            Some("integer out of range")
        );
        assert_eq!(
            unary_op(UnaryOp::BitNot, &Value::Int4(5)).ok(),
            Some(Value::Int4(-6))
        );
        assert_eq!(
            unary_op(UnaryOp::Sqrt, &Value::Int4(16)).ok(),
            Some(Value::Float8(4.0))
        );
        assert_eq!(
            binary_op_type(Concat, &DataType::Int4, &DataType::Int4)
                .map_err(|e| e.state())
                .err(),
            Some(SqlState::UNDEFINED_FUNCTION)
        );
    }
}
