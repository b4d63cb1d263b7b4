//! The apply worker: one task per (enabled subscription, publication).
//!
//! ```text
//!  load progress ─► find the publisher's primary ─► GET /changes
//!        ▲              (conninfo host list)          │ from_lsn = progress
//!        │                                            │ (or snapshot=true on first start)
//!        │          Assembler: lines → units ◄────────┘
//!        │                │
//!        │   Snapshot / Txn ─► Session::apply_remote (one local txn: rows + progress)
//!        │                │
//!        └── backoff ◄── error (connection, publisher, or apply conflict)
//!                         every second: POST /slots/{slot}/confirm (applied LSN)
//! ```
//!
//! Invariants: a remote transaction is applied only if its LSN is above the
//! last one applied (so a reconnect that replays is harmless), and its rows
//! and the new progress commit together (apply.rs). Hence a kill -9 of the
//! subscriber, or a failover of the publisher (the stream resumes on the new
//! primary from the stored LSN), neither loses nor duplicates. An apply
//! error keeps the worker retrying with backoff and the error visible in
//! `rustydb_stat_subscription` until the cause is fixed or the transaction
//! is skipped (`ALTER SUBSCRIPTION ... SKIP (lsn = N)`: the manager then
//! restarts the worker with the new definition).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use rustydb_sql::subscription::{catalog, conninfo, Progress, RemoteTxn, SubscriptionDef};
use rustydb_sql::{Session, Storage, TxnOptions};

use super::publisher;
use super::stream::{self, Assembler, Event};
use super::Shared;

/// No bytes for this long (keepalives included) means the publisher is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the applied position is confirmed to the slot.
const CONFIRM_EVERY: Duration = Duration::from_secs(1);

/// Why one attempt ended.
enum Failure {
    /// Reaching or reading the publisher.
    Connect(String),
    /// Applying a remote transaction (or the copy) failed.
    Apply { message: String, lsn: u64 },
    /// The subscription is gone or disabled: stop for good.
    Stop,
}

fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Runs until aborted by the manager.
pub async fn run(shared: Arc<Shared>, def: SubscriptionDef, publication: String) {
    let mut backoff = Duration::from_millis(200);
    loop {
        let started = Instant::now();
        let failure = attempt(&shared, &def, &publication).await;
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(200);
        }
        match failure {
            Failure::Stop => return,
            Failure::Connect(message) => {
                tracing::warn!(subscription = %def.name, %publication, error = %message, "subscription stream failed; reconnecting");
                shared.update(&def.name, |s| {
                    s.status = "connecting".into();
                    s.last_error = Some(message);
                    s.last_error_micros = Some(now_micros());
                });
            }
            Failure::Apply { message, lsn } => {
                tracing::error!(subscription = %def.name, %publication, lsn, error = %message, "apply failed; retrying");
                shared.metrics.errors.with_label_values(&[&def.name]).inc();
                shared.update(&def.name, |s| {
                    s.status = "error".into();
                    s.last_error = Some(message);
                    s.last_error_lsn = Some(lsn);
                    s.last_error_micros = Some(now_micros());
                });
                if def.disable_on_error {
                    disable(&shared, &def.name).await;
                    return;
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `disable_on_error`: turn the subscription off in the catalog.
async fn disable(shared: &Arc<Shared>, name: &str) {
    let storage = shared.engine.storage().clone();
    let name = name.to_string();
    let _ = tokio::task::spawn_blocking(move || -> rustydb_sql::Result<()> {
        let mut txn = storage.begin(TxnOptions::default())?;
        if let Some(mut def) = catalog::get(&mut *txn, &name)? {
            def.enabled = false;
            catalog::put(&mut *txn, &def)?;
        }
        txn.commit()?;
        Ok(())
    })
    .await;
}

/// The stored progress, or `Stop` when the subscription is gone.
async fn load_progress(
    storage: Arc<dyn Storage>,
    name: &str,
    publication: &str,
) -> Result<Option<Progress>, Failure> {
    let (name, publication) = (name.to_string(), publication.to_string());
    let r = tokio::task::spawn_blocking(move || -> rustydb_sql::Result<_> {
        let mut txn = storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })?;
        let def = catalog::get(&mut *txn, &name)?;
        let p = catalog::progress(&mut *txn, &name, &publication)?;
        txn.rollback();
        Ok((def, p))
    })
    .await;
    match r {
        Ok(Ok((Some(def), p))) if def.enabled => Ok(p),
        Ok(Ok(_)) => Err(Failure::Stop),
        Ok(Err(e)) => Err(Failure::Connect(format!(
            "reading progress: {}",
            e.message()
        ))),
        Err(e) => Err(Failure::Connect(format!("reading progress: {e}"))),
    }
}

/// Applies one unit on a blocking thread, handing the session back.
async fn apply(
    session: Session,
    def: &SubscriptionDef,
    publication: &str,
    txn: RemoteTxn,
    copied: bool,
) -> (Option<Session>, Result<u64, Failure>) {
    let (name, publication) = (def.name.clone(), publication.to_string());
    let skip = def.skip_lsn != 0 && def.skip_lsn == txn.lsn && !copied;
    let lsn = txn.lsn;
    let joined = tokio::task::spawn_blocking(move || {
        let mut session = session;
        let unit = if skip {
            RemoteTxn {
                lsn,
                commit_micros: txn.commit_micros,
                changes: vec![],
            }
        } else {
            txn
        };
        let progress = Progress { lsn, copied: true };
        let r = session.apply_remote(&name, &publication, &unit, progress, skip);
        (session, r)
    })
    .await;
    match joined {
        Ok((session, Ok(rows))) => {
            if skip {
                tracing::info!(
                    lsn,
                    "skipped remote transaction as asked by ALTER SUBSCRIPTION ... SKIP"
                );
            }
            (Some(session), Ok(rows))
        }
        Ok((session, Err(e)))
            if e.state() == rustydb_sql::SqlState::UNDEFINED_OBJECT
                && e.message().starts_with("subscription") =>
        {
            (Some(session), Err(Failure::Stop))
        }
        Ok((session, Err(e))) => (
            Some(session),
            Err(Failure::Apply {
                message: e.message(),
                lsn,
            }),
        ),
        Err(e) => (
            None,
            Err(Failure::Connect(format!("apply task failed: {e}"))),
        ),
    }
}

/// One connection's worth of streaming.
async fn attempt(shared: &Arc<Shared>, def: &SubscriptionDef, publication: &str) -> Failure {
    let storage = shared.engine.storage().clone();
    let progress = match load_progress(storage, &def.name, publication).await {
        Ok(p) => p,
        Err(f) => return f,
    };
    let info = match conninfo::parse(&def.conninfo) {
        Ok(i) => i,
        Err(e) => return Failure::Connect(e.message()),
    };
    let slot = def.slot_for(publication);
    let addr = match publisher::find_primary(&info).await {
        Ok(a) => a,
        Err(e) => return Failure::Connect(e.0),
    };
    let (from_lsn, snapshot) = match progress {
        Some(p) => (Some(p.lsn), false),
        None => (None, def.copy_data),
    };
    let mut applied = progress.map(|p| p.lsn).unwrap_or(0);
    let engine = shared.engine.clone();
    let (user, db) = (def.owner.clone(), def.database.clone());
    let session = match tokio::task::spawn_blocking(move || engine.connect(&user, &db)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return Failure::Apply {
                message: e.message(),
                lsn: 0,
            }
        }
        Err(e) => return Failure::Connect(e.to_string()),
    };
    let mut session = Some(session);
    let mut resp =
        match publisher::open_stream(&addr, publication, slot.as_deref(), from_lsn, snapshot).await
        {
            Ok(r) => r,
            Err(e) => return Failure::Connect(e.0),
        };
    tracing::info!(subscription = %def.name, %publication, publisher = %addr, ?from_lsn, snapshot, "subscription streaming");
    shared.update(&def.name, |s| {
        // An apply error stays the status until a transaction applies.
        if s.status != "error" {
            s.status = if snapshot { "copying" } else { "streaming" }.into();
        }
        s.applied_lsn = s.applied_lsn.max(applied);
    });
    let mut assembler = Assembler::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut confirmed = 0u64;
    let mut tick = tokio::time::interval(CONFIRM_EVERY);
    let mut last_data = Instant::now();
    let mut confirm_task: Option<tokio::task::JoinHandle<u64>> = None;
    loop {
        let chunk = tokio::select! {
            c = resp.chunk() => c,
            _ = tick.tick() => {
                if last_data.elapsed() > IDLE_TIMEOUT {
                    return Failure::Connect(format!(
                        "no data from the publisher for {}s",
                        IDLE_TIMEOUT.as_secs()
                    ));
                }
                // Confirm in the background: the stream keeps being read
                // (and applied) while the publisher records the position.
                // One confirm at a time; a failed one is retried next tick.
                let idle = confirm_task.as_ref().is_none_or(|t| t.is_finished());
                if let (Some(slot), true) = (&slot, idle) {
                    if let Some(Some(Ok(lsn))) = confirm_task.take().map(|t| t.now_or_never()) {
                        confirmed = confirmed.max(lsn);
                    }
                    if applied > confirmed {
                        let (addr, slot, lsn) = (addr.clone(), slot.clone(), applied);
                        confirm_task = Some(tokio::spawn(async move {
                            match publisher::confirm(&addr, &slot, lsn).await {
                                Ok(()) => lsn,
                                Err(e) => {
                                    tracing::debug!(error = %e, "slot confirm failed");
                                    0
                                }
                            }
                        }));
                    }
                }
                continue;
            }
        };
        let bytes = match chunk {
            Err(e) => return Failure::Connect(e.0),
            Ok(None) => return Failure::Connect("publisher closed the change stream".into()),
            Ok(Some(b)) => b,
        };
        last_data = Instant::now();
        buf.extend_from_slice(&bytes);
        let receipt = now_micros();
        for line in stream::take_lines(&mut buf) {
            let parsed = stream::parse_line(&line).and_then(|l| assembler.push(l));
            let event = match parsed {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => return Failure::Connect(e),
            };
            let (unit, is_copy) = match event {
                Event::Keepalive(lsn) => {
                    shared.update(&def.name, |s| {
                        s.received_lsn = s.received_lsn.max(lsn);
                        s.last_msg_receipt_micros = Some(receipt);
                    });
                    continue;
                }
                Event::Error(m) => return Failure::Connect(format!("publisher error: {m}")),
                Event::Snapshot(t) => (t, true),
                Event::Txn(t) => (t, false),
            };
            let lsn = unit.lsn;
            shared.update(&def.name, |s| {
                s.received_lsn = s.received_lsn.max(lsn);
                s.last_msg_receipt_micros = Some(receipt);
            });
            if lsn <= applied && !is_copy {
                // Already applied before a reconnect: never twice.
                continue;
            }
            let commit_micros = unit.commit_micros;
            let Some(s) = session.take() else {
                return Failure::Connect("apply session lost".into());
            };
            let (back, result) = apply(s, def, publication, unit, is_copy).await;
            session = back;
            match result {
                Ok(rows) => {
                    applied = applied.max(lsn);
                    let now = now_micros();
                    let lag = commit_micros.map(|c| (now - c) as f64 / 1000.0);
                    shared
                        .metrics
                        .rows
                        .with_label_values(&[&def.name])
                        .inc_by(rows);
                    if let Some(l) = lag {
                        shared
                            .metrics
                            .lag_ms
                            .with_label_values(&[&def.name])
                            .set(l.max(0.0) as i64);
                    }
                    shared
                        .metrics
                        .applied_lsn
                        .with_label_values(&[&def.name])
                        .set(i64::try_from(lsn).unwrap_or(i64::MAX));
                    shared.update(&def.name, |s| {
                        s.status = "streaming".into();
                        s.applied_lsn = s.applied_lsn.max(lsn);
                        s.rows_applied += rows;
                        if commit_micros.is_some() {
                            s.latest_end_micros = commit_micros;
                        }
                        s.apply_lag_ms = lag.or(s.apply_lag_ms);
                    });
                }
                Err(f) => return f,
            }
        }
    }
}
