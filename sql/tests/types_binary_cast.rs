//! Golden test: binary send format and explicit casts against PostgreSQL 15.
//!
//! `golden/binary_cast.tsv`:
//! - `bin <TAB> type <TAB> literal <TAB> ok:<hex>`: the bytes PostgreSQL's
//!   `COPY ... (FORMAT binary)` wrote for the value; we must encode the same
//!   bytes and decode them back to the same value;
//! - `cast <TAB> target <TAB> type:literal <TAB> ok:<text>|err:<message>`:
//!   `SELECT (literal::type)::target::text` in PostgreSQL.

use rustydb_sql::types::{binary, cast, oid, DataType, Value};

fn type_from(name: &str) -> Option<DataType> {
    if let Some(elem) = name.strip_suffix("[]") {
        return type_from(elem).map(|e| DataType::Array(Box::new(e)));
    }
    match name.split_once('(') {
        Some((base, mods)) => {
            let mods: Vec<u32> = mods
                .trim_end_matches(')')
                .split(',')
                .filter_map(|m| m.trim().parse().ok())
                .collect();
            oid::parse_type_name(base, &mods)
        }
        None => oid::parse_type_name(name, &[]),
    }
}

fn parse(ty: &DataType, lit: &str) -> Result<Value, String> {
    cast::cast(Value::Text(lit.to_string()), ty).map_err(|e| e.message())
}

#[test]
fn binary_and_casts_match_postgres() {
    let data = include_str!("golden/binary_cast.tsv");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = line.splitn(4, '\t').collect();
        let [kind, a, b, expected] = cols[..] else {
            failures.push(format!("bad line {line}"));
            continue;
        };
        count += 1;
        let got = if kind == "bin" {
            let Some(ty) = type_from(a) else {
                failures.push(format!("unknown type {a}"));
                continue;
            };
            (|| {
                let v = parse(&ty, b)?;
                let bytes = binary::encode(&v, &ty).map_err(|e| e.message())?;
                let back = binary::decode(&bytes, &ty).map_err(|e| e.message())?;
                if back != v {
                    return Err(format!("decode gave {back:?}, not {v:?}"));
                }
                Ok(hex(&bytes))
            })()
        } else {
            let Some(to) = type_from(a) else {
                failures.push(format!("unknown type {a}"));
                continue;
            };
            let (t, lit) = b.split_once(':').unwrap_or((b, ""));
            let from = type_from(t).unwrap_or(DataType::Unknown);
            (|| {
                let v = parse(&from, lit)?;
                let r = cast::cast(v, &to).map_err(|e| e.message())?;
                let s = cast::cast(r, &DataType::Text).map_err(|e| e.message())?;
                let s = match s {
                    Value::Text(s) => s,
                    other => format!("{other:?}"),
                };
                // PostgreSQL's bpchar -> text cast drops the padding.
                Ok(if matches!(to, DataType::Char(_)) {
                    s.trim_end_matches(' ').to_string()
                } else {
                    s
                })
            })()
        };
        let got = match got {
            Ok(s) => format!("ok:{s}"),
            Err(e) => format!("err:{e}"),
        };
        if got != expected {
            failures.push(format!(
                "{kind} {a} {b}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(count > 50);
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
