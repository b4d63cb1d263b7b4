//! The replication wire protocol: framed messages over TCP (or TLS).
//!
//! Every message is `[tag u8][length u32 BE][payload]`. Control messages
//! carry JSON (small, rare, easy to evolve); the two hot messages — record
//! batches and acknowledgements — are binary.
//!
//! ```text
//! replica                                   sender (primary or cascading replica)
//!   Hello {name, system_id, history, last_lsn, purpose}  ──►
//!        ◄── Welcome {system_id, history, primary_lsn}      stream from last_lsn+1
//!        ◄── Diverged {fork_lsn, history}                   rewind to fork_lsn, reconnect
//!        ◄── NeedClone {reason}                             WAL gone: re-clone, reconnect
//!        ◄── Refused {message}                              nothing to do but report
//!        ◄── Records [codec u8][raw_len u32][body]          body = n × ([len u32][WalRecord])
//!        ◄── Keepalive {primary_lsn u64, time_micros u64}
//!   Ack {flushed u64, applied u64, oldest_commit_micros u64} ──►
//! clone (purpose = clone):
//!        ◄── CloneFile {name, size} then CloneChunk* per file, then CloneDone {lsn}
//! ```
//!
//! Reading is bounded: a length over `MAX_FRAME` is a protocol error before
//! anything is allocated, and decoding never trusts a length it has not
//! checked against the bytes present.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::config::Compression;
use crate::error::{NodeError, Result};
use crate::wal::{TimelineHistory, WalRecord};

/// Largest frame accepted. Batches are capped far below this, but one
/// record is never split, and a bulk load (COPY of millions of rows in one
/// transaction) is one record; the peer is an authenticated upstream.
pub const MAX_FRAME: usize = 2 << 30;

/// Frames up to this size are written with one copy and one write.
const SMALL_FRAME: usize = 64 << 10;

pub const TAG_HELLO: u8 = b'H';
pub const TAG_WELCOME: u8 = b'W';
pub const TAG_DIVERGED: u8 = b'D';
pub const TAG_NEED_CLONE: u8 = b'C';
pub const TAG_REFUSED: u8 = b'E';
pub const TAG_RECORDS: u8 = b'R';
pub const TAG_KEEPALIVE: u8 = b'K';
pub const TAG_ACK: u8 = b'A';
pub const TAG_CLONE_FILE: u8 = b'F';
pub const TAG_CLONE_CHUNK: u8 = b'B';
pub const TAG_CLONE_DONE: u8 = b'Z';

/// Why a replica connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Stream,
    Clone,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Hello {
    pub name: String,
    /// 0 when the replica holds nothing yet.
    pub system_id: u64,
    pub history: TimelineHistory,
    pub last_lsn: u64,
    pub purpose: Purpose,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Welcome {
    pub system_id: u64,
    pub history: TimelineHistory,
    pub primary_lsn: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Diverged {
    pub fork_lsn: u64,
    pub history: TimelineHistory,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloneFile {
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloneDone {
    pub lsn: u64,
}

/// The replica's position report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ack {
    pub flushed: u64,
    pub applied: u64,
    /// Commit time of the oldest record applied since the last ack (0: none).
    pub oldest_commit_micros: u64,
}

impl Ack {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.flushed.to_be_bytes());
        out.extend_from_slice(&self.applied.to_be_bytes());
        out.extend_from_slice(&self.oldest_commit_micros.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Ack> {
        let (flushed, applied, oldest_commit_micros) = three_u64(bytes, "ack")?;
        Ok(Ack {
            flushed,
            applied,
            oldest_commit_micros,
        })
    }
}

/// The sender's position, sent when idle so the replica knows it is alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    pub primary_lsn: u64,
    pub time_micros: u64,
}

impl Keepalive {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.primary_lsn.to_be_bytes());
        out.extend_from_slice(&self.time_micros.to_be_bytes());
        out.extend_from_slice(&0u64.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Keepalive> {
        let (primary_lsn, time_micros, _) = three_u64(bytes, "keepalive")?;
        Ok(Keepalive {
            primary_lsn,
            time_micros,
        })
    }
}

fn three_u64(bytes: &[u8], what: &str) -> Result<(u64, u64, u64)> {
    let word = |i: usize| -> Result<u64> {
        bytes
            .get(i * 8..i * 8 + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .ok_or_else(|| protocol(format!("short {what} message")))
    };
    if bytes.len() != 24 {
        return Err(protocol(format!("{what} message of {} bytes", bytes.len())));
    }
    Ok((word(0)?, word(1)?, word(2)?))
}

pub fn protocol(msg: String) -> NodeError {
    NodeError::Replication(msg)
}

/// Writes one frame.
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, tag: u8, payload: &[u8]) -> Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| protocol(format!("frame of {} bytes is too large", payload.len())))?;
    let mut header = [0u8; 5];
    header[0] = tag;
    header[1..].copy_from_slice(&len.to_be_bytes());
    if payload.len() <= SMALL_FRAME {
        // One write, so a small frame (an ack, a commit's records) leaves
        // as one segment: with TCP_NODELAY a separate header write would
        // be a packet (and a wake-up of the reader) of its own.
        let mut frame = Vec::with_capacity(5 + payload.len());
        frame.extend_from_slice(&header);
        frame.extend_from_slice(payload);
        w.write_all(&frame).await?;
    } else {
        w.write_all(&header).await?;
        w.write_all(payload).await?;
    }
    w.flush().await?;
    Ok(())
}

/// Writes a JSON control message.
pub async fn write_json<W: AsyncWrite + Unpin, T: Serialize>(
    w: &mut W,
    tag: u8,
    value: &T,
) -> Result<()> {
    let payload =
        serde_json::to_vec(value).map_err(|e| protocol(format!("encode message: {e}")))?;
    write_frame(w, tag, &payload).await
}

/// Reads one frame: `(tag, payload)`.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    r.read_exact(&mut header).await?;
    let tag = header[0];
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if len > MAX_FRAME {
        return Err(protocol(format!("frame of {len} bytes exceeds the limit")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Ok((tag, payload))
}

/// Parses a JSON control message.
pub fn parse_json<T: for<'de> Deserialize<'de>>(payload: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(payload).map_err(|e| protocol(format!("bad {what} message: {e}")))
}

const CODEC_NONE: u8 = 0;
const CODEC_LZ4: u8 = 1;
const CODEC_ZSTD: u8 = 2;

/// Encodes a batch of already-encoded records, compressed as configured.
pub fn encode_records<R: AsRef<[u8]>>(records: &[R], compression: Compression) -> Result<Vec<u8>> {
    let raw_len: usize = records.iter().map(|r| 4 + r.as_ref().len()).sum();
    let mut body = Vec::with_capacity(raw_len);
    for r in records {
        let r = r.as_ref();
        let len = u32::try_from(r.len()).map_err(|_| protocol("record too large".into()))?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(r);
    }
    let raw_len32 = u32::try_from(raw_len).map_err(|_| protocol("batch too large".into()))?;
    let (codec, body) = match compression {
        Compression::None => (CODEC_NONE, body),
        Compression::Lz4 => (CODEC_LZ4, lz4_flex::block::compress(&body)),
        Compression::Zstd => (
            CODEC_ZSTD,
            zstd::bulk::compress(&body, 3).map_err(|e| protocol(format!("zstd: {e}")))?,
        ),
    };
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(codec);
    out.extend_from_slice(&raw_len32.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Decodes a batch message into records (each checked by its own CRC).
pub fn decode_records(payload: &[u8]) -> Result<Vec<WalRecord>> {
    let (&codec, rest) = payload
        .split_first()
        .ok_or_else(|| protocol("empty records message".into()))?;
    let (len_bytes, body) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| protocol("short records message".into()))?;
    let raw_len = u32::from_be_bytes(*len_bytes) as usize;
    if raw_len > MAX_FRAME {
        return Err(protocol(format!("records batch of {raw_len} bytes")));
    }
    let raw = match codec {
        CODEC_NONE => body.to_vec(),
        CODEC_LZ4 => {
            lz4_flex::block::decompress(body, raw_len).map_err(|e| protocol(format!("lz4: {e}")))?
        }
        CODEC_ZSTD => {
            zstd::bulk::decompress(body, raw_len).map_err(|e| protocol(format!("zstd: {e}")))?
        }
        other => return Err(protocol(format!("unknown codec {other}"))),
    };
    if raw.len() != raw_len {
        return Err(protocol("records batch length mismatch".into()));
    }
    let mut records = Vec::new();
    let mut rest = raw.as_slice();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| protocol("truncated record length".into()))?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > tail.len() {
            return Err(protocol("truncated record".into()));
        }
        let (record, tail) = tail.split_at(len);
        records.push(WalRecord::decode(record)?);
        rest = tail;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustydb_sql::storage::Lsn;

    fn record(lsn: u64) -> WalRecord {
        WalRecord {
            lsn: Lsn(lsn),
            timeline: 1,
            commit_time_micros: 7,
            mutations: vec![(b"k".to_vec(), Some(vec![lsn as u8; 100]))],
            before_images: vec![(b"k".to_vec(), None)],
        }
    }

    #[test]
    fn batches_round_trip_with_every_codec() {
        let records: Vec<WalRecord> = (1..20).map(record).collect();
        let encoded: Vec<Vec<u8>> = records.iter().map(WalRecord::encode).collect();
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let bytes = encode_records(&encoded, c).expect("encode");
            assert_eq!(decode_records(&bytes).expect("decode"), records, "{c:?}");
        }
    }

    #[test]
    fn damaged_batches_are_errors_not_panics() {
        let encoded = vec![record(1).encode(), record(2).encode()];
        for c in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let bytes = encode_records(&encoded, c).expect("encode");
            for cut in 0..bytes.len() {
                assert!(decode_records(&bytes[..cut]).is_err(), "{c:?} cut {cut}");
            }
            let mut flipped = bytes.clone();
            let last = flipped.len() - 3;
            flipped[last] ^= 0x40;
            assert!(decode_records(&flipped).is_err(), "{c:?} flip");
        }
        assert!(decode_records(&[9, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn acks_round_trip_and_reject_bad_lengths() {
        let ack = Ack {
            flushed: 5,
            applied: 4,
            oldest_commit_micros: 99,
        };
        assert_eq!(Ack::decode(&ack.encode()).ok(), Some(ack));
        assert!(Ack::decode(&[0; 23]).is_err());
    }
}
