//! Geo-distribution and DR: a primary cluster (dc1) and a standby cluster
//! (dc2) on loopback with a WAN relay (`rustydb wan-relay`, 50 ms RTT)
//! between them.
//!
//! ```text
//!  dc1: n1 (primary), n2, n3 + managers m1..m3    (ManagedCluster)
//!        │ pgwire + WAL sender ports
//!   rustydb wan-relay --latency-ms 50 (two processes: probe link, WAL link)
//!        ▼
//!  dc2: s1 (standby leader, follows dc1's primary through the relay),
//!       s2, s3 cascade from s1; managers with [standby_cluster]
//! ```
//!
//! Asserted: the standby leader's lag stays bounded under write load and
//! converges to zero after it; nothing in dc2 accepts writes; a DR
//! failover promotes dc2 and reports as lost exactly the acknowledged
//! dc1 writes dc2 never received; a test-mode drill promotes a fork that
//! takes writes while the standby keeps following production, and the
//! fork is discarded; failback with switch-back restores dc1 as the
//! primary site without losing a write acknowledged by dc2.
//! Bounds are generous (the machine is shared); nothing asserts speed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustydb_tests::cluster::{wait_until, Admin, ClusterNode};
use rustydb_tests::manager::ManagedCluster;
use rustydb_tests::process::{free_port, log_tail, rustydb_bin};
use rustydb_tests::writers::Writers;
use serde_json::{json, Value};

const TABLE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, w int)";
const BOUND: Duration = Duration::from_secs(90);

/// A child process killed on drop.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(args: &[String], log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("clone log");
        let child = Command::new(rustydb_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn rustydb");
        Proc { child, log }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The WAN between the sites: one relay for pgwire (probes, discovery),
/// one for the WAL streams, so a test can stall replication alone.
struct Wan {
    _pg: Proc,
    _wal: Proc,
    wal_control: Admin,
    /// dc1 node name -> (relayed pgwire, relayed WAL endpoint, real WAL endpoint)
    routes: Vec<(String, String, String, String)>,
}

fn relay(
    routes: &[(String, String)],
    latency: u64,
    dir: &std::path::Path,
    name: &str,
) -> (Proc, Admin) {
    let control = free_port();
    let mut args = vec!["wan-relay".to_string()];
    for (listen, target) in routes {
        args.push("--route".into());
        args.push(format!("{listen}={target}"));
    }
    args.extend([
        "--latency-ms".into(),
        latency.to_string(),
        "--control".into(),
        format!("127.0.0.1:{control}"),
    ]);
    let p = Proc::spawn(&args, dir.join(format!("{name}.log")));
    let admin = Admin::new(control);
    wait_until("relay control answers", BOUND, || admin.get_json("/status"))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&p.log, 2000)));
    (p, admin)
}

impl Wan {
    fn start(dc1: &ManagedCluster, latency: u64, dir: &std::path::Path) -> Wan {
        let mut routes = Vec::new();
        for n in &dc1.nodes {
            let endpoint = n.status_field("replication_endpoint");
            let endpoint = endpoint
                .as_str()
                .expect("dc1 node has a WAL endpoint")
                .to_string();
            routes.push((
                n.name().to_string(),
                format!("127.0.0.1:{}", free_port()),
                format!("127.0.0.1:{}", free_port()),
                endpoint,
            ));
            let _ = n;
        }
        let pg: Vec<(String, String)> = routes
            .iter()
            .zip(&dc1.nodes)
            .map(|(r, n)| (r.1.clone(), n.addr()))
            .collect();
        let wal: Vec<(String, String)> =
            routes.iter().map(|r| (r.2.clone(), r.3.clone())).collect();
        let (pg_proc, _) = relay(&pg, latency, dir, "relay-pg");
        let (wal_proc, wal_control) = relay(&wal, latency, dir, "relay-wal");
        Wan {
            _pg: pg_proc,
            _wal: wal_proc,
            wal_control,
            routes,
        }
    }

    fn pg_hosts(&self) -> Vec<String> {
        self.routes.iter().map(|r| r.1.clone()).collect()
    }

    fn endpoint_map(&self) -> String {
        self.routes
            .iter()
            .map(|r| format!("{}={}", r.3, r.2))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// The standby site: three nodes and three managers.
struct StandbySite {
    nodes: Vec<ClusterNode>,
    managers: Vec<(Proc, u16)>,
    _dir: tempfile::TempDir,
}

impl StandbySite {
    fn start(wan: &Wan, dc1_primary: &str) -> StandbySite {
        let dir = tempfile::Builder::new()
            .prefix("rdb-geo-")
            .tempdir()
            .expect("tempdir");
        let map = wan.endpoint_map();
        let via = wan
            .routes
            .iter()
            .find(|r| r.0 == dc1_primary)
            .map(|r| r.1.clone())
            .expect("route to dc1's primary");
        let labels = [
            "--datacenter",
            "dc2",
            "--region",
            "r2",
            "--replication-endpoint-map",
        ];
        let mut args1: Vec<&str> = vec!["--follow", via.as_str()];
        args1.extend_from_slice(&labels);
        args1.push(map.as_str());
        let s1 = ClusterNode::start("s1", &args1);
        let mut rest: Vec<&str> = labels.to_vec();
        rest.push(map.as_str());
        let s2 = ClusterNode::replica("s2", &s1, &rest);
        let s3 = ClusterNode::replica("s3", &s1, &rest);
        let nodes = vec![s1, s2, s3];
        let ids: Vec<(u64, u16, u16)> = (1..=3).map(|i| (i, free_port(), free_port())).collect();
        let mut managers = Vec::new();
        for (id, api, raft) in &ids {
            let mdir = dir.path().join(format!("m{id}"));
            std::fs::create_dir_all(&mdir).expect("manager dir");
            let mut s = format!(
                "id = {id}\napi_listen = \"127.0.0.1:{api}\"\nraft_listen = \"127.0.0.1:{raft}\"\n\
                 data_dir = {}\ndatacenter = \"dc2\"\nregion = \"r2\"\n",
                json!(mdir.join("data").to_string_lossy())
            );
            for (i, a, r) in &ids {
                s.push_str(&format!(
                    "[[members]]\nid = {i}\nraft = \"127.0.0.1:{r}\"\napi = \"http://127.0.0.1:{a}\"\ndatacenter = \"dc2\"\nregion = \"r2\"\n"
                ));
            }
            for n in &nodes {
                s.push_str(&format!(
                    "[[nodes]]\nname = {}\npgwire = \"{}\"\nadmin = \"127.0.0.1:{}\"\ndatacenter = \"dc2\"\nregion = \"r2\"\n",
                    json!(n.name()),
                    n.addr(),
                    n.admin_port()
                ));
            }
            s.push_str("[cluster]\nlease_ttl_ms = 1000\nheartbeat_ms = 100\n");
            s.push_str(&format!(
                "[standby_cluster]\nprimary_hosts = {}\n[dr]\nprobe_interval_ms = 300\n",
                json!(wan.pg_hosts())
            ));
            let path = mdir.join("manager.toml");
            std::fs::write(&path, s).expect("write manager.toml");
            let p = Proc::spawn(
                &[
                    "manager".into(),
                    "--config".into(),
                    path.to_string_lossy().into_owned(),
                ],
                mdir.join("manager.log"),
            );
            managers.push((p, *api));
        }
        StandbySite {
            nodes,
            managers,
            _dir: dir,
        }
    }

    fn api(&self) -> Admin {
        Admin::new(self.managers[0].1)
    }

    fn dr_status(&self) -> Result<Value, String> {
        for (_, port) in &self.managers {
            if let Ok(v) = Admin::new(*port).get_json("/dr/status") {
                return Ok(v);
            }
        }
        Err("no dc2 manager answers".into())
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        for (p, _) in &self.managers {
            s.push_str(&format!(
                "--- {}:\n{}\n",
                p.log.display(),
                log_tail(&p.log, 3000)
            ));
        }
        for n in &self.nodes {
            s.push_str(&n.describe());
        }
        s
    }

    fn node(&self, name: &str) -> &ClusterNode {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .expect("known node")
    }
}

fn ids_on(node: &ClusterNode) -> BTreeSet<i64> {
    try_ids_on(node).unwrap_or_else(|e| panic!("{e}\n{}", node.describe()))
}

/// The ids in `t` on `node` (an error while it does not serve reads).
fn try_ids_on(node: &ClusterNode) -> Result<BTreeSet<i64>, String> {
    let mut c = node.try_connect()?;
    let r = c.simple("SELECT id FROM t");
    if !r.is_ok() {
        return Err(format!("{}: {r:?}", node.name()));
    }
    Ok(r.rows()
        .iter()
        .filter_map(|row| row.first().cloned().flatten())
        .filter_map(|v| v.parse().ok())
        .collect())
}

/// Both sites up, dc2 streaming and caught up.
fn setup() -> (ManagedCluster, Wan, StandbySite, tempfile::TempDir) {
    let dc1 = ManagedCluster::start("async", TABLE);
    let dir = tempfile::Builder::new()
        .prefix("rdb-wan-")
        .tempdir()
        .expect("tempdir");
    let wan = Wan::start(&dc1, 50, dir.path());
    let primary = dc1.primary_name().expect("dc1 primary");
    let dc2 = StandbySite::start(&wan, &primary);
    wait_until("dc2 standby leader streaming and caught up", BOUND, || {
        let s = dc2.dr_status()?;
        let ok = s["standby_cluster"] == json!(true)
            && s["standby_leader"].is_string()
            && s["primary_reachable"] == json!(true)
            && s["lag"]["records"] == json!(0);
        if ok {
            Ok(s)
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
    (dc1, wan, dc2, dir)
}

fn port_of(dc1: &ManagedCluster, name: &str) -> u16 {
    dc1.node(name).expect("node").port()
}

#[test]
fn standby_lag_bounded_and_dr_failover_reports_what_was_lost() {
    let (mut dc1, wan, dc2, _dir) = setup();
    let primary = dc1.primary_name().expect("primary");
    // Labels are shown.
    let cluster = dc2.api().get_json("/cluster").expect("/cluster");
    assert!(
        cluster["members"].as_array().is_some_and(|m| m
            .iter()
            .all(|x| x["datacenter"] == "dc2" && x["region"] == "r2")),
        "{cluster}"
    );
    assert!(
        cluster["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x["role"] == "standby_leader")),
        "{cluster}"
    );
    // Nothing in the standby cluster accepts writes.
    for n in &dc2.nodes {
        let r = n.connect().simple("INSERT INTO t (id, w) VALUES (-1, 0)");
        assert_eq!(
            r.code(),
            Some("25006"),
            "{} accepted a write: {r:?}",
            n.name()
        );
    }
    // Lag stays bounded under load and converges after it.
    let writers = Writers::pinned("t", &[(primary.clone(), port_of(&dc1, &primary))], 0);
    let mut worst = 0.0f64;
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        if let Ok(s) = dc2.dr_status() {
            worst = worst.max(s["lag"]["seconds"].as_f64().unwrap_or(0.0));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let (acked, _) = writers.stop();
    assert!(!acked.is_empty(), "no write acknowledged on dc1");
    eprintln!(
        "geo: {} writes under load, worst standby lag {worst:.3} s",
        acked.len()
    );
    assert!(
        worst < 30.0,
        "lag not bounded: {worst} s\n{}",
        dc2.describe()
    );
    let dc1_lsn = dc1.node(&primary).expect("p").lsn().expect("lsn");
    wait_until("standby converges", BOUND, || {
        let s = dc2.dr_status()?;
        let ok =
            s["lag"]["records"] == json!(0) && s["standby_leader_lsn"].as_u64() >= Some(dc1_lsn);
        if ok {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
    let metrics = dc2.api().get("/metrics").expect("metrics").text;
    assert!(metrics.contains("rustydb_dr_lag_seconds"), "{metrics}");

    // Stall the WAL link, keep writing on dc1: those writes are what a DR
    // failover loses. The probe link stays up, so the managers see them.
    wan.wal_control.post("/partition", None).expect("partition");
    let writers = Writers::pinned("t", &[(primary.clone(), port_of(&dc1, &primary))], 10);
    std::thread::sleep(Duration::from_secs(2));
    let (lost_acks, _) = writers.stop();
    assert!(!lost_acks.is_empty());
    let final_lsn = dc1.node(&primary).expect("p").lsn().expect("lsn");
    wait_until("dc2 saw dc1's final LSN", BOUND, || {
        let s = dc2.dr_status()?;
        if s["remote_lsn"].as_u64() >= Some(final_lsn) {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
    // The primary site dies.
    for n in dc1.nodes.iter_mut() {
        n.kill9();
    }
    // check-standby now fails (site unreachable).
    let check = dc2.api().get("/dr/check").expect("check");
    wait_until("dr check reports the site down", BOUND, || {
        let c = dc2.api().get("/dr/check")?;
        if c.status == 503 {
            Ok(())
        } else {
            Err(c.text)
        }
    })
    .unwrap_or_else(|e| panic!("{e} (first: {})", check.text));
    let r = dc2
        .api()
        .post("/dr/failover", Some(&json!({"force": true})))
        .expect("dr failover");
    assert_eq!(r.status, 200, "{}\n{}", r.text, dc2.describe());
    let result = r.json;
    eprintln!("geo: dr failover answered {result}");
    let promoted = result["promoted"].as_str().expect("promoted").to_string();
    assert_eq!(result["primary_reachable"], json!(false), "{result}");
    assert!(result["rto_ms"].is_u64(), "no RTO: {result}");
    // Writes are accepted on the promoted standby.
    let node = dc2.node(&promoted);
    node.connect().must("INSERT INTO t (id, w) VALUES (-2, 0)");
    // The reported RPO equals the acknowledged writes dc2 does not have.
    let have = ids_on(node);
    let all: Vec<i64> = acked.iter().chain(&lost_acks).map(|a| a.id).collect();
    let missing = all.iter().filter(|id| !have.contains(id)).count() as u64;
    assert!(
        missing > 0,
        "nothing was lost: the WAL link was not stalled"
    );
    assert_eq!(result["rpo"]["records"].as_u64(), Some(missing), "{result}");
    // The drill is in the report; the cluster runs normal HA now.
    let report = dc2.api().get_json("/dr/report").expect("report");
    assert!(
        report["drills"].as_array().is_some_and(|d| d.len() == 1),
        "{report}"
    );
    let status = dc2.dr_status().expect("status");
    assert_eq!(status["standby_cluster"], json!(false), "{status}");
}

#[test]
fn test_mode_drill_promotes_a_fork_and_leaves_production_alone() {
    let (dc1, _wan, dc2, _dir) = setup();
    let primary = dc1.primary_name().expect("primary");
    let r = dc2
        .api()
        .post(
            "/dr/failover",
            Some(&json!({"test_mode": true, "force": true})),
        )
        .expect("drill");
    assert_eq!(r.status, 200, "{}\n{}", r.text, dc2.describe());
    let fork = r.json["pgwire"].as_str().expect("fork address").to_string();
    let fork_port: u16 = fork
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    // The fork takes writes.
    let mut c = rustydb_tests::client::SqlClient::connect(fork_port, "postgres").expect("fork");
    c.must("INSERT INTO t (id, w) VALUES (-5, 0)");
    // The standby is still a standby and keeps following production.
    let s = dc2.dr_status().expect("status");
    assert_eq!(s["standby_cluster"], json!(true), "{s}");
    assert_eq!(dc1.primary_name().expect("primary"), primary);
    let p = dc1.node(&primary).expect("p");
    p.connect().must("INSERT INTO t (id, w) VALUES (7777, 1)");
    let leader = s["standby_leader"].as_str().expect("leader").to_string();
    wait_until("standby receives production's write", BOUND, || {
        if try_ids_on(dc2.node(&leader))?.contains(&7777) {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
    assert!(
        !ids_on(dc2.node(&leader)).contains(&-5),
        "the fork's write leaked into the standby"
    );
    assert!(
        !ids_on(p).contains(&-5),
        "the fork's write leaked into production"
    );
    // Discard.
    let d = dc2.api().post("/dr/discard-test", None).expect("discard");
    assert_eq!(d.status, 200, "{}", d.text);
    wait_until(
        "fork gone",
        BOUND,
        || match rustydb_tests::client::SqlClient::connect(fork_port, "postgres") {
            Ok(_) => Err("fork still answers".to_string()),
            Err(_) => Ok(()),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let s = dc2.dr_status().expect("status");
    assert!(s["fork"].is_null(), "{s}");
}

fn cli(args: &[&str]) -> (bool, String) {
    let bin = rustydb_bin().with_file_name("rustydb-cli");
    let out = Command::new(&bin)
        .args(args)
        .output()
        .expect("run rustydb-cli");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn failback_with_switch_back_restores_the_layout_without_loss() {
    let (mut dc1, _wan, dc2, _dir) = setup();
    let dc1_api = format!("http://127.0.0.1:{}", dc1.managers[0].api_port);
    let dc2_api = format!("http://127.0.0.1:{}", dc2.managers[0].1);
    // check-standby passes while healthy.
    let (ok, text) = cli(&["--api", &dc2_api, "dr", "check-standby"]);
    assert!(ok, "check-standby failed on a healthy standby: {text}");
    // The primary site dies; dc2 is promoted and takes writes.
    for n in dc1.nodes.iter_mut() {
        n.kill9();
    }
    let (ok, text) = cli(&["--api", &dc2_api, "dr", "failover", "--force"]);
    assert!(ok, "dr failover: {text}\n{}", dc2.describe());
    let promoted = dc2.api().get_json("/cluster").expect("cluster")["members"]
        .as_array()
        .and_then(|m| m.iter().find(|x| x["role"] == "leader").cloned())
        .and_then(|m| m["name"].as_str().map(str::to_string))
        .expect("dc2 has a leader");
    let port = dc2.node(&promoted).port();
    let writers = Writers::pinned("t", &[(promoted.clone(), port)], 20);
    std::thread::sleep(Duration::from_secs(2));
    let (acked, _) = writers.stop();
    assert!(!acked.is_empty(), "dc2 acknowledged nothing");
    // The old site comes back (its primary restarts read-write, as a
    // site that lost power would) and fails back: it becomes a standby of
    // dc2, catches up, then the roles switch back.
    for n in dc1.nodes.iter_mut() {
        n.restart();
    }
    let hosts: Vec<String> = dc2.nodes.iter().map(|n| n.addr()).collect();
    let (ok, text) = cli(&[
        "--api",
        &dc2_api,
        "dr",
        "failback",
        "--peer",
        &dc1_api,
        "--hosts",
        &hosts.join(","),
        "--switch-back",
    ]);
    eprintln!("geo: failback: {text}");
    assert!(
        ok,
        "dr failback: {text}\n{}\n{}",
        dc2.describe(),
        dc1.describe()
    );
    let primary = dc1
        .wait_primary(|_| true, BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", dc1.describe()));
    let have = ids_on(dc1.node(&primary).expect("dc1 primary"));
    let lost: Vec<i64> = acked
        .iter()
        .map(|a| a.id)
        .filter(|id| !have.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "acknowledged dc2 writes lost on switch-back: {lost:?}"
    );
    // dc2 is a standby again and follows dc1.
    dc1.node(&primary)
        .expect("p")
        .connect()
        .must("INSERT INTO t (id, w) VALUES (8888, 1)");
    wait_until("dc2 follows dc1 again", BOUND, || {
        let s = dc2.dr_status()?;
        let leader = s["standby_leader"]
            .as_str()
            .ok_or("no standby leader")?
            .to_string();
        if s["standby_cluster"] == json!(true) && try_ids_on(dc2.node(&leader))?.contains(&8888) {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
}

/// The primary site fails over while the standby leader is *ahead* of the
/// new primary (it received records the new primary never got, as after
/// an async failover): the standby leader must learn over the WAN that it
/// diverged, rewind, and follow the new primary. (The WAN relay once
/// dropped the sender's last frame before a close, so the "diverged"
/// answer never arrived and the standby leader stayed fenced.)
#[test]
fn standby_leader_follows_a_lossy_failover_of_the_primary_site() {
    let (mut dc1, wan, dc2, _dir) = setup();
    let primary = dc1.primary_name().expect("primary");
    let others: Vec<String> = dc1
        .nodes
        .iter()
        .map(|n| n.name().to_string())
        .filter(|n| *n != primary)
        .collect();
    // dc1's replicas go down; the primary takes writes the standby site gets.
    for n in &others {
        dc1.node_mut(n).kill9();
    }
    let p = dc1.node(&primary).expect("p");
    for id in 9001..9011 {
        p.connect()
            .must(&format!("INSERT INTO t (id, w) VALUES ({id}, 1)"));
    }
    let s = dc2.dr_status().expect("status");
    let leader = s["standby_leader"].as_str().expect("leader").to_string();
    wait_until("the standby leader has the writes", BOUND, || {
        if try_ids_on(dc2.node(&leader))?.contains(&9010) {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", dc2.describe()));
    // The primary dies; its replicas come back without those writes: dc1
    // fails over and the new primary forks before them.
    dc1.node_mut(&primary).kill9();
    for n in &others {
        // On the same WAL port, so the standby site reaches it through the
        // WAN relay (its endpoint map), as before.
        let endpoint = wan
            .routes
            .iter()
            .find(|r| r.0 == *n)
            .map(|r| r.3.clone())
            .expect("route");
        let node = dc1.node_mut(n);
        let mut args = node.server().args().to_vec();
        args.extend(["--replication-listen".to_string(), endpoint]);
        node.server().set_args(args);
        node.restart();
    }
    let new_primary = dc1
        .wait_primary(|n| n != primary, BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", dc1.describe()));
    dc1.node(&new_primary)
        .expect("new primary")
        .connect()
        .must("INSERT INTO t (id, w) VALUES (9999, 2)");
    // The standby site follows the new primary (rewinding what dc1 lost).
    wait_until("the standby site follows the new primary", BOUND, || {
        let s = dc2.dr_status()?;
        let leader = s["standby_leader"].as_str().ok_or("no standby leader")?;
        let ids = try_ids_on(dc2.node(leader))?;
        if ids.contains(&9999) && !ids.contains(&9010) {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}\n{}", dc2.describe(), dc1.describe()));
}
