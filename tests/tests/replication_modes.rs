//! Commit modes on a primary: what a client's acknowledgement promises.
//!
//! - `sync_acknowledged_commits_survive_primary_kill`: `--commit-mode sync
//!   --num-sync 1` with one replica; committer threads record every
//!   acknowledged key (autocommit INSERTs and two-table transactions); the
//!   primary is killed with `kill -9` mid-load; every acknowledged key is on
//!   the replica, no transaction is half there, nothing unattempted appears.
//! - `semi_sync_degrades_and_recovers`: `--commit-mode semi-sync
//!   --semi-sync-timeout-ms 500`; with the only replica killed, commits keep
//!   succeeding and `/status` reports `degraded`, `/replication` records an
//!   event; after the replica restarts, `degraded` clears by itself.
//! - `sync_without_replica_acknowledges_nothing`: `--commit-mode sync
//!   --sync-timeout-ms 1000` and no replica: commits fail with 40003 (never
//!   OK), the session stays usable; `SET [LOCAL] synchronous_commit =
//!   local|off` opts out; once a replica streams, commits succeed.
//! - `commit_mode_changes_live`: `POST /replication/mode` switches an async
//!   primary to sync (commits then need a replica) and back; an invalid mode
//!   is refused and changes nothing.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rustydb_tests::cluster::{
    describe_all, query_scalar, wait_caught_up, wait_streaming, wait_until, ClusterNode,
};
use rustydb_tests::{Outcome, SqlClient};
use serde_json::Value;

type Keys = BTreeSet<(i64, i64)>;

#[derive(Default)]
struct Ledger {
    single_acked: Keys,
    pair_acked: Keys,
    attempted_single: Keys,
    attempted_pair: Keys,
}

fn lock(l: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    match l.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writes keys `(thread_id, seq)` until stopped or the connection breaks;
/// a key counts as acknowledged only after OK for its INSERT or COMMIT.
fn committer(port: u16, thread_id: i64, stop: Arc<AtomicBool>, ledger: Arc<Mutex<Ledger>>) {
    let Ok(mut c) = SqlClient::connect(port, "postgres") else {
        return;
    };
    c.set_timeout(Duration::from_secs(15));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seq = 0i64;
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        seq += 1;
        let key = (thread_id, seq);
        if seq % 2 == 0 {
            lock(&ledger).attempted_single.insert(key);
            let sql = format!("INSERT INTO sync_single (thread, seq) VALUES ({thread_id}, {seq})");
            match c.simple(&sql) {
                Outcome::Ok { .. } => {
                    lock(&ledger).single_acked.insert(key);
                }
                _ => return,
            }
        } else {
            lock(&ledger).attempted_pair.insert(key);
            for sql in [
                "BEGIN".to_string(),
                format!("INSERT INTO sync_a (thread, seq) VALUES ({thread_id}, {seq})"),
                format!("INSERT INTO sync_b (thread, seq) VALUES ({thread_id}, {seq})"),
            ] {
                if !c.simple(&sql).is_ok() {
                    return;
                }
            }
            match c.simple("COMMIT") {
                Outcome::Ok { .. } => {
                    lock(&ledger).pair_acked.insert(key);
                }
                _ => return,
            }
        }
    }
}

fn keys(c: &mut SqlClient, table: &str) -> Result<Keys, String> {
    let out = c.simple(&format!("SELECT thread, seq FROM {table}"));
    let Outcome::Ok { rows, .. } = out else {
        return Err(format!("SELECT from {table}: {out}"));
    };
    rows.iter()
        .map(|r| {
            let n = |i: usize| -> Result<i64, String> {
                r.get(i)
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| format!("bad row in {table}: {r:?}"))
            };
            Ok((n(0)?, n(1)?))
        })
        .collect()
}

#[test]
fn sync_acknowledged_commits_survive_primary_kill() {
    let mut p = ClusterNode::primary("p", &["--commit-mode", "sync", "--num-sync", "1"]);
    let r = ClusterNode::replica("r", &p, &[]);
    wait_streaming(&p, 1);
    {
        let mut c = p.connect();
        for t in ["sync_single", "sync_a", "sync_b"] {
            c.must(&format!(
                "CREATE TABLE {t} (thread int8 NOT NULL, seq int8 NOT NULL, PRIMARY KEY (thread, seq))"
            ));
        }
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..6)
        .map(|t| {
            let (stop, ledger, port) = (stop.clone(), ledger.clone(), p.port());
            thread::spawn(move || committer(port, t, stop, ledger))
        })
        .collect();
    thread::sleep(Duration::from_secs(3));
    p.kill9();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().expect("committer thread panicked");
    }

    let l = lock(&ledger);
    println!(
        "acknowledged {} single inserts and {} transactions before the kill",
        l.single_acked.len(),
        l.pair_acked.len()
    );
    assert!(
        !l.single_acked.is_empty() && !l.pair_acked.is_empty(),
        "no commit was acknowledged before the kill\n{}",
        describe_all(&[&p, &r])
    );
    // The replica had every acknowledged record flushed; applying them may
    // trail by a moment, so poll (bounded) until nothing is missing.
    let found = wait_until(
        "acknowledged keys on the replica",
        Duration::from_secs(30),
        || {
            let mut c = r.try_connect()?;
            let single = keys(&mut c, "sync_single")?;
            let a = keys(&mut c, "sync_a")?;
            let b = keys(&mut c, "sync_b")?;
            let lost_single: Vec<_> = l.single_acked.difference(&single).collect();
            let lost_pair: Vec<_> = l.pair_acked.difference(&a).collect();
            if lost_single.is_empty() && lost_pair.is_empty() {
                Ok((single, a, b))
            } else {
                Err(format!(
                    "missing {} acknowledged inserts (e.g. {:?}) and {} transactions (e.g. {:?})",
                    lost_single.len(),
                    lost_single.first(),
                    lost_pair.len(),
                    lost_pair.first()
                ))
            }
        },
    );
    let (single, a, b) = found.unwrap_or_else(|e| panic!("{e}\n{}", describe_all(&[&p, &r])));
    let half: Vec<_> = a.symmetric_difference(&b).collect();
    assert!(
        half.is_empty(),
        "half-applied transactions on the replica: {half:?}"
    );
    let phantom: Vec<_> = single.difference(&l.attempted_single).collect();
    assert!(phantom.is_empty(), "rows never written: {phantom:?}");
    let phantom: Vec<_> = a.difference(&l.attempted_pair).collect();
    assert!(phantom.is_empty(), "rows never written: {phantom:?}");
}

fn degraded(p: &ClusterNode) -> Result<bool, String> {
    let s = p.status()?;
    s.get("degraded")
        .and_then(Value::as_bool)
        .ok_or_else(|| format!("/status has no boolean `degraded`: {s}"))
}

/// The value of `rustydb_replication_degraded` in `GET /metrics`.
fn degraded_metric(p: &ClusterNode) -> Result<f64, String> {
    let text = p.admin().get("/metrics")?.text;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            (name.split('{').next() == Some("rustydb_replication_degraded"))
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .ok_or_else(|| format!("no rustydb_replication_degraded in /metrics:\n{text}"))
}

#[test]
fn semi_sync_degrades_and_recovers() {
    let p = ClusterNode::primary(
        "p",
        &[
            "--commit-mode",
            "semi-sync",
            "--semi-sync-timeout-ms",
            "500",
        ],
    );
    let mut r = ClusterNode::replica("r", &p, &[]);
    wait_streaming(&p, 1);
    let ctx = |p: &ClusterNode, r: &ClusterNode| describe_all(&[p, r]);

    let mut c = p.connect();
    c.set_timeout(Duration::from_secs(10));
    c.must("CREATE TABLE ss (id int8 PRIMARY KEY)");
    let mut next = 0i64;
    let mut insert = |c: &mut SqlClient| {
        next += 1;
        let out = c.simple(&format!("INSERT INTO ss VALUES ({next})"));
        (next, out)
    };
    for _ in 0..10 {
        let (id, out) = insert(&mut c);
        assert!(out.is_ok(), "insert {id} with the replica up: {out}");
    }
    assert_eq!(p.status_field("commit_mode"), Value::from("semi-sync"));
    assert_eq!(degraded(&p), Ok(false), "degraded with a healthy replica");

    r.kill9();
    // Commits continue: at most the timeout for the first, then async.
    for _ in 0..20 {
        let (id, out) = insert(&mut c);
        assert!(
            out.is_ok(),
            "semi-sync commit {id} failed with the replica down: {out}\n{}",
            ctx(&p, &r)
        );
    }
    wait_until(
        "degraded = true",
        Duration::from_secs(10),
        || match degraded(&p)? {
            true => Ok(()),
            false => Err("degraded still false".into()),
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx(&p, &r)));
    let rep = p
        .admin()
        .get_json("/replication")
        .unwrap_or_else(|e| panic!("{e}\n{}", ctx(&p, &r)));
    assert_eq!(
        rep.get("degraded").and_then(Value::as_bool),
        Some(true),
        "{rep}"
    );
    let events = rep
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        events
            .iter()
            .any(|e| e.to_string().to_lowercase().contains("degrad")),
        "no replication event mentions the degradation: {rep}"
    );
    assert_eq!(degraded_metric(&p), Ok(1.0), "metric while degraded");
    assert!(
        p.log_tail(20_000)
            .lines()
            .any(|l| l.contains("WARN") && l.to_lowercase().contains("degrad")),
        "no warning in the primary's log about the degradation\n{}",
        p.describe()
    );

    r.restart();
    // Keep committing while waiting: recovery is noticed as the replica
    // catches up with the commits it is sent.
    wait_until("degraded = false", Duration::from_secs(60), || {
        let (id, out) = insert(&mut c);
        if !out.is_ok() {
            return Ok(Err(format!(
                "insert {id} after the replica restarted: {out}"
            )));
        }
        match degraded(&p)? {
            false => Ok(Ok(())),
            true => Err("still degraded".into()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx(&p, &r)))
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx(&p, &r)));
    assert_eq!(p.status_field("commit_mode"), Value::from("semi-sync"));
    assert_eq!(degraded_metric(&p), Ok(0.0), "metric after recovery");

    let lsn = wait_caught_up(&p, &[&r]);
    let count = |n: &ClusterNode| query_scalar(&mut n.connect(), "SELECT count(*) FROM ss");
    assert_eq!(count(&p), count(&r), "row counts at LSN {lsn}");
}

#[test]
fn sync_without_replica_acknowledges_nothing() {
    let p = ClusterNode::primary(
        "p",
        &[
            "--commit-mode",
            "sync",
            "--num-sync",
            "1",
            "--sync-timeout-ms",
            "1000",
        ],
    );
    assert_eq!(p.status_field("commit_mode"), Value::from("sync"));
    let mut c = p.connect();
    c.set_timeout(Duration::from_secs(20));

    // DDL commits too: not confirmed, but durable on this node (spec), so
    // the table exists for what follows.
    let out = c.simple("CREATE TABLE nosync (id int8 PRIMARY KEY)");
    assert_eq!(
        out.code(),
        Some("40003"),
        "CREATE TABLE with no replica: {out}\n{}",
        p.describe()
    );

    let out = c.simple("INSERT INTO nosync VALUES (1)");
    assert_eq!(
        out.code(),
        Some("40003"),
        "autocommit INSERT with no replica: {out}\n{}",
        p.describe()
    );
    let out = c.simple("INSERT INTO nosync VALUES (2) RETURNING id");
    assert_eq!(
        out.code(),
        Some("40003"),
        "INSERT RETURNING with no replica: {out}"
    );
    assert!(
        out.rows().is_empty(),
        "rows reported for an unacknowledged commit: {out}"
    );

    assert!(c.simple("BEGIN").is_ok());
    let out = c.simple("INSERT INTO nosync VALUES (3)");
    assert!(
        out.is_ok(),
        "INSERT inside a block (not yet a commit): {out}"
    );
    let out = c.simple("COMMIT");
    assert_eq!(out.code(), Some("40003"), "COMMIT with no replica: {out}");

    // The session is usable afterwards (outside any transaction block).
    let out = c.simple("SELECT 1");
    assert_eq!(out.scalar(), Some("1"), "session after a 40003: {out}");

    // Opting out per session or per transaction (PostgreSQL's
    // synchronous_commit = local / off) does not wait for a replica.
    for (id, level) in [(4, "local"), (5, "off")] {
        c.must(&format!("SET synchronous_commit = {level}"));
        let out = c.simple(&format!("INSERT INTO nosync VALUES ({id})"));
        assert!(
            out.is_ok(),
            "INSERT with synchronous_commit = {level}: {out}"
        );
    }
    c.must("SET synchronous_commit = on");
    let out = c.simple("INSERT INTO nosync VALUES (6)");
    assert_eq!(
        out.code(),
        Some("40003"),
        "after SET synchronous_commit = on: {out}"
    );
    c.must("BEGIN");
    c.must("SET LOCAL synchronous_commit = local");
    c.must("INSERT INTO nosync VALUES (7)");
    let out = c.simple("COMMIT");
    assert!(
        out.is_ok(),
        "COMMIT under SET LOCAL synchronous_commit = local: {out}"
    );
    let out = c.simple("INSERT INTO nosync VALUES (8)");
    assert_eq!(
        out.code(),
        Some("40003"),
        "SET LOCAL outlived its transaction: {out}"
    );

    // Positive control: with a replica streaming the same commits succeed,
    // so the failures above were about the missing replica.
    let r = ClusterNode::replica("r", &p, &[]);
    wait_streaming(&p, 1);
    let out = c.simple("INSERT INTO nosync VALUES (10)");
    assert!(
        out.is_ok(),
        "INSERT with a sync replica streaming: {out}\n{}",
        describe_all(&[&p, &r])
    );
    wait_caught_up(&p, &[&r]);
    let mut rc = r.connect();
    assert_eq!(
        query_scalar(&mut rc, "SELECT count(*) FROM nosync WHERE id = 10"),
        Ok(Some("1".into())),
        "acknowledged sync commit not on the replica"
    );
}

#[test]
fn commit_mode_changes_live() {
    let p = ClusterNode::primary("p", &[]);
    let mut c = p.connect();
    c.set_timeout(Duration::from_secs(20));
    c.must("CREATE TABLE live_mode (id int8 PRIMARY KEY)");
    c.must("INSERT INTO live_mode VALUES (1)");
    assert_eq!(p.status_field("commit_mode"), Value::from("async"));

    let set_mode = |body: Value| {
        p.admin()
            .post("/replication/mode", Some(&body))
            .unwrap_or_else(|e| panic!("POST /replication/mode: {e}\n{}", p.describe()))
    };
    let reply = set_mode(serde_json::json!(
        {"commit_mode": "sync", "num_sync": 1, "sync_timeout_ms": 500}
    ));
    assert_eq!(reply.status, 200, "switch to sync: {reply:?}");
    assert_eq!(
        reply.json.get("commit_mode"),
        Some(&Value::from("sync")),
        "{reply:?}"
    );
    assert_eq!(p.status_field("commit_mode"), Value::from("sync"));
    let out = c.simple("INSERT INTO live_mode VALUES (2)");
    assert_eq!(
        out.code(),
        Some("40003"),
        "sync commit with no replica: {out}"
    );

    let reply = set_mode(serde_json::json!({"commit_mode": "bogus"}));
    assert!(
        (400..500).contains(&reply.status),
        "an invalid mode is refused: {reply:?}"
    );
    assert_eq!(
        p.status_field("commit_mode"),
        Value::from("sync"),
        "mode after a refused change"
    );

    let reply = set_mode(serde_json::json!({"commit_mode": "async"}));
    assert_eq!(reply.status, 200, "switch back to async: {reply:?}");
    let out = c.simple("INSERT INTO live_mode VALUES (3)");
    assert!(out.is_ok(), "async commit: {out}");
    assert_eq!(p.status_field("commit_mode"), Value::from("async"));
}
