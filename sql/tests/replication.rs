//! The SQL side of replication, over the in-memory storage: a replica
//! (hot standby) refuses writes with PostgreSQL's 25006 messages and stays
//! usable, read-only transactions are enforced on a primary too, the
//! replication functions and views read the storage, `synchronous_commit`
//! reaches the storage at commit, and server settings are visible to every
//! session. Expected texts were checked on a PostgreSQL 15 hot standby.

use std::sync::Arc;

use rustydb_sql::memory::MemoryStorage;
use rustydb_sql::types::text;
use rustydb_sql::{
    Engine, Lsn, QueryResult, RecoveryStatus, ReplicationStat, Session, Storage, SyncCommit,
    TxnStatus,
};

/// A primary with a table, a sequence and a row; the storage is returned
/// so tests can turn it into a replica.
fn setup() -> (Arc<MemoryStorage>, Arc<Engine>, Session) {
    let storage = MemoryStorage::new();
    let engine = Engine::new(storage.clone()).expect("engine");
    let mut s = engine.connect("postgres", "postgres").expect("connect");
    run(
        &mut s,
        "CREATE TABLE t (a int PRIMARY KEY, b text); CREATE SEQUENCE s; \
         CREATE TABLE nopk (x int); INSERT INTO t VALUES (1, 'x')",
    );
    (storage, engine, s)
}

/// Runs statements that must succeed; returns the last result's rows as text.
fn run(s: &mut Session, sql: &str) -> Vec<Vec<String>> {
    let mut last = vec![];
    for r in s.simple_query(sql) {
        match r {
            Ok(QueryResult::Rows { rows, .. }) => {
                last = rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .map(|v| {
                                if v.is_null() {
                                    "NULL".to_string()
                                } else {
                                    text::format(v)
                                }
                            })
                            .collect()
                    })
                    .collect()
            }
            Ok(_) => last = vec![],
            Err(e) => panic!("{sql}: {e}"),
        }
    }
    last
}

/// One value of a one-row query.
fn one(s: &mut Session, sql: &str) -> String {
    run(s, sql)
        .first()
        .and_then(|r| r.first().cloned())
        .unwrap_or_default()
}

/// Runs a statement that must fail; returns (SQLSTATE, message).
fn fail(s: &mut Session, sql: &str) -> (String, String) {
    match s.simple_query(sql).pop() {
        Some(Err(e)) => (e.state().0.to_string(), e.message()),
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

fn read_only(cmd: &str) -> (String, String) {
    (
        "25006".into(),
        format!("cannot execute {cmd} in a read-only transaction"),
    )
}

#[test]
fn standby_refuses_every_write_with_postgres_messages() {
    let (storage, _engine, mut s) = setup();
    storage.set_in_recovery(true);
    let cases = [
        ("INSERT INTO t VALUES (2, 'y')", read_only("INSERT")),
        ("UPDATE t SET b = 'z'", read_only("UPDATE")),
        ("DELETE FROM t", read_only("DELETE")),
        ("SELECT * FROM t FOR UPDATE", read_only("SELECT FOR UPDATE")),
        ("SELECT * FROM t FOR SHARE", read_only("SELECT FOR SHARE")),
        ("SELECT nextval('s')", read_only("nextval()")),
        ("SELECT setval('s', 5)", read_only("setval()")),
        ("CREATE TABLE u (a int)", read_only("CREATE TABLE")),
        ("CREATE TEMP TABLE u (a int)", read_only("CREATE TABLE")),
        ("DROP TABLE t", read_only("DROP TABLE")),
        ("TRUNCATE t", read_only("TRUNCATE TABLE")),
        ("ALTER TABLE t ADD COLUMN c int", read_only("ALTER TABLE")),
        ("CREATE INDEX ON t (b)", read_only("CREATE INDEX")),
        ("CREATE SEQUENCE s2", read_only("CREATE SEQUENCE")),
        ("CREATE VIEW v AS SELECT 1", read_only("CREATE VIEW")),
        ("CREATE DATABASE x", read_only("CREATE DATABASE")),
        ("DROP DATABASE postgres", read_only("DROP DATABASE")),
        ("COMMENT ON TABLE t IS 'x'", read_only("COMMENT")),
        ("GRANT SELECT ON t TO PUBLIC", read_only("GRANT")),
        (
            "COPY t FROM STDIN",
            ("25006".into(), "cannot execute COPY during recovery".into()),
        ),
        (
            "VACUUM",
            (
                "25006".into(),
                "cannot execute VACUUM during recovery".into(),
            ),
        ),
        (
            "SELECT pg_current_wal_lsn()",
            ("55000".into(), "recovery is in progress".into()),
        ),
        (
            "SET transaction_read_only = off",
            (
                "0A000".into(),
                "cannot set transaction read-write mode during recovery".into(),
            ),
        ),
        (
            "BEGIN READ WRITE",
            (
                "0A000".into(),
                "cannot set transaction read-write mode during recovery".into(),
            ),
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(fail(&mut s, sql), expected, "{sql}");
        // The session stays usable in autocommit.
        assert_eq!(s.status(), TxnStatus::Idle, "{sql}");
        assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "1", "{sql}");
    }
    // A missing table is reported as such, as PostgreSQL's executor does.
    assert_eq!(fail(&mut s, "INSERT INTO missing VALUES (1)").0, "42P01");
    // Reads, COPY TO, EXPLAIN and SHOW work.
    assert_eq!(one(&mut s, "SELECT b FROM t WHERE a = 1"), "x");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(one(&mut s, "SHOW default_transaction_read_only"), "off");
    assert_eq!(one(&mut s, "SHOW in_hot_standby"), "on");
    assert_eq!(
        one(&mut s, "SELECT current_setting('transaction_read_only')"),
        "on"
    );
    assert_eq!(one(&mut s, "SELECT pg_is_in_recovery()"), "t");
    run(&mut s, "EXPLAIN INSERT INTO t VALUES (5, 'e')");
    run(&mut s, "SELECT * FROM s");
}

#[test]
fn standby_error_inside_a_block_fails_the_block() {
    let (storage, _engine, mut s) = setup();
    storage.set_in_recovery(true);
    run(&mut s, "BEGIN");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(
        fail(&mut s, "INSERT INTO t VALUES (3, 'z')"),
        read_only("INSERT")
    );
    assert_eq!(s.status(), TxnStatus::Failed);
    assert_eq!(fail(&mut s, "SELECT 1").0, "25P02");
    run(&mut s, "ROLLBACK");
    assert_eq!(s.status(), TxnStatus::Idle);
    assert_eq!(one(&mut s, "SELECT 1"), "1");
    // SERIALIZABLE is refused on a hot standby, as in PostgreSQL.
    assert_eq!(
        fail(&mut s, "BEGIN ISOLATION LEVEL SERIALIZABLE").1,
        "cannot use serializable mode in a hot standby"
    );
    assert_eq!(s.status(), TxnStatus::Idle);
    // Read-write after the first query: 25001 comes first, as in PostgreSQL.
    run(&mut s, "BEGIN; SELECT 1");
    assert_eq!(
        fail(&mut s, "SET TRANSACTION READ WRITE"),
        (
            "25001".into(),
            "transaction read-write mode must be set before any query".into()
        )
    );
    run(&mut s, "ROLLBACK");
}

#[test]
fn promotion_allows_writes_again() {
    let (storage, engine, mut s) = setup();
    run(&mut s, "INSERT INTO nopk VALUES (1)");
    storage.set_in_recovery(true);
    assert_eq!(
        fail(&mut s, "INSERT INTO nopk VALUES (2)"),
        read_only("INSERT")
    );
    storage.set_in_recovery(false);
    engine.reset_volatile_state();
    run(
        &mut s,
        "INSERT INTO t VALUES (2, 'y'); INSERT INTO nopk VALUES (2)",
    );
    assert_eq!(one(&mut s, "SELECT count(*) FROM nopk"), "2");
    assert_eq!(one(&mut s, "SELECT nextval('s')"), "1");
    assert_eq!(one(&mut s, "SELECT pg_is_in_recovery()"), "f");
    // The promotion is reported with ParameterStatus.
    storage.set_in_recovery(true);
    assert!(s
        .take_parameter_changes()
        .contains(&("in_hot_standby".to_string(), "on".to_string())));
    storage.set_in_recovery(false);
    assert!(s
        .take_parameter_changes()
        .contains(&("in_hot_standby".to_string(), "off".to_string())));
}

#[test]
fn reset_volatile_state_reloads_sequences_from_storage() {
    let (_storage, engine, mut s) = setup();
    assert_eq!(one(&mut s, "SELECT nextval('s')"), "1");
    engine.reset_volatile_state();
    // The reservation on disk is past every value handed out.
    let next: i64 = one(&mut s, "SELECT nextval('s')").parse().unwrap_or(0);
    assert!(next > 1, "sequence went back to {next}");
}

#[test]
fn engine_on_a_replica_does_not_bootstrap() {
    let storage = MemoryStorage::new();
    storage.set_in_recovery(true);
    let engine = Engine::new(storage.clone()).expect("engine");
    // Nothing written: the database arrives by replication.
    assert_eq!(storage.current_lsn(), Lsn(0));
    assert_eq!(
        engine
            .connect("postgres", "postgres")
            .err()
            .map(|e| e.state().0),
        Some("3D000")
    );
}

#[test]
fn read_only_transactions_are_enforced_on_a_primary() {
    let (_storage, _engine, mut s) = setup();
    run(&mut s, "BEGIN READ ONLY");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(
        fail(&mut s, "INSERT INTO t VALUES (2, 'y')"),
        read_only("INSERT")
    );
    run(&mut s, "ROLLBACK");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "off");

    run(&mut s, "BEGIN; SET TRANSACTION READ ONLY");
    assert_eq!(fail(&mut s, "SELECT nextval('s')"), read_only("nextval()"));
    run(&mut s, "ROLLBACK");

    // Read-only to read-write before the first query is allowed.
    run(&mut s, "BEGIN READ ONLY; SET TRANSACTION READ WRITE");
    run(&mut s, "INSERT INTO t VALUES (2, 'y'); COMMIT");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "2");

    // After a query it is not; inside a savepoint neither.
    run(&mut s, "BEGIN READ ONLY; SELECT 1");
    assert_eq!(fail(&mut s, "SET transaction_read_only = off").0, "25001");
    run(&mut s, "ROLLBACK; BEGIN READ ONLY; SAVEPOINT a");
    assert_eq!(
        fail(&mut s, "SET TRANSACTION READ WRITE").1,
        "cannot set transaction read-write mode inside a read-only transaction"
    );
    run(&mut s, "ROLLBACK");

    // Read-write to read-only after writes is allowed; later writes fail.
    run(
        &mut s,
        "BEGIN; INSERT INTO t VALUES (3, 'z'); SET TRANSACTION READ ONLY",
    );
    assert_eq!(fail(&mut s, "DELETE FROM t"), read_only("DELETE"));
    run(&mut s, "ROLLBACK");

    run(&mut s, "SET default_transaction_read_only = on");
    assert_eq!(one(&mut s, "SHOW transaction_read_only"), "on");
    assert_eq!(fail(&mut s, "TRUNCATE t"), read_only("TRUNCATE TABLE"));
    assert_eq!(fail(&mut s, "COPY t FROM STDIN"), read_only("COPY FROM"));
    assert_eq!(
        fail(&mut s, "CREATE DATABASE x"),
        read_only("CREATE DATABASE")
    );
    // VACUUM is fine in a read-only transaction on a primary.
    run(&mut s, "VACUUM");
    run(
        &mut s,
        "BEGIN READ WRITE; INSERT INTO t VALUES (4, 'w'); COMMIT",
    );
    run(&mut s, "SET default_transaction_read_only = off");
    assert_eq!(one(&mut s, "SELECT count(*) FROM t"), "3");
    assert_eq!(
        fail(&mut s, "SET transaction_read_only = maybe"),
        (
            "22023".into(),
            "parameter \"transaction_read_only\" requires a Boolean value".into()
        )
    );
}

#[test]
fn replication_functions_read_the_storage() {
    let (storage, _engine, mut s) = setup();
    // On a primary the replica-side functions are NULL.
    assert_eq!(
        run(
            &mut s,
            "SELECT pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), \
             pg_last_xact_replay_timestamp()"
        ),
        vec![vec!["NULL", "NULL", "NULL"]]
    );
    let lsn = storage.current_lsn();
    assert_eq!(one(&mut s, "SELECT pg_current_wal_lsn()"), lsn.to_string());
    assert_eq!(one(&mut s, "SELECT rustydb_current_lsn()"), lsn.to_string());
    assert_eq!(
        one(&mut s, "SELECT pg_typeof(pg_current_wal_lsn())"),
        "pg_lsn"
    );
    assert_eq!(one(&mut s, "SELECT rustydb_timeline()"), "1");
    storage.set_timeline(3);
    assert_eq!(one(&mut s, "SELECT rustydb_timeline()"), "3");

    storage.set_in_recovery(true);
    storage.set_recovery_status(Some(RecoveryStatus {
        receive_lsn: Lsn(0x1_0000_0040),
        replay_lsn: Lsn(0x2A),
        last_replay_micros: Some(1_700_000_000_000_000),
    }));
    assert_eq!(
        run(
            &mut s,
            "SELECT pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), \
             pg_last_xact_replay_timestamp()"
        ),
        vec![vec!["1/40", "0/2A", "2023-11-14 22:13:20+00"]]
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
        ),
        (0x1_0000_0040u64 - 0x2A).to_string()
    );
    assert_eq!(
        one(&mut s, "SELECT pg_last_wal_receive_lsn() - '0/40'::pg_lsn"),
        "4294967296"
    );
    assert_eq!(one(&mut s, "SELECT '0/A'::pg_lsn < '0/10'::pg_lsn"), "t");
    assert_eq!(
        fail(&mut s, "SELECT 'x'::pg_lsn"),
        (
            "22P02".into(),
            "invalid input syntax for type pg_lsn: \"x\"".into()
        )
    );
    assert_eq!(one(&mut s, "SELECT rustydb_current_lsn() IS NOT NULL"), "t");
}

#[test]
fn stat_replication_views_show_the_replicas() {
    let (storage, _engine, mut s) = setup();
    assert!(run(&mut s, "SELECT * FROM pg_stat_replication").is_empty());
    storage.set_replication_stats(vec![ReplicationStat {
        name: "n2".into(),
        client_addr: "127.0.0.1:40388".into(),
        backend_start_micros: 1_700_000_000_000_000,
        state: "streaming".into(),
        sent_lsn: Lsn(0x3026000),
        write_lsn: Lsn(0x3026000),
        flush_lsn: Lsn(0x3026000),
        replay_lsn: Lsn(0x3025618),
        write_lag_ms: Some(0.119),
        flush_lag_ms: Some(0.429),
        replay_lag_ms: None,
        lag_records: 2,
        lag_bytes: 2536,
        sync_priority: 1,
        sync_state: "sync".into(),
        reply_time_micros: Some(1_700_000_001_000_000),
    }]);
    assert_eq!(
        run(
            &mut s,
            "SELECT application_name, client_addr, client_port, state, sent_lsn, replay_lsn, \
             write_lag, replay_lag, sync_priority, sync_state, usename, pid \
             FROM pg_stat_replication"
        ),
        vec![vec![
            "n2",
            "127.0.0.1",
            "40388",
            "streaming",
            "0/3026000",
            "0/3025618",
            "00:00:00.000119",
            "NULL",
            "1",
            "sync",
            "postgres",
            "NULL"
        ]]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT application_name, lag_records, lag_bytes, \
             pg_wal_lsn_diff(sent_lsn, replay_lsn) FROM rustydb_stat_replication"
        ),
        vec![vec!["n2", "2", "2536", "2536"]]
    );
    assert_eq!(
        one(
            &mut s,
            "SELECT count(*) FROM pg_catalog.pg_stat_replication WHERE flush_lsn > replay_lsn"
        ),
        "1"
    );
}

#[test]
fn synchronous_commit_reaches_the_storage() {
    let (storage, _engine, mut s) = setup();
    run(&mut s, "INSERT INTO t VALUES (10, 'a')");
    assert_eq!(storage.last_synchronous_commit(), Some(SyncCommit::On));
    run(
        &mut s,
        "SET synchronous_commit = remote_apply; INSERT INTO t VALUES (11, 'a')",
    );
    assert_eq!(
        storage.last_synchronous_commit(),
        Some(SyncCommit::RemoteApply)
    );
    run(
        &mut s,
        "SET synchronous_commit = 'OFF'; BEGIN; INSERT INTO t VALUES (12, 'a'); COMMIT",
    );
    assert_eq!(storage.last_synchronous_commit(), Some(SyncCommit::Off));
    assert_eq!(one(&mut s, "SHOW synchronous_commit"), "off");
    for (value, shown) in [
        ("1", "on"),
        ("yes", "on"),
        ("false", "off"),
        ("Remote_Write", "remote_write"),
        ("local", "local"),
    ] {
        run(&mut s, &format!("SET synchronous_commit = '{value}'"));
        assert_eq!(one(&mut s, "SHOW synchronous_commit"), shown, "{value}");
    }
    let err = s
        .simple_query("SET synchronous_commit = bogus")
        .pop()
        .and_then(|r| r.err());
    let err = err.expect("bogus must fail");
    assert_eq!(err.state().0, "22023");
    assert_eq!(
        err.message(),
        "invalid value for parameter \"synchronous_commit\": \"bogus\""
    );
    assert_eq!(
        err.hint(),
        Some("Available values: local, remote_write, remote_apply, on, off.")
    );
    // SET LOCAL lasts until the block ends, and applies to its COMMIT.
    run(&mut s, "SET synchronous_commit = on");
    run(&mut s, "BEGIN; SET LOCAL synchronous_commit = remote_write");
    assert_eq!(one(&mut s, "SHOW synchronous_commit"), "remote_write");
    run(&mut s, "INSERT INTO t VALUES (13, 'a'); COMMIT");
    assert_eq!(
        storage.last_synchronous_commit(),
        Some(SyncCommit::RemoteWrite)
    );
    assert_eq!(one(&mut s, "SHOW synchronous_commit"), "on");
    // COPY FROM STDIN commits at the session's level too.
    run(&mut s, "SET synchronous_commit = local");
    assert!(matches!(
        s.simple_query("COPY t FROM STDIN").pop(),
        Some(Ok(QueryResult::CopyIn { .. }))
    ));
    s.copy_in_data(b"20\tc\n").expect("copy data");
    s.copy_in_done().expect("copy done");
    assert_eq!(storage.last_synchronous_commit(), Some(SyncCommit::Local));
}

#[test]
fn server_settings_are_seen_by_open_sessions() {
    let (_storage, engine, mut s) = setup();
    assert_eq!(fail(&mut s, "SHOW rustydb.replication_endpoint").0, "42704");
    engine.set_server_setting("rustydb.replication_endpoint", "127.0.0.1:40123");
    assert_eq!(
        one(&mut s, "SHOW rustydb.replication_endpoint"),
        "127.0.0.1:40123"
    );
    engine.set_server_setting("rustydb.replication_endpoint", "127.0.0.1:40999");
    assert_eq!(
        one(
            &mut s,
            "SELECT current_setting('rustydb.replication_endpoint')"
        ),
        "127.0.0.1:40999"
    );
    let mut other = engine.connect("postgres", "postgres").expect("connect");
    assert_eq!(
        one(&mut other, "SHOW rustydb.replication_endpoint"),
        "127.0.0.1:40999"
    );
    assert_eq!(
        fail(&mut s, "SET rustydb.replication_endpoint = 'x'"),
        (
            "55P02".into(),
            "parameter \"rustydb.replication_endpoint\" cannot be changed".into()
        )
    );
    assert_eq!(fail(&mut s, "SET in_hot_standby = on").0, "55P02");
}

#[test]
fn pg_lsn_arithmetic_and_aggregates() {
    let (_storage, _engine, mut s) = setup();
    assert_eq!(
        run(
            &mut s,
            "SELECT max(x), min(x) FROM (VALUES ('0/10'::pg_lsn), ('0/A'::pg_lsn)) v(x)"
        ),
        vec![vec!["0/10", "0/A"]]
    );
    assert_eq!(
        run(
            &mut s,
            "SELECT '0/10'::pg_lsn + 5, '0/10'::pg_lsn - 5, 16 + '0/FFFFFFFF'::pg_lsn"
        ),
        vec![vec!["0/15", "0/B", "1/F"]]
    );
    assert_eq!(one(&mut s, "SELECT '0/1'::pg_lsn + 1.5"), "0/3");
    assert_eq!(
        fail(&mut s, "SELECT '0/1'::pg_lsn - 2"),
        ("22003".into(), "pg_lsn out of range".into())
    );
    assert_eq!(
        one(&mut s, "SELECT '1/0'::pg_lsn - '0/1'::pg_lsn"),
        "4294967295"
    );
}

#[test]
fn txid_current_is_refused_during_recovery() {
    let (storage, _engine, mut s) = setup();
    run(&mut s, "SELECT txid_current()");
    storage.set_in_recovery(true);
    assert_eq!(
        fail(&mut s, "SELECT txid_current()"),
        (
            "25006".into(),
            "cannot execute pg_current_xact_id() during recovery".into()
        )
    );
}
