//! One connection from the proxy to a backend server.
//!
//! Created by [`ServerConn::connect`]: TCP connect (bounded), our own
//! StartupMessage (user and database only: the client's settings are
//! replayed as `SET`s, see `session::settings`), authentication, then the
//! backend's ParameterStatus and BackendKeyData up to the first
//! ReadyForQuery. After that the pool owns it between uses and the session
//! owns it during one.
//!
//! Besides the socket it remembers what a session must know to reuse it:
//! which statement names are prepared here, which client settings were last
//! applied (`settings_hash`), the last transaction status, and whether it
//! broke (a broken connection is never returned to its pool).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use crate::auth::backend_authenticate;
use crate::error::{ProxyError, Result};
use crate::pool::cancel::BackendKey;
use crate::topology::BackendId;
use crate::wire::startup::startup_message;
use crate::wire::{Frame, FrameReader};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Largest message accepted from a backend (rows can be big).
const MAX_BACKEND_MESSAGE: usize = 1 << 30;

/// A backend connection after startup.
#[derive(Debug)]
pub struct ServerConn {
    /// Unique per process: tells connections apart in session state.
    pub id: u64,
    pub backend: BackendId,
    pub addr: String,
    reader: FrameReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    /// The backend's process id and secret, for CancelRequest.
    pub pid: i32,
    pub secret: i32,
    /// Address and key together, as cancel requests need them.
    pub cancel_key: BackendKey,
    /// ParameterStatus values reported at startup.
    pub params: Vec<(String, String)>,
    /// Hash of the client settings last applied here (0: none).
    pub settings_hash: u64,
    /// Server-side names of statements prepared on this connection.
    pub prepared: HashSet<String>,
    /// The last ReadyForQuery status (`I`, `T`, `E`).
    pub status: u8,
    /// Set on any I/O or protocol failure; the pool then closes it.
    pub broken: bool,
    pub created: Instant,
    pub last_used: Instant,
}

impl ServerConn {
    /// Connects, starts up and authenticates.
    pub async fn connect(
        backend: &BackendId,
        addr: &str,
        user: &str,
        database: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<ServerConn> {
        let fail = |message: String| ProxyError::Backend {
            addr: addr.to_string(),
            message,
        };
        let handshake = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            stream
                .write_all(&startup_message(&[("user", user), ("database", database)]))
                .await?;
            backend_authenticate(&mut stream, addr, user, password).await?;
            Ok::<_, ProxyError>(stream)
        };
        let stream = tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| fail(format!("no connection within {} ms", timeout.as_millis())))?
            .map_err(|e| match e {
                // Refused, reset, ...: the backend is unreachable (08006,
                // and a ban), not a problem of this client.
                ProxyError::Io(io) => fail(io.to_string()),
                other => other,
            })?;
        let (read, writer) = stream.into_split();
        let mut conn = ServerConn {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            backend: backend.clone(),
            addr: addr.to_string(),
            reader: FrameReader::new(read, MAX_BACKEND_MESSAGE),
            writer,
            pid: 0,
            secret: 0,
            cancel_key: BackendKey {
                addr: Arc::from(addr),
                pid: 0,
                secret: 0,
            },
            params: Vec::new(),
            settings_hash: 0,
            prepared: HashSet::new(),
            status: b'I',
            broken: false,
            created: Instant::now(),
            last_used: Instant::now(),
        };
        tokio::time::timeout(timeout, conn.read_startup_reply())
            .await
            .map_err(|_| fail("no ReadyForQuery after authentication".into()))??;
        Ok(conn)
    }

    /// ParameterStatus and BackendKeyData up to ReadyForQuery.
    async fn read_startup_reply(&mut self) -> Result<()> {
        loop {
            let frame = self.recv().await?;
            match frame.tag() {
                b'S' => {
                    let mut body = frame.body();
                    let name = crate::wire::frame::read_cstr(&mut body)?;
                    let value = crate::wire::frame::read_cstr(&mut body)?;
                    self.params.push((name, value));
                }
                b'K' => {
                    let mut body = frame.body();
                    self.pid = crate::wire::frame::read_i32(&mut body)?;
                    self.secret = crate::wire::frame::read_i32(&mut body)?;
                }
                b'Z' => {
                    self.cancel_key.pid = self.pid;
                    self.cancel_key.secret = self.secret;
                    return Ok(());
                }
                b'E' => return Err(self.error_from(&frame)),
                _ => {}
            }
        }
    }

    /// The next message from the backend; end of stream is an error.
    pub async fn recv(&mut self) -> Result<Frame> {
        match self.reader.next().await {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => {
                self.broken = true;
                Err(ProxyError::Backend {
                    addr: self.addr.clone(),
                    message: "server closed the connection unexpectedly".into(),
                })
            }
            Err(e) => {
                self.broken = true;
                Err(self.backend_error(e))
            }
        }
    }

    /// Whether another complete message is already buffered.
    pub fn has_buffered(&self) -> bool {
        self.reader.has_buffered_frame()
    }

    /// Writes bytes to the backend.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        if let Err(e) = self.writer.write_all(bytes).await {
            self.broken = true;
            return Err(self.backend_error(ProxyError::Io(e)));
        }
        self.last_used = Instant::now();
        Ok(())
    }

    /// Checks, without waiting, that the backend has not closed the
    /// connection (or sent something unprompted, such as a FATAL before
    /// closing) while it sat idle in the pool.
    pub fn looks_alive(&mut self) -> bool {
        if self.broken || self.has_buffered() {
            return false;
        }
        let mut probe = [0u8; 1];
        self.reader
            .get_mut()
            .peek(&mut probe)
            .now_or_never()
            .is_none()
    }

    /// Runs a simple query and discards its results; returns the first
    /// error message the backend reported, if any.
    pub async fn run_discarding(&mut self, sql: &str) -> Result<Option<String>> {
        self.send(crate::wire::extended::query(sql).raw()).await?;
        let mut error = None;
        loop {
            let frame = self.recv().await?;
            match frame.tag() {
                b'E' if error.is_none() => error = Some(error_text(&frame)),
                b'Z' => {
                    self.status = frame.body().first().copied().unwrap_or(b'I');
                    return Ok(error);
                }
                // COPY cannot be started by our own queries; refuse politely.
                b'G' => {
                    self.send(&copy_fail("the proxy does not feed COPY here"))
                        .await?;
                }
                _ => {}
            }
        }
    }

    fn backend_error(&self, e: ProxyError) -> ProxyError {
        match e {
            ProxyError::Backend { .. } => e,
            other => ProxyError::Backend {
                addr: self.addr.clone(),
                message: other.to_string(),
            },
        }
    }

    fn error_from(&self, frame: &Frame) -> ProxyError {
        ProxyError::Refused {
            sqlstate: error_field(frame, b'C').unwrap_or_else(|| "08006".into()),
            message: error_text(frame),
        }
    }

    /// Runs a query returning one value (first column of the first row).
    pub async fn query_value(&mut self, sql: &str) -> Result<Option<String>> {
        self.send(crate::wire::extended::query(sql).raw()).await?;
        let mut value = None;
        let mut error = None;
        loop {
            let frame = self.recv().await?;
            match frame.tag() {
                b'D' if value.is_none() => value = first_column(&frame),
                b'E' => error = Some(error_text(&frame)),
                b'Z' => {
                    self.status = frame.body().first().copied().unwrap_or(b'I');
                    return match error {
                        Some(message) => Err(ProxyError::Backend {
                            addr: self.addr.clone(),
                            message,
                        }),
                        None => Ok(value),
                    };
                }
                _ => {}
            }
        }
    }
}

/// The first column of a DataRow, as text.
fn first_column(frame: &Frame) -> Option<String> {
    let body = frame.body();
    let len = i32::from_be_bytes(body.get(2..6)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    let value = body.get(6..6 + len)?;
    Some(String::from_utf8_lossy(value).into_owned())
}

/// A CopyFail message.
fn copy_fail(reason: &str) -> Vec<u8> {
    let mut body = reason.as_bytes().to_vec();
    body.push(0);
    Frame::new(b'f', &body).into_raw().to_vec()
}

/// The `M` (message) field of an ErrorResponse or NoticeResponse.
pub fn error_text(frame: &Frame) -> String {
    error_field(frame, b'M').unwrap_or_else(|| "unknown error".into())
}

/// One field of an ErrorResponse (`C` = SQLSTATE, `M` = message, ...).
pub fn error_field(frame: &Frame, code: u8) -> Option<String> {
    let mut body = frame.body();
    while let Some((&field, rest)) = body.split_first() {
        if field == 0 {
            break;
        }
        let end = rest.iter().position(|b| *b == 0)?;
        if field == code {
            return Some(String::from_utf8_lossy(&rest[..end]).into_owned());
        }
        body = rest.get(end + 1..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::messages::error_response;

    #[test]
    fn error_fields_are_found() {
        let f = Frame::from_raw(error_response("FATAL", "57P01", "bye"));
        assert_eq!(error_field(&f, b'C').as_deref(), Some("57P01"));
        assert_eq!(error_text(&f), "bye");
        assert_eq!(error_field(&f, b'D'), None);
    }
}
