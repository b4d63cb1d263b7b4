//! Connection startup: TLS negotiation, the startup packet, CancelRequest,
//! authentication, and opening the session.
//!
//! ```text
//!  TCP accept ─► [GSSENCRequest → 'N'] ─► [SSLRequest → 'S' + TLS | 'N']
//!            ─► StartupMessage | CancelRequest (→ set flag, close)
//!            ─► connection limit (53300) ─► authentication (trust/password/SCRAM)
//!            ─► engine.connect(user, database) (3D000 if missing)
//!            ─► AuthenticationOk, ParameterStatus*, BackendKeyData, ReadyForQuery
//! ```
//!
//! Until the stream is final (TLS decided) packets are read with exact
//! reads and no read-ahead, so no plaintext byte can be mistaken for part
//! of the TLS handshake; bytes sent after SSLRequest but before our answer
//! are refused like PostgreSQL does. Startup packets are limited to 10000
//! bytes (PostgreSQL's MAX_STARTUP_PACKET_LENGTH). The whole phase runs
//! under a timeout (`STARTUP_TIMEOUT`), like `authentication_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use pgwire::api::auth::mechanism::AuthState;
use pgwire::api::{DefaultClient, METADATA_DATABASE, METADATA_USER};
use pgwire::messages::response::{ReadyForQuery, TransactionStatus};
use pgwire::messages::startup::{
    Authentication, BackendKeyData, NegotiateProtocolVersion, ParameterStatus, SecretKey, Startup,
};
use pgwire::messages::{
    DecodeContext, Message, PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::conn::{Conn, ConnError, Io};
use super::connection::{ActiveGuard, Connection};
use super::worker::SessionHandle;
use super::Shared;

/// How long a client may take from connect to ReadyForQuery.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

const MAX_STARTUP_PACKET: usize = 10_000;
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// What a new socket turned out to be.
pub(crate) enum Started {
    /// A CancelRequest was handled; nothing more to do.
    Cancel,
    /// A ready session.
    Session(Box<Connection>),
}

/// A startup failure; carries the stream when we can still tell the client.
pub(crate) struct StartupError {
    pub(crate) conn: Option<Conn>,
    pub(crate) error: ConnError,
}

impl From<ConnError> for StartupError {
    fn from(error: ConnError) -> Self {
        StartupError { conn: None, error }
    }
}

impl From<std::io::Error> for StartupError {
    fn from(e: std::io::Error) -> Self {
        ConnError::from(e).into()
    }
}

/// Reads one untyped startup-phase packet (length word first).
async fn read_packet<S: AsyncRead + Unpin>(s: &mut S) -> Result<BytesMut, ConnError> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).await?;
    let n = i32::from_be_bytes(len);
    if n < 8 || n as usize > MAX_STARTUP_PACKET {
        return Err(ConnError::Protocol(
            "invalid length of startup packet".to_string(),
        ));
    }
    let mut buf = BytesMut::zeroed(n as usize);
    buf[..4].copy_from_slice(&len);
    s.read_exact(&mut buf[4..]).await?;
    Ok(buf)
}

fn code(packet: &[u8]) -> u32 {
    match packet.get(4..8) {
        Some(b) => u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

/// Runs the whole startup phase on an accepted socket.
pub(crate) async fn start(
    mut tcp: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
) -> Result<Started, StartupError> {
    let mut packet = read_packet(&mut tcp).await?;
    if code(&packet) == GSSENC_REQUEST {
        tcp.write_all(b"N").await?;
        packet = read_packet(&mut tcp).await?;
    }
    let (io, packet, secure): (Box<dyn Io>, BytesMut, bool) = if code(&packet) == SSL_REQUEST {
        match &shared.tls {
            Some(tls) => {
                tcp.write_all(b"S").await?;
                let mut stream = tls.acceptor.accept(tcp).await?;
                let p = read_packet(&mut stream).await?;
                (Box::new(stream), p, true)
            }
            None => {
                tcp.write_all(b"N").await?;
                let p = read_packet(&mut tcp).await?;
                (Box::new(tcp), p, false)
            }
        }
    } else {
        (Box::new(tcp), packet, false)
    };
    let mut conn = Conn::new(io, shared.max_message);
    match startup_session(&mut conn, packet, peer, secure, shared).await {
        Ok(Some((session, guard, active, user))) => Ok(Started::Session(Box::new(
            Connection::new(conn, session, guard, active, user, shared.clone()),
        ))),
        Ok(None) => Ok(Started::Cancel),
        Err(error) => Err(StartupError {
            conn: Some(conn),
            error,
        }),
    }
}

type Ready = (
    SessionHandle,
    super::cancel::CancelGuard,
    ActiveGuard,
    String,
);

async fn startup_session(
    conn: &mut Conn,
    mut packet: BytesMut,
    peer: SocketAddr,
    secure: bool,
    shared: &Arc<Shared>,
) -> Result<Option<Ready>, ConnError> {
    let c = code(&packet);
    if c == CANCEL_REQUEST {
        // pid and a 4-byte secret (protocol 3.0); other lengths never match.
        if let (16, Some(b)) = (packet.len(), packet.get(8..16)) {
            let pid = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let secret = i32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            let hit = shared.cancel.cancel(pid, secret);
            tracing::debug!(pid, hit, "cancel request");
        }
        return Ok(None);
    }
    if c == SSL_REQUEST || c == GSSENC_REQUEST {
        return Err(ConnError::Protocol(
            "unexpected encryption request after negotiation".to_string(),
        ));
    }
    let (major, minor) = (c >> 16, c & 0xffff);
    if major != 3 {
        return Err(ConnError::Fatal(
            "0A000",
            format!("unsupported frontend protocol {major}.{minor}: server supports 3.0 to 3.0"),
        ));
    }
    let ctx = DecodeContext::new(ProtocolVersion::default());
    let startup = match Startup::decode(&mut packet, &ctx) {
        Ok(Some(s)) => s,
        _ => {
            return Err(ConnError::Protocol(
                "invalid startup packet layout".to_string(),
            ))
        }
    };
    let unsupported: Vec<String> = startup
        .parameters
        .keys()
        .filter(|k| k.starts_with("_pq_."))
        .cloned()
        .collect();
    if minor > 0 || !unsupported.is_empty() {
        conn.send(PgWireBackendMessage::NegotiateProtocolVersion(
            NegotiateProtocolVersion::new(0, unsupported),
        ))?;
    }
    let Some(user) = startup
        .parameters
        .get("user")
        .filter(|u| !u.is_empty())
        .cloned()
    else {
        return Err(ConnError::Fatal(
            "28000",
            "no PostgreSQL user name specified in startup packet".to_string(),
        ));
    };
    let database = startup
        .parameters
        .get("database")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| user.clone());

    let active = ActiveGuard::acquire(shared)
        .ok_or_else(|| ConnError::Fatal("53300", "sorry, too many clients already".to_string()))?;

    authenticate(conn, shared, &user, &database, peer, secure).await?;

    let engine = shared.engine.clone();
    let (u, d) = (user.clone(), database.clone());
    let session = match super::worker::blocking(move || engine.connect(&u, &d)).await {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => return Err(ConnError::Fatal(e.state().0, e.message())),
        Err(_) => {
            return Err(ConnError::Fatal(
                "XX000",
                "internal error while opening the session".to_string(),
            ))
        }
    };
    let mut session = SessionHandle::new(session);
    let settings = startup_settings(&startup.parameters);
    session.with(|s| {
        for (name, value) in &settings {
            s.set_startup_option(name, value);
        }
    })?;
    let guard = shared.cancel.register(session.cancel_flag());

    conn.send(PgWireBackendMessage::Authentication(Authentication::Ok))?;
    let app_name = startup.parameters.get("application_name").cloned();
    for (name, mut value) in session.with(|s| s.startup_parameters())? {
        if name == "application_name" {
            if let Some(app) = &app_name {
                value = app.clone();
            }
        }
        conn.send(PgWireBackendMessage::ParameterStatus(ParameterStatus::new(
            name, value,
        )))?;
    }
    conn.send(PgWireBackendMessage::BackendKeyData(BackendKeyData::new(
        guard.pid,
        SecretKey::I32(guard.secret),
    )))?;
    conn.send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
        TransactionStatus::Idle,
    )))?;
    conn.flush().await?;
    tracing::debug!(%user, %database, %peer, secure, pid = guard.pid, "session started");
    Ok(Some((session, guard, active, user)))
}

/// Runs the configured method for `user` to completion.
async fn authenticate(
    conn: &mut Conn,
    shared: &Shared,
    user: &str,
    database: &str,
    peer: SocketAddr,
    secure: bool,
) -> Result<(), ConnError> {
    let method = shared.auth.method_for(user);
    let Some(mut mechanism) = shared.auth.mechanism(method, secure) else {
        return Ok(());
    };
    let mut client = DefaultClient::<()>::new(peer, secure);
    client
        .metadata
        .insert(METADATA_USER.to_string(), user.to_string());
    client
        .metadata
        .insert(METADATA_DATABASE.to_string(), database.to_string());
    let failed = || {
        ConnError::Fatal(
            "28P01",
            format!("password authentication failed for user \"{user}\""),
        )
    };

    let mut state = mechanism.begin(&client).await;
    loop {
        match state {
            Ok(AuthState::InProgress(request)) => {
                conn.send(PgWireBackendMessage::Authentication(request))?;
                conn.flush().await?;
                let reply = match conn.read_message().await? {
                    PgWireFrontendMessage::PasswordMessageFamily(reply) => reply,
                    PgWireFrontendMessage::Terminate(_) => return Err(ConnError::Eof),
                    _ => {
                        return Err(ConnError::Protocol(
                            "expected password response".to_string(),
                        ))
                    }
                };
                // pgwire's SASL decoder panics on some malformed messages
                // (found by fuzzing, see fuzz/README.md): contain that and
                // answer 08P01 instead of dropping the connection silently.
                let step = std::panic::AssertUnwindSafe(mechanism.next(&client, reply));
                state = match futures::FutureExt::catch_unwind(step).await {
                    Ok(state) => state,
                    Err(_) => {
                        return Err(ConnError::Protocol(
                            "invalid SASL authentication message".to_string(),
                        ))
                    }
                };
            }
            Ok(AuthState::Ok { final_message, .. }) => {
                if let Some(last) = final_message {
                    conn.send(PgWireBackendMessage::Authentication(last))?;
                }
                return Ok(());
            }
            Ok(AuthState::Failed(e)) | Err(e) => {
                tracing::info!(%user, %peer, method = ?method, reason = %e, "authentication failed");
                return Err(failed());
            }
        }
    }
}

/// Caps the startup phase; a client that stalls is dropped.
pub(crate) async fn start_with_timeout(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
) -> Result<Started, StartupError> {
    match tokio::time::timeout(STARTUP_TIMEOUT, start(tcp, peer, shared)).await {
        Ok(r) => r,
        Err(_) => Err(ConnError::Eof.into()),
    }
}

/// The settings a startup packet carries: its parameters other than the
/// connection's identity (`TimeZone`, `application_name`, ...) and each
/// `-c name=value` / `--name=value` in `options` (a backslash escapes a
/// space), as PostgreSQL applies them.
fn startup_settings(
    parameters: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = parameters
        .iter()
        .filter(|(k, _)| {
            !matches!(k.as_str(), "user" | "database" | "options" | "replication")
                && !k.starts_with("_pq_.")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some(options) = parameters.get("options") else {
        return out;
    };
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => word.extend(chars.next()),
            c if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut words = words.into_iter();
    while let Some(w) = words.next() {
        let setting = if w == "-c" {
            words.next()
        } else {
            w.strip_prefix("-c")
                .or_else(|| w.strip_prefix("--"))
                .map(str::to_string)
        };
        if let Some((name, value)) = setting.as_deref().and_then(|s| s.split_once('=')) {
            out.push((name.replace('-', "_"), value.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod startup_settings_tests {
    use super::startup_settings;

    #[test]
    fn options_and_parameters_become_settings() {
        let params = [
            ("user", "u"),
            ("TimeZone", "Europe/Paris"),
            (
                "options",
                "-c search_path=a\\ b --statement-timeout=5 -cwork_mem=8MB",
            ),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut got = startup_settings(&params);
        got.sort();
        let want: Vec<(String, String)> = [
            ("TimeZone", "Europe/Paris"),
            ("search_path", "a b"),
            ("statement_timeout", "5"),
            ("work_mem", "8MB"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
    }
}
