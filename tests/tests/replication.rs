//! Replication convergence: replicas end up with exactly the primary's
//! content, through load, replica crashes and re-clones.
//!
//! - `two_replicas_converge_under_pgbench`: a primary and two async
//!   replicas; `pgbench -i -s 1` and a 5 s TPC-B run on the primary; once both
//!   replicas report the primary's LSN, per-table checksums are equal on all
//!   three at that LSN. Roles are visible: `pg_is_in_recovery()` and the
//!   primary's `rustydb_stat_replication` (one row per replica, named).
//! - `replica_killed_mid_stream_resumes`: `kill -9` a replica while pgbench
//!   runs, restart it with the same arguments: it resumes (same `db-N`, no
//!   re-clone) and converges.
//! - `replica_too_far_behind_reclones`: the primary keeps no WAL for absent
//!   replicas (`wal_keep_* = 0`, `max_wal_bytes = 1` in its node.toml); a
//!   replica stopped during a large write must re-clone on restart, and
//!   converges.
//!
//! Every wait is bounded (see `rustydb_tests::cluster`); nothing here asserts
//! speed. Run with `--test-threads=1` on small machines: each test runs
//! several node processes.

use std::thread;
use std::time::Duration;

use rustydb_tests::cluster::{
    assert_same_content, in_recovery, pgbench, wait_caught_up, ClusterNode, PGBENCH_TABLES,
};
use rustydb_tests::tools::parse_pgbench;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rdb-repl-")
        .tempdir()
        .expect("tempdir")
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

#[test]
fn two_replicas_converge_under_pgbench() {
    let scratch = scratch();
    let p = ClusterNode::primary("p", &[]);
    let r1 = ClusterNode::replica("r1", &p, &[]);
    let r2 = ClusterNode::replica("r2", &p, &[]);

    pgbench(p.port(), &["-i", "-s", "1", "-q"], scratch.path()).assert_success("pgbench -i");
    tpcb(p.port(), 5, scratch.path());

    let lsn = wait_caught_up(&p, &[&r1, &r2]);
    assert_same_content(&[&p, &r1, &r2], &PGBENCH_TABLES, lsn);

    // Roles as clients and drivers see them.
    for (node, expected) in [(&p, false), (&r1, true), (&r2, true)] {
        let mut c = node.connect();
        assert_eq!(
            in_recovery(&mut c),
            Ok(expected),
            "pg_is_in_recovery() on {}",
            node.name()
        );
    }
    let mut c = p.connect();
    let names = c.must("SELECT application_name FROM rustydb_stat_replication");
    let mut names: Vec<_> = names
        .rows()
        .iter()
        .map(|r| r.first().cloned().flatten().unwrap_or_default())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["r1", "r2"],
        "rustydb_stat_replication on the primary should list both replicas by name"
    );
}

#[test]
fn replica_killed_mid_stream_resumes() {
    let scratch = scratch();
    let p = ClusterNode::primary("p", &[]);
    let mut r = ClusterNode::replica("r", &p, &[]);
    pgbench(p.port(), &["-i", "-s", "1", "-q"], scratch.path()).assert_success("pgbench -i");
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
    pgbench(p.port(), &["-i", "-s", "1", "-q"], scratch.path()).assert_success("pgbench -i");
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
