//! `COPY … (FORMAT binary)` against PostgreSQL 15 as the oracle.
//!
//! The same table (one column per common type, NULLs included) is filled on
//! PostgreSQL and on a node; psql's `\copy … TO … (FORMAT binary)` must give
//! byte-identical files. PostgreSQL's file is then loaded into the node with
//! `\copy … FROM … (FORMAT binary)` and must read back as PostgreSQL's rows.
//! Malformed binary input gets PostgreSQL's 22P04 errors and leaves the
//! session usable.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rustydb_tests::tools::{run_bounded, RunOutput};
use rustydb_tests::Target;

const SETUP: &str = r#"CREATE TABLE bin_t (
    id integer PRIMARY KEY, s smallint, b bigint, n numeric(12,3), f double precision,
    r real, ok boolean, t text, v varchar(8), raw bytea, d date, ts timestamp,
    tz timestamptz, iv interval, u uuid, j jsonb, arr integer[]);
INSERT INTO bin_t VALUES
 (1, 7, 9000000000, 1234.5, 3.25, 1.5, true, 'hello', 'vc', '\xdeadbeef', '2024-02-29',
  '2024-01-02 03:04:05.678', '2024-01-02 03:04:05+00', '1 day 02:03:04', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"a": [1, 2]}', '{1,2,3}'),
 (2, -1, -5, -0.001, -1e10, 0, false, '', 'x', '\x', '1999-12-31', '2000-01-01 00:00', '1970-01-01 00:00+00',
  '-3 mons', '00000000-0000-0000-0000-000000000000', '[]', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TABLE bin_copy (LIKE bin_t);
"#;

fn psql(port: u16, dir: &Path, script: &str) -> RunOutput {
    std::fs::write(dir.join("script.sql"), script).expect("write script");
    let mut cmd = Command::new("psql");
    cmd.current_dir(dir)
        .args(["-X", "-q", "-At", "-h", "127.0.0.1", "-U", "postgres", "-d"])
        .arg("postgres")
        .arg("-p")
        .arg(port.to_string())
        .args(["-f", "script.sql"]);
    run_bounded(cmd, Duration::from_secs(60), dir)
}

#[test]
fn binary_copy_matches_postgres() {
    let pg = Target::Postgres.start();
    let node = Target::Node.start();
    let pg_dir = tempfile::tempdir().expect("tempdir");
    let node_dir = tempfile::tempdir().expect("tempdir");
    let export = format!(
        "{SETUP}\\copy (SELECT * FROM bin_t ORDER BY id) TO 'out.bin' WITH (FORMAT binary)\n"
    );
    psql(pg.port(), pg_dir.path(), &export).assert_success("postgres export");
    psql(node.port(), node_dir.path(), &export).assert_success("node export");
    let pg_bytes = std::fs::read(pg_dir.path().join("out.bin")).expect("pg file");
    let node_bytes = std::fs::read(node_dir.path().join("out.bin")).expect("node file");
    assert!(pg_bytes.starts_with(b"PGCOPY\n\xff\r\n\0"));
    assert_eq!(
        node_bytes, pg_bytes,
        "binary COPY TO differs from PostgreSQL's"
    );

    // PostgreSQL's file loads into the node and reads back as PostgreSQL's rows.
    std::fs::copy(
        pg_dir.path().join("out.bin"),
        node_dir.path().join("in.bin"),
    )
    .expect("copy");
    std::fs::copy(pg_dir.path().join("out.bin"), pg_dir.path().join("in.bin")).expect("copy");
    let import = "\\copy bin_copy FROM 'in.bin' WITH (FORMAT binary)\n\
                  SELECT * FROM bin_copy ORDER BY id;\n";
    let on_pg = psql(pg.port(), pg_dir.path(), import);
    on_pg.assert_success("postgres import");
    let on_node = psql(node.port(), node_dir.path(), import);
    on_node.assert_success("node import");
    assert_eq!(
        on_node.stdout, on_pg.stdout,
        "node stderr: {}",
        on_node.stderr
    );
    assert!(on_node.stdout.lines().count() >= 3, "{}", on_node.stdout);
}

#[test]
fn malformed_binary_copy_is_rejected_like_postgres() {
    let mut header = b"PGCOPY\n\xff\r\n\0".to_vec();
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(&0u32.to_be_bytes());
    let mut wrong_count = header.clone();
    wrong_count.extend_from_slice(&3i16.to_be_bytes());
    let mut truncated = header.clone();
    truncated.extend_from_slice(&1i16.to_be_bytes());
    truncated.extend_from_slice(&4i32.to_be_bytes());
    truncated.extend_from_slice(&[0, 0]);
    let mut short_int = header.clone();
    short_int.extend_from_slice(&1i16.to_be_bytes());
    short_int.extend_from_slice(&2i32.to_be_bytes());
    short_int.extend_from_slice(&[0, 1]);
    short_int.extend_from_slice(&(-1i16).to_be_bytes());
    let mut after_end = header.clone();
    after_end.extend_from_slice(&(-1i16).to_be_bytes());
    after_end.extend_from_slice(b"junk");
    let cases: [(&str, &[u8]); 5] = [
        ("sig.bin", b"NOTPGCOPY"),
        ("count.bin", &wrong_count),
        ("trunc.bin", &truncated),
        ("int.bin", &short_int),
        ("after.bin", &after_end),
    ];
    let mut script = String::from("CREATE TABLE bin_one (a integer);\n");
    for (file, _) in &cases {
        script.push_str(&format!(
            "\\copy bin_one FROM '{file}' WITH (FORMAT binary)\n"
        ));
    }
    script.push_str("SELECT 'alive', count(*) FROM bin_one;\n");
    let run = |target: Target| {
        let server = target.start();
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, bytes) in &cases {
            std::fs::write(dir.path().join(file), bytes).expect("write case");
        }
        psql(server.port(), dir.path(), &script)
    };
    let (pg, node) = (run(Target::Postgres), run(Target::Node));
    // psql prints "ERROR: message" per failed \copy; compare those lines.
    let errors = |out: &RunOutput| -> Vec<String> {
        out.stderr
            .lines()
            .filter_map(|l| l.split_once("ERROR:").map(|(_, m)| m.trim().to_string()))
            .collect()
    };
    assert_eq!(errors(&pg).len(), cases.len(), "{}", pg.stderr);
    assert_eq!(errors(&node), errors(&pg));
    assert!(node.stdout.contains("alive|0"), "{}", node.stdout);
}
