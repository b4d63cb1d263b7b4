//! End-to-end tests of the topology handle against in-process servers: a
//! tiny fake pgwire server standing in for PostgreSQL (it answers the
//! health check query from a settable state; real-server behaviour is the
//! integration suite's job) and a hyper server speaking the manager's real
//! `/topology?wait=` protocol with `rustydb_manager_api::Topology` JSON.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use rustydb_manager_api as api;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{Role, Topology};
use crate::config::ProxyConfig;
use crate::metrics::ProxyMetrics;
use crate::wire::messages;

/// What a fake server answers to the health check.
#[derive(Clone)]
struct FakeState {
    up: bool,
    /// Accept and read, never answer.
    hang: bool,
    in_recovery: bool,
    lsn: Option<String>,
}

struct FakePg {
    addr: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakePg {
    async fn start(in_recovery: bool, lsn: &str) -> FakePg {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(FakeState {
            up: true,
            hang: false,
            in_recovery,
            lsn: Some(lsn.to_string()),
        }));
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_pg(stream, s.clone()));
            }
        });
        FakePg { addr, state }
    }

    fn set(&self, up: bool, in_recovery: bool, lsn: Option<&str>) {
        *self.state.lock() = FakeState {
            up,
            hang: false,
            in_recovery,
            lsn: lsn.map(str::to_string),
        };
    }
}

/// Startup (no auth), then every simple query gets the check's row.
async fn serve_pg(mut stream: TcpStream, state: Arc<Mutex<FakeState>>) -> std::io::Result<()> {
    loop {
        let len = stream.read_u32().await? as usize;
        let mut body = vec![0; len.saturating_sub(4)];
        stream.read_exact(&mut body).await?;
        if body.get(..4) == Some(&[0x04, 0xd2, 0x16, 0x2f]) {
            stream.write_all(b"N").await?; // SSLRequest: no TLS here
            continue;
        }
        break;
    }
    if !state.lock().up {
        return Ok(());
    }
    stream.write_all(&messages::auth_ok()).await?;
    stream
        .write_all(&messages::parameter_status("server_version", "15.0"))
        .await?;
    stream.write_all(&messages::backend_key_data(1, 2)).await?;
    stream.write_all(&messages::ready_for_query(b'I')).await?;
    loop {
        let tag = stream.read_u8().await?;
        let len = stream.read_u32().await? as usize;
        let mut body = vec![0; len.saturating_sub(4)];
        stream.read_exact(&mut body).await?;
        let st = state.lock().clone();
        if tag == b'X' || !st.up {
            return Ok(());
        }
        if st.hang {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let recovery = if st.in_recovery { "t" } else { "f" };
        let mut out = Vec::new();
        out.extend_from_slice(&messages::row_description(&["r", "l"]));
        out.extend_from_slice(&messages::data_row(&[Some(recovery), st.lsn.as_deref()]));
        out.extend_from_slice(&messages::command_complete("SELECT 1"));
        out.extend_from_slice(&messages::ready_for_query(b'I'));
        stream.write_all(&out).await?;
    }
}

fn config(f: impl FnOnce(&mut ProxyConfig)) -> Arc<ProxyConfig> {
    let mut c = ProxyConfig::default();
    c.health.interval_ms = 50;
    c.health.timeout_ms = 500;
    c.health.ban_ms = 400;
    f(&mut c);
    Arc::new(c)
}

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn static_mode_detects_roles_lag_and_a_promotion() {
    let a = FakePg::start(false, "0/1000").await;
    let b = FakePg::start(true, "0/800").await;
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    let cfg = config(|c| c.backends = vec![a.addr.clone(), b.addr.clone()]);
    let topo = Topology::start(cfg, metrics.clone()).unwrap();
    let (ida, idb) = (a.addr.clone(), b.addr.clone());
    assert!(
        topo.wait_for(
            |s| s.primary().is_some_and(|p| p.id == ida)
                && s.get(&idb).is_some_and(|r| r.role == Role::Replica
                    && r.healthy
                    && r.lag_bytes == Some(0x800)),
            WAIT
        )
        .await,
        "{:?}",
        topo.snapshot()
    );
    let v = topo.snapshot().version;
    assert!(v >= 1);

    // The primary dies, the replica is promoted (plain PostgreSQL failover).
    a.set(false, false, None);
    b.set(true, false, Some("0/900"));
    assert!(
        topo.wait_for(
            |s| s.primary().is_some_and(|p| p.id == idb)
                && s.get(&ida)
                    .is_some_and(|x| x.role == Role::Unknown && !x.healthy && x.banned),
            WAIT
        )
        .await,
        "{:?}",
        topo.snapshot()
    );
    assert!(topo.snapshot().version > v);
    assert_eq!(
        metrics.bans.with_label_values(&[&ida]).get(),
        1,
        "one ban, extended while down"
    );
    assert!(metrics.topology_changes.get() >= 2);

    // The old primary comes back as a standby; its ban runs out by itself.
    a.set(true, true, Some("0/900"));
    assert!(
        topo.wait_for(
            |s| s
                .get(&ida)
                .is_some_and(|x| x.role == Role::Replica && x.healthy && !x.banned),
            WAIT
        )
        .await,
        "{:?}",
        topo.snapshot()
    );
}

#[tokio::test]
async fn reported_failures_ban_for_ban_ms_and_unknown_ids_are_ignored() {
    let a = FakePg::start(false, "0/10").await;
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    let cfg = config(|c| {
        c.backends = vec![a.addr.clone()];
        c.health.ban_ms = 300;
    });
    let topo = Topology::start(cfg, metrics.clone()).unwrap();
    let id = a.addr.clone();
    assert!(topo.wait_for(|s| s.primary().is_some(), WAIT).await);
    topo.report_failure(&id, "connection reset");
    topo.report_failure(&id, "connection reset");
    let snap = topo.snapshot();
    assert!(snap.get(&id).unwrap().banned, "banned at once");
    assert_eq!(metrics.bans.with_label_values(&[&id]).get(), 1);
    topo.report_failure("nobody:1", "x");
    assert!(snap.get("nobody:1").is_none());
    let started = std::time::Instant::now();
    assert!(topo.wait_for(|s| !s.get(&id).unwrap().banned, WAIT).await);
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "ban lasted ban_ms"
    );
    assert!(topo.snapshot().get(&id).unwrap().healthy);
}

#[tokio::test]
async fn a_backend_that_stops_answering_fails_its_check_in_time() {
    let a = FakePg::start(false, "0/10").await;
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    let cfg = config(|c| {
        c.backends = vec![a.addr.clone()];
        c.health.timeout_ms = 200;
    });
    let topo = Topology::start(cfg, metrics).unwrap();
    let id = a.addr.clone();
    assert!(
        topo.wait_for(|s| s.primary().is_some_and(|p| p.healthy), WAIT)
            .await
    );
    a.state.lock().hang = true;
    let started = std::time::Instant::now();
    assert!(
        topo.wait_for(|s| s.get(&id).is_some_and(|b| !b.healthy && b.banned), WAIT)
            .await
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "bounded by timeout_ms"
    );
    assert_eq!(
        topo.snapshot().primary().map(|p| p.id.clone()),
        Some(id.clone()),
        "the last seen role survives"
    );
    a.state.lock().hang = false;
    assert!(
        topo.wait_for(|s| s.get(&id).is_some_and(|b| b.healthy), WAIT)
            .await
    );
}

#[tokio::test]
async fn reload_replaces_the_static_backend_list() {
    let a = FakePg::start(false, "0/10").await;
    let b = FakePg::start(false, "0/20").await;
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    let topo = Topology::start(config(|c| c.backends = vec![a.addr.clone()]), metrics).unwrap();
    let (ida, idb) = (a.addr.clone(), b.addr.clone());
    assert!(
        topo.wait_for(|s| s.primary().is_some_and(|p| p.id == ida), WAIT)
            .await
    );
    topo.reload(config(|c| c.backends = vec![b.addr.clone()]));
    assert!(
        topo.wait_for(
            |s| s.backends.len() == 1 && s.primary().is_some_and(|p| p.id == idb),
            WAIT
        )
        .await
    );
}

/// A manager member serving `/topology` with the real long-poll semantics.
struct FakeManager {
    url: String,
    tx: Arc<watch::Sender<api::Topology>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl FakeManager {
    async fn start(initial: api::Topology) -> FakeManager {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let tx = Arc::new(watch::channel(initial).0);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (t, r) = (tx.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (t, r) = (t.clone(), r.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (t, r) = (t.clone(), r.clone());
                        async move { Ok::<_, Infallible>(answer(req, &t, &r).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeManager { url, tx, requests }
    }

    fn publish(&self, mut t: api::Topology) {
        t.index = self.tx.borrow().index + 1;
        self.tx.send_replace(t);
    }
}

async fn answer(
    req: Request<hyper::body::Incoming>,
    tx: &watch::Sender<api::Topology>,
    requests: &Mutex<Vec<String>>,
) -> Response<Full<Bytes>> {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    requests.lock().push(pq);
    if req.uri().path() != "/topology" {
        return Response::builder()
            .status(404)
            .body(Full::new(Bytes::new()))
            .unwrap();
    }
    let wait = req
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("wait="))
        .and_then(|v| v.parse::<u64>().ok());
    let mut rx = tx.subscribe();
    if let Some(index) = wait {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while rx.borrow_and_update().index <= index {
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                break;
            }
        }
    }
    let body = serde_json::to_vec(&*rx.borrow()).unwrap();
    Response::new(Full::new(Bytes::from(body)))
}

fn manager_view(
    primary: (&str, &FakePg),
    replica: (&str, &FakePg),
    replica_healthy: bool,
) -> api::Topology {
    let (h, p) = primary.1.addr.rsplit_once(':').unwrap();
    let (rh, rp) = replica.1.addr.rsplit_once(':').unwrap();
    api::Topology {
        index: 0,
        primary: Some(api::TopologyPrimary {
            name: primary.0.into(),
            host: h.into(),
            port: p.parse().unwrap(),
            datacenter: "dc1".into(),
            region: String::new(),
            lsn: Some(100),
            timeline: 1,
        }),
        replicas: vec![api::TopologyReplica {
            name: replica.0.into(),
            host: rh.into(),
            port: rp.parse().unwrap(),
            datacenter: "dc2".into(),
            region: String::new(),
            lsn: Some(90),
            lag_bytes: Some(10),
            lag_ms: Some(1.5),
            noloadbalance: false,
            sync: true,
            healthy: replica_healthy,
        }],
    }
}

#[tokio::test]
async fn dynamic_mode_follows_the_manager_and_rotates_members() {
    let a = FakePg::start(false, "0/100").await;
    let b = FakePg::start(true, "0/80").await;
    let manager = FakeManager::start(manager_view(("n1", &a), ("n2", &b), true)).await;
    // The first URL refuses connections, the second accepts and never
    // answers: the watcher must move on from both.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let hung = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hung_url = format!("http://{}", hung.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hung.accept().await {
            held.push(s);
        }
    });
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    let cfg = config(|c| c.manager = vec![dead_url, hung_url, manager.url.clone()]);
    let topo = Topology::start(cfg, metrics.clone()).unwrap();
    assert!(
        topo.wait_for(
            |s| s
                .primary()
                .is_some_and(|p| p.id == "n1" && p.datacenter == "dc1")
                && s.get("n2").is_some_and(|r| r.role == Role::Replica
                    && r.sync
                    && r.addr == b.addr
                    && r.lag_ms == Some(1.5)
                    && r.replay_lsn == Some(0x80)
                    && r.lag_bytes == Some(0x80)),
            WAIT
        )
        .await,
        "{:?}",
        topo.snapshot()
    );

    // Failover decided by the manager: the long poll returns at once.
    b.set(true, false, Some("0/90"));
    a.set(true, true, Some("0/90"));
    let started = std::time::Instant::now();
    manager.publish(manager_view(("n2", &b), ("n1", &a), false));
    assert!(
        topo.wait_for(
            |s| s.primary().is_some_and(|p| p.id == "n2")
                && s.get("n1").is_some_and(|r| r.role == Role::Replica),
            WAIT
        )
        .await,
        "{:?}",
        topo.snapshot()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "long poll, not a 30 s round"
    );
    let requests = manager.requests.lock().clone();
    assert_eq!(requests.first().map(String::as_str), Some("/topology"));
    assert!(
        requests.iter().any(|r| r.starts_with("/topology?wait=")),
        "{requests:?}"
    );

    // A member that disappears from the manager's view disappears here.
    let mut only = manager_view(("n2", &b), ("n1", &a), false);
    only.replicas.clear();
    manager.publish(only);
    assert!(topo.wait_for(|s| s.backends.len() == 1, WAIT).await);
    assert!(metrics.topology_changes.get() >= 3);
}

#[tokio::test]
async fn start_needs_backends() {
    let metrics = Arc::new(ProxyMetrics::new().unwrap());
    assert!(Topology::start(Arc::new(ProxyConfig::default()), metrics).is_err());
}
