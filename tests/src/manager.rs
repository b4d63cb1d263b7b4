//! A manager harness: three `rustydb node` processes (the [`ClusterNode`]
//! harness) and three `rustydb manager` members on loopback, configured by
//! generated `manager.toml` files in the shape of the manager spec.
//!
//! ```text
//!   ManagedCluster::start("sync")
//!     n1 primary (--commit-mode sync), n2, n3 --follow n1     (ClusterNode)
//!     m1..m3  rustydb manager --config <tmp>/mK/manager.toml   (ManagerProc)
//!             [[nodes]] = n1..n3 (pgwire; admin through a Relay per node,
//!             so `relays[i].cut()` isolates node i from the managers), no [supervise]:
//!             the test owns the node processes, so it can kill -9,
//!             SIGSTOP and restart them itself.
//!     waits until GET /cluster names a leader node and a leader member
//! ```
//!
//! Invariants:
//! - The nodes are not supervised: a killed node stays down until the test
//!   restarts it, with its original arguments (the managers must re-point a
//!   restarted former primary; the harness never does it for them).
//! - Every wait is bounded and its failure carries the managers' and nodes'
//!   log tails. A manager that does not answer is "not there yet" inside
//!   waits, like a node.
//! - The cluster view is read from any member that answers (the spec: any
//!   member answers `GET /cluster`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::cluster::{describe_all, wait_streaming, wait_until, Admin, ClusterNode, HttpReply};
use crate::process::{free_port, log_tail, rustydb_bin};
use crate::relay::Relay;

/// Bound for the managers to agree on a leader and a primary.
pub const ELECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// One `rustydb manager` process.
pub struct ManagerProc {
    pub id: u64,
    pub api_port: u16,
    pub raft_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl ManagerProc {
    fn config_path(&self) -> PathBuf {
        self.dir.join("manager.toml")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("manager.log")
    }

    pub fn name(&self) -> String {
        format!("m{}", self.id)
    }

    pub fn api(&self) -> Admin {
        Admin::new(self.api_port)
    }

    /// Starts (or restarts) the process on the same config and data.
    pub fn start(&mut self) {
        self.kill9();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open manager log");
        let log2 = log.try_clone().expect("clone log");
        let child = Command::new(rustydb_bin())
            .arg("manager")
            .arg("--config")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn rustydb manager: {e}"));
        self.child = Some(child);
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    pub fn describe(&self) -> String {
        format!(
            "--- manager {} (api {}) log tail:\n{}",
            self.name(),
            self.api_port,
            log_tail(&self.log(), 3000)
        )
    }
}

impl Drop for ManagerProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Three nodes and three manager members.
pub struct ManagedCluster {
    pub nodes: Vec<ClusterNode>,
    pub managers: Vec<ManagerProc>,
    /// Per node (same order): the relay the managers reach its admin API
    /// through, so a test can cut the node off from them.
    pub relays: Vec<Relay>,
    _dir: TempDir,
}

impl ManagedCluster {
    /// Starts n1 (primary, `--commit-mode mode`), n2 and n3 following it,
    /// creates `table_sql` on the primary, then three managers with
    /// `lease_ttl_ms` and default detector settings.
    pub fn start(mode: &str, table_sql: &str) -> ManagedCluster {
        ManagedCluster::start_with_token(mode, table_sql, "")
    }

    /// Like [`ManagedCluster::start`], with `api_token` set on every member
    /// (mutations then need `Authorization: Bearer <token>`).
    pub fn start_with_token(mode: &str, table_sql: &str, token: &str) -> ManagedCluster {
        ManagedCluster::start_configured(mode, table_sql, token, "")
    }

    /// Like [`ManagedCluster::start_with_token`], with `extra_toml` (whole
    /// sections, e.g. `[backup]`) appended to every member's config.
    pub fn start_configured(
        mode: &str,
        table_sql: &str,
        token: &str,
        extra_toml: &str,
    ) -> ManagedCluster {
        let n1 = ClusterNode::primary("n1", &["--commit-mode", mode]);
        let n2 = ClusterNode::replica("n2", &n1, &[]);
        let n3 = ClusterNode::replica("n3", &n1, &[]);
        // After the replicas stream: a sync primary confirms nothing alone.
        wait_streaming(&n1, 2);
        n1.connect().must(table_sql);
        let nodes = vec![n1, n2, n3];
        let relays: Vec<Relay> = nodes
            .iter()
            .map(|n| Relay::start(&format!("127.0.0.1:{}", n.admin_port())))
            .collect();
        let dir = tempfile::Builder::new()
            .prefix("rdb-mgr-")
            .tempdir()
            .expect("tempdir");
        let mut managers: Vec<ManagerProc> = (1..=3)
            .map(|id| ManagerProc {
                id,
                api_port: free_port(),
                raft_port: free_port(),
                dir: dir.path().join(format!("m{id}")),
                child: None,
            })
            .collect();
        for m in &managers {
            std::fs::create_dir_all(&m.dir).expect("manager dir");
            let mut text = manager_toml(m, &managers, &nodes, &relays, mode, token);
            text.push_str(extra_toml);
            std::fs::write(m.config_path(), text).expect("write manager.toml");
        }
        for m in &mut managers {
            m.start();
        }
        let mut cluster = ManagedCluster {
            nodes,
            managers,
            relays,
            _dir: dir,
        };
        // Like `wait_primary`, but a member that exits (bad config, no
        // `manager` subcommand) fails at once with its log.
        let deadline = std::time::Instant::now() + ELECTION_TIMEOUT;
        loop {
            for m in cluster.managers.iter_mut() {
                if !m.is_running() {
                    panic!("manager {} exited:\n{}", m.name(), m.describe());
                }
            }
            match cluster.wait_primary(|_| true, Duration::from_millis(200)) {
                Ok(_) => break,
                Err(e) if std::time::Instant::now() >= deadline => panic!(
                    "managers never reported a primary: {e}\n{}",
                    cluster.describe()
                ),
                Err(_) => {}
            }
        }
        cluster
    }

    /// `GET /cluster` from the first member that answers 200.
    pub fn cluster(&self) -> Result<Value, String> {
        let mut last = String::from("no manager configured");
        for m in &self.managers {
            match m.api().get("/cluster") {
                Ok(r) if r.status == 200 => return Ok(r.json),
                Ok(r) => last = format!("{}: {} {}", m.name(), r.status, r.text),
                Err(e) => last = format!("{}: {e}", m.name()),
            }
        }
        Err(last)
    }

    /// The node `GET /cluster` reports with role `leader`.
    pub fn primary_name(&self) -> Result<String, String> {
        let c = self.cluster()?;
        c.get("members")
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("leader"))
            })
            .and_then(|m| m.get("name").and_then(Value::as_str))
            .map(str::to_string)
            .ok_or_else(|| format!("no leader member in {c}"))
    }

    /// Cuts the managers off from node `name` (its clients and replicas
    /// still reach it).
    pub fn isolate(&self, name: &str) {
        if let Some(i) = self.nodes.iter().position(|n| n.name() == name) {
            self.relays[i].cut();
        }
    }

    /// Undoes [`ManagedCluster::isolate`].
    pub fn heal(&self, name: &str) {
        if let Some(i) = self.nodes.iter().position(|n| n.name() == name) {
            self.relays[i].heal();
        }
    }

    /// Index (into `managers`) of the member `GET /cluster` calls leader.
    pub fn manager_leader(&self) -> Result<usize, String> {
        let c = self.cluster()?;
        let id = c
            .get("managers")
            .and_then(Value::as_array)
            .and_then(|ms| {
                ms.iter()
                    .find(|m| m.get("role").and_then(Value::as_str) == Some("leader"))
            })
            .and_then(|m| m.get("id").and_then(Value::as_u64))
            .ok_or_else(|| format!("no leader manager in {c}"))?;
        self.managers
            .iter()
            .position(|m| m.id == id)
            .ok_or_else(|| format!("leader id {id} is not a known member"))
    }

    /// Waits until a primary satisfying `accept` is reported *and* its own
    /// `/status` says it is a read-write primary.
    pub fn wait_primary(
        &self,
        accept: impl Fn(&str) -> bool,
        bound: Duration,
    ) -> Result<String, String> {
        wait_until("a primary reported by the managers", bound, || {
            let name = self.primary_name()?;
            if !accept(&name) {
                return Err(format!("primary is still {name}"));
            }
            let node = self.node(&name)?;
            let st = node.status()?;
            match st.get("role").and_then(Value::as_str) {
                Some("primary") => Ok(name),
                other => Err(format!("{name} reports role {other:?}")),
            }
        })
    }

    pub fn node(&self, name: &str) -> Result<&ClusterNode, String> {
        self.nodes
            .iter()
            .find(|n| n.name() == name)
            .ok_or_else(|| format!("unknown node {name}"))
    }

    pub fn node_mut(&mut self, name: &str) -> &mut ClusterNode {
        self.nodes
            .iter_mut()
            .find(|n| n.name() == name)
            .unwrap_or_else(|| panic!("unknown node {name}"))
    }

    /// Waits until `name` is a replica streaming from `primary`.
    pub fn wait_replica_of(
        &self,
        name: &str,
        primary: &str,
        bound: Duration,
    ) -> Result<(), String> {
        let upstream = self.node(primary)?.addr();
        wait_until(&format!("{name} replicating from {primary}"), bound, || {
            let st = self.node(name)?.status()?;
            let role = st.get("role").and_then(Value::as_str);
            let up = st.get("upstream").and_then(Value::as_str).unwrap_or("");
            let stream = st.get("stream_state").and_then(Value::as_str);
            if role == Some("replica") && up.contains(&upstream) && stream == Some("streaming") {
                Ok(())
            } else {
                Err(format!("{name} status: {st}"))
            }
        })
    }

    /// POST to the API of member `idx` (the service forwards to the leader).
    pub fn post(&self, idx: usize, path: &str, body: &Value) -> Result<HttpReply, String> {
        let m = self
            .managers
            .get(idx)
            .ok_or_else(|| format!("no manager {idx}"))?;
        m.api().post(path, Some(body))
    }

    /// Log tails of every node and manager.
    pub fn describe(&self) -> String {
        let nodes: Vec<&ClusterNode> = self.nodes.iter().collect();
        let mut s = describe_all(&nodes);
        for m in &self.managers {
            s.push('\n');
            s.push_str(&m.describe());
        }
        s
    }
}

/// SIGSTOP / SIGCONT a process (`kill -STOP pid`).
pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("kill -{sig} {pid}: {e}"));
    assert!(status.success(), "kill -{sig} {pid} failed");
}

fn manager_toml(
    me: &ManagerProc,
    all: &[ManagerProc],
    nodes: &[ClusterNode],
    relays: &[Relay],
    mode: &str,
    token: &str,
) -> String {
    let mut s = String::new();
    let dir: &Path = &me.dir;
    s.push_str(&format!(
        "id = {}\nname = {}\napi_listen = \"127.0.0.1:{}\"\nraft_listen = \"127.0.0.1:{}\"\n\
         data_dir = {}\ndatacenter = \"dc1\"\napi_token = {}\n",
        me.id,
        json!(me.name()),
        me.api_port,
        me.raft_port,
        json!(dir.join("data").to_string_lossy()),
        json!(token),
    ));
    for m in all {
        s.push_str(&format!(
            "[[members]]\nid = {}\nraft = \"127.0.0.1:{}\"\napi = \"http://127.0.0.1:{}\"\n",
            m.id, m.raft_port, m.api_port
        ));
    }
    for (n, relay) in nodes.iter().zip(relays) {
        let admin = relay.addr();
        s.push_str(&format!(
            "[[nodes]]\nname = {}\npgwire = \"{}\"\nadmin = \"{admin}\"\n\
             datacenter = \"dc1\"\nnofailover = false\nfailover_priority = 0\n",
            json!(n.name()),
            n.addr(),
        ));
    }
    s.push_str(&format!(
        "[cluster]\nreplication_mode = {}\nnum_sync_replicas = 1\n\
         maximum_lag_on_failover = 1048576\nlease_ttl_ms = 1000\nheartbeat_ms = 100\n\
         failure_threshold = 8.0\n",
        json!(mode)
    ));
    s
}
