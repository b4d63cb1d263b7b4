//! The change stream's lines, decoded, and grouped into transactions.
//!
//! `GET /changes` answers newline-delimited JSON (see
//! docs/logical-subscription.md for the full contract). `parse_line` turns
//! one line into a `Line`; `Assembler` consumes lines in order and yields
//! `Event`s the worker acts on: a finished initial copy, a finished remote
//! transaction, progress (keepalive), or the publisher's error. It enforces
//! the stream's grammar, so a truncated or reordered stream is an error
//! (the worker reconnects from its stored position) and never a partial
//! apply:
//!
//! ```text
//! stream   := [tables] [snapshot] (txn | keepalive)* [error]
//! snapshot := snapshot_begin copy* snapshot_end       (same lsn at both ends)
//! txn      := begin (change | ddl)* commit            (same lsn at both ends)
//! ```

use rustydb_sql::subscription::apply::TextRow;
use rustydb_sql::subscription::{RemoteChange, RemoteOp, RemoteTxn};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One decoded line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    SnapshotBegin {
        lsn: u64,
    },
    Copy {
        table: String,
        row: Map<String, Value>,
    },
    SnapshotEnd {
        lsn: u64,
        /// The tables copied.
        #[serde(default)]
        tables: Option<Vec<String>>,
    },
    Tables {
        tables: Vec<String>,
    },
    Begin {
        lsn: u64,
        #[serde(default)]
        commit_time: Option<String>,
    },
    Change {
        lsn: u64,
        table: String,
        op: String,
        #[serde(default)]
        key: Option<Map<String, Value>>,
        #[serde(default)]
        new: Option<Map<String, Value>>,
        #[serde(default)]
        old: Option<Map<String, Value>>,
    },
    Commit {
        lsn: u64,
        #[serde(default)]
        commit_time: Option<String>,
    },
    Keepalive {
        lsn: u64,
    },
    Ddl {
        lsn: u64,
        sql: String,
    },
    Error {
        message: String,
    },
}

/// Decodes one line of the stream.
pub fn parse_line(line: &str) -> Result<Line, String> {
    serde_json::from_str(line).map_err(|e| format!("bad change stream line ({e}): {line}"))
}

/// A JSON row object as text values: strings as is, null as NULL, other
/// JSON scalars by their text (the contract sends strings; numbers are
/// tolerated).
fn text_row(map: &Map<String, Value>) -> TextRow {
    map.iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            (k.clone(), text)
        })
        .collect()
}

/// Commit time in µs since the epoch, from RFC 3339.
pub fn micros(t: &Option<String>) -> Option<i64> {
    let t = t.as_ref()?;
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_micros())
}

/// What the worker does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The initial (or a REFRESH) copy, as one transaction of inserts at
    /// the snapshot LSN, with the tables it holds.
    Snapshot(RemoteTxn, Option<Vec<String>>),
    /// The tables published when the stream started.
    Tables(Vec<String>),
    /// A complete remote transaction.
    Txn(RemoteTxn),
    /// The publisher has nothing before this LSN.
    Keepalive(u64),
    /// The publisher reported an error and will close.
    Error(String),
}

/// Groups lines into events (see the module notes for the grammar).
#[derive(Default)]
pub struct Assembler {
    open: Option<RemoteTxn>,
    snapshot: Option<RemoteTxn>,
}

impl Assembler {
    /// Feeds one line; `Ok(Some(event))` when a unit is complete.
    pub fn push(&mut self, line: Line) -> Result<Option<Event>, String> {
        match line {
            Line::SnapshotBegin { lsn } => {
                if self.open.is_some() || self.snapshot.is_some() {
                    return Err("snapshot_begin inside another unit".into());
                }
                self.snapshot = Some(RemoteTxn {
                    lsn,
                    ..Default::default()
                });
                Ok(None)
            }
            Line::Copy { table, row } => {
                let snap = self
                    .snapshot
                    .as_mut()
                    .ok_or("copy line outside a snapshot")?;
                snap.changes.push(RemoteChange::Row {
                    table,
                    op: RemoteOp::Insert,
                    key: vec![],
                    new: Some(text_row(&row)),
                });
                Ok(None)
            }
            Line::Tables { tables } => {
                if self.open.is_some() || self.snapshot.is_some() {
                    return Err("tables line inside a unit".into());
                }
                Ok(Some(Event::Tables(tables)))
            }
            Line::SnapshotEnd { lsn, tables } => {
                let snap = self.snapshot.take().ok_or("snapshot_end without begin")?;
                if snap.lsn != lsn {
                    return Err(format!(
                        "snapshot_end lsn {lsn} does not match snapshot_begin {}",
                        snap.lsn
                    ));
                }
                Ok(Some(Event::Snapshot(snap, tables)))
            }
            Line::Begin { lsn, commit_time } => {
                if self.open.is_some() || self.snapshot.is_some() {
                    return Err("begin inside another unit".into());
                }
                self.open = Some(RemoteTxn {
                    lsn,
                    commit_micros: micros(&commit_time),
                    changes: vec![],
                });
                Ok(None)
            }
            Line::Change {
                lsn,
                table,
                op,
                key,
                new,
                old,
            } => {
                let txn = self.open.as_mut().ok_or("change outside a transaction")?;
                if lsn != txn.lsn {
                    return Err(format!("change lsn {lsn} inside transaction {}", txn.lsn));
                }
                let op = match op.as_str() {
                    "insert" => RemoteOp::Insert,
                    "update" => RemoteOp::Update,
                    "delete" => RemoteOp::Delete,
                    "truncate" => RemoteOp::Truncate,
                    other => return Err(format!("unknown change op \"{other}\"")),
                };
                // The key identifies the row; without one, fall back to the
                // old row (a publisher sending the full old image).
                let key = key.or(old).map(|k| text_row(&k)).unwrap_or_default();
                txn.changes.push(RemoteChange::Row {
                    table,
                    op,
                    key,
                    new: new.map(|n| text_row(&n)),
                });
                Ok(None)
            }
            Line::Ddl { lsn, sql } => {
                let txn = self.open.as_mut().ok_or("ddl outside a transaction")?;
                if lsn != txn.lsn {
                    return Err(format!("ddl lsn {lsn} inside transaction {}", txn.lsn));
                }
                txn.changes.push(RemoteChange::Ddl(sql));
                Ok(None)
            }
            Line::Commit { lsn, commit_time } => {
                let mut txn = self.open.take().ok_or("commit without begin")?;
                if lsn != txn.lsn {
                    return Err(format!("commit lsn {lsn} does not match begin {}", txn.lsn));
                }
                if let Some(t) = micros(&commit_time) {
                    txn.commit_micros = Some(t);
                }
                Ok(Some(Event::Txn(txn)))
            }
            Line::Keepalive { lsn } => {
                if self.open.is_some() || self.snapshot.is_some() {
                    // Progress inside a unit says nothing new; ignore.
                    return Ok(None);
                }
                Ok(Some(Event::Keepalive(lsn)))
            }
            Line::Error { message } => Ok(Some(Event::Error(message))),
        }
    }
}

/// Splits a byte buffer into complete lines, keeping the unfinished tail
/// (one pass: the buffer may hold many megabytes of lines).
pub fn take_lines(buf: &mut Vec<u8>) -> Vec<String> {
    let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let out = buf
        .get(..end)
        .unwrap_or_default()
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l).trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    buf.drain(..=end);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut Assembler, l: &str) -> Option<Event> {
        a.push(parse_line(l).unwrap()).unwrap()
    }

    #[test]
    fn snapshot_then_transactions() {
        let mut a = Assembler::default();
        assert_eq!(feed(&mut a, r#"{"type":"snapshot_begin","lsn":5}"#), None);
        assert_eq!(
            feed(
                &mut a,
                r#"{"type":"copy","table":"public.t","row":{"id":"1","v":null}}"#
            ),
            None
        );
        let Some(Event::Snapshot(s, tables)) = feed(
            &mut a,
            r#"{"type":"snapshot_end","lsn":5,"tables":["public.t"]}"#,
        ) else {
            panic!("no snapshot")
        };
        assert_eq!(tables, Some(vec!["public.t".to_string()]));
        assert_eq!(s.lsn, 5);
        assert_eq!(
            s.changes,
            vec![RemoteChange::Row {
                table: "public.t".into(),
                op: RemoteOp::Insert,
                key: vec![],
                new: Some(vec![("id".into(), Some("1".into())), ("v".into(), None)]),
            }]
        );
        feed(
            &mut a,
            r#"{"type":"begin","lsn":7,"commit_time":"2026-11-22T12:00:00.123456Z"}"#,
        );
        feed(
            &mut a,
            r#"{"type":"change","lsn":7,"table":"public.t","op":"update","key":{"id":"1"},"new":{"id":"1","v":"x"},"old":null}"#,
        );
        feed(
            &mut a,
            r#"{"type":"ddl","lsn":7,"sql":"ALTER TABLE t ADD c int"}"#,
        );
        let Some(Event::Txn(t)) = feed(
            &mut a,
            r#"{"type":"commit","lsn":7,"commit_time":"2026-11-22T12:00:00.123456Z"}"#,
        ) else {
            panic!("no txn")
        };
        assert_eq!(t.lsn, 7);
        assert_eq!(t.changes.len(), 2);
        assert_eq!(t.commit_micros, Some(1_795_348_800_123_456));
        assert_eq!(
            feed(&mut a, r#"{"type":"keepalive","lsn":9}"#),
            Some(Event::Keepalive(9))
        );
        assert_eq!(
            feed(&mut a, r#"{"type":"error","message":"slot gone"}"#),
            Some(Event::Error("slot gone".into()))
        );
    }

    #[test]
    fn grammar_violations_are_errors() {
        let mut a = Assembler::default();
        assert!(a
            .push(parse_line(r#"{"type":"commit","lsn":1}"#).unwrap())
            .is_err());
        let mut a = Assembler::default();
        feed(&mut a, r#"{"type":"begin","lsn":3}"#);
        assert!(a
            .push(parse_line(r#"{"type":"commit","lsn":4}"#).unwrap())
            .is_err());
        let mut a = Assembler::default();
        feed(&mut a, r#"{"type":"begin","lsn":3}"#);
        assert!(a
            .push(parse_line(r#"{"type":"change","lsn":3,"table":"t","op":"merge"}"#).unwrap())
            .is_err());
        assert!(parse_line("{not json").is_err());
        assert!(parse_line(r#"{"type":"mystery"}"#).is_err());
    }

    #[test]
    fn lines_split_across_chunks() {
        let mut buf = b"{\"a\":1}\n{\"b\"".to_vec();
        assert_eq!(take_lines(&mut buf), vec!["{\"a\":1}".to_string()]);
        buf.extend_from_slice(b":2}\n\n");
        assert_eq!(take_lines(&mut buf), vec!["{\"b\":2}".to_string()]);
        assert!(buf.is_empty());
    }
}
