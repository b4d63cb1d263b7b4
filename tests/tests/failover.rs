//! Automatic failover, manager-leader loss, a paused primary and
//! switchover, against three `rustydb manager` members and three nodes on
//! loopback (see `rustydb_tests::manager`). Writers record every
//! acknowledged id; the invariants checked are the issue's:
//! - after `kill -9` of the primary a new primary accepts writes, and in
//!   sync mode every acknowledged id is on it; the old primary, restarted
//!   with its original arguments, rejoins as a replica (the managers
//!   re-point it); five rounds, the manager leader killed too at random;
//! - killing the manager leader elects another and does not fail over a
//!   healthy primary;
//! - a primary paused (SIGSTOP) past its lease, or cut off from the
//!   managers (a TCP relay on their path to its admin API), acknowledges
//!   nothing started after the fault ended, and nothing started after
//!   another node acknowledged a commit;
//! - a switchover under load loses no acknowledged write;
//! - malformed or impossible requests get 4xx with a JSON error; with an
//!   `api_token`, mutations without it get 401 (reads stay open); the CLI
//!   renders tables and JSON and exits 1 on an API error.
//!
//! Set `RUSTYDB_TEST_SEED` to replay a run's victim choices (printed).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rustydb_tests::cluster::{wait_caught_up, wait_until, ClusterNode};
use rustydb_tests::manager::{signal, ManagedCluster};
use rustydb_tests::writers::{Ack, Writers};

const TABLE: &str = "CREATE TABLE fo (id bigint PRIMARY KEY, w int)";
const FAILOVER_BOUND: Duration = Duration::from_secs(30);
const REJOIN_BOUND: Duration = Duration::from_secs(90);

/// xorshift64*, seeded from the clock or `RUSTYDB_TEST_SEED`.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("RUSTYDB_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        eprintln!("RUSTYDB_TEST_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn ports(c: &ManagedCluster) -> (Vec<u16>, Vec<(String, u16)>) {
    let api = c.managers.iter().map(|m| m.api_port).collect();
    let nodes = c
        .nodes
        .iter()
        .map(|n| (n.name().to_string(), n.port()))
        .collect();
    (api, nodes)
}

/// Every acknowledged id must be in `fo` on `node`.
fn assert_all_present(c: &ManagedCluster, node: &str, acks: &[Ack]) {
    let n = c.node(node).unwrap_or_else(|e| panic!("{e}"));
    let mut client = n.connect();
    let rows = client.must("SELECT id FROM fo");
    let have: BTreeSet<i64> = rows
        .rows()
        .iter()
        .filter_map(|r| r.first()?.as_deref()?.parse().ok())
        .collect();
    let missing: Vec<&Ack> = acks.iter().filter(|a| !have.contains(&a.id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged ids missing on {node} (of {}), first: {:?}\n{}",
        missing.len(),
        acks.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        c.describe()
    );
}

fn wait_new_primary(c: &ManagedCluster, old: &str) -> String {
    c.wait_primary(|n| n != old, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("no failover away from {old}: {e}\n{}", c.describe()))
}

#[test]
fn kill9_primary_five_rounds_sync_loses_nothing() {
    let mut c = ManagedCluster::start("sync", TABLE);
    let (api, nodes) = ports(&c);
    let writers = Writers::routed("fo", api, nodes, 3);
    let mut rng = Rng::new();
    for round in 1..=5 {
        let old = c
            .wait_primary(|_| true, FAILOVER_BOUND)
            .unwrap_or_else(|e| panic!("round {round}: {e}\n{}", c.describe()));
        std::thread::sleep(Duration::from_millis(700));
        let also_leader = rng.below(2) == 0;
        let leader = if also_leader {
            c.manager_leader().ok()
        } else {
            None
        };
        let killed = Instant::now();
        c.node_mut(&old).kill9();
        if let Some(i) = leader {
            c.managers[i].kill9();
        }
        let new = wait_new_primary(&c, &old);
        let first = writers.wait_ack_on(&new, killed, FAILOVER_BOUND);
        let Some(first) = first else {
            panic!(
                "round {round}: {new} is primary but acknowledged no write\n{}",
                c.describe()
            );
        };
        eprintln!(
            "round {round}: killed {old}{}; {new} acknowledged a write after {:?}",
            if leader.is_some() {
                " and the manager leader"
            } else {
                ""
            },
            first.duration_since(killed)
        );
        if let Some(i) = leader {
            c.managers[i].start();
        }
        c.node_mut(&old).restart_answering();
        c.wait_replica_of(&old, &new, REJOIN_BOUND)
            .unwrap_or_else(|e| {
                panic!("round {round}: {old} did not rejoin: {e}\n{}", c.describe())
            });
    }
    let (acks, errors) = writers.stop();
    eprintln!("{} acks, {} errors", acks.len(), errors.len());
    let primary = c
        .wait_primary(|_| true, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_all_present(&c, &primary, &acks);
    let p = c.node(&primary).unwrap_or_else(|e| panic!("{e}"));
    let replicas: Vec<&ClusterNode> = c.nodes.iter().filter(|n| n.name() != primary).collect();
    wait_caught_up(p, &replicas);
    for r in &replicas {
        assert_all_present(&c, r.name(), &acks);
    }
}

#[test]
fn killing_the_manager_leader_keeps_a_healthy_primary() {
    let mut c = ManagedCluster::start("async", TABLE);
    let primary = c
        .wait_primary(|_| true, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}"));
    let timeline = c
        .node(&primary)
        .map(|n| n.status_field("timeline"))
        .unwrap_or(Value::Null);
    let leader = c
        .manager_leader()
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    let old_id = c.managers[leader].id;
    c.managers[leader].kill9();
    let new_leader = wait_until("a new manager leader", FAILOVER_BOUND, || {
        let i = c.manager_leader()?;
        if c.managers[i].id == old_id {
            Err("still the killed member".into())
        } else {
            Ok(i)
        }
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    // Watch for a while: the primary must stay, on the same timeline.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        let now = c.primary_name().unwrap_or_default();
        assert_eq!(
            now,
            primary,
            "the healthy primary was failed over\n{}",
            c.describe()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let node = c.node(&primary).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(node.status_field("role"), json!("primary"));
    assert_eq!(node.status_field("timeline"), timeline, "timeline moved");
    eprintln!(
        "leader m{old_id} killed, m{} leads",
        c.managers[new_leader].id
    );
    c.managers[leader].start();
}

/// A fault that takes the primary away from the managers and back.
enum Fault {
    /// SIGSTOP the process, SIGCONT to undo.
    Pause,
    /// Cut its admin API off from the managers (relay), heal to undo; its
    /// clients and replicas still reach it.
    Isolate,
}

/// The primary suffers `fault` until a new primary acknowledged writes (and
/// one more second), then the fault is undone. Writers pinned to every node
/// show that the old primary acknowledged nothing started after the new
/// one's first acknowledgement or after the fault was undone, and that
/// every acknowledged id is on the final primary (sync mode).
fn primary_fault_keeps_one_writer(fault: Fault) {
    let c = ManagedCluster::start("sync", TABLE);
    let old = c
        .wait_primary(|_| true, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, nodes) = ports(&c);
    let writers = Writers::pinned("fo", &nodes, 100);
    std::thread::sleep(Duration::from_millis(700));
    let pid = c
        .nodes
        .iter()
        .find(|n| n.name() == old)
        .and_then(|n| n.pid())
        .unwrap_or_else(|| panic!("{old} has no pid"));
    let faulted = Instant::now();
    match fault {
        Fault::Pause => signal(pid, "STOP"),
        Fault::Isolate => c.isolate(&old),
    }
    let new = c.wait_primary(|n| n != old, FAILOVER_BOUND);
    let first_new = writers.wait_ack_on(new.as_deref().unwrap_or(""), faulted, FAILOVER_BOUND);
    std::thread::sleep(Duration::from_secs(1));
    let undone = Instant::now();
    match fault {
        Fault::Pause => signal(pid, "CONT"),
        Fault::Isolate => c.heal(&old),
    }
    let new = new.unwrap_or_else(|e| panic!("no failover away from {old}: {e}\n{}", c.describe()));
    std::thread::sleep(Duration::from_secs(3));
    let (acks, _) = writers.stop();
    let Some(first_new) = first_new else {
        panic!("{new} acknowledged no write\n{}", c.describe());
    };
    let late: Vec<&Ack> = acks
        .iter()
        .filter(|a| a.node == old && (a.start >= undone || a.start >= first_new))
        .collect();
    assert!(
        late.is_empty(),
        "{old} acknowledged {} commits after its lease expired / after {new} took over: {:?}\n{}",
        late.len(),
        late.iter().take(5).collect::<Vec<_>>(),
        c.describe()
    );
    let on_new = c
        .wait_primary(|_| true, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_all_present(&c, &on_new, &acks);
    c.wait_replica_of(&old, &on_new, REJOIN_BOUND)
        .unwrap_or_else(|e| panic!("{old} did not rejoin: {e}\n{}", c.describe()));
}

#[test]
fn sigstopped_primary_acknowledges_nothing_after_its_lease() {
    primary_fault_keeps_one_writer(Fault::Pause);
}

#[test]
fn primary_cut_off_from_the_managers_acknowledges_nothing_after_its_lease() {
    primary_fault_keeps_one_writer(Fault::Isolate);
}

#[test]
fn switchover_under_load_loses_nothing() {
    let c = ManagedCluster::start("sync", TABLE);
    let (api, nodes) = ports(&c);
    let old = c
        .wait_primary(|_| true, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}"));
    let candidate = if old == "n2" { "n3" } else { "n2" };
    let writers = Writers::routed("fo", api, nodes, 3);
    std::thread::sleep(Duration::from_secs(1));
    let asked = Instant::now();
    let reply = c
        .post(
            1,
            "/switchover",
            &json!({"leader": old, "candidate": candidate}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        reply.status, 200,
        "switchover answered {}: {}",
        reply.status, reply.text
    );
    c.wait_primary(|n| n == candidate, FAILOVER_BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
    let first = writers.wait_ack_on(candidate, asked, FAILOVER_BOUND);
    std::thread::sleep(Duration::from_secs(1));
    let (acks, errors) = writers.stop();
    eprintln!(
        "switchover: first write on {candidate} {:?} after the request; {} errors",
        first.map(|f| f.duration_since(asked)),
        errors.len()
    );
    assert!(first.is_some(), "{candidate} acknowledged no write");
    assert_all_present(&c, candidate, &acks);
    c.wait_replica_of(&old, candidate, REJOIN_BOUND)
        .unwrap_or_else(|e| panic!("{e}\n{}", c.describe()));
}

#[test]
fn api_rejects_bad_requests_and_cli_reports_them() {
    let c = ManagedCluster::start("async", TABLE);
    let m = c.managers[0].api();
    // Malformed JSON and an unknown candidate are 4xx with a JSON error.
    let bad = m
        .post_raw("/failover", "{")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        (400..500).contains(&bad.status),
        "malformed body got {}",
        bad.status
    );
    assert!(
        bad.json.get("error").is_some(),
        "no JSON error: {}",
        bad.text
    );
    let unknown = m
        .post("/failover", Some(&json!({"candidate": "nope"})))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        (400..500).contains(&unknown.status),
        "unknown candidate got {}",
        unknown.status
    );
    // The CLI: a table, JSON, and a non-zero exit with the API's error.
    let cli = rustydb_tests::rustydb_bin().with_file_name("rustydb-cli");
    let api = format!("http://127.0.0.1:{}", c.managers[0].api_port);
    let run = |args: &[&str]| {
        std::process::Command::new(&cli)
            .arg("--api")
            .arg(&api)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", cli.display()))
    };
    let table = run(&["cluster", "status"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "cluster status failed: {text}");
    for n in ["n1", "n2", "n3", "Leader"] {
        assert!(text.contains(n), "{n} missing from:\n{text}");
    }
    let js = run(&["--format", "json", "cluster", "status"]);
    let parsed: Value = serde_json::from_slice(&js.stdout).unwrap_or(Value::Null);
    assert_eq!(
        parsed["members"].as_array().map(Vec::len),
        Some(3),
        "{parsed}"
    );
    let refused = run(&["failover", "--to", "nope"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("error 4"));
    // `node drain|start`: an unknown node is a 404, a replica is drained
    // (the proxies' topology shows it) and returned to service.
    let unknown = run(&["node", "drain", "nope"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("error 404"));
    let replica = parsed["members"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["role"] != "leader"))
        .and_then(|x| x["name"].as_str())
        .unwrap_or("n2")
        .to_string();
    let drained = run(&["--format", "json", "node", "drain", &replica]);
    assert!(
        drained.status.success(),
        "{}",
        String::from_utf8_lossy(&drained.stderr)
    );
    let topology = m.get_json("/topology").unwrap_or_else(|e| panic!("{e}"));
    let flag = topology["replicas"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == replica.as_str()))
        .map(|x| x["noloadbalance"].clone());
    assert_eq!(flag, Some(json!(true)), "{topology}");
    assert_eq!(run(&["node", "drain", &replica]).status.code(), Some(1));
    assert!(run(&["node", "start", &replica]).status.success());
    assert_eq!(run(&["node", "start", &replica]).status.code(), Some(1));
}

#[test]
fn mutations_need_the_bearer_token_when_one_is_configured() {
    let c = ManagedCluster::start_with_token("async", TABLE, "s3cret");
    let m = c.managers[1].api();
    let denied = m.post("/pause", None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        denied.status, 401,
        "POST /pause without a token: {}",
        denied.text
    );
    assert!(
        denied.json.get("error").is_some(),
        "no JSON error: {}",
        denied.text
    );
    // Reads stay open.
    let read = m.get("/cluster").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read.status, 200);
    assert_eq!(read.json["paused"], json!(false));
    // The CLI with the token pauses and resumes; without it, exit 1.
    let cli = rustydb_tests::rustydb_bin().with_file_name("rustydb-cli");
    let api = format!("http://127.0.0.1:{}", c.managers[1].api_port);
    let run = |args: &[&str]| {
        std::process::Command::new(&cli)
            .arg("--api")
            .arg(&api)
            .args(args)
            .env_remove("RUSTYDB_TOKEN")
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", cli.display()))
    };
    assert_eq!(run(&["pause"]).status.code(), Some(1));
    let paused = run(&["--token", "s3cret", "pause"]);
    assert!(
        paused.status.success(),
        "{}",
        String::from_utf8_lossy(&paused.stderr)
    );
    let view = wait_until("paused in /cluster", FAILOVER_BOUND, || {
        let v = m.get_json("/cluster")?;
        if v["paused"] == json!(true) {
            Ok(v)
        } else {
            Err(format!("{v}"))
        }
    });
    assert!(view.is_ok(), "{view:?}");
    let table = run(&["cluster", "status"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("Maintenance mode: on"));
    let resumed = run(&["--token", "s3cret", "resume"]);
    assert!(
        resumed.status.success(),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
}
