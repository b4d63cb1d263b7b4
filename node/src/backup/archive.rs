//! The WAL archiver: ships this node's WAL to a backup repository.
//!
//! Enabled by `[backup] archive_dir` (or `rustydb node --wal-archive DIR`).
//! A task wakes every `archive_interval_ms` and reads records from its own
//! `wal` column family — on a primary or a replica, whichever follows the
//! current storage after a re-clone — starting after the last archived LSN
//! (the index's highest `last_lsn`, so a restart resumes where it was).
//! Records are cut into segments of at most `archive_max_records`, split
//! where the timeline changes; each segment is written, then its index
//! line. The first time a timeline is archived its history is stored too.
//!
//! [`BackupHooks`] is what the rest of the node sees: the archive *hold*
//! (the first LSN not yet archived: WAL retention keeps it and everything
//! after, up to its hard cap), the archiver's status for `/status`, and
//! the progress of a running backup. Lag is exported as
//! `rustydb_wal_archive_lag_records` / `_seconds`.
//!
//! If WAL the archiver still needed was trimmed anyway (the retention cap),
//! it logs the gap, counts an error and continues from the oldest retained
//! record: `backup verify` then reports the missing range.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::{IntCounter, IntGauge};
use rustydb_sql::storage::Lsn;
use serde::{Deserialize, Serialize};

use super::progress::Progress;
use super::repo::Repo;
use super::segment::{self, SegmentEntry};
use crate::error::{NodeError, Result};
use crate::replication::Replication;
use crate::storage::now_micros;
use crate::wal::WalRecord;

/// The `[backup]` section of node.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveConfig {
    /// Repository to archive WAL into; archiving is off when unset.
    pub archive_dir: Option<PathBuf>,
    /// Key file of an encrypted repository.
    pub key_file: Option<PathBuf>,
    /// Most records per segment.
    pub archive_max_records: usize,
    /// Most bytes (uncompressed) per segment.
    pub archive_max_bytes: usize,
    /// How often pending records are shipped.
    pub archive_interval_ms: u64,
}

impl Default for ArchiveConfig {
    fn default() -> Self {
        ArchiveConfig {
            archive_dir: None,
            key_file: None,
            archive_max_records: 1000,
            archive_max_bytes: 16 << 20,
            archive_interval_ms: 1000,
        }
    }
}

impl ArchiveConfig {
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.archive_max_records == 0 || self.archive_max_bytes == 0 {
            return Err("backup.archive_max_records and archive_max_bytes must be positive".into());
        }
        if !(10..=600_000).contains(&self.archive_interval_ms) {
            return Err("backup.archive_interval_ms must be within 10..600000".into());
        }
        Ok(())
    }
}

/// The archiver's state as `/status` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ArchiveStatus {
    pub repo: String,
    pub archived_lsn: u64,
    pub lag_records: u64,
    pub lag_seconds: f64,
    pub segments: u64,
    pub last_error: Option<String>,
}

/// Backup state shared with retention and the admin API.
#[derive(Default)]
pub struct BackupHooks {
    /// First LSN not yet archived; 0 when no archiver runs.
    hold: AtomicU64,
    status: Mutex<Option<ArchiveStatus>>,
    /// The backup running on this node, if any.
    pub running: Mutex<Option<Progress>>,
}

impl BackupHooks {
    /// The oldest LSN WAL retention must keep for the archiver.
    pub fn wal_hold(&self) -> Option<u64> {
        match self.hold.load(Ordering::Acquire) {
            0 => None,
            n => Some(n),
        }
    }

    /// The archiver's status (None when archiving is off).
    pub fn archive_json(&self) -> Option<serde_json::Value> {
        self.status
            .lock()
            .as_ref()
            .and_then(|s| serde_json::to_value(s).ok())
    }
}

struct ArchiveMetrics {
    lag_records: IntGauge,
    lag_ms: IntGauge,
    archived_lsn: IntGauge,
    segments: IntCounter,
    errors: IntCounter,
}

impl ArchiveMetrics {
    fn new(registry: &prometheus::Registry) -> Result<ArchiveMetrics> {
        let reg = |g: IntGauge| -> Result<IntGauge> {
            registry
                .register(Box::new(g.clone()))
                .map_err(|e| super::err(format!("metric: {e}")))?;
            Ok(g)
        };
        let regc = |c: IntCounter| -> Result<IntCounter> {
            registry
                .register(Box::new(c.clone()))
                .map_err(|e| super::err(format!("metric: {e}")))?;
            Ok(c)
        };
        let m = |e: prometheus::Error| super::err(format!("metric: {e}"));
        Ok(ArchiveMetrics {
            lag_records: reg(IntGauge::new(
                "rustydb_wal_archive_lag_records",
                "Committed WAL records not yet in the archive",
            )
            .map_err(m)?)?,
            lag_ms: reg(IntGauge::new(
                "rustydb_wal_archive_lag_seconds",
                "Age of the oldest record not yet archived, in seconds",
            )
            .map_err(m)?)?,
            archived_lsn: reg(IntGauge::new(
                "rustydb_wal_archived_lsn",
                "Last LSN in the WAL archive",
            )
            .map_err(m)?)?,
            segments: regc(
                IntCounter::new(
                    "rustydb_wal_archive_segments_total",
                    "WAL segments archived since start",
                )
                .map_err(m)?,
            )?,
            errors: regc(
                IntCounter::new(
                    "rustydb_wal_archive_errors_total",
                    "Archiving failures (and gaps) since start",
                )
                .map_err(m)?,
            )?,
        })
    }
}

/// Runs the archiver until the node stops.
pub async fn run(repl: Arc<Replication>, config: ArchiveConfig) {
    let Some(dir) = config.archive_dir.clone() else {
        return;
    };
    let metrics = match ArchiveMetrics::new(&repl.metrics.registry) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "WAL archiver metrics");
            return;
        }
    };
    let metrics = Arc::new(metrics);
    let mut stop = repl.stop.subscribe();
    let mut state: Option<Archiver> = None;
    let period = Duration::from_millis(config.archive_interval_ms);
    *repl.backup.status.lock() = Some(ArchiveStatus {
        repo: dir.display().to_string(),
        ..Default::default()
    });
    tracing::info!(repo = %dir.display(), "WAL archiving on");
    loop {
        let repl2 = repl.clone();
        let config2 = config.clone();
        let metrics2 = metrics.clone();
        let mut st = state.take();
        let outcome = tokio::task::spawn_blocking(move || {
            let r = archive_pending(&repl2, &config2, &metrics2, &mut st);
            (st, r)
        })
        .await;
        match outcome {
            Ok((st, result)) => {
                state = st;
                if let Err(e) = result {
                    metrics.errors.inc();
                    tracing::warn!(error = %e, "WAL archiving failed; retrying");
                    if let Some(s) = repl.backup.status.lock().as_mut() {
                        s.last_error = Some(e.to_string());
                    }
                    // Re-read the repository next time (it may have changed).
                    state = None;
                }
            }
            Err(e) => tracing::error!(error = %e, "WAL archiver task failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// The archiver's position in an open repository.
struct Archiver {
    repo: Repo,
    next: u64,
    timelines: std::collections::BTreeSet<u64>,
}

impl Archiver {
    fn open(config: &ArchiveConfig, dir: &std::path::Path, repl: &Replication) -> Result<Archiver> {
        let repo = Repo::open_or_init(dir, config.key_file.as_deref())?;
        let index = segment::load_index(&repo)?;
        let timelines = index.iter().map(|e| e.timeline).collect();
        let next = match index.iter().map(|e| e.last_lsn).max() {
            Some(last) => last + 1,
            // A new archive starts at the oldest record still retained.
            None => repl
                .rocks()
                .oldest_wal_lsn()?
                .map_or(repl.rocks().last_lsn().0 + 1, |l| l.0),
        };
        Ok(Archiver {
            repo,
            next,
            timelines,
        })
    }
}

/// Ships everything committed so far; updates hold, status and metrics.
fn archive_pending(
    repl: &Replication,
    config: &ArchiveConfig,
    metrics: &ArchiveMetrics,
    state: &mut Option<Archiver>,
) -> Result<()> {
    let Some(dir) = config.archive_dir.as_deref() else {
        return Ok(());
    };
    if state.is_none() {
        *state = Some(Archiver::open(config, dir, repl)?);
    }
    let Some(a) = state.as_mut() else {
        return Ok(());
    };
    repl.backup.hold.store(a.next.max(1), Ordering::Release);
    let rocks = repl.rocks();
    loop {
        let raw = match rocks.read_wal_raw(
            Lsn(a.next),
            config.archive_max_records,
            config.archive_max_bytes,
        ) {
            Ok(r) => r,
            Err(NodeError::WalGone { wanted, oldest }) => {
                metrics.errors.inc();
                tracing::error!(
                    wanted,
                    oldest,
                    "WAL needed by the archive was trimmed: the archive has a gap"
                );
                a.next = oldest;
                continue;
            }
            Err(e) => return Err(e),
        };
        if raw.is_empty() {
            break;
        }
        let full = raw.len() >= config.archive_max_records;
        let mut run: Vec<(u64, Vec<u8>, u64)> = Vec::new();
        let mut run_tl = 0;
        for (lsn, bytes) in raw {
            let rec = WalRecord::decode(&bytes)?;
            if !run.is_empty() && rec.timeline != run_tl {
                ship(a, repl, run_tl, &run, metrics)?;
                run.clear();
            }
            run_tl = rec.timeline;
            run.push((lsn.0, bytes, rec.commit_time_micros));
        }
        if !run.is_empty() {
            ship(a, repl, run_tl, &run, metrics)?;
        }
        if !full {
            break;
        }
    }
    // Lag: what is committed but not archived, and how old its first record is.
    let last = rocks.last_lsn().0;
    let lag_records = (last + 1).saturating_sub(a.next);
    let lag_seconds = if lag_records > 0 {
        rocks
            .commit_time_of(Lsn(a.next))?
            .map_or(0.0, |t| now_micros().saturating_sub(t) as f64 / 1e6)
    } else {
        0.0
    };
    metrics
        .lag_records
        .set(i64::try_from(lag_records).unwrap_or(i64::MAX));
    metrics.lag_ms.set(lag_seconds as i64);
    metrics
        .archived_lsn
        .set(i64::try_from(a.next.saturating_sub(1)).unwrap_or(i64::MAX));
    if let Some(s) = repl.backup.status.lock().as_mut() {
        s.archived_lsn = a.next.saturating_sub(1);
        s.lag_records = lag_records;
        s.lag_seconds = lag_seconds;
        s.last_error = None;
    }
    Ok(())
}

/// Writes one segment and its index line; advances the position.
fn ship(
    a: &mut Archiver,
    repl: &Replication,
    timeline: u64,
    run: &[(u64, Vec<u8>, u64)],
    metrics: &ArchiveMetrics,
) -> Result<()> {
    if a.timelines.insert(timeline) {
        let history = repl.rocks().history();
        segment::store_history(&a.repo, &history)?;
    }
    let (bytes, entry): (Vec<u8>, SegmentEntry) = segment::build(timeline, run)?;
    a.repo.put_object(&entry.path(), &bytes)?;
    let line = serde_json::to_string(&entry).map_err(|e| super::err(e.to_string()))?;
    a.repo.store().append_line(segment::INDEX, &line)?;
    a.next = entry.last_lsn + 1;
    repl.backup.hold.store(a.next, Ordering::Release);
    metrics.segments.inc();
    if let Some(s) = repl.backup.status.lock().as_mut() {
        s.segments += 1;
    }
    tracing::debug!(
        first = entry.first_lsn,
        last = entry.last_lsn,
        timeline,
        "WAL segment archived"
    );
    Ok(())
}
