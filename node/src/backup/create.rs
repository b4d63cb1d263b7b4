//! Taking a backup of a running node.
//!
//! 1. RocksDB writes a checkpoint into `DATA/backup-<random>/` (hard links
//!    to the live SST files, fresh MANIFEST/OPTIONS/CURRENT; commits go on
//!    meanwhile). It is removed whatever happens.
//! 2. The checkpoint is opened read-only to read what it holds: last LSN
//!    (the larger of `meta.last_lsn` and the newest `wal` key), timeline
//!    history, system id, and the commit time of that last record.
//! 3. Each file is read once, hashed (sha256) and, unless an incremental
//!    backup finds the same immutable file (name, size, sha256) in its
//!    parent chain, written to `backups/<id>/files/` — by several worker
//!    threads, streamed, at low priority (see `copy`). An SST the parent
//!    chain listed from the *same* RocksDB instance (same `IDENTITY`, node
//!    and directory) with the same name and size is not even read: file
//!    numbers are never reused within an instance, so it is the same file
//!    (`verify` re-reads it anyway). This is what keeps an incremental
//!    backup's time proportional to what changed.
//! 4. The manifest is written last.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::{IteratorMode, Options, DB};

use super::copy::{copy_files, CopyJob, CopyOptions};
use super::manifest::{new_id, BackupKind, FileEntry, Manifest};
use super::pace::Pacer;
use super::progress::Progress;
use super::repo::Repo;
use super::{err, micros_to_rfc3339, sha256_hex};
use crate::error::Result;
use crate::storage::{self, now_micros, RocksStorage};
use crate::wal::{self, TimelineHistory, WalRecord};

/// What to back up, where.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub repo: PathBuf,
    pub kind: BackupKind,
    /// Parent of an incremental backup (default: the newest backup of the
    /// same database system in the repository).
    pub parent: Option<String>,
    pub key_file: Option<PathBuf>,
    /// Parallelism, rate limit and priority of the file copy.
    pub copy: CopyOptions,
}

/// What a checkpoint holds.
#[derive(Debug, Clone)]
pub struct CheckpointInfo {
    pub lsn: u64,
    pub history: TimelineHistory,
    pub system_id: u64,
    pub lsn_time_micros: Option<u64>,
}

/// Files RocksDB never changes once written: safe to share between backups.
fn immutable(name: &str) -> bool {
    name.ends_with(".sst") || name.ends_with(".blob")
}

/// Names one RocksDB instance on one node: SST file numbers are never
/// reused within an instance, so (identity, file name, size) names one
/// immutable content. RocksDB's `IDENTITY` (a UUID made when the database
/// was created) plus the node and directory, since a re-cloned database
/// may carry its upstream's files.
fn db_identity(rocks: &RocksStorage, node: &str) -> String {
    let id = std::fs::read_to_string(rocks.dir().join("IDENTITY")).unwrap_or_default();
    if id.trim().is_empty() {
        // Without an IDENTITY nothing can be assumed: compare by content.
        return String::new();
    }
    sha256_hex(format!("{node}\n{}\n{}", rocks.dir().display(), id.trim()).as_bytes())
}

/// Takes a backup of `rocks` (whose data directory is `data_dir`) into the
/// requested repository; returns its manifest.
pub fn take_backup(
    rocks: &Arc<RocksStorage>,
    data_dir: &Path,
    node: &str,
    req: &BackupRequest,
    progress: &Progress,
) -> Result<Manifest> {
    let repo = Repo::open_or_init(&req.repo, req.key_file.as_deref())?;
    let start_micros = now_micros();
    let dir = data_dir.join(format!("backup-{:016x}", rand::random::<u64>()));
    let result = (|| {
        progress.set_operation("checkpoint");
        let t0 = std::time::Instant::now();
        checkpoint(rocks, &dir)?;
        let checkpoint_ms = t0.elapsed().as_millis() as u64;
        let info = inspect_checkpoint(&dir)?;
        tracing::info!(
            lsn = info.lsn,
            checkpoint_ms,
            inspect_ms = t0.elapsed().as_millis() as u64 - checkpoint_ms,
            "backup checkpoint taken"
        );
        let parent_files = match req.kind {
            BackupKind::Full => None,
            BackupKind::Incremental => Some(parent_chain(&repo, req, info.system_id)?),
        };
        // The checkpoint is beside the live database, so its device is the
        // data directory's.
        let pacer = Pacer::new(
            req.copy.max_bytes_per_s,
            req.copy.adaptive,
            &[req.repo.as_path(), dir.as_path()],
        );
        copy_checkpoint(
            &repo,
            &dir,
            &db_identity(rocks, node),
            node,
            req.kind,
            parent_files,
            info,
            start_micros,
            &req.copy,
            &pacer,
            progress,
        )
    })();
    if dir.exists() {
        if let Err(e) = std::fs::remove_dir_all(&dir) {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove a backup checkpoint");
        }
    }
    result
}

/// Writes the checkpoint, flushing the memtables first (RocksDB's
/// `log_size_for_flush = 0`): the checkpoint is then SST files plus small
/// metadata, so incremental backups share everything but the new SSTs.
/// (Copying RocksDB's write-ahead log instead of flushing was tried: the
/// log holds memtable contents uncompressed, tens of MB, copied in full by
/// every backup.)
fn checkpoint(rocks: &RocksStorage, dir: &Path) -> Result<()> {
    rocks.checkpoint(dir)?;
    Ok(())
}

/// The parent's id and every file its chain holds, by name.
fn parent_chain(repo: &Repo, req: &BackupRequest, system_id: u64) -> Result<Parent> {
    let parent = match &req.parent {
        Some(p) => p.clone(),
        None => Manifest::list(repo)?
            .into_iter()
            .rev()
            .find(|m| m.system_id == system_id)
            .map(|m| m.id)
            .ok_or_else(|| {
                err("an incremental backup needs a parent: the repository has no backup of this database")
            })?,
    };
    let chain = Manifest::chain(repo, &parent)?;
    if chain.first().map(|m| m.system_id) != Some(system_id) {
        return Err(err(format!(
            "parent {parent} is a backup of another database system"
        )));
    }
    // The newest chain member's file list already names where each file's
    // bytes are; ancestors' lists add files compacted away since.
    let mut files = HashMap::new();
    for m in chain.iter().rev() {
        for f in &m.files {
            files.insert(f.name.clone(), (f.clone(), m.db_identity.clone()));
        }
    }
    Ok((parent, files))
}

/// The parent's id and, by file name, each file its chain holds with the
/// database identity of the newest chain member listing it.
type Parent = (String, HashMap<String, (FileEntry, String)>);

#[allow(clippy::too_many_arguments)]
fn copy_checkpoint(
    repo: &Repo,
    dir: &Path,
    identity: &str,
    node: &str,
    kind: BackupKind,
    parent: Option<Parent>,
    info: CheckpointInfo,
    start_micros: u64,
    opts: &CopyOptions,
    pacer: &Pacer,
    progress: &Progress,
) -> Result<Manifest> {
    let id = new_id(kind, start_micros);
    if repo.store().exists(&Manifest::path(&id))? {
        return Err(err(format!("backup {id} already exists")));
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            names.push((
                entry.file_name().to_string_lossy().into_owned(),
                entry.metadata()?.len(),
            ));
        }
    }
    names.sort();
    progress.set_operation(&format!("backup {id}"));
    progress.set_total(names.len() as u64, names.iter().map(|n| n.1).sum());
    // Files known without reading them are entered at once; the rest are
    // copied (or hashed against a parent candidate) by the workers.
    let mut slots: Vec<Option<FileEntry>> = Vec::with_capacity(names.len());
    let mut jobs = Vec::new();
    for (name, listed_size) in &names {
        let in_parent = parent.as_ref().and_then(|(_, pf)| pf.get(name));
        // The same SST of the same database instance: known without
        // reading it (see `db_identity`).
        let known = in_parent.filter(|(p, id)| {
            immutable(name) && !identity.is_empty() && id == identity && p.size == *listed_size
        });
        if let Some((p, _)) = known {
            slots.push(Some(FileEntry {
                name: name.clone(),
                size: p.size,
                sha256: p.sha256.clone(),
                stored: false,
                source: p.source.clone(),
            }));
            progress.add(1, p.size);
            continue;
        }
        let candidate = in_parent
            .map(|(p, _)| p)
            .filter(|p| immutable(name) && p.size == *listed_size)
            .cloned();
        slots.push(None);
        jobs.push(CopyJob {
            name: name.clone(),
            size: *listed_size,
            candidate,
        });
    }
    let t0 = std::time::Instant::now();
    let mut copied = copy_files(repo, dir, &id, &jobs, opts, pacer, progress)?.into_iter();
    tracing::info!(
        files = jobs.len(),
        parallel = opts.parallel,
        ms = t0.elapsed().as_millis() as u64,
        final_mb_per_s = (pacer.rate() / 1e6).min(1e9) as u64,
        "backup files copied"
    );
    let mut files = Vec::with_capacity(slots.len());
    for slot in slots {
        let entry = match slot {
            Some(e) => e,
            None => copied
                .next()
                .ok_or_else(|| err("backup copy answered fewer files than asked"))?,
        };
        files.push(entry);
    }
    let total: u64 = files.iter().map(|f| f.size).sum();
    let stored: u64 = files.iter().filter(|f| f.stored).map(|f| f.size).sum();
    let end_micros = now_micros().max(start_micros);
    let manifest = Manifest {
        format: 1,
        id: id.clone(),
        kind,
        parent: parent.map(|(p, _)| p),
        node: node.to_string(),
        db_identity: identity.to_string(),
        system_id: info.system_id,
        lsn: info.lsn,
        timeline: info.history.timeline_at(info.lsn),
        lsn_time_micros: info.lsn_time_micros.unwrap_or(start_micros),
        start_time: micros_to_rfc3339(start_micros),
        end_time: micros_to_rfc3339(end_micros),
        start_micros,
        end_micros,
        history: info.history,
        files,
        total_bytes: total,
        stored_bytes: stored,
    };
    manifest.store(repo)?;
    progress.finish();
    tracing::info!(
        id,
        kind = kind.as_str(),
        lsn = manifest.lsn,
        total,
        stored,
        ms = (end_micros - start_micros) / 1000,
        "backup complete"
    );
    Ok(manifest)
}

/// Opens a checkpoint (or restored database) read-only and reads what it
/// holds.
pub fn inspect_checkpoint(dir: &Path) -> Result<CheckpointInfo> {
    // Only the meta column family and the newest `wal` key are read: open
    // table files lazily (a bounded table cache) and skip loading every
    // SST's statistics, which otherwise dominates the open of a large
    // database and so the cost of a small incremental backup.
    let mut opts = Options::default();
    opts.set_max_open_files(64);
    opts.set_skip_stats_update_on_db_open(true);
    let db = DB::open_cf_for_read_only(
        &opts,
        dir,
        [storage::CF_DATA, storage::CF_WAL, storage::CF_META],
        false,
    )?;
    let meta = storage::engine_cf(&db, storage::CF_META)?;
    let wal_cf = storage::engine_cf(&db, storage::CF_WAL)?;
    let mut lsn = match db.get_cf(meta, storage::META_LAST_LSN)? {
        Some(b) => storage::read_u64(&b, "last_lsn")?,
        None => 0,
    };
    if let Some(item) = db.iterator_cf(wal_cf, IteratorMode::End).next() {
        let (key, _) = item?;
        lsn = lsn.max(wal::key_lsn(&key)?.0);
    }
    let history = match db.get_cf(meta, storage::META_HISTORY)? {
        Some(b) => TimelineHistory::decode(&b)?,
        None => TimelineHistory::initial(),
    };
    let system_id = match db.get_cf(meta, storage::META_SYSTEM_ID)? {
        Some(b) => storage::read_u64(&b, "system_id")?,
        None => 0,
    };
    let lsn_time_micros = match db.get_cf(wal_cf, wal::lsn_key(rustydb_sql::storage::Lsn(lsn)))? {
        Some(bytes) => Some(WalRecord::decode(&bytes)?.commit_time_micros),
        None => None,
    };
    Ok(CheckpointInfo {
        lsn,
        history,
        system_id,
        lsn_time_micros,
    })
}
