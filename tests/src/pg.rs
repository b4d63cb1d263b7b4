//! A PostgreSQL 15 streaming-replication cluster for proxy tests: one
//! primary made by `initdb` and N hot-standby replicas made by
//! `pg_basebackup -R`, all on loopback in one temp dir.
//!
//! ```text
//!   PgCluster::start(2)
//!     <tmp>/pg0   initdb -A trust -U postgres; wal_level=replica, max_wal_senders
//!     <tmp>/pg1   pg_basebackup -R -X stream from pg0; hot_standby=on
//!     <tmp>/pg2   same
//!     waits until pg0's pg_stat_replication lists 2 streaming replicas
//!   promote(i)  pg_ctl promote + wait until pg_is_in_recovery() is false
//!   follow(i,j) point replica i at node j (ALTER SYSTEM primary_conninfo + reload)
//!   stop/kill/start(i), wait_replayed(i): bounded
//!   Drop: pg_ctl stop -m immediate on every running node, temp dir removed
//! ```
//!
//! Every node runs with a custom setting `rustydb.node_name = pgK`, so
//! `SHOW rustydb.node_name` / `current_setting('rustydb.node_name')` name
//! the node that answered, exactly as on a RustyDB node (which sets the same
//! name); `inet_server_port()` names it too, PostgreSQL-only.
//!
//! Invariants:
//! - PostgreSQL refuses to run as root: its programs run as the `postgres`
//!   user through `runuser` (the helpers of [`crate::process`]), and the temp
//!   dir is handed to that user.
//! - Every wait is bounded and a failure carries the node logs.
//! - Durability is not under test here: `fsync=off` keeps start-up and
//!   base backups fast on a 2-core CI machine.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tempfile::TempDir;

use crate::client::SqlClient;
use crate::cluster::wait_until;
use crate::process::{free_port, hand_to_postgres_user, log_tail, pg_command};

/// Bound for start-up, streaming and replay waits.
pub const PG_WAIT: Duration = Duration::from_secs(60);

/// One PostgreSQL server of a [`PgCluster`].
pub struct PgNode {
    pub name: String,
    pub port: u16,
    data: PathBuf,
    log: PathBuf,
    socket_dir: PathBuf,
    /// `-c name=value` settings beyond the defaults, kept for restarts.
    extra: Vec<String>,
    running: bool,
}

impl PgNode {
    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn is_running(&self) -> bool {
        self.running
    }

    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }

    pub fn try_connect(&self) -> Result<SqlClient, String> {
        SqlClient::connect(self.port, "postgres")
    }

    /// Connects as `postgres` to db `postgres`, panicking with the log.
    pub fn connect(&self) -> SqlClient {
        self.try_connect()
            .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", self.name, self.log_tail(3000)))
    }

    fn options(&self) -> String {
        let mut o = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c timezone=UTC \
             -c lc_messages=C -c max_connections=300 -c wal_level=replica \
             -c max_wal_senders=10 -c max_replication_slots=10 -c hot_standby=on \
             -c wal_keep_size=128MB -c rustydb.node_name={} -c cluster_name={}",
            self.port,
            self.socket_dir.display(),
            self.name,
            self.name
        );
        for e in &self.extra {
            o.push_str(" -c ");
            o.push_str(e);
        }
        o
    }

    /// `pg_ctl start` and wait for a real connection (bounded).
    fn start(&mut self) -> Result<(), String> {
        let status = pg_command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-s"])
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-o", &self.options()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("run pg_ctl: {e}"))?;
        if !status.success() {
            return Err(format!(
                "pg_ctl start of {} failed:\n{}",
                self.name,
                self.log_tail(2000)
            ));
        }
        self.running = true;
        let port = self.port;
        wait_until(
            &format!("{} accepts connections", self.name),
            PG_WAIT,
            || {
                SqlClient::connect_with_timeout(port, "postgres", Duration::from_secs(2))
                    .map(|_| ())
            },
        )
        .map_err(|e| format!("{e}\n{}", self.log_tail(2000)))
    }

    fn stop_mode(&mut self, mode: &str) {
        if self.running {
            let _ = pg_command("pg_ctl")
                .args(["stop", "-m", mode, "-s", "-t", "60", "-D"])
                .arg(&self.data)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            self.running = false;
        }
    }
}

/// A primary and its streaming replicas.
pub struct PgCluster {
    pub nodes: Vec<PgNode>,
    dir: TempDir,
}

impl PgCluster {
    /// A primary (`pg0`) and `replicas` streaming hot standbys (`pg1`...).
    pub fn start(replicas: usize) -> PgCluster {
        PgCluster::start_with(replicas, &[], &[])
    }

    /// Like [`PgCluster::start`], with extra `name=value` settings for the
    /// primary and for every replica (e.g. `recovery_min_apply_delay=3s`).
    pub fn start_with(
        replicas: usize,
        primary_extra: &[&str],
        replica_extra: &[&str],
    ) -> PgCluster {
        let dir = tempfile::Builder::new()
            .prefix("rdb-pgc-")
            .tempdir()
            .expect("tempdir");
        hand_to_postgres_user(dir.path());
        let mut cluster = PgCluster {
            nodes: Vec::new(),
            dir,
        };
        let mut primary = cluster.new_node(0, primary_extra);
        let out = pg_command("initdb")
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .arg("-D")
            .arg(&primary.data)
            .output()
            .expect("run initdb (is PostgreSQL 15 in PATH?)");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        start_on_free_port(&mut primary);
        cluster.nodes.push(primary);
        for i in 1..=replicas {
            let mut r = cluster.new_node(i, replica_extra);
            cluster.base_backup(&r, 0);
            start_on_free_port(&mut r);
            cluster.nodes.push(r);
        }
        cluster.wait_streaming(0, replicas);
        cluster
    }

    fn new_node(&self, i: usize, extra: &[&str]) -> PgNode {
        PgNode {
            name: format!("pg{i}"),
            port: free_port(),
            data: self.dir.path().join(format!("pg{i}")),
            log: self.dir.path().join(format!("pg{i}.log")),
            socket_dir: self.dir.path().to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            running: false,
        }
    }

    /// `pg_basebackup -R` of node `from` into `node`'s data dir.
    fn base_backup(&self, node: &PgNode, from: usize) {
        let src = &self.nodes[from];
        let out = pg_command("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &src.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(&node.data)
            .args(["-R", "-X", "stream", "-c", "fast", "--no-sync"])
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .expect("run pg_basebackup");
        assert!(
            out.status.success(),
            "pg_basebackup from {} failed: {}\n{}",
            src.name,
            String::from_utf8_lossy(&out.stderr),
            src.log_tail(2000)
        );
    }

    pub fn primary(&self) -> &PgNode {
        &self.nodes[0]
    }

    pub fn node(&self, i: usize) -> &PgNode {
        &self.nodes[i]
    }

    /// `127.0.0.1:port` of every node, in order (a proxy's `backends`).
    pub fn addrs(&self) -> Vec<String> {
        self.nodes.iter().map(PgNode::addr).collect()
    }

    /// Waits until node `primary` lists `n` streaming replicas.
    pub fn wait_streaming(&self, primary: usize, n: usize) {
        let p = &self.nodes[primary];
        let r = wait_until(
            &format!("{n} replicas streaming from {}", p.name),
            PG_WAIT,
            || {
                let mut c = p.try_connect()?;
                let got = c
                    .simple("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                    .scalar()
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if got >= n {
                    Ok(())
                } else {
                    Err(format!("{got} streaming"))
                }
            },
        );
        if let Err(e) = r {
            panic!("{e}\n{}", self.describe());
        }
    }

    /// Waits until replica `i` has replayed everything node `primary` has
    /// written so far.
    pub fn wait_replayed(&self, i: usize, primary: usize) {
        let lsn = self.nodes[primary]
            .connect()
            .scalar("SELECT pg_current_wal_lsn()::text")
            .unwrap_or_default();
        let r = wait_until(
            &format!("{} replays {lsn}", self.nodes[i].name),
            PG_WAIT,
            || {
                let mut c = self.nodes[i].try_connect()?;
                let sql = format!("SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn");
                match c.simple(&sql).scalar() {
                    Some("t") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            },
        );
        if let Err(e) = r {
            panic!("{e}\n{}", self.describe());
        }
    }

    /// `pg_ctl promote` node `i` and wait until it accepts writes.
    pub fn promote(&mut self, i: usize) {
        let node = &self.nodes[i];
        let out = pg_command("pg_ctl")
            .args(["promote", "-w", "-t", "60", "-s", "-D"])
            .arg(&node.data)
            .output()
            .expect("run pg_ctl promote");
        assert!(
            out.status.success(),
            "pg_ctl promote {} failed: {}\n{}",
            node.name,
            String::from_utf8_lossy(&out.stderr),
            node.log_tail(2000)
        );
        let r = wait_until(&format!("{} promoted", node.name), PG_WAIT, || {
            match node
                .try_connect()?
                .simple("SELECT pg_is_in_recovery()")
                .scalar()
            {
                Some("f") => Ok(()),
                other => Err(format!("pg_is_in_recovery() = {other:?}")),
            }
        });
        if let Err(e) = r {
            panic!("{e}\n{}", self.describe());
        }
    }

    /// Points replica `i` at node `upstream` (PostgreSQL 15 reloads
    /// `primary_conninfo` without a restart; the timeline is followed
    /// because `recovery_target_timeline` defaults to `latest`).
    pub fn follow(&mut self, i: usize, upstream: usize) {
        let up = self.nodes[upstream].port;
        let mut c = self.nodes[i].connect();
        c.must(&format!(
            "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={up} user=postgres'"
        ));
        c.must("SELECT pg_reload_conf()");
    }

    /// Clean (fast) shutdown of node `i`.
    pub fn stop(&mut self, i: usize) {
        self.nodes[i].stop_mode("fast");
    }

    /// Immediate shutdown of node `i`: no checkpoint, the closest
    /// PostgreSQL has to `kill -9`.
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].stop_mode("immediate");
    }

    /// Starts node `i` again on its port (bounded).
    pub fn restart(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        node.stop_mode("immediate");
        if let Err(e) = node.start() {
            panic!("{e}");
        }
    }

    /// Node names, ports and log tails, for failure messages.
    pub fn describe(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                format!(
                    "--- {} (port {}) log tail:\n{}",
                    n.name,
                    n.port,
                    n.log_tail(2000)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Starts `node`, trying a new port if the chosen one was taken meanwhile.
fn start_on_free_port(node: &mut PgNode) {
    let mut last = String::new();
    for _ in 0..3 {
        match node.start() {
            Ok(()) => return,
            Err(e) => {
                node.stop_mode("immediate");
                last = e;
                node.port = free_port();
            }
        }
    }
    panic!("{} did not start: {last}", node.name);
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.stop_mode("immediate");
        }
    }
}
