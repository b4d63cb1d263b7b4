//! Foreign keys under concurrency (READ COMMITTED and REPEATABLE READ): a
//! child insert and a concurrent delete of its parent never both commit.
//!
//! Threads insert child rows (autocommit, and in explicit transactions of
//! several rows, some REPEATABLE READ) into two child tables, one with an
//! index on its foreign key column and one without (the parent delete then
//! finds children by a scan), while other threads delete parents and bring
//! them back. Every failure must be one PostgreSQL would give in the same
//! race (23503, 40001, 40P01); at the end, and at checkpoints during the
//! run, no child row may lack its parent.
//!
//! `RUSTYDB_TEST_TARGET=postgres` runs it against PostgreSQL.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustydb_tests::{Outcome, Server, SqlClient, Target};

const PARENTS: u32 = 12;
const ROUNDS: u32 = 120;

fn client(server: &Server) -> SqlClient {
    let mut c = server.connect("postgres");
    c.set_timeout(Duration::from_secs(60));
    c
}

/// A failure PostgreSQL can also give in these races.
fn expected_failure(out: &Outcome) -> bool {
    matches!(out.code(), Some("23503" | "40001" | "40P01"))
}

fn orphans(c: &mut SqlClient) -> String {
    c.scalar(
        "SELECT (SELECT count(*) FROM fkc_c1 c WHERE NOT EXISTS (SELECT 1 FROM fkc_p p WHERE p.id = c.pid)) \
         + (SELECT count(*) FROM fkc_c2 c WHERE NOT EXISTS (SELECT 1 FROM fkc_p p WHERE p.id = c.pid))",
    )
    .unwrap_or_default()
}

/// A small deterministic generator, so runs are repeatable per thread.
fn next(seed: &mut u64) -> u32 {
    *seed = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (*seed >> 33) as u32
}

#[test]
fn child_inserts_and_parent_deletes_never_leave_orphans() {
    let server = Target::from_env().start();
    let mut admin = client(&server);
    for t in ["fkc_c1", "fkc_c2", "fkc_p"] {
        admin.must(&format!("DROP TABLE IF EXISTS {t}"));
    }
    admin.must("CREATE TABLE fkc_p (id int PRIMARY KEY)");
    admin.must("CREATE TABLE fkc_c1 (id serial PRIMARY KEY, pid int REFERENCES fkc_p)");
    admin.must("CREATE INDEX fkc_c1_pid ON fkc_c1 (pid)");
    admin.must("CREATE TABLE fkc_c2 (id serial PRIMARY KEY, pid int REFERENCES fkc_p)");
    admin.must(&format!(
        "INSERT INTO fkc_p SELECT g FROM generate_series(1, {PARENTS}) g"
    ));

    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    // Child inserters.
    for i in 0..4u64 {
        let mut c = client(&server);
        handles.push(thread::spawn(move || {
            let mut seed = i + 1;
            let (mut ok, mut failed) = (0u32, 0u32);
            for round in 0..ROUNDS {
                let table = if round % 2 == 0 { "fkc_c1" } else { "fkc_c2" };
                let pid = next(&mut seed) % PARENTS + 1;
                let out = match round % 3 {
                    0 => c.simple(&format!("INSERT INTO {table} (pid) VALUES ({pid})")),
                    _ => {
                        let iso = if round % 3 == 1 {
                            "READ COMMITTED"
                        } else {
                            "REPEATABLE READ"
                        };
                        let other = next(&mut seed) % PARENTS + 1;
                        let mut out = c.simple(&format!("BEGIN ISOLATION LEVEL {iso}"));
                        for sql in [
                            format!("INSERT INTO {table} (pid) VALUES ({pid})"),
                            format!("INSERT INTO {table} (pid) VALUES ({other})"),
                        ] {
                            if out.is_ok() {
                                out = c.simple(&sql);
                            }
                        }
                        if out.is_ok() {
                            out = c.simple("COMMIT");
                        } else {
                            c.must("ROLLBACK");
                        }
                        out
                    }
                };
                if out.is_ok() {
                    ok += 1;
                } else {
                    assert!(expected_failure(&out), "child insert: {out:?}");
                    failed += 1;
                }
            }
            (ok, failed)
        }));
    }
    // Parent deleters and revivers.
    for i in 0..2u64 {
        let mut c = client(&server);
        let stop = stop.clone();
        handles.push(thread::spawn(move || {
            let mut seed = 100 + i;
            let (mut ok, mut failed) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let pid = next(&mut seed) % PARENTS + 1;
                // Every other time, empty the parent first in the same
                // transaction: the window in which a concurrent child
                // insert must either wait or make the delete fail.
                let out = if next(&mut seed).is_multiple_of(2) {
                    c.simple(&format!("DELETE FROM fkc_p WHERE id = {pid}"))
                } else {
                    let mut out = c.simple("BEGIN");
                    for sql in [
                        format!("DELETE FROM fkc_c1 WHERE pid = {pid}"),
                        format!("DELETE FROM fkc_c2 WHERE pid = {pid}"),
                        format!("DELETE FROM fkc_p WHERE id = {pid}"),
                    ] {
                        if out.is_ok() {
                            out = c.simple(&sql);
                        }
                    }
                    if out.is_ok() {
                        out = c.simple("COMMIT");
                    } else {
                        c.must("ROLLBACK");
                    }
                    out
                };
                if out.is_ok() {
                    ok += 1;
                } else {
                    assert!(expected_failure(&out), "parent delete: {out:?}");
                    failed += 1;
                }
                let back = c.simple(&format!(
                    "INSERT INTO fkc_p VALUES ({}) ON CONFLICT DO NOTHING",
                    next(&mut seed) % PARENTS + 1
                ));
                assert!(back.is_ok() || expected_failure(&back), "revive: {back:?}");
            }
            (ok, failed)
        }));
    }
    // Checkpoints while the race runs.
    let mut checker = client(&server);
    let inserters: Vec<_> = handles.drain(..4).collect();
    let mut inserted = 0;
    for h in inserters {
        assert_eq!(
            orphans(&mut checker),
            "0",
            "orphan child rows during the run"
        );
        let (ok, _) = h.join().expect("inserter panicked");
        inserted += ok;
    }
    stop.store(true, Ordering::Relaxed);
    let mut deleted = 0;
    for h in handles {
        let (ok, _) = h.join().expect("deleter panicked");
        deleted += ok;
    }
    assert_eq!(orphans(&mut admin), "0", "orphan child rows after the run");
    // The race was real: both sides made progress.
    assert!(inserted > 0, "no child insert committed");
    assert!(deleted > 0, "no parent delete committed");
    // Every child row still finds its parent through a join.
    let children = admin
        .scalar("SELECT (SELECT count(*) FROM fkc_c1) + (SELECT count(*) FROM fkc_c2)")
        .unwrap_or_default();
    let joined = admin
        .scalar(
            "SELECT (SELECT count(*) FROM fkc_c1 JOIN fkc_p ON fkc_p.id = fkc_c1.pid) \
             + (SELECT count(*) FROM fkc_c2 JOIN fkc_p ON fkc_p.id = fkc_c2.pid)",
        )
        .unwrap_or_default();
    assert_eq!(children, joined);
    for t in ["fkc_c1", "fkc_c2", "fkc_p"] {
        admin.must(&format!("DROP TABLE {t}"));
    }
}
