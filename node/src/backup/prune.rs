//! Retention: which backups (and archived WAL) to keep.
//!
//! Kept: the newest `keep_full` full backups; the newest backup of each of
//! the last `keep_daily` days, `keep_weekly` ISO weeks and `keep_monthly`
//! months that have one (UTC, by end time); always the newest backup; and
//! every ancestor of a kept backup (an incremental is useless without its
//! chain). Everything else is deleted, manifest first (so an interrupted
//! prune never leaves a half backup that looks whole). Archived WAL
//! segments wholly before the oldest kept backup's LSN are deleted after
//! the index is rewritten without them: no kept base can use them.

use std::collections::BTreeSet;

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::manifest::{BackupKind, Manifest};
use super::repo::Repo;
use super::segment;
use crate::error::Result;

/// The retention policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrunePolicy {
    pub keep_full: usize,
    pub keep_daily: usize,
    pub keep_weekly: usize,
    pub keep_monthly: usize,
}

impl Default for PrunePolicy {
    fn default() -> Self {
        PrunePolicy {
            keep_full: 2,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
        }
    }
}

/// What prune did (or would do, dry run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub kept: Vec<String>,
    pub deleted: Vec<String>,
    pub wal_segments_deleted: u64,
    pub dry_run: bool,
}

/// Applies `policy` to the repository.
pub fn prune(repo: &Repo, policy: &PrunePolicy, dry_run: bool) -> Result<PruneReport> {
    let all = Manifest::list(repo)?;
    let keep = select(&all, policy);
    let mut report = PruneReport {
        dry_run,
        ..Default::default()
    };
    for m in &all {
        if keep.contains(&m.id) {
            report.kept.push(m.id.clone());
        } else {
            report.deleted.push(m.id.clone());
        }
    }
    let oldest_kept_lsn = all
        .iter()
        .filter(|m| keep.contains(&m.id))
        .map(|m| m.lsn)
        .min();
    let index = segment::load_index(repo)?;
    let (old, young): (Vec<_>, Vec<_>) = index
        .into_iter()
        .partition(|e| oldest_kept_lsn.is_some_and(|l| e.last_lsn <= l));
    report.wal_segments_deleted = old.len() as u64;
    if dry_run {
        return Ok(report);
    }
    for id in &report.deleted {
        repo.store().delete(&Manifest::path(id))?;
        repo.store().delete_prefix(&format!("backups/{id}"))?;
        tracing::info!(id, "backup pruned");
    }
    if !old.is_empty() {
        segment::store_index(repo, &young)?;
        for e in &old {
            repo.store().delete(&e.path())?;
        }
    }
    Ok(report)
}

/// The ids to keep.
fn select(all: &[Manifest], policy: &PrunePolicy) -> BTreeSet<String> {
    let mut keep = BTreeSet::new();
    let newest_first: Vec<&Manifest> = all.iter().rev().collect();
    if let Some(m) = newest_first.first() {
        keep.insert(m.id.clone());
    }
    for m in newest_first
        .iter()
        .filter(|m| m.kind == BackupKind::Full)
        .take(policy.keep_full)
    {
        keep.insert(m.id.clone());
    }
    let date = |m: &Manifest| {
        let secs = i64::try_from(m.end_micros / 1_000_000).unwrap_or(0);
        chrono::DateTime::from_timestamp(secs, 0).map(|t| t.date_naive())
    };
    let mut bucket = |n: usize, key: &dyn Fn(chrono::NaiveDate) -> (i32, u32)| {
        let mut seen = Vec::new();
        for m in &newest_first {
            let Some(d) = date(m) else { continue };
            let k = key(d);
            if seen.contains(&k) {
                continue;
            }
            if seen.len() >= n {
                break;
            }
            seen.push(k);
            keep.insert(m.id.clone());
        }
    };
    bucket(policy.keep_daily, &|d| (d.year(), d.ordinal()));
    bucket(policy.keep_weekly, &|d| {
        let w = d.iso_week();
        (w.year(), w.week())
    });
    bucket(policy.keep_monthly, &|d| (d.year(), d.month()));
    // Close over parents.
    let mut changed = true;
    while changed {
        changed = false;
        for m in all {
            if keep.contains(&m.id) {
                if let Some(p) = &m.parent {
                    if keep.insert(p.clone()) {
                        changed = true;
                    }
                }
            }
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wal::TimelineHistory;

    const DAY: u64 = 86_400_000_000;

    fn m(id: &str, kind: BackupKind, parent: Option<&str>, day: u64) -> Manifest {
        Manifest {
            format: 1,
            id: id.into(),
            kind,
            parent: parent.map(str::to_string),
            node: "n".into(),
            db_identity: String::new(),
            system_id: 1,
            lsn: day,
            timeline: 1,
            lsn_time_micros: day * DAY,
            start_time: String::new(),
            end_time: String::new(),
            start_micros: day * DAY,
            end_micros: day * DAY,
            history: TimelineHistory::initial(),
            files: Vec::new(),
            total_bytes: 0,
            stored_bytes: 0,
        }
    }

    #[test]
    fn keeps_newest_fulls_daily_and_whole_chains() {
        use BackupKind::{Full, Incremental};
        // Day 20000 onwards: full on days 0, 7, 14; incrementals daily.
        let base = 20_000;
        let mut all = Vec::new();
        let mut parent = None;
        for d in 0..21u64 {
            let id = format!("b{d:02}");
            let kind = if d % 7 == 0 { Full } else { Incremental };
            let p = if kind == Full { None } else { parent.clone() };
            all.push(m(&id, kind, p.as_deref(), base + d));
            parent = Some(id);
        }
        let policy = PrunePolicy {
            keep_full: 1,
            keep_daily: 2,
            keep_weekly: 0,
            keep_monthly: 0,
        };
        let keep = select(&all, &policy);
        // Newest full (b14), the last two days (b19, b20) and their chain
        // back to b14.
        let expected: BTreeSet<String> = (14..21).map(|d| format!("b{d:02}")).collect();
        assert_eq!(keep, expected);
    }
}
