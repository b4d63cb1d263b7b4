//! The manager service end to end: three `rustydb manager` processes and
//! three `rustydb node` processes on loopback.
//!
//! One cluster, phases in order (each wait bounded, failures print the
//! managers' logs):
//! 1. the group bootstraps: `/cluster` on every member shows n1 as leader
//!    and n2, n3 as streaming replicas;
//! 2. API hygiene: mutations without / with a wrong token get 401,
//!    malformed bodies 400 with a JSON error, a follower forwards a
//!    mutation to the leader, reads answer on any member;
//! 3. switchover to n2: writes work on n2 afterwards, n1 follows n2;
//! 4. `kill -9` of the primary (n2): another node accepts writes within a
//!    bounded wait; restarted, n2 rejoins as a replica;
//! 5. `kill -9` of the manager leader: another member leads, the healthy
//!    primary is not failed over and keeps accepting writes;
//! 6. a switchover scheduled a second ahead runs, with no data lost.

mod service_common;

use std::time::{Duration, Instant};

use rustydb_tests::cluster::wait_until;
use serde_json::Value;
use service_common::{call, Cluster, TOKEN};

fn leader_member(cluster: &Cluster) -> Option<usize> {
    let r = call(cluster.managers[0].api_port, "GET", "/cluster", None, None).ok()?;
    let id = r.json.get("leader_member")?.as_u64()?;
    cluster.managers.iter().position(|m| m.id == id)
}

fn primary_name(json: &Value) -> Option<String> {
    json.get("members")?
        .as_array()?
        .iter()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("leader"))
        .and_then(|m| m.get("name")?.as_str().map(str::to_string))
}

fn node_index(name: &str) -> usize {
    match name {
        "n1" => 0,
        "n2" => 1,
        _ => 2,
    }
}

#[test]
fn three_members_three_nodes() {
    let mut cluster = Cluster::start("async");

    // 1. Bootstrap.
    for via in 0..3 {
        let json = cluster.wait_cluster(via, "n1", Duration::from_secs(60));
        assert_eq!(json.get("scope").and_then(Value::as_str), Some("rustydb"));
        assert_eq!(json["managers"].as_array().map(Vec::len), Some(3));
    }
    let topo = call(
        cluster.managers[1].api_port,
        "GET",
        "/topology?wait=0",
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(topo.json["primary"]["name"], "n1", "{}", topo.text);
    assert_eq!(topo.json["replicas"].as_array().map(Vec::len), Some(2));

    // 2. API hygiene.
    let leader = leader_member(&cluster).unwrap_or_else(|| panic!("no leader\n{}", cluster.logs()));
    let follower = (leader + 1) % 3;
    let lp = cluster.managers[leader].api_port;
    let fp = cluster.managers[follower].api_port;
    let r = call(lp, "POST", "/pause", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 401, "{}", r.text);
    assert!(r.json.get("error").is_some(), "{}", r.text);
    let r = call(fp, "POST", "/pause", Some("wrong"), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 401, "{}", r.text);
    for (method, path, body) in [
        ("POST", "/failover", "{not json"),
        ("POST", "/failover", r#"{"candidat":"n2"}"#),
        ("POST", "/failover", r#"{"candidate":""}"#),
        ("PATCH", "/config", r#"{"replication_mode":"bogus"}"#),
        ("PATCH", "/config", r#"{"lease_ttl_ms":0}"#),
        ("POST", "/switchover", r#"{"scheduled_at":"tomorrow"}"#),
    ] {
        let r = call(lp, method, path, Some(TOKEN), Some(body)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 400, "{method} {path} {body}: {}", r.text);
        assert!(
            r.json.get("error").and_then(Value::as_str).is_some(),
            "{}",
            r.text
        );
    }
    // Through a follower: forwarded to the leader, applied everywhere.
    let r = call(fp, "POST", "/pause", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    wait_until("paused everywhere", Duration::from_secs(10), || {
        let all = cluster.managers.iter().all(|m| {
            call(m.api_port, "GET", "/config", None, None)
                .is_ok_and(|r| r.json["pause"] == Value::Bool(true))
        });
        if all {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let r = call(
        fp,
        "PATCH",
        "/config",
        Some(TOKEN),
        Some(r#"{"pause":false,"maximum_lag_on_failover":2097152}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["pause"], Value::Bool(false), "{}", r.text);
    assert_eq!(r.json["maximum_lag_on_failover"], 2097152, "{}", r.text);
    let r = call(fp, "GET", "/metrics", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.text.contains("rustydb_manager_node_phi{node=\"n1\"}"),
        "{}",
        r.text
    );
    let r = call(lp, "GET", "/primary?node=n1", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(lp, "GET", "/replica?node=n1", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 503, "{}", r.text);
    let r = call(lp, "GET", "/replica?node=n2", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(lp, "GET", "/nope", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 404);

    // A scheduled switchover can be seen and cancelled.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = format!(r#"{{"candidate":"n3","scheduled_at":"{at}"}}"#);
    let r =
        call(fp, "POST", "/switchover", Some(TOKEN), Some(&body)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 202, "{}", r.text);
    let r = call(lp, "GET", "/switchover", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.json["candidate"], "n3", "{}", r.text);
    let r = call(fp, "DELETE", "/switchover", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(lp, "DELETE", "/switchover", Some(TOKEN), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 404, "{}", r.text);
    // Unknown candidates and a failover to the primary are refused.
    let r = call(
        lp,
        "POST",
        "/failover",
        Some(TOKEN),
        Some(r#"{"candidate":"n9"}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 404, "{}", r.text);
    let r = call(
        lp,
        "POST",
        "/failover",
        Some(TOKEN),
        Some(r#"{"candidate":"n1"}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 409, "{}", r.text);

    // Some data on n1.
    let mut c = cluster.nodes[0].connect();
    c.must("CREATE TABLE t (id INT PRIMARY KEY, v TEXT)");
    for i in 0..20 {
        c.must(&format!("INSERT INTO t VALUES ({i}, 'before')"));
    }
    drop(c);

    // 3. Switchover to n2, through a follower.
    let r = call(
        fp,
        "POST",
        "/switchover",
        Some(TOKEN),
        Some(r#"{"leader":"n1","candidate":"n2"}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["to"], "n2");
    assert_eq!(r.json["lost_bytes"], 0);
    let json = cluster.wait_cluster(0, "n2", Duration::from_secs(60));
    assert_eq!(primary_name(&json).as_deref(), Some("n2"));
    let mut c = cluster.nodes[1].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("20"));
    c.must("INSERT INTO t VALUES (100, 'after switchover')");
    drop(c);
    let history = call(lp, "GET", "/history", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(history.text.contains("switchover"), "{}", history.text);

    // 4. kill -9 the primary.
    cluster.nodes[1].kill9();
    let killed = Instant::now();
    let new_primary = wait_until(
        "a new primary accepts writes",
        Duration::from_secs(30),
        || {
            for i in [0usize, 2] {
                if let Ok(mut c) = cluster.nodes[i].try_connect() {
                    if c.simple("INSERT INTO t VALUES (200, 'after failover')")
                        .is_ok()
                    {
                        return Ok(i);
                    }
                }
            }
            Err("no writable node yet".to_string())
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    eprintln!("failover: writes accepted after {:?}", killed.elapsed());
    let new_name = cluster.nodes[new_primary].name().to_string();
    let mut c = cluster.nodes[new_primary].connect();
    assert_eq!(
        c.scalar("SELECT count(*) FROM t WHERE id < 100").as_deref(),
        Some("20")
    );
    drop(c);

    // The old primary comes back and is re-pointed at the new one.
    cluster.nodes[1].restart();
    let json = cluster.wait_cluster(0, &new_name, Duration::from_secs(60));
    assert_eq!(primary_name(&json).as_deref(), Some(new_name.as_str()));
    assert_eq!(node_index(&new_name), new_primary);
    let history = call(lp, "GET", "/history", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert!(history.text.contains("primary failed"), "{}", history.text);

    // 5. kill -9 the manager leader: a new leader, and no failover of the
    // healthy primary.
    let failovers = |port: u16| {
        call(port, "GET", "/history", None, None)
            .ok()
            .and_then(|r| r.json["failovers"].as_array().map(Vec::len))
    };
    let old_leader = leader_member(&cluster).unwrap_or_else(|| panic!("no leader"));
    let survivor = cluster.managers[(old_leader + 1) % 3].api_port;
    let before = failovers(survivor);
    cluster.managers[old_leader].kill9();
    let old_id = cluster.managers[old_leader].id;
    wait_until("a new manager leader", Duration::from_secs(20), || {
        let r = call(survivor, "GET", "/health", None, None)?;
        match r.json["leader"].as_u64() {
            Some(id) if id != old_id && r.status == 200 => Ok(()),
            _ => Err(r.text),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));
    std::thread::sleep(Duration::from_secs(3));
    let r = call(survivor, "GET", "/cluster", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        primary_name(&r.json).as_deref(),
        Some(new_name.as_str()),
        "{}",
        r.text
    );
    assert_eq!(
        failovers(survivor),
        before,
        "no failover of a healthy primary"
    );
    wait_until(
        "the primary still accepts writes",
        Duration::from_secs(10),
        || {
            let mut c = cluster.nodes[new_primary].try_connect()?;
            let o = c.simple("INSERT INTO t VALUES (300, 'after manager leader loss')");
            if o.is_ok() {
                Ok(())
            } else {
                Err(format!("{o:?}"))
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", cluster.logs()));

    // 6. A scheduled switchover runs at its time (two managers left).
    let target = if new_name == "n1" { "n3" } else { "n1" };
    let at = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let body = format!(r#"{{"candidate":"{target}","scheduled_at":"{at}"}}"#);
    let r = call(survivor, "POST", "/switchover", Some(TOKEN), Some(&body))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 202, "{}", r.text);
    let via = (old_leader + 1) % 3;
    let json = cluster.wait_cluster(via, target, Duration::from_secs(60));
    assert_eq!(primary_name(&json).as_deref(), Some(target));
    let mut c = cluster.nodes[node_index(target)].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("23"));
    drop(c);
    if std::env::var_os("SERVICE_TEST_LOGS").is_some() {
        eprintln!("{}", cluster.logs());
    }
}
