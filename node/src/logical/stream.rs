//! The change stream behind `GET /changes`: WAL records → NDJSON lines.
//!
//! One blocking thread per open stream runs `produce`: it reads the WAL in
//! batches from the start LSN, decodes each record with the publication's
//! `Decoder`, and sends lines into a small bounded channel that the HTTP
//! body drains. When the client stops reading, hyper stops polling the
//! body, the channel fills, and `blocking_send` parks the thread: the
//! server reads no more WAL until the socket drains (back-pressure). When
//! the client goes away the receiver is dropped and the next send fails,
//! which ends the thread.
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

/// Records read per WAL batch.
const BATCH: usize = 256;
/// Idle time between keepalives.
const KEEPALIVE: Duration = Duration::from_secs(1);

/// What a stream was asked for, after validation.
pub struct StreamPlan {
    pub decoder: Decoder,
    /// Stream records with LSN greater than this (ignored with `snapshot`).
    pub after: u64,
    pub snapshot: bool,
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

fn line(v: serde_json::Value) -> Bytes {
    let mut s = v.to_string();
    s.push('\n');
    Bytes::from(s)
}

/// Sends a line; `false` once the client is gone.
fn send(tx: &mpsc::Sender<Bytes>, v: serde_json::Value) -> bool {
    tx.blocking_send(line(v)).is_ok()
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
    if plan.snapshot {
        let (mut txn, at) = repl.rocks().begin_exact().map_err(|e| e.to_string())?;
        if !send(tx, json!({"type": "snapshot_begin", "lsn": at.0})) {
            return Ok(());
        }
        let mut gone = false;
        let copied = plan.decoder.copy(&mut *txn, &mut |table, row| {
            if !gone && !send(tx, json!({"type": "copy", "table": table, "row": row})) {
                gone = true;
                return Err(rustydb_sql::Error::internal("client gone"));
            }
            Ok(())
        });
        txn.rollback();
        if gone {
            return Ok(());
        }
        copied.map_err(|e| format!("initial copy failed: {e}"))?;
        if !send(tx, json!({"type": "snapshot_end", "lsn": at.0})) {
            return Ok(());
        }
        scanned = at.0;
    }
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
            let records = rocks
                .read_wal(Lsn(scanned + 1), BATCH)
                .map_err(|e| match e {
                    NodeError::WalGone { wanted, oldest } => format!(
                        "WAL from LSN {wanted} has been removed (oldest kept: {oldest}); \
                         restart from a snapshot"
                    ),
                    other => format!("cannot read WAL: {other}"),
                })?;
            if records.is_empty() {
                return Err(format!("WAL gap after LSN {scanned}"));
            }
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
                if !decoded.is_empty()
                    && !emit_transaction(tx, record.lsn.0, record.commit_time_micros, decoded)
                {
                    return Ok(());
                }
                scanned = record.lsn.0;
            }
            last_record = Instant::now();
            if last_keepalive.elapsed() >= KEEPALIVE {
                last_keepalive = Instant::now();
                if !send(tx, json!({"type": "keepalive", "lsn": scanned})) {
                    return Ok(());
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
fn emit_transaction(
    tx: &mpsc::Sender<Bytes>,
    lsn: u64,
    micros: u64,
    decoded: Vec<Decoded>,
) -> bool {
    let time = commit_time(micros);
    if !send(
        tx,
        json!({"type": "begin", "lsn": lsn, "commit_time": time}),
    ) {
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
        if !send(tx, v) {
            return false;
        }
    }
    send(
        tx,
        json!({"type": "commit", "lsn": lsn, "commit_time": time}),
    )
}
