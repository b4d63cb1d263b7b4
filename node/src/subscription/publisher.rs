//! Talking to the publisher: finding its primary, slots, the change stream.
//!
//! The connection string lists one or more pgwire addresses (a publisher
//! cluster's nodes, or its proxy). `find_primary` tries them in order, asks
//! each `SELECT pg_is_in_recovery()` and `SHOW rustydb.admin_endpoint`, and
//! returns the first primary's admin HTTP address: slots are written only
//! on the primary, and reading the stream there means a failover of the
//! publisher is just "reconnect, find the new primary, resume from the
//! stored LSN" (slot positions replicate with the publisher's data).
//!
//! HTTP is hyper's client, one connection per request; the stream's
//! response body is read frame by frame by the worker (`Stream::chunk`).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustydb_sql::subscription::ConnInfo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long one pgwire or HTTP step may take before we give up on a host.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure talking to the publisher, with the text shown to users.
#[derive(Debug, Clone, PartialEq)]
pub struct PublisherError(pub String);

impl std::fmt::Display for PublisherError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(s: impl Into<String>) -> PublisherError {
    PublisherError(s.into())
}

/// Asks one pgwire address whether it is the primary, and its admin endpoint.
async fn probe(info: &ConnInfo, host: &str, port: u16) -> Result<(bool, String), PublisherError> {
    let mut conf = tokio_postgres::Config::new();
    let user = info.user.clone().unwrap_or_else(|| "postgres".into());
    conf.host(host)
        .port(port)
        .user(&user)
        .dbname(info.dbname.as_deref().unwrap_or(&user))
        .application_name("rustydb_subscription")
        .connect_timeout(STEP_TIMEOUT);
    if let Some(pw) = &info.password {
        conf.password(pw);
    }
    let fail = |e: tokio_postgres::Error| {
        let detail = match e.as_db_error() {
            Some(db) => db.message().to_string(),
            None => e.to_string(),
        };
        err(format!(
            "could not connect to the publisher at {host}:{port}: {detail}"
        ))
    };
    let (client, connection) =
        tokio::time::timeout(STEP_TIMEOUT, conf.connect(tokio_postgres::NoTls))
            .await
            .map_err(|_| {
                err(format!(
                    "could not connect to the publisher at {host}:{port}: timeout"
                ))
            })?
            .map_err(fail)?;
    let conn = tokio::spawn(connection);
    let result = async {
        let rows = client
            .simple_query("SELECT pg_is_in_recovery()::text; SHOW rustydb.admin_endpoint")
            .await
            .map_err(fail)?;
        let values: Vec<String> = rows
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
                _ => None,
            })
            .collect();
        let [recovery, endpoint] = values.as_slice() else {
            return Err(err(format!(
                "publisher at {host}:{port} gave an unexpected answer"
            )));
        };
        Ok((
            recovery == "false" || recovery == "f",
            fix_endpoint(endpoint, host),
        ))
    };
    let out = tokio::time::timeout(STEP_TIMEOUT, result)
        .await
        .map_err(|_| err(format!("publisher at {host}:{port} did not answer")))?;
    drop(client);
    conn.abort();
    out
}

/// An admin endpoint bound to a wildcard address is reached at the host we
/// connected to.
fn fix_endpoint(endpoint: &str, host: &str) -> String {
    match endpoint.rsplit_once(':') {
        Some(("0.0.0.0" | "[::]" | "::" | "", port)) => {
            format!("{host}:{port}")
        }
        _ => endpoint.to_string(),
    }
}

/// The admin address of the first primary among the listed hosts.
pub async fn find_primary(info: &ConnInfo) -> Result<String, PublisherError> {
    let mut errors = vec![];
    for (host, port) in &info.hosts {
        match probe(info, host, *port).await {
            Ok((true, endpoint)) => return Ok(endpoint),
            Ok((false, _)) => errors.push(format!("{host}:{port} is in recovery")),
            Err(e) => errors.push(e.0),
        }
    }
    Err(err(format!(
        "no primary publisher reachable: {}",
        errors.join("; ")
    )))
}

/// An open HTTP response; the connection task ends with it.
pub struct Response {
    pub status: StatusCode,
    body: Incoming,
    conn: JoinHandle<()>,
}

impl Drop for Response {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

impl Response {
    /// The next chunk of the body; `None` at its end.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, PublisherError> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(err(format!("change stream broke: {e}"))),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }

    /// The whole body as text (small answers only).
    pub async fn text(mut self) -> String {
        let mut out = Vec::new();
        while let Ok(Some(c)) = tokio::time::timeout(STEP_TIMEOUT, self.chunk())
            .await
            .unwrap_or(Ok(None))
        {
            out.extend_from_slice(&c);
            if out.len() > 1 << 20 {
                break;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// Sends one request to `addr` (`host:port`).
pub async fn request(
    addr: &str,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> Result<Response, PublisherError> {
    let stream = tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| err(format!("publisher admin API {addr}: connect timeout")))?
        .map_err(|e| err(format!("publisher admin API {addr}: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| err(format!("publisher admin API {addr}: {e}")))?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .map_err(|e| err(format!("bad request: {e}")))?;
    let resp = match tokio::time::timeout(STEP_TIMEOUT, sender.send_request(req)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            conn.abort();
            return Err(err(format!("publisher admin API {addr}: {e}")));
        }
        Err(_) => {
            conn.abort();
            return Err(err(format!("publisher admin API {addr}: no answer")));
        }
    };
    Ok(Response {
        status: resp.status(),
        body: resp.into_body(),
        conn,
    })
}

/// Percent-encodes a query parameter value.
pub fn encode(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `POST /slots` on the primary. An existing slot is an error, as in
/// PostgreSQL's CREATE SUBSCRIPTION.
pub async fn create_slot(
    info: &ConnInfo,
    slot: &str,
    publication: &str,
) -> Result<(), PublisherError> {
    let addr = find_primary(info).await?;
    let resp = request(
        &addr,
        Method::POST,
        "/slots",
        Some(serde_json::json!({"name": slot, "publication": publication})),
    )
    .await?;
    let status = resp.status;
    if status == StatusCode::CREATED || status == StatusCode::OK {
        return Ok(());
    }
    let body = resp.text().await;
    let why = match status {
        StatusCode::CONFLICT => format!("replication slot \"{slot}\" already exists"),
        StatusCode::NOT_FOUND => format!("publication \"{publication}\" does not exist"),
        _ => format!("HTTP {status}: {}", body.trim()),
    };
    Err(err(format!(
        "could not create replication slot \"{slot}\": ERROR:  {why}"
    )))
}

/// `DELETE /slots/{name}` on the primary: `Ok(true)` when dropped or
/// already gone, `Ok(false)` when no primary could be reached.
pub async fn drop_slot(info: &ConnInfo, slot: &str) -> Result<bool, PublisherError> {
    let Ok(addr) = find_primary(info).await else {
        return Ok(false);
    };
    let resp = request(
        &addr,
        Method::DELETE,
        &format!("/slots/{}", encode(slot)),
        None,
    )
    .await?;
    match resp.status {
        StatusCode::NO_CONTENT | StatusCode::OK | StatusCode::NOT_FOUND => Ok(true),
        s => {
            let body = resp.text().await;
            Err(err(format!(
                "could not drop replication slot \"{slot}\" on publisher: HTTP {s}: {}",
                body.trim()
            )))
        }
    }
}

/// `POST /slots/{name}/confirm`.
pub async fn confirm(addr: &str, slot: &str, lsn: u64) -> Result<(), PublisherError> {
    let resp = request(
        addr,
        Method::POST,
        &format!("/slots/{}/confirm", encode(slot)),
        Some(serde_json::json!({"lsn": lsn})),
    )
    .await?;
    if resp.status.is_success() {
        Ok(())
    } else {
        let s = resp.status;
        Err(err(format!(
            "confirm of slot \"{slot}\" failed: HTTP {s}: {}",
            resp.text().await.trim()
        )))
    }
}

/// Opens `GET /changes` for a publication.
pub async fn open_stream(
    addr: &str,
    publication: &str,
    slot: Option<&str>,
    from_lsn: Option<u64>,
    snapshot: bool,
    list_tables: bool,
    refresh: Option<&[String]>,
) -> Result<Response, PublisherError> {
    let mut path = format!("/changes?publication={}", encode(publication));
    if let Some(s) = slot {
        path.push_str(&format!("&slot={}", encode(s)));
    }
    if let Some(l) = from_lsn {
        path.push_str(&format!("&from_lsn={l}"));
    }
    if snapshot {
        path.push_str("&snapshot=true");
    }
    if list_tables {
        path.push_str("&tables=true");
    }
    if let Some(known) = refresh {
        path.push_str(&format!("&refresh={}", encode(&known.join(","))));
    }
    let resp = request(addr, Method::GET, &path, None).await?;
    if resp.status != StatusCode::OK {
        let s = resp.status;
        let body = resp.text().await;
        return Err(err(format!(
            "publisher refused the change stream for publication \"{publication}\": HTTP {s}: {}",
            body.trim()
        )));
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_encoding() {
        assert_eq!(fix_endpoint("0.0.0.0:9000", "10.0.0.2"), "10.0.0.2:9000");
        assert_eq!(fix_endpoint("127.0.0.1:9000", "x"), "127.0.0.1:9000");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
