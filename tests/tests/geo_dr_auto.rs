//! Automatic DR failover through the three-site quorum
//! (`manager/src/site_lease.rs`, `manager/src/service/dr_auto.rs`).
//!
//! ```text
//!  dc1: n1..n3 + managers m1..m3 ([dr] auto_failover, site "dc1")
//!    │ r12: dc1 -> dc2 managers' API        r1w: dc1 -> witness
//!    ▲ r21: dc2 -> dc1 pgwire, WAL senders, managers' API
//!  dc2: s1..s3 + managers ([standby_cluster], [dr] auto_failover, site "dc2")
//!    └─ direct ─► witness (`rustydb witness`, site "witness")
//! ```
//!
//! Every cross-site link goes through a `rustydb wan-relay` with its own
//! partition switch, so a test can isolate dc1 from both other sites, or
//! cut dc1 from dc2 only while the witness still sees dc1. Asserted:
//! (a) dc1 isolated: its primary stops accepting writes (the site fence),
//! then dc2 is promoted by the quorum and accepts writes; (b) dc1 cut from
//! dc2 only: dc2 asks, the witness refuses, nothing is promoted and dc1
//! keeps taking writes; (c) no witness vote possible (witness down) or
//! auto failover off: no promotion. Nothing asserts timing; waits are
//! bounded generously.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rustydb_tests::cluster::{wait_until, Admin, ClusterNode};
use rustydb_tests::manager::ManagedCluster;
use rustydb_tests::process::{free_port, log_tail, rustydb_bin};
use serde_json::{json, Value};

const TABLE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, w int)";
const BOUND: Duration = Duration::from_secs(90);
const LATENCY_MS: u64 = 20;
/// `[dr]` timing of every site: short, so a test takes seconds.
const SITE_LEASE_S: u64 = 4;
const AFTER_S: u64 = 8;

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

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One relay process (several routes sharing one partition switch).
struct Link {
    _proc: Proc,
    control: Admin,
}

impl Link {
    fn start(routes: &[(String, String)], dir: &Path, name: &str) -> Link {
        let control = free_port();
        let mut args = vec!["wan-relay".to_string()];
        for (listen, target) in routes {
            args.push("--route".into());
            args.push(format!("{listen}={target}"));
        }
        args.extend([
            "--latency-ms".into(),
            LATENCY_MS.to_string(),
            "--control".into(),
            format!("127.0.0.1:{control}"),
        ]);
        let p = Proc::spawn(&args, dir.join(format!("{name}.log")));
        let admin = Admin::new(control);
        wait_until("relay control answers", BOUND, || admin.get_json("/status"))
            .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&p.log, 2000)));
        Link {
            _proc: p,
            control: admin,
        }
    }

    fn partition(&self) {
        self.control.post("/partition", None).expect("partition");
    }
}

fn local() -> String {
    format!("127.0.0.1:{}", free_port())
}

fn dr_section(site: &str, witness: &str, peers: &[String], auto: bool) -> String {
    format!(
        "[dr]\nprobe_interval_ms = 300\nauto_failover = {auto}\nauto_failover_after_s = {AFTER_S}\n\
         site_lease_s = {SITE_LEASE_S}\nsite = \"{site}\"\nwitness = \"{witness}\"\npeer_site = {}\n",
        json!(peers)
    )
}

/// The three sites and their links.
struct Sites {
    dc1: ManagedCluster,
    dc2_nodes: Vec<ClusterNode>,
    dc2_managers: Vec<(Proc, u16)>,
    witness: Proc,
    r12: Link,
    r1w: Link,
    r21: Link,
    _dir: tempfile::TempDir,
}

impl Sites {
    fn start(dc2_auto: bool) -> Sites {
        let dir = tempfile::Builder::new()
            .prefix("rdb-geo-auto-")
            .tempdir()
            .expect("tempdir");
        let mut dc1 = ManagedCluster::start("async", TABLE);
        // The witness, reached directly by dc2 and through r1w by dc1.
        let witness_addr = local();
        let witness = Proc::spawn(
            &[
                "witness".into(),
                "--listen".into(),
                witness_addr.clone(),
                "--data-dir".into(),
                dir.path().join("witness").to_string_lossy().into_owned(),
            ],
            dir.path().join("witness.log"),
        );
        let w_admin = Admin::new(
            witness_addr
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port"),
        );
        wait_until("witness answers", BOUND, || {
            w_admin.get_json("/site/status")
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&witness.log, 2000)));
        let dc2_api: Vec<u16> = (0..3).map(|_| free_port()).collect();
        // dc1 -> dc2 managers, dc1 -> witness.
        let r12_routes: Vec<(String, String)> = dc2_api
            .iter()
            .map(|p| (local(), format!("127.0.0.1:{p}")))
            .collect();
        let r12 = Link::start(&r12_routes, dir.path(), "r12");
        let r1w_route = vec![(local(), witness_addr.clone())];
        let r1w = Link::start(&r1w_route, dir.path(), "r1w");
        // dc2 -> dc1: pgwire, WAL senders, managers.
        let mut r21_routes = Vec::new();
        let mut pg_hosts = Vec::new();
        let mut endpoint_map = Vec::new();
        for n in &dc1.nodes {
            let pg = local();
            r21_routes.push((pg.clone(), n.addr()));
            pg_hosts.push(pg);
            let endpoint = n
                .status_field("replication_endpoint")
                .as_str()
                .expect("dc1 node has a WAL endpoint")
                .to_string();
            let wal = local();
            r21_routes.push((wal.clone(), endpoint.clone()));
            endpoint_map.push(format!("{endpoint}={wal}"));
        }
        let mut dc1_api_via = Vec::new();
        for m in &dc1.managers {
            let api = local();
            r21_routes.push((api.clone(), format!("127.0.0.1:{}", m.api_port)));
            dc1_api_via.push(format!("http://{api}"));
        }
        let r21 = Link::start(&r21_routes, dir.path(), "r21");
        // dc1's managers join the quorum (restarted on the new config).
        let dc2_via: Vec<String> = r12_routes
            .iter()
            .map(|r| format!("http://{}", r.0))
            .collect();
        let dc1_witness = format!("http://{}", r1w_route[0].0);
        for m in dc1.managers.iter_mut() {
            let path = m.log().with_file_name("manager.toml");
            let mut text = std::fs::read_to_string(&path).expect("read manager.toml");
            text.push_str(&dr_section("dc1", &dc1_witness, &dc2_via, true));
            std::fs::write(&path, text).expect("write manager.toml");
            m.start();
        }
        // dc2: nodes streaming from dc1 through r21, managers in standby mode.
        let primary = dc1
            .wait_primary(|_| true, BOUND)
            .unwrap_or_else(|e| panic!("{e}\n{}", dc1.describe()));
        let idx = dc1
            .nodes
            .iter()
            .position(|n| n.name() == primary)
            .expect("primary index");
        let map = endpoint_map.join(",");
        let labels = ["--datacenter", "dc2", "--replication-endpoint-map"];
        let mut args1: Vec<&str> = vec!["--follow", pg_hosts[idx].as_str()];
        args1.extend_from_slice(&labels);
        args1.push(map.as_str());
        let s1 = ClusterNode::start("s1", &args1);
        let mut rest: Vec<&str> = labels.to_vec();
        rest.push(map.as_str());
        let s2 = ClusterNode::replica("s2", &s1, &rest);
        let s3 = ClusterNode::replica("s3", &s1, &rest);
        let nodes = vec![s1, s2, s3];
        let ids: Vec<(u64, u16, u16)> = dc2_api
            .iter()
            .enumerate()
            .map(|(i, a)| (i as u64 + 1, *a, free_port()))
            .collect();
        let witness_url = format!("http://{witness_addr}");
        let mut managers = Vec::new();
        for (id, api, raft) in &ids {
            let mdir = dir.path().join(format!("dc2-m{id}"));
            std::fs::create_dir_all(&mdir).expect("manager dir");
            let mut s = format!(
                "id = {id}\napi_listen = \"127.0.0.1:{api}\"\nraft_listen = \"127.0.0.1:{raft}\"\n\
                 data_dir = {}\ndatacenter = \"dc2\"\n",
                json!(mdir.join("data").to_string_lossy())
            );
            for (i, a, r) in &ids {
                s.push_str(&format!(
                    "[[members]]\nid = {i}\nraft = \"127.0.0.1:{r}\"\napi = \"http://127.0.0.1:{a}\"\n"
                ));
            }
            for n in &nodes {
                s.push_str(&format!(
                    "[[nodes]]\nname = {}\npgwire = \"{}\"\nadmin = \"127.0.0.1:{}\"\n",
                    json!(n.name()),
                    n.addr(),
                    n.admin_port()
                ));
            }
            s.push_str("[cluster]\nlease_ttl_ms = 1000\nheartbeat_ms = 100\n");
            s.push_str(&format!(
                "[standby_cluster]\nprimary_hosts = {}\n",
                json!(pg_hosts)
            ));
            s.push_str(&dr_section("dc2", &witness_url, &dc1_api_via, dc2_auto));
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
        let sites = Sites {
            dc1,
            dc2_nodes: nodes,
            dc2_managers: managers,
            witness,
            r12,
            r1w,
            r21,
            _dir: dir,
        };
        wait_until("dc2 streaming and caught up", BOUND, || {
            let s = sites.dc2_status()?;
            let ok = s["standby_cluster"] == json!(true)
                && s["standby_leader"].is_string()
                && s["primary_reachable"] == json!(true)
                && s["lag"]["records"] == json!(0);
            if ok {
                Ok(())
            } else {
                Err(s.to_string())
            }
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
        sites
    }

    fn dc1_status(&self) -> Result<Value, String> {
        for m in &self.dc1.managers {
            if let Ok(v) = m.api().get_json("/dr/status") {
                return Ok(v);
            }
        }
        Err("no dc1 manager answers".into())
    }

    fn dc2_status(&self) -> Result<Value, String> {
        for (_, port) in &self.dc2_managers {
            if let Ok(v) = Admin::new(*port).get_json("/dr/status") {
                return Ok(v);
            }
        }
        Err("no dc2 manager answers".into())
    }

    /// dc1 holds the primary-site epoch and dc2 recorded it.
    fn wait_dc1_holds(&self) {
        wait_until("dc1 holds the primary-site lease", BOUND, || {
            let s1 = self.dc1_status()?;
            let s2 = self.dc2_status()?;
            let ok = s1["site_quorum"]["holds"] == json!(true)
                && s2["site_quorum"]["holder"] == json!("dc1");
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "dc1: {}\ndc2: {}",
                    s1["site_quorum"], s2["site_quorum"]
                ))
            }
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.describe()));
    }

    /// Waits until dc2 asked the other sites to take over and got no vote,
    /// then checks it is still a standby.
    fn wait_dc2_claim_refused(&self, what: &str) {
        wait_until(what, BOUND, || {
            let s = self.dc2_status()?;
            let decision = s["site_quorum"]["last_decision"].as_str().unwrap_or("");
            if decision.starts_with("claim refused: no other site voted") {
                Ok(())
            } else {
                Err(s["site_quorum"].to_string())
            }
        })
        .unwrap_or_else(|e| panic!("{e}\n{}", self.describe()));
        let s = self.dc2_status().expect("status");
        assert_eq!(s["standby_cluster"], json!(true), "dc2 promoted: {s}");
    }

    fn dc1_write(&self, id: i64) -> Result<(), String> {
        let primary = self.dc1.primary_name()?;
        let node = self.dc1.node(&primary)?;
        let mut c = node.try_connect()?;
        let r = c.simple(&format!("INSERT INTO t (id, w) VALUES ({id}, 1)"));
        if r.is_ok() {
            Ok(())
        } else {
            Err(format!("{primary}: {r:?}"))
        }
    }

    /// Whether any dc1 node accepts a write now.
    fn dc1_writable(&self, id: i64) -> Option<String> {
        for n in &self.dc1.nodes {
            if let Ok(mut c) = n.try_connect() {
                let r = c.simple(&format!("INSERT INTO t (id, w) VALUES ({id}, 2)"));
                if r.is_ok() {
                    return Some(n.name().to_string());
                }
            }
        }
        None
    }

    fn describe(&self) -> String {
        let mut s = self.dc1.describe();
        for (p, _) in &self.dc2_managers {
            s.push_str(&format!(
                "--- {}:\n{}\n",
                p.log.display(),
                log_tail(&p.log, 3000)
            ));
        }
        for n in &self.dc2_nodes {
            s.push_str(&n.describe());
        }
        s.push_str(&format!(
            "--- witness:\n{}\n",
            log_tail(&self.witness.log, 2000)
        ));
        s
    }

    fn dc2_primary(&self) -> Option<&ClusterNode> {
        let cluster = Admin::new(self.dc2_managers[0].1)
            .get_json("/cluster")
            .ok()?;
        let name = cluster["members"]
            .as_array()?
            .iter()
            .find(|m| m["role"] == "leader")?["name"]
            .as_str()?
            .to_string();
        self.dc2_nodes.iter().find(|n| n.name() == name)
    }
}

#[test]
fn dc1_isolated_from_both_sites_is_fenced_and_dc2_promoted() {
    let sites = Sites::start(true);
    sites.wait_dc1_holds();
    wait_until("dc1 takes writes under the site lease", BOUND, || {
        sites.dc1_write(1)
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    // dc1 loses both other sites.
    sites.r12.partition();
    sites.r1w.partition();
    sites.r21.partition();
    // The fence: dc1's primary stops acknowledging writes.
    let mut probe = 100;
    wait_until("dc1 fenced", BOUND, || {
        probe += 1;
        match sites.dc1_writable(probe) {
            Some(n) => Err(format!("{n} still takes writes")),
            None => Ok(()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    // dc2 is promoted by the quorum (dc2 + witness), without an operator.
    let status = wait_until("dc2 promoted automatically", BOUND, || {
        let s = sites.dc2_status()?;
        if s["standby_cluster"] == json!(false) {
            Ok(s)
        } else {
            Err(s["site_quorum"].to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    eprintln!(
        "geo-auto: dc2 after the takeover: {}",
        status["site_quorum"]
    );
    assert_eq!(status["site_quorum"]["holder"], json!("dc2"), "{status}");
    let promoted = wait_until("dc2 has a primary", BOUND, || {
        sites
            .dc2_primary()
            .ok_or_else(|| "no leader yet".to_string())
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    wait_until("dc2 takes writes", BOUND, || {
        let mut c = promoted.try_connect()?;
        let r = c.simple("INSERT INTO t (id, w) VALUES (-1, 0)");
        if r.is_ok() {
            Ok(())
        } else {
            Err(format!("{r:?}"))
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    // Never two writable sites: dc1 still refuses.
    assert_eq!(
        sites.dc1_writable(-2),
        None,
        "dc1 writable after dc2's promotion"
    );
    // The automatic failover is recorded as a drill once its RTO probe
    // write was acknowledged.
    let report = wait_until("the drill is recorded", BOUND, || {
        let r = Admin::new(sites.dc2_managers[0].1).get_json("/dr/report")?;
        if r["drills"].as_array().is_some_and(|d| !d.is_empty()) {
            Ok(r)
        } else {
            Err(r.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    eprintln!("geo-auto: drill report {report}");
    let drills = report["drills"].as_array().expect("drills");
    assert_eq!(drills.len(), 1, "{report}");
    assert_eq!(drills[0]["drill"]["forced"], json!(false), "{report}");
}

#[test]
fn dc2_cut_from_dc1_only_is_not_promoted() {
    let sites = Sites::start(true);
    sites.wait_dc1_holds();
    // dc1 <-> dc2 cut both ways; the witness still sees both.
    sites.r12.partition();
    sites.r21.partition();
    // dc2 tries (its own evidence says dc1 is gone) and the witness refuses.
    sites.wait_dc2_claim_refused("dc2 asked and was refused");
    // dc1 keeps its lease through the witness and keeps taking writes.
    wait_until("dc1 still takes writes", BOUND, || sites.dc1_write(7))
        .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    let s1 = sites.dc1_status().expect("dc1 status");
    assert_eq!(s1["site_quorum"]["holds"], json!(true), "{s1}");
    for n in &sites.dc2_nodes {
        let r = n.connect().simple("INSERT INTO t (id, w) VALUES (-3, 0)");
        assert_eq!(r.code(), Some("25006"), "{} accepted a write", n.name());
    }
}

#[test]
fn no_promotion_without_a_witness_vote_or_with_auto_failover_off() {
    // Witness down and dc1 isolated: dc2 cannot form a majority.
    let mut sites = Sites::start(true);
    sites.wait_dc1_holds();
    sites.witness.kill();
    sites.r12.partition();
    sites.r21.partition();
    sites.wait_dc2_claim_refused("dc2 asked and got no vote");
    // dc1, alone, is fenced: no site takes writes (safe, not available).
    let mut probe = 200;
    wait_until("dc1 fenced without a majority", BOUND, || {
        probe += 1;
        match sites.dc1_writable(probe) {
            Some(n) => Err(format!("{n} still takes writes")),
            None => Ok(()),
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    drop(sites);

    // Auto failover off on dc2: dc1 isolated, dc2 never acts on its own.
    let sites = Sites::start(false);
    sites.r12.partition();
    sites.r1w.partition();
    sites.r21.partition();
    wait_until("dc2 sees the primary site unreachable", BOUND, || {
        let s = sites.dc2_status()?;
        if s["primary_reachable"] == json!(false) {
            Ok(())
        } else {
            Err(s.to_string())
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sites.describe()));
    // Longer than auto_failover_after_s plus the lease: a quorum would
    // have acted by now if one were configured.
    std::thread::sleep(Duration::from_secs(AFTER_S + 2 * SITE_LEASE_S));
    let s = sites.dc2_status().expect("status");
    assert_eq!(s["standby_cluster"], json!(true), "dc2 promoted: {s}");
    assert_eq!(s["site_quorum"]["auto_failover"], json!(false), "{s}");
}
