//! The WAL record and its binary encoding.
//!
//! One committed write transaction is one `WalRecord`. It is stored as the
//! value of key `lsn.to_be_bytes()` in the `wal` column family, written in the
//! same RocksDB batch as the transaction's data, and later shipped to replicas
//! byte for byte. The encoding is explicit so it never depends on a
//! serialisation library's defaults:
//!
//! ```text
//! +---------+-----------+-------------+------------------------------+
//! | version | crc32 (BE)| length (BE) | payload (length bytes)       |
//! | u8 = 1  | u32       | u32         |                              |
//! +---------+-----------+-------------+------------------------------+
//! payload = lsn u64 | timeline u64 | commit_time_micros u64
//!         | mutations | before_images
//! list    = count u32 | count × (key_len u32, key, tag u8, [val_len u32, val])
//!           tag 0 = absent (delete / did not exist), tag 1 = value follows
//! ```
//!
//! All integers are big-endian. The CRC (crc32fast) covers the payload only.
//! Decoding checks every length against the bytes that remain before it
//! allocates, so corrupt or truncated input yields `NodeError::Corrupt`, never
//! a panic or a huge allocation.

use rustydb_sql::storage::Lsn;

use crate::error::{NodeError, Result};

/// The encoding version written by this build.
const VERSION: u8 = 1;
/// version + crc + length.
const HEADER_LEN: usize = 1 + 4 + 4;

/// A key and its value after (mutations) or before (before-images) the
/// transaction; `None` means the key is absent.
pub type Mutation = (Vec<u8>, Option<Vec<u8>>);

/// One committed write transaction, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalRecord {
    /// Position in the log; dense, starting at 1.
    pub lsn: Lsn,
    /// The timeline the record was committed on.
    pub timeline: u64,
    /// Commit time, microseconds since the Unix epoch.
    pub commit_time_micros: u64,
    /// The transaction's writes in key order: the new value, or `None` for a
    /// delete.
    pub mutations: Vec<Mutation>,
    /// For each mutated key (same order), its latest committed value before
    /// this transaction, or `None` if it did not exist. Used to undo the
    /// record when a former primary rewinds to a fork point.
    pub before_images: Vec<Mutation>,
}

impl WalRecord {
    /// Encodes the record into its on-disk form.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload =
            Vec::with_capacity(24 + list_len(&self.mutations) + list_len(&self.before_images));
        payload.extend_from_slice(&self.lsn.0.to_be_bytes());
        payload.extend_from_slice(&self.timeline.to_be_bytes());
        payload.extend_from_slice(&self.commit_time_micros.to_be_bytes());
        encode_list(&mut payload, &self.mutations);
        encode_list(&mut payload, &self.before_images);

        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.push(VERSION);
        out.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        // A record larger than 4 GiB cannot be built: a WriteBatch that size
        // would fail in RocksDB first. Saturate rather than wrap so decode
        // reports the mismatch instead of misreading.
        let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Decodes a record, checking version, length and checksum.
    /// The commit time of an encoded record, read from its header alone
    /// (no checksum: retention only orders records by it, and whoever
    /// reads the record itself checks it).
    pub fn peek_commit_time(bytes: &[u8]) -> Result<u64> {
        let mut header = Reader::new(bytes);
        let version = header.u8()?;
        if version != VERSION {
            return Err(corrupt(format!("unknown WAL record version {version}")));
        }
        let _crc = header.u32()?;
        let _len = header.u32()?;
        let mut r = Reader::new(header.rest());
        let _lsn = r.u64()?;
        let _timeline = r.u64()?;
        r.u64()
    }

    pub fn decode(bytes: &[u8]) -> Result<WalRecord> {
        let mut header = Reader::new(bytes);
        let version = header.u8()?;
        if version != VERSION {
            return Err(corrupt(format!("unknown WAL record version {version}")));
        }
        let crc = header.u32()?;
        let len = header.u32()? as usize;
        let payload = header.rest();
        if payload.len() != len {
            return Err(corrupt(format!(
                "WAL record length {len} does not match {} payload bytes",
                payload.len()
            )));
        }
        if crc32fast::hash(payload) != crc {
            return Err(corrupt("WAL record checksum mismatch".to_string()));
        }
        let mut r = Reader::new(payload);
        let lsn = Lsn(r.u64()?);
        let timeline = r.u64()?;
        let commit_time_micros = r.u64()?;
        let mutations = decode_list(&mut r)?;
        let before_images = decode_list(&mut r)?;
        if !r.rest().is_empty() {
            return Err(corrupt("trailing bytes after WAL record".to_string()));
        }
        Ok(WalRecord {
            lsn,
            timeline,
            commit_time_micros,
            mutations,
            before_images,
        })
    }
}

fn list_len(list: &[Mutation]) -> usize {
    4 + list
        .iter()
        .map(|(k, v)| 9 + k.len() + v.as_ref().map_or(0, Vec::len))
        .sum::<usize>()
}

fn encode_list(out: &mut Vec<u8>, list: &[Mutation]) {
    put_len(out, list.len());
    for (key, value) in list {
        put_len(out, key.len());
        out.extend_from_slice(key);
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                put_len(out, v.len());
                out.extend_from_slice(v);
            }
        }
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
}

fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Mutation>> {
    let count = r.u32()? as usize;
    // Each entry takes at least 5 bytes (key length + tag): a count the
    // remaining bytes cannot hold is corruption, caught before allocating.
    if count > r.remaining() / 5 {
        return Err(corrupt(format!(
            "WAL record claims {count} entries in {} bytes",
            r.remaining()
        )));
    }
    let mut list = Vec::with_capacity(count);
    for _ in 0..count {
        let key_len = r.u32()? as usize;
        let key = r.bytes(key_len)?.to_vec();
        let value = match r.u8()? {
            0 => None,
            1 => {
                let len = r.u32()? as usize;
                Some(r.bytes(len)?.to_vec())
            }
            tag => return Err(corrupt(format!("bad value tag {tag} in WAL record"))),
        };
        list.push((key, value));
    }
    Ok(list)
}

fn corrupt(msg: String) -> NodeError {
    NodeError::Corrupt(msg)
}

/// A bounds-checked cursor over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(corrupt(format!(
                "WAL record truncated: need {n} bytes, have {}",
                self.buf.len()
            )));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WalRecord {
        WalRecord {
            lsn: Lsn(42),
            timeline: 3,
            commit_time_micros: 1_700_000_000_000_000,
            mutations: vec![
                (b"a".to_vec(), Some(b"one".to_vec())),
                (b"b".to_vec(), None),
                (vec![], Some(vec![])),
            ],
            before_images: vec![
                (b"a".to_vec(), None),
                (b"b".to_vec(), Some(b"old".to_vec())),
                (vec![], None),
            ],
        }
    }

    #[test]
    fn round_trip() {
        let rec = sample();
        let decoded = WalRecord::decode(&rec.encode());
        assert_eq!(decoded.ok(), Some(rec));
    }

    #[test]
    fn commit_time_reads_from_the_header() {
        let bytes = sample().encode();
        assert_eq!(
            WalRecord::peek_commit_time(&bytes).ok(),
            Some(1_700_000_000_000_000)
        );
        assert!(WalRecord::peek_commit_time(&bytes[..20]).is_err());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert!(WalRecord::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn every_bit_flip_is_an_error() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(WalRecord::decode(&b).is_err(), "flip byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn garbage_with_valid_crc_is_an_error_not_a_panic() {
        // A payload whose checksum is right but whose counts are absurd.
        let payload = {
            let mut p = vec![0u8; 24];
            p.extend_from_slice(&u32::MAX.to_be_bytes());
            p
        };
        let mut bytes = vec![VERSION];
        bytes.extend_from_slice(&crc32fast::hash(&payload).to_be_bytes());
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&payload);
        assert!(matches!(
            WalRecord::decode(&bytes),
            Err(NodeError::Corrupt(_))
        ));
    }
}
