//! Server processes under test: a PostgreSQL 15 cluster started with
//! `initdb` + `pg_ctl`, and a `rustydb node` started from the release binary.
//!
//! Both live in a [`tempfile::TempDir`] and listen on a port chosen by
//! [`free_port`]. Start-up is bounded: we poll until a real PostgreSQL
//! connection succeeds (not merely a TCP accept), and give up with the tail of
//! the server's log after a deadline. `Drop` stops the process and removes its
//! directory, so a panicking test leaks nothing.
//!
//! [`Server`] wraps either kind behind one API (`port`, `kill9`, `restart`),
//! and [`Target`] picks which kind the tests exercise, from the environment:
//! `RUSTYDB_TEST_TARGET=postgres` runs every integration test against
//! PostgreSQL, which validates the tests themselves.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::client::SqlClient;

/// How long a server may take to accept its first connection.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Which server kind a test talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Node,
    Postgres,
}

impl Target {
    /// `RUSTYDB_TEST_TARGET` (`node`, the default, or `postgres`).
    pub fn from_env() -> Target {
        Target::from_var("RUSTYDB_TEST_TARGET")
    }

    /// Reads the target from a named variable; unknown values panic so a typo
    /// cannot silently test the wrong thing.
    pub fn from_var(var: &str) -> Target {
        match std::env::var(var).ok().as_deref() {
            None | Some("") | Some("node") | Some("rustydb") => Target::Node,
            Some("postgres") | Some("pg") => Target::Postgres,
            Some(other) => panic!("{var}={other}: expected `node` or `postgres`"),
        }
    }

    pub fn start(self) -> Server {
        match self {
            Target::Node => Server::Node(NodeServer::start()),
            Target::Postgres => Server::Pg(PgServer::start()),
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1 (node start-up also
/// retries on a new port if it was taken meanwhile).
///
/// Ports come from below the kernel's ephemeral range (32768 and up): a
/// port bound to 0 and released can be handed to some outgoing
/// connection's source port before the server binds it ("Address already
/// in use"), while ports below that range are only ever taken by
/// listeners. Each test process walks its own sequence (a per-process
/// start, then forward), so concurrent tests rarely try the same port, and
/// a port is returned only if it could be bound just now.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 12_000;
    const HIGH: u32 = 32_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = HIGH - LOW;
    let start = std::process::id().wrapping_mul(2_654_435_761) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (LOW + (start + step) % span) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Path of the `rustydb` binary: `$RUSTYDB_BIN`, else next to the test
/// executable (`<target>/release/deps/test-hash` → `<target>/release/rustydb`).
pub fn rustydb_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("RUSTYDB_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "RUSTYDB_BIN={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let mut candidates = Vec::new();
    if let Some(deps) = exe.parent() {
        candidates.push(deps.join("rustydb"));
        if let Some(profile) = deps.parent() {
            candidates.push(profile.join("rustydb"));
        }
    }
    for c in &candidates {
        if c.is_file() {
            return c.clone();
        }
    }
    panic!(
        "rustydb binary not found (looked at {candidates:?}); run `cargo build --release --bins` \
         first or set RUSTYDB_BIN=/path/to/rustydb"
    );
}

/// Last `n` bytes of a log file, for failure messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(n);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("<cannot read {}: {e}>", path.display()),
    }
}

/// Polls until a PostgreSQL connection to `port` succeeds, or `alive`
/// reports the process died, or the deadline passes.
fn wait_for_pg(port: u16, alive: impl FnMut() -> Result<(), String>) -> Result<(), String> {
    wait_for_answer(port, false, alive)
}

/// Like [`wait_for_pg`]; with `rejecting_is_up`, a server that answers
/// `57P03` (a replica fenced until its manager points it somewhere) counts
/// as started, as `pg_isready` counts it.
fn wait_for_answer(
    port: u16,
    rejecting_is_up: bool,
    mut alive: impl FnMut() -> Result<(), String>,
) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    let mut last = String::new();
    while Instant::now() < deadline {
        alive()?;
        match SqlClient::connect_with_timeout(port, "postgres", Duration::from_secs(2)) {
            // Re-check the process: a connection could come from another
            // server that still holds the port.
            Ok(_) => return alive(),
            Err(e)
                if rejecting_is_up
                    && (e.contains("57P03") || e.contains("not accepting connections")) =>
            {
                return alive()
            }
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no connection within {STARTUP_TIMEOUT:?}: {last}"))
}

/// PostgreSQL refuses to run as root. When we are root (CI containers),
/// its programs run as the `postgres` system user via `runuser`.
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user_ids() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        if f.first() == Some(&"postgres") && f.len() > 3 {
            Some((f[2].parse().ok()?, f[3].parse().ok()?))
        } else {
            None
        }
    })
}

/// A command for a PostgreSQL server program, dropping root if needed.
pub(crate) fn pg_command(program: &str) -> Command {
    if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        Command::new(program)
    }
}

/// Gives the temp dir to the `postgres` user when we run as root.
pub(crate) fn hand_to_postgres_user(dir: &Path) {
    if running_as_root() {
        let (uid, gid) = postgres_user_ids()
            .expect("running as root but no `postgres` user exists to run PostgreSQL as");
        std::os::unix::fs::chown(dir, Some(uid), Some(gid)).expect("chown temp dir to postgres");
    }
}

/// A PostgreSQL 15 cluster in a temp dir (trust auth, user `postgres`).
pub struct PgServer {
    dir: TempDir,
    port: u16,
    running: bool,
}

impl PgServer {
    /// `initdb` + `pg_ctl start`, retrying on another port if the first one
    /// was taken in the meantime.
    pub fn start() -> PgServer {
        let dir = tempfile::Builder::new()
            .prefix("rdb-pg-")
            .tempdir()
            .expect("tempdir");
        let data = dir.path().join("data");
        hand_to_postgres_user(dir.path());
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
            .arg(&data)
            .output()
            .expect("run initdb (is PostgreSQL 15 in PATH?)");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PgServer {
            dir,
            port: 0,
            running: false,
        };
        let mut last = String::new();
        for _ in 0..3 {
            server.port = free_port();
            match server.try_start() {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("PostgreSQL did not start: {last}");
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    fn try_start(&mut self) -> Result<(), String> {
        let opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=on -c timezone=UTC \
             -c lc_messages=C -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let status = pg_command("pg_ctl")
            .args(["start", "-w", "-t", "30", "-s"])
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.log())
            .args(["-o", &opts])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("run pg_ctl: {e}"))?;
        if !status.success() {
            return Err(format!(
                "pg_ctl start failed:\n{}",
                log_tail(&self.log(), 2000)
            ));
        }
        self.running = true;
        wait_for_pg(self.port, || Ok(()))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Immediate shutdown: no checkpoint, crash recovery on the next start,
    /// the closest PostgreSQL equivalent of `kill -9`.
    pub fn kill9(&mut self) {
        if self.running {
            let _ = pg_command("pg_ctl")
                .args(["stop", "-m", "immediate", "-s", "-D"])
                .arg(self.data())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            self.running = false;
        }
    }

    /// Stops (immediately) if running, then starts again on the same port.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("PostgreSQL did not restart: {e}");
        }
    }

    pub fn try_restart(&mut self) -> Result<(), String> {
        self.kill9();
        self.try_start()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A `rustydb node` process with its own data dir.
pub struct NodeServer {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
    bin: PathBuf,
    /// Extra `rustydb node` arguments, appended after `--data-dir` and
    /// `--listen`; kept so a restart runs the same command line.
    args: Vec<String>,
    /// Port of the admin HTTP API (`--admin-listen`), when started with one.
    admin_port: Option<u16>,
}

impl NodeServer {
    pub fn start() -> NodeServer {
        NodeServer::launch(&[], false)
    }

    /// Starts a node with extra command-line arguments (kept for restarts).
    pub fn start_with(args: &[String]) -> NodeServer {
        NodeServer::launch(args, false)
    }

    /// Like [`NodeServer::start_with`], and also serves the admin HTTP API
    /// on a free loopback port ([`NodeServer::admin_port`]).
    pub fn start_with_admin(args: &[String]) -> NodeServer {
        NodeServer::launch(args, true)
    }

    fn launch(args: &[String], admin: bool) -> NodeServer {
        let dir = tempfile::Builder::new()
            .prefix("rdb-node-")
            .tempdir()
            .expect("tempdir");
        let mut node = NodeServer {
            dir,
            port: 0,
            child: None,
            bin: rustydb_bin(),
            args: args.to_vec(),
            admin_port: None,
        };
        let mut last = String::new();
        for _ in 0..3 {
            node.port = free_port();
            if admin {
                node.admin_port = Some(free_port());
            }
            match node.try_start() {
                Ok(()) => return node,
                Err(e) => {
                    node.kill9();
                    last = e;
                }
            }
        }
        panic!("rustydb node did not start: {last}");
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }

    /// The node's temp dir (holds `data/` and `node.log`; a place for
    /// config files the test writes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn admin_port(&self) -> Option<u16> {
        self.admin_port
    }

    /// The extra arguments the node runs with.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// Replaces the extra arguments used by the next (re)start.
    pub fn set_args(&mut self, args: Vec<String>) {
        self.args = args;
    }

    fn try_start(&mut self) -> Result<(), String> {
        self.try_start_with(false)
    }

    fn try_start_with(&mut self, rejecting_is_up: bool) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .map_err(|e| format!("open node log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("clone log: {e}"))?;
        let child = Command::new(&self.bin)
            .arg("node")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .args(
                self.admin_port
                    .map(|p| ["--admin-listen".to_string(), format!("127.0.0.1:{p}")])
                    .into_iter()
                    .flatten(),
            )
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("spawn {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let log_path = self.log();
        let child = &mut self.child;
        wait_for_answer(self.port, rejecting_is_up, || {
            match child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => Err(format!(
                    "node exited with {status}:\n{}",
                    log_tail(&log_path, 3000)
                )),
                _ => Ok(()),
            }
        })
        .map_err(|e| format!("{e}\nnode log tail:\n{}", log_tail(&self.log(), 3000)))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The process id while running (for SIGSTOP/SIGCONT in fault tests).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL (`Child::kill` is SIGKILL on Unix) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills if running, then starts again on the same data dir and port.
    pub fn restart(&mut self) {
        if let Err(e) = self.try_restart() {
            panic!("rustydb node did not restart: {e}");
        }
    }

    /// Restarts; a node that answers but refuses sessions (`57P03`,
    /// fenced until a manager re-points it) counts as started.
    pub fn try_restart_answering(&mut self) -> Result<(), String> {
        self.kill9();
        let r = self.try_start_with(true);
        if r.is_err() {
            self.kill9();
        }
        r
    }

    pub fn try_restart(&mut self) -> Result<(), String> {
        self.kill9();
        let r = self.try_start();
        if r.is_err() {
            self.kill9();
        }
        r
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        self.kill9();
        if std::env::var_os("RUSTYDB_KEEP_LOGS").is_some() {
            eprintln!("node log: {}", log_tail(&self.log(), 20_000));
        }
    }
}

/// Either server kind behind one API.
pub enum Server {
    Pg(PgServer),
    Node(NodeServer),
}

impl Server {
    pub fn port(&self) -> u16 {
        match self {
            Server::Pg(s) => s.port(),
            Server::Node(s) => s.port(),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Server::Pg(_) => "postgres",
            Server::Node(_) => "rustydb",
        }
    }

    pub fn kill9(&mut self) {
        match self {
            Server::Pg(s) => s.kill9(),
            Server::Node(s) => s.kill9(),
        }
    }

    pub fn restart(&mut self) {
        match self {
            Server::Pg(s) => s.restart(),
            Server::Node(s) => s.restart(),
        }
    }

    /// Like [`Server::restart`], but reports failure instead of panicking.
    pub fn try_restart(&mut self) -> Result<(), String> {
        match self {
            Server::Pg(s) => s.try_restart(),
            Server::Node(s) => s.try_restart(),
        }
    }

    /// False when a node process has exited (PostgreSQL is assumed alive).
    pub fn is_running(&mut self) -> bool {
        match self {
            Server::Pg(s) => s.running,
            Server::Node(s) => s.is_running(),
        }
    }

    /// Server log tail, for failure messages.
    pub fn log_tail(&self) -> String {
        match self {
            Server::Pg(s) => log_tail(&s.log(), 3000),
            Server::Node(s) => log_tail(&s.log(), 3000),
        }
    }

    /// Connects to `db` as `postgres`, panicking with the log on failure.
    pub fn connect(&self, db: &str) -> SqlClient {
        match SqlClient::connect(self.port(), db) {
            Ok(c) => c,
            Err(e) => panic!(
                "connect to {} db {db}: {e}\n{}",
                self.kind(),
                self.log_tail()
            ),
        }
    }
}
