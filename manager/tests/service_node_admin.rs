//! Operator actions on nodes (`POST /drain`, `/stop`, `/start`) and a
//! scheduled switchover that outlives the manager leader, end to end:
//! three `rustydb manager` processes, three `rustydb node` processes, n3
//! supervised by manager 3.
//!
//! Phases (each wait bounded; failures print the managers' logs):
//! 1. hygiene: 401 without the token, 400 for a malformed body, 404 for an
//!    unknown node;
//! 2. drain a replica: `/cluster`, `/topology` and `/replica` keep reads
//!    away from it; a second drain is 409; `/start` returns it to service;
//! 3. stop the supervised replica n3 (sent to manager 1): its process
//!    exits, `/cluster` shows it `stopped`, no failover is recorded, it
//!    stays down across a `kill -9` and restart of the manager supervising
//!    it, `/restart` is refused; `/start` brings it back as a streaming
//!    replica;
//! 4. stop n3 while it is the primary: a switchover moves the role first,
//!    the new primary takes writes with every row, n3 restarts as a
//!    replica on `/start`;
//! 5. drain the primary: switched over first, then drained;
//! 6. a switchover scheduled a few seconds ahead, then the manager leader
//!    is killed: the new leader runs it.

mod service_common;

use std::time::Duration;

use rustydb_tests::cluster::wait_until;
use serde_json::Value;
use service_common::{call, Cluster, TOKEN};

fn member<'a>(json: &'a Value, name: &str) -> Option<&'a Value> {
    json["members"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == name)
}

fn primary_name(json: &Value) -> Option<String> {
    json["members"]
        .as_array()?
        .iter()
        .find(|m| m["role"] == "leader")
        .and_then(|m| m["name"].as_str().map(str::to_string))
}

fn node_index(name: &str) -> usize {
    match name {
        "n1" => 0,
        "n2" => 1,
        _ => 2,
    }
}

fn post(port: u16, path: &str, node: &str) -> service_common::Reply {
    let body = format!(r#"{{"node":"{node}"}}"#);
    call(port, "POST", path, Some(TOKEN), Some(&body)).unwrap_or_else(|e| panic!("{e}"))
}

fn count_in_log(cluster: &Cluster, manager: usize, needle: &str) -> usize {
    std::fs::read_to_string(&cluster.managers[manager].log)
        .unwrap_or_default()
        .matches(needle)
        .count()
}

fn history_len(port: u16) -> usize {
    call(port, "GET", "/history", None, None)
        .ok()
        .and_then(|r| r.json["failovers"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// Kills, when dropped, every process whose command line names `needle`
/// (a supervised node outlives a manager killed with SIGKILL).
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.parse::<u32>().is_err() {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&self.0) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &name])
                    .status();
            }
        }
    }
}

#[test]
fn drain_stop_start_and_a_schedule_that_outlives_the_leader() {
    let mut cluster = Cluster::start_supervising("async", &[2]);
    let _orphans = KillOnDrop(cluster.nodes[2].server().data_dir().display().to_string());
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    let p1 = cluster.managers[0].api_port;
    let p3 = cluster.managers[2].api_port;

    // 1. Hygiene.
    let r = call(p1, "POST", "/drain", None, Some(r#"{"node":"n2"}"#))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 401, "{}", r.text);
    for path in ["/drain", "/stop", "/start"] {
        let r = call(p1, "POST", path, Some(TOKEN), Some(r#"{"nod":"n2"}"#))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        let r = post(p1, path, "n9");
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert!(r.json["error"].is_string(), "{}", r.text);
    }
    let r = post(p1, "/start", "n2");
    assert_eq!(r.status, 409, "start of a running node: {}", r.text);

    let mut c = cluster.nodes[0].connect();
    c.must("CREATE TABLE t (id INT PRIMARY KEY)");
    for i in 0..10 {
        c.must(&format!("INSERT INTO t VALUES ({i})"));
    }
    drop(c);

    // 2. Drain a replica, then return it to service.
    let r = post(p3, "/drain", "n2");
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["switchover"], Value::Null, "{}", r.text);
    // Every member applies it (p1 may follow the leader by a moment).
    wait_until("n2 drained in every view", Duration::from_secs(10), || {
        let r = call(p1, "GET", "/cluster", None, None)?;
        let tagged = member(&r.json, "n2").map(|m| m["tags"]["noloadbalance"].clone());
        let t = call(p1, "GET", "/topology", None, None)?;
        let routed = t.json["replicas"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == "n2"))
            .map(|x| x["noloadbalance"].clone());
        let check = call(p1, "GET", "/replica?node=n2", None, None)?;
        let yes = Some(Value::Bool(true));
        if tagged == yes && routed == yes && check.status == 503 {
            Ok(())
        } else {
            Err(format!("{}\n{}\n{}", r.text, t.text, check.text))
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(post(p1, "/drain", "n2").status, 409);
    let r = post(p1, "/start", "n2");
    assert_eq!(r.status, 200, "{}", r.text);
    wait_until("n2 serves reads again", Duration::from_secs(10), || {
        let r = call(p1, "GET", "/replica?node=n2", None, None)?;
        if r.status == 200 {
            Ok(())
        } else {
            Err(r.text)
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));

    // 3. Stop the supervised replica n3 through manager 1.
    let failovers = history_len(p1);
    let r = post(p1, "/stop", "n3");
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["process_exited"], true, "{}", r.text);
    assert!(cluster.nodes[2].status().is_err(), "n3 still answers");
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        cluster.nodes[2].status().is_err(),
        "supervision restarted a stopped node"
    );
    let r = call(p1, "GET", "/cluster", None, None).unwrap_or_else(|e| panic!("{e}"));
    let n3 = member(&r.json, "n3").cloned().unwrap_or_default();
    assert_eq!(n3["state"], "stopped", "{}", r.text);
    assert_eq!(primary_name(&r.json).as_deref(), Some("n1"), "{}", r.text);
    assert_eq!(history_len(p1), failovers, "a stop is not a failure");
    assert_eq!(post(p1, "/stop", "n3").status, 409);
    let r = post(p3, "/restart", "n3");
    assert_eq!(r.status, 409, "restart of a stopped node: {}", r.text);
    // The member supervising it restarts and still keeps it down (it
    // never even starts the process).
    const STARTED: &str = "supervised node started";
    let before = count_in_log(&cluster, 2, STARTED);
    cluster.managers[2].kill9();
    cluster.managers[2].start();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        cluster.nodes[2].status().is_err(),
        "a restarted member started a stopped node\n{}",
        cluster.logs()
    );
    assert_eq!(
        count_in_log(&cluster, 2, STARTED),
        before,
        "{}",
        cluster.logs()
    );
    let r = post(p1, "/start", "n3");
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["answering"], true, "{}", r.text);
    cluster.wait_cluster(0, "n1", Duration::from_secs(60));
    assert_eq!(history_len(p1), failovers, "no failover around stop/start");

    // 4. Stop n3 while it is the primary.
    let r = call(
        p1,
        "POST",
        "/switchover",
        Some(TOKEN),
        Some(r#"{"candidate":"n3"}"#),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    cluster.wait_cluster(0, "n3", Duration::from_secs(60));
    let mut c = cluster.nodes[2].connect();
    c.must("INSERT INTO t VALUES (100)");
    drop(c);
    let r = post(p1, "/stop", "n3");
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    assert_eq!(r.json["switchover"]["from"], "n3", "{}", r.text);
    assert_eq!(r.json["process_exited"], true, "{}", r.text);
    let new_primary = r.json["switchover"]["to"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
        .to_string();
    let mut c = cluster.nodes[node_index(&new_primary)].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("11"));
    c.must("INSERT INTO t VALUES (101)");
    drop(c);
    let r = post(p1, "/start", "n3");
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    cluster.wait_cluster(0, &new_primary, Duration::from_secs(60));

    // 5. Drain the primary: the role moves first.
    let r = post(p1, "/drain", &new_primary);
    assert_eq!(r.status, 200, "{}\n{}", r.text, cluster.logs());
    let moved_to = r.json["switchover"]["to"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
        .to_string();
    assert_ne!(moved_to, new_primary);
    let json = cluster.wait_cluster(0, &moved_to, Duration::from_secs(60));
    assert_eq!(primary_name(&json).as_deref(), Some(moved_to.as_str()));
    assert_eq!(post(p1, "/start", &new_primary).status, 200);

    // 6. A scheduled switchover outlives the manager leader that took it.
    let leader_id = call(p1, "GET", "/health", None, None)
        .ok()
        .and_then(|r| r.json["leader"].as_u64())
        .unwrap_or_else(|| panic!("no leader\n{}", cluster.logs()));
    let leader = cluster
        .managers
        .iter()
        .position(|m| m.id == leader_id)
        .unwrap_or(0);
    let survivor = cluster.managers[(leader + 1) % 3].api_port;
    let target = ["n1", "n2", "n3"]
        .into_iter()
        .find(|n| *n != moved_to)
        .unwrap_or("n1");
    let at = (chrono::Utc::now() + chrono::Duration::seconds(6)).to_rfc3339();
    let body = format!(r#"{{"candidate":"{target}","scheduled_at":"{at}"}}"#);
    let r = call(
        cluster.managers[leader].api_port,
        "POST",
        "/switchover",
        Some(TOKEN),
        Some(&body),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 202, "{}", r.text);
    // Replicated: every member shows it.
    wait_until("schedule replicated", Duration::from_secs(5), || {
        let r = call(survivor, "GET", "/switchover", None, None)?;
        if r.status == 200 && r.json["candidate"] == target {
            Ok(())
        } else {
            Err(r.text)
        }
    })
    .unwrap_or_else(|e| panic!("{e}"));
    cluster.managers[leader].kill9();
    let killed = std::time::Instant::now();
    let json = cluster.wait_cluster((leader + 1) % 3, target, Duration::from_secs(60));
    assert_eq!(primary_name(&json).as_deref(), Some(target));
    let r = call(survivor, "GET", "/switchover", None, None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 404, "ran once and gone: {}", r.text);
    let mut c = cluster.nodes[node_index(target)].connect();
    assert_eq!(c.scalar("SELECT count(*) FROM t").as_deref(), Some("12"));
    drop(c);

    // A member down for ~11 s: the survivors report it a few times, not
    // on every Raft retry (openraft alone logs several lines per 150 ms).
    std::thread::sleep(Duration::from_secs(11).saturating_sub(killed.elapsed()));
    for i in (0..3).filter(|i| *i != leader) {
        let ours = count_in_log(&cluster, i, "raft peer");
        let theirs = count_in_log(&cluster, i, "openraft");
        eprintln!(
            "manager {}: {ours} 'raft peer' lines, {theirs} openraft lines",
            i + 1
        );
        assert!(ours <= 12, "{}", cluster.logs());
        assert!(theirs <= 20, "{}", cluster.logs());
    }
    // Managers first, so none restarts n3 once the guard killed it.
    for m in &mut cluster.managers {
        m.kill9();
    }
}
