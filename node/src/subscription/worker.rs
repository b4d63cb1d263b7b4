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
//! Transactions that arrive together (everything already received when the
//! worker gets to read) are applied as one local transaction with the last
//! one's LSN as progress: a busy publisher costs one local commit per
//! batch, not per transaction, so the apply keeps up and nothing queues
//! (see `apply_pending`). Slot confirms run in the background, never on the
//! apply path.
//!
//! Threads: each worker runs on a thread of its own with a current-thread
//! runtime (`dedicated`, started by the manager in mod.rs): the stream's
//! HTTP connection, this loop and the apply calls share it, and apply
//! calls run inline. A change thus goes from the socket to its local
//! commit waking no other thread of this node but the group committer; on
//! a machine with busy cores each avoided wake-up is a wait for a core
//! avoided. That thread runs at a raised priority when the node may
//! (`logical::priority`). Off such a thread (fallback) applies run on
//! blocking threads.
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

use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;

use rustydb_sql::subscription::{
    catalog, conninfo, Progress, RemoteTxn, SubscriptionDef, SyncState,
};
use rustydb_sql::{Storage, TxnOptions};

use super::apply::{applied_metrics, apply, apply_pending, keep_synced};
use super::publisher;
use super::stream::{self, Assembler, Event};
use super::Shared;

/// No bytes for this long (keepalives included) means the publisher is gone.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest pause between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the applied position is confirmed to the slot.
const CONFIRM_EVERY: Duration = Duration::from_secs(1);
/// Most stream bytes taken in one go before applying what they hold.
const DRAIN_BYTES: usize = 4 << 20;

/// Why one attempt ended.
pub(super) enum Failure {
    /// Reaching or reading the publisher.
    Connect(String),
    /// Applying a remote transaction (or the copy) failed.
    Apply { message: String, lsn: u64 },
    /// The subscription is gone or disabled: stop for good.
    Stop,
}

thread_local! {
    /// Set on a worker's own thread (`dedicated`): apply calls run inline
    /// there, since blocking that thread blocks no one else.
    static DEDICATED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current thread serves one worker only.
pub(super) fn on_dedicated_thread() -> bool {
    DEDICATED.with(Cell::get)
}

/// `run` on a thread of its own, driven by a current-thread runtime (the
/// manager starts it so). The stream's socket, this loop and the apply
/// calls share that thread: a change is read, applied and committed with
/// no hand-off to another thread of this node but the group committer's
/// (PostgreSQL's apply worker is likewise one process doing all three).
/// Under CPU contention every hand-off is a wake-up that waits for a core,
/// which is where the tail of the commit-to-visible latency came from.
pub async fn dedicated(shared: Arc<Shared>, def: SubscriptionDef, publication: String) {
    DEDICATED.with(|d| d.set(true));
    run(shared, def, publication).await
}

pub(super) fn now_micros() -> i64 {
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

/// The stored progress and table sync state, or `Stop` when the
/// subscription is gone.
async fn load_progress(
    storage: Arc<dyn Storage>,
    name: &str,
    publication: &str,
) -> Result<(Option<Progress>, Option<SyncState>), Failure> {
    let (name, publication) = (name.to_string(), publication.to_string());
    let r = tokio::task::spawn_blocking(move || -> rustydb_sql::Result<_> {
        let mut txn = storage.begin(TxnOptions {
            read_only: true,
            ..Default::default()
        })?;
        let def = catalog::get(&mut *txn, &name)?;
        let p = catalog::progress(&mut *txn, &name, &publication)?;
        let sync = catalog::sync_state(&mut *txn, &name, &publication)?;
        txn.rollback();
        Ok((def, p, sync))
    })
    .await;
    match r {
        Ok(Ok((Some(def), p, sync))) if def.enabled => Ok((p, sync)),
        Ok(Ok(_)) => Err(Failure::Stop),
        Ok(Err(e)) => Err(Failure::Connect(format!(
            "reading progress: {}",
            e.message()
        ))),
        Err(e) => Err(Failure::Connect(format!("reading progress: {e}"))),
    }
}

/// One connection's worth of streaming.
async fn attempt(shared: &Arc<Shared>, def: &SubscriptionDef, publication: &str) -> Failure {
    let storage = shared.engine.storage().clone();
    let (progress, mut sync) = match load_progress(storage, &def.name, publication).await {
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
    // REFRESH PUBLICATION with copy_data: copy the tables not synchronised
    // yet, then stream on from the stored position.
    let refresh_copy = progress.is_some() && sync.as_ref().and_then(|s| s.refresh) == Some(true);
    let known: Option<Vec<String>> = refresh_copy
        .then(|| sync.as_ref().map(|s| s.tables.keys().cloned().collect()))
        .flatten();
    // Without a full copy, learn which tables are published (the ones to
    // apply) from the stream's first line.
    let list_tables =
        !snapshot && !refresh_copy && sync.as_ref().is_none_or(|s| s.refresh.is_some());
    let mut sync_dirty = false;
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
    let mut resp = match publisher::open_stream(
        &addr,
        publication,
        slot.as_deref(),
        from_lsn,
        snapshot,
        list_tables,
        known.as_deref(),
    )
    .await
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
        // Take whatever else has already arrived (without waiting): all of
        // its transactions are applied as one local transaction. The
        // connection's task shares this thread, so it can only read the
        // socket while this task waits: when no frame is ready, yield once
        // (the runtime polls the socket, the connection task reads what
        // came) before concluding that nothing more has arrived.
        let mut ended: Option<Failure> = None;
        let mut yielded = false;
        while buf.len() < DRAIN_BYTES {
            match resp.chunk().now_or_never() {
                None if yielded => break,
                None => {
                    yielded = true;
                    tokio::task::yield_now().await;
                }
                Some(Ok(Some(b))) => {
                    yielded = false;
                    buf.extend_from_slice(&b);
                }
                Some(Ok(None)) => {
                    ended = Some(Failure::Connect(
                        "publisher closed the change stream".into(),
                    ));
                    break;
                }
                Some(Err(e)) => {
                    ended = Some(Failure::Connect(e.0));
                    break;
                }
            }
        }
        let receipt = now_micros();
        let mut pending: Vec<RemoteTxn> = Vec::new();
        for line in stream::take_lines(&mut buf) {
            let parsed = stream::parse_line(&line).and_then(|l| assembler.push(l));
            let event = match parsed {
                Ok(Some(e)) => e,
                Ok(None) => continue,
                Err(e) => {
                    ended = Some(Failure::Connect(e));
                    break;
                }
            };
            match event {
                Event::Keepalive(lsn) => {
                    shared.update(&def.name, |s| {
                        s.received_lsn = s.received_lsn.max(lsn);
                        s.last_msg_receipt_micros = Some(receipt);
                    });
                }
                Event::Error(m) => {
                    ended = Some(Failure::Connect(format!("publisher error: {m}")));
                    break;
                }
                Event::Tables(list) => {
                    let state = sync.get_or_insert_with(SyncState::default);
                    for t in list {
                        state.tables.entry(t).or_insert(0);
                    }
                    state.refresh = None;
                    sync_dirty = true;
                }
                Event::Txn(mut t) => {
                    if let Some(state) = &mut sync {
                        sync_dirty |= keep_synced(state, &mut t);
                    }
                    let lsn = t.lsn;
                    if let Some(c) = t.commit_micros {
                        shared
                            .metrics
                            .delay
                            .with_label_values(&["received"])
                            .observe((receipt - c).max(0) as f64 / 1e6);
                    }
                    shared.update(&def.name, |s| {
                        s.received_lsn = s.received_lsn.max(lsn);
                        s.last_msg_receipt_micros = Some(receipt);
                    });
                    // Already applied before a reconnect: never twice.
                    if lsn > applied && pending.last().is_none_or(|p| p.lsn < lsn) {
                        pending.push(t);
                    }
                }
                Event::Snapshot(t, tables) => {
                    if let Err(f) = apply_pending(
                        shared,
                        def,
                        publication,
                        &mut session,
                        &mut applied,
                        std::mem::take(&mut pending),
                        (&mut sync, &mut sync_dirty),
                    )
                    .await
                    {
                        return f;
                    }
                    // The copied tables are synchronised as of the snapshot.
                    let mut state = sync.clone();
                    if let Some(list) = tables {
                        let st = state.get_or_insert_with(SyncState::default);
                        for name in list {
                            st.tables.insert(name, t.lsn);
                        }
                    }
                    if let Some(st) = &mut state {
                        st.refresh = None;
                    }
                    let (lsn, commit_micros) = (t.lsn, t.commit_micros);
                    shared.update(&def.name, |s| {
                        s.received_lsn = s.received_lsn.max(lsn);
                        s.last_msg_receipt_micros = Some(receipt);
                    });
                    let Some(sess) = session.take() else {
                        return Failure::Connect("apply session lost".into());
                    };
                    let progress_lsn = refresh_copy.then_some(applied);
                    let (back, result) = apply(
                        shared,
                        sess,
                        def,
                        publication,
                        t,
                        true,
                        progress_lsn,
                        state.clone(),
                    )
                    .await;
                    session = back;
                    match result {
                        Ok(rows) => {
                            if !refresh_copy {
                                applied = applied.max(lsn);
                            }
                            sync = state;
                            sync_dirty = false;
                            applied_metrics(shared, def, applied, &[commit_micros], rows);
                        }
                        Err(f) => return f,
                    }
                }
            }
        }
        if let Err(f) = apply_pending(
            shared,
            def,
            publication,
            &mut session,
            &mut applied,
            pending,
            (&mut sync, &mut sync_dirty),
        )
        .await
        {
            return f;
        }
        if let Some(f) = ended {
            return f;
        }
    }
}
