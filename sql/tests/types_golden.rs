//! Golden test: text input/output of every type against PostgreSQL 15.
//!
//! `golden/text_io.tsv` holds `type <TAB> literal <TAB> result`, where the
//! result is what a real PostgreSQL 15 printed for `SELECT $$literal$$::type`
//! (`ok:<output>` or `err:<primary message>`). Each line is replayed through
//! `cast::cast(Value::Text(literal), type)` and `text::format`.

use rustydb_sql::types::{cast, oid, text, DataType, Value};

/// `numeric(5,2)`, `character(4)`, `integer[]` -> DataType.
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

/// Cases where RustyDB knowingly differs, with the reason:
/// - jsonb numbers go through f64 (`serde_json` without arbitrary precision),
///   so `1.50` prints `1.5` and `1e2` prints `100.0`;
/// - arrays are one-dimensional.
const KNOWN_GAPS: &[(&str, &str)] = &[
    ("jsonb", "[1, \"x\", 1.5, -0, 1e2, 1.50]"),
    ("integer[]", "{{1,2},{3,4}}"),
];

#[test]
fn text_io_matches_postgres() {
    let data = include_str!("golden/text_io.tsv");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in data.lines().filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, '\t');
        let (Some(ty), Some(lit), Some(expected)) = (parts.next(), parts.next(), parts.next())
        else {
            failures.push(format!("bad golden line: {line}"));
            continue;
        };
        let Some(dt) = type_from(ty) else {
            failures.push(format!("unknown type {ty}"));
            continue;
        };
        count += 1;
        let got = match cast::cast(Value::Text(lit.to_string()), &dt) {
            Ok(v) => format!("ok:{}", text::format(&v)),
            Err(e) => format!("err:{}", e.message()),
        };
        if got != expected && !KNOWN_GAPS.iter().any(|(t, l)| *t == ty && *l == lit) {
            failures.push(format!("{ty} {lit:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(count > 100, "golden file too small");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
