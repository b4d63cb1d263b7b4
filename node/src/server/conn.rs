//! The transport: framing frontend messages and buffering backend messages.
//!
//! `Conn` owns the (possibly TLS) byte stream of one client after startup
//! negotiation. Reading is two steps so that a hostile or broken client can
//! neither make us allocate without bound nor confuse the decoder:
//!
//! 1. **Frame.** Read the 1-byte tag and the 4-byte length, check
//!    `4 <= length <= max_message_bytes` *before* buffering the body, then
//!    wait for the whole frame and split exactly that many bytes off.
//! 2. **Decode.** Hand only that frame to pgwire's decoder. A decoder bug
//!    can therefore not eat into the next message, and a panic inside it is
//!    caught and reported as `08P01` like any other malformed message.
//!
//! Writing never touches the socket directly: messages are encoded into a
//! buffer that is written out on `flush` (Sync, Flush, ReadyForQuery) or
//! when it grows past a threshold while streaming a large result. That is
//! what makes pipelining cheap: many Parse/Bind/Execute round trips cost one
//! write.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};

use bytes::BytesMut;
use pgwire::messages::{
    DecodeContext, PgWireBackendMessage, PgWireFrontendMessage, ProtocolVersion,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A byte stream a connection can run over (plain TCP or TLS).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Write the buffer out once it holds this much, even before a flush point.
const WRITE_HIGH_WATER: usize = 256 * 1024;

/// Why a connection has to end (as opposed to a statement error, which is
/// reported to the client and the connection goes on).
#[derive(Debug)]
pub(crate) enum ConnError {
    /// The client closed the connection.
    Eof,
    /// The socket failed.
    Io(io::Error),
    /// The client broke the protocol: report `08P01` as FATAL and close.
    Protocol(String),
    /// Report this FATAL error (SQLSTATE, message) and close.
    Fatal(&'static str, String),
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            ConnError::Eof
        } else {
            ConnError::Io(e)
        }
    }
}

/// One client's framed message stream.
pub(crate) struct Conn {
    io: Box<dyn Io>,
    rbuf: BytesMut,
    wbuf: BytesMut,
    max_message: usize,
    ctx: DecodeContext,
}

impl Conn {
    pub(crate) fn new(io: Box<dyn Io>, max_message: usize) -> Conn {
        let mut ctx = DecodeContext::new(ProtocolVersion::default());
        ctx.awaiting_frontend_ssl = false;
        ctx.awaiting_frontend_startup = false;
        Conn {
            io,
            rbuf: BytesMut::with_capacity(8192),
            wbuf: BytesMut::with_capacity(8192),
            max_message,
            ctx,
        }
    }

    /// Reads the next complete frontend message.
    pub(crate) async fn read_message(&mut self) -> Result<PgWireFrontendMessage, ConnError> {
        loop {
            if let Some(message) = self.try_frame()? {
                return Ok(message);
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(8192);
            }
            let n = self.io.read_buf(&mut self.rbuf).await?;
            if n == 0 {
                return Err(ConnError::Eof);
            }
        }
    }

    /// Splits one message off the read buffer if it is complete.
    fn try_frame(&mut self) -> Result<Option<PgWireFrontendMessage>, ConnError> {
        let Some(header) = self.rbuf.get(..5) else {
            return Ok(None);
        };
        let tag = header[0];
        let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
        if len < 4 {
            return Err(ConnError::Protocol(format!(
                "invalid message length {len} for message type 0x{tag:02X}"
            )));
        }
        let len = len as usize;
        if len > self.max_message {
            return Err(ConnError::Protocol(format!(
                "message of {len} bytes exceeds the limit of {} bytes (max_message_bytes)",
                self.max_message
            )));
        }
        let total = len + 1;
        if self.rbuf.len() < total {
            self.rbuf.reserve(total - self.rbuf.len());
            return Ok(None);
        }
        let mut frame = self.rbuf.split_to(total);
        let ctx = &self.ctx;
        let decoded = catch_unwind(AssertUnwindSafe(|| {
            PgWireFrontendMessage::decode(&mut frame, ctx)
        }));
        match decoded {
            Ok(Ok(Some(message))) => Ok(Some(message)),
            Ok(Ok(None)) => Err(ConnError::Protocol(format!(
                "incomplete message of type 0x{tag:02X}"
            ))),
            Ok(Err(pgwire::error::PgWireError::InvalidMessageType(t))) => Err(ConnError::Protocol(
                format!("invalid frontend message type {t}"),
            )),
            Ok(Err(e)) => Err(ConnError::Protocol(format!(
                "invalid message of type 0x{tag:02X}: {e}"
            ))),
            Err(_) => Err(ConnError::Protocol(format!(
                "invalid message of type 0x{tag:02X}"
            ))),
        }
    }

    /// Queues a backend message.
    pub(crate) fn send(&mut self, message: PgWireBackendMessage) -> Result<(), ConnError> {
        message.encode(&mut self.wbuf).map_err(|e| {
            ConnError::Fatal("XX000", format!("cannot encode a response message: {e}"))
        })
    }

    /// Queues a message and writes the buffer out if it has grown large.
    pub(crate) async fn send_streaming(
        &mut self,
        message: PgWireBackendMessage,
    ) -> Result<(), ConnError> {
        self.send(message)?;
        if self.wbuf.len() >= WRITE_HIGH_WATER {
            self.write_out().await?;
        }
        Ok(())
    }

    async fn write_out(&mut self) -> Result<(), ConnError> {
        if !self.wbuf.is_empty() {
            self.io.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        Ok(())
    }

    /// Writes everything queued and flushes the stream.
    pub(crate) async fn flush(&mut self) -> Result<(), ConnError> {
        self.write_out().await?;
        self.io.flush().await?;
        Ok(())
    }

    /// Best-effort close after a FATAL error or Terminate.
    pub(crate) async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = self.io.shutdown().await;
    }
}
