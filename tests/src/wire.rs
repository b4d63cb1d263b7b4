//! Raw PostgreSQL wire-protocol helpers for robustness tests: a blocking
//! TCP stream with read timeouts, hand-built messages (including malformed
//! ones), and a reader that returns one backend message at a time.
//!
//! Only what the tests need: the v3 startup packet, simple Query, reading
//! messages until ReadyForQuery, and the SQLSTATE of an ErrorResponse.
//! Message lengths from the server are bounded so a broken server cannot
//! make the test allocate gigabytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Largest backend message the tests accept.
const MAX_MESSAGE: usize = 16 << 20;

/// A raw connection with a read timeout.
pub struct RawConn {
    pub stream: TcpStream,
}

/// One backend message.
#[derive(Debug, Clone)]
pub struct Message {
    pub tag: u8,
    pub body: Vec<u8>,
}

impl Message {
    /// `(name, value)` of a ParameterStatus message.
    pub fn parameter(&self) -> Option<(String, String)> {
        if self.tag != b'S' {
            return None;
        }
        let mut parts = self.body.split(|b| *b == 0);
        let name = String::from_utf8_lossy(parts.next()?).into_owned();
        let value = String::from_utf8_lossy(parts.next()?).into_owned();
        Some((name, value))
    }

    /// The `C` (SQLSTATE) field of an ErrorResponse.
    pub fn sqlstate(&self) -> Option<String> {
        if self.tag != b'E' {
            return None;
        }
        self.body
            .split(|b| *b == 0)
            .find_map(|f| f.strip_prefix(b"C"))
            .map(|c| String::from_utf8_lossy(c).into_owned())
    }
}

impl RawConn {
    pub fn connect(port: u16) -> std::io::Result<RawConn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        Ok(RawConn { stream })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Next message; `Ok(None)` on a clean EOF.
    pub fn read_message(&mut self) -> std::io::Result<Option<Message>> {
        let mut head = [0u8; 5];
        match self.stream.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=MAX_MESSAGE).contains(&len) {
            return Err(std::io::Error::other(format!("bad message length {len}")));
        }
        let mut body = vec![0u8; len - 4];
        self.stream.read_exact(&mut body)?;
        Ok(Some(Message { tag: head[0], body }))
    }

    /// Reads until ReadyForQuery, returning the messages before it. An EOF
    /// or an ErrorResponse during start-up ends the read early.
    pub fn read_until_ready(&mut self) -> std::io::Result<Vec<Message>> {
        let mut out = Vec::new();
        while let Some(m) = self.read_message()? {
            let tag = m.tag;
            out.push(m);
            if tag == b'Z' {
                break;
            }
        }
        Ok(out)
    }

    /// Startup as `postgres`/`postgres` with trust auth, up to ReadyForQuery.
    pub fn startup(port: u16) -> std::io::Result<RawConn> {
        RawConn::startup_with_messages(port).map(|(c, _)| c)
    }

    /// Like [`RawConn::startup`], also returning the start-up messages
    /// (AuthenticationOk, ParameterStatus, BackendKeyData, ReadyForQuery).
    pub fn startup_with_messages(port: u16) -> std::io::Result<(RawConn, Vec<Message>)> {
        let mut c = RawConn::connect(port)?;
        c.send(&startup_packet(
            196608,
            &[("user", "postgres"), ("database", "postgres")],
        ))?;
        let msgs = c.read_until_ready()?;
        match msgs.last() {
            Some(m) if m.tag == b'Z' => Ok((c, msgs)),
            other => Err(std::io::Error::other(format!("startup failed: {other:?}"))),
        }
    }

    /// Simple Query; returns the messages up to ReadyForQuery.
    pub fn query(&mut self, sql: &str) -> std::io::Result<Vec<Message>> {
        self.send(&query_message(sql))?;
        self.read_until_ready()
    }

    /// Reads until an ErrorResponse or EOF: `"error CODE"` or `"closed after
    /// N messages"`; `Err` when the peer neither answers nor closes within
    /// the read timeout, or keeps talking.
    pub fn rejection(mut self) -> Result<String, String> {
        let mut seen: Vec<Message> = Vec::new();
        loop {
            match self.read_message() {
                Ok(None) => break,
                Ok(Some(m)) => {
                    let is_error = m.tag == b'E';
                    seen.push(m);
                    if is_error {
                        break;
                    }
                    if seen.len() > 100 {
                        return Err(format!("peer keeps talking: {seen:?}"));
                    }
                }
                Err(e) => match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        return Err("neither answered nor closed within 10 s".into())
                    }
                    _ => break,
                },
            }
        }
        Ok(match seen.iter().find_map(Message::sqlstate) {
            Some(code) => format!("error {code}"),
            None => format!("closed after {} messages", seen.len()),
        })
    }
}

/// A startup packet with an arbitrary protocol version.
pub fn startup_packet(version: u32, params: &[(&str, &str)]) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    for (k, v) in params {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut out = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    out.extend(body);
    out
}

/// A simple Query message.
pub fn query_message(sql: &str) -> Vec<u8> {
    let mut out = vec![b'Q'];
    out.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    out.extend_from_slice(sql.as_bytes());
    out.push(0);
    out
}
