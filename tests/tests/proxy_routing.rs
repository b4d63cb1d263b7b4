//! Read/write split through `rustydb proxy` (static mode, transaction
//! pooling), each rule proven by *which backend answered*: the backend's own
//! `inet_server_port()` (PostgreSQL 15 primary + streaming hot standby) or
//! `current_setting('rustydb.node_name')` (RustyDB primary + replica).
//!
//! - reads (SELECT, VALUES, SHOW, read-only CTEs, COPY (SELECT) TO,
//!   BEGIN READ ONLY, extended-protocol SELECT, after a replayed SET) run on
//!   the replica;
//! - writes, DDL, SELECT ... FOR UPDATE/SHARE/NO KEY UPDATE/KEY SHARE,
//!   data-modifying CTEs, nextval/setval/txid_current/pg_current_wal_lsn/
//!   set_config/advisory locks, the `/* rustydb:primary */` hint,
//!   multi-statement text with a write, explicit
//!   transactions, temp tables and SQL PREPARE (pinned) run on the primary;
//! - read-your-writes: after a commit, the session's reads see it, on the
//!   primary while the replica (delayed by `recovery_min_apply_delay`) has
//!   not applied it, and on the replica again once it has; a session that
//!   wrote nothing keeps reading the (stale) replica, and with
//!   `read_your_writes = false` the writer does too.
//!
//! Every rule runs on a fresh client (no read-your-writes floor, no pin
//! carried over) and failures are collected, so one run lists every broken
//! rule.

use rustydb_tests::extended::ExtOutcome;
use rustydb_tests::fleet::{unhex, wait_replicas, Failures, Fleet, CONVERGE};
use rustydb_tests::proxy::{ConnectOpts, ProxyProc, ProxySpec};
use rustydb_tests::SqlClient;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Want {
    Primary,
    Replica,
    /// The statement succeeding proves the primary ran it (a hot standby
    /// refuses it with 25006 / "cannot execute ... during recovery").
    Succeeds,
}

/// (name, sql with `{who}` in the first column, expected, PostgreSQL only)
const RULES: &[(&str, &str, Want, bool)] = &[
    ("plain SELECT", "SELECT {who}", Want::Replica, false),
    (
        "SELECT from a table",
        "SELECT {who} FROM rt WHERE id = 1",
        Want::Replica,
        false,
    ),
    ("VALUES", "VALUES ({who})", Want::Replica, false),
    ("SHOW", "SHOW rustydb.node_name", Want::Replica, false),
    (
        "read-only CTE",
        "WITH x AS (SELECT 1 AS a) SELECT {who} FROM x",
        Want::Replica,
        false,
    ),
    (
        "subquery",
        "SELECT {who} FROM (SELECT id FROM rt) s WHERE s.id = 1",
        Want::Replica,
        false,
    ),
    (
        "INSERT",
        "INSERT INTO rt VALUES (100, 'x') RETURNING {who}",
        Want::Primary,
        false,
    ),
    (
        "UPDATE",
        "UPDATE rt SET v = 'b' WHERE id = 1 RETURNING {who}",
        Want::Primary,
        false,
    ),
    (
        "DELETE",
        "DELETE FROM rt WHERE id = 100 RETURNING {who}",
        Want::Primary,
        false,
    ),
    (
        "FOR UPDATE",
        "SELECT {who} FROM rt WHERE id = 1 FOR UPDATE",
        Want::Primary,
        false,
    ),
    (
        "FOR SHARE",
        "SELECT {who} FROM rt WHERE id = 1 FOR SHARE",
        Want::Primary,
        false,
    ),
    (
        "FOR NO KEY UPDATE",
        "SELECT {who} FROM rt WHERE id = 1 FOR NO KEY UPDATE",
        Want::Primary,
        true,
    ),
    (
        "FOR KEY SHARE",
        "SELECT {who} FROM rt WHERE id = 1 FOR KEY SHARE",
        Want::Primary,
        true,
    ),
    (
        "CTE with INSERT",
        "WITH x AS (INSERT INTO rt VALUES (101, 'c') RETURNING id) SELECT {who} FROM x",
        Want::Primary,
        true,
    ),
    (
        "CTE with UPDATE",
        "WITH x AS (UPDATE rt SET v = 'd' WHERE id = 101 RETURNING id) SELECT {who} FROM x",
        Want::Primary,
        true,
    ),
    (
        "CTE with DELETE",
        "WITH x AS (DELETE FROM rt WHERE id = 101 RETURNING id) SELECT {who} FROM x",
        Want::Primary,
        true,
    ),
    (
        "nextval",
        "SELECT {who}, nextval('rs')",
        Want::Primary,
        false,
    ),
    (
        "setval",
        "SELECT {who}, setval('rs', 10)",
        Want::Primary,
        false,
    ),
    (
        "txid_current",
        "SELECT {who}, txid_current()",
        Want::Primary,
        false,
    ),
    (
        "pg_current_wal_lsn",
        "SELECT {who}, pg_current_wal_lsn()",
        Want::Primary,
        false,
    ),
    (
        "set_config (volatile list)",
        "SELECT {who}, set_config('ptest.x', '1', true)",
        Want::Primary,
        false,
    ),
    (
        "pg_advisory_xact_lock",
        "SELECT {who}, pg_advisory_xact_lock(42)",
        Want::Primary,
        true,
    ),
    (
        "hint at the start",
        "/* rustydb:primary */ SELECT {who}",
        Want::Primary,
        false,
    ),
    (
        "hint at the end",
        "SELECT {who} /* rustydb:primary */",
        Want::Primary,
        false,
    ),
    (
        "multi-statement text with a write",
        "SELECT {who}; INSERT INTO rt VALUES (300, 'm') RETURNING {who}",
        Want::Primary,
        false,
    ),
    (
        "CREATE TABLE",
        "CREATE TABLE rt2 (a int)",
        Want::Succeeds,
        false,
    ),
    ("DROP TABLE", "DROP TABLE rt2", Want::Succeeds, false),
    (
        "SELECT INTO",
        "SELECT 1 AS a INTO rt_into",
        Want::Succeeds,
        true,
    ),
    (
        "EXPLAIN ANALYZE INSERT",
        "EXPLAIN ANALYZE INSERT INTO rt VALUES (200, 'e')",
        Want::Succeeds,
        true,
    ),
    ("VACUUM", "VACUUM rt", Want::Succeeds, true),
    ("ANALYZE", "ANALYZE rt", Want::Succeeds, true),
];

fn client(proxy: &ProxyProc) -> SqlClient {
    proxy.client()
}

/// One rule on a fresh client.
fn check_rule(fleet: &Fleet, proxy: &ProxyProc, sql: &str, want: Want) -> Result<(), String> {
    let mut c = client(proxy);
    let primary = fleet.primary_name();
    let replicas = fleet.replica_names();
    let sql = fleet.sql(sql);
    let out = c.simple(&sql);
    match want {
        Want::Succeeds => {
            if out.is_ok() {
                Ok(())
            } else {
                Err(format!("`{sql}`: {out}"))
            }
        }
        Want::Primary | Want::Replica => {
            let names = fleet.answered(&out).map_err(|e| format!("`{sql}`: {e}"))?;
            let ok = names.iter().all(|n| match want {
                Want::Primary => *n == primary,
                _ => replicas.contains(n),
            });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "`{sql}` answered by {names:?}, wanted {want:?} ({primary} is the primary)"
                ))
            }
        }
    }
}

/// The rules that need more than one statement or another protocol path.
fn check_sequences(fleet: &Fleet, proxy: &ProxyProc, f: &mut Failures) {
    let primary = fleet.primary_name();
    let replicas = fleet.replica_names();
    let is_replica = |n: &String| replicas.contains(n);

    // BEGIN READ ONLY / START TRANSACTION READ ONLY may use a replica, and
    // every statement of the block stays on that one backend.
    for begin in ["BEGIN READ ONLY", "START TRANSACTION READ ONLY"] {
        let mut c = client(proxy);
        let r = (|| {
            c.must(begin);
            let a = fleet.ask(&mut c, "SELECT {who}")?;
            let b = fleet.ask(&mut c, "SELECT {who} FROM rt WHERE id = 1")?;
            c.must("COMMIT");
            if is_replica(&a) && a == b {
                Ok(())
            } else {
                Err(format!("answered by {a} then {b}"))
            }
        })();
        f.check(&format!("{} (replica, one backend)", begin), r);
    }

    // BEGIN: the whole block on the primary, reads included.
    for begin in ["BEGIN", "START TRANSACTION"] {
        let mut c = client(proxy);
        let r = (|| {
            c.must(begin);
            let a = fleet.ask(&mut c, "SELECT {who}")?;
            let b = fleet.ask(&mut c, "INSERT INTO rt VALUES (400, 'b') RETURNING {who}")?;
            let d = fleet.ask(&mut c, "SELECT {who} FROM rt WHERE id = 400")?;
            c.must("ROLLBACK");
            if [&a, &b, &d].iter().all(|n| **n == primary) {
                Ok(())
            } else {
                Err(format!("answered by {a}, {b}, {d}"))
            }
        })();
        f.check(&format!("{begin} ... (primary, one backend)"), r);
    }

    // A temp table pins the session to the primary that holds it.
    let mut c = client(proxy);
    let r = (|| {
        let out = c.simple("CREATE TEMP TABLE tt AS SELECT 1 AS a");
        if !out.is_ok() {
            return Err(format!("CREATE TEMP TABLE: {out}"));
        }
        for _ in 0..5 {
            let n = fleet.ask(&mut c, "SELECT {who} FROM tt")?;
            if n != primary {
                return Err(format!("temp table read answered by {n}"));
            }
        }
        Ok(())
    })();
    f.check("temp table pins to the primary", r);

    // A session SET is replayed wherever the session's reads go.
    let mut c = client(proxy);
    let r = (|| {
        c.must("SET application_name = 'ptest_app'");
        for _ in 0..4 {
            let out = c.simple(&fleet.sql("SELECT {who}, current_setting('application_name')"));
            let row = out.rows().first().cloned().unwrap_or_default();
            let who = fleet.name_of(row.first().cloned().flatten().as_deref().unwrap_or(""));
            let val = row.get(1).cloned().flatten().unwrap_or_default();
            if !is_replica(&who) || val != "ptest_app" {
                return Err(format!(
                    "read after SET answered by {who} with {val:?}: {out}"
                ));
            }
        }
        c.must("RESET application_name");
        let out = c.simple("SELECT current_setting('application_name')");
        // The default may be whatever the backend connection started with.
        match out.scalar() {
            Some(v) if v != "ptest_app" => Ok(()),
            other => Err(format!("after RESET: {other:?}")),
        }
    })();
    f.check("SET replayed on the replica, RESET too", r);

    // COPY (SELECT ...) TO STDOUT reads; COPY FROM STDIN writes.
    let mut c = client(proxy);
    let r = c
        .copy_out(&fleet.sql("COPY (SELECT {who}) TO STDOUT"))
        .and_then(|b| {
            let n = fleet.name_of(String::from_utf8_lossy(&b).trim());
            if is_replica(&n) {
                Ok(())
            } else {
                Err(format!("answered by {n}"))
            }
        });
    f.check("COPY (SELECT) TO STDOUT on the replica", r);
    let mut c = client(proxy);
    let r = c
        .copy_in("COPY rt FROM STDIN", b"500\tcopy\n501\tcopy\n")
        .and_then(|n| {
            let mut p = fleet.primary_client();
            match p
                .scalar("SELECT count(*) FROM rt WHERE id IN (500, 501)")
                .as_deref()
            {
                Some("2") if n == 2 => Ok(()),
                other => Err(format!("copied {n}, primary has {other:?}")),
            }
        });
    f.check("COPY FROM STDIN on the primary", r);

    // Extended protocol: a named prepared read runs on a replica.
    let mut c = client(proxy);
    let r = match c.prepared(&fleet.sql("SELECT {who}"), &[]) {
        ExtOutcome::Ok { rows, .. } => {
            let v = rows
                .first()
                .and_then(|r| r.first())
                .cloned()
                .flatten()
                .unwrap_or_default();
            let n = fleet.name_of(&unhex(&v));
            if is_replica(&n) {
                Ok(())
            } else {
                Err(format!("answered by {n}"))
            }
        }
        other => Err(other.to_string()),
    };
    f.check("extended-protocol SELECT on the replica", r);

    if fleet.is_postgres() {
        // SQL-level PREPARE and session advisory locks pin the session.
        let mut c = client(proxy);
        let r = (|| {
            c.must(&fleet.sql("PREPARE q AS SELECT {who}"));
            let first = fleet.ask(&mut c, "EXECUTE q")?;
            for _ in 0..4 {
                let n = fleet.ask(&mut c, "EXECUTE q")?;
                if n != first {
                    return Err(format!("EXECUTE answered by {first} then {n}"));
                }
            }
            Ok(())
        })();
        f.check("SQL PREPARE pins (EXECUTE always works, same backend)", r);
        let mut c = client(proxy);
        let r = (|| {
            c.must("SELECT pg_advisory_lock(7)");
            for _ in 0..3 {
                let n = fleet.ask(&mut c, "SELECT {who}")?;
                if n != primary {
                    return Err(format!("read while holding the lock answered by {n}"));
                }
            }
            c.must("SELECT pg_advisory_unlock(7)");
            Ok(())
        })();
        f.check("session advisory lock pins to the primary", r);
    }
}

fn setup(fleet: &Fleet) {
    let mut p = fleet.primary_client();
    p.must("CREATE TABLE rt (id int PRIMARY KEY, v text)");
    p.must("INSERT INTO rt VALUES (1, 'a')");
    p.must("CREATE SEQUENCE rs");
    fleet.wait_replayed();
}

fn routing_rules(fleet: Fleet) {
    setup(&fleet);
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()).pool_mode("transaction"));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let mut f = Failures::default();
    for (name, sql, want, pg_only) in RULES {
        if *pg_only && !fleet.is_postgres() {
            continue;
        }
        f.check(
            &format!("{} [{name}]", fleet.kind()),
            check_rule(&fleet, &proxy, sql, *want),
        );
    }
    check_sequences(&fleet, &proxy, &mut f);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

#[test]
fn routing_rules_postgres() {
    routing_rules(Fleet::postgres(1));
}

#[test]
fn routing_rules_rustydb() {
    routing_rules(Fleet::rustydb(1));
}

#[test]
fn read_your_writes_postgres() {
    // The standby applies commits 2 s late (see `postgres_lagging_ryw`).
    let (fleet, primary, replica) = Fleet::postgres_lagging_ryw();
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    let off = ProxyProc::start(
        ProxySpec::static_(&fleet.addrs()).set("routing.read_your_writes", "false"),
    );
    for p in [&proxy, &off] {
        if let Err(e) = wait_replicas(&fleet, p, &ConnectOpts::default(), 1) {
            panic!("{e}\nproxy log:\n{}", p.log_tail(4000));
        }
    }
    let mut f = Failures::default();
    let mut writer = proxy.client();
    for (round, explicit) in [(1, false), (2, true), (3, false)] {
        let r = (|| {
            if explicit {
                writer.must("BEGIN");
                writer.must(&format!("INSERT INTO ryw VALUES ({round})"));
                writer.must("COMMIT");
            } else {
                writer.must(&format!("INSERT INTO ryw VALUES ({round})"));
            }
            let (who, n) = fleet.read_ryw_row(&mut writer, round)?;
            if n != "1" || who != primary {
                return Err(format!("writer's read answered by {who} with count {n}"));
            }
            // A session that wrote nothing reads the stale replica.
            let mut other = proxy.client();
            let (who, n) = fleet.read_ryw_row(&mut other, round)?;
            if who != replica || n != "0" {
                return Err(format!(
                    "other session's read answered by {who} with count {n}"
                ));
            }
            Ok(())
        })();
        f.check(
            &format!("round {round} (explicit transaction: {explicit})"),
            r,
        );
    }
    // Once the replica applied the writes, the writer reads it again.
    let r =
        rustydb_tests::cluster::wait_until("writer back on the replica", CONVERGE, || match fleet
            .read_ryw_row(&mut writer, 3)?
        {
            (who, n) if who == replica && n == "1" => Ok(()),
            other => Err(format!("{other:?}")),
        });
    f.check("writer's reads return to the replica after replay", r);
    // Control: with read_your_writes off the writer reads the stale replica.
    let mut w = off.client();
    let r = (|| {
        w.must("INSERT INTO ryw VALUES (10)");
        match fleet.read_ryw_row(&mut w, 10)? {
            (who, n) if who == replica && n == "0" => Ok(()),
            other => Err(format!("with read_your_writes=false: {other:?}")),
        }
    })();
    f.check("read_your_writes = false reads the stale replica", r);
    f.assert_none(&format!("proxy log:\n{}", proxy.log_tail(4000)));
}

#[test]
fn read_your_writes_rustydb() {
    let fleet = Fleet::rustydb(1);
    fleet
        .primary_client()
        .must("CREATE TABLE ryw (id bigint PRIMARY KEY)");
    fleet.wait_replayed();
    let proxy = ProxyProc::start(ProxySpec::static_(&fleet.addrs()));
    if let Err(e) = wait_replicas(&fleet, &proxy, &ConnectOpts::default(), 1) {
        panic!("{e}\nproxy log:\n{}", proxy.log_tail(4000));
    }
    let mut writer = proxy.client();
    for id in 1..=20 {
        writer.must(&format!("INSERT INTO ryw VALUES ({id})"));
        let r = fleet.read_ryw_row(&mut writer, id);
        match r {
            Ok((_, n)) if n == "1" => {}
            other => panic!(
                "write {id} not visible to the next read: {other:?}\nproxy log:\n{}",
                proxy.log_tail(4000)
            ),
        }
    }
}
