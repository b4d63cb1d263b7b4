//! `rustydb witness`: the third site's voter of the inter-site quorum.
//!
//! Automatic DR failover needs a majority of three sites to agree that
//! the primary site is gone (`site_lease.rs`). The primary and standby
//! sites vote through their manager groups; the third site needs no
//! database at all, only this small process:
//!
//! ```text
//!   rustydb witness --listen 10.3.0.1:8030 --data-dir /var/lib/rustydb-witness --site witness
//!     POST /site/renew   RenewRequest -> SiteAnswer   (the primary site, every lease/4)
//!     POST /site/vote    VoteRequest  -> SiteAnswer   (a site taking over)
//!     GET  /site/status  ballot, promise, last renewal per site
//! ```
//!
//! The voter's ballot `(epoch, holder, max_lease_ms)` lives in
//! `<data-dir>/witness.json`, written (temporary file, fsync, rename,
//! fsync of the directory) *before* an answer that depends on it leaves
//! the process; the promise and the "last heard" times are memory only
//! and are rebuilt by the restart rule (`Voter::start`). One mutex
//! serialises requests, so a vote and a renewal never interleave.
//! A file that cannot be read is an error at start, never a fresh ballot
//! (that could vote twice in one epoch).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;

use crate::site_lease::{Ballot, Outcome, RenewRequest, SiteAnswer, VoteRequest, Voter};

const STATE_FILE: &str = "witness.json";
const MAX_BODY: usize = 16 << 10;

/// The running witness.
pub struct Witness {
    voter: Mutex<Voter>,
    dir: PathBuf,
    started: Instant,
}

/// Reads the ballot (a missing file is a fresh witness).
fn load(dir: &Path) -> Result<Ballot, String> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| format!("{}: unreadable ballot: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ballot::default()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the ballot durably.
fn store(dir: &Path, ballot: &Ballot) -> Result<(), String> {
    use std::io::Write;
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    let bytes = serde_json::to_vec(ballot).map_err(|e| e.to_string())?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(STATE_FILE)).map_err(|e| format!("rename: {e}"))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("{}: {e}", dir.display()))
}

impl Witness {
    pub fn open(dir: &Path, site: &str) -> Result<Witness, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ballot = load(dir)?;
        tracing::info!(?ballot, site, "witness ballot loaded");
        Ok(Witness {
            voter: Mutex::new(Voter::start(site, ballot, Instant::now(), Duration::ZERO)),
            dir: dir.to_path_buf(),
            started: Instant::now(),
        })
    }

    /// Runs one request against the voter, persisting before answering.
    fn handle(&self, f: impl FnOnce(&mut Voter, Instant) -> Outcome) -> Result<SiteAnswer, String> {
        let mut voter = self.voter.lock();
        let before = voter.clone();
        let outcome = f(&mut voter, Instant::now());
        if outcome.persist {
            if let Err(e) = store(&self.dir, &voter.ballot) {
                // Not durable: forget the change and refuse.
                *voter = before;
                return Err(e);
            }
            tracing::warn!(epoch = voter.ballot.epoch, holder = ?voter.ballot.holder,
                reason = %outcome.answer.reason, "witness ballot changed");
        }
        Ok(outcome.answer)
    }

    pub fn status(&self) -> serde_json::Value {
        let v = self.voter.lock();
        let now = Instant::now();
        let heard: serde_json::Map<String, serde_json::Value> = v
            .heard
            .iter()
            .map(|(s, t)| {
                (
                    s.clone(),
                    serde_json::json!(now.saturating_duration_since(*t).as_millis() as u64),
                )
            })
            .collect();
        serde_json::json!({
            "site": v.site,
            "epoch": v.ballot.epoch,
            "holder": v.ballot.holder,
            "max_lease_ms": v.ballot.max_lease_ms,
            "promised_for_ms": v.promised_until.saturating_duration_since(now).as_millis() as u64,
            "heard_ms_ago": heard,
            "uptime_ms": self.started.elapsed().as_millis() as u64,
        })
    }
}

fn reply(code: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn route(w: Arc<Witness>, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if method == Method::GET && path == "/site/status" {
        return reply(StatusCode::OK, &w.status());
    }
    if method != Method::POST || !matches!(path.as_str(), "/site/renew" | "/site/vote") {
        return reply(
            StatusCode::NOT_FOUND,
            &serde_json::json!({"error": "not found"}),
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                &serde_json::json!({"error": format!("cannot read body: {e}")}),
            )
        }
    };
    let bad = |e: serde_json::Error| {
        reply(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": format!("invalid body: {e}")}),
        )
    };
    let answer = if path == "/site/renew" {
        match serde_json::from_slice::<RenewRequest>(&body) {
            Ok(r) => w.handle(|v, now| v.renew(&r, now)),
            Err(e) => return bad(e),
        }
    } else {
        match serde_json::from_slice::<VoteRequest>(&body) {
            Ok(r) => w.handle(|v, now| v.vote(&r, now)),
            Err(e) => return bad(e),
        }
    };
    match answer.and_then(|a| serde_json::to_value(a).map_err(|e| e.to_string())) {
        Ok(v) => reply(StatusCode::OK, &v),
        Err(e) => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"error": format!("cannot persist the ballot: {e}")}),
        ),
    }
}

/// Serves the witness on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, witness: Arc<Witness>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let w = Arc::clone(&witness);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let w = Arc::clone(&w);
                async move { Ok::<_, Infallible>(route(w, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// `rustydb witness`: runs until Ctrl-C / SIGTERM.
pub async fn run(listen: SocketAddr, dir: &Path, site: &str) -> Result<(), String> {
    let witness = Arc::new(Witness::open(dir, site)?);
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, site, "witness running");
    let server = tokio::spawn(serve(listener, witness));
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            server.abort();
            return Ok(());
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    server.abort();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ballot_survives_a_restart() {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        let w = Witness::open(dir.path(), "w").unwrap_or_else(|e| panic!("{e}"));
        let req = VoteRequest {
            site: "dc1".into(),
            epoch: 1,
            lost: None,
            after_ms: 0,
            lease_ms: 500,
        };
        let a = w
            .handle(|v, now| v.vote(&req, now))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.granted);
        drop(w);
        let w = Witness::open(dir.path(), "w").unwrap_or_else(|e| panic!("{e}"));
        let s = w.status();
        assert_eq!(s["epoch"], 1);
        assert_eq!(s["holder"], "dc1");
        assert_eq!(s["max_lease_ms"], 500);
    }
}
