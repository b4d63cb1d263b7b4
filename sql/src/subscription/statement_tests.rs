//! Statement and apply tests against the in-memory engine (no publisher:
//! `connect = false` / `create_slot = false`, so nothing needs the node).

use std::sync::Arc;

use super::{Progress, RemoteChange, RemoteOp, RemoteTxn};
use crate::memory::MemoryStorage;
use crate::types::Value;
use crate::{Engine, QueryResult, Session};

fn session() -> Session {
    let engine = Engine::new(MemoryStorage::new()).unwrap();
    engine.connect("postgres", "postgres").unwrap()
}

fn run(s: &mut Session, sql: &str) -> Result<QueryResult, (String, String)> {
    s.simple_query(sql)
        .pop()
        .unwrap()
        .map_err(|e| (e.state().0.to_string(), e.message()))
}

fn rows(s: &mut Session, sql: &str) -> Vec<Vec<Value>> {
    match run(s, sql).unwrap() {
        QueryResult::Rows { rows, .. } => rows,
        other => panic!("{other:?}"),
    }
}

const CREATE: &str = "CREATE SUBSCRIPTION s CONNECTION 'host=127.0.0.1 port=1 user=postgres' PUBLICATION p WITH (connect = false)";

#[test]
fn create_alter_drop_with_postgres_messages() {
    let mut s = session();
    assert_eq!(
        run(&mut s, CREATE).unwrap(),
        QueryResult::Command {
            tag: "CREATE SUBSCRIPTION".into()
        }
    );
    assert_eq!(
        run(&mut s, CREATE).unwrap_err(),
        ("42710".into(), "subscription \"s\" already exists".into())
    );
    let e = run(
        &mut s,
        "CREATE SUBSCRIPTION s2 CONNECTION 'host=a user' PUBLICATION p WITH (connect = false)",
    )
    .unwrap_err();
    assert_eq!(e.0, "42601");
    assert!(e
        .1
        .starts_with("invalid connection string syntax: missing \"=\" after \"user\""));
    assert_eq!(
        run(
            &mut s,
            "CREATE SUBSCRIPTION s2 CONNECTION 'host=a' PUBLICATION p WITH (foo = 1)"
        )
        .unwrap_err(),
        (
            "42601".into(),
            "unrecognized subscription parameter: \"foo\"".into()
        )
    );
    assert_eq!(
        run(
            &mut s,
            "CREATE SUBSCRIPTION s2 CONNECTION 'host=a' PUBLICATION p WITH (copy_data = maybe)"
        )
        .unwrap_err(),
        ("42601".into(), "copy_data requires a Boolean value".into())
    );
    run(&mut s, "BEGIN").unwrap();
    assert_eq!(
        run(&mut s, "CREATE SUBSCRIPTION s2 CONNECTION 'host=a' PUBLICATION p").unwrap_err(),
        (
            "25001".into(),
            "CREATE SUBSCRIPTION ... WITH (create_slot = true) cannot run inside a transaction block".into()
        )
    );
    run(&mut s, "ROLLBACK").unwrap();
    assert_eq!(
        run(&mut s, "ALTER SUBSCRIPTION nope DISABLE").unwrap_err(),
        (
            "42704".into(),
            "subscription \"nope\" does not exist".into()
        )
    );
    assert_eq!(
        run(&mut s, "DROP SUBSCRIPTION nope").unwrap_err(),
        (
            "42704".into(),
            "subscription \"nope\" does not exist".into()
        )
    );
    run(&mut s, "DROP SUBSCRIPTION IF EXISTS nope").unwrap();
    assert_eq!(
        run(&mut s, "ALTER SUBSCRIPTION s SKIP (lsn = '0/0')").unwrap_err(),
        ("22023".into(), "invalid WAL location (LSN): 0/0".into())
    );
    assert_eq!(
        run(&mut s, "ALTER SUBSCRIPTION s SKIP (lsn = 'foo')").unwrap_err(),
        (
            "22P02".into(),
            "invalid input syntax for type pg_lsn: \"foo\"".into()
        )
    );
    run(&mut s, "ALTER SUBSCRIPTION s SKIP (lsn = '0/10')").unwrap();
    assert_eq!(
        run(&mut s, "ALTER SUBSCRIPTION s REFRESH PUBLICATION").unwrap_err(),
        (
            "55000".into(),
            "ALTER SUBSCRIPTION ... REFRESH is not allowed for disabled subscriptions".into()
        )
    );
    run(&mut s, "ALTER SUBSCRIPTION s CONNECTION 'host=b port=2'").unwrap();
    run(
        &mut s,
        "ALTER SUBSCRIPTION s SET PUBLICATION p, q WITH (refresh = false)",
    )
    .unwrap();
    let r = rows(
        &mut s,
        "SELECT subname, subenabled, subconninfo, subslotname, subpublications, subskiplsn FROM pg_subscription",
    );
    assert_eq!(
        r,
        vec![vec![
            Value::Text("s".into()),
            Value::Bool(false),
            Value::Text("host=b port=2".into()),
            Value::Text("s".into()),
            Value::Array(vec![Value::Text("p".into()), Value::Text("q".into())]),
            Value::PgLsn(16),
        ]]
    );
    let r = rows(
        &mut s,
        "SELECT subname, enabled, status FROM rustydb_stat_subscription",
    );
    assert_eq!(
        r,
        vec![vec![
            Value::Text("s".into()),
            Value::Bool(false),
            Value::Text("disabled".into())
        ]]
    );
    // Without slots there is nothing on a publisher to drop: allowed in a block.
    run(&mut s, "ALTER SUBSCRIPTION s SET (slot_name = NONE)").unwrap();
    run(&mut s, "BEGIN").unwrap();
    run(&mut s, "DROP SUBSCRIPTION s").unwrap();
    run(&mut s, "ROLLBACK").unwrap();
    assert_eq!(rows(&mut s, "SELECT subname FROM pg_subscription").len(), 1);
    run(&mut s, "DROP SUBSCRIPTION s").unwrap();
    assert!(rows(&mut s, "SELECT subname FROM pg_subscription").is_empty());
}

fn change(
    table: &str,
    op: RemoteOp,
    key: &[(&str, &str)],
    new: Option<&[(&str, Option<&str>)]>,
) -> RemoteChange {
    RemoteChange::Row {
        table: table.into(),
        op,
        key: key
            .iter()
            .map(|(c, v)| (c.to_string(), Some(v.to_string())))
            .collect(),
        new: new.map(|n| {
            n.iter()
                .map(|(c, v)| (c.to_string(), v.map(str::to_string)))
                .collect()
        }),
    }
}

#[test]
fn apply_is_atomic_with_progress_and_reports_conflicts() {
    let mut s = session();
    run(&mut s, CREATE).unwrap();
    run(
        &mut s,
        "CREATE TABLE t (id int PRIMARY KEY, v text, extra text DEFAULT 'd')",
    )
    .unwrap();
    let engine: Arc<Engine> = s.engine.clone();
    let mut a = engine.connect("postgres", "postgres").unwrap();
    let t1 = RemoteTxn {
        lsn: 10,
        commit_micros: None,
        changes: vec![
            change(
                "public.t",
                RemoteOp::Insert,
                &[],
                Some(&[("id", Some("1")), ("v", Some("a"))]),
            ),
            change(
                "public.t",
                RemoteOp::Insert,
                &[],
                Some(&[("id", Some("2")), ("v", None)]),
            ),
            change(
                "public.t",
                RemoteOp::Update,
                &[("id", "1")],
                Some(&[("id", Some("1")), ("v", Some("b"))]),
            ),
        ],
    };
    let n = a
        .apply_remote(
            "s",
            "p",
            &t1,
            Progress {
                lsn: 10,
                copied: true,
            },
            false,
        )
        .unwrap();
    assert_eq!(n, 3);
    assert_eq!(
        rows(&mut s, "SELECT id, v, extra FROM t ORDER BY id"),
        vec![
            vec![
                Value::Int4(1),
                Value::Text("b".into()),
                Value::Text("d".into())
            ],
            vec![Value::Int4(2), Value::Null, Value::Text("d".into())],
        ]
    );
    assert_eq!(
        rows(&mut s, "SELECT applied_lsn FROM rustydb_stat_subscription"),
        vec![vec![Value::PgLsn(10)]]
    );
    // A duplicate key: nothing of the transaction, nor its progress, lands.
    let t2 = RemoteTxn {
        lsn: 11,
        commit_micros: None,
        changes: vec![
            change("public.t", RemoteOp::Delete, &[("id", "2")], None),
            change(
                "public.t",
                RemoteOp::Insert,
                &[],
                Some(&[("id", Some("1")), ("v", Some("x"))]),
            ),
        ],
    };
    let e = a
        .apply_remote(
            "s",
            "p",
            &t2,
            Progress {
                lsn: 11,
                copied: true,
            },
            false,
        )
        .unwrap_err();
    assert_eq!(e.state().0, "23505");
    assert!(
        e.message().contains("in transaction finished at 0/B"),
        "{}",
        e.message()
    );
    assert_eq!(
        rows(&mut s, "SELECT count(*) FROM t"),
        vec![vec![Value::Int8(2)]]
    );
    assert_eq!(
        rows(&mut s, "SELECT applied_lsn FROM rustydb_stat_subscription"),
        vec![vec![Value::PgLsn(10)]]
    );
    // A missing row to update is a conflict too.
    let t3 = RemoteTxn {
        lsn: 12,
        commit_micros: None,
        changes: vec![change(
            "public.t",
            RemoteOp::Update,
            &[("id", "9")],
            Some(&[("v", Some("x"))]),
        )],
    };
    let e = a
        .apply_remote(
            "s",
            "p",
            &t3,
            Progress {
                lsn: 12,
                copied: true,
            },
            false,
        )
        .unwrap_err();
    assert_eq!(e.state().0, "55000");
    // Skipping: no changes, progress moves, skip_lsn is cleared.
    run(&mut s, "ALTER SUBSCRIPTION s SKIP (lsn = '0/B')").unwrap();
    let skip = RemoteTxn {
        lsn: 11,
        ..Default::default()
    };
    a.apply_remote(
        "s",
        "p",
        &skip,
        Progress {
            lsn: 11,
            copied: true,
        },
        true,
    )
    .unwrap();
    assert_eq!(
        rows(&mut s, "SELECT subskiplsn FROM pg_subscription"),
        vec![vec![Value::PgLsn(0)]]
    );
    // Missing target table: PostgreSQL's message.
    let t4 = RemoteTxn {
        lsn: 13,
        commit_micros: None,
        changes: vec![change("public.nope", RemoteOp::Truncate, &[], None)],
    };
    let e = a
        .apply_remote(
            "s",
            "p",
            &t4,
            Progress {
                lsn: 13,
                copied: true,
            },
            false,
        )
        .unwrap_err();
    assert!(
        e.message()
            .starts_with("logical replication target relation \"public.nope\" does not exist"),
        "{}",
        e.message()
    );
}
