//! Logical replication end to end: a publisher cluster and a subscriber
//! cluster, both real `rustydb node` processes on loopback.
//!
//! - a publication with a row filter, a column list and two masks: the
//!   subscriber holds exactly the matching rows, only the listed columns,
//!   masked; UPDATEs moving rows in and out of the filter insert and delete
//!   on the subscriber as in PostgreSQL; DROP SUBSCRIPTION drops the slot;
//! - the subscriber killed (-9) twice mid-stream: no row lost, none twice
//!   (a table without a primary key would show a duplicate as a second row);
//! - the publisher's primary killed mid-stream and its replica promoted: the
//!   subscription (conninfo lists both hosts) resumes from the new primary
//!   and ends with exactly the new primary's rows;
//! - a conflict (the key already exists on the subscriber) stops the apply
//!   with the error and its LSN in `rustydb_stat_subscription`; `ALTER
//!   SUBSCRIPTION ... SKIP (lsn = ...)` moves past that transaction;
//! - a table added to the publication is ignored until `ALTER SUBSCRIPTION
//!   ... REFRESH PUBLICATION`, which copies it; later changes flow once.
//!
//! Every wait is bounded and reports what it last saw plus the log tails.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustydb_tests::client::{Outcome, SqlClient};
use rustydb_tests::cluster::{wait_until, ClusterNode};

const BOUND: Duration = Duration::from_secs(60);

fn conninfo(nodes: &[&ClusterNode]) -> String {
    let hosts: Vec<&str> = nodes.iter().map(|_| "127.0.0.1").collect();
    let ports: Vec<String> = nodes.iter().map(|n| n.port().to_string()).collect();
    format!(
        "host={} port={} user=postgres dbname=postgres",
        hosts.join(","),
        ports.join(",")
    )
}

/// All rows of a query as text, sorted.
fn rows(c: &mut SqlClient, sql: &str) -> Result<Vec<Vec<Option<String>>>, String> {
    match c.simple(sql) {
        Outcome::Ok { rows, .. } => {
            let mut rows = rows;
            rows.sort();
            Ok(rows)
        }
        other => Err(format!("{sql}: {other}")),
    }
}

fn logs(nodes: &[&ClusterNode]) -> String {
    nodes
        .iter()
        .map(|n| format!("--- {} ---\n{}", n.name(), n.log_tail(3000)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until `sql` on `node` returns exactly `want` (sorted rows).
fn wait_rows(node: &ClusterNode, sql: &str, want: &[Vec<Option<String>>], others: &[&ClusterNode]) {
    let mut want = want.to_vec();
    want.sort();
    let r = wait_until(&format!("{} shows {sql}", node.name()), BOUND, || {
        let mut c = node.try_connect()?;
        let got = rows(&mut c, sql)?;
        if got == want {
            Ok(())
        } else {
            let status = rows(
                &mut c,
                "SELECT status, last_error FROM rustydb_stat_subscription",
            )
            .unwrap_or_default();
            Err(format!(
                "got {got:?}, want {want:?}; subscription {status:?}"
            ))
        }
    });
    if let Err(e) = r {
        let mut all = vec![node];
        all.extend_from_slice(others);
        panic!("{e}\n{}", logs(&all));
    }
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

#[test]
fn filter_columns_masks_and_rows_moving() {
    let publisher = ClusterNode::primary("pub", &[]);
    let subscriber = ClusterNode::primary("sub", &[]);
    let mut p = publisher.connect();
    let mut c = subscriber.connect();
    let table = "CREATE TABLE users (id int PRIMARY KEY, email text, name text, phone text, active boolean, secret text)";
    p.must(table);
    c.must(table);
    p.must(
        "INSERT INTO users VALUES \
         (1, 'a@x.org', 'Alice', '555-1', true, 's1'), \
         (2, 'b@x.org', 'Bob', '555-2', false, 's2'), \
         (3, 'c@x.org', NULL, NULL, true, 's3'), \
         (4, 'd@x.org', 'Dora', '555-4', NULL, 's4')",
    );
    p.must(
        "CREATE PUBLICATION pub FOR TABLE users (id, email, name, phone, active) WHERE (active) \
         WITH (mask_salt = 'pepper') MASK (users.email = hash, users.name = partial(1, 0))",
    );
    c.must(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub",
        conninfo(&[&publisher])
    ));
    // Only active rows (NULL is false); secret not published; name masked.
    wait_rows(
        &subscriber,
        "SELECT id::text, name, phone, active::text, secret FROM users",
        &[
            vec![s("1"), s("A****"), s("555-1"), s("true"), None],
            vec![s("3"), None, None, s("true"), None],
        ],
        &[&publisher],
    );
    let emails = rows(&mut c, "SELECT email FROM users").unwrap_or_default();
    for e in emails.iter().flatten().flatten() {
        assert_eq!(e.len(), 64, "hash mask is 64 hex characters: {e}");
        assert!(e.chars().all(|ch| ch.is_ascii_hexdigit()), "{e}");
        assert!(!e.contains('@'));
    }
    // Rows moving in and out of the filter, and plain changes.
    p.must("UPDATE users SET active = false WHERE id = 1"); // yes → no: delete
    p.must("UPDATE users SET active = true WHERE id = 2"); // no → yes: insert
    p.must("UPDATE users SET phone = '555-33' WHERE id = 3"); // yes → yes: update
    p.must("UPDATE users SET phone = '555-44' WHERE id = 4"); // no → no: nothing
    p.must("INSERT INTO users VALUES (5, 'e@x.org', 'Eve', NULL, true, 's5'), (6, 'f@x.org', 'Finn', NULL, false, 's6')");
    p.must("DELETE FROM users WHERE id = 3");
    wait_rows(
        &subscriber,
        "SELECT id::text, name, phone, active::text, secret FROM users",
        &[
            vec![s("2"), s("B**"), s("555-2"), s("true"), None],
            vec![s("5"), s("E**"), None, s("true"), None],
        ],
        &[&publisher],
    );
    // TRUNCATE travels as a truncate (the subscriber's table is emptied,
    // rows inserted after it in the same transaction follow); a long run of
    // inserts is applied through COPY, control characters intact.
    p.must("BEGIN");
    p.must("TRUNCATE users");
    p.must("INSERT INTO users VALUES (2, 'b@x.org', 'Bo', 'x', true, 's2')");
    p.must(
        "INSERT INTO users SELECT g, 'u' || g::text, 'N', '5' || chr(9) || '\\' || chr(10) || g::text, true, 's' \
         FROM generate_series(10, 109) AS g",
    );
    p.must("COMMIT");
    wait_rows(
        &subscriber,
        "SELECT count(*)::text, min(id)::text, max(id)::text FROM users",
        &[vec![s("101"), s("2"), s("109")]],
        &[&publisher],
    );
    let phone = rows(&mut c, "SELECT phone FROM users WHERE id = 42").unwrap_or_default();
    assert_eq!(phone, vec![vec![s("5\t\\\n42")]]);
    // Views, admin API and metrics describe it.
    let stat = rows(
        &mut c,
        "SELECT subname, enabled::text, status FROM rustydb_stat_subscription",
    )
    .unwrap_or_default();
    assert_eq!(stat, vec![vec![s("sub"), s("true"), s("streaming")]]);
    let pg = rows(&mut c, "SELECT subname, subslotname FROM pg_subscription").unwrap_or_default();
    assert_eq!(pg, vec![vec![s("sub"), s("sub")]]);
    let api = subscriber
        .admin()
        .get_json("/subscriptions")
        .unwrap_or_default();
    assert_eq!(api[0]["name"], "sub", "{api}");
    assert!(api[0]["rows_applied"].as_u64().unwrap_or(0) >= 4, "{api}");
    let metrics = subscriber
        .admin()
        .get("/metrics")
        .map(|r| r.text)
        .unwrap_or_default();
    assert!(
        metrics.contains("rustydb_subscription_rows_applied_total{subscription=\"sub\"}"),
        "{metrics}"
    );
    // The slot exists on the publisher while subscribed, and DROP removes it.
    let slots = publisher.admin().get_json("/slots").unwrap_or_default();
    assert!(slots.to_string().contains("\"sub\""), "{slots}");
    c.must("DROP SUBSCRIPTION sub");
    let slots = publisher.admin().get_json("/slots").unwrap_or_default();
    assert!(!slots.to_string().contains("\"name\":\"sub\""), "{slots}");
    // PostgreSQL's errors.
    let dup = c.simple("DROP SUBSCRIPTION sub");
    assert_eq!(dup.code(), Some("42704"), "{dup}");
    let bad = c.simple(&format!(
        "CREATE SUBSCRIPTION s2 CONNECTION '{}' PUBLICATION nopub",
        conninfo(&[&publisher])
    ));
    assert!(!bad.is_ok(), "{bad}");
}

/// Inserts `n` transactions of one row each into `t` (pk) and `tlog`
/// (no pk) on whatever node of `targets` accepts writes; returns when done
/// or when `stop` is set. Counts committed transactions in `done`.
fn write_load(ports: Vec<u16>, n: u64, done: Arc<AtomicU64>, stop: Arc<AtomicBool>) {
    let mut i = done.load(Ordering::SeqCst);
    let mut client: Option<SqlClient> = None;
    while i < n && !stop.load(Ordering::SeqCst) {
        if client.as_ref().is_none_or(|c| !c.is_alive()) {
            client = ports.iter().find_map(|p| {
                let mut c = SqlClient::connect(*p, "postgres").ok()?;
                (c.simple("SELECT pg_is_in_recovery()").scalar() == Some("f")).then_some(c)
            });
            if client.is_none() {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        }
        let Some(c) = client.as_mut() else { continue };
        let id = i + 1;
        let out = c.simple(&format!(
            "BEGIN; INSERT INTO t VALUES ({id}, {id}); INSERT INTO tlog VALUES ({id}); COMMIT"
        ));
        match out {
            Outcome::Ok { .. } => {
                i = id;
                done.store(i, Ordering::SeqCst);
            }
            Outcome::Error { code, .. } if code == "23505" => {
                // Committed before a connection loss we did not see.
                i = id;
                done.store(i, Ordering::SeqCst);
            }
            _ => {
                client = None;
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[test]
fn subscriber_killed_mid_stream_loses_and_duplicates_nothing() {
    let publisher = ClusterNode::primary("pub", &[]);
    let mut subscriber = ClusterNode::primary("sub", &[]);
    let mut p = publisher.connect();
    let mut c = subscriber.connect();
    for sql in [
        "CREATE TABLE t (id bigint PRIMARY KEY, v bigint)",
        "CREATE TABLE tlog (id bigint)",
    ] {
        p.must(sql);
        c.must(sql);
    }
    p.must("CREATE PUBLICATION pub FOR TABLE t, tlog");
    c.must(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub",
        conninfo(&[&publisher])
    ));
    let total = 600u64;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, stop, port) = (done.clone(), stop.clone(), publisher.port());
        std::thread::spawn(move || write_load(vec![port], total, done, stop))
    };
    for round in 0..2 {
        let target = total * (round + 1) / 3;
        let _ = wait_until("load progressing", BOUND, || {
            let d = done.load(Ordering::SeqCst);
            if d >= target {
                Ok(())
            } else {
                Err(format!("{d} written"))
            }
        });
        // Let the subscriber be mid-stream, then kill it.
        let _ = wait_until("subscriber applying", BOUND, || {
            let n = subscriber
                .try_connect()
                .map(|mut c| {
                    c.simple("SELECT count(*) FROM t")
                        .scalar()
                        .unwrap_or("0")
                        .to_string()
                })
                .unwrap_or_default();
            if n.parse::<u64>().unwrap_or(0) > 0 {
                Ok(())
            } else {
                Err(n)
            }
        });
        subscriber.kill9();
        std::thread::sleep(Duration::from_millis(300));
        subscriber.restart();
    }
    let _ = writer.join();
    assert_eq!(done.load(Ordering::SeqCst), total);
    let want: Vec<Vec<Option<String>>> = (1..=total).map(|i| vec![Some(i.to_string())]).collect();
    wait_rows(
        &subscriber,
        "SELECT id::text FROM tlog",
        &want,
        &[&publisher],
    );
    wait_rows(&subscriber, "SELECT id::text FROM t", &want, &[&publisher]);
    // The data can be complete before the restarted worker's stream is
    // open again; it must get there.
    let mut c = subscriber.connect();
    let streaming = wait_until("subscription streaming again", BOUND, || {
        let status =
            rows(&mut c, "SELECT status FROM rustydb_stat_subscription").unwrap_or_default();
        if status == vec![vec![s("streaming")]] {
            Ok(())
        } else {
            Err(format!("{status:?}"))
        }
    });
    assert!(streaming.is_ok(), "{streaming:?}");
    stop.store(true, Ordering::SeqCst);
}

#[test]
fn publisher_failover_resumes_on_the_new_primary() {
    let mut primary = ClusterNode::primary("pub1", &["--commit-mode", "sync"]);
    let replica = ClusterNode::replica("pub2", &primary, &[]);
    let subscriber = ClusterNode::primary("sub", &[]);
    let mut p = primary.connect();
    let mut c = subscriber.connect();
    for sql in [
        "CREATE TABLE t (id bigint PRIMARY KEY, v bigint)",
        "CREATE TABLE tlog (id bigint)",
    ] {
        p.must(sql);
        c.must(sql);
    }
    p.must("CREATE PUBLICATION pub FOR TABLE t, tlog");
    c.must(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub",
        conninfo(&[&primary, &replica])
    ));
    let total = 400u64;
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, stop) = (done.clone(), stop.clone());
        let ports = vec![primary.port(), replica.port()];
        std::thread::spawn(move || write_load(ports, total, done, stop))
    };
    let _ = wait_until("load progressing", BOUND, || {
        let d = done.load(Ordering::SeqCst);
        if d >= total / 3 {
            Ok(())
        } else {
            Err(format!("{d} written"))
        }
    });
    primary.kill9();
    let promoted = replica.admin().post("/promote", None);
    assert!(
        promoted.as_ref().is_ok_and(|r| r.status == 200),
        "{promoted:?}"
    );
    let _ = writer.join();
    stop.store(true, Ordering::SeqCst);
    // The subscriber ends with exactly the new primary's rows.
    let mut r = replica.connect();
    let want = rows(&mut r, "SELECT id::text FROM tlog").unwrap_or_default();
    assert!(
        want.len() as u64 >= total - 1,
        "new primary has {} rows",
        want.len()
    );
    let distinct: BTreeSet<_> = want.iter().collect();
    assert_eq!(distinct.len(), want.len());
    wait_rows(&subscriber, "SELECT id::text FROM tlog", &want, &[&replica]);
    wait_rows(&subscriber, "SELECT id::text FROM t", &want, &[&replica]);
}

#[test]
fn conflict_is_visible_and_skip_moves_past_it() {
    let publisher = ClusterNode::primary("pub", &[]);
    let subscriber = ClusterNode::primary("sub", &[]);
    let mut p = publisher.connect();
    let mut c = subscriber.connect();
    let table = "CREATE TABLE t (id int PRIMARY KEY, v text)";
    p.must(table);
    c.must(table);
    p.must("CREATE PUBLICATION pub FOR TABLE t");
    c.must(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub WITH (copy_data = false)",
        conninfo(&[&publisher])
    ));
    wait_until("subscription streaming", BOUND, || {
        let st = rows(&mut c, "SELECT status FROM rustydb_stat_subscription")?;
        if st == vec![vec![s("streaming")]] {
            Ok(())
        } else {
            Err(format!("{st:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&[&subscriber, &publisher])));
    c.must("INSERT INTO t VALUES (100, 'local')");
    p.must("INSERT INTO t VALUES (1, 'one')");
    p.must("INSERT INTO t VALUES (100, 'remote')");
    p.must("INSERT INTO t VALUES (2, 'two')");
    let failing = wait_until("conflict reported", BOUND, || {
        let st = rows(
            &mut c,
            "SELECT status, last_error, last_error_lsn::text FROM rustydb_stat_subscription",
        )?;
        match st.first() {
            Some(row) if row[0].as_deref() == Some("error") => Ok(row.clone()),
            _ => Err(format!("{st:?}")),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", logs(&[&subscriber, &publisher])));
    let message = failing[1].clone().unwrap_or_default();
    assert!(message.contains("duplicate key"), "{message}");
    let lsn = failing[2].clone().unwrap_or_default();
    assert_eq!(
        rows(&mut c, "SELECT id::text, v FROM t").unwrap_or_default(),
        vec![vec![s("1"), s("one")], vec![s("100"), s("local")]]
    );
    // A wrong LSN is refused: it must be past the applied position.
    let wrong = c.simple("ALTER SUBSCRIPTION sub SKIP (lsn = '0/1')");
    assert_eq!(wrong.code(), Some("22023"), "{wrong}");
    c.must(&format!("ALTER SUBSCRIPTION sub SKIP (lsn = '{lsn}')"));
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM t",
        &[
            vec![s("1"), s("one")],
            vec![s("100"), s("local")],
            vec![s("2"), s("two")],
        ],
        &[&publisher],
    );
    let st = rows(
        &mut c,
        "SELECT status, subskiplsn::text FROM rustydb_stat_subscription, pg_subscription",
    )
    .unwrap_or_default();
    assert_eq!(st, vec![vec![s("streaming"), s("0/0")]]);
}

#[test]
fn refresh_publication_copies_new_tables() {
    let publisher = ClusterNode::primary("pub", &[]);
    let subscriber = ClusterNode::primary("sub", &[]);
    let mut p = publisher.connect();
    let mut c = subscriber.connect();
    for table in [
        "CREATE TABLE a (id int PRIMARY KEY, v text)",
        "CREATE TABLE b (id int PRIMARY KEY, v text)",
    ] {
        p.must(table);
        c.must(table);
    }
    p.must("INSERT INTO a VALUES (1, 'a1')");
    p.must("INSERT INTO b VALUES (1, 'b1'), (2, 'b2')");
    p.must("CREATE PUBLICATION pub FOR TABLE a");
    c.must(&format!(
        "CREATE SUBSCRIPTION sub CONNECTION '{}' PUBLICATION pub",
        conninfo(&[&publisher])
    ));
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM a",
        &[vec![s("1"), s("a1")]],
        &[&publisher],
    );
    // b joins the publication; its changes are not applied before REFRESH
    // (as PostgreSQL: the table is not synchronised yet), so an update of a
    // row the subscriber does not have is no conflict.
    p.must("ALTER PUBLICATION pub ADD TABLE b");
    p.must("INSERT INTO b VALUES (3, 'b3')");
    p.must("UPDATE b SET v = 'b1x' WHERE id = 1");
    p.must("INSERT INTO a VALUES (2, 'a2')");
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM a",
        &[vec![s("1"), s("a1")], vec![s("2"), s("a2")]],
        &[&publisher],
    );
    assert_eq!(
        rows(&mut c, "SELECT count(*)::text FROM b").unwrap_or_default(),
        vec![vec![s("0")]]
    );
    // REFRESH copies b as it is now; later changes of b flow, none twice.
    c.must("ALTER SUBSCRIPTION sub REFRESH PUBLICATION");
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM b",
        &[
            vec![s("1"), s("b1x")],
            vec![s("2"), s("b2")],
            vec![s("3"), s("b3")],
        ],
        &[&publisher],
    );
    p.must("UPDATE b SET v = 'b2x' WHERE id = 2");
    p.must("INSERT INTO b VALUES (4, 'b4')");
    p.must("INSERT INTO a VALUES (3, 'a3')");
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM b",
        &[
            vec![s("1"), s("b1x")],
            vec![s("2"), s("b2x")],
            vec![s("3"), s("b3")],
            vec![s("4"), s("b4")],
        ],
        &[&publisher],
    );
    wait_rows(
        &subscriber,
        "SELECT id::text, v FROM a",
        &[
            vec![s("1"), s("a1")],
            vec![s("2"), s("a2")],
            vec![s("3"), s("a3")],
        ],
        &[&publisher],
    );
    let st = rows(&mut c, "SELECT status FROM rustydb_stat_subscription").unwrap_or_default();
    assert_eq!(st, vec![vec![s("streaming")]]);
}
