//! Archived WAL segments and their index.
//!
//! A segment holds consecutive records of one timeline:
//! `wal/<timeline>/<first>-<last>.wal.lz4` (LSNs zero-padded to 20 digits
//! so names sort). Its plain form is `count × (len u32 BE, record)` where
//! each record is the node's own encoding (version, crc32, payload), then
//! lz4 (size-prepended block); sealed afterwards when the repository is
//! encrypted. `wal/index.jsonl` gets one [`SegmentEntry`] line per
//! segment, written after the segment itself, with the sha256 of the
//! segment's compressed bytes: a segment not in the index does not exist.
//!
//! `wal/history/<timeline>.json` is the node's timeline history as of the
//! first archived record of that timeline; PITR follows the newest one.

use serde::{Deserialize, Serialize};

use super::repo::{to_json, Repo};
use super::{err, sha256_hex};
use crate::error::Result;
use crate::wal::{TimelineHistory, WalRecord};

pub const INDEX: &str = "wal/index.jsonl";

/// One line of `wal/index.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    pub timeline: u64,
    pub first_lsn: u64,
    pub last_lsn: u64,
    pub first_time_micros: u64,
    pub last_time_micros: u64,
    /// Bytes of the compressed segment (before any encryption).
    pub size: u64,
    pub sha256: String,
}

impl SegmentEntry {
    pub fn path(&self) -> String {
        segment_path(self.timeline, self.first_lsn, self.last_lsn)
    }
}

pub fn segment_path(timeline: u64, first: u64, last: u64) -> String {
    format!("wal/{timeline}/{first:020}-{last:020}.wal.lz4")
}

/// Builds a segment from raw records (all of `timeline`); returns the
/// compressed bytes and its index entry.
pub fn build(timeline: u64, records: &[(u64, Vec<u8>, u64)]) -> Result<(Vec<u8>, SegmentEntry)> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Err(err("an empty WAL segment"));
    };
    let mut plain = Vec::with_capacity(records.iter().map(|r| r.1.len() + 4).sum());
    for (_, bytes, _) in records {
        let len = u32::try_from(bytes.len())
            .map_err(|_| err("a WAL record over 4 GiB cannot be archived"))?;
        plain.extend_from_slice(&len.to_be_bytes());
        plain.extend_from_slice(bytes);
    }
    let compressed = lz4_flex::compress_prepend_size(&plain);
    let entry = SegmentEntry {
        timeline,
        first_lsn: first.0,
        last_lsn: last.0,
        first_time_micros: first.2,
        last_time_micros: last.2,
        size: compressed.len() as u64,
        sha256: sha256_hex(&compressed),
    };
    Ok((compressed, entry))
}

/// Reads, checks (sha256, LSN range, timeline, density) and decodes one
/// segment.
pub fn read(repo: &Repo, entry: &SegmentEntry) -> Result<Vec<WalRecord>> {
    let path = entry.path();
    let compressed = repo
        .get_object(&path)
        .map_err(|e| err(format!("missing or unreadable WAL segment {path}: {e}")))?;
    if compressed.len() as u64 != entry.size || sha256_hex(&compressed) != entry.sha256 {
        return Err(err(format!(
            "WAL segment {path} does not match its checksum"
        )));
    }
    let plain = lz4_flex::decompress_size_prepended(&compressed)
        .map_err(|e| err(format!("WAL segment {path} does not decompress: {e}")))?;
    let mut out = Vec::new();
    let mut rest = plain.as_slice();
    while !rest.is_empty() {
        let (len_bytes, tail) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| err(format!("WAL segment {path} is truncated")))?;
        let len = u32::from_be_bytes(*len_bytes) as usize;
        if len > tail.len() {
            return Err(err(format!("WAL segment {path} is truncated")));
        }
        let (record, tail) = tail.split_at(len);
        out.push(WalRecord::decode(record)?);
        rest = tail;
    }
    let expected = entry.first_lsn..=entry.last_lsn;
    let dense = out
        .iter()
        .zip(entry.first_lsn..)
        .all(|(r, lsn)| r.lsn.0 == lsn && r.timeline == entry.timeline);
    if !dense || out.len() as u64 != entry.last_lsn - entry.first_lsn + 1 {
        return Err(err(format!(
            "WAL segment {path} does not hold exactly LSNs {expected:?} of timeline {}",
            entry.timeline
        )));
    }
    Ok(out)
}

/// Every index entry, in file order. Unparsable lines are corruption.
pub fn load_index(repo: &Repo) -> Result<Vec<SegmentEntry>> {
    if !repo.store().exists(INDEX)? {
        return Ok(Vec::new());
    }
    let text = repo.store().get(INDEX)?;
    let text = String::from_utf8_lossy(&text);
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let entry: SegmentEntry =
            serde_json::from_str(line).map_err(|e| err(format!("{INDEX} line {}: {e}", n + 1)))?;
        out.push(entry);
    }
    Ok(out)
}

/// Replaces the index (prune).
pub fn store_index(repo: &Repo, entries: &[SegmentEntry]) -> Result<()> {
    let mut text = String::new();
    for e in entries {
        text.push_str(&serde_json::to_string(e).map_err(|e| err(e.to_string()))?);
        text.push('\n');
    }
    repo.store().put(INDEX, text.as_bytes())
}

/// Records the history of a newly archived timeline.
pub fn store_history(repo: &Repo, history: &TimelineHistory) -> Result<()> {
    repo.put_object(
        &format!("wal/history/{}.json", history.current()),
        &to_json(history)?,
    )
}

/// The newest archived timeline history, if any.
pub fn latest_history(repo: &Repo) -> Result<Option<TimelineHistory>> {
    let mut best: Option<(u64, String)> = None;
    for path in repo.store().list("wal/history")? {
        let tl = path
            .strip_prefix("wal/history/")
            .and_then(|p| p.strip_suffix(".json"))
            .and_then(|t| t.parse::<u64>().ok());
        if let Some(tl) = tl {
            if best.as_ref().is_none_or(|(b, _)| tl > *b) {
                best = Some((tl, path));
            }
        }
    }
    match best {
        Some((_, path)) => {
            let bytes = repo.get_object(&path)?;
            let history: TimelineHistory =
                serde_json::from_slice(&bytes).map_err(|e| err(format!("{path}: {e}")))?;
            history.validate()?;
            Ok(Some(history))
        }
        None => Ok(None),
    }
}

/// A stretch of one segment that the recovery path uses.
#[derive(Debug, Clone)]
pub struct Piece {
    pub entry: SegmentEntry,
    pub from: u64,
    pub to: u64,
}

/// The segment stretches covering `from..` on the path `history`
/// describes, in LSN order, stopping at the first LSN no segment covers
/// (returned as the second value). A segment of an abandoned timeline that
/// runs past the switch to the next timeline is cut at the switch.
pub fn plan(entries: &[SegmentEntry], history: &TimelineHistory, from: u64) -> (Vec<Piece>, u64) {
    let mut out = Vec::new();
    let mut next = from;
    loop {
        let timeline = history.timeline_at(next);
        let switch = history
            .entries
            .iter()
            .map(|h| h.start_lsn)
            .filter(|&s| s > next)
            .min()
            .unwrap_or(u64::MAX);
        // Segments of the right timeline containing `next`; take the one
        // reaching furthest (re-archived ranges may overlap).
        let best = entries
            .iter()
            .filter(|e| e.timeline == timeline && e.first_lsn <= next && next <= e.last_lsn)
            .max_by_key(|e| e.last_lsn);
        match best {
            Some(e) => {
                let to = e.last_lsn.min(switch.saturating_sub(1));
                out.push(Piece {
                    entry: e.clone(),
                    from: next,
                    to,
                });
                next = to + 1;
            }
            None => return (out, next),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::TimelineEntry;

    fn entry(timeline: u64, first: u64, last: u64) -> SegmentEntry {
        SegmentEntry {
            timeline,
            first_lsn: first,
            last_lsn: last,
            first_time_micros: 0,
            last_time_micros: 0,
            size: 0,
            sha256: String::new(),
        }
    }

    fn history(points: &[(u64, u64)]) -> TimelineHistory {
        TimelineHistory {
            entries: points
                .iter()
                .map(|&(timeline, start_lsn)| TimelineEntry {
                    timeline,
                    start_lsn,
                    reason: "test".into(),
                    time_micros: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn plan_follows_the_history_and_stops_at_a_gap() {
        // Timeline 1 archived to 30 (its 21..30 were abandoned), timeline 2
        // from 21; a hole at 41..50.
        let index = vec![
            entry(1, 1, 10),
            entry(1, 11, 30),
            entry(2, 21, 40),
            entry(2, 51, 60),
        ];
        let h = history(&[(1, 1), (2, 21)]);
        let (pieces, missing) = plan(&index, &h, 5);
        let spans: Vec<(u64, u64, u64)> = pieces
            .iter()
            .map(|p| (p.entry.timeline, p.from, p.to))
            .collect();
        assert_eq!(spans, vec![(1, 5, 10), (1, 11, 20), (2, 21, 40)]);
        assert_eq!(missing, 41);
    }

    #[test]
    fn segments_round_trip_and_reject_damage() {
        let dir = std::env::temp_dir().join(format!("rdb-seg-{:x}", rand::random::<u64>()));
        let repo = Repo::open_or_init(&dir, None).expect("repo");
        let records: Vec<(u64, Vec<u8>, u64)> = (7..=9)
            .map(|lsn| {
                let r = WalRecord {
                    lsn: rustydb_sql::storage::Lsn(lsn),
                    timeline: 1,
                    commit_time_micros: lsn * 10,
                    mutations: vec![(b"k".to_vec(), Some(vec![lsn as u8]))],
                    before_images: vec![(b"k".to_vec(), None)],
                };
                (lsn, r.encode(), lsn * 10)
            })
            .collect();
        let (bytes, e) = build(1, &records).expect("build");
        assert_eq!((e.first_lsn, e.last_lsn, e.last_time_micros), (7, 9, 90));
        repo.put_object(&e.path(), &bytes).expect("put");
        let back = read(&repo, &e).expect("read");
        assert_eq!(
            back.iter().map(|r| r.lsn.0).collect::<Vec<_>>(),
            vec![7, 8, 9]
        );
        let mut bad = bytes.clone();
        if let Some(b) = bad.last_mut() {
            *b ^= 1;
        }
        repo.put_object(&e.path(), &bad).expect("put");
        assert!(read(&repo, &e).is_err());
        repo.store().delete(&e.path()).expect("delete");
        assert!(read(&repo, &e).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
