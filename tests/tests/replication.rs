//! Replication convergence: replicas end up with exactly the primary's
//! content, through load, replica crashes and re-clones.
//!
//! - `two_replicas_converge_under_pgbench`: a primary and two async
//!   replicas; `pgbench -i -s 1` and a 5 s TPC-B run on the primary; once both
//!   replicas report the primary's LSN, per-table checksums are equal on all
//!   three at that LSN. During the load, readers on the replicas only ever
//!   see whole TPC-B transactions (the four balance sums stay equal). Roles
//!   and lag are visible: `pg_is_in_recovery()`, `/status`, the primary's
//!   `rustydb_stat_replication` (one row per replica, named, replayed to
//!   the LSN) and `GET /replication` (no lag left).
//! - `replica_killed_mid_stream_resumes`: `kill -9` a replica while pgbench
//!   runs, restart it with the same arguments: it resumes (same `db-N`, no
//!   re-clone) and converges.
//! - `replica_too_far_behind_reclones`: the primary keeps no WAL for absent
//!   replicas (`wal_keep_* = 0`, `max_wal_bytes = 1` in its node.toml); a
//!   replica stopped during a large write must re-clone on restart, and
//!   converges.
//! - `cascaded_replica_converges`: primary → r1 → r2 (r2 follows r1): both
//!   converge to the primary's content, and each upstream lists only its own
//!   direct replica in `GET /replication`.
//! - `compressed_batched_stream_converges`: one replica converges with the
//!   primary's
//!   stream batched (`batch_delay_ms`) and compressed with lz4, then zstd.
//! - `primary_killed_and_restarted_replica_resumes`: `kill -9` the primary
//!   mid-load and restart it: its replica (which must never have received
//!   records the primary lost) reconnects and converges.
//!
//! Every wait is bounded (see `rustydb_tests::cluster`); nothing here asserts
//! speed. Run with `--test-threads=1` on small machines: each test runs
//! several node processes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use rustydb_tests::cluster::{
    assert_same_content, describe_all, in_recovery, pgbench, query_scalar, wait_caught_up,
    wait_until, ClusterNode, PGBENCH_TABLES,
};
use rustydb_tests::tools::parse_pgbench;
use rustydb_tests::SqlClient;
use serde_json::Value;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rdb-repl-")
        .tempdir()
        .expect("tempdir")
}

/// `pgbench -i -s 1` on the primary; failures show the node logs.
fn init_pgbench(p: &ClusterNode, scratch: &std::path::Path) {
    let out = pgbench(p.port(), &["-i", "-s", "1", "-q"], scratch);
    if !out.success {
        panic!(
            "pgbench -i failed ({}):\n{}{}\n{}",
            out.status,
            out.stdout,
            out.stderr,
            p.describe()
        );
    }
}

/// Runs a pgbench TPC-B load that must succeed without failed transactions.
fn tpcb(port: u16, seconds: u32, scratch: &std::path::Path) {
    let t = seconds.to_string();
    let out = pgbench(port, &["-c", "4", "-j", "2", "-T", &t], scratch);
    out.assert_success("pgbench TPC-B on the primary");
    let summary = parse_pgbench(&out.stdout)
        .unwrap_or_else(|| panic!("cannot parse pgbench output:\n{}", out.stdout));
    println!("pgbench: {summary:?}");
    assert_eq!(summary.failed, 0, "failed transactions:\n{}", out.stdout);
    assert!(summary.processed > 0, "no transactions:\n{}", out.stdout);
}

/// Reads the TPC-B sums on a replica until `stop`: one TPC-B transaction
/// adds the same delta to an account, a teller, a branch and a history row,
/// and the balances start at zero, so in any snapshot made of whole
/// transactions the four sums are equal. Returns how many snapshots it
/// checked (at least one).
fn tpcb_reader(port: u16, stop: &AtomicBool) -> Result<usize, String> {
    let mut c = SqlClient::connect(port, "postgres")?;
    let mut checked = 0;
    loop {
        let done = stop.load(Ordering::Relaxed);
        let out = c.simple(
            "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts), \
                    (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches), \
                    (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers), \
                    (SELECT coalesce(sum(delta), 0) FROM pgbench_history)",
        );
        let row: Vec<Option<String>> = out.rows().first().cloned().unwrap_or_default();
        if !out.is_ok() || row.len() != 4 || row.iter().any(|v| v != &row[0]) {
            return Err(format!("after {checked} good snapshots: {out}"));
        }
        checked += 1;
        if done {
            return Ok(checked);
        }
    }
}

#[test]
fn two_replicas_converge_under_pgbench() {
    let scratch = scratch();
    let p = ClusterNode::primary("p", &[]);
    let r1 = ClusterNode::replica("r1", &p, &[]);
    let r2 = ClusterNode::replica("r2", &p, &[]);

    init_pgbench(&p, scratch.path());
    // While TPC-B runs, a reader on each replica checks that every snapshot
    // it gets holds whole transactions only.
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [&r1, &r2]
        .iter()
        .map(|r| {
            let (port, stop) = (r.port(), stop.clone());
            thread::spawn(move || tpcb_reader(port, &stop))
        })
        .collect();
    tpcb(p.port(), 5, scratch.path());
    stop.store(true, Ordering::Relaxed);
    for (r, h) in [&r1, &r2].iter().zip(readers) {
        match h.join() {
            Ok(Ok(n)) => println!("{}: {n} consistent snapshots during the load", r.name()),
            Ok(Err(e)) => panic!("reader on {}: {e}\n{}", r.name(), r.describe()),
            Err(e) => std::panic::resume_unwind(e),
        }
    }

    let lsn = wait_caught_up(&p, &[&r1, &r2]);
    assert_same_content(&[&p, &r1, &r2], &PGBENCH_TABLES, lsn);

    // The primary's view of its replicas: both, by name, streaming, and
    // (once their acknowledgements arrive) replayed up to the same LSN.
    let mut c = p.connect();
    let seen = wait_until("rustydb_stat_replication", Duration::from_secs(30), || {
        let out = c.simple(
            "SELECT application_name, state, replay_lsn FROM rustydb_stat_replication \
             ORDER BY application_name",
        );
        let rows: Vec<Vec<String>> = out
            .rows()
            .iter()
            .map(|r| r.iter().map(|v| v.clone().unwrap_or_default()).collect())
            .collect();
        let want = |name: &str| vec![name.to_string(), "streaming".into(), format_lsn(lsn)];
        if out.is_ok() && rows == [want("r1"), want("r2")] {
            Ok(())
        } else {
            Err(format!("{out}"))
        }
    });
    if let Err(e) = seen {
        panic!("{e}\n{}", describe_all(&[&p, &r1, &r2]));
    }
    // The admin API agrees: both replicas flushed and applied everything,
    // with no lag left in records or bytes.
    let lagless = wait_until("no lag in /replication", Duration::from_secs(30), || {
        let rep = p.admin().get_json("/replication")?;
        let replicas = rep.get("replicas").and_then(Value::as_array);
        let done = replicas.is_some_and(|rs| {
            rs.len() == 2
                && rs.iter().all(|r| {
                    // LSNs as numbers, or as pg_lsn text.
                    let at = |key: &str| {
                        r.get(key).is_some_and(|v| {
                            v.as_u64() == Some(lsn) || v.as_str() == Some(&format_lsn(lsn))
                        })
                    };
                    at("flush_lsn")
                        && at("replay_lsn")
                        && r.get("lag_records") == Some(&Value::from(0))
                        && r.get("lag_bytes") == Some(&Value::from(0))
                })
        });
        if done {
            Ok(())
        } else {
            Err(rep.to_string())
        }
    });
    if let Err(e) = lagless {
        panic!("{e}\n{}", describe_all(&[&p, &r1, &r2]));
    }

    // Roles, as the admin API and as drivers (pg_is_in_recovery) see them.
    let mut wrong = Vec::new();
    for (node, replica) in [(&p, false), (&r1, true), (&r2, true)] {
        let s = node.status().unwrap_or_else(|e| panic!("{e}"));
        let role = if replica { "replica" } else { "primary" };
        let (upstream, stream_state) = if replica {
            (Value::from(p.addr()), Value::from("streaming"))
        } else {
            (Value::Null, Value::Null)
        };
        let mut c = node.connect();
        let endpoint = query_scalar(&mut c, "SHOW rustydb.replication_endpoint");
        let expected = [
            ("role", Value::from(role)),
            ("in_recovery", Value::from(replica)),
            ("node_name", Value::from(node.name())),
            ("upstream", upstream),
            (
                "replication_endpoint",
                Value::from(endpoint.clone().ok().flatten()),
            ),
        ];
        for (key, want) in expected {
            if s.get(key) != Some(&want) {
                wrong.push(format!(
                    "{}: /status {key} should be {want}: {s}",
                    node.name()
                ));
            }
        }
        // A primary has no stream state to speak of; a replica streams.
        if replica && s.get("stream_state") != Some(&stream_state) {
            wrong.push(format!("{}: /status stream_state: {s}", node.name()));
        }
        if !matches!(endpoint, Ok(Some(_))) {
            wrong.push(format!(
                "{}: SHOW rustydb.replication_endpoint: {endpoint:?}",
                node.name()
            ));
        }
        let got = in_recovery(&mut c);
        if got != Ok(replica) {
            wrong.push(format!("{}: pg_is_in_recovery() = {got:?}", node.name()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// `pg_lsn` text of an LSN number.
fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

#[test]
fn replica_killed_mid_stream_resumes() {
    let scratch = scratch();
    let p = ClusterNode::primary("p", &[]);
    let mut r = ClusterNode::replica("r", &p, &[]);
    init_pgbench(&p, scratch.path());
    let db_before = r.database_pointer();

    let port = p.port();
    let dir = scratch.path().to_path_buf();
    let load = thread::spawn(move || tpcb(port, 6, &dir));
    thread::sleep(Duration::from_secs(2));
    r.kill9();
    thread::sleep(Duration::from_secs(1));
    let log_offset = r.log_len();
    r.restart();
    if let Err(e) = load.join() {
        std::panic::resume_unwind(e);
    }

    let lsn = wait_caught_up(&p, &[&r]);
    assert_same_content(&[&p, &r], &PGBENCH_TABLES, lsn);
    let mut c = r.connect();
    assert_eq!(
        in_recovery(&mut c),
        Ok(true),
        "restarted replica is a replica"
    );
    // Retention defaults keep far more WAL than this test writes: the
    // replica must have resumed from its last applied LSN, not re-cloned.
    match (&db_before, r.database_pointer()) {
        (Some(before), Some(after)) => assert_eq!(
            before,
            &after,
            "replica re-cloned after a short outage; log since restart:\n{}",
            r.log_since(log_offset)
        ),
        (b, a) => println!("note: DATA/DATABASE pointer before {b:?}, after {a:?}"),
    }
}

#[test]
fn replica_too_far_behind_reclones() {
    let scratch = scratch();
    let config = scratch.path().join("primary.toml");
    std::fs::write(
        &config,
        "[replication]\nwal_keep_bytes = 0\nwal_keep_seconds = 0\nmax_wal_bytes = 1\n",
    )
    .expect("write primary config");
    let config = config.to_string_lossy().into_owned();
    let p = ClusterNode::primary("p", &["--config", &config]);
    let mut r = ClusterNode::replica("r", &p, &[]);

    let mut c = p.connect();
    c.must("CREATE TABLE early (id int8 PRIMARY KEY, v text)");
    c.must("INSERT INTO early SELECT g, 'row ' || g FROM generate_series(1, 100) g");
    wait_caught_up(&p, &[&r]);
    let db_before = r.database_pointer();

    // The replica is gone while the primary writes far more than it keeps.
    r.kill9();
    init_pgbench(&p, scratch.path());
    c.must("UPDATE early SET v = v || ' updated' WHERE id % 2 = 0");
    c.must("DELETE FROM early WHERE id > 90");
    tpcb(p.port(), 2, scratch.path());

    let log_offset = r.log_len();
    r.restart();
    let lsn = wait_caught_up(&p, &[&r]);
    let mut tables = PGBENCH_TABLES.to_vec();
    tables.push("early");
    assert_same_content(&[&p, &r], &tables, lsn);

    let log = r.log_since(log_offset);
    assert!(
        log.to_lowercase().contains("clone"),
        "the replica converged but its log does not mention a re-clone:\n{log}"
    );
    if let (Some(before), Some(after)) = (&db_before, r.database_pointer()) {
        assert_ne!(
            before, &after,
            "DATA/DATABASE still names the old db after a re-clone"
        );
    }
    let mut rc = r.connect();
    assert_eq!(
        in_recovery(&mut rc),
        Ok(true),
        "re-cloned node is a replica"
    );
}

#[test]
fn cascaded_replica_converges() {
    let scratch = scratch();
    let p = ClusterNode::primary("p", &[]);
    let r1 = ClusterNode::replica("r1", &p, &[]);
    let r2 = ClusterNode::replica("r2", &r1, &[]);
    init_pgbench(&p, scratch.path());
    tpcb(p.port(), 3, scratch.path());

    let lsn = wait_caught_up(&p, &[&r1, &r2]);
    assert_same_content(&[&p, &r1, &r2], &PGBENCH_TABLES, lsn);
    // r2 is fed by r1, not by the primary.
    let names = |n: &ClusterNode| -> Vec<String> {
        let rep = n
            .admin()
            .get_json("/replication")
            .unwrap_or_else(|e| panic!("{e}\n{}", n.describe()));
        rep.get("replicas")
            .and_then(Value::as_array)
            .map(|rs| {
                rs.iter()
                    .filter_map(|r| Some(r.get("name")?.as_str()?.to_string()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(names(&p), ["r1"], "replicas of the primary");
    assert_eq!(names(&r1), ["r2"], "replicas of the cascading replica");
}

#[test]
fn compressed_batched_stream_converges() {
    for compression in ["lz4", "zstd"] {
        let scratch = scratch();
        let config = scratch.path().join("primary.toml");
        std::fs::write(
            &config,
            format!(
                "[replication]\ncompression = \"{compression}\"\n\
                 batch_delay_ms = 5\nbatch_max_bytes = 65536\n"
            ),
        )
        .expect("write primary config");
        let config = config.to_string_lossy().into_owned();
        let p = ClusterNode::primary("p", &["--config", &config]);
        let r = ClusterNode::replica("r", &p, &[]);
        init_pgbench(&p, scratch.path());
        tpcb(p.port(), 2, scratch.path());
        let lsn = wait_caught_up(&p, &[&r]);
        println!("compression = {compression}");
        assert_same_content(&[&p, &r], &PGBENCH_TABLES, lsn);
    }
}

#[test]
fn primary_killed_and_restarted_replica_resumes() {
    let scratch = scratch();
    let mut p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    init_pgbench(&p, scratch.path());

    // Kill the primary in the middle of a TPC-B run (pgbench then fails,
    // as it should), and restart it as the same primary.
    let port = p.port();
    let dir = scratch.path().to_path_buf();
    let load = thread::spawn(move || {
        let out = pgbench(port, &["-c", "4", "-j", "2", "-T", "6"], &dir);
        println!("pgbench across the kill: {}", out.status);
    });
    thread::sleep(Duration::from_secs(2));
    p.kill9();
    if let Err(e) = load.join() {
        std::panic::resume_unwind(e);
    }
    p.restart();

    // The replica never holds records the restarted primary does not: it
    // reconnects, and both agree on the content at the same LSN.
    let mut c = p.connect();
    c.must("CREATE TABLE after_restart (id int8 PRIMARY KEY)");
    c.must("INSERT INTO after_restart VALUES (1)");
    let lsn = wait_caught_up(&p, &[&r]);
    let mut tables = PGBENCH_TABLES.to_vec();
    tables.push("after_restart");
    assert_same_content(&[&p, &r], &tables, lsn);
}
