//! Restoring a backup, optionally to a point in time (PITR).
//!
//! 1. Pick the base: the named backup, or for a PITR target the newest
//!    backup of the archive's database whose LSN is at or before the
//!    target LSN / whose last record committed at or before the target
//!    time.
//! 2. Copy its files (from whichever chain member stores each) into
//!    `TARGET/db-1/`, checking size and sha256 of every one.
//! 3. Open it. For PITR, apply archived records after the base's LSN up to
//!    the target through the replica apply path (atomic batches; gaps and
//!    timeline mismatches are errors), following the newest archived
//!    timeline history; then start a new timeline (`restore`) there, so
//!    nothing the restored node writes can be confused with what the old
//!    cluster wrote after the target.
//! 4. Clear the manager lease flag, record the role (`replica` for a plain
//!    restore: started alone it begins a new timeline, started with
//!    `--follow` it resumes streaming from its LSN; `primary` after PITR,
//!    whose new timeline already separates it), then point `DATABASE` at
//!    `db-1`. Only then is the directory a data directory.

use std::path::{Path, PathBuf};

use super::create::inspect_checkpoint;
use super::manifest::Manifest;
use super::progress::{Progress, ProgressSink};
use super::repo::Repo;
use super::segment;
use super::{err, sha256_hex};
use crate::error::Result;
use crate::storage::{RocksStorage, StorageOptions};
use crate::wal::{TimelineEntry, TimelineHistory};

/// What to restore.
#[derive(Debug, Clone)]
pub enum RestoreTarget {
    /// A backup as it is.
    Backup(String),
    /// The newest state at or before this LSN.
    Lsn(u64),
    /// Every record committed at or before this time (µs since the epoch).
    Time(u64),
}

/// The outcome of a restore.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreReport {
    pub base: String,
    pub target_dir: PathBuf,
    pub base_lsn: u64,
    /// The last LSN the restored database holds.
    pub lsn: u64,
    pub replayed_records: u64,
    /// The timeline the restored node starts on (PITR starts a new one).
    pub timeline: u64,
    pub files: u64,
    pub bytes: u64,
}

/// Restores into `target` (absent or empty).
pub fn restore(
    repo: &Repo,
    what: &RestoreTarget,
    target: &Path,
    sink: ProgressSink,
) -> Result<RestoreReport> {
    let base = match what {
        RestoreTarget::Backup(id) => Manifest::load(repo, id)?,
        RestoreTarget::Lsn(lsn) => pick_base(repo, |m| m.lsn <= *lsn)?,
        RestoreTarget::Time(t) => pick_base(repo, |m| m.lsn_time_micros <= *t)?,
    };
    // The whole chain must be there and consistent before anything is copied.
    Manifest::chain(repo, &base.id)?;
    if target.exists() && std::fs::read_dir(target)?.next().is_some() {
        return Err(err(format!(
            "restore target {} is not empty",
            target.display()
        )));
    }
    let db_dir = target.join("db-1");
    std::fs::create_dir_all(&db_dir)?;
    let result = restore_into(repo, what, target, &db_dir, &base, sink);
    if result.is_err() {
        // Leave no half-restored database behind (the target never got
        // its DATABASE pointer, so nothing would start from it anyway).
        let _ = std::fs::remove_dir_all(&db_dir);
    }
    result
}

fn restore_into(
    repo: &Repo,
    what: &RestoreTarget,
    target: &Path,
    db_dir: &Path,
    base: &Manifest,
    sink: ProgressSink,
) -> Result<RestoreReport> {
    let progress = Progress::new(&format!("restore {}", base.id), sink);
    let (files, bytes) = copy_files(repo, base, db_dir, &progress)?;
    progress.finish();

    let pitr = !matches!(what, RestoreTarget::Backup(_));
    let storage = RocksStorage::open(db_dir, StorageOptions::default())?;
    let mut replayed = 0;
    if pitr {
        replayed = replay(repo, &storage, base, what, sink)?;
        let entry = new_timeline(repo, &storage)?;
        tracing::info!(
            timeline = entry.timeline,
            start_lsn = entry.start_lsn,
            "restored to a point in time"
        );
        storage.set_last_role("primary")?;
    } else {
        storage.set_last_role("replica")?;
    }
    storage.disable_lease()?;
    let lsn = storage.last_lsn().0;
    let timeline = storage.timeline();
    drop(storage);
    crate::datadir::switch_to(target, "db-1")?;
    Ok(RestoreReport {
        base: base.id.clone(),
        target_dir: target.to_path_buf(),
        base_lsn: base.lsn,
        lsn,
        replayed_records: replayed,
        timeline,
        files,
        bytes,
    })
}

/// Starts the restored node's own timeline after its last LSN, numbered
/// past every timeline the archive knows (so the restored node and the
/// old cluster never share a timeline number), dropping history entries
/// of timelines that began after the recovery point.
fn new_timeline(repo: &Repo, storage: &RocksStorage) -> Result<TimelineEntry> {
    let archived_max = segment::latest_history(repo)?
        .map_or(0, |h| h.current())
        .max(
            segment::load_index(repo)?
                .iter()
                .map(|e| e.timeline)
                .max()
                .unwrap_or(0),
        );
    let last = storage.last_lsn().0;
    let mut history = storage.history();
    let first = history.entries.first().cloned();
    history.entries.retain(|e| e.start_lsn <= last);
    if history.entries.is_empty() {
        history.entries.extend(first);
    }
    let entry = TimelineEntry {
        timeline: history.current().max(archived_max) + 1,
        start_lsn: last + 1,
        reason: "restore".into(),
        time_micros: crate::storage::now_micros(),
    };
    history.entries.push(entry.clone());
    history.validate()?;
    storage.set_history(history)?;
    Ok(entry)
}

/// The newest backup satisfying `fits`.
fn pick_base(repo: &Repo, fits: impl Fn(&Manifest) -> bool) -> Result<Manifest> {
    Manifest::list(repo)?
        .into_iter()
        .filter(|m| fits(m))
        .max_by_key(|m| (m.lsn, m.end_micros))
        .ok_or_else(|| err("no backup at or before the recovery target"))
}

/// Copies (and checks) every file of `manifest` into `dir`.
pub(crate) fn copy_files(
    repo: &Repo,
    manifest: &Manifest,
    dir: &Path,
    progress: &Progress,
) -> Result<(u64, u64)> {
    progress.set_total(
        manifest.files.len() as u64,
        manifest.files.iter().map(|f| f.size).sum(),
    );
    for f in &manifest.files {
        if f.name.contains('/') || f.name.contains('\\') || f.name.starts_with('.') {
            return Err(err(format!(
                "unsafe file name {:?} in the manifest",
                f.name
            )));
        }
    }
    // Files are independent: several threads fetch, check and write them
    // (normal priority: a restore is what the operator is waiting for).
    let sizes: Vec<u64> = manifest.files.iter().map(|f| f.size).collect();
    super::copy::for_each_parallel(&sizes, super::copy::default_parallel(), false, |i| {
        let f = manifest
            .files
            .get(i)
            .ok_or_else(|| err("restore file out of range"))?;
        let path = Manifest::file_path(&f.source, &f.name);
        let data = repo
            .get_object(&path)
            .map_err(|e| err(format!("backup {}: {e}", manifest.id)))?;
        if data.len() as u64 != f.size || sha256_hex(&data) != f.sha256 {
            return Err(err(format!(
                "backup {}: {} does not match its checksum (stored in {})",
                manifest.id, f.name, f.source
            )));
        }
        let out = dir.join(&f.name);
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&out)?;
            file.write_all(&data)?;
            file.sync_all()?;
        }
        progress.add(1, f.size);
        Ok(())
    })?;
    let bytes = sizes.iter().sum();
    std::fs::File::open(dir)?.sync_all()?;
    Ok((manifest.files.len() as u64, bytes))
}

/// Applies archived records after the base up to the target.
fn replay(
    repo: &Repo,
    storage: &std::sync::Arc<RocksStorage>,
    base: &Manifest,
    what: &RestoreTarget,
    sink: ProgressSink,
) -> Result<u64> {
    let start = storage.last_lsn().0;
    if start != base.lsn {
        return Err(err(format!(
            "backup {} opened at LSN {start}, its manifest says {}",
            base.id, base.lsn
        )));
    }
    let history = match segment::latest_history(repo)? {
        Some(h) if h.current() >= base.history.current() => h,
        _ => base.history.clone(),
    };
    let index = segment::load_index(repo)?;
    let (pieces, first_missing) = segment::plan(&index, &history, start + 1);
    let progress = Progress::new("replay WAL", sink);
    progress.set_total(
        pieces.len() as u64,
        pieces.iter().map(|p| p.entry.size).sum(),
    );
    let mut applied = 0u64;
    let mut last = start;
    let mut done = false;
    for piece in &pieces {
        let records = segment::read(repo, &piece.entry)?;
        let mut batch = Vec::new();
        for r in records {
            if r.lsn.0 < piece.from || r.lsn.0 > piece.to {
                continue;
            }
            let stop = match what {
                RestoreTarget::Lsn(l) => r.lsn.0 > *l,
                RestoreTarget::Time(t) => r.commit_time_micros > *t,
                RestoreTarget::Backup(_) => true,
            };
            if stop {
                done = true;
                break;
            }
            batch.push(r);
        }
        if let Some(r) = batch.first() {
            adopt_timeline(storage, &history, r.lsn.0)?;
        }
        // A batch may cross into a later timeline only at a piece edge, so
        // one history update per piece is enough.
        applied += batch.len() as u64;
        if let Some(r) = batch.last() {
            last = r.lsn.0;
        }
        storage.apply(batch)?;
        progress.add(1, piece.entry.size);
        if done {
            break;
        }
    }
    progress.finish();
    if let RestoreTarget::Lsn(l) = what {
        if last < *l {
            return Err(err(format!(
                "the archive ends at LSN {last} (first missing: {first_missing}); cannot reach LSN {l}"
            )));
        }
    }
    if !done {
        tracing::warn!(
            last,
            first_missing,
            "the archive ended before the recovery target: restored to its end"
        );
    }
    Ok(applied)
}

/// Makes the storage's history name the archived timeline of `lsn` (the
/// records after a promotion carry the new timeline).
fn adopt_timeline(storage: &RocksStorage, archived: &TimelineHistory, lsn: u64) -> Result<()> {
    let mine = storage.history();
    let want = archived.timeline_at(lsn);
    if mine.timeline_at(lsn) == want {
        return Ok(());
    }
    // Keep our entries before `lsn`, then the archive's from there on.
    let mut entries: Vec<_> = mine
        .entries
        .into_iter()
        .filter(|e| e.start_lsn < lsn && e.timeline < want)
        .collect();
    entries.extend(
        archived
            .entries
            .iter()
            .filter(|e| e.timeline >= want)
            .cloned(),
    );
    let history = TimelineHistory { entries };
    history.validate()?;
    storage.set_history(history)
}

/// Opens a restored database directory read-only and reads every key of
/// every column family (RocksDB checks each block's checksum); returns the
/// number of data keys and the LSN it holds.
pub fn check_restored(db_dir: &Path) -> Result<(u64, u64)> {
    let info = inspect_checkpoint(db_dir)?;
    let db = rocksdb::DB::open_cf_for_read_only(
        &rocksdb::Options::default(),
        db_dir,
        [
            crate::storage::CF_DATA,
            crate::storage::CF_WAL,
            crate::storage::CF_META,
        ],
        false,
    )?;
    let mut keys = 0u64;
    for name in [
        crate::storage::CF_DATA,
        crate::storage::CF_WAL,
        crate::storage::CF_META,
    ] {
        let cf = crate::storage::engine_cf(&db, name)?;
        for item in db.iterator_cf(cf, rocksdb::IteratorMode::Start) {
            item?;
            if name == crate::storage::CF_DATA {
                keys += 1;
            }
        }
    }
    Ok((keys, info.lsn))
}
