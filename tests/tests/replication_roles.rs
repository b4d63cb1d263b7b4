//! Roles: what a replica refuses, promotion, and a former primary that
//! rejoins after divergence.
//!
//! - `replica_refuses_writes_and_stays_usable`: INSERT/UPDATE/DELETE, DDL and
//!   `nextval` on a replica fail with 25006 and the session keeps answering
//!   reads; inside `BEGIN` the failed write aborts the block (25P02) until
//!   ROLLBACK, as on a PostgreSQL hot standby.
//! - `promote_makes_replica_writable`: `POST /promote` on a replica answers
//!   the new timeline, the node leaves recovery and accepts writes;
//!   promoting a primary answers 409.
//! - `divergent_former_primary_rewinds`: the primary P commits rows its
//!   replica R never received, dies; R is promoted and writes other rows;
//!   P restarted with `--follow R` rewinds: its lost rows disappear and its
//!   content equals R's at R's LSN, on R's timeline.
//! - `live_primary_follows_promoted_replica`: R is promoted while P still
//!   runs and both take writes (split brain); `POST /follow` tells P, live,
//!   to follow R: P rewinds its split-brain rows and converges, read-only.
//! - `divergent_former_primary_without_wal_reclones`: as above, but P's
//!   tiny WAL retention has trimmed the records past the fork, so it cannot
//!   rewind: it re-clones from R and converges.
//! - `replica_of_another_system_is_refused`: a replica pointed at an
//!   unrelated primary reports an error and keeps its own data; nothing of
//!   the other database is applied.

use serde_json::Value;

use rustydb_tests::cluster::{
    assert_same_content, describe_all, in_recovery, query_scalar, wait_caught_up, wait_until,
    ClusterNode,
};
use rustydb_tests::SqlClient;

use std::time::Duration;

fn timeline(n: &ClusterNode) -> u64 {
    n.status()
        .ok()
        .and_then(|s| s.get("timeline").and_then(Value::as_u64))
        .unwrap_or_else(|| panic!("{}: /status has no timeline\n{}", n.name(), n.describe()))
}

/// What a status query must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Value(&'static str),
    NotNull,
    Null,
    Code(&'static str),
}

fn expect_code(c: &mut SqlClient, sql: &str, code: &str) {
    let out = c.simple(sql);
    assert_eq!(out.code(), Some(code), "{sql}: expected {code}, got {out}");
}

#[test]
fn replica_refuses_writes_and_stays_usable() {
    let p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    let mut pc = p.connect();
    pc.must("CREATE TABLE w (id int8 PRIMARY KEY, v text)");
    pc.must("INSERT INTO w VALUES (1, 'one')");
    pc.must("CREATE SEQUENCE s");
    wait_caught_up(&p, &[&r]);

    let mut c = r.connect();
    for sql in [
        "INSERT INTO w VALUES (2, 'two')",
        "UPDATE w SET v = 'uno' WHERE id = 1",
        "DELETE FROM w",
        "CREATE TABLE w2 (a int4)",
        "DROP TABLE w",
        "SELECT nextval('s')",
    ] {
        expect_code(&mut c, sql, "25006");
        // Each failure leaves the session usable for reads.
        assert_eq!(
            query_scalar(&mut c, "SELECT v FROM w WHERE id = 1"),
            Ok(Some("one".into())),
            "read after `{sql}` failed on the replica"
        );
    }

    c.must("BEGIN");
    assert_eq!(
        query_scalar(&mut c, "SELECT count(*) FROM w"),
        Ok(Some("1".into()))
    );
    expect_code(&mut c, "INSERT INTO w VALUES (3, 'three')", "25006");
    expect_code(&mut c, "SELECT 1", "25P02");
    c.must("ROLLBACK");
    assert_eq!(
        query_scalar(&mut c, "SELECT count(*) FROM w"),
        Ok(Some("1".into()))
    );

    // What a replica reports about itself, as on a PostgreSQL hot standby.
    // Checked together so one run lists every mismatch.
    let checks = [
        (true, "SELECT pg_is_in_recovery()", Expect::Value("t")),
        (false, "SELECT pg_is_in_recovery()", Expect::Value("f")),
        (true, "SELECT rustydb_current_lsn()", Expect::NotNull),
        (true, "SELECT pg_current_wal_lsn()", Expect::Code("55000")),
        (true, "SELECT pg_last_wal_replay_lsn()", Expect::NotNull),
        (false, "SELECT pg_last_wal_replay_lsn()", Expect::Null),
    ];
    let mut wrong = Vec::new();
    for (on_replica, sql, expect) in checks {
        let (client, node) = if on_replica {
            (&mut c, "replica")
        } else {
            (&mut pc, "primary")
        };
        let out = client.simple(sql);
        let ok = match expect {
            Expect::Value(v) => out.is_ok() && out.scalar() == Some(v),
            Expect::NotNull => out.is_ok() && out.scalar().is_some(),
            Expect::Null => out.is_ok() && out.rows().len() == 1 && out.scalar().is_none(),
            Expect::Code(code) => out.code() == Some(code),
        };
        if !ok {
            wrong.push(format!(
                "on the {node}: {sql}: expected {expect:?}, got {out}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn promote_makes_replica_writable() {
    let p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    let mut pc = p.connect();
    pc.must("CREATE TABLE pt (id int8 PRIMARY KEY)");
    pc.must("INSERT INTO pt VALUES (1)");
    wait_caught_up(&p, &[&r]);
    let ctx = || describe_all(&[&p, &r]);

    let tl = timeline(&r);
    assert_eq!(r.status_field("role"), Value::from("replica"));
    assert_eq!(r.status_field("in_recovery"), Value::from(true));

    let reply = p
        .admin()
        .post("/promote", None)
        .expect("POST /promote on p");
    assert_eq!(reply.status, 409, "promoting a primary: {reply:?}");

    let reply = r
        .admin()
        .post("/promote", None)
        .expect("POST /promote on r");
    assert_eq!(reply.status, 200, "promote: {reply:?}\n{}", ctx());
    assert_eq!(
        reply.json.get("timeline").and_then(Value::as_u64),
        Some(tl + 1),
        "promote answer: {reply:?}"
    );
    wait_until("r is primary", Duration::from_secs(30), || {
        let s = r.status()?;
        let primary = s.get("role") == Some(&Value::from("primary"))
            && s.get("in_recovery") == Some(&Value::from(false));
        if primary {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    assert_eq!(timeline(&r), tl + 1, "timeline after promote");

    let mut c = r.connect();
    assert_eq!(
        in_recovery(&mut c),
        Ok(false),
        "pg_is_in_recovery() after promote"
    );
    c.must("INSERT INTO pt VALUES (2)");
    c.must("CREATE TABLE after_promote (a int4)");
    assert_eq!(
        query_scalar(&mut c, "SELECT count(*) FROM pt"),
        Ok(Some("2".into()))
    );

    let again = r
        .admin()
        .post("/promote", None)
        .expect("second POST /promote");
    assert_eq!(again.status, 409, "promoting twice: {again:?}");

    let history = r
        .admin()
        .get_json("/timeline")
        .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    let tls: Vec<u64> = history
        .get("history")
        .and_then(Value::as_array)
        .map(|h| {
            h.iter()
                .filter_map(|e| e.get("timeline")?.as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(tls.last(), Some(&(tl + 1)), "timeline history: {history}");
    assert!(
        tls.contains(&tl),
        "history lacks the old timeline: {history}"
    );
}

/// Rows of `t` as (id, src) text pairs, sorted.
fn rows(c: &mut SqlClient) -> Result<Vec<(String, String)>, String> {
    let out = c.simple("SELECT id, src FROM t ORDER BY id");
    if !out.is_ok() {
        return Err(out.to_string());
    }
    Ok(out
        .rows()
        .iter()
        .map(|r| {
            let f = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            (f(0), f(1))
        })
        .collect())
}

#[test]
fn divergent_former_primary_rewinds() {
    let mut p = ClusterNode::primary("p", &[]);
    let mut r = ClusterNode::replica("r", &p, &[]);
    let mut pc = p.connect();
    pc.must("CREATE TABLE t (id int8 PRIMARY KEY, src text NOT NULL)");
    for id in 1..=100 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'common')"));
    }
    wait_caught_up(&p, &[&r]);

    // P commits rows R never receives, then dies.
    r.kill9();
    for id in 101..=150 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'lost')"));
    }
    pc.must("UPDATE t SET src = 'lost-update' WHERE id <= 10");
    pc.must("CREATE TABLE lost_table (a int4)");
    drop(pc);
    p.kill9();

    // R comes back (its upstream is dead) and is promoted.
    r.restart();
    let reply = r
        .admin()
        .post("/promote", None)
        .expect("POST /promote on r");
    assert_eq!(reply.status, 200, "promote r: {reply:?}\n{}", r.describe());
    let mut rc = wait_until("r writable", Duration::from_secs(30), || {
        let mut c = r.try_connect()?;
        match in_recovery(&mut c)? {
            false => Ok(c),
            true => Err("r still in recovery".into()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r.describe()));
    for id in 101..=130 {
        rc.must(&format!("INSERT INTO t VALUES ({id}, 'new')"));
    }
    rc.must("DELETE FROM t WHERE id BETWEEN 90 AND 95");

    // P rejoins as R's replica: it must drop what R never had.
    let follow = r.addr();
    p.restart_with(&["--follow", &follow]);
    let ctx = || describe_all(&[&p, &r]);
    wait_until("p following r", Duration::from_secs(60), || {
        let s = p.status()?;
        if s.get("in_recovery") == Some(&Value::from(true))
            && s.get("stream_state") == Some(&Value::from("streaming"))
        {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    let lsn = wait_caught_up(&r, &[&p]);
    assert_same_content(&[&r, &p], &["t"], lsn);
    let mut c = p.connect();
    let got = rows(&mut c).unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    assert!(
        got.iter().all(|(_, src)| src == "common" || src == "new"),
        "rows of the dead timeline survive on the former primary: {:?}",
        got.iter()
            .filter(|(_, s)| s.starts_with("lost"))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(got.len(), 100 - 6 + 30, "row count on the rewound node");
    let out = c.simple("SELECT count(*) FROM lost_table");
    assert_eq!(
        out.code(),
        Some("42P01"),
        "table of the dead timeline: {out}"
    );
    assert_eq!(timeline(&p), timeline(&r), "rewound node's timeline");

    // The stream keeps going after the rewind.
    rc.must("INSERT INTO t VALUES (1000, 'new')");
    let lsn = wait_caught_up(&r, &[&p]);
    assert_same_content(&[&r, &p], &["t"], lsn);
    assert_eq!(
        in_recovery(&mut c),
        Ok(true),
        "pg_is_in_recovery() on the former primary"
    );
}

#[test]
fn live_primary_follows_promoted_replica() {
    let p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    let ctx = || describe_all(&[&p, &r]);
    let mut pc = p.connect();
    pc.must("CREATE TABLE t (id int8 PRIMARY KEY, src text NOT NULL)");
    for id in 1..=20 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'common')"));
    }
    wait_caught_up(&p, &[&r]);

    let reply = r
        .admin()
        .post("/promote", None)
        .expect("POST /promote on r");
    assert_eq!(reply.status, 200, "promote r: {reply:?}\n{}", ctx());
    // Split brain for a moment: both accept writes.
    for id in 21..=30 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'lost')"));
    }
    let mut rc = wait_until("r writable", Duration::from_secs(30), || {
        let mut c = r.try_connect()?;
        match c.simple("INSERT INTO t VALUES (21, 'new')") {
            out if out.is_ok() => Ok(c),
            out => Err(out.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    rc.must("INSERT INTO t VALUES (22, 'new')");
    drop(pc);

    // The old primary is told, live, to follow the new one.
    let body = serde_json::json!({ "primary": r.addr() });
    let reply = p
        .admin()
        .post("/follow", Some(&body))
        .expect("POST /follow");
    assert_eq!(reply.status, 200, "follow: {reply:?}\n{}", ctx());
    wait_until("p following r", Duration::from_secs(60), || {
        let s = p.status()?;
        if s.get("in_recovery") == Some(&Value::from(true))
            && s.get("stream_state") == Some(&Value::from("streaming"))
        {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    let lsn = wait_caught_up(&r, &[&p]);
    assert_same_content(&[&r, &p], &["t"], lsn);
    let mut c = p.connect();
    let got = rows(&mut c).unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    let lost: Vec<_> = got.iter().filter(|(_, s)| s == "lost").collect();
    assert!(lost.is_empty(), "split-brain rows survive: {lost:?}");
    assert_eq!(got.len(), 22, "rows after the rewind: {got:?}");
    assert_eq!(timeline(&p), timeline(&r), "timeline of the follower");
    expect_code(&mut c, "INSERT INTO t VALUES (99, 'x')", "25006");
}

/// The value of gauge `name` in a node's `GET /metrics`.
fn metric(n: &ClusterNode, name: &str) -> Result<f64, String> {
    let text = n.admin().get("/metrics")?.text;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (metric, value) = l.rsplit_once(' ')?;
            (metric.split('{').next() == Some(name))
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .ok_or_else(|| format!("no {name} in /metrics"))
}

#[test]
fn divergent_former_primary_without_wal_reclones() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let config = scratch.path().join("tiny-wal.toml");
    std::fs::write(
        &config,
        "[replication]\nwal_keep_bytes = 0\nwal_keep_seconds = 0\nmax_wal_bytes = 1\n",
    )
    .expect("write config");
    let config = config.to_string_lossy().into_owned();
    let mut p = ClusterNode::primary("p", &["--config", &config]);
    let mut r = ClusterNode::replica("r", &p, &[]);
    let mut pc = p.connect();
    pc.must("CREATE TABLE t (id int8 PRIMARY KEY, src text NOT NULL)");
    for id in 1..=50 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'common')"));
    }
    let fork = wait_caught_up(&p, &[&r]);

    // Past the fork, P writes far more than its WAL keeps: the records it
    // would have to undo are gone, so it cannot rewind.
    r.kill9();
    for id in 51..=80 {
        pc.must(&format!("INSERT INTO t VALUES ({id}, 'lost')"));
    }
    pc.must("CREATE TABLE lost_big (id int8 PRIMARY KEY, pad text)");
    for chunk in 0..20 {
        pc.must(&format!(
            "INSERT INTO lost_big SELECT g, 'padding padding padding' \
             FROM generate_series({}, {}) g",
            chunk * 1000 + 1,
            chunk * 1000 + 1000
        ));
    }
    wait_until(
        "P trimmed its WAL past the fork",
        Duration::from_secs(30),
        || {
            let oldest = metric(&p, "rustydb_wal_oldest_lsn")?;
            if oldest > (fork + 1) as f64 {
                Ok(())
            } else {
                Err(format!("rustydb_wal_oldest_lsn = {oldest}, fork at {fork}"))
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", p.describe()));
    drop(pc);
    p.kill9();

    r.restart();
    let reply = r
        .admin()
        .post("/promote", None)
        .expect("POST /promote on r");
    assert_eq!(reply.status, 200, "promote r: {reply:?}\n{}", r.describe());
    let mut rc = wait_until("r writable", Duration::from_secs(30), || {
        let mut c = r.try_connect()?;
        match c.simple("INSERT INTO t VALUES (51, 'new')") {
            out if out.is_ok() => Ok(c),
            out => Err(out.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", r.describe()));
    rc.must("INSERT INTO t VALUES (52, 'new')");

    let log_offset = p.log_len();
    let follow = r.addr();
    p.restart_with(&["--config", &config, "--follow", &follow]);
    let ctx = || describe_all(&[&p, &r]);
    wait_until("p following r", Duration::from_secs(60), || {
        let s = p.status()?;
        if s.get("in_recovery") == Some(&Value::from(true))
            && s.get("stream_state") == Some(&Value::from("streaming"))
        {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    let lsn = wait_caught_up(&r, &[&p]);
    assert_same_content(&[&r, &p], &["t"], lsn);
    let mut c = p.connect();
    let got = rows(&mut c).unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    assert_eq!(got.len(), 52, "rows on the re-cloned node");
    assert!(
        got.iter().all(|(_, src)| src != "lost"),
        "lost rows survive"
    );
    let out = c.simple("SELECT count(*) FROM lost_big");
    assert_eq!(
        out.code(),
        Some("42P01"),
        "table of the dead timeline: {out}"
    );
    let log = p.log_since(log_offset);
    assert!(
        log.to_lowercase().contains("clone"),
        "converged without WAL to rewind, but the log does not mention a re-clone:\n{log}"
    );
}

#[test]
fn replica_of_another_system_is_refused() {
    let p1 = ClusterNode::primary("p1", &[]);
    let mut r = ClusterNode::replica("r", &p1, &[]);
    let mut c1 = p1.connect();
    c1.must("CREATE TABLE mine (id int8 PRIMARY KEY)");
    c1.must("INSERT INTO mine VALUES (1), (2), (3)");
    let lsn = wait_caught_up(&p1, &[&r]);

    // An unrelated primary with more history than r: taking its stream
    // from r's LSN on would silently mix two databases.
    let p2 = ClusterNode::primary("p2", &[]);
    let mut c2 = p2.connect();
    c2.must("CREATE TABLE theirs (id int8 PRIMARY KEY)");
    for id in 1..=(lsn + 10) {
        c2.must(&format!("INSERT INTO theirs VALUES ({id})"));
    }
    let follow = p2.addr();
    r.restart_with(&["--follow", &follow]);
    let ctx = || describe_all(&[&p1, &p2, &r]);
    let error = wait_until("r reports the mismatch", Duration::from_secs(30), || {
        let s = r.status()?;
        match s.get("last_error").and_then(Value::as_str) {
            Some(e) => Ok(e.to_string()),
            None => Err(s.to_string()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", ctx()));
    println!("r: {error}");
    assert_ne!(r.status_field("stream_state"), Value::from("streaming"));
    let mut c = r.connect();
    assert_eq!(
        query_scalar(&mut c, "SELECT count(*) FROM mine"),
        Ok(Some("3".into())),
        "r's own data after refusing a foreign stream"
    );
    let out = c.simple("SELECT count(*) FROM theirs");
    assert_eq!(
        out.code(),
        Some("42P01"),
        "foreign table on r: {out}\n{}",
        ctx()
    );
    assert_eq!(r.lsn(), Ok(lsn), "r's LSN moved on a foreign stream");
}
