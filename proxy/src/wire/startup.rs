//! The first message of a connection, which has no type byte.
//!
//! `length (4) | code (4) | ...`: the code says whether it is a
//! StartupMessage (protocol 3.0, followed by `name\0value\0` pairs and a
//! final `\0`), an SSLRequest, a GSSENCRequest or a CancelRequest. Like
//! PostgreSQL, a startup packet is at most 10,000 bytes.

use std::collections::HashMap;

use bytes::Buf;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::frame::{read_cstr, read_i32};
use crate::error::{ProxyError, Result};

/// PostgreSQL's limit on a startup packet.
pub const MAX_STARTUP_PACKET: usize = 10_000;

const PROTOCOL_3_0: i32 = 196_608;
const SSL_REQUEST: i32 = 80_877_103;
const GSSENC_REQUEST: i32 = 80_877_104;
const CANCEL_REQUEST: i32 = 80_877_102;

/// What the first message asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartupRequest {
    /// A session: parameters such as `user`, `database`, `options`.
    Startup(HashMap<String, String>),
    Ssl,
    GssEnc,
    Cancel {
        pid: i32,
        secret: i32,
    },
}

impl StartupRequest {
    /// Reads one startup-phase message.
    pub async fn read<R: AsyncRead + Unpin>(r: &mut R) -> Result<StartupRequest> {
        let len = r.read_i32().await?;
        if !(8..=MAX_STARTUP_PACKET as i32).contains(&len) {
            return Err(ProxyError::Protocol(
                "invalid length of startup packet".into(),
            ));
        }
        let mut body = vec![0u8; len as usize - 4];
        r.read_exact(&mut body).await?;
        Self::parse(&body)
    }

    /// Parses a startup message body (everything after the length).
    pub fn parse(body: &[u8]) -> Result<StartupRequest> {
        let mut buf = body;
        let code = read_i32(&mut buf)?;
        match code {
            SSL_REQUEST => Ok(StartupRequest::Ssl),
            GSSENC_REQUEST => Ok(StartupRequest::GssEnc),
            CANCEL_REQUEST => {
                let pid = read_i32(&mut buf)?;
                let secret = read_i32(&mut buf)?;
                Ok(StartupRequest::Cancel { pid, secret })
            }
            PROTOCOL_3_0 => {
                let mut params = HashMap::new();
                loop {
                    if buf.is_empty() {
                        return Err(ProxyError::Protocol(
                            "invalid startup packet layout: expected terminator as last byte"
                                .into(),
                        ));
                    }
                    if buf[0] == 0 {
                        buf.advance(1);
                        break;
                    }
                    let name = read_cstr(&mut buf)?;
                    let value = read_cstr(&mut buf)?;
                    params.insert(name, value);
                }
                if !params.contains_key("user") {
                    return Err(ProxyError::fatal(
                        "28000",
                        "no PostgreSQL user name specified in startup packet",
                    ));
                }
                Ok(StartupRequest::Startup(params))
            }
            other => Err(ProxyError::fatal(
                "0A000",
                format!(
                    "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                    other >> 16,
                    other & 0xffff
                ),
            )),
        }
    }
}

/// Encodes a StartupMessage (the proxy's own, towards a backend).
pub fn startup_message(params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(64);
    body.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Encodes a CancelRequest towards a backend.
pub fn cancel_request(pid: i32, secret: i32) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&16i32.to_be_bytes());
    out[4..8].copy_from_slice(&CANCEL_REQUEST.to_be_bytes());
    out[8..12].copy_from_slice(&pid.to_be_bytes());
    out[12..].copy_from_slice(&secret.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_startup_ssl_cancel_and_rejects_garbage() {
        let msg = startup_message(&[("user", "alice"), ("database", "db")]);
        let req = StartupRequest::read(&mut &msg[..]).await.unwrap();
        let StartupRequest::Startup(p) = req else {
            panic!("not a startup: {req:?}")
        };
        assert_eq!(p.get("user").map(String::as_str), Some("alice"));
        let cancel = cancel_request(7, 9);
        assert_eq!(
            StartupRequest::read(&mut &cancel[..]).await.unwrap(),
            StartupRequest::Cancel { pid: 7, secret: 9 }
        );
        let ssl = [0, 0, 0, 8, 4, 210, 22, 47];
        assert_eq!(
            StartupRequest::read(&mut &ssl[..]).await.unwrap(),
            StartupRequest::Ssl
        );
        let huge = [0x7f, 0, 0, 0];
        assert!(StartupRequest::read(&mut &huge[..]).await.is_err());
        let no_user = startup_message(&[("database", "db")]);
        assert!(StartupRequest::read(&mut &no_user[..]).await.is_err());
        let mut unterminated = startup_message(&[("user", "a")]);
        unterminated.pop();
        let len = unterminated.len() as i32;
        unterminated[..4].copy_from_slice(&len.to_be_bytes());
        assert!(StartupRequest::read(&mut &unterminated[..]).await.is_err());
    }
}
