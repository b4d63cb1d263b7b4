//! `rustydb wan-relay`: a TCP relay that behaves like a WAN link.
//!
//! For tests, demos and benchmarks of geo setups on one machine: every
//! byte crossing the relay is delayed, in each direction, by half the
//! configured round-trip latency; optionally throttled to a bandwidth and
//! hit by "loss" (TCP cannot lose bytes, so a lost segment shows up the
//! way it does on a real link: as a retransmission delay, here three
//! round trips, with head-of-line blocking behind it). A partition switch
//! cuts every connection and refuses new ones until healed.
//!
//! ```text
//!   client ──► listen ─[reader]─► queue (deliver_at, bytes) ─[writer]─► target
//!          ◄──────────[writer]◄── queue ◄─────────────────[reader]◄──
//! ```
//!
//! Readers never wait for the delay: they stamp each chunk with its
//! delivery time and queue it, so the link stays pipelined (throughput is
//! not capped at one window per round trip, as on a real long fat pipe);
//! writers deliver chunks in order at their time. One relay process can
//! carry several routes (`--route LISTEN=TARGET`, e.g. a node's pgwire
//! port and its WAL sender port), all sharing one link state.
//!
//! A side that closes its connection (EOF) has its in-flight bytes
//! delivered before the close is passed on, as on a real link; only a
//! partition drops bytes in flight.
//!
//! Control (`--control ADDR`, HTTP): `POST /partition`, `POST /heal`,
//! `POST /latency?ms=N`, `GET /status`. The state is a `watch` channel;
//! a partition closes every open connection at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The link's behaviour (changeable at run time through the control API).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinkState {
    /// Added round-trip time in ms (half of it each way).
    pub latency_ms: u64,
    /// 0: unlimited.
    pub bandwidth_kbps: u64,
    /// Percent of chunks that pay a retransmission delay.
    pub loss_pct: f64,
    pub partitioned: bool,
}

/// One listen address and where it forwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub listen: SocketAddr,
    pub target: String,
}

/// Parses `LISTEN=TARGET`.
pub fn parse_route(text: &str) -> Result<Route, String> {
    let (l, t) = text
        .split_once('=')
        .ok_or_else(|| format!("route {text}: expected LISTEN=TARGET"))?;
    let listen = l
        .parse()
        .map_err(|_| format!("route {text}: bad listen address {l}"))?;
    Ok(Route {
        listen,
        target: t.to_string(),
    })
}

/// A running relay.
pub struct Relay {
    pub state: watch::Sender<LinkState>,
    pub listening: Vec<SocketAddr>,
}

impl Relay {
    pub fn set(&self, f: impl FnOnce(&mut LinkState)) {
        self.state.send_modify(f);
    }
}

/// Starts the routes (and returns once they listen).
pub async fn start(routes: &[Route], initial: LinkState) -> Result<Arc<Relay>, String> {
    let (state, _) = watch::channel(initial);
    let mut listening = Vec::new();
    let mut listeners = Vec::new();
    for r in routes {
        let l = TcpListener::bind(r.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", r.listen))?;
        listening.push(l.local_addr().map_err(|e| e.to_string())?);
        listeners.push((l, r.target.clone()));
    }
    let relay = Arc::new(Relay { state, listening });
    for (l, target) in listeners {
        tokio::spawn(accept_loop(l, target, Arc::clone(&relay)));
    }
    Ok(relay)
}

async fn accept_loop(listener: TcpListener, target: String, relay: Arc<Relay>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if relay.state.borrow().partitioned {
            drop(client);
            continue;
        }
        let relay = Arc::clone(&relay);
        let target = target.clone();
        tokio::spawn(async move {
            // Connecting crosses the link too: one round trip.
            let rtt = relay.state.borrow().latency_ms;
            tokio::time::sleep(Duration::from_millis(rtt)).await;
            let Ok(server) = TcpStream::connect(&target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let up = pump(cr, sw, relay.state.subscribe());
            let down = pump(sr, cw, relay.state.subscribe());
            tokio::join!(up, down);
        });
    }
}

/// Moves bytes one way with the link's delay, until EOF or a partition.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Bytes)>();
    let mut state_w = state.clone();
    let writer = async move {
        while let Some((at, bytes)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if state_w.borrow_and_update().partitioned || to.write_all(&bytes).await.is_err() {
                return;
            }
            let kbps = state_w.borrow().bandwidth_kbps;
            if let Some(micros) = (bytes.len() as u64 * 8 * 1000).checked_div(kbps) {
                tokio::time::sleep(Duration::from_micros(micros)).await;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = tokio::select! {
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                _ = state.changed() => {
                    if state.borrow().partitioned {
                        return;
                    }
                    continue;
                }
            };
            let link = *state.borrow();
            if link.partitioned {
                return;
            }
            let mut delay = Duration::from_millis(link.latency_ms) / 2;
            if link.loss_pct > 0.0 && rand_pct() < link.loss_pct {
                delay += Duration::from_millis(link.latency_ms.max(10) * 3);
            }
            let chunk = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
            if tx.send((Instant::now() + delay, chunk)).is_err() {
                return;
            }
        }
    };
    // The far side gone (the writer failed): stop reading at once. The
    // near side finished (EOF): deliver what is still in flight, then
    // pass the FIN on, as a real link does; dropping the queue here would
    // eat the last frames a server sends before closing (a WAL sender's
    // "diverged" answer, say), and the client would see a bare EOF. A
    // partition ends both: the writer checks it before every chunk, and
    // the reader's end closes the queue.
    tokio::pin!(writer);
    tokio::select! {
        _ = &mut writer => {}
        _ = reader => writer.await,
    }
}

/// A cheap uniform number in [0, 100) (no cryptographic needs here).
fn rand_pct() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .elapsed()
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (h.finish() % 10_000) as f64 / 100.0
}

/// Serves the control API on `listener`.
pub async fn control(listener: TcpListener, relay: Arc<Relay>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let relay = Arc::clone(&relay);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let relay = Arc::clone(&relay);
                async move { Ok::<_, Infallible>(control_route(&relay, &req)) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn control_route<B>(relay: &Relay, req: &Request<B>) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let query = req.uri().query().unwrap_or("");
    let answer = match (req.method(), path) {
        (&Method::POST, "/partition") => {
            relay.set(|s| s.partitioned = true);
            Ok(())
        }
        (&Method::POST, "/heal") => {
            relay.set(|s| s.partitioned = false);
            Ok(())
        }
        (&Method::POST, "/latency") => match query
            .strip_prefix("ms=")
            .and_then(|v| v.parse::<u64>().ok())
        {
            Some(ms) => {
                relay.set(|s| s.latency_ms = ms);
                Ok(())
            }
            None => Err((StatusCode::BAD_REQUEST, "expected ?ms=N")),
        },
        (&Method::GET, "/status") => Ok(()),
        _ => Err((StatusCode::NOT_FOUND, "not found")),
    };
    let s = *relay.state.borrow();
    let (code, body) = match answer {
        Ok(()) => (
            StatusCode::OK,
            serde_json::json!({"latency_ms": s.latency_ms, "bandwidth_kbps": s.bandwidth_kbps,
                "loss_pct": s.loss_pct, "partitioned": s.partitioned}),
        ),
        Err((code, msg)) => (code, serde_json::json!({"error": msg})),
    };
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = code;
    r
}

/// `rustydb wan-relay`: runs until Ctrl-C / SIGTERM.
pub async fn run(
    routes: Vec<Route>,
    initial: LinkState,
    control_addr: Option<SocketAddr>,
) -> Result<(), String> {
    if routes.is_empty() {
        return Err("wan-relay needs at least one route".into());
    }
    let relay = start(&routes, initial).await?;
    if let Some(addr) = control_addr {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        tokio::spawn(control(l, Arc::clone(&relay)));
    }
    tracing::info!(?routes, ?initial, "wan relay running");
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return Ok(());
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A relay with one route to `target` and `latency_ms` one way, and a
    /// client connected through it.
    async fn relay_to(target: String, latency_ms: u64) -> (Arc<Relay>, TcpStream) {
        let route = Route {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            target,
        };
        let link = LinkState {
            latency_ms,
            bandwidth_kbps: 0,
            loss_pct: 0.0,
            partitioned: false,
        };
        let relay = match start(&[route], link).await {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let addr = relay
            .listening
            .first()
            .copied()
            .unwrap_or_else(|| panic!("no listener"));
        match TcpStream::connect(addr).await {
            Ok(c) => (relay, c),
            Err(e) => panic!("{e}"),
        }
    }

    /// A server that answers one line and closes at once: the answer must
    /// reach the client through the delayed link before the EOF does.
    #[tokio::test]
    async fn last_bytes_before_a_close_are_delivered() {
        let server = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let target = server
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tokio::spawn(async move {
            if let Ok((mut s, _)) = server.accept().await {
                let _ = s.write_all(b"diverged").await;
                let _ = s.shutdown().await;
            }
        });
        let (_relay, mut c) = relay_to(target, 60).await;
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got)).await;
        assert!(matches!(read, Ok(Ok(_))), "{read:?}");
        assert_eq!(got, b"diverged");
    }

    #[tokio::test]
    async fn delays_and_partitions() {
        let echo = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("{e}"),
        };
        let target = echo.local_addr().map(|a| a.to_string()).unwrap_or_default();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 16];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(b.get(..n).unwrap_or_default()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let (relay, mut c) = relay_to(target, 100).await;
        let t = std::time::Instant::now();
        c.write_all(b"ping").await.unwrap_or_default();
        let mut b = [0u8; 4];
        let _ = c.read_exact(&mut b).await;
        assert_eq!(&b, b"ping");
        // Connect (one RTT) then the echo (one RTT).
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
        relay.set(|s| s.partitioned = true);
        let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut b)).await;
        assert!(matches!(n, Ok(Ok(0)) | Ok(Err(_))), "{n:?}");
    }
}
