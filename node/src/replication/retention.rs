//! WAL retention: how much of the log a node keeps, trimmed once a second.
//!
//! Each rule names the oldest LSN it wants kept, and the node keeps what
//! *any* rule wants, bounded by a hard cap:
//!
//! - size: the newest `wal_keep_bytes` (estimated from the moving average
//!   record size);
//! - age: records committed within `wal_keep_seconds` (found by binary
//!   search on commit times, a few point reads);
//! - replicas: everything a connected replica has not yet flushed;
//! - archive: everything the WAL archiver has not shipped yet;
//! - cap: never more than `max_wal_bytes`, even for a connected replica, so
//!   a stuck replica cannot fill the disk; it re-clones instead;
//! - logical slots: what a slot has not confirmed, bounded by the slots' own
//!   limit (`logical::retention_floor`, which invalidates a slot past it).
//!
//! The same task removes databases replaced by a re-clone once no
//! transaction uses them.

use std::sync::Arc;
use std::time::Duration;

use rustydb_sql::storage::Lsn;

use super::Replication;
use crate::error::Result;
use crate::storage::{now_micros, RocksStorage};

const PERIOD: Duration = Duration::from_secs(1);

/// Runs until the node stops.
pub async fn run(repl: Arc<Replication>) {
    let mut stop = repl.stop.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(PERIOD) => {}
            _ = stop.wait_for(|s| *s) => break,
        }
        repl.collect_retired();
        let repl2 = repl.clone();
        match tokio::task::spawn_blocking(move || trim_once(&repl2)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "WAL trimming failed"),
            Err(e) => tracing::warn!(error = %e, "WAL trimming task failed"),
        }
    }
}

/// One retention pass.
fn trim_once(repl: &Replication) -> Result<()> {
    let rocks = repl.rocks();
    let Some(oldest) = rocks.oldest_wal_lsn()? else {
        return Ok(());
    };
    let last = rocks.last_lsn().0;
    let avg = rocks.estimate_wal_bytes(1);
    if avg == 0 {
        // No size estimate yet (nothing written since start): keep all.
        return Ok(());
    }
    let end = last + 1;
    let config = &repl.config;
    let size_floor = end.saturating_sub(config.wal_keep_bytes / avg);
    let age_floor = first_younger_than(&rocks, oldest.0, last, config.wal_keep_seconds)?;
    let replica_floor = repl
        .replicas
        .replicas()
        .iter()
        .map(|r| r.flushed + 1)
        .min()
        .unwrap_or(end);
    let cap_floor = end.saturating_sub(config.max_wal_bytes / avg);
    let archive_floor = repl.backup.wal_hold().unwrap_or(end);
    // Logical slots keep what they have not confirmed, within their own
    // limit (a slot past it is invalidated there, never fills the disk).
    let slot_floor = crate::logical::retention_floor(repl, end, avg);
    let keep_from = size_floor
        .min(age_floor)
        .min(replica_floor)
        .min(archive_floor)
        .max(cap_floor)
        .min(slot_floor);
    repl.metrics
        .wal_trimmed_below
        .set(i64::try_from(keep_from.max(oldest.0)).unwrap_or(i64::MAX));
    if keep_from > oldest.0 {
        rocks.trim_wal(Lsn(keep_from))?;
        tracing::debug!(keep_from, oldest = oldest.0, last, "WAL trimmed");
    }
    Ok(())
}

/// The first LSN in `lo..=hi` committed less than `seconds` ago (`hi + 1`
/// when none is). Commit times grow with LSNs, so binary search works.
fn first_younger_than(rocks: &RocksStorage, mut lo: u64, mut hi: u64, seconds: u64) -> Result<u64> {
    let cutoff = now_micros().saturating_sub(seconds.saturating_mul(1_000_000));
    let end = hi + 1;
    // Usually the whole log is younger than the cutoff: one (remembered)
    // read of the oldest record settles it.
    if let Some(t) = rocks.commit_time_of(Lsn(lo))? {
        if t >= cutoff {
            return Ok(lo);
        }
    }
    let mut answer = end;
    while lo <= hi {
        let mid = lo + (hi - lo) / 2;
        match rocks.commit_time_of(Lsn(mid))? {
            Some(t) if t >= cutoff => {
                answer = mid;
                if mid == 0 {
                    break;
                }
                hi = mid - 1;
            }
            // Older than the cutoff, or already trimmed: look later.
            _ => lo = mid + 1,
        }
    }
    Ok(answer)
}
