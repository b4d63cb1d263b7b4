//! `rustydb up --nodes N`: a local multi-node playground.
//!
//! Layout under `--data-dir` (default `.rustydb`), ports from the design:
//!
//! ```text
//!   nK  node      pgwire --port+K-1 (5433..), admin 8433+K-1, data <dir>/nK, log <dir>/logs/nK.log
//!   mK  manager   API 8008+K-1, raft 9008+K-1, <dir>/mK/manager.toml, supervises nK
//!   proxy         pgwire --proxy-port (6432), /metrics --proxy-admin-port (6480),
//!                 log <dir>/logs/proxy.log
//! ```
//!
//! The proxy (`rustydb proxy`) is the address users connect to: in the
//! managed shape with three or more nodes it follows the managers'
//! `GET /topology` (`--manager` every member's API URL), so it moves to a
//! new primary after a failover; otherwise (a single node, or no manager
//! subcommand) it runs in static mode (`--backends` every node) and detects
//! roles itself. `--proxy-port 0` runs no proxy.
//!
//! Two shapes, chosen at start:
//! - **managed** (the binary has the `manager` subcommand): min(N, 3)
//!   manager members, member K supervising node K; nodes beyond the third
//!   run as plain replica processes. The managers decide who is primary; the psql line names the
//!   primary that `GET /cluster` reports.
//! - **plain** (no manager yet): node processes only, n1 the primary and the
//!   others replicas following it in the chosen commit mode. No failover.
//!
//! Every child is this same executable (`rustydb node`, `rustydb manager`)
//! with its output in `<dir>/logs/`. Ctrl-C (which the terminal also
//! delivers to the children, same process group) or SIGTERM stops them:
//! each gets SIGTERM, then a bounded wait, then SIGKILL. Running again
//! reuses the data: configs are regenerated, data directories kept. Every
//! node but the primary starts with `--follow` the primary (a node started
//! without it comes up read-write): n1 in the plain shape; in the managed
//! shape the primary `GET /cluster` reported when the playground last
//! stopped (`<dir>/primary`), so a playground that failed over keeps its new
//! primary across restarts, and the managers correct anything stale.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::{Child, Command};

use crate::cli::UpArgs;

mod geo;
mod proxy;
use proxy::{proxy_args, wait_proxy};
pub(crate) use proxy::{single_node_banner, single_node_proxy, stop_proxy};

const ADMIN_PORT: u16 = 8433;
const API_PORT: u16 = 8008;
const RAFT_PORT: u16 = 9008;
/// Manager members the playground runs (the issue's "three members").
const MANAGERS: usize = 3;
/// How long children get to stop on SIGTERM before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(15);

pub(crate) struct Running {
    name: String,
    child: Child,
    /// Its unexpected exit was already reported (report once).
    reported: bool,
}

/// Runs the playground until Ctrl-C / SIGTERM.
pub async fn up(args: UpArgs) -> Result<(), String> {
    if args.geo {
        return geo::up(args).await;
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my executable: {e}"))?;
    let dir = args.data_dir.clone();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
    let (cert, key) = crate::tls::playground_cert(&dir)?;
    let mode = args.replication.as_str();
    let managed = has_manager(&exe).await;
    let n = usize::from(args.nodes);
    let nodes: Vec<NodeSpec> = (0..n).map(|i| NodeSpec::new(&dir, i, args.port)).collect();
    let mut children = Vec::new();
    let result = async {
        let primary = if managed {
            last_primary(&dir, &nodes)
        } else {
            0
        };
        for (i, node) in nodes.iter().enumerate() {
            let toml_path = dir.join(format!("{}.toml", node.name));
            write_file(&toml_path, &node_toml(&cert, &key)?)?;
            let mut node_args = node.args(&toml_path);
            if i != primary {
                node_args.extend(["--follow".into(), nodes[primary].pgwire()]);
            } else if !managed {
                node_args.extend(["--commit-mode".into(), mode.to_string()]);
            }
            if managed && i < MANAGERS {
                let m = i + 1;
                let mdir = dir.join(format!("m{m}"));
                std::fs::create_dir_all(&mdir)
                    .map_err(|e| format!("cannot create {}: {e}", mdir.display()))?;
                let config = manager_toml(m, &mdir, &nodes, node, node_args, mode, n)?;
                let path = mdir.join("manager.toml");
                write_file(&path, &config)?;
                let margs = vec!["manager".to_string(), "--config".into(), path_str(&path)];
                children.push(spawn(&exe, &format!("m{m}"), &margs, &logs)?);
            } else {
                let mut full = vec!["node".to_string()];
                full.extend(node_args);
                children.push(spawn(&exe, &node.name, &full, &logs)?);
            }
        }
        let proxy = match args.proxy_port {
            0 => None,
            port => {
                let pargs = proxy_args(managed, &nodes, port, args.proxy_admin_port);
                children.push(spawn(&exe, "proxy", &pargs, &logs)?);
                Some(children.len() - 1)
            }
        };
        let primary_port = if managed {
            wait_primary_port().await
        } else {
            Some(nodes[0].port)
        };
        let proxy_ports = match proxy {
            Some(i) => wait_proxy(&mut children[i], args.proxy_port)
                .await
                .then_some((args.proxy_port, args.proxy_admin_port)),
            None => None,
        };
        let shape = Shape {
            managed,
            primary: primary_port,
            proxy: proxy_ports,
            proxy_wanted: proxy.is_some(),
        };
        banner(&dir, &shape, n, mode, &cli_path(&exe));
        wait_or_child_exit(&mut children, managed.then_some(dir.as_path())).await;
        Ok::<(), String>(())
    }
    .await;
    println!("Stopping RustyDB...");
    stop_all(&mut children).await;
    println!("Stopped.");
    result
}

/// File naming the primary when the managed playground last stopped.
const PRIMARY_FILE: &str = "primary";

/// Index of the node that was primary when the playground last stopped
/// (the first node on a fresh start or when unknown).
fn last_primary(dir: &Path, nodes: &[NodeSpec]) -> usize {
    std::fs::read_to_string(dir.join(PRIMARY_FILE))
        .ok()
        .and_then(|name| nodes.iter().position(|n| n.name == name.trim()))
        .unwrap_or(0)
}

/// Records the current primary so the next start points replicas at it
/// (a node restarted without `--follow` would come up read-write).
async fn remember_primary(dir: &Path) {
    let name = tokio::task::spawn_blocking(|| {
        let client = rustydb_manager::cli_client::ApiClient::new(
            &format!("http://127.0.0.1:{API_PORT}"),
            None,
        );
        let reply = client.get("/cluster").ok()?;
        reply
            .body
            .get("members")?
            .as_array()?
            .iter()
            .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("leader"))
            .and_then(|m| m.get("name")?.as_str().map(str::to_string))
    })
    .await
    .ok()
    .flatten();
    let path = dir.join(PRIMARY_FILE);
    if let Some(name) = name {
        if std::fs::read_to_string(&path).ok().as_deref() != Some(name.as_str()) {
            let _ = std::fs::write(path, name);
        }
    }
}

/// True when this executable has the `rustydb manager` subcommand.
async fn has_manager(exe: &Path) -> bool {
    Command::new(exe)
        .args(["manager", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .map(|s| s.success())
        .unwrap_or(false)
}

struct NodeSpec {
    name: String,
    port: u16,
    admin: u16,
    data: PathBuf,
}

impl NodeSpec {
    fn new(dir: &Path, i: usize, base_port: u16) -> NodeSpec {
        let name = format!("n{}", i + 1);
        let off = u16::try_from(i).unwrap_or(0);
        NodeSpec {
            data: dir.join(&name),
            name,
            port: base_port.saturating_add(off),
            admin: ADMIN_PORT + off,
        }
    }

    fn pgwire(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `rustydb node` arguments (after the subcommand).
    fn args(&self, config: &Path) -> Vec<String> {
        vec![
            "--config".into(),
            path_str(config),
            "--data-dir".into(),
            path_str(&self.data),
            "--listen".into(),
            self.pgwire(),
            "--admin-listen".into(),
            format!("127.0.0.1:{}", self.admin),
            "--node-name".into(),
            self.name.clone(),
        ]
    }
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[derive(Serialize)]
struct NodeToml {
    tls_cert: String,
    tls_key: String,
}

fn node_toml(cert: &Path, key: &Path) -> Result<String, String> {
    toml::to_string(&NodeToml {
        tls_cert: path_str(&absolute(cert)),
        tls_key: path_str(&absolute(key)),
    })
    .map_err(|e| e.to_string())
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `manager.toml` in the shape of the manager spec.
#[derive(Serialize)]
struct ManagerToml {
    id: u64,
    name: String,
    api_listen: String,
    raft_listen: String,
    data_dir: String,
    datacenter: String,
    api_token: String,
    members: Vec<MemberToml>,
    nodes: Vec<NodeEntry>,
    supervise: Supervise,
    cluster: ClusterToml,
}

#[derive(Serialize)]
struct MemberToml {
    id: u64,
    raft: String,
    api: String,
}

#[derive(Serialize)]
struct NodeEntry {
    name: String,
    pgwire: String,
    admin: String,
    datacenter: String,
    nofailover: bool,
    failover_priority: i64,
}

#[derive(Serialize)]
struct Supervise {
    node: String,
    args: Vec<String>,
}

#[derive(Serialize)]
struct ClusterToml {
    replication_mode: String,
    num_sync_replicas: u64,
    maximum_lag_on_failover: u64,
    lease_ttl_ms: u64,
    heartbeat_ms: u64,
    failure_threshold: f64,
}

fn manager_toml(
    m: usize,
    mdir: &Path,
    nodes: &[NodeSpec],
    node: &NodeSpec,
    node_args: Vec<String>,
    mode: &str,
    n_nodes: usize,
) -> Result<String, String> {
    let members = (0..MANAGERS.min(n_nodes))
        .map(|i| {
            let off = u16::try_from(i).unwrap_or(0);
            MemberToml {
                id: i as u64 + 1,
                raft: format!("127.0.0.1:{}", RAFT_PORT + off),
                api: format!("http://127.0.0.1:{}", API_PORT + off),
            }
        })
        .collect();
    let off = u16::try_from(m - 1).unwrap_or(0);
    let config = ManagerToml {
        id: m as u64,
        name: format!("m{m}"),
        api_listen: format!("127.0.0.1:{}", API_PORT + off),
        raft_listen: format!("127.0.0.1:{}", RAFT_PORT + off),
        data_dir: path_str(mdir),
        datacenter: "dc1".into(),
        api_token: String::new(),
        members,
        nodes: nodes
            .iter()
            .map(|n| NodeEntry {
                name: n.name.clone(),
                pgwire: n.pgwire(),
                admin: format!("127.0.0.1:{}", n.admin),
                datacenter: "dc1".into(),
                nofailover: false,
                failover_priority: 0,
            })
            .collect(),
        supervise: Supervise {
            node: node.name.clone(),
            args: node_args,
        },
        cluster: ClusterToml {
            replication_mode: mode.into(),
            num_sync_replicas: 1,
            maximum_lag_on_failover: 1_048_576,
            lease_ttl_ms: 700,
            heartbeat_ms: 100,
            failure_threshold: 8.0,
        },
    };
    toml::to_string(&config).map_err(|e| e.to_string())
}

fn spawn(exe: &Path, name: &str, args: &[String], logs: &Path) -> Result<Running, String> {
    let log_path = logs.join(format!("{name}.log"));
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let err = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    tracing::debug!(name, "started");
    Ok(Running {
        name: name.to_string(),
        child,
        reported: false,
    })
}

/// Asks `GET /cluster` on the first member until a leader node shows up.
async fn wait_primary_port() -> Option<u16> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let found = tokio::task::spawn_blocking(|| {
            let client = rustydb_manager::cli_client::ApiClient::new(
                &format!("http://127.0.0.1:{API_PORT}"),
                None,
            );
            let reply = client.get("/cluster").ok()?;
            let members = reply.body.get("members")?.as_array()?.clone();
            members
                .iter()
                .find(|m| m.get("role").and_then(|r| r.as_str()) == Some("leader"))
                .and_then(|m| m.get("port")?.as_u64())
                .and_then(|p| u16::try_from(p).ok())
        })
        .await
        .ok()
        .flatten();
        if found.is_some() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    None
}

/// How to invoke `rustydb-cli`: its full path when it sits next to this
/// executable (a cargo build), else the bare name (installed in PATH).
fn cli_path(exe: &Path) -> String {
    let sibling = exe.with_file_name("rustydb-cli");
    if sibling.is_file() {
        path_str(&sibling)
    } else {
        "rustydb-cli".to_string()
    }
}

/// What the banner reports.
struct Shape {
    managed: bool,
    /// pgwire port of the primary node, when known.
    primary: Option<u16>,
    /// (pgwire, metrics) ports of a proxy that is accepting connections.
    proxy: Option<(u16, u16)>,
    /// A proxy was started (whether or not it came up).
    proxy_wanted: bool,
}

fn banner(dir: &Path, shape: &Shape, n: usize, mode: &str, cli: &str) {
    println!(
        "RustyDB is up: {n} nodes, {mode} replication (data and logs in {}).",
        dir.display()
    );
    if let Some((port, admin)) = shape.proxy {
        println!("Connect (through the proxy: writes to the primary, reads balanced) with:");
        println!();
        println!("    psql -h 127.0.0.1 -p {port} -U postgres postgres");
        println!();
        println!(
            "Proxy console: psql -h 127.0.0.1 -p {port} -U postgres rustydb -c 'SHOW BACKENDS'"
        );
        println!("Proxy metrics: http://127.0.0.1:{admin}/metrics");
    } else if shape.proxy_wanted {
        println!(
            "The proxy did not start; see {}/logs/proxy.log.",
            dir.display()
        );
    }
    match (shape.primary, shape.proxy.is_some()) {
        (Some(port), true) => {
            println!("The primary node directly: psql -h 127.0.0.1 -p {port} -U postgres postgres");
        }
        (Some(port), false) => {
            println!("Connect to the primary with:");
            println!();
            println!("    psql -h 127.0.0.1 -p {port} -U postgres postgres");
        }
        (None, _) => println!(
            "No primary reported yet by the managers; see {}/logs and `rustydb-cli cluster status`.",
            dir.display()
        ),
    }
    println!();
    if shape.managed {
        println!("Manager API: http://127.0.0.1:{API_PORT}");
        println!("Cluster status:  {cli} --api http://127.0.0.1:{API_PORT} cluster status");
    } else {
        println!(
            "(this build has no manager: n1 is the primary, the others replicate; no failover)"
        );
    }
    println!();
    println!("Press Ctrl-C to stop.");
}

/// Waits for Ctrl-C / SIGTERM, or reports a child that died on its own.
/// With `remember` (managed shape), also records the current primary every
/// two seconds: at Ctrl-C the managers stop together with us (same process
/// group), too late to ask them then.
async fn wait_or_child_exit(children: &mut [Running], remember: Option<&Path>) {
    let signal = crate::run::wait_for_signal();
    tokio::pin!(signal);
    let mut tick = 0u64;
    loop {
        tokio::select! {
            _ = &mut signal => return,
            _ = tokio::time::sleep(Duration::from_millis(500)) => {
                tick += 1;
                if let (Some(dir), 0) = (remember, tick % 4) {
                    remember_primary(dir).await;
                }
                for c in children.iter_mut() {
                    if c.reported {
                        continue;
                    }
                    if let Ok(Some(status)) = c.child.try_wait() {
                        c.reported = true;
                        eprintln!("rustydb: {} exited ({status}); see its log", c.name);
                    }
                }
            }
        }
    }
}

/// SIGTERM to every child still running, bounded wait, then SIGKILL.
async fn stop_all(children: &mut [Running]) {
    for c in children.iter_mut() {
        if let (Ok(None), Some(pid)) = (c.child.try_wait(), c.child.id()) {
            let _ = Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status()
                .await;
        }
    }
    let deadline = Instant::now() + STOP_GRACE;
    for c in children.iter_mut() {
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, c.child.wait()).await.is_err() {
            eprintln!("rustydb: {} did not stop in time; killing it", c.name);
            let _ = c.child.kill().await;
        }
    }
}
