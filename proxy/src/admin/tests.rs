//! The console through a real client (tokio-postgres) against an
//! in-process listener that does a trust startup and then calls
//! `run_console` with a test double of the server's state; the HTTP
//! endpoint through raw HTTP/1.1 requests.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_postgres::{NoTls, SimpleQueryMessage};

use super::*;
use crate::config::ProxyConfig;
use crate::metrics::ProxyMetrics;
use crate::topology::{BackendInfo, Role, TopologySnapshot};
use crate::wire::messages;

#[derive(Default)]
struct FakeState {
    paused: AtomicBool,
    pause_calls: AtomicUsize,
    reloads: AtomicUsize,
    reload_fails: AtomicBool,
}

impl AdminState for FakeState {
    fn pools(&self) -> Vec<PoolRow> {
        vec![PoolRow {
            user: "app".into(),
            database: "shop".into(),
            service: "oltp".into(),
            backend: "n1".into(),
            mode: "transaction".into(),
            active: 2,
            idle: 3,
            waiting: 1,
            max: 32,
        }]
    }
    fn clients(&self) -> Vec<ClientRow> {
        vec![ClientRow {
            id: 7,
            user: "app".into(),
            database: "shop".into(),
            service: "olap".into(),
            addr: "127.0.0.1:50000".into(),
            state: "idle".into(),
            backend: None,
            connected_at: SystemTime::UNIX_EPOCH + Duration::from_secs(86_400),
        }]
    }
    fn servers(&self) -> Vec<ServerRow> {
        vec![ServerRow {
            backend: "n2".into(),
            user: "app".into(),
            database: "shop".into(),
            state: "active".into(),
            pid: Some(4242),
            connected_at: Some(SystemTime::UNIX_EPOCH),
        }]
    }
    fn stats(&self) -> Vec<StatsRow> {
        vec![StatsRow {
            service: "oltp".into(),
            queries_primary: 10,
            queries_replica: 20,
            errors: 1,
            avg_us: 350,
        }]
    }
    fn topology(&self) -> Arc<TopologySnapshot> {
        Arc::new(TopologySnapshot {
            version: 9,
            backends: vec![BackendInfo {
                id: "n1".into(),
                addr: "127.0.0.1:5432".into(),
                role: Role::Replica,
                datacenter: "dc1".into(),
                region: "eu".into(),
                tags: vec!["a".into(), "b".into()],
                noloadbalance: false,
                healthy: true,
                banned: false,
                replay_lsn: Some(0x16_B374_D848),
                lag_bytes: Some(12),
                lag_ms: Some(2.25),
                sync: true,
            }],
        })
    }
    fn config(&self) -> Arc<ProxyConfig> {
        let mut c = ProxyConfig {
            backends: vec!["127.0.0.1:5432".into()],
            ..ProxyConfig::default()
        };
        c.health.password = Some("hunter2".into());
        c.auth
            .backend_passwords
            .insert("app".into(), "s3cret".into());
        c.pool.max_size = 64;
        Arc::new(c)
    }
    fn reload(&self) -> Result<(), ProxyError> {
        self.reloads.fetch_add(1, Ordering::SeqCst);
        if self.reload_fails.load(Ordering::SeqCst) {
            return Err(ProxyError::Config("bad file".into()));
        }
        Ok(())
    }
    fn pause(&self, paused: bool) {
        self.pause_calls.fetch_add(1, Ordering::SeqCst);
        self.paused.store(paused, Ordering::SeqCst);
    }
}

/// Trust startup, then the console; the task's result is run_console's.
async fn console_server(state: Arc<FakeState>) -> (u16, JoinHandle<Result<(), ProxyError>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let len = stream.read_u32().await? as usize;
        let mut startup = vec![0; len - 4];
        stream.read_exact(&mut startup).await?;
        stream.write_all(&messages::auth_ok()).await?;
        stream
            .write_all(&messages::parameter_status("server_version", "15.0"))
            .await?;
        stream.write_all(&messages::backend_key_data(1, 2)).await?;
        stream.write_all(&messages::ready_for_query(b'I')).await?;
        run_console(&mut stream, state.as_ref(), 4096).await
    });
    (port, task)
}

async fn connect(port: u16) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=admin dbname=rustydb"),
        NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    client
}

fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

fn cell(s: &str) -> Option<String> {
    Some(s.to_string())
}

#[tokio::test]
async fn show_commands_answer_result_sets() {
    let state = Arc::new(FakeState::default());
    let (port, task) = console_server(state.clone()).await;
    let client = connect(port).await;

    let pools = client.simple_query("SHOW POOLS").await.unwrap();
    let SimpleQueryMessage::Row(first) = &pools[1] else {
        panic!("{pools:?}")
    };
    assert_eq!(first.columns()[5].name(), "active");
    assert_eq!(
        rows(&pools),
        vec![[
            "app",
            "shop",
            "oltp",
            "n1",
            "transaction",
            "2",
            "3",
            "1",
            "32"
        ]
        .map(cell)
        .to_vec()]
    );
    let clients = rows(&client.simple_query("show clients;").await.unwrap());
    assert_eq!(clients[0][6], None, "no backend is NULL");
    assert_eq!(clients[0][7], cell("1970-01-02 00:00:00 UTC"));
    let servers = rows(&client.simple_query("SHOW SERVERS").await.unwrap());
    assert_eq!(servers[0][4], cell("4242"));
    let stats = rows(&client.simple_query("SHOW STATS").await.unwrap());
    assert_eq!(
        stats[0],
        ["oltp", "10", "20", "1", "350"].map(cell).to_vec()
    );

    let backends = rows(&client.simple_query("SHOW BACKENDS").await.unwrap());
    assert_eq!(
        backends[0],
        [
            "n1",
            "127.0.0.1:5432",
            "replica",
            "dc1",
            "eu",
            "a,b",
            "t",
            "f",
            "f",
            "t",
            "16/B374D848",
            "12",
            "2.2",
            "9"
        ]
        .map(cell)
        .to_vec()
    );
    let services = rows(&client.simple_query("SHOW SERVICES").await.unwrap());
    let names: Vec<_> = services.iter().map(|r| r[0].clone().unwrap()).collect();
    assert_eq!(names, ["batch", "olap", "oltp"]);
    assert_eq!(
        services[0][1],
        cell("session"),
        "batch is a session-mode service"
    );
    assert_eq!(services[1][3], cell("least_connections"));
    assert_eq!(
        services[2][2],
        cell("replica_preferred"),
        "top-level fallback"
    );
    assert_eq!(services[2][11], cell("global"), "consistency default");

    let config = rows(&client.simple_query("SHOW CONFIG").await.unwrap());
    let get = |k: &str| config.iter().find(|r| r[0].as_deref() == Some(k)).cloned();
    assert_eq!(get("pool.max_size").unwrap()[1..], [cell("64"), cell("32")]);
    assert_eq!(get("health.password").unwrap()[1], cell("********"));
    assert_eq!(
        get("auth.backend_passwords.app").unwrap()[1],
        cell("********")
    );
    let text = format!("{config:?}");
    assert!(
        !text.contains("hunter2") && !text.contains("s3cret"),
        "{text}"
    );

    let version = rows(&client.simple_query("SHOW VERSION").await.unwrap());
    assert!(version[0][0]
        .as_deref()
        .unwrap()
        .starts_with("RustyDB proxy "));

    drop(client);
    assert!(
        task.await.unwrap().is_ok(),
        "Terminate ends the console cleanly"
    );
}

#[tokio::test]
async fn actions_errors_and_the_extended_protocol() {
    let state = Arc::new(FakeState::default());
    let (port, task) = console_server(state.clone()).await;
    let client = connect(port).await;

    client.simple_query("PAUSE").await.unwrap();
    assert!(state.paused.load(Ordering::SeqCst));
    client.simple_query("resume; reload").await.unwrap();
    assert!(!state.paused.load(Ordering::SeqCst));
    assert_eq!(state.reloads.load(Ordering::SeqCst), 1);

    state.reload_fails.store(true, Ordering::SeqCst);
    let err = client.simple_query("RELOAD; PAUSE").await.unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "F0000");
    assert_eq!(
        state.pause_calls.load(Ordering::SeqCst),
        2,
        "PAUSE after the error skipped"
    );

    for bad in ["SHOW NOTHING", "DROP TABLE x", "SHOW"] {
        let err = client.simple_query(bad).await.unwrap_err();
        assert_eq!(err.as_db_error().unwrap().code().code(), "42601", "{bad}");
    }
    // tokio-postgres' query() is Parse/Bind/Execute/Sync.
    let err = client.query("SHOW POOLS", &[]).await.unwrap_err();
    assert_eq!(err.as_db_error().unwrap().code().code(), "0A000");
    assert!(rows(&client.simple_query(" ; ").await.unwrap()).is_empty());
    assert_eq!(
        rows(&client.simple_query("SHOW STATS").await.unwrap()).len(),
        1,
        "still usable"
    );

    drop(client);
    assert!(task.await.unwrap().is_ok());
}

#[tokio::test]
async fn oversized_and_unknown_messages_are_fatal() {
    for msg in [
        // A Query announcing 1 MiB, over the 4096-byte limit.
        vec![b'Q', 0, 0x10, 0, 0],
        // 'p' (a password message) is not valid after startup.
        vec![b'p', 0, 0, 0, 5, 0],
    ] {
        let state = Arc::new(FakeState::default());
        let (port, task) = console_server(state).await;
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let startup = [0, 0, 0, 8, 0, 3, 0, 0];
        s.write_all(&startup).await.unwrap();
        s.write_all(&msg).await.unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert!(text.contains("FATAL") && text.contains("08P01"), "{text}");
        assert!(matches!(task.await.unwrap(), Err(ProxyError::Protocol(_))));
    }
}

async fn http_get(port: u16, method: &str, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn http_serves_metrics_and_health_until_shutdown() {
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    metrics.bans.with_label_values(&["n1"]).inc();
    metrics.topology_changes.set(3);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_metrics_on(listener, metrics, async {
        let _ = stopped.await;
    }));

    let m = http_get(port, "GET", "/metrics").await;
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("text/plain; version=0.0.4"));
    assert!(
        m.contains("rustydb_proxy_backend_bans_total{backend=\"n1\"} 1"),
        "{m}"
    );
    assert!(m.contains("rustydb_proxy_topology_changes 3"));
    let h = http_get(port, "GET", "/health").await;
    assert!(h.starts_with("HTTP/1.1 200") && h.ends_with("ok\n"), "{h}");
    assert!(http_get(port, "POST", "/metrics")
        .await
        .starts_with("HTTP/1.1 405"));
    assert!(http_get(port, "GET", "/nope")
        .await
        .starts_with("HTTP/1.1 404"));

    stop.send(()).unwrap();
    assert!(server.await.unwrap().is_ok());
    assert!(serve_metrics(
        "256.0.0.1:0",
        Arc::new(ProxyMetrics::new().unwrap()),
        async {}
    )
    .await
    .is_err());
}

#[tokio::test]
async fn pipelined_bytes_and_function_calls() {
    use crate::wire::Frame;
    let state = FakeState::default();
    let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
    // The caller's reader already holds a Query; a FunctionCall and a
    // Terminate arrive on the stream.
    let mut buffered = bytes::BytesMut::new();
    buffered.extend_from_slice(Frame::new(b'Q', b"SHOW VERSION\0").raw());
    theirs
        .write_all(Frame::new(b'F', &[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]).raw())
        .await
        .unwrap();
    theirs.write_all(Frame::new(b'X', b"").raw()).await.unwrap();
    run_console_buffered(&mut ours, buffered, &state, 4096)
        .await
        .unwrap();
    drop(ours);
    let mut out = Vec::new();
    theirs.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let version = text.find("RustyDB proxy").unwrap();
    let refused = text.find("0A000").unwrap();
    assert!(version < refused, "answers in order: {text}");
    assert_eq!(out.iter().filter(|b| **b == b'Z').count(), 2, "{text}");
}
