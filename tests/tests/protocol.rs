//! Extended query protocol and COPY, differential: the same prepared, typed and
//! pipelined queries on PostgreSQL 15 and on the target, comparing the
//! parameter types from Describe, column names and type OIDs, the *binary*
//! encoding of every value, and SQLSTATEs (see `rustydb_tests::extended`).
//!
//! `RUSTYDB_TEST_TARGET=postgres` makes the target a second PostgreSQL,
//! which validates the cases themselves.

use tokio_postgres::types::{ToSql, Type};

use rustydb_tests::extended::ExtOutcome;
use rustydb_tests::{PgServer, Server, SqlClient, Target};

type Case = (&'static str, Vec<Box<dyn ToSql + Sync>>);

/// A query with explicitly typed parameters.
type TypedParams<'a> = Vec<(&'a (dyn ToSql + Sync), Type)>;

fn prepared_cases() -> Vec<Case> {
    vec![
        ("SELECT $1::int4 + 1 AS answer", vec![Box::new(41i32)]),
        ("SELECT $1::int8 * 2, $2::text || 'x'", vec![Box::new(21i64), Box::new("ab".to_string())]),
        ("SELECT $1 + 1", vec![Box::new(1i32)]),
        ("SELECT upper($1)", vec![Box::new("mixed Case".to_string())]),
        ("SELECT $1::text IS NULL, $2::int4 IS NULL", vec![Box::new(None::<String>), Box::new(Some(3i32))]),
        ("SELECT $1::bool AND true, $2::float8 / 2", vec![Box::new(true), Box::new(5.0f64)]),
        ("SELECT 1.5::numeric, 123456.789::numeric(12,3), (-0.001)::numeric, 0::numeric, 10000::numeric", vec![]),
        ("SELECT date '2024-02-29', timestamp '2024-02-29 13:45:00.5', timestamptz '2024-02-29 13:45:00+00', interval '1 day 2 hours', time '10:11:12'", vec![]),
        ("SELECT 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"a\": 1}'::jsonb, '{\"a\":1}'::json, '\\xdead'::bytea", vec![]),
        ("SELECT true, 1.5::float4, 2.25::float8, 7::int2, 'c'::char(3), 'v'::varchar(4), NULL::int4", vec![]),
        ("SELECT $1::int4 / 0", vec![Box::new(1i32)]),
        ("INSERT INTO pp_t VALUES ($1, $2) RETURNING id, name", vec![Box::new(1i32), Box::new("one".to_string())]),
        ("INSERT INTO pp_t VALUES ($1, $2) RETURNING id, name", vec![Box::new(2i32), Box::new(None::<String>)]),
        ("INSERT INTO pp_t VALUES ($1, $2)", vec![Box::new(1i32), Box::new("dup".to_string())]),
        ("SELECT id, name FROM pp_t WHERE id = $1", vec![Box::new(1i32)]),
        ("SELECT count(*) FROM pp_t WHERE name = $1 OR $1 IS NULL", vec![Box::new("one".to_string())]),
        ("UPDATE pp_t SET name = $2 WHERE id = $1", vec![Box::new(2i32), Box::new("two".to_string())]),
        ("SELECT id, name FROM pp_t ORDER BY id", vec![]),
        ("SELECT * FROM pp_missing WHERE id = $1", vec![Box::new(1i32)]),
        ("SELEC $1", vec![Box::new(1i32)]),
        ("DELETE FROM pp_t WHERE id > $1 RETURNING id", vec![Box::new(1i32)]),
    ]
}

fn run_all(c: &mut SqlClient) -> Vec<(String, ExtOutcome)> {
    let mut out = Vec::new();
    let setup = c.simple("CREATE TABLE pp_t (id int4 PRIMARY KEY, name text)");
    assert!(setup.is_ok(), "setup failed: {setup}");
    for (sql, params) in prepared_cases() {
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref()).collect();
        out.push((format!("prepared: {sql}"), c.prepared(sql, &refs)));
    }
    let typed: Vec<(&str, TypedParams)> = vec![
        ("SELECT $1 AS given_int8", vec![(&7i64, Type::INT8)]),
        (
            "SELECT $1::text || $2",
            vec![(&"a", Type::TEXT), (&"b", Type::TEXT)],
        ),
        (
            "SELECT id FROM pp_t WHERE id = $1",
            vec![(&1i32, Type::INT4)],
        ),
        ("SELECT 1 / $1", vec![(&0i32, Type::INT4)]),
    ];
    for (sql, params) in typed {
        out.push((format!("typed: {sql}"), c.typed(sql, &params)));
    }
    let pipeline = [
        "SELECT 1",
        "SELECT 'two'::text",
        "SELECT 1 / 0",
        "SELECT count(*) FROM pp_t",
        "SELECT 5::int8",
    ];
    for (sql, o) in pipeline.iter().zip(c.pipelined(&pipeline)) {
        out.push((format!("pipelined: {sql}"), o));
    }
    // The connection must still work after all of the above.
    let after = c.simple("SELECT 1");
    out.push((
        "simple query afterwards".into(),
        ExtOutcome::Ok {
            params: vec![],
            columns: vec![],
            rows: vec![vec![after.scalar().map(str::to_string)]],
        },
    ));
    out
}

#[test]
fn extended_protocol_matches_postgres() {
    let reference = Server::Pg(PgServer::start());
    let target = Target::from_env().start();
    let mut r = reference.connect("postgres");
    let mut t = target.connect("postgres");
    let expected = run_all(&mut r);
    let got = run_all(&mut t);
    let mut mismatches = 0;
    for ((what, want), (_, have)) in expected.iter().zip(&got) {
        if want == have {
            let shown: String = want.to_string().chars().take(160).collect();
            println!("ok   {what}\n     => {shown}");
        } else {
            mismatches += 1;
            println!(
                "DIFF {what}\n  postgres: {want}\n  {}: {have}",
                target.kind()
            );
        }
    }
    assert_eq!(
        mismatches, 0,
        "{mismatches} extended-protocol mismatches (see output)"
    );
}

/// COPY FROM STDIN / TO STDOUT in text and CSV formats, byte-compared.
fn copy_all(c: &mut SqlClient) -> Vec<(String, String)> {
    let setup = c.simple(
        "CREATE TABLE cp_t (id int4 PRIMARY KEY, name text, amount numeric(8,2), day date, ok bool)",
    );
    assert!(setup.is_ok(), "setup failed: {setup}");
    let text_in = "1\tplain\t1.50\t2024-01-02\tt\n\
                   2\twith\\ttab and \\\\ backslash\t-3.00\t\\N\tf\n\
                   3\t\\N\t0.00\t1999-12-31\t\\N\n";
    let csv_in =
        "4,\"comma, quoted\",2.25,2000-02-29,true\n5,,7.00,,false\n6,\"\",8.10,2001-01-01,\n";
    let show = |r: Result<Vec<u8>, String>| match r {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => e,
    };
    let count = |r: Result<u64, String>| match r {
        Ok(n) => format!("COPY {n}"),
        Err(e) => e,
    };
    vec![
        (
            "copy in text".into(),
            count(c.copy_in("COPY cp_t FROM STDIN", text_in.as_bytes())),
        ),
        (
            "copy in csv".into(),
            count(c.copy_in("COPY cp_t FROM STDIN WITH (FORMAT csv)", csv_in.as_bytes())),
        ),
        (
            "copy in bad int".into(),
            count(c.copy_in("COPY cp_t FROM STDIN", b"x\ty\t1\t\\N\t\\N\n")),
        ),
        (
            "copy in duplicate".into(),
            count(c.copy_in("COPY cp_t FROM STDIN", b"1\tdup\t1\t\\N\t\\N\n")),
        ),
        (
            "copy out text".into(),
            show(c.copy_out("COPY (SELECT * FROM cp_t ORDER BY id) TO STDOUT")),
        ),
        (
            "copy out csv".into(),
            show(c.copy_out(
                "COPY (SELECT * FROM cp_t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)",
            )),
        ),
        (
            "copy out columns".into(),
            show(c.copy_out("COPY (SELECT id, name FROM cp_t ORDER BY id) TO STDOUT (FORMAT csv)")),
        ),
        (
            "copy out table".into(),
            show(c.copy_out("COPY cp_t (id, ok) TO STDOUT").map(|b| {
                // A table COPY has no defined order: compare sorted lines.
                let mut lines: Vec<&[u8]> = b.split(|x| *x == b'\n').collect();
                lines.sort();
                lines.join(&b'\n')
            })),
        ),
        (
            "count after".into(),
            format!("{:?}", c.simple("SELECT count(*) FROM cp_t").scalar()),
        ),
    ]
}

#[test]
fn copy_matches_postgres() {
    let reference = Server::Pg(PgServer::start());
    let target = Target::from_env().start();
    let mut r = reference.connect("postgres");
    let mut t = target.connect("postgres");
    let expected = copy_all(&mut r);
    let got = copy_all(&mut t);
    let mut mismatches = 0;
    for ((what, want), (_, have)) in expected.iter().zip(&got) {
        if want == have {
            println!("ok   {what}: {want:?}");
        } else {
            mismatches += 1;
            println!(
                "DIFF {what}\n  postgres: {want:?}\n  {}: {have:?}",
                target.kind()
            );
        }
    }
    assert_eq!(mismatches, 0, "{mismatches} COPY mismatches (see output)");
}
