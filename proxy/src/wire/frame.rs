//! Typed frames: `tag (1 byte) | length (4 bytes, includes itself) | body`.
//!
//! [`FrameReader`] owns a read buffer; `next()` returns the next complete
//! frame as a slice of that buffer (`Bytes`, reference-counted, no copy)
//! and reads more only when the buffer holds no complete frame. A relay
//! can ask [`FrameReader::has_buffered_frame`] to batch every already
//! received frame into one write.

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::{ProxyError, Result};

/// One protocol message, kept as the bytes that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    raw: Bytes,
}

impl Frame {
    /// Wraps a complete message (tag + length + body). The caller has checked
    /// the length field.
    pub fn from_raw(raw: Bytes) -> Self {
        Frame { raw }
    }

    /// Builds a frame from a tag and a body.
    pub fn new(tag: u8, body: &[u8]) -> Self {
        let mut raw = BytesMut::with_capacity(5 + body.len());
        raw.extend_from_slice(&[tag]);
        raw.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        raw.extend_from_slice(body);
        Frame { raw: raw.freeze() }
    }

    /// The message type byte.
    pub fn tag(&self) -> u8 {
        self.raw.first().copied().unwrap_or(0)
    }

    /// The message without tag and length.
    pub fn body(&self) -> &[u8] {
        self.raw.get(5..).unwrap_or(&[])
    }

    /// The whole message as received.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Consumes the frame into its bytes.
    pub fn into_raw(self) -> Bytes {
        self.raw
    }
}

/// Reads frames from a stream through a buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: BytesMut,
    max_len: usize,
    /// Bytes reserved per read: small for clients (most sit idle between
    /// short queries, and 1,000 idle clients must stay cheap), larger for
    /// backends (result sets).
    chunk: usize,
}

const READ_CHUNK: usize = 16 * 1024;

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// `max_len` bounds one message's length (the body plus four).
    pub fn new(inner: R, max_len: usize) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            max_len,
            chunk: READ_CHUNK,
        }
    }

    /// A reader that reserves `chunk` bytes at a time (messages larger
    /// than that still arrive whole: the buffer grows to fit them).
    pub fn with_chunk(inner: R, max_len: usize, chunk: usize) -> Self {
        FrameReader {
            inner,
            buf: BytesMut::new(),
            max_len,
            chunk: chunk.max(64),
        }
    }

    /// Starts with bytes already read from the stream (e.g. by startup).
    pub fn with_buffer(inner: R, max_len: usize, buffered: BytesMut) -> Self {
        FrameReader {
            inner,
            buf: buffered,
            max_len,
            chunk: READ_CHUNK,
        }
    }

    /// The next frame; `Ok(None)` on a clean end of stream between frames.
    pub async fn next(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.try_split()? {
                return Ok(Some(frame));
            }
            if self.buf.capacity() - self.buf.len() < self.chunk / 2 {
                self.buf.reserve(self.chunk);
            }
            let n = self.inner.read_buf(&mut self.buf).await?;
            if n == 0 {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                return Err(ProxyError::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed in the middle of a message",
                )));
            }
        }
    }

    /// Whether a complete frame is already buffered (no read needed).
    pub fn has_buffered_frame(&self) -> bool {
        match self.header() {
            Some((_, len)) => self.buf.len() > len,
            None => false,
        }
    }

    /// The tag and length field of the buffered frame, if 5 bytes are there.
    fn header(&self) -> Option<(u8, usize)> {
        let head = self.buf.get(..5)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        Some((head[0], len))
    }

    fn try_split(&mut self) -> Result<Option<Frame>> {
        let Some((tag, len)) = self.header() else {
            return Ok(None);
        };
        if len < 4 {
            return Err(ProxyError::Protocol(format!(
                "invalid message length {len} for message type {:?}",
                tag as char
            )));
        }
        if len > self.max_len {
            return Err(ProxyError::Protocol(format!(
                "message of type {:?} is {len} bytes, over the limit of {} bytes",
                tag as char, self.max_len
            )));
        }
        if self.buf.len() < len + 1 {
            self.buf.reserve(len + 1 - self.buf.len());
            return Ok(None);
        }
        Ok(Some(Frame::from_raw(self.buf.split_to(len + 1).freeze())))
    }

    /// The stream underneath (for writes on a split stream use the writer).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Gives back the stream and whatever is buffered.
    pub fn into_parts(self) -> (R, BytesMut) {
        (self.inner, self.buf)
    }
}

/// Reads exactly one message from an unbuffered stream, never past its
/// end: for handshakes after which someone else reads the same stream.
pub async fn read_one<R: AsyncRead + Unpin>(r: &mut R, max_len: usize) -> Result<Frame> {
    let mut head = [0u8; 5];
    r.read_exact(&mut head).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len < 4 || len > max_len {
        return Err(ProxyError::Protocol(format!(
            "invalid length {len} for message of type {:?}",
            head[0] as char
        )));
    }
    let mut raw = BytesMut::with_capacity(len + 1);
    raw.extend_from_slice(&head);
    raw.resize(len + 1, 0);
    r.read_exact(&mut raw[5..]).await?;
    Ok(Frame::from_raw(raw.freeze()))
}

/// Reads a NUL-terminated string from the front of `buf`.
pub fn read_cstr(buf: &mut &[u8]) -> Result<String> {
    let end = buf
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| ProxyError::Protocol("unterminated string in message".into()))?;
    let s = std::str::from_utf8(&buf[..end])
        .map_err(|_| ProxyError::Protocol("invalid UTF-8 in message".into()))?
        .to_string();
    buf.advance(end + 1);
    Ok(s)
}

/// Reads a big-endian i16 from the front of `buf`.
pub fn read_i16(buf: &mut &[u8]) -> Result<i16> {
    if buf.len() < 2 {
        return Err(ProxyError::Protocol("message too short".into()));
    }
    Ok(buf.get_i16())
}

/// Reads a big-endian i32 from the front of `buf`.
pub fn read_i32(buf: &mut &[u8]) -> Result<i32> {
    if buf.len() < 4 {
        return Err(ProxyError::Protocol("message too short".into()));
    }
    Ok(buf.get_i32())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn splits_frames_across_reads_and_bounds_length() {
        let mut wire = Vec::new();
        wire.extend_from_slice(Frame::new(b'Q', b"select 1\0").raw());
        wire.extend_from_slice(Frame::new(b'X', b"").raw());
        let mut r = FrameReader::new(&wire[..], 1024);
        let q = r.next().await.unwrap().unwrap();
        assert_eq!((q.tag(), q.body()), (b'Q', &b"select 1\0"[..]));
        assert!(r.has_buffered_frame());
        assert_eq!(r.next().await.unwrap().unwrap().tag(), b'X');
        assert!(r.next().await.unwrap().is_none());

        let huge = [b'Q', 0x7f, 0xff, 0xff, 0xff];
        let mut r = FrameReader::new(&huge[..], 1024);
        assert!(matches!(r.next().await, Err(ProxyError::Protocol(_))));
        let short = [b'Q', 0, 0, 0, 2];
        let mut r = FrameReader::new(&short[..], 1024);
        assert!(matches!(r.next().await, Err(ProxyError::Protocol(_))));
        let cut = [b'Q', 0, 0, 0, 9, b's'];
        let mut r = FrameReader::new(&cut[..], 1024);
        assert!(matches!(r.next().await, Err(ProxyError::Io(_))));
    }

    #[test]
    fn cstr_needs_terminator() {
        let mut b: &[u8] = b"abc\0rest";
        assert_eq!(read_cstr(&mut b).unwrap(), "abc");
        assert_eq!(b, b"rest");
        assert!(read_cstr(&mut b).is_err());
    }
}
