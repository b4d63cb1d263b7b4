//! Sync standby lists and quorums: which replicas a sync commit waits for.
//!
//! - `sync_standby_list_first_and_any_quorum`: `--sync-standbys ra
//!   --sync-quorum first --num-sync 1`: only `ra` counts (it is the `sync`
//!   standby, `rb` is `async`), so commits succeed without `rb` and fail
//!   with 40003 without `ra` even while `rb` streams. Switched live to ANY 2
//!   over all replicas, a commit needs both. Every acknowledged row is on
//!   `ra` afterwards.

use std::time::Duration;

use rustydb_tests::cluster::{describe_all, query_scalar, wait_caught_up, wait_until, ClusterNode};
use rustydb_tests::SqlClient;
use serde_json::Value;

/// `field` of replica `name` in the primary's `GET /replication`.
fn replica_field(p: &ClusterNode, name: &str, field: &str) -> Result<Value, String> {
    let rep = p.admin().get_json("/replication")?;
    rep.get("replicas")
        .and_then(Value::as_array)
        .and_then(|rs| {
            rs.iter()
                .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
        })
        .and_then(|r| r.get(field).cloned())
        .ok_or_else(|| format!("no {field} for {name}: {rep}"))
}

/// Waits until the primary lists `name` with `field` = `value`.
fn wait_replica(p: &ClusterNode, others: &[&ClusterNode], name: &str, field: &str, value: &str) {
    let r = wait_until(
        &format!("{name}.{field} = {value}"),
        Duration::from_secs(60),
        || match replica_field(p, name, field)? {
            v if v == value => Ok(()),
            v => Err(format!("{name}.{field} = {v}")),
        },
    );
    if let Err(e) = r {
        let mut all = vec![p];
        all.extend_from_slice(others);
        panic!("{e}\n{}", describe_all(&all));
    }
}

fn insert(c: &mut SqlClient, id: i64) -> rustydb_tests::Outcome {
    c.simple(&format!("INSERT INTO q VALUES ({id})"))
}

#[test]
fn sync_standby_list_first_and_any_quorum() {
    let p = ClusterNode::primary(
        "p",
        &[
            "--commit-mode",
            "sync",
            "--num-sync",
            "1",
            "--sync-standbys",
            "ra",
            "--sync-quorum",
            "first",
            "--sync-timeout-ms",
            "1000",
        ],
    );
    let mut ra = ClusterNode::replica("ra", &p, &[]);
    let mut rb = ClusterNode::replica("rb", &p, &[]);
    wait_replica(&p, &[&ra, &rb], "ra", "state", "streaming");
    wait_replica(&p, &[&ra, &rb], "rb", "state", "streaming");
    let mut c = p.connect();
    c.set_timeout(Duration::from_secs(20));
    c.must("CREATE TABLE q (id int8 PRIMARY KEY)");
    let out = insert(&mut c, 1);
    assert!(out.is_ok(), "commit with both replicas: {out}");
    wait_replica(&p, &[&ra, &rb], "ra", "sync_state", "sync");
    wait_replica(&p, &[&ra, &rb], "rb", "sync_state", "async");

    // Only ra counts: losing rb changes nothing.
    rb.kill9();
    let out = insert(&mut c, 2);
    assert!(out.is_ok(), "commit without the unlisted replica: {out}");

    // Losing ra fails commits, even with rb streaming.
    rb.restart();
    ra.kill9();
    wait_replica(&p, &[&ra, &rb], "rb", "state", "streaming");
    let out = insert(&mut c, 3);
    assert_eq!(
        out.code(),
        Some("40003"),
        "commit with only an unlisted replica: {out}\n{}",
        describe_all(&[&p, &ra, &rb])
    );

    // ANY 2 over every replica: both must confirm.
    ra.restart();
    wait_replica(&p, &[&ra, &rb], "ra", "state", "streaming");
    let body = serde_json::json!({"num_sync": 2, "sync_standbys": [], "sync_quorum": "any"});
    let reply = p
        .admin()
        .post("/replication/mode", Some(&body))
        .expect("POST /replication/mode");
    assert_eq!(reply.status, 200, "switch to ANY 2: {reply:?}");
    let out = insert(&mut c, 4);
    assert!(out.is_ok(), "ANY 2 with both replicas: {out}");
    rb.kill9();
    let out = insert(&mut c, 5);
    assert_eq!(out.code(), Some("40003"), "ANY 2 with one replica: {out}");

    // Everything acknowledged is on ra.
    wait_caught_up(&p, &[&ra]);
    let mut rc = ra.connect();
    let found = query_scalar(&mut rc, "SELECT count(*) FROM q WHERE id IN (1, 2, 4)");
    assert_eq!(found, Ok(Some("3".into())), "acknowledged rows on ra");
}
