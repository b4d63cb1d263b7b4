//! The manager in sync mode: it picks a sync standby, configures the
//! primary with it, and after `kill -9` of the primary promotes a node
//! that holds every acknowledged commit.

mod service_common;

use std::time::Duration;

use rustydb_tests::cluster::wait_until;
use serde_json::Value;
use service_common::{call, Cluster};

#[test]
fn sync_mode_failover_keeps_acknowledged_commits() {
    let mut cluster = Cluster::start("sync");
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    let port = cluster.managers[0].api_port;
    // A sync standby is chosen and the primary runs in sync mode.
    let standby = wait_until("a sync standby", Duration::from_secs(20), || {
        let r = call(port, "GET", "/cluster", None, None)?;
        r.json["members"]
            .as_array()
            .and_then(|m| {
                m.iter()
                    .find(|m| m["role"] == "sync_standby")
                    .and_then(|m| m["name"].as_str().map(str::to_string))
            })
            .ok_or(r.text)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    wait_until("primary in sync mode", Duration::from_secs(20), || {
        let s = cluster.nodes[0].status()?;
        if s["commit_mode"] == "sync" {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));

    let mut c = cluster.nodes[0].connect();
    c.must("CREATE TABLE acked (id INT PRIMARY KEY)");
    let mut acked = Vec::new();
    for i in 0..200 {
        if c.simple(&format!("INSERT INTO acked VALUES ({i})")).is_ok() {
            acked.push(i);
        }
    }
    drop(c);
    assert_eq!(acked.len(), 200);

    cluster.nodes[0].kill9();
    let idx = wait_until(
        "a new primary accepts writes",
        Duration::from_secs(30),
        || {
            for i in [1usize, 2] {
                if let Ok(mut c) = cluster.nodes[i].try_connect() {
                    if c.simple("INSERT INTO acked VALUES (100000)").is_ok() {
                        return Ok(i);
                    }
                }
            }
            Err("not yet".to_string())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    assert_eq!(
        cluster.nodes[idx].name(),
        standby,
        "the sync standby is promoted"
    );
    let mut c = cluster.nodes[idx].connect();
    let count = c.scalar("SELECT count(*) FROM acked WHERE id < 100000");
    assert_eq!(
        count.as_deref(),
        Some("200"),
        "every acknowledged row survives"
    );
    let r = call(port, "GET", "/cluster", None, None).unwrap_or_else(|e| panic!("{e}"));
    let leader = r.json["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["role"] == "leader").cloned())
        .unwrap_or(Value::Null);
    assert_eq!(leader["name"], standby, "{}", r.text);
}
