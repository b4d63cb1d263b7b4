//! A scripted `psql -X -v ON_ERROR_STOP=1` session: CREATE TABLE, `\dt`,
//! `\d table`, `\di`, `\dn`, `\l`, `\copy ... FROM` a CSV file and
//! `\copy ... TO` another, then
//! checks the essentials of what psql printed and that the rows round-trip
//! byte for byte (as sorted lines; COPY TO has no defined order).
//!
//! The CSV covers quoting, embedded commas and quotes, NULL (unquoted
//! empty) versus the empty string (`""`), and numeric scale.

use std::process::Command;
use std::time::Duration;

use rustydb_tests::tools::run_bounded;
use rustydb_tests::Target;

const INPUT_CSV: &str = "1,plain,10.50,2024-01-02\n\
2,\"has, comma\",0.00,2023-12-31\n\
3,\"say \"\"hi\"\"\",-7.25,\n\
4,,1.00,2000-02-29\n\
5,\"\",99999999.99,1999-01-01\n";

const SCRIPT: &str = r#"CREATE TABLE psql_items (id integer PRIMARY KEY, name text, price numeric(10,2) NOT NULL, added date);
\echo ==dt==
\dt
\echo ==d==
\d psql_items
\echo ==di==
\di
\echo ==dn==
\dn
\echo ==l==
\l
\echo ==copyin==
\copy psql_items FROM 'in.csv' CSV
\echo ==count==
SELECT count(*) AS n, count(name) AS named FROM psql_items;
\echo ==copyout==
\copy psql_items TO 'out.csv' CSV
\echo ==end==
"#;

/// The text between `==name==` and the next marker.
fn section<'a>(out: &'a str, name: &str) -> &'a str {
    let start = format!("=={name}==");
    let Some(i) = out.find(&start) else {
        panic!("marker {start} missing from psql output:\n{out}")
    };
    let rest = &out[i + start.len()..];
    match rest.find("\n==") {
        Some(j) => &rest[..j],
        None => rest,
    }
}

fn sorted_lines(s: &str) -> Vec<&str> {
    let mut v: Vec<&str> = s.lines().collect();
    v.sort_unstable();
    v
}

#[test]
fn psql_describe_and_copy_round_trip() {
    let server = Target::from_env().start();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("in.csv"), INPUT_CSV).expect("write csv");
    std::fs::write(dir.path().join("script.sql"), SCRIPT).expect("write script");
    let mut cmd = Command::new("psql");
    cmd.current_dir(dir.path())
        .args([
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
        ])
        .args([
            "-p",
            &server.port().to_string(),
            "-d",
            "postgres",
            "-f",
            "script.sql",
        ]);
    let out = run_bounded(cmd, Duration::from_secs(60), dir.path());
    out.assert_success("psql session");
    let text = out.stdout;
    println!("{text}");

    let dt = section(&text, "dt");
    assert!(
        dt.contains("psql_items"),
        "\\dt does not list the table:\n{dt}"
    );
    assert!(dt.contains("table"), "\\dt does not show the type:\n{dt}");
    assert!(
        dt.contains("public"),
        "\\dt does not show the schema:\n{dt}"
    );

    let d = section(&text, "d");
    assert!(d.contains("psql_items"), "\\d title missing:\n{d}");
    for (col, ty) in [
        ("id", "integer"),
        ("name", "text"),
        ("price", "numeric(10,2)"),
        ("added", "date"),
    ] {
        let line = d
            .lines()
            .find(|l| l.split('|').next().is_some_and(|c| c.trim() == col))
            .unwrap_or_else(|| panic!("\\d does not show column {col}:\n{d}"));
        assert!(
            line.contains(ty),
            "\\d shows {col} without type {ty}: {line}"
        );
    }
    let price = d
        .lines()
        .find(|l| l.trim_start().starts_with("price"))
        .unwrap_or("");
    assert!(price.contains("not null"), "\\d misses NOT NULL: {price}");
    assert!(
        d.contains("PRIMARY KEY") || d.contains("primary key"),
        "\\d does not show the primary key index:\n{d}"
    );

    let di = section(&text, "di");
    assert!(
        di.lines()
            .any(|l| l.contains("psql_items_pkey") && l.contains("psql_items")),
        "\\di does not list the primary key index:\n{di}"
    );
    let dn = section(&text, "dn");
    assert!(dn.contains("public"), "\\dn does not list public:\n{dn}");
    let l = section(&text, "l");
    assert!(
        l.lines()
            .any(|r| r.split('|').next().is_some_and(|c| c.trim() == "postgres")),
        "\\l does not list the postgres database:\n{l}"
    );

    assert!(
        section(&text, "copyin").contains("COPY 5"),
        "\\copy FROM did not report COPY 5"
    );
    let count = section(&text, "count");
    assert!(
        count.lines().any(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells == ["5", "4"]
        }),
        "count(*) / count(name) not 5 / 4:\n{count}"
    );
    assert!(
        section(&text, "copyout").contains("COPY 5"),
        "\\copy TO did not report COPY 5"
    );
    let copied = std::fs::read_to_string(dir.path().join("out.csv")).expect("read out.csv");
    assert_eq!(
        sorted_lines(&copied),
        sorted_lines(INPUT_CSV),
        "CSV did not round-trip"
    );
}
