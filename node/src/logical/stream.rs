//! The change stream behind `GET /changes`: WAL records → NDJSON lines.
//!
//! One blocking thread per open stream runs `produce`: it reads the WAL in
//! batches from the start LSN (from the in-memory WAL tail the physical
//! senders use when it holds them, else from RocksDB), decodes each record with the publication's
//! `Decoder`, and sends lines into a small bounded channel that the HTTP
//! body drains. It sleeps on the storage's LSN watch, so a commit wakes it
//! at once (no polling); the lines of the records read together are sent
//! as one chunk as soon as they are decoded (one write per transaction when
//! commits come one at a time, fewer under load). When the client stops reading, hyper stops polling the
//! body, the channel fills, and `blocking_send` parks the thread: the
//! server reads no more WAL until the socket drains (back-pressure). When
//! the client goes away the receiver is dropped and the next send fails,
//! which ends the thread.
//!
//! The producer thread runs at a raised priority while it streams
//! (`priority.rs`): it wakes on every commit, and on a machine with busy
//! cores the wait for a core is most of its delay.
//!
//! Before streaming, on request: a `tables` line (the tables published
//! now), and a snapshot (`snapshot_begin`, `copy` lines, `snapshot_end`
//! naming the tables copied) of every published table or, for a REFRESH,
//! of those the consumer does not list as known (the stream then goes on
//! from the consumer's position, not from the snapshot's).
//!
//! Lines per transaction with published changes: `begin`, `ddl`/`change`
//! lines, `commit`, all carrying the record's LSN. Transactions without
//! published changes produce nothing, but `keepalive` lines (at least once
//! a second while idle, and after every batch when a second has passed)
//! carry the highest LSN scanned, so a consumer can confirm past them.
//! Errors (WAL already removed, slot invalidated, decoding failure) are
//! sent as one `error` line, then the stream ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustydb_sql::publication::decode::{Decoded, Decoder};
use rustydb_sql::storage::Lsn;
use rustydb_sql::Engine;
use serde_json::json;
use tokio::sync::mpsc;

use crate::error::NodeError;
use crate::replication::Replication;
use crate::wal::WalRecord;

/// Records read per WAL batch.
const BATCH: usize = 256;
/// Idle time between keepalives.
const KEEPALIVE: Duration = Duration::from_secs(1);
/// Largest chunk gathered before it is sent.
const FLUSH_BYTES: usize = 256 << 10;

/// What a stream was asked for, after validation.
pub struct StreamPlan {
    pub decoder: Decoder,
    /// Stream records with LSN greater than this (ignored with `snapshot`).
    pub after: u64,
    pub snapshot: bool,
    /// REFRESH copy: before streaming from `after`, copy (at a snapshot)
    /// the published tables *not* listed here.
    pub refresh: Option<Vec<String>>,
    /// Start with a `tables` line naming the tables published now.
    pub list_tables: bool,
    /// The slot streamed, checked for invalidation while streaming.
    pub slot: Option<String>,
    /// End the stream after this long without a new record.
    pub idle_limit: Option<Duration>,
}

/// Releases a slot's "active" mark when the stream ends, however it ends.
struct ActiveGuard {
    engine: Arc<Engine>,
    slot: Option<String>,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        if let Some(s) = &self.slot {
            self.engine.slot_activity.release(s);
        }
    }
}

/// Formats microseconds since the epoch as `2026-11-22T12:00:00.123456Z`.
pub fn commit_time(micros: u64) -> String {
    let micros = i64::try_from(micros).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_default()
}

/// Lines on their way to the HTTP body: gathered into one chunk per
/// transaction (or per run of WAL records read together), so a chunk is a
/// whole unit for the consumer and the socket sees one write per unit, not
/// one per line.
struct Out<'a> {
    tx: &'a mpsc::Sender<Bytes>,
    buf: Vec<u8>,
}

impl Out<'_> {
    /// Adds a line; `false` once the client is gone.
    fn push(&mut self, v: serde_json::Value) -> bool {
        if serde_json::to_writer(&mut self.buf, &v).is_err() {
            return false;
        }
        self.buf.push(b'\n');
        self.buf.len() < FLUSH_BYTES || self.flush()
    }

    /// Sends what is gathered (blocks while the channel is full:
    /// back-pressure); `false` once the client is gone.
    fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(chunk).is_ok()
    }
}

/// Sends one line now; `false` once the client is gone.
fn send(tx: &mpsc::Sender<Bytes>, v: serde_json::Value) -> bool {
    let mut out = Out {
        tx,
        buf: Vec::new(),
    };
    out.push(v) && out.flush()
}

/// Runs one stream until the client leaves, the node stops, or an error.
/// `active_slot` was acquired by the caller and is released here.
pub fn produce(
    repl: Arc<Replication>,
    engine: Arc<Engine>,
    mut plan: StreamPlan,
    tx: mpsc::Sender<Bytes>,
    runtime: tokio::runtime::Handle,
    active_slot: Option<String>,
) {
    // A pooled thread: the boost ends with the stream (see priority.rs).
    let _boost = super::priority::Boost::current_thread();
    let _guard = ActiveGuard {
        engine: engine.clone(),
        slot: active_slot,
    };
    if let Err(message) = run(&repl, &engine, &mut plan, &tx, &runtime) {
        tracing::info!(error = %message, "change stream ended with an error");
        let _ = send(&tx, json!({"type": "error", "message": message}));
    }
}

fn run(
    repl: &Replication,
    engine: &Engine,
    plan: &mut StreamPlan,
    tx: &mpsc::Sender<Bytes>,
    runtime: &tokio::runtime::Handle,
) -> Result<(), String> {
    let mut scanned = plan.after;
    if plan.list_tables
        && !send(
            tx,
            json!({"type": "tables", "tables": plan.decoder.published_tables()}),
        )
    {
        return Ok(());
    }
    if plan.snapshot || plan.refresh.is_some() {
        let (mut txn, at) = repl.rocks().begin_exact().map_err(|e| e.to_string())?;
        if !send(tx, json!({"type": "snapshot_begin", "lsn": at.0})) {
            return Ok(());
        }
        let mut gone = false;
        let mut out = Out {
            tx,
            buf: Vec::new(),
        };
        let skip = plan.refresh.clone().unwrap_or_default();
        let copied = plan.decoder.copy(&mut *txn, &skip, &mut |table, row| {
            if !gone && !out.push(json!({"type": "copy", "table": table, "row": row})) {
                gone = true;
                return Err(rustydb_sql::Error::internal("client gone"));
            }
            Ok(())
        });
        txn.rollback();
        if gone {
            return Ok(());
        }
        let tables = copied.map_err(|e| format!("initial copy failed: {e}"))?;
        if !(out.push(json!({"type": "snapshot_end", "lsn": at.0, "tables": tables}))
            && out.flush())
        {
            return Ok(());
        }
        // A full snapshot holds everything up to its LSN; a REFRESH copy
        // holds only its tables, and the stream goes on from `after`.
        if plan.snapshot {
            scanned = at.0;
        }
    }
    let metrics = repl.logical.get().map(|l| &l.stream_delay);
    let mut stop = repl.stop.subscribe();
    let mut last_keepalive = Instant::now();
    let mut last_record = Instant::now();
    let mut last_slot_check = Instant::now();
    loop {
        if *stop.borrow() {
            return Err("the node is shutting down".into());
        }
        if let Some(slot) = &plan.slot {
            if last_slot_check.elapsed() >= KEEPALIVE {
                last_slot_check = Instant::now();
                check_slot(engine, slot)?;
            }
        }
        let rocks = repl.rocks();
        let mut watch = rocks.subscribe_lsn();
        if rocks.last_lsn().0 > scanned {
            let records = read_batch(&rocks, scanned + 1)?;
            if records.is_empty() {
                return Err(format!("WAL gap after LSN {scanned}"));
            }
            // The records read together go out as one chunk, sent as soon
            // as they are decoded (a lone commit is sent on its own).
            let mut out = Out {
                tx,
                buf: Vec::new(),
            };
            // Commit times of the transactions sent in this chunk.
            let mut sent_commits: Vec<u64> = Vec::new();
            for record in records {
                if record.lsn.0 != scanned + 1 {
                    return Err(format!(
                        "WAL gap: expected LSN {}, found {}",
                        scanned + 1,
                        record.lsn.0
                    ));
                }
                let decoded = plan
                    .decoder
                    .decode(&record.mutations, &record.before_images)
                    .map_err(|e| format!("cannot decode LSN {}: {e}", record.lsn.0))?;
                if !decoded.is_empty() {
                    if let Some(m) = metrics {
                        m.with_label_values(&["read"])
                            .observe(since_commit(record.commit_time_micros));
                    }
                    sent_commits.push(record.commit_time_micros);
                    if !emit_transaction(&mut out, record.lsn.0, record.commit_time_micros, decoded)
                    {
                        return Ok(());
                    }
                }
                scanned = record.lsn.0;
            }
            last_record = Instant::now();
            if last_keepalive.elapsed() >= KEEPALIVE {
                last_keepalive = Instant::now();
                if !out.push(json!({"type": "keepalive", "lsn": scanned})) {
                    return Ok(());
                }
            }
            if !out.flush() {
                return Ok(());
            }
            if let Some(m) = metrics {
                let sent = m.with_label_values(&["sent"]);
                for c in sent_commits {
                    sent.observe(since_commit(c));
                }
            }
            continue;
        }
        if plan
            .idle_limit
            .is_some_and(|limit| last_record.elapsed() >= limit)
        {
            let _ = send(tx, json!({"type": "keepalive", "lsn": scanned}));
            return Ok(());
        }
        // Idle: wait for a commit, the keepalive period, or shutdown.
        let wait = match plan.idle_limit {
            Some(limit) => KEEPALIVE.min(limit.saturating_sub(last_record.elapsed())),
            None => KEEPALIVE,
        };
        let woke = runtime.block_on(async {
            tokio::select! {
                r = tokio::time::timeout(wait, watch.changed()) => matches!(r, Ok(Ok(()))),
                _ = stop.changed() => false,
            }
        });
        if !woke && last_keepalive.elapsed() >= KEEPALIVE {
            last_keepalive = Instant::now();
            if !send(tx, json!({"type": "keepalive", "lsn": scanned})) {
                return Ok(());
            }
        }
        if tx.is_closed() {
            return Ok(());
        }
    }
}

/// Seconds since a commit time (µs since the epoch); 0 if in the future.
fn since_commit(commit_micros: u64) -> f64 {
    let now = chrono::Utc::now().timestamp_micros();
    let commit = i64::try_from(commit_micros).unwrap_or(i64::MAX);
    now.saturating_sub(commit).max(0) as f64 / 1e6
}

/// The next records from `from`: from the in-memory WAL tail when it holds
/// them (a caught-up stream, the common case: no I/O), else from RocksDB.
fn read_batch(rocks: &crate::storage::RocksStorage, from: u64) -> Result<Vec<WalRecord>, String> {
    if let Some(raw) = rocks.read_wal_recent(Lsn(from), BATCH, FLUSH_BYTES) {
        if !raw.is_empty() {
            return raw
                .iter()
                .map(|(_, bytes)| WalRecord::decode(bytes))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("cannot read WAL: {e}"));
        }
    }
    rocks.read_wal(Lsn(from), BATCH).map_err(|e| match e {
        NodeError::WalGone { wanted, oldest } => format!(
            "WAL from LSN {wanted} has been removed (oldest kept: {oldest}); \
             restart from a snapshot"
        ),
        other => format!("cannot read WAL: {other}"),
    })
}

/// Fails when the slot was dropped or invalidated.
fn check_slot(engine: &Engine, slot: &str) -> Result<(), String> {
    match super::slots::get(engine, slot) {
        Ok(s) => match s.invalidated {
            Some(reason) => Err(format!(
                "replication slot \"{slot}\" is invalidated: {reason}"
            )),
            None => Ok(()),
        },
        Err(e) => Err(e.to_string()),
    }
}

/// Sends `begin`, the changes, `commit`; `false` once the client is gone.
fn emit_transaction(out: &mut Out<'_>, lsn: u64, micros: u64, decoded: Vec<Decoded>) -> bool {
    let time = commit_time(micros);
    if !out.push(json!({"type": "begin", "lsn": lsn, "commit_time": time})) {
        return false;
    }
    for d in decoded {
        let v = match d {
            Decoded::Ddl(sql) => json!({"type": "ddl", "lsn": lsn, "sql": sql}),
            Decoded::Change(c) => json!({
                "type": "change",
                "lsn": lsn,
                "table": c.table,
                "op": c.op,
                "key": c.key,
                "new": c.new,
                "old": c.old,
            }),
        };
        if !out.push(v) {
            return false;
        }
    }
    out.push(json!({"type": "commit", "lsn": lsn, "commit_time": time}))
}
