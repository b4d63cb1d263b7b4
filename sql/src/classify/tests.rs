//! Golden tests: SQL text → expected target, transaction control and
//! session effect. Each row is one case; a failure names the text.

use super::*;

const P: Target = Target::Primary;
const R: Target = Target::Replica;

/// Expected session effect, in short.
#[derive(Debug, Clone, Copy)]
enum S {
    No,
    Pin,
    Set(&'static str),
    Reset(Option<&'static str>),
}

const BEGIN_RW: Option<TxnControl> = Some(TxnControl::Begin { read_only: false });
const BEGIN_RO: Option<TxnControl> = Some(TxnControl::Begin { read_only: true });
const COMMIT: Option<TxnControl> = Some(TxnControl::Commit);
const ROLLBACK: Option<TxnControl> = Some(TxnControl::Rollback);
const OTHER: Option<TxnControl> = Some(TxnControl::Other);

#[rustfmt::skip]
const CASES: &[(&str, Target, Option<TxnControl>, S)] = &[
    // Plain reads.
    ("SELECT 1", R, None, S::No),
    ("select * from t where a = $1", R, None, S::No),
    ("VALUES (1), (2)", R, None, S::No),
    ("TABLE t", R, None, S::No),
    ("WITH x AS (SELECT 1) SELECT * FROM x", R, None, S::No),
    ("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r", R, None, S::No),
    ("SELECT now(), random(), pg_is_in_recovery(), pg_last_wal_replay_lsn()", R, None, S::No),
    ("SELECT * FROM generate_series(1, 3)", R, None, S::No),
    ("SELECT 'INSERT INTO t VALUES (1)', \"update\" FROM t", R, None, S::No),
    ("SELECT 1 -- DELETE FROM t\n", R, None, S::No),
    ("", R, None, S::No),
    (" ; ; ", R, None, S::No),
    // Writes and DDL.
    ("INSERT INTO t VALUES (1)", P, None, S::No),
    ("INSERT INTO t VALUES (1) ON CONFLICT (a) DO NOTHING", P, None, S::No),
    ("UPDATE t SET a = 1", P, None, S::No),
    ("DELETE FROM t", P, None, S::No),
    ("MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", P, None, S::No),
    ("CREATE TABLE x (a int)", P, None, S::No),
    ("DROP TABLE x", P, None, S::No),
    ("ALTER TABLE x ADD COLUMN b int", P, None, S::No),
    ("TRUNCATE t", P, None, S::No),
    ("CREATE INDEX ON t (a)", P, None, S::No),
    ("GRANT SELECT ON t TO bob", P, None, S::No),
    ("CREATE MATERIALIZED VIEW mv AS SELECT 1", P, None, S::No),
    ("REFRESH MATERIALIZED VIEW mv", P, None, S::No),
    ("VACUUM", P, None, S::No),
    ("VACUUM (VERBOSE, ANALYZE) t", P, None, S::No),
    ("ANALYZE t", P, None, S::No),
    ("CHECKPOINT", P, None, S::No),
    ("CALL p(1)", P, None, S::No),
    ("DO $$ BEGIN PERFORM 1; END $$", P, None, S::No),
    ("LOCK TABLE t IN ACCESS SHARE MODE", P, None, S::No),
    ("NOTIFY ch, 'x'", P, None, S::No),
    ("UNLISTEN *", P, None, S::No),
    ("COMMENT ON TABLE t IS 'x'", P, None, S::No),
    // Locking clauses.
    ("SELECT * FROM t FOR UPDATE", P, None, S::No),
    ("SELECT * FROM t FOR SHARE", P, None, S::No),
    ("SELECT * FROM t FOR NO KEY UPDATE OF t NOWAIT", P, None, S::No),
    ("SELECT * FROM t FOR KEY SHARE SKIP LOCKED", P, None, S::No),
    ("SELECT 1 UNION SELECT 2 FOR UPDATE", P, None, S::No),
    ("SELECT * FROM (SELECT * FROM t FOR UPDATE) x", P, None, S::No),
    ("SELECT substring('abc' FROM 1 FOR 2)", R, None, S::No),
    // Data-modifying CTEs.
    ("WITH x AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM x", P, None, S::No),
    ("WITH x AS (UPDATE t SET a = 2 RETURNING a) SELECT count(*) FROM x", P, None, S::No),
    ("WITH x AS (DELETE FROM t RETURNING *) INSERT INTO log SELECT * FROM x", P, None, S::No),
    ("WITH a AS (SELECT 1), b AS (DELETE FROM t) SELECT * FROM a", P, None, S::No),
    // SELECT INTO.
    ("SELECT a INTO newt FROM t", P, None, S::No),
    ("SELECT a INTO TEMP newt FROM t", P, None, S::Pin),
    ("SELECT a INTO TEMPORARY TABLE newt FROM t", P, None, S::Pin),
    // Functions, wherever they hide.
    ("SELECT nextval('s')", P, None, S::No),
    ("SELECT pg_catalog.nextval('s')", P, None, S::No),
    ("SELECT * FROM (SELECT nextval('s')) x", P, None, S::No),
    ("SELECT * FROM t WHERE a IN (SELECT nextval('s'))", P, None, S::No),
    ("SELECT * FROM nextval('s')", P, None, S::No),
    ("SELECT CASE WHEN a > 0 THEN setval('s', a) END FROM t", P, None, S::No),
    ("SELECT ARRAY(SELECT nextval('s'))", P, None, S::No),
    ("SELECT f(x => nextval('s'))", P, None, S::No),
    ("SELECT setval('s', 42, false)", P, None, S::No),
    ("SELECT currval('s')", P, None, S::No),
    ("SELECT lastval()", P, None, S::No),
    ("SELECT txid_current()", P, None, S::No),
    ("SELECT pg_current_xact_id()", P, None, S::No),
    ("SELECT pg_current_wal_lsn()", P, None, S::No),
    ("SELECT pg_notify('ch', 'x')", P, None, S::No),
    ("SELECT lo_import('/tmp/x')", P, None, S::No),
    ("SELECT loread(fd, 10)", P, None, S::No),
    ("SELECT * FROM dblink('db', 'select 1') AS x(a int)", P, None, S::No),
    ("SELECT pg_create_logical_replication_slot('s', 'pgoutput')", P, None, S::No),
    ("SELECT \"NextVal\"('s')", P, None, S::No),
    ("VALUES (nextval('s'))", P, None, S::No),
    ("INSERT INTO t VALUES (1) RETURNING a", P, None, S::No),
    ("SELECT count(*) FILTER (WHERE nextval('s') > 0) FROM t", P, None, S::No),
    ("SELECT * FROM t ORDER BY setval('s', 1)", P, None, S::No),
    ("SELECT a FROM t GROUP BY a HAVING max(nextval('s')) > 0", P, None, S::No),
    ("SELECT * FROM t JOIN LATERAL (SELECT nextval('s')) x ON true", P, None, S::No),
    ("SELECT pg_catalog.set_config('search_path', '', false)", P, None, S::Pin),
    ("SELECT * FROM pg_stat_activity", R, None, S::No),
    ("SELECT txid_current_snapshot(), pg_sleep(0)", R, None, S::No),
    // Advisory locks: session locks pin, transaction locks do not.
    ("SELECT pg_advisory_lock(1)", P, None, S::Pin),
    ("SELECT pg_try_advisory_lock(1, 2)", P, None, S::Pin),
    ("SELECT pg_advisory_lock_shared(1)", P, None, S::Pin),
    ("SELECT pg_advisory_xact_lock(1)", P, None, S::No),
    ("SELECT pg_try_advisory_xact_lock_shared(1)", P, None, S::No),
    ("SELECT pg_advisory_unlock(1)", P, None, S::No),
    ("SELECT pg_advisory_unlock_all()", P, None, S::No),
    ("INSERT INTO t SELECT pg_advisory_lock(1)", P, None, S::Pin),
    // set_config: a session SET unless local.
    ("SELECT set_config('search_path', 'a', false)", P, None, S::Pin),
    ("SELECT set_config('search_path', 'a', true)", P, None, S::No),
    // EXPLAIN.
    ("EXPLAIN SELECT * FROM t", R, None, S::No),
    ("EXPLAIN INSERT INTO t VALUES (1)", R, None, S::No),
    ("EXPLAIN SELECT nextval('s')", R, None, S::No),
    ("EXPLAIN VERBOSE SELECT 1", R, None, S::No),
    ("EXPLAIN ANALYZE SELECT * FROM t", R, None, S::No),
    ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", P, None, S::No),
    ("EXPLAIN ANALYZE SELECT nextval('s')", P, None, S::No),
    ("EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE", P, None, S::No),
    ("EXPLAIN (ANALYZE, BUFFERS) DELETE FROM t", P, None, S::No),
    ("EXPLAIN (ANALYZE true) UPDATE t SET a = 1", P, None, S::No),
    ("EXPLAIN (ANALYZE false) INSERT INTO t VALUES (1)", R, None, S::No),
    ("EXPLAIN (ANALYZE off, COSTS off) INSERT INTO t VALUES (1)", R, None, S::No),
    // COPY.
    ("COPY t TO STDOUT", R, None, S::No),
    ("COPY t (a, b) TO STDOUT WITH (FORMAT csv, HEADER)", R, None, S::No),
    ("COPY (SELECT * FROM t) TO STDOUT", R, None, S::No),
    ("COPY (SELECT nextval('s')) TO STDOUT", P, None, S::No),
    ("COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT", P, None, S::No),
    ("COPY t FROM STDIN", P, None, S::No),
    ("copy pgbench_accounts from stdin with (freeze on)", P, None, S::No),
    // SHOW.
    ("SHOW search_path", R, None, S::No),
    ("SHOW ALL", R, None, S::No),
    ("SHOW TRANSACTION ISOLATION LEVEL", R, None, S::No),
    ("show server_version", R, None, S::No),
    // Transactions.
    ("BEGIN", P, BEGIN_RW, S::No),
    ("begin", P, BEGIN_RW, S::No),
    ("BEGIN WORK", P, BEGIN_RW, S::No),
    ("START TRANSACTION", P, BEGIN_RW, S::No),
    ("BEGIN TRANSACTION READ WRITE", P, BEGIN_RW, S::No),
    ("BEGIN ISOLATION LEVEL REPEATABLE READ", P, BEGIN_RW, S::No),
    ("BEGIN READ ONLY", R, BEGIN_RO, S::No),
    ("BEGIN TRANSACTION READ ONLY", R, BEGIN_RO, S::No),
    ("START TRANSACTION READ ONLY", R, BEGIN_RO, S::No),
    ("START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", R, BEGIN_RO, S::No),
    ("START TRANSACTION ISOLATION LEVEL READ COMMITTED READ ONLY", R, BEGIN_RO, S::No),
    ("BEGIN READ ONLY ISOLATION LEVEL SERIALIZABLE", P, BEGIN_RO, S::No),
    ("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", P, BEGIN_RO, S::No),
    ("BEGIN READ ONLY, NOT DEFERRABLE", R, BEGIN_RO, S::No),
    ("BEGIN READ ONLY READ WRITE", P, BEGIN_RW, S::No),
    ("COMMIT", P, COMMIT, S::No),
    ("END", P, COMMIT, S::No),
    ("END;", P, COMMIT, S::No),
    ("COMMIT WORK AND CHAIN", P, COMMIT, S::No),
    ("ROLLBACK", P, ROLLBACK, S::No),
    ("ABORT", P, ROLLBACK, S::No),
    ("ROLLBACK AND NO CHAIN", P, ROLLBACK, S::No),
    ("ROLLBACK TO SAVEPOINT a", P, OTHER, S::No),
    ("ROLLBACK TO a", P, OTHER, S::No),
    ("SAVEPOINT a", P, OTHER, S::No),
    ("RELEASE SAVEPOINT a", P, OTHER, S::No),
    ("RELEASE a", P, OTHER, S::No),
    ("PREPARE TRANSACTION 'gid'", P, OTHER, S::No),
    ("COMMIT PREPARED 'gid'", P, OTHER, S::No),
    ("ROLLBACK PREPARED 'gid'", P, OTHER, S::No),
    ("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", P, None, S::No),
    ("SET TRANSACTION READ ONLY", R, None, S::No),
    ("SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", P, None, S::No),
    // SET / RESET / DISCARD.
    ("SET search_path = a, b", P, None, S::Set("search_path")),
    ("SET search_path TO DEFAULT", P, None, S::Set("search_path")),
    ("set Work_Mem to '4MB'", P, None, S::Set("work_mem")),
    ("SET SESSION statement_timeout = 1000", P, None, S::Set("statement_timeout")),
    ("SET application_name = 'x;y'", P, None, S::Set("application_name")),
    ("SET datestyle = iso, mdy", P, None, S::Set("datestyle")),
    ("SET TIME ZONE 'UTC'", P, None, S::Set("timezone")),
    ("SET SESSION TIME ZONE LOCAL", P, None, S::Set("timezone")),
    ("SET NAMES 'UTF8'", P, None, S::Set("client_encoding")),
    ("SET SCHEMA 'app'", P, None, S::Set("search_path")),
    ("SET rustydb.parallel_degree = 4", P, None, S::Set("rustydb.parallel_degree")),
    ("SET \"Foo.Bar\" = 4", P, None, S::Set("foo.bar")),
    ("SET default_transaction_read_only = on", P, None, S::Set("default_transaction_read_only")),
    ("SET default_transaction_isolation = 'serializable'", P, None, S::Pin),
    ("SET default_transaction_isolation = 'repeatable read'", P, None, S::Set("default_transaction_isolation")),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", P, None, S::Set("default_transaction_read_only")),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ", P, None, S::Set("default_transaction_isolation")),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", P, None, S::Pin),
    ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY, DEFERRABLE", P, None, S::Pin),
    ("SET LOCAL work_mem = '4MB'", R, None, S::No),
    ("SET LOCAL TIME ZONE 'UTC'", R, None, S::No),
    ("SET LOCAL search_path TO x", R, None, S::No),
    ("SET transaction_read_only = on", P, None, S::No),
    ("SET ROLE bob", P, None, S::Pin),
    ("SET SESSION ROLE bob", P, None, S::Pin),
    ("SET role = bob", P, None, S::Pin),
    ("SET SESSION AUTHORIZATION bob", P, None, S::Pin),
    ("SET SESSION SESSION AUTHORIZATION DEFAULT", P, None, S::Pin),
    ("SET LOCAL ROLE bob", P, None, S::No),
    ("SET LOCAL SESSION AUTHORIZATION bob", P, None, S::No),
    ("RESET ALL", P, None, S::Reset(None)),
    ("RESET work_mem", P, None, S::Reset(Some("work_mem"))),
    ("RESET rustydb.parallel_degree", P, None, S::Reset(Some("rustydb.parallel_degree"))),
    ("RESET TIME ZONE", P, None, S::Reset(Some("timezone"))),
    ("RESET ROLE", P, None, S::Reset(Some("role"))),
    ("RESET SESSION AUTHORIZATION", P, None, S::Reset(Some("session_authorization"))),
    ("DISCARD ALL", P, None, S::Reset(None)),
    ("DISCARD PLANS", P, None, S::No),
    ("DISCARD TEMP", P, None, S::No),
    // Pinning statements.
    ("LISTEN ch", P, None, S::Pin),
    ("LOAD 'auto_explain'", P, None, S::Pin),
    ("PREPARE p (int) AS SELECT $1", P, None, S::Pin),
    ("PREPARE q AS INSERT INTO t VALUES (1)", P, None, S::Pin),
    ("EXECUTE p(1)", P, None, S::No),
    ("DEALLOCATE p", P, None, S::No),
    ("DEALLOCATE ALL", P, None, S::No),
    ("DEALLOCATE PREPARE p", P, None, S::No),
    ("DECLARE c CURSOR WITH HOLD FOR SELECT 1", P, None, S::Pin),
    ("DECLARE c CURSOR FOR SELECT 1", P, None, S::No),
    ("FETCH 10 FROM c", P, None, S::No),
    ("CLOSE c", P, None, S::No),
    // Temporary objects.
    ("CREATE TEMP TABLE tt (a int)", P, None, S::Pin),
    ("CREATE TEMPORARY TABLE tt AS SELECT 1", P, None, S::Pin),
    ("CREATE GLOBAL TEMPORARY TABLE tt (a int)", P, None, S::Pin),
    ("CREATE TABLE pg_temp.tt (a int)", P, None, S::Pin),
    ("CREATE TEMP TABLE tt (a int) ON COMMIT DROP", P, None, S::No),
    ("CREATE TEMP VIEW v AS SELECT 1", P, None, S::Pin),
    ("CREATE OR REPLACE TEMP VIEW v AS SELECT 1", P, None, S::Pin),
    ("CREATE TEMP SEQUENCE s", P, None, S::Pin),
    ("CREATE UNLOGGED TABLE u (a int)", P, None, S::No),
    // Multi-statement strings.
    ("SELECT 1; SELECT 2", R, None, S::No),
    ("SELECT 1; INSERT INTO t VALUES (1)", P, None, S::No),
    ("BEGIN; SELECT 1; COMMIT", P, BEGIN_RW, S::No),
    ("BEGIN READ ONLY; SELECT 1; COMMIT", P, BEGIN_RO, S::No),
    ("SET work_mem = '1MB'; SELECT 1", P, None, S::Set("work_mem")),
    ("SET work_mem = '1MB'; SET search_path = a", P, None, S::Pin),
    ("SELECT 'a;b'; SELECT $$;$$", R, None, S::No),
    // pgbench.
    ("BEGIN;", P, BEGIN_RW, S::No),
    ("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;", P, None, S::No),
    ("SELECT abalance FROM pgbench_accounts WHERE aid = $1;", R, None, S::No),
    ("SELECT abalance FROM pgbench_accounts WHERE aid = 70806;", R, None, S::No),
    ("UPDATE pgbench_tellers SET tbalance = tbalance + -2409 WHERE tid = 10;", P, None, S::No),
    ("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);", P, None, S::No),
    ("drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers", P, None, S::No),
    ("create table pgbench_tellers(tid int not null,bid int,tbalance int,filler char(84)) with (fillfactor=100)", P, None, S::No),
    ("truncate table pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers", P, None, S::No),
    ("vacuum analyze pgbench_branches", P, None, S::No),
    ("alter table pgbench_branches add primary key (bid)", P, None, S::No),
    ("select count(*) from pgbench_branches", R, None, S::No),
    ("select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1", R, None, S::No),
    // psql's \d t and \l.
    ("SELECT c.oid,\n  n.nspname,\n  c.relname\nFROM pg_catalog.pg_class c\n     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\nWHERE c.relname OPERATOR(pg_catalog.~) '^(t)$' COLLATE pg_catalog.default\n  AND pg_catalog.pg_table_is_visible(c.oid)\nORDER BY 2, 3;", R, None, S::No),
    ("SELECT\n  d.datname as \"Name\",\n  pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",\n  pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n  pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"\nFROM pg_catalog.pg_database d\nORDER BY 1;", R, None, S::No),
];

fn check(sql: &str, target: Target, txn: Option<TxnControl>, s: S) -> Result<(), String> {
    let c = classify(sql);
    let session = match s {
        S::No => None,
        S::Pin => Some(SessionEffect::Pin),
        S::Set(name) => match &c.session {
            Some(SessionEffect::Set { name: got, .. }) if got == name => c.session.clone(),
            _ => Some(SessionEffect::Set {
                name: name.to_string(),
                sql: "<any>".into(),
            }),
        },
        S::Reset(name) => Some(SessionEffect::Reset {
            name: name.map(str::to_string),
        }),
    };
    if c.target != target || c.txn != txn || c.session != session {
        return Err(format!(
            "{sql:?}\n   got {:?} {:?} {:?} (parsed {})\n  want {target:?} {txn:?} {session:?}",
            c.target, c.txn, c.session, c.parsed
        ));
    }
    if !c.parsed {
        return Err(format!("{sql:?}: valid SQL not understood"));
    }
    Ok(())
}

#[test]
fn golden() {
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(sql, target, txn, s)| check(sql, *target, *txn, *s).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn set_replays_its_own_text() {
    let c = classify("  SET search_path = a, b ; SELECT 1");
    assert_eq!(
        c.session,
        Some(SessionEffect::Set {
            name: "search_path".into(),
            sql: "SET search_path = a, b".into()
        })
    );
    assert!(c.parsed);
}

#[test]
fn hints() {
    assert_eq!(
        classify("/* rustydb:primary */ SELECT 1").hint,
        Some(Hint::Primary)
    );
    assert_eq!(
        classify("SELECT /* rustydb:replica */ 1").hint,
        Some(Hint::Replica)
    );
    assert_eq!(
        classify("SELECT 1 -- rustydb:replica").hint,
        Some(Hint::Replica)
    );
    assert_eq!(classify("SELECT '/* rustydb:primary */'").hint, None);
    let c = classify("/* rustydb:replica */ INSERT INTO t VALUES (1)");
    assert_eq!(
        (c.target, c.hint),
        (P, Some(Hint::Replica)),
        "a hint is reported, not applied"
    );
}

#[test]
fn unparsable_goes_to_primary() {
    for sql in [
        "SELEC 1",
        "frobnicate the database",
        "SELECT 'unterminated",
        "/* unterminated comment",
        "EXPLAIN (FORMAT yaml, ANALYZE) WEIRD SYNTAX HERE",
    ] {
        let c = classify(sql);
        assert_eq!((c.target, c.parsed), (P, false), "{sql}");
    }
    // Understood by the token scan although sqlparser rejects it.
    let c = classify("SELECT * FROM ROWS FROM (generate_series(1, 2))");
    assert_eq!((c.target, c.parsed), (R, true));
    let c = classify("SELECT * FROM ROWS FROM (nextval('s'))");
    assert_eq!((c.target, c.parsed), (P, true));
}

#[test]
fn extra_functions_are_configurable() {
    let f = PrimaryFunctions::with_extra(["audit_*"]);
    assert_eq!(classify("SELECT audit_touch(1)").target, R);
    assert_eq!(classify_with("SELECT audit_touch(1)", &f).target, P);
    assert_eq!(
        classify_with("SELECT * FROM t WHERE x = audit_x()", &f).target,
        P
    );
}

#[test]
fn hostile_input_does_not_crash() {
    let deep = format!("SELECT {}1{}", "(".repeat(5000), ")".repeat(5000));
    let c = classify(&deep);
    assert_eq!(c.target, R, "deep but read-only: the token scan decides");
    let deep_write = format!(
        "SELECT {}nextval('s'){}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(classify(&deep_write).target, P);
    for sql in ["$", "$$", "E'\\", "U&", "\"", "--", "/*/", "é;é", "\u{0}"] {
        let _ = classify(sql);
    }
}
