//! Golden test: operators and functions against PostgreSQL 15.
//!
//! `golden/exprs.tsv` lines are `op|fn <TAB> name <TAB> args <TAB> result`,
//! args being `type:literal` joined by ` ;; `, and the result what a real
//! PostgreSQL 15 printed for `pg_typeof(e) || ':' || e::text` (`ok:` ...,
//! NULL as `<NULL>`) or its error message (`err:` ...). Each line checks
//! both the planner view (result type) and evaluation.

use rustydb_sql::functions;
use rustydb_sql::types::ops::{binary_op, binary_op_type, BinaryOp};
use rustydb_sql::types::{cast, oid, text, DataType, Value};

fn type_from(name: &str) -> Option<DataType> {
    match name.strip_suffix("[]") {
        Some(elem) => type_from(elem).map(|e| DataType::Array(Box::new(e))),
        None => oid::parse_type_name(name, &[]),
    }
}

fn op_from(sym: &str) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match sym {
        "+" => Add,
        "-" => Sub,
        "*" => Mul,
        "/" => Div,
        "%" => Mod,
        "^" => Pow,
        "||" => Concat,
        "=" => Eq,
        "<>" => NotEq,
        "<" => Lt,
        "<=" => LtEq,
        ">" => Gt,
        ">=" => GtEq,
        "&" => BitAnd,
        "|" => BitOr,
        "#" => BitXor,
        "<<" => ShiftLeft,
        ">>" => ShiftRight,
        "->" => JsonGet,
        "->>" => JsonGetText,
        "#>" => JsonPath,
        "#>>" => JsonPathText,
        "@>" => Contains,
        "<@" => ContainedBy,
        "?" => JsonHasKey,
        "&&" => Overlaps,
        "~" => RegexMatch,
        "~*" => RegexIMatch,
        "!~" => RegexNotMatch,
        "!~*" => RegexNotIMatch,
        _ => return None,
    })
}

/// What the cast of a value to text shows (`true` for booleans).
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "<NULL>".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        other => text::format(other),
    }
}

/// Cases where RustyDB knowingly differs (reason in the report):
const KNOWN_GAPS: &[&str] = &[];

fn eval(kind: &str, name: &str, args: &[(DataType, Value)]) -> Result<String, String> {
    let types: Vec<DataType> = args.iter().map(|(t, _)| t.clone()).collect();
    let values: Vec<Value> = args.iter().map(|(_, v)| v.clone()).collect();
    let (ty, v) = match kind {
        "op" => {
            let op = op_from(name).ok_or("unknown op")?;
            let ty = binary_op_type(op, &types[0], &types[1]).map_err(|e| e.message())?;
            (
                ty,
                binary_op(op, &values[0], &values[1]).map_err(|e| e.message())?,
            )
        }
        _ => {
            let ty = functions::return_type(name, &types).map_err(|e| e.message())?;
            (ty, functions::call(name, &values).map_err(|e| e.message())?)
        }
    };
    let tyname = match &ty {
        // pg_typeof shows no typmod.
        DataType::Varchar(_) => "character varying".to_string(),
        t => oid::type_name(t),
    };
    Ok(format!("{tyname}:{}", shown(&v)))
}

#[test]
fn exprs_match_postgres() {
    let data = include_str!("golden/exprs.tsv");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        let [kind, name, args, expected] = cols[..] else {
            failures.push(format!("bad line {line}"));
            continue;
        };
        let mut parsed = Vec::new();
        for a in args.split(" ;; ").filter(|a| !a.is_empty()) {
            let (t, lit) = a.split_once(':').unwrap_or((a, ""));
            let ty = type_from(t).unwrap_or(DataType::Unknown);
            let v = cast::cast(Value::Text(lit.to_string()), &ty).unwrap_or(Value::Null);
            parsed.push((ty, v));
        }
        count += 1;
        let got = match eval(kind, name, &parsed) {
            Ok(s) => format!("ok:{}", s.replace('\n', "\\n")),
            Err(e) => format!("err:{e}"),
        };
        let key = format!("{name} {args}");
        if got != expected && !KNOWN_GAPS.contains(&key.as_str()) {
            failures.push(format!("{key}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(count > 200);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
