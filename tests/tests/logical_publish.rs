//! Logical replication, publisher side: publications, the change stream and
//! slots, against real `rustydb node` processes (and PostgreSQL 15 for the
//! publication DDL).
//!
//! - `publication_ddl_matches_postgres`: the same CREATE/ALTER/DROP
//!   PUBLICATION script (errors included) on PostgreSQL 15 and RustyDB:
//!   equal outcomes, SQLSTATEs and messages, equal `pg_publication`,
//!   `pg_publication_tables` rows.
//! - `masks_are_validated_and_listed`: MASK clause errors and
//!   `rustydb_publication_masks`.
//! - `stream_applies_filter_columns_and_masks`: initial copy and stream of a
//!   publication with a row filter, a column list and masks; UPDATEs moving
//!   rows into and out of the filter become INSERT / DELETE as in
//!   PostgreSQL; `SHOW rustydb.admin_endpoint`.
//! - `truncate_is_sent_as_truncate`: TRUNCATE is one `truncate` change per
//!   table (rows inserted after it in the transaction follow as inserts),
//!   and nothing at all when `publish` leaves truncate out.
//! - `slot_resume_has_no_loss_or_duplicate`: a slot's stream resumes after
//!   its confirmed LSN; re-reading from a from_lsn gives the same lines.
//! - `slot_past_limit_is_invalidated`: a slot that falls behind the
//!   retention limit is invalidated (410, metric), and the WAL is trimmed.
//! - `slots_survive_failover`: a slot created and confirmed on the primary
//!   is on the replica; after the replica's promotion it streams from the
//!   confirmed LSN; slot writes on a replica answer 409.

use std::time::Duration;

use serde_json::{json, Value};

use rustydb_tests::cluster::{wait_caught_up, wait_until, Admin, ClusterNode};
use rustydb_tests::{Outcome, PgServer, SqlClient};

/// Reads a whole (idle-terminated) change stream as JSON lines.
fn changes(admin: &Admin, query: &str) -> Vec<Value> {
    let path = format!("/changes?{query}");
    let reply = admin
        .get(&path)
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    reply
        .text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == t).collect()
}

fn ok(c: &mut SqlClient, sql: &str) {
    let o = c.simple(sql);
    assert!(o.is_ok(), "{sql}: {o:?}");
}

const DDL_SCRIPT: &[&str] = &[
    "create table t (id int primary key, a text, b int, c text)",
    "create table nopk (x int, y text)",
    "create view v as select 1 as one",
    "create publication p1 for table t (id, a) where (b > 1)",
    "create publication p1 for table t",
    "create publication p2 for table nosuch",
    "create publication p3 for table t where (random() > 0.5)",
    "create publication p3 for table t where (zz > 1)",
    "create publication p3 for table t (id, zz)",
    "create publication p3 for table t where (b > (select 1))",
    "create publication p3 for table t with (publish = 'insert, bogus')",
    "create publication p3 for table t with (foo = 1)",
    "create publication p3 for table t (id, id)",
    "create publication p3 for table t (id) where (b>1), t (a)",
    "create publication p3 for table t where (b)",
    "create publication p3 for table t (ctid)",
    "create publication p3 for table v",
    "create publication p3 for table t with (publish = 'insert', publish = 'update')",
    "create publication p3 for table t, t",
    "create publication p4 for table t (a, b)",
    "create publication p5 for table t (a) with (publish='insert')",
    "create publication p6 for all tables",
    "alter publication p6 add table t",
    "alter publication p1 add table t",
    "alter publication p1 drop table nopk",
    "alter publication p1 drop table t (id)",
    "alter publication p1 set table t (id) where (b > 5), nopk",
    "alter publication p1 set (publish = 'insert')",
    "alter publication nosuch set (publish = 'insert')",
    "drop publication nosuch",
    "drop publication if exists nosuch",
    "create publication p7 for table t where (b > 1 and a is not null or c = 'x')",
    "create publication p8 for table t with (publish = '')",
    "drop publication p8, p5",
    "select * from pg_publication_tables order by 1, 2, 3",
    "select pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate, pubviaroot \
     from pg_publication order by 1",
];

#[test]
fn publication_ddl_matches_postgres() {
    let pg = PgServer::start();
    let node = ClusterNode::primary("pub", &[]);
    let mut reference = SqlClient::connect(pg.port(), "postgres").expect("connect to PostgreSQL");
    let mut target = node.connect();
    let mut mismatches = Vec::new();
    for sql in DDL_SCRIPT {
        let r = reference.simple(sql);
        let t = target.simple(sql);
        let same = match (&r, &t) {
            (
                Outcome::Error {
                    code: a,
                    message: m,
                },
                Outcome::Error {
                    code: b,
                    message: n,
                },
            ) => a == b && m == n,
            (Outcome::Ok { rows: a, .. }, Outcome::Ok { rows: b, .. }) => a == b,
            _ => false,
        };
        if !same {
            mismatches.push(format!("{sql}\n  postgres: {r:?}\n  rustydb:  {t:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} statements differ:\n{}",
        mismatches.len(),
        DDL_SCRIPT.len(),
        mismatches.join("\n")
    );
}

#[test]
fn masks_are_validated_and_listed() {
    let node = ClusterNode::primary("masks", &[]);
    let mut c = node.connect();
    ok(&mut c, "create table users (id int primary key, email text, name text, phone text, ssn text, age int, active bool)");
    let cases: &[(&str, &str)] = &[
        ("create publication m for table users with (mask_salt = 's') mask (users.nosuch = hash)", "42703"),
        ("create publication m for table users with (mask_salt = 's') mask (users.email = scramble)", "42704"),
        ("create publication m for table users with (mask_salt = 's') mask (users.age = redact)", "22023"),
        ("create publication m for table users with (mask_salt = 's') mask (users.id = hash)", "22023"),
        ("create publication m for table users mask (users.email = hash)", "22023"),
        ("create publication m for table users (id, name) with (mask_salt = 's') mask (users.email = hash)", "22023"),
        ("create publication m for table users with (mask_salt = 's') mask (users.email = partial(1))", "22023"),
    ];
    for (sql, code) in cases {
        let o = c.simple(sql);
        assert_eq!(o.code(), Some(*code), "{sql}: {o:?}");
    }
    ok(&mut c, "create publication m for table users (id, email, name, phone, age) where (active) \
                with (publish = 'insert,update,delete', mask_salt = 's3cret') \
                mask (users.email = hash, users.name = partial(1, 0), users.phone = redact, users.age = null)");
    let o =
        c.simple("select tablename, attname, mask from rustydb_publication_masks order by attname");
    assert_eq!(
        o.rows(),
        &[
            vec![
                Some("users".into()),
                Some("age".into()),
                Some("null".into())
            ],
            vec![
                Some("users".into()),
                Some("email".into()),
                Some("hash".into())
            ],
            vec![
                Some("users".into()),
                Some("name".into()),
                Some("partial(1, 0)".into())
            ],
            vec![
                Some("users".into()),
                Some("phone".into()),
                Some("redact".into())
            ],
        ],
        "{o:?}"
    );
    ok(&mut c, "alter publication m set mask (users.phone = null)");
    let o = c.simple("select attname, mask from rustydb_publication_masks");
    assert_eq!(o.rows(), &[vec![Some("phone".into()), Some("null".into())]]);
}

#[test]
fn stream_applies_filter_columns_and_masks() {
    let node = ClusterNode::primary("stream", &[]);
    let admin = node.admin();
    let mut c = node.connect();
    let endpoint = c.simple("show rustydb.admin_endpoint");
    assert_eq!(
        endpoint.scalar(),
        Some(format!("127.0.0.1:{}", node.admin_port()).as_str())
    );
    ok(&mut c, "create table users (id int primary key, email text, name text, phone text, active bool, secret text)");
    ok(&mut c, "create table other (id int primary key)");
    ok(
        &mut c,
        "insert into users values (1, 'a@x.org', 'Alice', '555-1', true, 's1'), \
                (2, 'b@x.org', 'Bob', '555-2', false, 's2'), (3, NULL, 'Cy', NULL, true, 's3')",
    );
    ok(&mut c, "create publication p for table users (id, email, name, phone, active) where (active) \
                with (mask_salt = 'salt') mask (users.email = hash, users.name = partial(1, 0), users.phone = redact)");
    let snap = changes(&admin, "publication=p&snapshot=true&wait_ms=300");
    assert_eq!(snap[0]["type"], "snapshot_begin", "{snap:?}");
    let l0 = snap[0]["lsn"].as_u64().expect("snapshot lsn");
    let copies = of_type(&snap, "copy");
    assert_eq!(copies.len(), 2, "{snap:?}");
    let alice = &copies[0]["row"];
    assert_eq!(copies[0]["table"], "public.users");
    assert_eq!(alice["id"], "1");
    assert_eq!(alice["name"], "A****");
    assert_eq!(alice["phone"], "****");
    assert_eq!(alice["active"], "t");
    assert!(alice.get("secret").is_none(), "column list: {alice}");
    let email = alice["email"].as_str().expect("hashed email");
    assert_eq!(email.len(), 64);
    assert_ne!(email, "a@x.org");
    assert_eq!(copies[1]["row"]["email"], Value::Null, "NULL stays NULL");
    assert!(of_type(&snap, "snapshot_end")
        .iter()
        .any(|l| l["lsn"] == l0));

    ok(
        &mut c,
        "insert into users values (4, 'd@x.org', 'Dee', '555-4', true, 's4')",
    );
    ok(
        &mut c,
        "insert into users values (5, 'e@x.org', 'Eve', '555-5', false, 's5')",
    );
    ok(&mut c, "update users set active = true where id = 2"); // moves in: insert
    ok(&mut c, "update users set active = false where id = 1"); // moves out: delete
    ok(&mut c, "update users set name = 'Deirdre' where id = 4"); // stays in: update
    ok(&mut c, "update users set name = 'Evelyn' where id = 5"); // stays out: nothing
    ok(&mut c, "insert into other values (1)"); // not published
    ok(&mut c, "delete from users where id = 3");
    let lines = changes(&admin, &format!("publication=p&from_lsn={l0}&wait_ms=300"));
    let ops: Vec<(String, String)> = of_type(&lines, "change")
        .iter()
        .map(|l| {
            (
                l["op"].as_str().unwrap_or("").to_string(),
                l["key"]["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect: Vec<(String, String)> = [
        ("insert", "4"),
        ("insert", "2"),
        ("delete", "1"),
        ("update", "4"),
        ("delete", "3"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(ops, expect, "{lines:#?}");
    let changes_only = of_type(&lines, "change");
    let moved_in = changes_only[1];
    assert_eq!(moved_in["new"]["name"], "B**");
    assert_eq!(moved_in["old"], Value::Null);
    let moved_out = changes_only[2];
    assert_eq!(moved_out["new"], Value::Null);
    assert_eq!(moved_out["old"], json!({"id": "1"}));
    assert_eq!(changes_only[3]["new"]["name"], "D******");
    // Every change sits between a begin and a commit of its own LSN.
    assert_eq!(of_type(&lines, "begin").len(), 5);
    assert_eq!(of_type(&lines, "commit").len(), 5);
    for l in &changes_only {
        assert!(of_type(&lines, "begin")
            .iter()
            .any(|b| b["lsn"] == l["lsn"]));
    }
    assert!(of_type(&lines, "begin")[0]["commit_time"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z') && t.len() == 27));
    // Bad requests.
    assert_eq!(
        admin.get("/changes?publication=p").map(|r| r.status),
        Ok(400)
    );
    assert_eq!(
        admin
            .get("/changes?publication=nosuch&from_lsn=0")
            .map(|r| r.status),
        Ok(404)
    );
}

/// `(op, table, key id)` of each change line.
fn ops_of(lines: &[Value]) -> Vec<(String, String, String)> {
    of_type(lines, "change")
        .iter()
        .map(|l| {
            (
                l["op"].as_str().unwrap_or("").to_string(),
                l["table"].as_str().unwrap_or("").to_string(),
                l["key"]["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn truncate_is_sent_as_truncate() {
    let node = ClusterNode::primary("truncate", &[]);
    let admin = node.admin();
    let mut c = node.connect();
    ok(&mut c, "create table t (id int primary key, v text)");
    ok(&mut c, "create table u (id int primary key)");
    ok(&mut c, "insert into t values (1, 'a'), (2, 'b')");
    ok(&mut c, "insert into u values (1)");
    ok(&mut c, "create publication p for table t, u");
    ok(
        &mut c,
        "create publication q for table t, u with (publish = 'insert, update, delete')",
    );
    let snap = changes(&admin, "publication=p&snapshot=true&wait_ms=300");
    let l0 = snap[0]["lsn"].as_u64().expect("snapshot lsn");
    ok(&mut c, "begin");
    ok(&mut c, "truncate t, u");
    ok(&mut c, "insert into t values (1, 'again'), (3, 'c')");
    ok(&mut c, "commit");
    ok(&mut c, "delete from t where id = 3");
    let triple = |a: &str, b: &str, k: &str| (a.to_string(), b.to_string(), k.to_string());
    let p = changes(&admin, &format!("publication=p&from_lsn={l0}&wait_ms=300"));
    assert_eq!(
        ops_of(&p),
        vec![
            triple("truncate", "public.t", ""),
            triple("truncate", "public.u", ""),
            triple("insert", "public.t", "1"),
            triple("insert", "public.t", "3"),
            triple("delete", "public.t", "3"),
        ],
        "{p:#?}"
    );
    let truncate = of_type(&p, "change")[0];
    assert_eq!(truncate["new"], Value::Null);
    assert_eq!(truncate["old"], Value::Null);
    // Without `truncate` in publish, a TRUNCATE sends nothing (no deletes).
    let q = changes(&admin, &format!("publication=q&from_lsn={l0}&wait_ms=300"));
    assert_eq!(
        ops_of(&q),
        vec![
            triple("insert", "public.t", "1"),
            triple("insert", "public.t", "3"),
            triple("delete", "public.t", "3"),
        ],
        "{q:#?}"
    );
}

#[test]
fn slot_resume_has_no_loss_or_duplicate() {
    let node = ClusterNode::primary("slots", &[]);
    let admin = node.admin();
    let mut c = node.connect();
    ok(&mut c, "create table t (id int primary key, v text)");
    ok(&mut c, "create publication p for table t");
    let r = admin
        .post("/slots", Some(&json!({"name": "s1", "publication": "p"})))
        .expect("POST /slots");
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json["confirmed_lsn"].as_u64().expect("confirmed_lsn");
    let dup = admin
        .post("/slots", Some(&json!({"name": "s1", "publication": "p"})))
        .expect("dup");
    assert_eq!(dup.status, 409);
    let nopub = admin
        .post(
            "/slots",
            Some(&json!({"name": "s2", "publication": "nope"})),
        )
        .expect("404");
    assert_eq!(nopub.status, 404);

    for i in 1..=10 {
        ok(&mut c, &format!("insert into t values ({i}, 'v{i}')"));
    }
    let first = changes(&admin, "publication=p&slot=s1&wait_ms=300");
    let ids = |lines: &[Value]| -> Vec<String> {
        of_type(lines, "change")
            .iter()
            .map(|l| l["key"]["id"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        ids(&first),
        (1..=10).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    // The consumer applied the first four transactions and confirms them.
    let commits = of_type(&first, "commit");
    let upto = commits[3]["lsn"].as_u64().expect("commit lsn");
    assert!(upto > created);
    let r = admin
        .post("/slots/s1/confirm", Some(&json!({"lsn": upto})))
        .expect("confirm");
    assert_eq!(r.status, 200, "{}", r.text);
    // Confirming backwards does nothing.
    let r = admin
        .post("/slots/s1/confirm", Some(&json!({"lsn": created})))
        .expect("confirm");
    assert_eq!(r.json["confirmed_lsn"].as_u64(), Some(upto));
    for i in 11..=12 {
        ok(&mut c, &format!("insert into t values ({i}, 'v{i}')"));
    }
    let second = changes(&admin, "publication=p&slot=s1&wait_ms=300");
    assert_eq!(
        ids(&second),
        (5..=12).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    // The same start by from_lsn gives the same changes.
    let again = changes(
        &admin,
        &format!("publication=p&from_lsn={upto}&wait_ms=300"),
    );
    assert_eq!(ids(&again), ids(&second));
    let slots = admin.get_json("/slots").expect("GET /slots");
    assert_eq!(slots[0]["confirmed_lsn"].as_u64(), Some(upto));
    let o = c.simple("select slot_name, publication, lag_records > 0, invalidated from rustydb_replication_slots");
    assert_eq!(
        o.rows(),
        &[vec![
            Some("s1".into()),
            Some("p".into()),
            Some("t".into()),
            Some("f".into())
        ]]
    );
    assert_eq!(admin.get("/slots/s1").map(|r| r.status), Ok(200));
    let d = ureq_delete(node.admin_port(), "/slots/s1");
    assert_eq!(d, 204);
    assert_eq!(ureq_delete(node.admin_port(), "/slots/s1"), 404);
}

fn ureq_delete(port: u16, path: &str) -> u16 {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build();
    let agent = ureq::Agent::new_with_config(config);
    agent
        .delete(format!("http://127.0.0.1:{port}{path}"))
        .call()
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

#[test]
fn slot_past_limit_is_invalidated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "[replication]\nwal_keep_bytes = 0\nwal_keep_seconds = 0\n\n[logical]\nmax_slot_wal_keep_records = 30\n",
    )
    .expect("write config");
    let config = config.display().to_string();
    let node = ClusterNode::primary("retain", &["--config", &config]);
    let admin = node.admin();
    let mut c = node.connect();
    ok(&mut c, "create table t (id int primary key)");
    ok(&mut c, "create publication p for table t");
    let r = admin
        .post(
            "/slots",
            Some(&json!({"name": "lagging", "publication": "p"})),
        )
        .expect("slot");
    assert_eq!(r.status, 201, "{}", r.text);
    // While within the limit the slot holds the WAL it needs.
    for i in 0..10 {
        ok(&mut c, &format!("insert into t values ({i})"));
    }
    std::thread::sleep(Duration::from_millis(2500));
    let lines = changes(&admin, "publication=p&slot=lagging&wait_ms=300");
    assert_eq!(of_type(&lines, "change").len(), 10, "{lines:?}");
    for i in 10..80 {
        ok(&mut c, &format!("insert into t values ({i})"));
    }
    wait_until("slot invalidated", Duration::from_secs(60), || {
        let slots = admin.get_json("/slots")?;
        if slots[0]["invalidated"] == true {
            Ok(())
        } else {
            Err(format!("slots: {slots}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", node.log_tail(3000)));
    let r = admin
        .get("/changes?publication=p&slot=lagging")
        .expect("GET");
    assert_eq!(r.status, 410, "{}", r.text);
    assert!(r.json["error"]
        .as_str()
        .is_some_and(|e| e.contains("invalidated")));
    let metrics = admin.get("/metrics").expect("metrics").text;
    assert!(
        metrics.contains("rustydb_logical_slots_invalidated_total 1"),
        "{metrics}"
    );
    // The WAL is bounded again: an old LSN is gone.
    wait_until("WAL trimmed", Duration::from_secs(30), || {
        let r = admin.get("/changes?publication=p&from_lsn=1&wait_ms=100")?;
        if r.status == 410 {
            Ok(())
        } else {
            Err(format!("HTTP {}", r.status))
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn slots_survive_failover() {
    let primary = ClusterNode::primary("fp", &[]);
    let replica = ClusterNode::replica("fr", &primary, &[]);
    let padmin = primary.admin();
    let mut c = primary.connect();
    ok(&mut c, "create table t (id int primary key, v text)");
    ok(&mut c, "create publication p for table t");
    let r = padmin
        .post("/slots", Some(&json!({"name": "sub1", "publication": "p"})))
        .expect("slot");
    assert_eq!(r.status, 201, "{}", r.text);
    for i in 1..=6 {
        ok(&mut c, &format!("insert into t values ({i}, 'x')"));
    }
    let lines = changes(&padmin, "publication=p&slot=sub1&wait_ms=300");
    let commits = of_type(&lines, "commit");
    assert_eq!(commits.len(), 6);
    let upto = commits[2]["lsn"].as_u64().expect("lsn");
    let r = padmin
        .post("/slots/sub1/confirm", Some(&json!({"lsn": upto})))
        .expect("confirm");
    assert_eq!(r.status, 200);
    wait_caught_up(&primary, &[&replica]);
    let radmin = replica.admin();
    // A replica streams too, but does not write slots.
    let from_replica = changes(&radmin, "publication=p&slot=sub1&wait_ms=300");
    assert_eq!(of_type(&from_replica, "change").len(), 3);
    let r = radmin
        .post("/slots", Some(&json!({"name": "x", "publication": "p"})))
        .expect("post");
    assert_eq!(r.status, 409);
    assert!(r.json["error"]
        .as_str()
        .is_some_and(|e| e.contains("read-only")));
    // Failover.
    let mut primary = primary;
    primary.kill9();
    let r = radmin.post("/promote", None).expect("promote");
    assert_eq!(r.status, 200, "{}", r.text);
    let slots = radmin.get_json("/slots").expect("slots");
    assert_eq!(slots[0]["name"], "sub1");
    assert_eq!(slots[0]["confirmed_lsn"].as_u64(), Some(upto));
    let mut rc = replica.connect();
    wait_until("promoted replica writable", Duration::from_secs(30), || {
        let o = rc.simple("insert into t values (7, 'after')");
        if o.is_ok() {
            Ok(())
        } else {
            Err(format!("{o:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let resumed = changes(&radmin, "publication=p&slot=sub1&wait_ms=300");
    let ids: Vec<&str> = of_type(&resumed, "change")
        .iter()
        .map(|l| l["key"]["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, vec!["4", "5", "6", "7"], "{resumed:?}");
    let r = radmin
        .post("/slots/sub1/confirm", Some(&json!({"lsn": upto + 1})))
        .expect("confirm on new primary");
    assert_eq!(r.status, 200, "{}", r.text);
}
