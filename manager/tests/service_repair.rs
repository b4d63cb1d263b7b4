//! Repair of a recorded primary that runs as a replica, end to end:
//! three `rustydb manager` processes, three `rustydb node` processes.
//!
//! 1. n1 (the recorded primary) is demoted behind the managers' backs
//!    while the cluster is paused: nothing happens while paused; after
//!    `/resume` the leader promotes n1 again (it holds the newest records
//!    and nothing else can be primary), n1 takes writes, the repair is in
//!    `/history`, n2 and n3 stream from it again.
//! 2. n1 is demoted again and n2 is promoted by hand (a node running as a
//!    primary that Raft does not know): re-promoting n1 would make two
//!    writers, so the leader fails over by the normal path to n2, which
//!    is on a newer timeline than the recorded one.
//! 3. `kill -9` of n2 afterwards: the survivors are on n2's timeline,
//!    which is below the timeline recorded in Raft (nodes choose their own
//!    numbers); the failover still finds them, because candidates are
//!    compared with the timeline the primary's node reported.

mod service_common;

use std::time::Duration;

use rustydb_tests::cluster::wait_until;
use serde_json::json;
use service_common::{call, Cluster, TOKEN};

fn history(port: u16) -> String {
    call(port, "GET", "/history", None, None)
        .map(|r| r.text)
        .unwrap_or_default()
}

/// Waits for a successful history record with `reason`, `from`, `to`.
fn wait_for_record(port: u16, reason: &str, from: Option<&str>, to: &str) {
    wait_until("the history record", Duration::from_secs(10), || {
        let r = call(port, "GET", "/history", None, None)?;
        let found = r.json["failovers"].as_array().is_some_and(|a| {
            a.iter().any(|f| {
                f["reason"] == reason
                    && from.is_none_or(|n| f["from"] == n)
                    && f["to"] == to
                    && f["success"] == true
            })
        });
        if found {
            Ok(())
        } else {
            Err(r.text)
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

fn writable(cluster: &Cluster, i: usize, id: u32) -> Result<(), String> {
    let mut c = cluster.nodes[i].try_connect()?;
    let o = c.simple(&format!("INSERT INTO t VALUES ({id})"));
    if o.is_ok() {
        Ok(())
    } else {
        Err(format!("{o:?}"))
    }
}

#[test]
fn a_primary_running_as_a_replica_is_repaired_safely() {
    let mut cluster = Cluster::start("async");
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    let port = cluster.managers[0].api_port;
    let mut c = cluster.nodes[0].connect();
    c.must("CREATE TABLE t (id INT PRIMARY KEY)");
    for i in 0..10 {
        c.must(&format!("INSERT INTO t VALUES ({i})"));
    }
    drop(c);
    let timeline_before = cluster.nodes[0].status_field("timeline").as_u64();

    // 1. Demoted while paused: left alone; resumed: promoted again.
    let r = call(port, "POST", "/pause", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = cluster.nodes[0]
        .admin()
        .post("/demote", Some(&json!({"drain_ms": 100})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(cluster.nodes[0].status_field("role"), "replica");
    assert!(!history(port).contains("repair"), "{}", history(port));
    let r = call(port, "POST", "/resume", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    wait_until("n1 takes writes again", Duration::from_secs(20), || {
        writable(&cluster, 0, 100)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    // Recorded once the repair finished (after the node took writes).
    wait_for_record(
        port,
        "repair: recorded primary ran as a replica",
        None,
        "n1",
    );
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    let timeline_after = cluster.nodes[0].status_field("timeline").as_u64();
    assert!(
        timeline_after > timeline_before,
        "{timeline_after:?} after {timeline_before:?}"
    );

    // 2. Demoted again, and n2 promoted by hand: fail over to n2.
    let r = call(port, "POST", "/pause", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = cluster.nodes[0]
        .admin()
        .post("/demote", Some(&json!({"drain_ms": 100})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    // Let n2 receive everything n1 wrote before promoting it.
    wait_until("n2 caught up", Duration::from_secs(10), || {
        let (a, b) = (cluster.nodes[0].lsn()?, cluster.nodes[1].lsn()?);
        if b >= a {
            Ok(())
        } else {
            Err(format!("n2 at {b}, n1 at {a}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let r = cluster.nodes[1]
        .admin()
        .post("/promote", None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(port, "POST", "/resume", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let json = cluster.wait_cluster(0, "n2", Duration::from_secs(60));
    let recorded = json["timeline"].as_u64().unwrap_or(0);
    let n2_timeline = cluster.nodes[1]
        .status_field("timeline")
        .as_u64()
        .unwrap_or(0);
    assert!(
        recorded > n2_timeline,
        "recorded {recorded}, n2 on {n2_timeline}"
    );
    wait_for_record(port, "recorded primary ran as a replica", Some("n1"), "n2");
    let mut c = cluster.nodes[1].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("11"));
    c.must("INSERT INTO t VALUES (200)");
    drop(c);

    // 3. kill -9 n2: the survivors on n2's timeline are candidates.
    wait_until("replicas caught up", Duration::from_secs(10), || {
        let p = cluster.nodes[1].lsn()?;
        for i in [0usize, 2] {
            if cluster.nodes[i].lsn()? < p {
                return Err(format!("node {i} behind"));
            }
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    cluster.nodes[1].kill9();
    let winner = wait_until("a new primary after n2", Duration::from_secs(30), || {
        for i in [0usize, 2] {
            if writable(&cluster, i, 300).is_ok() {
                return Ok(i);
            }
        }
        Err("no writable node yet".to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    let mut c = cluster.nodes[winner].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("13"));
    let r = call(port, "GET", "/cluster", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(r.json["timeline"].as_u64() > Some(recorded), "{}", r.text);
}
