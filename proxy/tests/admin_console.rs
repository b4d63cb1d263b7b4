//! The admin console and the metrics endpoint of a whole proxy
//! (`rustydb_proxy::run`, in process) in front of a real PostgreSQL 15
//! started here in a temp dir: `SHOW POOLS|CLIENTS|SERVERS|STATS|SERVICES|
//! BACKENDS|CONFIG` reflect the traffic a client just sent, `RELOAD`
//! re-reads the file, `PAUSE` holds the next transaction until `RESUME`,
//! psql can talk to the console, and `GET /metrics` counts the queries.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// A PostgreSQL 15 (trust auth) in a temp dir, stopped on drop.
struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    as_postgres: bool,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Postgres {
    fn command(&self, program: &str) -> Command {
        if self.as_postgres {
            // initdb refuses to run as root: use the postgres OS user.
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", program]);
            c
        } else {
            Command::new(program)
        }
    }

    fn start() -> Postgres {
        let dir = tempfile::tempdir().expect("temp dir");
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let pg = Postgres {
            dir,
            port: free_port(),
            as_postgres,
        };
        let d = pg.dir.path();
        if as_postgres {
            let s = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(d)
                .status()
                .expect("chown");
            assert!(s.success());
        }
        let data = d.join("data");
        let out = pg
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb: {out:?}");
        let out = pg
            .command("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                pg.port,
                d.display()
            ))
            .arg("-l")
            .arg(d.join("log"))
            .args(["-w", "start"])
            .output()
            .expect("pg_ctl");
        assert!(out.status.success(), "pg_ctl start: {out:?}");
        pg
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn write_config(path: &Path, pg_port: u16, listen: u16, admin: u16, max_size: usize) {
    let text = format!(
        "listen = \"127.0.0.1:{listen}\"\n\
         admin_listen = \"127.0.0.1:{admin}\"\n\
         backends = [\"127.0.0.1:{pg_port}\"]\n\
         [pool]\nmax_size = {max_size}\n\
         [health]\ninterval_ms = 200\n"
    );
    std::fs::write(path, text).expect("write config");
}

async fn connect(port: u16, database: &str) -> Client {
    let conninfo = format!("host=127.0.0.1 port={port} user=postgres dbname={database}");
    let mut last = None;
    for _ in 0..100 {
        match tokio_postgres::connect(&conninfo, NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(conn);
                return client;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("cannot connect to {conninfo}: {last:?}");
}

/// Rows of a simple query, as column name -> value maps.
async fn show(client: &Client, command: &str) -> Vec<Vec<(String, Option<String>)>> {
    let messages = client
        .simple_query(command)
        .await
        .unwrap_or_else(|e| panic!("{command}: {e}"));
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(
                r.columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_string(), r.get(i).map(str::to_string)))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

fn get<'a>(row: &'a [(String, Option<String>)], column: &str) -> Option<&'a str> {
    row.iter()
        .find(|(c, _)| c == column)
        .and_then(|(_, v)| v.as_deref())
}

async fn http_get(port: u16, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to admin_listen");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("read");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_metrics_over_a_real_proxy() {
    let pg = Postgres::start();
    let (listen, admin) = (free_port(), free_port());
    let config_path = pg.dir.path().join("proxy.toml");
    write_config(&config_path, pg.port, listen, admin, 8);
    let config = rustydb_proxy::ProxyConfig::load(&config_path).expect("config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy = tokio::spawn(rustydb_proxy::run(
        config,
        Some(config_path.clone()),
        async move {
            let _ = stopped.await;
        },
    ));

    let app = connect(listen, "postgres").await;
    let answer = app
        .simple_query("SELECT 40 + 2")
        .await
        .expect("a query through the proxy");
    assert!(matches!(&answer[1], SimpleQueryMessage::Row(r) if r.get(0) == Some("42")));

    let console = connect(listen, "rustydb").await;
    let backend = format!("127.0.0.1:{}", pg.port);

    let pools = show(&console, "SHOW POOLS").await;
    let pool = pools
        .iter()
        .find(|r| get(r, "database") == Some("postgres"))
        .unwrap_or_else(|| panic!("no pool for postgres: {pools:?}"));
    assert_eq!(get(pool, "user"), Some("postgres"));
    assert_eq!(get(pool, "backend"), Some(backend.as_str()));
    assert_eq!(get(pool, "service"), Some("oltp"));
    assert_eq!(get(pool, "pool_mode"), Some("transaction"));
    assert_eq!(get(pool, "max"), Some("8"));
    assert_eq!(get(pool, "active"), Some("0"), "released after the query");
    assert_eq!(get(pool, "idle"), Some("1"), "{pools:?}");

    let clients = show(&console, "SHOW CLIENTS").await;
    assert_eq!(
        clients.len(),
        1,
        "the app client (the console is not listed): {clients:?}"
    );
    assert_eq!(get(&clients[0], "database"), Some("postgres"));
    assert_eq!(get(&clients[0], "service"), Some("oltp"));
    assert_eq!(get(&clients[0], "state"), Some("idle"));

    let servers = show(&console, "SHOW SERVERS").await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    assert_eq!(get(&servers[0], "state"), Some("idle"));
    assert_eq!(get(&servers[0], "backend"), Some(backend.as_str()));

    let stats = show(&console, "SHOW STATS").await;
    let oltp = stats
        .iter()
        .find(|r| get(r, "service") == Some("oltp"))
        .expect("oltp stats");
    let routed: u64 = ["queries_primary", "queries_replica"]
        .iter()
        .map(|c| {
            get(oltp, c)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum();
    assert!(routed >= 1, "{stats:?}");

    let services = show(&console, "SHOW SERVICES").await;
    let names: Vec<_> = services.iter().filter_map(|r| get(r, "name")).collect();
    assert_eq!(names, ["batch", "olap", "oltp"]);

    let backends = show(&console, "SHOW BACKENDS").await;
    assert_eq!(backends.len(), 1, "{backends:?}");
    assert_eq!(get(&backends[0], "id"), Some(backend.as_str()));
    assert_eq!(get(&backends[0], "role"), Some("primary"));
    assert_eq!(get(&backends[0], "healthy"), Some("t"));

    // RELOAD re-reads the file; a bad command is an error, not the end.
    write_config(&config_path, pg.port, listen, admin, 9);
    console.simple_query("RELOAD").await.expect("RELOAD");
    let config = show(&console, "SHOW CONFIG").await;
    let max = config
        .iter()
        .find(|r| get(r, "key") == Some("pool.max_size"))
        .expect("pool.max_size");
    assert_eq!(get(max, "value"), Some("9"));
    let err = console
        .simple_query("SHOW NONSENSE")
        .await
        .expect_err("unknown SHOW");
    assert_eq!(err.code().map(|c| c.code()), Some("42601"), "{err:?}");
    assert_eq!(show(&console, "SHOW VERSION").await.len(), 1);

    // PAUSE holds the next transaction until RESUME.
    console.simple_query("PAUSE").await.expect("PAUSE");
    let held = tokio::spawn(async move {
        let rows = app.simple_query("SELECT 7").await;
        (app, rows)
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!held.is_finished(), "a query ran while paused");
    console.simple_query("RESUME").await.expect("RESUME");
    let (app, rows) = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held query ran after RESUME")
        .expect("task");
    let rows = rows.expect("SELECT 7");
    assert!(matches!(&rows[1], SimpleQueryMessage::Row(r) if r.get(0) == Some("7")));

    // psql talks to the console as to PostgreSQL.
    let psql = tokio::task::spawn_blocking(move || {
        Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &listen.to_string()])
            .args(["-U", "postgres", "-X", "-A", "-t", "rustydb"])
            .args(["-c", "SHOW POOLS"])
            .output()
    })
    .await
    .expect("task")
    .expect("psql runs");
    let out = String::from_utf8_lossy(&psql.stdout);
    assert!(psql.status.success(), "psql: {psql:?}");
    assert!(
        out.contains(&format!("postgres|postgres|oltp|{backend}|transaction|")),
        "{out}"
    );

    let metrics = http_get(admin, "/metrics").await;
    assert!(metrics.starts_with("HTTP/1.1 200"), "{metrics}");
    assert!(
        metrics.contains("rustydb_proxy_queries_total{"),
        "{metrics}"
    );
    assert!(http_get(admin, "/health").await.ends_with("ok\n"));

    drop(app);
    drop(console);
    let _ = stop.send(());
    let ended = tokio::time::timeout(Duration::from_secs(5), proxy)
        .await
        .expect("the proxy stops")
        .expect("task");
    assert!(ended.is_ok(), "{ended:?}");
}
