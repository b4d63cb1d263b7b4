//! The proxy as a client: authenticating to a backend.
//!
//! After the pool sends its StartupMessage, the backend answers with
//! `Authentication*` requests until `AuthenticationOk` (or an
//! `ErrorResponse`). We answer cleartext, md5 and SCRAM-SHA-256 the way
//! libpq does, with postgres-protocol's client code (`md5_hash`,
//! `ScramSha256`, which also checks the server's signature, so a backend
//! that does not know the verifier cannot impersonate one).
//!
//! Reading is one message at a time — tag, length, exactly `length - 4`
//! body bytes — and stops right after `AuthenticationOk`: the caller reads
//! ParameterStatus, BackendKeyData and ReadyForQuery from the same stream,
//! so nothing past our messages may be consumed. A backend message over
//! [`MAX_BACKEND_AUTH_MESSAGE`] is a protocol error, not an allocation.

use bytes::{BufMut, BytesMut};
use postgres_protocol::authentication::sasl::{ChannelBinding, ScramSha256, SCRAM_SHA_256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{ProxyError, Result};
use crate::wire::frame::{read_cstr, read_i32};

/// Authentication messages are tiny; anything bigger is not one.
pub const MAX_BACKEND_AUTH_MESSAGE: usize = 64 * 1024;

fn backend_err(addr: &str, message: impl Into<String>) -> ProxyError {
    ProxyError::Backend {
        addr: addr.to_string(),
        message: message.into(),
    }
}

/// Reads one whole message: (tag, body).
pub(crate) async fn read_message<S: AsyncRead + Unpin>(
    stream: &mut S,
    max: usize,
) -> std::io::Result<(u8, Vec<u8>)> {
    let tag = stream.read_u8().await?;
    let len = stream.read_i32().await?;
    if len < 4 || len as usize - 4 > max {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("invalid length {len} for message type {:?}", tag as char),
        ));
    }
    let mut body = vec![0u8; len as usize - 4];
    stream.read_exact(&mut body).await?;
    Ok((tag, body))
}

/// The `M` (message) field of an ErrorResponse body, with its SQLSTATE.
pub(crate) fn error_text(body: &[u8]) -> String {
    let mut fields = body;
    let (mut message, mut code) = (None, None);
    while let Some((&kind, rest)) = fields.split_first() {
        if kind == 0 {
            break;
        }
        fields = rest;
        let Ok(value) = read_cstr(&mut fields) else {
            break;
        };
        match kind {
            b'M' => message = Some(value),
            b'C' => code = Some(value),
            _ => {}
        }
    }
    match (message, code) {
        (Some(m), Some(c)) => format!("{m} (SQLSTATE {c})"),
        (Some(m), None) => m,
        _ => "backend sent an unreadable error".to_string(),
    }
}

fn password_message(data: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(5 + data.len());
    out.put_u8(b'p');
    out.put_i32(4 + data.len() as i32);
    out.put_slice(data);
    out.to_vec()
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

async fn send<S: AsyncWrite + Unpin>(stream: &mut S, addr: &str, msg: &[u8]) -> Result<()> {
    stream
        .write_all(msg)
        .await
        .map_err(|e| backend_err(addr, e.to_string()))?;
    stream
        .flush()
        .await
        .map_err(|e| backend_err(addr, e.to_string()))
}

/// Client side of backend authentication after the proxy sent its
/// StartupMessage: consumes Authentication* messages up to and including
/// AuthenticationOk. Errors: [`ProxyError::Backend`] with the backend's
/// message (an ErrorResponse is decoded for its text).
pub async fn backend_authenticate<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: &mut S,
    addr: &str,
    user: &str,
    password: Option<&str>,
) -> Result<()> {
    let need_password = || {
        password.ok_or_else(|| {
            backend_err(
                addr,
                format!("backend asks for a password for user \"{user}\" but the proxy has none (set auth.backend_passwords or a plain password in the users file)"),
            )
        })
    };
    let mut scram: Option<ScramSha256> = None;
    loop {
        let (tag, body) = read_message(stream, MAX_BACKEND_AUTH_MESSAGE)
            .await
            .map_err(|e| backend_err(addr, format!("during authentication: {e}")))?;
        match tag {
            b'R' => {}
            b'E' => return Err(backend_err(addr, error_text(&body))),
            // NoticeResponse may come at any time; NegotiateProtocolVersion
            // only lists options we did not send.
            b'N' | b'v' => continue,
            other => {
                return Err(backend_err(
                    addr,
                    format!(
                        "unexpected message type {:?} during authentication",
                        other as char
                    ),
                ))
            }
        }
        let mut b = &body[..];
        let code = read_i32(&mut b).map_err(|e| backend_err(addr, e.to_string()))?;
        match code {
            0 => return Ok(()),
            3 => {
                let pw = need_password()?;
                send(stream, addr, &password_message(&cstr(pw))).await?;
            }
            5 => {
                let salt: [u8; 4] = b
                    .get(..4)
                    .and_then(|s| s.try_into().ok())
                    .ok_or_else(|| backend_err(addr, "short AuthenticationMD5Password"))?;
                let pw = need_password()?;
                let hash = postgres_protocol::authentication::md5_hash(
                    user.as_bytes(),
                    pw.as_bytes(),
                    salt,
                );
                send(stream, addr, &password_message(&cstr(&hash))).await?;
            }
            10 => {
                let mut mechanisms = Vec::new();
                while b.first().is_some_and(|c| *c != 0) {
                    mechanisms
                        .push(read_cstr(&mut b).map_err(|e| backend_err(addr, e.to_string()))?);
                }
                if !mechanisms.iter().any(|m| m == SCRAM_SHA_256) {
                    return Err(backend_err(
                        addr,
                        format!("backend offers SASL mechanisms {mechanisms:?}, none supported"),
                    ));
                }
                let pw = need_password()?;
                // The backend link carries no channel binding data we could
                // prove, so say so honestly ("n" flag).
                let client = ScramSha256::new(pw.as_bytes(), ChannelBinding::unsupported());
                let mut data = cstr(SCRAM_SHA_256);
                data.put_i32(client.message().len() as i32);
                data.extend_from_slice(client.message());
                send(stream, addr, &password_message(&data)).await?;
                scram = Some(client);
            }
            11 => {
                let client = scram
                    .as_mut()
                    .ok_or_else(|| backend_err(addr, "SASLContinue without SASL"))?;
                client
                    .update(b)
                    .map_err(|e| backend_err(addr, format!("SCRAM: {e}")))?;
                let msg = password_message(client.message());
                send(stream, addr, &msg).await?;
            }
            12 => {
                let client = scram
                    .as_mut()
                    .ok_or_else(|| backend_err(addr, "SASLFinal without SASL"))?;
                client
                    .finish(b)
                    .map_err(|e| backend_err(addr, format!("SCRAM: {e}")))?;
            }
            other => {
                return Err(backend_err(
                    addr,
                    format!("unsupported authentication request {other} from backend"),
                ))
            }
        }
    }
}
