//! The admin API routes of logical replication.
//!
//! | route | does |
//! |---|---|
//! | `POST /slots` `{"name":"s1","publication":"p"[,"database":"postgres"]}` | 201 slot at the current LSN; 409 exists / replica; 404 unknown publication |
//! | `GET /slots` | JSON array of slots (with `lag_records`, `active`) |
//! | `DELETE /slots/{name}` | 204, 404 |
//! | `POST /slots/{name}/confirm` `{"lsn":N}` | 200, moves the confirmed LSN forward only |
//! | `GET /changes?publication=p[&slot=s][&from_lsn=L][&snapshot=true][&wait_ms=W][&database=d][&tables=true][&refresh=t1,t2]` | 200 NDJSON stream (see `stream`) |
//!
//! Every other admin route returns a complete body; `/changes` streams, so
//! the admin server's responses use a boxed body type and this module hands
//! back either kind. Slot writes run on blocking threads (they commit).

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use rustydb_sql::publication::decode::Decoder;
use rustydb_sql::publication::slots::SlotDef;
use serde_json::json;

use super::slots::{self, SlotError};
use super::stream::{self, StreamPlan};
use crate::admin::AdminState;

/// The admin server's response body: complete or streamed.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Chunks (a transaction or a run of them each, at most 256 KiB)
/// buffered between the WAL reader and the socket.
const CHANNEL_CHUNKS: usize = 16;
/// Largest slot request body.
const MAX_BODY: usize = 64 << 10;

/// Whether a path belongs to this module.
pub fn handles(path: &str) -> bool {
    path == "/changes" || path == "/slots" || path.starts_with("/slots/")
}

fn full(code: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed_unsync());
    *r.status_mut() = code;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(code: StatusCode, message: &str) -> Response<Body> {
    full(code, json!({"error": message}))
}

fn slot_error(e: &SlotError) -> Response<Body> {
    let code = match e {
        SlotError::Exists(_) | SlotError::ReadOnly => StatusCode::CONFLICT,
        SlotError::Missing(_) | SlotError::NoPublication(_) | SlotError::NoDatabase(_) => {
            StatusCode::NOT_FOUND
        }
        SlotError::Invalid(_) => StatusCode::BAD_REQUEST,
        SlotError::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(code, &e.to_string())
}

fn slot_json(s: &SlotDef, current: u64, active: bool) -> serde_json::Value {
    json!({
        "name": s.name,
        "publication": s.publication,
        "database": s.database,
        "confirmed_lsn": s.confirmed_lsn,
        "created_lsn": s.created_lsn,
        "lag_records": current.saturating_sub(s.confirmed_lsn),
        "active": active,
        "invalidated": s.invalidated.is_some(),
        "invalidation_reason": s.invalidated,
    })
}

/// Runs a blocking slot operation off the runtime.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SlotError> + Send + 'static,
) -> Result<T, SlotError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(SlotError::Storage(format!("task failed: {e}"))))
}

/// Routes a request under `/slots` or `/changes`.
pub async fn route(state: &AdminState, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let engine = state.engine.clone();
    match (method, path.as_str()) {
        (Method::GET, "/changes") => changes(state, req.uri().query().unwrap_or("")).await,
        (_, "/changes") => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        (Method::GET, "/slots") => {
            let e = engine.clone();
            match blocking(move || slots::list(&e)).await {
                Ok(list) => {
                    let current = engine.storage().current_lsn().0;
                    let items: Vec<_> = list
                        .iter()
                        .map(|s| slot_json(s, current, engine.slot_activity.is_active(&s.name)))
                        .collect();
                    full(StatusCode::OK, serde_json::Value::Array(items))
                }
                Err(e) => slot_error(&e),
            }
        }
        (Method::POST, "/slots") => {
            let body = match read_json(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_string);
            let (Some(name), Some(publication)) = (field("name"), field("publication")) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "body must be {\"name\": \"...\", \"publication\": \"...\"}",
                );
            };
            let database = field("database").unwrap_or_else(|| "postgres".into());
            match blocking(move || slots::create(&engine, &name, &publication, &database)).await {
                Ok(s) => full(
                    StatusCode::CREATED,
                    json!({"name": s.name, "publication": s.publication, "confirmed_lsn": s.confirmed_lsn}),
                ),
                Err(e) => slot_error(&e),
            }
        }
        (method, p) if p.starts_with("/slots/") => {
            let rest = &p["/slots/".len()..];
            match (method, rest.strip_suffix("/confirm")) {
                (Method::POST, Some(name)) => {
                    let name = name.to_string();
                    let body = match read_json(req).await {
                        Ok(b) => b,
                        Err(r) => return r,
                    };
                    let Some(lsn) = body.get("lsn").and_then(|v| v.as_u64()) else {
                        return error(StatusCode::BAD_REQUEST, "body must be {\"lsn\": N}");
                    };
                    match blocking(move || slots::confirm(&engine, &name, lsn)).await {
                        Ok(s) => full(
                            StatusCode::OK,
                            json!({"name": s.name, "confirmed_lsn": s.confirmed_lsn}),
                        ),
                        Err(e) => slot_error(&e),
                    }
                }
                (Method::DELETE, None) => {
                    let name = rest.to_string();
                    match blocking(move || slots::drop_slot(&engine, &name)).await {
                        Ok(()) => {
                            let mut r = Response::new(Full::new(Bytes::new()).boxed_unsync());
                            *r.status_mut() = StatusCode::NO_CONTENT;
                            r
                        }
                        Err(e) => slot_error(&e),
                    }
                }
                (Method::GET, None) => {
                    let name = rest.to_string();
                    let e = engine.clone();
                    match blocking(move || slots::get(&e, &name)).await {
                        Ok(s) => full(
                            StatusCode::OK,
                            slot_json(
                                &s,
                                engine.storage().current_lsn().0,
                                engine.slot_activity.is_active(&s.name),
                            ),
                        ),
                        Err(e) => slot_error(&e),
                    }
                }
                _ => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        (_, "/slots") => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
        _ => error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Decodes `%XX` and `+` in a query component.
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes.get(i).copied().unwrap_or(b' ') {
            b'+' => out.push(b' '),
            b'%' => match s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                Some(b) => {
                    out.push(b);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (unescape(k) == name).then(|| unescape(v))
    })
}

/// `GET /changes`: validates, builds the decoder, starts the producer.
async fn changes(state: &AdminState, query: &str) -> Response<Body> {
    let Some(publication) = query_param(query, "publication") else {
        return error(StatusCode::BAD_REQUEST, "publication is required");
    };
    let database = query_param(query, "database").unwrap_or_else(|| "postgres".into());
    let slot = query_param(query, "slot");
    let number = |name: &str| -> Result<Option<u64>, String> {
        match query_param(query, name) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name} must be a non-negative integer")),
        }
    };
    let (from_lsn, wait_ms) = match (number("from_lsn"), number("wait_ms")) {
        (Ok(f), Ok(w)) => (f, w),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let flag = |name: &str| {
        matches!(
            query_param(query, name).as_deref(),
            Some("true" | "1" | "on" | "yes")
        )
    };
    let snapshot = flag("snapshot");
    let list_tables = flag("tables");
    // `refresh=public.a,public.b`: the tables the consumer already has.
    let refresh: Option<Vec<String>> = query_param(query, "refresh").map(|v| {
        v.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect()
    });
    if snapshot && refresh.is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "snapshot and refresh cannot be combined",
        );
    }
    let engine = state.engine.clone();
    let slot_def = match &slot {
        Some(name) => {
            let (e, n) = (engine.clone(), name.clone());
            match blocking(move || slots::get(&e, &n)).await {
                Ok(s) => Some(s),
                Err(e) => return slot_error(&e),
            }
        }
        None => None,
    };
    if let Some(s) = &slot_def {
        if let Some(reason) = &s.invalidated {
            return error(
                StatusCode::GONE,
                &format!("replication slot \"{}\" is invalidated: {reason}", s.name),
            );
        }
        if s.publication != publication {
            return error(
                StatusCode::BAD_REQUEST,
                &format!(
                    "replication slot \"{}\" belongs to publication \"{}\"",
                    s.name, s.publication
                ),
            );
        }
    }
    let after = match (from_lsn, &slot_def) {
        (Some(l), _) => l,
        (None, Some(s)) => s.confirmed_lsn,
        (None, None) if snapshot => 0,
        (None, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                "from_lsn or slot is required (or snapshot=true)",
            )
        }
    };
    if let Some(s) = &slot_def {
        // A slot guarantees WAL from its confirmed LSN only.
        if after < s.confirmed_lsn && !snapshot {
            return error(
                StatusCode::GONE,
                &format!(
                    "from_lsn {after} is before slot \"{}\"'s confirmed LSN {}",
                    s.name, s.confirmed_lsn
                ),
            );
        }
    }
    if !snapshot {
        let rocks = state.replication.rocks();
        let oldest = rocks.oldest_wal_lsn().ok().flatten().map(|l| l.0);
        let last = rocks.last_lsn().0;
        let needed = after + 1;
        let gone = match oldest {
            Some(o) => needed < o,
            None => needed <= last,
        };
        if gone {
            return error(
                StatusCode::GONE,
                &format!("WAL from LSN {needed} has been removed; restart from a snapshot"),
            );
        }
    }
    let decoder = {
        let (e, d, p) = (engine.clone(), database.clone(), publication.clone());
        match tokio::task::spawn_blocking(move || Decoder::new(&e, &d, &p)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => return error(StatusCode::NOT_FOUND, &e.message()),
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    };
    let active = match &slot {
        Some(name) => {
            if !engine.slot_activity.acquire(name) {
                return error(
                    StatusCode::CONFLICT,
                    &format!("replication slot \"{name}\" is active for another stream"),
                );
            }
            Some(name.clone())
        }
        None => None,
    };
    let plan = StreamPlan {
        decoder,
        after,
        snapshot,
        refresh,
        list_tables,
        slot,
        idle_limit: wait_ms.map(Duration::from_millis),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let repl = state.replication.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || stream::produce(repl, engine, plan, tx, runtime, active));
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    let mut r = Response::new(StreamBody::new(frames).boxed_unsync());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/x-ndjson"),
    );
    r
}

async fn read_json(req: Request<Incoming>) -> Result<serde_json::Value, Response<Body>> {
    let collected = http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("cannot read body: {e}"),
            )
        })?;
    let bytes = collected.to_bytes();
    if bytes.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_queries() {
        let q = "publication=p%201&from_lsn=5&snapshot";
        assert_eq!(query_param(q, "publication").as_deref(), Some("p 1"));
        assert_eq!(query_param(q, "from_lsn").as_deref(), Some("5"));
        assert_eq!(query_param(q, "snapshot").as_deref(), Some(""));
        assert_eq!(query_param(q, "slot"), None);
        assert_eq!(unescape("%zz%4"), "%zz%4");
    }
}
