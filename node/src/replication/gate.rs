//! The replica set a primary streams to, and the commit wait built on it.
//!
//! Each WAL sender registers its replica here and reports what it sent and
//! what the replica acknowledged (flushed / applied LSN). Committing
//! transactions, after their local fsync, call `CommitGate::wait`, which
//! blocks on a condition variable until the commit mode is satisfied:
//!
//! - `async`: returns at once.
//! - `sync`: `num_sync` eligible replicas (ANY of them, or the FIRST
//!   connected ones in `sync_standbys` order) have the LSN; after
//!   `sync_timeout_ms` the commit fails with `40003` — it is durable here but
//!   not acknowledged, so the client must not count on it.
//! - `semi-sync`: one replica has it, or after `semi_sync_timeout_ms` the
//!   node *degrades* to async (warning log, event, metric) and stops waiting;
//!   it returns to semi-sync by itself once a replica is caught up again.
//!
//! Every acknowledgement wakes all waiters; each re-checks its own LSN. The
//! lock is held only to update or read a few integers. So one replica
//! fsync (which covers every record received so far, see `receiver`) and
//! one ack release all the commits it covers at once: group commit across
//! concurrent committers on both nodes. `sync` waits for the replica's
//! *flush*, like PostgreSQL's `synchronous_commit = on`
//! (`remote_apply` waits for the applied LSN; here both move together).
//! The time spent waiting is the `rustydb_replication_sync_wait_seconds`
//! histogram.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use rustydb_sql::storage::{Lsn, SyncCommit};
use rustydb_sql::{Error, SqlState};
use serde::Serialize;

use super::config::{CommitMode, CommitModeConfig, SyncQuorum};
use super::metrics::Metrics;
use crate::storage::{now_micros, CommitGate};

/// How many lag samples the percentiles are computed over.
const LAG_SAMPLES: usize = 10_000;
/// How many events are kept for `GET /replication`.
const EVENTS_KEPT: usize = 200;
/// A degraded semi-sync node recovers when a replica is this close.
const CAUGHT_UP_RECORDS: u64 = 64;

/// One connected replica, as its sender sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicaProgress {
    pub name: String,
    pub client_addr: String,
    pub started_micros: u64,
    /// `catchup` until the replica first reaches the sender's LSN, then `streaming`.
    pub state: &'static str,
    pub sent: u64,
    pub flushed: u64,
    pub applied: u64,
    /// Commit-to-acknowledgement time of the last acknowledged batch.
    pub last_lag_ms: Option<f64>,
    pub reply_micros: Option<u64>,
}

/// Something operators should hear about (`GET /replication` → `events`).
#[derive(Debug, Clone, Serialize)]
pub struct ReplicationEvent {
    pub time_micros: u64,
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Default)]
struct Inner {
    replicas: HashMap<u64, ReplicaProgress>,
    degraded: bool,
    lag_samples: VecDeque<f64>,
}

/// The replicas of this node and the commit wait.
pub struct ReplicaSet {
    inner: Mutex<Inner>,
    acked: Condvar,
    mode: RwLock<CommitModeConfig>,
    events: Mutex<VecDeque<ReplicationEvent>>,
    next_id: AtomicU64,
    metrics: Metrics,
}

impl ReplicaSet {
    pub fn new(mode: CommitModeConfig, metrics: Metrics) -> ReplicaSet {
        metrics.set_mode(mode.commit_mode);
        ReplicaSet {
            inner: Mutex::new(Inner::default()),
            acked: Condvar::new(),
            mode: RwLock::new(mode),
            events: Mutex::new(VecDeque::new()),
            next_id: AtomicU64::new(1),
            metrics,
        }
    }

    pub fn mode(&self) -> CommitModeConfig {
        self.mode.read().clone()
    }

    /// Changes the commit mode live; waiting commits re-check at once.
    pub fn set_mode(&self, mode: CommitModeConfig) {
        self.event(
            "mode_changed",
            format!("commit mode {}", mode.commit_mode.as_str()),
        );
        self.metrics.set_mode(mode.commit_mode);
        *self.mode.write() = mode;
        let mut inner = self.inner.lock();
        if inner.degraded {
            inner.degraded = false;
            self.metrics.degraded.set(0);
        }
        drop(inner);
        self.acked.notify_all();
    }

    pub fn degraded(&self) -> bool {
        self.inner.lock().degraded
    }

    /// Registers a replica whose stream starts; returns its id.
    pub fn register(&self, name: &str, client_addr: &str, start: u64) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock();
        inner.replicas.insert(
            id,
            ReplicaProgress {
                name: name.to_string(),
                client_addr: client_addr.to_string(),
                started_micros: now_micros(),
                state: "catchup",
                sent: start.saturating_sub(1),
                flushed: start.saturating_sub(1),
                applied: start.saturating_sub(1),
                last_lag_ms: None,
                reply_micros: None,
            },
        );
        self.metrics.replicas.set(inner.replicas.len() as i64);
        drop(inner);
        self.event("replica_connected", format!("{name} from {client_addr}"));
        id
    }

    /// Removes a replica whose stream ended.
    pub fn unregister(&self, id: u64, why: &str) {
        let mut inner = self.inner.lock();
        if let Some(r) = inner.replicas.remove(&id) {
            self.metrics.replicas.set(inner.replicas.len() as i64);
            drop(inner);
            self.event("replica_disconnected", format!("{}: {why}", r.name));
        }
        self.acked.notify_all();
    }

    /// Notes what the sender has sent.
    pub fn sent(&self, id: u64, lsn: u64) {
        if let Some(r) = self.inner.lock().replicas.get_mut(&id) {
            r.sent = r.sent.max(lsn);
        }
    }

    /// Records an acknowledgement and wakes waiting commits.
    /// `primary_lsn` is this node's last LSN now (for catch-up checks).
    pub fn ack(&self, id: u64, flushed: u64, applied: u64, oldest_commit: u64, primary_lsn: u64) {
        let now = now_micros();
        let lag_ms = (oldest_commit > 0).then(|| now.saturating_sub(oldest_commit) as f64 / 1e3);
        let mut inner = self.inner.lock();
        let Some(r) = inner.replicas.get_mut(&id) else {
            return;
        };
        r.flushed = r.flushed.max(flushed);
        r.applied = r.applied.max(applied);
        r.reply_micros = Some(now);
        if applied >= primary_lsn {
            r.state = "streaming";
        }
        if let Some(lag) = lag_ms {
            r.last_lag_ms = Some(lag);
        }
        let caught_up = primary_lsn.saturating_sub(r.flushed) <= CAUGHT_UP_RECORDS;
        let name = r.name.clone();
        if let Some(lag) = lag_ms {
            if inner.lag_samples.len() >= LAG_SAMPLES {
                inner.lag_samples.pop_front();
            }
            inner.lag_samples.push_back(lag);
            self.metrics.lag.observe(lag / 1e3);
        }
        let recovered = inner.degraded && caught_up;
        if recovered {
            inner.degraded = false;
            self.metrics.degraded.set(0);
        }
        drop(inner);
        self.acked.notify_all();
        if recovered {
            tracing::info!(replica = %name, "semi-sync restored: a replica caught up");
            self.event("semi_sync_restored", format!("{name} caught up"));
        }
    }

    /// The connected replicas.
    pub fn replicas(&self) -> Vec<ReplicaProgress> {
        let mut v: Vec<_> = self.inner.lock().replicas.values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// p50 and p99 of recent commit-to-ack lag, in milliseconds.
    pub fn lag_percentiles(&self) -> Option<(f64, f64)> {
        let mut samples: Vec<f64> = self.inner.lock().lag_samples.iter().copied().collect();
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let i = ((samples.len() - 1) as f64 * q).round() as usize;
            samples.get(i).copied().unwrap_or(0.0)
        };
        Some((at(0.5), at(0.99)))
    }

    pub fn events(&self) -> Vec<ReplicationEvent> {
        self.events.lock().iter().cloned().collect()
    }

    pub fn event(&self, kind: &'static str, detail: String) {
        let mut events = self.events.lock();
        if events.len() >= EVENTS_KEPT {
            events.pop_front();
        }
        events.push_back(ReplicationEvent {
            time_micros: now_micros(),
            kind,
            detail,
        });
    }

    /// Priority of a replica in the synchronous list (1 = first; 0 = not
    /// eligible) and its sync state, for `pg_stat_replication`.
    pub fn sync_role(&self, name: &str) -> (i32, &'static str) {
        let mode = self.mode.read();
        if mode.commit_mode == CommitMode::Async {
            return (0, "async");
        }
        let priority = if mode.sync_standbys.is_empty() {
            1
        } else {
            match mode.sync_standbys.iter().position(|n| n == name) {
                Some(i) => i as i32 + 1,
                None => return (0, "async"),
            }
        };
        match (mode.commit_mode, mode.sync_quorum) {
            (CommitMode::Sync, SyncQuorum::Any) => (priority, "quorum"),
            (CommitMode::Sync, SyncQuorum::First) if priority as usize <= mode.num_sync => {
                (priority, "sync")
            }
            (CommitMode::Sync, SyncQuorum::First) => (priority, "potential"),
            _ => (priority, "sync"),
        }
    }

    fn eligible<'a>(
        mode: &CommitModeConfig,
        inner: &'a Inner,
    ) -> Vec<(usize, &'a ReplicaProgress)> {
        let mut v: Vec<(usize, &ReplicaProgress)> = inner
            .replicas
            .values()
            .filter_map(|r| {
                if mode.sync_standbys.is_empty() {
                    Some((0, r))
                } else {
                    mode.sync_standbys
                        .iter()
                        .position(|n| *n == r.name)
                        .map(|p| (p, r))
                }
            })
            .collect();
        v.sort_by_key(|(p, r)| (*p, r.name.clone()));
        v
    }

    /// Whether `num` replicas hold `lsn` as the quorum rule requires.
    fn satisfied(
        mode: &CommitModeConfig,
        inner: &Inner,
        lsn: u64,
        apply: bool,
        num: usize,
    ) -> bool {
        let has = |r: &ReplicaProgress| {
            if apply {
                r.applied >= lsn
            } else {
                r.flushed >= lsn
            }
        };
        let eligible = Self::eligible(mode, inner);
        match mode.sync_quorum {
            SyncQuorum::Any => eligible.iter().filter(|(_, r)| has(r)).count() >= num,
            SyncQuorum::First => {
                let first: Vec<_> = eligible.iter().take(num).collect();
                first.len() >= num && first.iter().all(|(_, r)| has(r))
            }
        }
    }

    fn wait_sync(&self, lsn: u64, apply: bool, mode: &CommitModeConfig) -> rustydb_sql::Result<()> {
        let deadline = Instant::now() + Duration::from_millis(mode.sync_timeout_ms);
        let mut inner = self.inner.lock();
        loop {
            if Self::satisfied(mode, &inner, lsn, apply, mode.num_sync) {
                return Ok(());
            }
            if self.mode.read().commit_mode != CommitMode::Sync {
                return Ok(());
            }
            if self.acked.wait_until(&mut inner, deadline).timed_out()
                && !Self::satisfied(mode, &inner, lsn, apply, mode.num_sync)
            {
                drop(inner);
                self.metrics.sync_timeouts.inc();
                tracing::warn!(
                    lsn,
                    num_sync = mode.num_sync,
                    "synchronous commit timed out"
                );
                return Err(Error::new(
                    SqlState("40003"),
                    format!(
                        "commit not confirmed by {} synchronous replica(s) within {} ms; \
                         it is durable on this node but may be lost on failover",
                        mode.num_sync, mode.sync_timeout_ms
                    ),
                ));
            }
        }
    }

    fn wait_semi_sync(&self, lsn: u64, apply: bool, mode: &CommitModeConfig) {
        let deadline = Instant::now() + Duration::from_millis(mode.semi_sync_timeout_ms);
        let any = CommitModeConfig {
            sync_quorum: SyncQuorum::Any,
            ..mode.clone()
        };
        let mut inner = self.inner.lock();
        loop {
            if inner.degraded || Self::satisfied(&any, &inner, lsn, apply, 1) {
                return;
            }
            if self.mode.read().commit_mode != CommitMode::SemiSync {
                return;
            }
            if self.acked.wait_until(&mut inner, deadline).timed_out()
                && !inner.degraded
                && !Self::satisfied(&any, &inner, lsn, apply, 1)
            {
                inner.degraded = true;
                let replicas = inner.replicas.len();
                drop(inner);
                // Other commits waiting for a replica stop waiting too.
                self.acked.notify_all();
                self.metrics.degraded.set(1);
                self.metrics.degraded_total.inc();
                tracing::warn!(
                    lsn,
                    replicas,
                    timeout_ms = mode.semi_sync_timeout_ms,
                    "semi-sync degraded to async: no replica confirmed in time"
                );
                self.event(
                    "semi_sync_degraded",
                    format!(
                        "no replica confirmed LSN {lsn} within {} ms ({replicas} connected)",
                        mode.semi_sync_timeout_ms
                    ),
                );
                return;
            }
        }
    }
}

impl CommitGate for ReplicaSet {
    fn wait(&self, lsn: Lsn, level: SyncCommit) -> rustydb_sql::Result<()> {
        let apply = match level {
            SyncCommit::Off | SyncCommit::Local => return Ok(()),
            SyncCommit::RemoteWrite | SyncCommit::On => false,
            SyncCommit::RemoteApply => true,
        };
        let mode = self.mode.read().clone();
        let started = Instant::now();
        let result = match mode.commit_mode {
            CommitMode::Async => return Ok(()),
            CommitMode::Sync => self.wait_sync(lsn.0, apply, &mode),
            CommitMode::SemiSync => {
                self.wait_semi_sync(lsn.0, apply, &mode);
                Ok(())
            }
        };
        self.metrics
            .sync_wait
            .observe(started.elapsed().as_secs_f64());
        result
    }
}
