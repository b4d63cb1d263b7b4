//! COPY's binary format (`COPY … (FORMAT binary)`), as PostgreSQL writes
//! and reads it.
//!
//! A stream is a header — the 11-byte signature `PGCOPY\n\377\r\n\0`, an
//! int32 flags word (bit 16 would mean "OIDs included", which PostgreSQL 15
//! rejects; the other high bits are critical and must be zero) and an int32
//! length of a header extension that readers skip — then one tuple per row:
//! an int16 field count and, per field, an int32 length (-1 for NULL)
//! followed by that many bytes in the type's binary send/recv layout
//! (`types::binary`). An int16 -1 ends the stream.
//!
//! Clients chunk CopyData arbitrarily, so [`BinaryReader`] works on a
//! buffer of whatever has arrived and yields only complete tuples; the
//! caller keeps the unconsumed tail for the next chunk. Every length comes
//! from the client, so each is checked against what is buffered before any
//! slice is taken.

use crate::error::{Error, Result};
use crate::types::{binary, DataType, Value};
use crate::SqlState;

/// The signature every binary COPY stream starts with.
const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// Signature, flags and extension length.
const HEADER_LEN: usize = 11 + 4 + 4;
/// The flag bit PostgreSQL used for "tuples carry OIDs".
const OIDS_FLAG: u32 = 1 << 16;

fn bad_file(message: impl Into<String>) -> Error {
    Error::new(SqlState("22P04"), message)
}

/// The bytes that open a binary COPY TO stream.
pub(crate) fn header() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(SIGNATURE);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out
}

/// The bytes that close a binary COPY TO stream.
pub(crate) fn trailer() -> Vec<u8> {
    (-1i16).to_be_bytes().to_vec()
}

/// One row as a binary tuple.
pub(crate) fn encode_row(row: &[Value], types: &[DataType]) -> Result<Vec<u8>> {
    let count = i16::try_from(row.len())
        .map_err(|_| Error::new(SqlState("54011"), "too many columns for COPY"))?;
    let mut out = Vec::with_capacity(2 + row.len() * 12);
    out.extend_from_slice(&count.to_be_bytes());
    for (value, ty) in row.iter().zip(types) {
        if matches!(value, Value::Null) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            continue;
        }
        let bytes = binary::encode(value, ty)?;
        let len = i32::try_from(bytes.len())
            .map_err(|_| Error::new(SqlState("54000"), "field too large for COPY"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

/// Where a binary COPY FROM stream is.
#[derive(Debug, Default)]
pub(crate) struct BinaryReader {
    header_done: bool,
    /// Set once the -1 trailer arrived: any further byte is an error.
    ended: bool,
}

/// What [`BinaryReader::next`] found in the buffer.
pub(crate) enum BinaryItem {
    /// A complete tuple: each field's bytes, `None` for NULL.
    Tuple(Vec<Option<Vec<u8>>>),
    /// Not enough bytes yet for the next header or tuple.
    NeedMore,
    /// The trailer (or nothing after it).
    End,
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_i32(b: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_i16(b: &[u8]) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(..2)?.try_into().ok()?))
}

impl BinaryReader {
    /// Reads the next item from `buf[*pos..]`, advancing `pos` past what
    /// it consumed; `columns` is how many fields a tuple must have.
    pub(crate) fn next(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        columns: usize,
    ) -> Result<BinaryItem> {
        let rest = buf.get(*pos..).unwrap_or_default();
        if self.ended {
            if rest.is_empty() {
                return Ok(BinaryItem::End);
            }
            return Err(bad_file("received copy data after EOF marker"));
        }
        if !self.header_done {
            let Some(len) = self.read_header(rest)? else {
                return Ok(BinaryItem::NeedMore);
            };
            *pos += len;
            return self.next(buf, pos, columns);
        }
        let Some(count) = be_i16(rest) else {
            return Ok(BinaryItem::NeedMore);
        };
        if count == -1 {
            *pos += 2;
            self.ended = true;
            return Ok(BinaryItem::End);
        }
        if usize::try_from(count).ok() != Some(columns) {
            return Err(bad_file(format!(
                "row field count is {count}, expected {columns}"
            )));
        }
        let mut at = 2;
        let mut fields = Vec::with_capacity(columns);
        for _ in 0..columns {
            let Some(len) = rest.get(at..).and_then(be_i32) else {
                return Ok(BinaryItem::NeedMore);
            };
            at += 4;
            if len == -1 {
                fields.push(None);
                continue;
            }
            let len = usize::try_from(len).map_err(|_| bad_file("invalid field size"))?;
            let Some(bytes) = rest.get(at..at.saturating_add(len)) else {
                return Ok(BinaryItem::NeedMore);
            };
            fields.push(Some(bytes.to_vec()));
            at += len;
        }
        *pos += at;
        Ok(BinaryItem::Tuple(fields))
    }

    /// Checks the header at the start of `rest`; returns its length once
    /// it has fully arrived.
    fn read_header(&mut self, rest: &[u8]) -> Result<Option<usize>> {
        let signature_len = rest.len().min(SIGNATURE.len());
        if rest[..signature_len] != SIGNATURE[..signature_len] {
            return Err(bad_file("COPY file signature not recognized"));
        }
        let (Some(flags), Some(ext)) = (
            rest.get(11..).and_then(be_u32),
            rest.get(15..).and_then(be_u32),
        ) else {
            return Ok(None);
        };
        if flags & OIDS_FLAG != 0 {
            return Err(bad_file("invalid COPY file header (WITH OIDS)"));
        }
        if flags & 0xffff_0000 & !OIDS_FLAG != 0 {
            return Err(bad_file("unrecognized critical flags in COPY file header"));
        }
        let ext = usize::try_from(ext)
            .map_err(|_| bad_file("invalid COPY file header (wrong length)"))?;
        if rest.len() < HEADER_LEN.saturating_add(ext) {
            return Ok(None);
        }
        self.header_done = true;
        Ok(Some(HEADER_LEN + ext))
    }

    /// Called at CopyDone with whatever is left unconsumed.
    pub(crate) fn finish(&self, leftover: &[u8]) -> Result<()> {
        if !self.header_done {
            return Err(bad_file("COPY file signature not recognized"));
        }
        if !leftover.is_empty() {
            if self.ended {
                return Err(bad_file("received copy data after EOF marker"));
            }
            return Err(bad_file("unexpected EOF in COPY data"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(rows: &[Vec<Value>], types: &[DataType]) -> Vec<u8> {
        let mut out = header();
        for r in rows {
            out.extend(encode_row(r, types).unwrap());
        }
        out.extend(trailer());
        out
    }

    fn read_all(bytes: &[u8], chunk: usize, columns: usize) -> Result<Vec<Vec<Option<Vec<u8>>>>> {
        let mut reader = BinaryReader::default();
        let mut buf = Vec::new();
        let mut tuples = Vec::new();
        for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            let mut pos = 0;
            while let BinaryItem::Tuple(t) = reader.next(&buf, &mut pos, columns)? {
                tuples.push(t);
            }
            buf.drain(..pos);
        }
        reader.finish(&buf)?;
        Ok(tuples)
    }

    #[test]
    fn round_trip_in_any_chunking() {
        let types = [DataType::Int4, DataType::Text];
        let rows = vec![
            vec![Value::Int4(1), Value::Text("one".into())],
            vec![Value::Int4(2), Value::Null],
        ];
        let bytes = stream(&rows, &types);
        for chunk in [1, 2, 3, 7, 1000] {
            let tuples = read_all(&bytes, chunk, 2).unwrap();
            assert_eq!(tuples.len(), 2, "chunk {chunk}");
            assert_eq!(tuples[1][1], None);
            assert_eq!(
                binary::decode(tuples[0][1].as_deref().unwrap(), &DataType::Text).unwrap(),
                Value::Text("one".into())
            );
        }
    }

    #[test]
    fn rejects_bad_input() {
        let err = |bytes: &[u8]| read_all(bytes, 1000, 1).unwrap_err().message().to_string();
        assert_eq!(err(b"PGCOPX\n"), "COPY file signature not recognized");
        let mut wrong_count = header();
        wrong_count.extend_from_slice(&2i16.to_be_bytes());
        assert_eq!(err(&wrong_count), "row field count is 2, expected 1");
        let mut truncated = header();
        truncated.extend_from_slice(&1i16.to_be_bytes());
        truncated.extend_from_slice(&4i32.to_be_bytes());
        truncated.extend_from_slice(&[0, 0]);
        assert_eq!(err(&truncated), "unexpected EOF in COPY data");
        let mut negative = header();
        negative.extend_from_slice(&1i16.to_be_bytes());
        negative.extend_from_slice(&(-5i32).to_be_bytes());
        assert_eq!(err(&negative), "invalid field size");
        let mut after = header();
        after.extend(trailer());
        after.push(0);
        assert_eq!(err(&after), "received copy data after EOF marker");
        let mut oids = SIGNATURE.to_vec();
        oids.extend_from_slice(&OIDS_FLAG.to_be_bytes());
        oids.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(err(&oids), "invalid COPY file header (WITH OIDS)");
    }
}
