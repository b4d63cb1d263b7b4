//! Reading and rewriting the extended-protocol messages that name things.
//!
//! In transaction pooling a client's named prepared statement must exist
//! on whichever backend runs its next Bind, under a name no other client
//! uses there. The session renames statements (`S_1` of client 42 becomes
//! `rdb_<hash>` on the backend) and so needs to read and rebuild Parse,
//! Bind, Describe and Close; every other message passes untouched.

use bytes::{BufMut, Bytes, BytesMut};

use super::frame::{read_cstr, read_i16, read_i32, Frame};
use crate::error::{ProxyError, Result};

/// A Parse message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMessage {
    pub name: String,
    pub query: String,
    pub param_types: Vec<i32>,
}

impl ParseMessage {
    pub fn decode(body: &[u8]) -> Result<Self> {
        let mut buf = body;
        let name = read_cstr(&mut buf)?;
        let query = read_cstr(&mut buf)?;
        let n = read_i16(&mut buf)?;
        if n < 0 {
            return Err(ProxyError::Protocol(
                "negative parameter count in Parse".into(),
            ));
        }
        let mut param_types = Vec::with_capacity(n as usize);
        for _ in 0..n {
            param_types.push(read_i32(&mut buf)?);
        }
        Ok(ParseMessage {
            name,
            query,
            param_types,
        })
    }

    /// The message under another statement name.
    pub fn encode_as(&self, name: &str) -> Frame {
        let mut body = BytesMut::with_capacity(self.query.len() + name.len() + 8);
        put_cstr(&mut body, name);
        put_cstr(&mut body, &self.query);
        body.put_i16(self.param_types.len() as i16);
        for t in &self.param_types {
            body.put_i32(*t);
        }
        Frame::new(b'P', &body)
    }
}

/// The names in a Bind message; the rest of it is kept as bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindNames {
    pub portal: String,
    pub statement: String,
    /// Offset in the body where the parameters start.
    rest: usize,
}

impl BindNames {
    pub fn decode(body: &[u8]) -> Result<Self> {
        let mut buf = body;
        let portal = read_cstr(&mut buf)?;
        let statement = read_cstr(&mut buf)?;
        Ok(BindNames {
            portal,
            statement,
            rest: body.len() - buf.len(),
        })
    }

    /// The same Bind naming another statement.
    pub fn rewrite(&self, original: &Frame, statement: &str) -> Frame {
        let tail = original.body().get(self.rest..).unwrap_or(&[]);
        let mut body =
            BytesMut::with_capacity(tail.len() + statement.len() + self.portal.len() + 2);
        put_cstr(&mut body, &self.portal);
        put_cstr(&mut body, statement);
        body.put_slice(tail);
        Frame::new(b'B', &body)
    }
}

/// A Describe or Close: `S` (statement) or `P` (portal), and a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: u8,
    pub name: String,
}

impl Target {
    pub fn decode(body: &[u8]) -> Result<Self> {
        let Some((&kind, mut rest)) = body.split_first() else {
            return Err(ProxyError::Protocol("empty Describe/Close message".into()));
        };
        if kind != b'S' && kind != b'P' {
            return Err(ProxyError::Protocol(format!(
                "invalid Describe/Close target {:?}",
                kind as char
            )));
        }
        let name = read_cstr(&mut rest)?;
        Ok(Target { kind, name })
    }

    /// Encodes it as a Describe (`D`) or Close (`C`) under another name.
    pub fn encode_as(&self, tag: u8, name: &str) -> Frame {
        let mut body = BytesMut::with_capacity(name.len() + 2);
        body.put_u8(self.kind);
        put_cstr(&mut body, name);
        Frame::new(tag, &body)
    }
}

/// The query text of a simple Query message.
pub fn query_text(body: &[u8]) -> Result<&str> {
    let end = body
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| ProxyError::Protocol("unterminated query string".into()))?;
    std::str::from_utf8(&body[..end])
        .map_err(|_| ProxyError::client("22021", "invalid byte sequence for encoding \"UTF8\""))
}

/// A Sync message.
pub fn sync() -> Bytes {
    Frame::new(b'S', &[]).into_raw()
}

/// A simple Query message.
pub fn query(sql: &str) -> Frame {
    let mut body = BytesMut::with_capacity(sql.len() + 1);
    put_cstr(&mut body, sql);
    Frame::new(b'Q', &body)
}

fn put_cstr(out: &mut BytesMut, s: &str) {
    out.put_slice(s.as_bytes());
    out.put_u8(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bind_describe_round_trip_under_new_names() {
        let p = ParseMessage {
            name: "s1".into(),
            query: "select $1".into(),
            param_types: vec![23],
        };
        let f = p.encode_as("s1");
        assert_eq!(ParseMessage::decode(f.body()).unwrap(), p);
        let renamed = ParseMessage::decode(p.encode_as("rdb_9").body()).unwrap();
        assert_eq!(renamed.name, "rdb_9");

        let mut body = BytesMut::new();
        put_cstr(&mut body, "");
        put_cstr(&mut body, "s1");
        body.put_slice(&[0, 0, 0, 1, 0, 0, 0, 1, b'7', 0, 0]);
        let bind = Frame::new(b'B', &body);
        let names = BindNames::decode(bind.body()).unwrap();
        assert_eq!(names.statement, "s1");
        let moved = names.rewrite(&bind, "rdb_9");
        let again = BindNames::decode(moved.body()).unwrap();
        assert_eq!(again.statement, "rdb_9");
        assert!(moved
            .body()
            .ends_with(&[0, 0, 0, 1, 0, 0, 0, 1, b'7', 0, 0]));

        let d = Target::decode(b"Ss1\0").unwrap();
        assert_eq!(d.encode_as(b'D', "x").body(), b"Sx\0");
        assert!(Target::decode(b"Xs\0").is_err());
        assert!(Target::decode(b"").is_err());
        assert!(ParseMessage::decode(b"s\0q\0\xff\xff").is_err());
    }
}
