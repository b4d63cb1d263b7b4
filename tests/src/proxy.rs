//! A `rustydb proxy` process for integration tests, configured by a
//! generated TOML file, plus the client helpers proxy tests share.
//!
//! ```text
//!   ProxyProc::start(ProxySpec::static_(&addrs).set("routing.balance", "\"ip_hash\""))
//!     <tmp>/proxy.toml   listen, admin_listen, backends|manager, pool_mode, then
//!                        the spec's extra lines (dotted keys or [sections])
//!     rustydb proxy --config <tmp>/proxy.toml     stdout+stderr -> <tmp>/proxy.log
//!     waits until `SELECT 1` through it succeeds (bounded), or the process exits
//!   connect(opts)      SqlClient with user/password/options/database
//!   kill9(), reload() (SIGHUP), log_tail()
//! ```
//!
//! `RUSTYDB_PROXY_TARGET=direct` starts no proxy: clients go straight to
//! the first backend, which proves the tests' own protocol code (routing
//! checks then fail by design).
//!
//! Invariants:
//! - The proxy listens on a fresh free port; per-service listen ports are
//!   allocated by the spec and readable back ([`ProxyProc::service_port`]).
//! - Start-up is bounded and a process that exits early fails at once with
//!   its log; `Drop` kills it.
//! - Generated TOML only uses top-level and dotted keys before the caller's
//!   lines, so a caller may append `[services.x]` tables freely.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;
use tokio_postgres::Config;

use crate::client::SqlClient;
use crate::cluster::wait_until;
use crate::process::{free_port, log_tail, rustydb_bin};

/// Bound for the proxy to serve its first query.
pub const PROXY_START: Duration = Duration::from_secs(60);

/// What a proxy is started with.
#[derive(Clone, Debug, Default)]
pub struct ProxySpec {
    /// Static mode: `host:port` of PostgreSQL-protocol servers.
    pub backends: Vec<String>,
    /// Dynamic mode: manager API URLs.
    pub manager: Vec<String>,
    /// `session` or `transaction` (the default when empty).
    pub pool_mode: String,
    /// Extra TOML lines (`key = value`, dotted keys, or `[table]` blocks).
    pub extra: Vec<String>,
    /// Services that get their own listen port (`[services.NAME] listen`).
    pub service_listens: Vec<String>,
}

impl ProxySpec {
    pub fn static_(backends: &[String]) -> ProxySpec {
        ProxySpec {
            backends: backends.to_vec(),
            ..ProxySpec::default()
        }
    }

    pub fn dynamic(managers: &[String]) -> ProxySpec {
        ProxySpec {
            manager: managers.to_vec(),
            ..ProxySpec::default()
        }
    }

    pub fn pool_mode(mut self, mode: &str) -> ProxySpec {
        self.pool_mode = mode.to_string();
        self
    }

    /// Adds `key = value` (value is TOML text: `"\"x\""`, `3`, `true`).
    pub fn set(mut self, key: &str, value: &str) -> ProxySpec {
        self.extra.push(format!("{key} = {value}"));
        self
    }

    /// Adds raw TOML text (put `[tables]` last).
    pub fn raw(mut self, text: &str) -> ProxySpec {
        self.extra.push(text.to_string());
        self
    }

    /// Gives service `name` its own listen port.
    pub fn service_listen(mut self, name: &str) -> ProxySpec {
        self.service_listens.push(name.to_string());
        self
    }
}

/// TOML basic string (JSON string syntax is valid TOML for our values).
pub fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

fn toml_list(items: &[String]) -> String {
    let v: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", v.join(", "))
}

/// How a test client connects through the proxy.
#[derive(Clone, Debug)]
pub struct ConnectOpts {
    pub user: String,
    pub password: Option<String>,
    pub database: String,
    /// The startup `options` parameter (`-c rustydb.service=olap`).
    pub options: Option<String>,
    pub port: Option<u16>,
}

impl Default for ConnectOpts {
    fn default() -> Self {
        ConnectOpts {
            user: "postgres".into(),
            password: None,
            database: "postgres".into(),
            options: None,
            port: None,
        }
    }
}

impl ConnectOpts {
    pub fn service(name: &str) -> ConnectOpts {
        ConnectOpts {
            options: Some(format!("-c rustydb.service={name}")),
            ..ConnectOpts::default()
        }
    }

    pub fn database(db: &str) -> ConnectOpts {
        ConnectOpts {
            database: db.to_string(),
            ..ConnectOpts::default()
        }
    }

    pub fn user(user: &str, password: Option<&str>) -> ConnectOpts {
        ConnectOpts {
            user: user.to_string(),
            password: password.map(str::to_string),
            ..ConnectOpts::default()
        }
    }

    /// The tokio-postgres configuration for `port` (unless overridden).
    pub fn config(&self, port: u16) -> Config {
        let mut cfg = Config::new();
        cfg.host("127.0.0.1")
            .port(self.port.unwrap_or(port))
            .user(&self.user)
            .dbname(&self.database)
            .connect_timeout(Duration::from_secs(10));
        if let Some(p) = &self.password {
            cfg.password(p);
        }
        if let Some(o) = &self.options {
            cfg.options(o);
        }
        cfg
    }
}

/// A running `rustydb proxy`.
pub struct ProxyProc {
    dir: TempDir,
    port: u16,
    admin_port: u16,
    service_ports: BTreeMap<String, u16>,
    child: Option<Child>,
    /// `RUSTYDB_PROXY_TARGET=direct`: no proxy, `port` is the first backend.
    direct: bool,
}

impl ProxyProc {
    /// Writes the config, starts the process and waits until a query
    /// through it succeeds.
    pub fn start(spec: ProxySpec) -> ProxyProc {
        let mut p = ProxyProc::spawn(spec);
        if let Err(e) = p.wait_serving(PROXY_START) {
            panic!("proxy did not serve: {e}\nproxy log:\n{}", p.log_tail(6000));
        }
        p
    }

    /// Writes the config and starts the process without waiting.
    pub fn spawn(spec: ProxySpec) -> ProxyProc {
        let dir = tempfile::Builder::new()
            .prefix("rdb-proxy-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let admin_port = free_port();
        let service_ports: BTreeMap<String, u16> = spec
            .service_listens
            .iter()
            .map(|s| (s.clone(), free_port()))
            .collect();
        let mut text =
            format!("listen = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:{admin_port}\"\n");
        if !spec.backends.is_empty() {
            text.push_str(&format!("backends = {}\n", toml_list(&spec.backends)));
        }
        if !spec.manager.is_empty() {
            text.push_str(&format!("manager = {}\n", toml_list(&spec.manager)));
        }
        if !spec.pool_mode.is_empty() {
            text.push_str(&format!("pool_mode = {}\n", toml_str(&spec.pool_mode)));
        }
        // Quick health checks: tests assert convergence, bounded.
        text.push_str("health.interval_ms = 200\n");
        for (name, p) in &service_ports {
            text.push_str(&format!("services.{name}.listen = \"127.0.0.1:{p}\"\n"));
        }
        for line in &spec.extra {
            text.push_str(line);
            text.push('\n');
        }
        let config = dir.path().join("proxy.toml");
        std::fs::write(&config, text).expect("write proxy.toml");
        // Test-the-tests mode: talk to the first backend directly.
        let direct = std::env::var("RUSTYDB_PROXY_TARGET").as_deref() == Ok("direct");
        let direct_port = spec
            .backends
            .first()
            .and_then(|b| b.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .filter(|_| direct);
        let mut p = ProxyProc {
            dir,
            port: direct_port.unwrap_or(port),
            admin_port,
            service_ports,
            child: None,
            direct: direct_port.is_some(),
        };
        if !p.direct {
            p.launch();
        }
        p
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("open proxy log");
        let log2 = log.try_clone().expect("clone log");
        let child = Command::new(rustydb_bin())
            .arg("proxy")
            .arg("--config")
            .arg(self.config_path())
            .env("NO_COLOR", "1")
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn rustydb proxy: {e}"));
        self.child = Some(child);
    }

    /// Polls until `SELECT 1` through the proxy succeeds.
    pub fn wait_serving(&mut self, bound: Duration) -> Result<(), String> {
        let port = self.port;
        let deadline = std::time::Instant::now() + bound;
        let mut last = String::new();
        while std::time::Instant::now() < deadline {
            if !self.is_running() {
                return Err(format!("proxy exited early: {last}"));
            }
            match SqlClient::connect_with_timeout(port, "postgres", Duration::from_secs(3)) {
                Ok(mut c) => match c.simple("SELECT 1") {
                    o if o.is_ok() => return Ok(()),
                    o => last = o.to_string(),
                },
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("not serving within {bound:?}: {last}"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// True in `RUSTYDB_PROXY_TARGET=direct` mode (no proxy process).
    pub fn is_direct(&self) -> bool {
        self.direct
    }

    /// Port of the HTTP `/metrics` listener.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The listen port of a service given one by the spec.
    pub fn service_port(&self, name: &str) -> u16 {
        *self
            .service_ports
            .get(name)
            .unwrap_or_else(|| panic!("service {name} has no listen port in this spec"))
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("proxy.toml")
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("proxy.log")
    }

    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log(), n)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        if self.direct {
            return true;
        }
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGHUP: reload the config file.
    pub fn reload(&self) {
        if let Some(pid) = self.pid() {
            crate::manager::signal(pid, "HUP");
        }
    }

    /// A client through the proxy, or the connect error (with
    /// `[SQLSTATE xxxxx]` when the proxy answered with an error).
    pub fn try_connect(&self, opts: &ConnectOpts) -> Result<SqlClient, String> {
        SqlClient::connect_config(&opts.config(self.port), Duration::from_secs(10))
    }

    /// A client through the proxy, panicking with the proxy log on failure.
    pub fn connect(&self, opts: &ConnectOpts) -> SqlClient {
        self.try_connect(opts).unwrap_or_else(|e| {
            panic!(
                "connect through the proxy ({opts:?}): {e}\nproxy log:\n{}",
                self.log_tail(4000)
            )
        })
    }

    /// A client whose TCP connection comes from `source` (a loopback
    /// address such as 127.0.0.7), for `ip_hash` and address-based rules.
    pub fn connect_from(
        &self,
        source: std::net::IpAddr,
        opts: &ConnectOpts,
    ) -> Result<SqlClient, String> {
        let cfg = opts.config(self.port);
        let target = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let bound = Duration::from_secs(10);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        let client = rt.block_on(async {
            let sock = tokio::net::TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
            sock.bind(std::net::SocketAddr::new(source, 0))
                .map_err(|e| format!("bind {source}: {e}"))?;
            let stream = tokio::time::timeout(bound, sock.connect(target))
                .await
                .map_err(|_| "TCP connect timed out".to_string())?
                .map_err(|e| format!("TCP connect: {e}"))?;
            let (client, conn) =
                tokio::time::timeout(bound, cfg.connect_raw(stream, tokio_postgres::NoTls))
                    .await
                    .map_err(|_| "startup timed out".to_string())?
                    .map_err(|e| format!("connect: {e}"))?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            Ok::<_, String>(client)
        })?;
        Ok(SqlClient {
            rt,
            client: Some(client),
            timeout: crate::client::STATEMENT_TIMEOUT,
        })
    }

    /// A default client (`postgres`@`postgres`, default service).
    pub fn client(&self) -> SqlClient {
        self.connect(&ConnectOpts::default())
    }

    /// Runs `psql -X -A -t -v ON_ERROR_STOP=1` through the proxy with a
    /// connection string, bounded.
    pub fn psql(
        &self,
        conninfo: &str,
        sql: &str,
        password: Option<&str>,
    ) -> crate::tools::RunOutput {
        let mut cmd = Command::new("psql");
        cmd.args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            conninfo,
            "-c",
            sql,
        ]);
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        } else {
            cmd.env_remove("PGPASSWORD");
        }
        crate::tools::run_bounded(cmd, Duration::from_secs(60), self.dir.path())
    }

    /// Runs `pgbench` through the proxy as `postgres`, bounded (3 min).
    pub fn pgbench(&self, args: &[&str]) -> crate::tools::RunOutput {
        crate::cluster::pgbench(self.port, args, self.dir.path())
    }

    /// `GET /metrics` from the admin listener.
    pub fn metrics(&self) -> Result<String, String> {
        let r = crate::cluster::Admin::new(self.admin_port).get("/metrics")?;
        if r.status == 200 {
            Ok(r.text)
        } else {
            Err(format!("GET /metrics: {} {}", r.status, r.text))
        }
    }
}

impl Drop for ProxyProc {
    fn drop(&mut self) {
        self.kill9();
        if std::env::var_os("RUSTYDB_KEEP_LOGS").is_some() {
            eprintln!("proxy log: {}", self.log_tail(20_000));
        }
    }
}

/// Polls `sql` through `client` until its single value satisfies `accept`
/// (e.g. the proxy's health checks discovered a replica), bounded.
pub fn wait_value(
    client: &mut SqlClient,
    sql: &str,
    bound: Duration,
    accept: impl Fn(&str) -> bool,
) -> Result<String, String> {
    wait_until(&format!("`{sql}` through the proxy"), bound, || {
        let out = client.simple(sql);
        match out.scalar() {
            Some(v) if accept(v) => Ok(v.to_string()),
            _ => Err(out.to_string()),
        }
    })
}
