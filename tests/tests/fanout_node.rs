//! The node side of parallel fan-out: reads at a fixed LSN and split points.
//!
//! - `read_lsn_reads_exactly_each_lsn`: four writers commit concurrently on a
//!   primary (so group commit puts several commits in one batch) while a
//!   reader pinned at one LSN sees the same answer again and again. Every
//!   transaction bumps one writer's counter and logs the new value, so the
//!   state "all records with lsn <= N applied" is known for every `N`: the
//!   counters sum to `N - base`, the log has that many rows, and each
//!   writer's log is exactly `1..=counter`. Checked at every `N` on the
//!   primary and on a replica, and the two must show identical rows.
//! - `read_lsn_errors`: writes while `rustydb.read_lsn` is set fail with
//!   `25006`; an LSN not applied yet waits and then fails with `55000`, or
//!   succeeds when it arrives during the wait; an expired one (retention
//!   300 ms) fails with `72000`, at SET and at the next statement; RESET
//!   and `= 0` go back to normal reads.
//! - `split_points_balanced_and_range_scans`: `rustydb_split_points` on a
//!   100k-row table (estimated from RocksDB sizes) and on a table whose key
//!   was added with ALTER TABLE (sampled), each range holding 15-35% of the
//!   rows; errors `42P01` and `22023`; no rows for a table without a key;
//!   EXPLAIN shows key range scans for the fragments' predicates.
//!
//! Every wait is bounded; nothing asserts speed.

use std::thread;
use std::time::Duration;

use rustydb_tests::cluster::{describe_all, parse_lsn, wait_caught_up, wait_until, ClusterNode};
use rustydb_tests::SqlClient;

const WRITERS: i64 = 4;
const TXNS_PER_WRITER: i64 = 40;

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("rdb-fanout-")
        .tempdir()
        .expect("tempdir")
}

fn current_lsn(c: &mut SqlClient) -> u64 {
    let text = c
        .scalar("SELECT rustydb_current_lsn()")
        .expect("rustydb_current_lsn() is not NULL");
    parse_lsn(&text).unwrap_or_else(|| panic!("bad LSN text {text}"))
}

fn int(c: &mut SqlClient, sql: &str) -> i64 {
    let v = c.scalar(sql).unwrap_or_else(|| panic!("NULL from {sql}"));
    v.parse()
        .unwrap_or_else(|_| panic!("not an integer from {sql}: {v}"))
}

/// The known state at one LSN: counters, log size, and a consistency check.
fn state_at(c: &mut SqlClient, lsn: u64) -> (Vec<Vec<Option<String>>>, i64, i64, i64) {
    c.must(&format!("SET rustydb.read_lsn = {lsn}"));
    let rows = c.must("SELECT w, v FROM acct ORDER BY w").rows().to_vec();
    let sum = int(c, "SELECT sum(v) FROM acct");
    let logged = int(c, "SELECT count(*) FROM hist");
    // A log row past its writer's counter, or a missing one, breaks this.
    let wrong = int(
        c,
        "SELECT count(*) FROM hist h JOIN acct a ON a.w = h.w WHERE h.v > a.v OR h.v < 1",
    );
    c.must("RESET rustydb.read_lsn");
    (rows, sum, logged, wrong)
}

#[test]
fn read_lsn_reads_exactly_each_lsn() {
    // Every LSN of the run must stay readable until the end, however slow
    // the machine: a long retention.
    let scratch = scratch();
    let config = scratch.path().join("node.toml");
    std::fs::write(&config, "[fanout]\nsnapshot_retention_ms = 3600000\n").expect("config");
    let config = config.to_string_lossy().into_owned();
    let p = ClusterNode::primary("p", &["--config", &config]);
    let r = ClusterNode::replica("r", &p, &["--config", &config]);
    let mut c = p.connect();
    c.must("CREATE TABLE acct (w int8 PRIMARY KEY, v int8 NOT NULL)");
    c.must("INSERT INTO acct SELECT g, 0 FROM generate_series(1, 4) g");
    c.must("CREATE TABLE hist (w int8, v int8, PRIMARY KEY (w, v))");
    let base = current_lsn(&mut c);

    let port = p.port();
    let writers: Vec<_> = (1..=WRITERS)
        .map(|w| {
            thread::spawn(move || {
                let mut c = SqlClient::connect(port, "postgres").expect("writer connects");
                for _ in 0..TXNS_PER_WRITER {
                    c.must("BEGIN");
                    c.must(&format!("UPDATE acct SET v = v + 1 WHERE w = {w}"));
                    c.must(&format!(
                        "INSERT INTO hist SELECT w, v FROM acct WHERE w = {w}"
                    ));
                    c.must("COMMIT");
                }
            })
        })
        .collect();

    // A reader pinned at one LSN while the writers run: always the same.
    let mut reader = p.connect();
    thread::sleep(Duration::from_millis(200));
    let pinned = current_lsn(&mut reader);
    reader.must(&format!("SET rustydb.read_lsn = {pinned}"));
    let first = reader
        .must("SELECT sum(v), count(*) FROM acct")
        .rows()
        .to_vec();
    for _ in 0..30 {
        let again = reader
            .must("SELECT sum(v), count(*) FROM acct")
            .rows()
            .to_vec();
        assert_eq!(again, first, "reads at LSN {pinned} changed under writers");
        let logged = int(&mut reader, "SELECT count(*) FROM hist");
        let sum = int(&mut reader, "SELECT sum(v) FROM acct");
        assert_eq!(sum as u64, pinned - base, "counters at LSN {pinned}");
        assert_eq!(logged as u64, pinned - base, "log rows at LSN {pinned}");
    }
    reader.must("RESET rustydb.read_lsn");

    for w in writers {
        w.join().expect("writer thread");
    }
    let end = current_lsn(&mut c);
    assert_eq!(
        end - base,
        (WRITERS * TXNS_PER_WRITER) as u64,
        "one LSN per transaction"
    );
    wait_caught_up(&p, &[&r]);

    let range = c
        .must("SELECT * FROM rustydb_snapshot_range()")
        .rows()
        .to_vec();
    let oldest: u64 = range[0][0]
        .as_deref()
        .unwrap_or("x")
        .parse()
        .expect("oldest");
    let newest: u64 = range[0][1]
        .as_deref()
        .unwrap_or("x")
        .parse()
        .expect("newest");
    assert!(
        oldest <= base && newest == end,
        "range {oldest}..{newest}, wanted {base}..{end}"
    );

    let mut rc = r.connect();
    for n in base..=end {
        let on_primary = state_at(&mut c, n);
        let on_replica = state_at(&mut rc, n);
        let expected = (n - base) as i64;
        assert_eq!(on_primary.1, expected, "primary counters at LSN {n}");
        assert_eq!(on_primary.2, expected, "primary log rows at LSN {n}");
        assert_eq!(on_primary.3, 0, "primary log inconsistent at LSN {n}");
        assert_eq!(
            on_primary,
            on_replica,
            "primary and replica differ at LSN {n}\n{}",
            describe_all(&[&p, &r])
        );
    }
}

#[test]
fn read_lsn_errors() {
    let scratch = scratch();
    let config = scratch.path().join("node.toml");
    std::fs::write(&config, "[fanout]\nsnapshot_retention_ms = 300\n").expect("write config");
    let config = config.to_string_lossy().into_owned();
    let p = ClusterNode::primary("p", &["--config", &config]);
    let mut c = p.connect();
    let mut other = p.connect();
    c.must("CREATE TABLE t (id int8 PRIMARY KEY)");
    c.must("INSERT INTO t VALUES (1)");
    let l1 = current_lsn(&mut c);

    c.must(&format!("SET rustydb.read_lsn = {l1}"));
    assert_eq!(
        c.scalar("SHOW rustydb.read_lsn").as_deref(),
        Some(l1.to_string().as_str())
    );
    assert_eq!(int(&mut c, "SELECT count(*) FROM t"), 1);
    for write in [
        "INSERT INTO t VALUES (2)",
        "UPDATE t SET id = 3",
        "DELETE FROM t",
        "CREATE TABLE u (x int)",
    ] {
        assert_eq!(c.simple(write).code(), Some("25006"), "{write}");
    }

    // Newer writes do not show; once they supersede l1 for longer than the
    // retention, l1 is gone: at the next statement and at SET. (Commits
    // within 10 ms share a snapshot, so INSERT 2 may extend l1's; the
    // INSERT after the first pause starts a new one for sure, and the second
    // pause expires everything before it.)
    other.must("INSERT INTO t VALUES (2)");
    assert_eq!(int(&mut c, "SELECT count(*) FROM t"), 1);
    thread::sleep(Duration::from_millis(1200));
    other.must("INSERT INTO t VALUES (3)");
    assert_eq!(int(&mut c, "SELECT count(*) FROM t"), 1);
    thread::sleep(Duration::from_millis(1200));
    other.must("INSERT INTO t VALUES (0)");
    let out = c.simple("SELECT count(*) FROM t");
    assert_eq!(out.code(), Some("72000"), "{out}");
    assert!(
        out.to_string()
            .contains(&format!("snapshot at LSN {l1} is too old (oldest retained")),
        "{out}"
    );
    let out = c.simple(&format!("SET rustydb.read_lsn = {l1}"));
    assert_eq!(out.code(), Some("72000"), "{out}");

    // Back to normal reads and writes.
    c.must("RESET rustydb.read_lsn");
    c.must("INSERT INTO t VALUES (4)");
    assert_eq!(int(&mut c, "SELECT count(*) FROM t"), 5);
    c.must("SET rustydb.read_lsn = 0");
    c.must("INSERT INTO t VALUES (5)");

    // Not applied yet: waits, then 55000.
    let now = current_lsn(&mut c);
    let ahead = now + 1000;
    let out = c.simple(&format!("SET rustydb.read_lsn = {ahead}"));
    assert_eq!(out.code(), Some("55000"), "{out}");
    assert!(
        out.to_string().contains(&format!(
            "snapshot at LSN {ahead} is not available on this node (applied {now})"
        )),
        "{out}"
    );

    // Arrives during the wait: the SET succeeds and reads exactly it.
    let next = now + 1;
    let port = p.port();
    let writer = thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        let mut w = SqlClient::connect(port, "postgres").expect("connect");
        w.must("INSERT INTO t VALUES (6)");
        w.must("INSERT INTO t VALUES (7)");
    });
    c.must(&format!("SET rustydb.read_lsn = {next}"));
    writer.join().expect("writer");
    assert_eq!(int(&mut c, "SELECT max(id) FROM t"), 6);

    // In a block: the block reads at the LSN for all its statements.
    c.must("BEGIN");
    assert_eq!(int(&mut c, "SELECT max(id) FROM t"), 6);
    assert_eq!(c.simple("INSERT INTO t VALUES (8)").code(), Some("25006"));
    c.must("ROLLBACK");
    c.must("RESET rustydb.read_lsn");
    assert_eq!(int(&mut c, "SELECT max(id) FROM t"), 7);
}

/// Rows of `table` in each range cut by `bounds` (on the key `col`).
fn range_counts(c: &mut SqlClient, table: &str, col: &str, bounds: &[String]) -> Vec<i64> {
    let mut counts = Vec::new();
    for i in 0..=bounds.len() {
        let mut pred = Vec::new();
        if i > 0 {
            pred.push(format!("{col} >= '{}'", bounds[i - 1]));
        }
        if i < bounds.len() {
            pred.push(format!("{col} < '{}'", bounds[i]));
        }
        let sql = format!("SELECT count(*) FROM {table} WHERE {}", pred.join(" AND "));
        counts.push(int(c, &sql));
    }
    counts
}

fn bounds(c: &mut SqlClient, sql: &str) -> Vec<String> {
    c.must(sql)
        .rows()
        .iter()
        .map(|r| r[0].clone().expect("bound is not NULL"))
        .collect()
}

fn assert_balanced(what: &str, counts: &[i64], total: i64) {
    assert_eq!(
        counts.iter().sum::<i64>(),
        total,
        "{what}: ranges cover every row"
    );
    for &n in counts {
        let share = n as f64 / total as f64;
        assert!(
            (0.15..=0.35).contains(&share),
            "{what}: unbalanced ranges {counts:?} of {total}"
        );
    }
}

#[test]
fn split_points_balanced_and_range_scans() {
    let p = ClusterNode::primary("p", &[]);
    let r = ClusterNode::replica("r", &p, &[]);
    let mut c = p.connect();
    c.must("CREATE TABLE big (id int8 PRIMARY KEY, pad text)");
    c.must("INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 100000) g");
    c.must("CREATE TABLE acc (aid int4 NOT NULL, b int4)");
    c.must("INSERT INTO acc SELECT g * 3, g FROM generate_series(1, 20000) g");
    c.must("ALTER TABLE acc ADD PRIMARY KEY (aid)");
    c.must("CREATE TABLE nokey (x int)");
    c.must("INSERT INTO nokey VALUES (1), (2)");

    let b = bounds(
        &mut c,
        "SELECT * FROM rustydb_split_points('public.big', 4)",
    );
    assert_eq!(b.len(), 3, "bounds {b:?}");
    let nums: Vec<i64> = b.iter().map(|s| s.parse().expect("int bound")).collect();
    assert!(
        nums.windows(2).all(|w| w[0] < w[1]),
        "not increasing: {nums:?}"
    );
    let counts = range_counts(&mut c, "big", "id", &b);
    assert_balanced("big", &counts, 100_000);

    let b = bounds(&mut c, "SELECT bound FROM rustydb_split_points('acc', 4)");
    assert_eq!(b.len(), 3, "bounds {b:?}");
    let counts = range_counts(&mut c, "acc", "aid", &b);
    assert_balanced("acc", &counts, 20_000);

    assert!(bounds(&mut c, "SELECT * FROM rustydb_split_points('nokey', 4)").is_empty());
    assert!(bounds(&mut c, "SELECT * FROM rustydb_split_points('big', 1)").is_empty());
    assert_eq!(
        c.simple("SELECT * FROM rustydb_split_points('nosuch', 4)")
            .code(),
        Some("42P01")
    );
    assert_eq!(
        c.simple("SELECT * FROM rustydb_split_points('big', 0)")
            .code(),
        Some("22023")
    );

    // The fragments' predicates are key range scans, not full scans.
    let plan = |c: &mut SqlClient, sql: &str| -> String {
        c.must(&format!("EXPLAIN {sql}"))
            .rows()
            .iter()
            .filter_map(|r| r[0].clone())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let text = plan(
        &mut c,
        "SELECT count(*) FROM big WHERE id >= '25000' AND id < '50000'",
    );
    assert!(text.contains("Primary Key Range Scan on big"), "{text}");
    let text = plan(
        &mut c,
        "SELECT sum(b) FROM acc WHERE aid >= 300 AND aid < 600",
    );
    // acc's key was added by ALTER TABLE, which re-keys the table.
    assert!(text.contains("Primary Key Range Scan on acc"), "{text}");

    // On the replica, at a fixed LSN, the same contract holds.
    let lsn = wait_caught_up(&p, &[&r]);
    let mut rc = r.connect();
    rc.must(&format!("SET rustydb.read_lsn = {lsn}"));
    let b = bounds(&mut rc, "SELECT * FROM rustydb_split_points('big', 3)");
    assert_eq!(b.len(), 2, "bounds {b:?}");
    let counts = range_counts(&mut rc, "big", "id", &b);
    assert_eq!(counts.iter().sum::<i64>(), 100_000);
    for &n in &counts {
        assert!(
            (20_000..=46_667).contains(&n),
            "unbalanced on the replica: {counts:?}"
        );
    }
    let got = wait_until(
        "snapshot range on the replica",
        Duration::from_secs(30),
        || {
            let row = rc
                .must("SELECT * FROM rustydb_snapshot_range()")
                .rows()
                .to_vec();
            let newest: u64 = row[0][1]
                .as_deref()
                .unwrap_or("0")
                .parse()
                .map_err(|e| format!("{e}"))?;
            if newest >= lsn {
                Ok(newest)
            } else {
                Err(format!("newest {newest} < {lsn}"))
            }
        },
    );
    assert!(got.is_ok(), "{got:?}");
}
