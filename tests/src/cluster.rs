//! A small replication-cluster harness: `rustydb node` processes started
//! as primaries or replicas on loopback, their admin HTTP API, bounded
//! waits, and per-table checksums.
//!
//! ```text
//!   ClusterNode::primary("p", &["--commit-mode", "sync"])      admin API on a free port
//!   ClusterNode::replica("r1", &p, &[])    ──► --follow 127.0.0.1:<p's pgwire port>
//!        │
//!        ├─ admin(): GET /status, POST /promote ... (ureq, JSON via serde_json)
//!        ├─ connect(): SqlClient (pgwire)
//!        └─ kill9() / restart() / restart_with(args)   same data dir, same ports
//!
//!   wait_until(what, bound, probe)      polls until probe() is Some, or fails
//!   wait_caught_up(primary, replicas)   every replica's LSN == the primary's
//!   table_checksums(client, tables)     row count + order-independent hash
//! ```
//!
//! Invariants:
//! - Every wait has a bound and reports what it last saw, plus the log tails
//!   of the nodes involved, so a stuck replica is a failed test with a
//!   diagnosis, never a hung CI run. Bounds are generous: the tests assert
//!   correctness (what converged), never speed.
//! - LSNs come from `GET /status` (`lsn_number`): on a primary the last
//!   durable commit, on a replica the last applied record. A node whose admin
//!   API does not answer is "not there yet", not an error, inside waits.
//! - A checksum is computed from all rows as text, sorted in Rust, so it
//!   depends neither on the engine's ORDER BY of mixed types nor on
//!   aggregate support (md5/string_agg), only on `SELECT *`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::client::{Outcome, SqlClient};
use crate::process::{log_tail, NodeServer};

/// Bound for a replica to reach its primary's LSN.
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

/// What one admin request answered.
#[derive(Debug, Clone)]
pub struct HttpReply {
    pub status: u16,
    /// The body parsed as JSON (`Value::Null` when it is not JSON).
    pub json: Value,
    pub text: String,
}

/// A blocking client for one node's admin HTTP API.
pub struct Admin {
    base: String,
    agent: ureq::Agent,
}

impl Admin {
    pub fn new(port: u16) -> Admin {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            // 409 from /promote is an answer, not a transport error.
            .http_status_as_error(false)
            .build();
        Admin {
            base: format!("http://127.0.0.1:{port}"),
            agent: ureq::Agent::new_with_config(config),
        }
    }

    pub fn get(&self, path: &str) -> Result<HttpReply, String> {
        let reply = self.agent.get(format!("{}{path}", self.base)).call();
        read_reply("GET", path, reply)
    }

    /// POST with a JSON body (`None`: empty body).
    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<HttpReply, String> {
        let url = format!("{}{path}", self.base);
        let reply = match body {
            Some(b) => self
                .agent
                .post(url)
                .header("Content-Type", "application/json")
                .send(b.to_string()),
            None => self.agent.post(url).send_empty(),
        };
        read_reply("POST", path, reply)
    }

    /// `GET path` that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Result<Value, String> {
        let r = self.get(path)?;
        if r.status != 200 {
            return Err(format!("GET {path}: HTTP {}: {}", r.status, r.text));
        }
        Ok(r.json)
    }
}

fn read_reply(
    method: &str,
    path: &str,
    reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<HttpReply, String> {
    let mut resp = reply.map_err(|e| format!("{method} {path}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {path}: reading body: {e}"))?;
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(HttpReply { status, json, text })
}

/// Parses PostgreSQL's `pg_lsn` text (`X/Y`, hex halves).
pub fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    Some((hi << 32) | lo)
}

/// One `rustydb node` of a test cluster, always with an admin API.
pub struct ClusterNode {
    server: NodeServer,
    name: String,
}

impl ClusterNode {
    /// Starts a node with `--node-name name` and `args`.
    pub fn start(name: &str, args: &[&str]) -> ClusterNode {
        let server = NodeServer::start_with_admin(&with_name(name, args));
        ClusterNode {
            server,
            name: name.to_string(),
        }
    }

    /// A primary (no `--follow`).
    pub fn primary(name: &str, args: &[&str]) -> ClusterNode {
        ClusterNode::start(name, args)
    }

    /// A replica following `upstream`'s pgwire address.
    pub fn replica(name: &str, upstream: &ClusterNode, args: &[&str]) -> ClusterNode {
        let follow = upstream.addr();
        let mut all = vec!["--follow", follow.as_str()];
        all.extend_from_slice(args);
        ClusterNode::start(name, &all)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The pgwire address others `--follow`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.server.port())
    }

    pub fn admin(&self) -> Admin {
        Admin::new(
            self.server
                .admin_port()
                .expect("cluster nodes have an admin port"),
        )
    }

    pub fn server(&mut self) -> &mut NodeServer {
        &mut self.server
    }

    pub fn try_connect(&self) -> Result<SqlClient, String> {
        SqlClient::connect(self.port(), "postgres")
    }

    /// Connects, panicking with the log tail on failure.
    pub fn connect(&self) -> SqlClient {
        self.try_connect().unwrap_or_else(|e| {
            panic!(
                "connect to {}: {e}\nlog tail:\n{}",
                self.name,
                self.log_tail(4000)
            )
        })
    }

    /// `GET /status`.
    pub fn status(&self) -> Result<Value, String> {
        self.admin().get_json("/status")
    }

    /// `lsn_number` from `GET /status`.
    pub fn lsn(&self) -> Result<u64, String> {
        let s = self.status()?;
        s.get("lsn_number")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{}: /status has no lsn_number: {s}", self.name))
    }

    /// A field of `GET /status` (Null when absent or unreachable).
    pub fn status_field(&self, key: &str) -> Value {
        self.status()
            .ok()
            .and_then(|s| s.get(key).cloned())
            .unwrap_or(Value::Null)
    }

    /// SIGKILL.
    pub fn kill9(&mut self) {
        self.server.kill9();
    }

    pub fn is_running(&mut self) -> bool {
        self.server.is_running()
    }

    /// Restarts with the same arguments, data dir and ports.
    pub fn restart(&mut self) {
        let name = self.name.clone();
        self.server
            .try_restart()
            .unwrap_or_else(|e| panic!("{name} did not restart: {e}"));
    }

    /// Restarts with new arguments (`--node-name` is kept).
    pub fn restart_with(&mut self, args: &[&str]) {
        self.server.set_args(with_name(&self.name, args));
        self.restart();
    }

    pub fn log_path(&self) -> PathBuf {
        self.server.log()
    }

    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.server.log(), n)
    }

    /// Current log length, to read only what a later phase logs.
    pub fn log_len(&self) -> usize {
        std::fs::read(self.server.log()).map_or(0, |b| b.len())
    }

    /// The log from byte `offset` on.
    pub fn log_since(&self, offset: usize) -> String {
        let bytes = std::fs::read(self.server.log()).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(offset..).unwrap_or_default()).into_owned()
    }

    /// Contents of `DATA/DATABASE` (names the live `db-N`), if present.
    pub fn database_pointer(&self) -> Option<String> {
        std::fs::read_to_string(self.server.data_dir().join("DATABASE"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// Failure context: name and log tail.
    pub fn describe(&self) -> String {
        format!(
            "--- {} (port {}) log tail:\n{}",
            self.name,
            self.port(),
            self.log_tail(3000)
        )
    }
}

fn with_name(name: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec!["--node-name".to_string(), name.to_string()];
    v.extend(args.iter().map(|a| a.to_string()));
    v
}

/// Log tails of several nodes, for failure messages.
pub fn describe_all(nodes: &[&ClusterNode]) -> String {
    nodes
        .iter()
        .map(|n| n.describe())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls `probe` every 100 ms until it returns `Ok(value)`, or fails after
/// `bound` with the last `Err` it reported.
pub fn wait_until<T>(
    what: &str,
    bound: Duration,
    mut probe: impl FnMut() -> Result<T, String>,
) -> Result<T, String> {
    let deadline = Instant::now() + bound;
    loop {
        match probe() {
            Ok(v) => return Ok(v),
            Err(last) if Instant::now() >= deadline => {
                return Err(format!(
                    "{what}: not reached within {bound:?}; last: {last}"
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Waits until every replica's LSN equals the primary's (which must not
/// move meanwhile: call it after the load stopped). Returns that LSN.
pub fn wait_caught_up(primary: &ClusterNode, replicas: &[&ClusterNode]) -> u64 {
    let r = wait_until("replicas caught up", CATCH_UP_TIMEOUT, || {
        let target = primary.lsn()?;
        for r in replicas {
            let got = r.lsn()?;
            if got != target {
                return Err(format!(
                    "{} at {got}, {} at {target}",
                    r.name(),
                    primary.name()
                ));
            }
        }
        Ok(target)
    });
    match r {
        Ok(lsn) => lsn,
        Err(e) => {
            let mut all = vec![primary];
            all.extend_from_slice(replicas);
            panic!("{e}\n{}", describe_all(&all))
        }
    }
}

/// Waits until the primary lists `n` replicas in `GET /replication` whose
/// state is `streaming`, so sync commits have someone to wait for.
pub fn wait_streaming(primary: &ClusterNode, n: usize) {
    let r = wait_until("replicas streaming", CATCH_UP_TIMEOUT, || {
        let rep = primary.admin().get_json("/replication")?;
        let streaming = rep
            .get("replicas")
            .and_then(Value::as_array)
            .map_or(0, |rs| {
                rs.iter()
                    .filter(|r| r.get("state").and_then(Value::as_str) == Some("streaming"))
                    .count()
            });
        if streaming >= n {
            Ok(())
        } else {
            Err(format!("{streaming} streaming: {rep}"))
        }
    });
    if let Err(e) = r {
        panic!("{e}\n{}", primary.describe());
    }
}

/// Row count and an order-independent hash of one table's rows (as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableChecksum {
    pub table: String,
    pub rows: usize,
    pub hash: u64,
}

/// Checksums of `tables`, in that order. Rows are fetched as text,
/// sorted, and hashed with a fixed-key hasher (same process, same result).
pub fn table_checksums(
    client: &mut SqlClient,
    tables: &[&str],
) -> Result<Vec<TableChecksum>, String> {
    tables
        .iter()
        .map(|t| {
            let out = client.simple(&format!("SELECT * FROM {t}"));
            let Outcome::Ok { rows, .. } = out else {
                return Err(format!("SELECT * FROM {t}: {out}"));
            };
            let mut rows = rows;
            rows.sort();
            let mut h = DefaultHasher::new();
            rows.hash(&mut h);
            Ok(TableChecksum {
                table: t.to_string(),
                rows: rows.len(),
                hash: h.finish(),
            })
        })
        .collect()
}

/// The single text value of a query, or the outcome as an error.
pub fn query_scalar(client: &mut SqlClient, sql: &str) -> Result<Option<String>, String> {
    match client.simple(sql) {
        Outcome::Ok { rows, .. } => Ok(rows.first().and_then(|r| r.first()).cloned().flatten()),
        other => Err(format!("{sql}: {other}")),
    }
}

/// `pg_is_in_recovery()` on a node.
pub fn in_recovery(client: &mut SqlClient) -> Result<bool, String> {
    match query_scalar(client, "SELECT pg_is_in_recovery()")?.as_deref() {
        Some("t") => Ok(true),
        Some("f") => Ok(false),
        other => Err(format!("pg_is_in_recovery() = {other:?}")),
    }
}

/// Runs `pgbench` against `port` as `postgres` (3 minute bound).
pub fn pgbench(port: u16, args: &[&str], scratch: &std::path::Path) -> crate::tools::RunOutput {
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
        .args(args)
        .arg("postgres");
    crate::tools::run_bounded(cmd, Duration::from_secs(180), scratch)
}

/// The tables `pgbench -i` creates.
pub const PGBENCH_TABLES: [&str; 4] = [
    "pgbench_accounts",
    "pgbench_branches",
    "pgbench_tellers",
    "pgbench_history",
];

/// Checks that every node holds the same rows in `tables` while all sit at
/// LSN `lsn` (read before and after the checksums, so no node moved).
pub fn assert_same_content(nodes: &[&ClusterNode], tables: &[&str], lsn: u64) {
    let mut first: Option<(String, Vec<TableChecksum>)> = None;
    for n in nodes {
        let fail = |what: String| -> ! { panic!("{what}\n{}", describe_all(nodes)) };
        let before = n.lsn().unwrap_or_else(|e| fail(e));
        let mut c = n.connect();
        let sums =
            table_checksums(&mut c, tables).unwrap_or_else(|e| fail(format!("{}: {e}", n.name())));
        let after = n.lsn().unwrap_or_else(|e| fail(e));
        if before != lsn || after != lsn {
            fail(format!(
                "{} moved during the checksum: expected LSN {lsn}, saw {before} then {after}",
                n.name()
            ));
        }
        println!("{} at LSN {lsn}: {sums:?}", n.name());
        match &first {
            None => first = Some((n.name().to_string(), sums)),
            Some((name, expected)) => {
                if &sums != expected {
                    fail(format!(
                        "content differs at LSN {lsn}:\n  {name}: {expected:?}\n  {}: {sums:?}",
                        n.name()
                    ));
                }
            }
        }
    }
}
