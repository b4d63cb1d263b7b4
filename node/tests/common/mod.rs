//! Shared helpers for the server tests: start a real node on a free
//! loopback port with a temporary data directory, connect real clients,
//! and bound every wait.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rustydb_node::config::{AuthMethod, UserConfig};
use rustydb_node::{Node, NodeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Upper bound for any single step of a test.
pub const STEP: Duration = Duration::from_secs(20);

/// Fails the test if `f` takes longer than `STEP`.
pub async fn bounded<T>(what: &str, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, f).await {
        Ok(v) => v,
        Err(_) => panic!("timed out: {what}"),
    }
}

/// A node under test; shuts down when dropped.
pub struct TestNode {
    pub node: Option<Node>,
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl TestNode {
    /// A node with the default (trust) configuration.
    pub async fn start() -> TestNode {
        Self::start_with(|_| {}).await
    }

    /// A node with a tweaked configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut NodeConfig)) -> TestNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = NodeConfig {
            listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: dir.path().join("data"),
            ..NodeConfig::default()
        };
        tweak(&mut config);
        let node = bounded("node start", Node::start(config))
            .await
            .expect("node starts");
        let addr = node.local_addr();
        TestNode {
            node: Some(node),
            addr,
            _dir: dir,
        }
    }

    /// A default node with the admin API on a free port, and that port.
    pub async fn start_with_admin() -> (TestNode, SocketAddr) {
        let node =
            Self::start_with(|c| c.admin_listen = Some("127.0.0.1:0".parse().expect("addr"))).await;
        let admin = node
            .node
            .as_ref()
            .and_then(|n| n.admin_addr())
            .expect("admin enabled");
        (node, admin)
    }

    /// A libpq-style connection string for `user`.
    pub fn conn_str(&self, user: &str, password: Option<&str>) -> String {
        let mut s = format!(
            "host=127.0.0.1 port={} user={user} dbname=postgres",
            self.addr.port()
        );
        if let Some(pw) = password {
            s.push_str(&format!(" password={pw}"));
        }
        s
    }

    /// Connects with tokio-postgres (no TLS).
    pub async fn connect(
        &self,
        user: &str,
        password: Option<&str>,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let (client, connection) = bounded(
            "connect",
            tokio_postgres::connect(&self.conn_str(user, password), tokio_postgres::NoTls),
        )
        .await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    /// Stops the node and waits for it.
    pub async fn stop(mut self) {
        if let Some(node) = self.node.take() {
            bounded("node shutdown", node.shutdown()).await;
        }
    }
}

/// A config user.
pub fn user(name: &str, password: &str, method: AuthMethod) -> UserConfig {
    UserConfig {
        name: name.to_string(),
        password: Some(password.to_string()),
        method: Some(method),
    }
}

/// The test TLS certificate and key.
pub fn tls_fixture() -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    (dir.join("server.crt"), dir.join("server.key"))
}

/// A raw protocol-3.0 startup packet.
pub fn startup_packet(user: &str, database: &str) -> Vec<u8> {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    for (k, v) in [("user", user), ("database", database)] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut packet = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    packet.extend(body);
    packet
}

/// One backend message: (type byte, body).
pub async fn read_backend_message(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    s.read_exact(&mut header).await.ok()?;
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    let mut body = vec![0u8; len.checked_sub(4)?];
    s.read_exact(&mut body).await.ok()?;
    Some((header[0], body))
}

/// Opens a raw trust connection and reads up to the first ReadyForQuery.
pub async fn raw_session(addr: SocketAddr) -> TcpStream {
    let mut s = bounded("raw connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    bounded(
        "send startup",
        s.write_all(&startup_packet("postgres", "postgres")),
    )
    .await
    .expect("write");
    loop {
        match bounded("startup reply", read_backend_message(&mut s)).await {
            Some((b'Z', _)) => return s,
            Some((b'E', body)) => panic!("startup failed: {}", String::from_utf8_lossy(&body)),
            Some(_) => {}
            None => panic!("connection closed during startup"),
        }
    }
}

/// The SQLSTATE (`C` field) of an ErrorResponse body.
pub fn error_code(body: &[u8]) -> Option<String> {
    body.split(|b| *b == 0).find_map(|f| {
        f.strip_prefix(b"C")
            .map(|c| String::from_utf8_lossy(c).into_owned())
    })
}

/// The SQLSTATE of a tokio-postgres error, if the server sent one.
pub fn sqlstate(e: &tokio_postgres::Error) -> Option<String> {
    e.as_db_error().map(|d| d.code().code().to_string())
}

/// Writes raw bytes.
pub async fn send_raw(s: &mut TcpStream, bytes: &[u8]) {
    bounded("raw write", s.write_all(bytes))
        .await
        .expect("write");
}

/// One HTTP/1.1 request to the admin API; the whole response as text.
pub async fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> String {
    let mut s = bounded("admin connect", TcpStream::connect(addr))
        .await
        .expect("connect");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    bounded("admin write", s.write_all(req.as_bytes()))
        .await
        .expect("write");
    let mut out = String::new();
    bounded("admin read", s.read_to_string(&mut out))
        .await
        .expect("read");
    out
}
