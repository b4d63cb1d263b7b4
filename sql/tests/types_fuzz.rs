//! Robustness: hostile inputs to the type layer must return errors, never
//! panic. Deterministic pseudo-random inputs (xorshift) so failures repeat.

use rustydb_sql::functions;
use rustydb_sql::types::ops::{binary_op, unary_op, BinaryOp, UnaryOp};
use rustydb_sql::types::{binary, cast, compare, text, DataType, Value};

fn all_types() -> Vec<DataType> {
    let scalars = vec![
        DataType::Bool,
        DataType::Int2,
        DataType::Int4,
        DataType::Int8,
        DataType::Float4,
        DataType::Float8,
        DataType::Numeric(None),
        DataType::Numeric(Some((5, 2))),
        DataType::Text,
        DataType::Varchar(Some(3)),
        DataType::Char(2),
        DataType::Name,
        DataType::Bytea,
        DataType::Date,
        DataType::Time,
        DataType::Timestamp,
        DataType::TimestampTz,
        DataType::Interval,
        DataType::Uuid,
        DataType::Json,
        DataType::Jsonb,
        DataType::Oid,
        DataType::RegClass,
        DataType::InternalChar,
    ];
    let mut all = scalars.clone();
    all.extend(scalars.into_iter().map(|t| DataType::Array(Box::new(t))));
    all
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = (self.next() as usize) % (max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

const NASTY: &[&str] = &[
    "",
    " ",
    "-",
    "+",
    ".",
    "e",
    "1e",
    "1e999999999",
    "-1e-999999999",
    "99999999999999999999999999999999999999999",
    "NaN",
    "-Infinity",
    "\\x",
    "\\xz",
    "\\",
    "\\777",
    "{",
    "}",
    "{,}",
    "{\"",
    "{{1}}",
    "[1:2]={1,2}",
    "P",
    "PT",
    "@",
    "ago",
    "1 2 3",
    "::",
    "24:00:00",
    "9999999-12-31",
    "0000-00-00",
    "-1",
    "2024-02-30",
    "12:60",
    "1 fortnight",
    "99999999999 years",
    "\u{0}",
    "é",
    "{\"a\":",
    "[1,2",
    "1.5.5",
    "--1",
    "T",
    "Z",
    "+25",
    "epoch BC",
    "Jan Jan",
    "\u{1F600}",
    "1e-400",
    "0x10",
    "1_000",
    "true false",
    "{\"a\" \"b\"}",
    "P1Y2Q",
    "-0",
    "+.e1",
];

#[test]
fn parse_never_panics() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for ty in all_types() {
        for s in NASTY {
            let _ = text::parse(s, &ty);
        }
        for _ in 0..200 {
            let bytes = rng.bytes(24);
            let s: String = bytes.iter().map(|b| (b % 96 + 32) as char).collect();
            let _ = text::parse(&s, &ty);
        }
    }
}

#[test]
fn decode_never_panics() {
    let mut rng = Rng(0xDEAD_BEEF_CAFE_F00D);
    for ty in all_types() {
        for _ in 0..300 {
            let bytes = rng.bytes(40);
            let _ = binary::decode(&bytes, &ty);
        }
        // Headers that claim huge lengths.
        let _ = binary::decode(
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1,
            ],
            &ty,
        );
        let _ = binary::decode(&[0x7f, 0xff, 0x7f, 0xff, 0, 0, 0x7f, 0xff], &ty);
    }
}

fn sample_values() -> Vec<Value> {
    let mut vals = vec![
        Value::Bool(true),
        Value::Int2(i16::MIN),
        Value::Int4(i32::MIN),
        Value::Int4(0),
        Value::Int8(i64::MAX),
        Value::Int8(-1),
        Value::Float4(f32::MAX),
        Value::Float8(f64::NAN),
        Value::Float8(f64::INFINITY),
        Value::Float8(-0.0),
        Value::Float8(1e300),
        Value::Text(String::new()),
        Value::Text("abc".into()),
        Value::Text("12".into()),
        Value::Bytea(vec![0, 255]),
        Value::Oid(u32::MAX),
        Value::Json("{\"a\":[1,2]}".into()),
        Value::Jsonb(serde_json::json!({"a": [1, {"b": null}]})),
        Value::Array(vec![Value::Int4(1), Value::Null]),
        Value::Array(vec![]),
    ];
    for (s, t) in [
        ("79228162514264337593543950335", DataType::Numeric(None)),
        ("-0.0000000000000000000000000001", DataType::Numeric(None)),
        ("0001-01-01 BC", DataType::Date),
        ("9999-12-31 23:59:59.999999", DataType::Timestamp),
        ("2024-01-31 10:00:00+00", DataType::TimestampTz),
        ("23:59:59.999999", DataType::Time),
        ("-178000000 years", DataType::Interval),
        (
            "2147483647 days 2562047788:00:54.775807",
            DataType::Interval,
        ),
        ("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", DataType::Uuid),
    ] {
        vals.push(text::parse(s, &t).unwrap_or(Value::Null));
    }
    vals
}

#[test]
fn operators_and_casts_never_panic() {
    let vals = sample_values();
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
        BinaryOp::Pow,
        BinaryOp::Concat,
        BinaryOp::Lt,
        BinaryOp::BitAnd,
        BinaryOp::ShiftLeft,
        BinaryOp::JsonGet,
        BinaryOp::JsonPathText,
        BinaryOp::Contains,
        BinaryOp::JsonHasKey,
        BinaryOp::Overlaps,
        BinaryOp::RegexMatch,
    ];
    for a in &vals {
        let _ = text::format(a);
        for u in [UnaryOp::Neg, UnaryOp::Abs, UnaryOp::BitNot, UnaryOp::Sqrt] {
            let _ = unary_op(u, a);
        }
        for ty in all_types() {
            let _ = cast::cast(a.clone(), &ty);
            let _ = cast::assign(a.clone(), &ty);
            let _ = binary::encode(a, &ty);
        }
        for b in &vals {
            let _ = compare::sort_cmp(a, b);
            let _ = compare::compare(a, b);
            for op in ops {
                let _ = binary_op(op, a, b);
            }
        }
    }
}

#[test]
fn functions_never_panic() {
    let vals = sample_values();
    let names = [
        "length",
        "substr",
        "substring",
        "lpad",
        "rpad",
        "repeat",
        "left",
        "right",
        "split_part",
        "chr",
        "to_hex",
        "format",
        "regexp_replace",
        "regexp_match",
        "encode",
        "decode",
        "round",
        "trunc",
        "sqrt",
        "exp",
        "ln",
        "log",
        "power",
        "mod",
        "div",
        "gcd",
        "lcm",
        "width_bucket",
        "date_part",
        "extract",
        "date_trunc",
        "age",
        "make_date",
        "make_time",
        "make_interval",
        "to_char",
        "to_timestamp",
        "to_date",
        "to_json",
        "jsonb_set",
        "json_array_length",
        "array_length",
        "array_position",
        "string_to_array",
        "array_to_string",
        "greatest",
        "justify_interval",
    ];
    for name in names {
        for a in &vals {
            let _ = functions::call(name, std::slice::from_ref(a));
            for b in &vals {
                let _ = functions::call(name, &[a.clone(), b.clone()]);
                let _ = functions::call(name, &[a.clone(), b.clone(), Value::Int4(-3)]);
            }
        }
    }
}
