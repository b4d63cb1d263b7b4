//! Concurrent sessions: row-level write locks, no lost updates, snapshot
//! isolation conflicts and deadlock detection, with PostgreSQL's SQLSTATEs.
//!
//! - READ COMMITTED increments from several threads all land (no lost
//!   update), and a writer blocks on a row another transaction locked until
//!   that transaction commits, then sees its result.
//! - REPEATABLE READ reads from its snapshot and fails with `40001` when it
//!   updates a row changed after the snapshot.
//! - Two transactions locking two rows in opposite order: one gets `40P01`
//!   within a bounded time, the other completes.
//! - SELECT ... FOR UPDATE blocks writers of the rows it returned.
//! - A CancelRequest stops a statement waiting for a lock with `57014`.
//!
//! `RUSTYDB_TEST_TARGET=postgres` runs it against PostgreSQL.

use std::thread;
use std::time::{Duration, Instant};

use rustydb_tests::{Outcome, Server, SqlClient, Target};

fn client(server: &Server) -> SqlClient {
    let mut c = server.connect("postgres");
    c.set_timeout(Duration::from_secs(20));
    c
}

/// Runs `sql` on `c` in a thread; returns the outcome, how long it took,
/// and the client back.
fn spawn_stmt(
    mut c: SqlClient,
    sql: &'static str,
) -> thread::JoinHandle<(Outcome, Duration, SqlClient)> {
    thread::spawn(move || {
        let t = Instant::now();
        let out = c.simple(sql);
        (out, t.elapsed(), c)
    })
}

#[test]
fn row_locks_isolation_and_deadlocks() {
    let server = Target::from_env().start();
    let mut admin = client(&server);
    admin.must("CREATE TABLE cc_t (id int PRIMARY KEY, v int NOT NULL)");
    admin.must("INSERT INTO cc_t VALUES (1, 0), (2, 0)");

    // No lost update: 4 threads x 50 autocommit increments, plus explicit
    // transactions that read before they write.
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let mut c = client(&server);
            thread::spawn(move || {
                for _ in 0..50 {
                    if i % 2 == 0 {
                        c.must("UPDATE cc_t SET v = v + 1 WHERE id = 1");
                    } else {
                        c.must("BEGIN");
                        c.must("SELECT v FROM cc_t WHERE id = 1");
                        c.must("UPDATE cc_t SET v = v + 1 WHERE id = 1");
                        c.must("COMMIT");
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("incrementer panicked");
    }
    assert_eq!(
        admin.scalar("SELECT v FROM cc_t WHERE id = 1").as_deref(),
        Some("200"),
        "lost updates"
    );

    // A writer waits for the row lock and then sees the committed value.
    let mut a = client(&server);
    a.must("BEGIN");
    a.must("UPDATE cc_t SET v = v + 1 WHERE id = 1");
    let waiter = spawn_stmt(
        client(&server),
        "UPDATE cc_t SET v = v * 2 WHERE id = 1 RETURNING v",
    );
    thread::sleep(Duration::from_millis(700));
    assert!(
        !waiter.is_finished(),
        "second writer finished while the row was locked"
    );
    a.must("COMMIT");
    let (out, waited, _) = waiter.join().expect("waiter panicked");
    println!("blocked writer waited {waited:?}: {out}");
    // 402 = 2 * 201: the waiter applied its update on top of the committed
    // one, which it can only do by waiting for the lock.
    assert_eq!(
        out.scalar(),
        Some("402"),
        "waiter must see the committed 201"
    );

    // SELECT ... FOR UPDATE holds the row lock until commit, like a write.
    let mut a = client(&server);
    a.must("BEGIN");
    assert_eq!(
        a.scalar("SELECT v FROM cc_t WHERE id = 1 FOR UPDATE")
            .as_deref(),
        Some("402")
    );
    let waiter = spawn_stmt(
        client(&server),
        "UPDATE cc_t SET v = v + 1 WHERE id = 1 RETURNING v",
    );
    thread::sleep(Duration::from_millis(700));
    assert!(
        !waiter.is_finished(),
        "a writer finished while SELECT ... FOR UPDATE held the row"
    );
    a.must("UPDATE cc_t SET v = v * 10 WHERE id = 1");
    a.must("COMMIT");
    let (out, _, _) = waiter.join().expect("waiter panicked");
    assert_eq!(out.scalar(), Some("4021"), "waiter must see 4020 committed");

    // REPEATABLE READ: snapshot reads, then 40001 on a write conflict.
    let mut rr = client(&server);
    rr.must("BEGIN ISOLATION LEVEL REPEATABLE READ");
    assert_eq!(
        rr.scalar("SELECT v FROM cc_t WHERE id = 2").as_deref(),
        Some("0")
    );
    admin.must("UPDATE cc_t SET v = 100 WHERE id = 2");
    assert_eq!(
        rr.scalar("SELECT v FROM cc_t WHERE id = 2").as_deref(),
        Some("0"),
        "REPEATABLE READ must keep reading its snapshot"
    );
    let conflict = rr.simple("UPDATE cc_t SET v = v + 1 WHERE id = 2");
    assert_eq!(conflict.code(), Some("40001"), "got {conflict}");
    assert_eq!(rr.simple("SELECT 1").code(), Some("25P02"));
    rr.must("ROLLBACK");
    assert_eq!(
        admin.scalar("SELECT v FROM cc_t WHERE id = 2").as_deref(),
        Some("100")
    );

    // Deadlock: a locks 1 then 2, b locks 2 then 1.
    let mut a = client(&server);
    let mut b = client(&server);
    a.must("BEGIN");
    b.must("BEGIN");
    a.must("UPDATE cc_t SET v = v + 1 WHERE id = 1");
    b.must("UPDATE cc_t SET v = v + 1 WHERE id = 2");
    let a_waits = spawn_stmt(a, "UPDATE cc_t SET v = v + 1 WHERE id = 2");
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let b_out = b.simple("UPDATE cc_t SET v = v + 1 WHERE id = 1");
    let (a_out, _, mut a) = a_waits.join().expect("a panicked");
    println!(
        "deadlock resolved after {:?}: a: {a_out}; b: {b_out}",
        started.elapsed()
    );
    let codes = [a_out.code(), b_out.code()];
    assert_eq!(
        codes.iter().filter(|c| **c == Some("40P01")).count(),
        1,
        "exactly one side must get 40P01: a: {a_out}, b: {b_out}"
    );
    assert!(
        a_out.is_ok() || b_out.is_ok(),
        "the other side must proceed: a: {a_out}, b: {b_out}"
    );
    a.must("ROLLBACK");
    b.must("ROLLBACK");

    // CancelRequest: a statement waiting for a row lock is cancelled with
    // 57014 and its session stays usable.
    a.must("BEGIN");
    a.must("UPDATE cc_t SET v = v + 1 WHERE id = 1");
    let b = client(&server);
    let handle = b.cancel_handle().expect("live session");
    let blocked = spawn_stmt(b, "UPDATE cc_t SET v = v + 1 WHERE id = 1");
    thread::sleep(Duration::from_millis(500));
    handle.cancel().expect("send CancelRequest");
    let (out, took, mut b) = blocked.join().expect("blocked writer panicked");
    println!("cancelled after {took:?}: {out}");
    assert_eq!(
        out.code(),
        Some("57014"),
        "expected query_canceled, got {out}"
    );
    assert_eq!(b.scalar("SELECT 1").as_deref(), Some("1"));
    a.must("ROLLBACK");
    admin.must("UPDATE cc_t SET v = 0 WHERE id IN (1, 2)");
}
